#!/bin/bash
# Every log prefix portlock accepts ends up in a script nft accepts: for each
# printable ASCII character c, the prefix "a<c>b" is either refused by
# `portlock check` (exit 3) or exported and accepted by `nft -c -f` in a
# throwaway netns.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

accepted=0
for code in $(seq 32 126); do
	c=$(printf "\\$(printf '%03o' "$code")")
	# libconfig string escapes for the two characters that need them
	case "$c" in
	'"') esc='\"' ;;
	'\') esc='\\' ;;
	*) esc=$c ;;
	esac
	printf 'portlock = { log = { prefix = "a%sb"; }; };\nservices = ( { name = "a"; ports = [25]; allow = []; } );\n' \
		"$esc" >"$PL_TMP/p.conf"
	"$PORTLOCK" -q -c "$PL_TMP/p.conf" export >"$PL_TMP/p.nft" 2>"$PL_TMP/err"
	rc=$?
	if [ "$rc" -eq 3 ]; then
		grep -q "log prefix must be" "$PL_TMP/err" ||
			pl_fail "prefix with '$c': exit 3 without the prefix message: $(cat "$PL_TMP/err")"
		continue
	fi
	[ "$rc" -eq 0 ] || { pl_fail "prefix with '$c': export exited $rc"; continue; }
	accepted=$((accepted + 1))
	unshare -n nft -c -f "$PL_TMP/p.nft" 2>"$PL_TMP/nfterr" ||
		pl_fail "portlock accepts log prefix 'a${c}b' but nft refuses the export: $(head -3 "$PL_TMP/nfterr")"
done
[ "$accepted" -ge 80 ] || pl_fail "only $accepted of 95 characters accepted in a log prefix"
pl_done
