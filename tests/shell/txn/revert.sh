#!/bin/bash
# Journal round trips: apply A, apply B, revert -> exactly A (including a rule
# and an element added by hand); revert again -> B; revert to "no table" ->
# table gone, other tables untouched; a corrupt record is reported and the
# rest of the journal keeps working.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plt$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24", "2001:db8::/48"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
portlock = { action = "reject"; };
services = (
  { name = "smpp"; ports = [2775, 3550]; allow = ["192.0.2.0/25", "198.51.100.0/24"]; },
  { name = "smtp"; ports = [25]; allow = []; }
);
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
dump() {	# the table as nft sees it, without handles (they are new after a restore)
	ip netns exec "$NS" nft -j list table inet portlock |
		"$PL_PY" -c 'import json,sys
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k != "handle"}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
print(json.dumps(strip(json.load(sys.stdin)), sort_keys=True))' >"$1"
	ip netns exec "$NS" nft list table inet portlock >"$1.txt"
}
same() { cmp -s "$1" "$2" && cmp -s "$1.txt" "$2.txt" || pl_fail "$3: $(diff "$1.txt" "$2.txt" | head -20)"; }

ip netns exec "$NS" nft add table ip other
ip netns exec "$NS" nft add chain ip other c '{ type filter hook input priority 5; }'
ip netns exec "$NS" nft add rule ip other c tcp dport 7 drop
ip netns exec "$NS" nft list table ip other >"$PL_TMP/other.before"

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
pl_expect_grep '^transaction 1 applied' "$PL_TMP/out"
# hand edits on top of A
ip netns exec "$NS" nft add rule inet portlock input tcp dport 9999 counter drop
ip netns exec "$NS" nft add element inet portlock smpp_v4 '{ 203.0.113.0/24 }'
dump "$PL_TMP/A"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply
pl_expect_grep '^transaction 2 applied' "$PL_TMP/out"
dump "$PL_TMP/B"
cmp -s "$PL_TMP/A" "$PL_TMP/B" && pl_fail "B equals A: the test proves nothing"

pl_expect_rc 0 P revert
pl_expect_grep '^transaction 3 reverted transaction 2' "$PL_TMP/out"
dump "$PL_TMP/R1"
same "$PL_TMP/A" "$PL_TMP/R1" "revert did not restore A with its hand edits"
pl_expect_rc 0 P revert
pl_expect_grep '^transaction 4 reverted transaction 3' "$PL_TMP/out"
dump "$PL_TMP/R2"
same "$PL_TMP/B" "$PL_TMP/R2" "revert of the revert did not restore B"

# back to before transaction 1: there was no table
pl_expect_rc 0 P revert 1
ip netns exec "$NS" nft list table inet portlock >/dev/null 2>&1 && pl_fail "table still there after revert 1"
ip netns exec "$NS" nft list table ip other >"$PL_TMP/other.after"
cmp -s "$PL_TMP/other.before" "$PL_TMP/other.after" || pl_fail "another table changed"

# log shows the whole story
pl_expect_rc 0 P log --json
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))["transactions"]
st = {r["id"]: (r["kind"], r["state"]) for r in d}
assert st[1] == ("apply", "reverted") and st[2] == ("apply", "reverted"), st
assert st[3][0] == "revert" and st[5] == ("revert", "applied"), st' "$PL_TMP/out" || pl_fail "log --json: $(cat "$PL_TMP/out")"

# nothing left to revert twice
pl_expect_rc 5 P revert 1
pl_expect_grep 'transaction 1 is reverted' "$PL_TMP/err"
pl_expect_rc 5 P confirm
pl_expect_grep 'nothing awaits confirmation' "$PL_TMP/err"
pl_expect_rc 2 P revert abc

# a corrupt record: named, skipped; the rest works
echo '{ "format": 1, "id": 3, truncated' >"$PORTLOCK_STATE_DIR/journal/0000000003.json"
pl_expect_rc 0 P log
pl_expect_grep '0000000003.json' "$PL_TMP/err"
pl_expect_grep '^5 ' "$PL_TMP/out"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
pl_expect_grep '^transaction 6 applied' "$PL_TMP/out"
pl_expect_rc 0 P revert
ip netns exec "$NS" nft list table inet portlock >/dev/null 2>&1 && pl_fail "revert of 6 left a table"
pl_done
