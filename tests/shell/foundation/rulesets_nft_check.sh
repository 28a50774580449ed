#!/bin/bash
# Each exported ruleset in rulesets/ is accepted by the kernel: nft -c -f
# (parse, stage, abort) inside a throwaway network namespace.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

n=0
for f in "$PL_SOURCE_DIR"/rulesets/*.nft; do
	n=$((n + 1))
	if ! unshare -n nft -c -f "$f" >"$PL_TMP/err" 2>&1; then
		pl_fail "nft -c -f $(basename "$f") failed: $(cat "$PL_TMP/err")"
	fi
done
[ "$n" -ge 2 ] || pl_fail "expected at least 2 .nft files in rulesets/, found $n"

# and a config that nft must refuse is caught by nft -c, not silently loaded:
# proves the check runs against the kernel (a set of the wrong type)
printf 'table inet portlock {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = { 2001:db8::1 }\n\t}\n}\n' \
	>"$PL_TMP/bad.nft"
if unshare -n nft -c -f "$PL_TMP/bad.nft" >/dev/null 2>&1; then
	pl_fail "nft -c accepted a broken ruleset"
fi
pl_done
