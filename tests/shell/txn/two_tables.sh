#!/bin/bash
# One state dir, two tables, two histories: configs naming different tables
# are applied into the same state dir; reverting one table's transaction
# leaves the other table and its records as they were; `log` names the table
# of every record (text and JSON). A record edited to name a table this state
# dir did not create (`inet filter`, made by hand) is refused, and that table
# stays byte-identical; the marker portlock puts on its own tables is checked.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plt$PL_TAG
pl_netns "$NS"
ST=$PORTLOCK_STATE_DIR
cat >"$PL_TMP/a.conf" <<'CONF'
portlock = { table = "pl_a"; };
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
cat >"$PL_TMP/a2.conf" <<'CONF'
portlock = { table = "pl_a"; };
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/25"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
portlock = { table = "pl_b"; };
services = ( { name = "smtp"; ports = [25]; allow = ["198.51.100.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
N() { ip netns exec "$NS" nft "$@"; }
state_of() {	# state_of ID: the record's state
	"$PL_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["state"])' \
		"$ST/journal/$(printf '%010d' "$1").json"
}

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply	# 1: creates pl_a
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply	# 2: creates pl_b
pl_expect_rc 0 P -c "$PL_TMP/a2.conf" apply	# 3: changes pl_a
# every table portlock creates carries this state dir's marker
id=$(cat "$ST/id")
[[ $id =~ ^[0-9a-f]{32}$ ]] || pl_fail "state dir id '$id' is not 32 hex digits"
for t in pl_a pl_b; do
	N list table inet $t | grep -q "^	comment \"portlock:$id\"$" ||
		pl_fail "table $t lacks the marker: $(N list table inet $t | head -3)"
	grep -qx "$t" "$ST/tables" || pl_fail "$ST/tables does not list $t"
done
# export prints the same comment apply gives the table
P -c "$PL_TMP/b.conf" export | grep -q "^	comment \"portlock:$id\"$" || pl_fail "export lacks the marker"

# log: a TABLE column, and "table" in JSON
pl_expect_rc 0 P log
pl_expect_grep '^ID +TIME +USER +TABLE +KIND' "$PL_TMP/out"
pl_expect_grep '^1 .* root +pl_a +apply ' "$PL_TMP/out"
pl_expect_grep '^2 .* root +pl_b +apply ' "$PL_TMP/out"
pl_expect_rc 0 P log --json
"$PL_PY" -c 'import json,sys; t=[r["table"] for r in json.load(open(sys.argv[1]))["transactions"]]; assert t==["pl_a","pl_b","pl_a"], t' \
	"$PL_TMP/out" || pl_fail "log --json tables are not pl_a, pl_b, pl_a"

# a bare revert takes the newest transaction of the current config's table
# (3 is the newest of all, but pl_b's is 2)
pl_expect_rc 0 P -c "$PL_TMP/b.conf" revert --dry-run
pl_expect_grep '^revert of transaction 2 on table inet pl_b' "$PL_TMP/out"
pl_expect_rc 0 P -c "$PL_TMP/a2.conf" revert --dry-run
pl_expect_grep '^revert of transaction 3 on table inet pl_a' "$PL_TMP/out"

# revert 1 (pl_a's first apply): pl_a goes (it did not exist before 1), 3 is
# marked reverted with it; pl_b and its record 2 stay
N list table inet pl_b >"$PL_TMP/b.before"
pl_expect_rc 0 P revert 1
pl_expect_grep 'reverted transaction 1 on table inet pl_a' "$PL_TMP/out"
N list table inet pl_a >/dev/null 2>&1 && pl_fail "pl_a still exists after revert 1"
N list table inet pl_b >"$PL_TMP/b.after" || pl_fail "pl_b is gone after revert 1"
cmp -s "$PL_TMP/b.before" "$PL_TMP/b.after" || pl_fail "pl_b changed: $(diff "$PL_TMP/b.before" "$PL_TMP/b.after")"
[ "$(state_of 1)" = reverted ] || pl_fail "record 1 is $(state_of 1), not reverted"
[ "$(state_of 3)" = reverted ] || pl_fail "record 3 (pl_a) is $(state_of 3), not reverted"
[ "$(state_of 2)" = applied ] || pl_fail "record 2 (pl_b) is $(state_of 2): the other table's history was touched"
# pl_b's own history still reverts: revert 2 removes pl_b
pl_expect_rc 0 P revert 2
N list table inet pl_b >/dev/null 2>&1 && pl_fail "pl_b still exists after revert 2"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply	# 6: pl_b again

# a table deleted by hand: an explicit revert of its history is refused
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply	# 7: pl_a again
pl_expect_rc 0 P -c "$PL_TMP/a2.conf" apply	# 8
N delete table inet pl_a
pl_expect_rc 5 P revert 8
pl_expect_grep 'table inet pl_a does not exist, but transaction 8 left it in place' "$PL_TMP/err"
N list table inet pl_a >/dev/null 2>&1 && pl_fail "refused revert re-created pl_a"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply	# 9: back

# a record edited to name a table portlock did not create: refused, untouched
N add table inet filter
N add chain inet filter input '{ type filter hook input priority 0; policy accept; }'
N add rule inet filter input tcp dport 22 accept
N list table inet filter >"$PL_TMP/filter.before"
N -j list table inet filter >"$PL_TMP/filter.before.json"
f=$ST/journal/0000000009.json
"$PL_PY" -c 'import json,sys; p=sys.argv[1]; r=json.load(open(p)); r["table"]="filter"; json.dump(r, open(p,"w"), indent=2)' "$f"
pl_expect_rc 5 P revert 9
pl_expect_grep "names table inet filter, which this state dir did not create \(the table has no portlock marker\)" "$PL_TMP/err"
N list table inet filter >"$PL_TMP/filter.after"
N -j list table inet filter >"$PL_TMP/filter.after.json"
cmp -s "$PL_TMP/filter.before" "$PL_TMP/filter.after" && cmp -s "$PL_TMP/filter.before.json" "$PL_TMP/filter.after.json" ||
	pl_fail "inet filter changed: $(diff "$PL_TMP/filter.before" "$PL_TMP/filter.after")"
# with a comment that is not ours (another state dir's marker): refused, naming it
N delete table inet filter
N add table inet filter '{ comment "portlock:0123456789abcdef0123456789abcdef"; }'
N add chain inet filter input '{ type filter hook input priority 0; policy accept; }'
N list table inet filter >"$PL_TMP/filter2.before"
pl_expect_rc 5 P revert 9
pl_expect_grep 'whose comment "portlock:0123456789abcdef0123456789abcdef" is not the marker of this state dir .* another portlock state dir' "$PL_TMP/err"
N list table inet filter >"$PL_TMP/filter2.after"
cmp -s "$PL_TMP/filter2.before" "$PL_TMP/filter2.after" || pl_fail "inet filter (commented) changed"
# the record names a table that does not exist and was never created here
N delete table inet filter
pl_expect_rc 5 P revert 9
pl_expect_grep 'names table inet filter, which this state dir did not create: refusing' "$PL_TMP/err"
N list table inet filter >/dev/null 2>&1 && pl_fail "a refused revert created inet filter"
[ "$(N list tables | sort | tr '\n' ' ')" = "table inet pl_a table inet pl_b " ] ||
	pl_fail "unexpected tables: $(N list tables)"
pl_done
