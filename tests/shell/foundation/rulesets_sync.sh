#!/bin/bash
# Every example policy in rulesets/ and the .nft beside it must match what
# `portlock export` prints for it now: fails when they drift apart.
# Regenerate with: portlock -c rulesets/X.conf export > rulesets/X.nft
. "$(dirname "$0")/../lib/lib.sh"

n=0
for conf in "$PL_SOURCE_DIR"/rulesets/*.conf; do
	nft_file=${conf%.conf}.nft
	name=$(basename "$conf")
	n=$((n + 1))
	if [ ! -f "$nft_file" ]; then
		pl_fail "$name has no exported $(basename "$nft_file") beside it"
		continue
	fi
	if ! "$PORTLOCK" -q -c "$conf" export >"$PL_TMP/out" 2>"$PL_TMP/err"; then
		pl_fail "portlock export of $name failed: $(cat "$PL_TMP/err")"
		continue
	fi
	if ! diff -u "$nft_file" "$PL_TMP/out" >"$PL_TMP/diff"; then
		pl_fail "$(basename "$nft_file") drifted from $name (regenerate it with portlock export):
$(head -50 "$PL_TMP/diff")"
	fi
done
[ "$n" -ge 2 ] || pl_fail "expected at least 2 example policies in rulesets/, found $n"

# the check itself must notice a drift: change a prefix in a copy
cp "$PL_SOURCE_DIR"/rulesets/mail-relay.conf "$PL_SOURCE_DIR"/rulesets/mail-relays.txt "$PL_TMP"/
sed -i 's|198.51.100.0/24|198.51.100.0/25|' "$PL_TMP/mail-relay.conf"
"$PORTLOCK" -q -c "$PL_TMP/mail-relay.conf" export >"$PL_TMP/drift.nft"
if cmp -s "$PL_TMP/drift.nft" "$PL_SOURCE_DIR/rulesets/mail-relay.nft"; then
	pl_fail "a changed policy exported the same ruleset: the sync check would miss drift"
fi
pl_done
