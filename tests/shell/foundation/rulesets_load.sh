#!/bin/bash
# Load each exported ruleset for real (nft -f) into a throwaway network
# namespace and compare `nft list table inet portlock` with the expected dump
# in dumps/<name>.nft. Loading twice must give the same table (the script
# replaces the table it finds).
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

DUMPS=$(dirname "$0")/dumps
for f in "$PL_SOURCE_DIR"/rulesets/*.nft; do
	name=$(basename "$f" .nft)
	ns=pll$PL_TAG
	pl_netns "$ns"
	for round in 1 2; do
		if ! ip netns exec "$ns" nft -f "$f" 2>"$PL_TMP/err"; then
			pl_fail "nft -f $name.nft (round $round) failed: $(cat "$PL_TMP/err")"
			continue
		fi
		ip netns exec "$ns" nft list table inet portlock >"$PL_TMP/$name.dump"
		if [ ! -f "$DUMPS/$name.nft" ]; then
			pl_fail "no expected dump $DUMPS/$name.nft"
		elif ! diff -u "$DUMPS/$name.nft" "$PL_TMP/$name.dump" >"$PL_TMP/diff"; then
			pl_fail "$name: live table differs from dumps/$name.nft (round $round):
$(head -60 "$PL_TMP/diff")"
		fi
	done
	# exactly one table: nothing else was created
	tables=$(ip netns exec "$ns" nft list tables)
	[ "$tables" = "table inet portlock" ] || pl_fail "$name: unexpected tables: $tables"
	ip netns del "$ns"
	# shellcheck disable=SC2034 # read by pl_cleanup (lib.sh)
	PL_NETNS=()
done
pl_done
