#!/bin/bash
# revert has apply's guards: --dry-run shows the exact diff and changes
# nothing; --confirm S makes the revert pending (undone at the deadline,
# kept with confirm); reverting an auto-revert (which would re-install the
# change nobody confirmed) is refused with exit 5 unless --force; a plain
# apply of a policy that was just auto-reverted exits 5 (--force insists),
# and plan says why it is not in force. A closed stdout does not keep a
# pending revert.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plg$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
services = (
  { name = "smpp"; ports = [2775, 3550]; allow = ["198.51.100.0/24", "2001:db8::/48"]; },
  { name = "smtp"; ports = [25]; allow = []; }
);
CONF
# --wait: a watcher that just reverted may still hold the lock for a moment
P() { ip netns exec "$NS" "$PORTLOCK" --wait 20 "$@"; }
in_sync() { P -c "$1" plan --exit-code >/dev/null 2>&1; }
ruleset() { ip netns exec "$NS" nft list ruleset >"$1"; }
unchanged() {	# the ruleset is byte-identical to the one saved in $1
	ruleset "$PL_TMP/now"
	cmp -s "$1" "$PL_TMP/now" || pl_fail "$2: the ruleset changed: $(diff "$1" "$PL_TMP/now" | head -10)"
}
nrecs() { P log --json 2>/dev/null | "$PL_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["transactions"]))'; }
# wait_auto N: until the journal holds N auto-revert records (at most 10 s)
# (log takes no lock and never reverts by itself)
wait_auto() {
	local i n
	for i in $(seq 1 100); do
		n=$(P log --json 2>/dev/null | "$PL_PY" -c \
			'import json,sys; print(sum(r["kind"] == "auto-revert" for r in json.load(sys.stdin)["transactions"]))')
		[ "$n" -ge "$1" ] && return 0
		sleep 0.1
	done
	pl_fail "no auto-revert number $1 within 10 s: $(P log 2>&1)"
}
# json FILE EXPR: a python assertion over the JSON document in FILE (as d)
json() {
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert eval(sys.argv[2]), d' "$1" "$2" || pl_fail "JSON $2: $(head -c 1500 "$1")"
}

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply		# 1
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply		# 2
in_sync "$PL_TMP/b.conf" || pl_fail "b not applied"

# --- 1. revert --dry-run: the exact diff, nothing changes --------------------
ruleset "$PL_TMP/rs.b"
n0=$(nrecs)
pl_expect_rc 0 P revert --dry-run
pl_expect_grep '^revert of transaction 2 on table inet portlock' "$PL_TMP/out"
pl_expect_grep '^nothing was changed \(dry run\)' "$PL_TMP/out"
pl_expect_grep '^- .*3550' "$PL_TMP/out"
grep -E '^[+-] ' "$PL_TMP/out" >"$PL_TMP/dry.diff"
[ -s "$PL_TMP/dry.diff" ] || pl_fail "revert --dry-run shows no diff lines"
unchanged "$PL_TMP/rs.b" "revert --dry-run"
[ "$(nrecs)" = "$n0" ] || pl_fail "revert --dry-run wrote a journal record"
pl_expect_rc 1 P revert --dry-run --exit-code
pl_expect_rc 0 P revert --dry-run --json
json "$PL_TMP/out" 'd["dry_run"] is True and d["changed"] is False and d["transaction"] is None and d["reverted"] == 2 and d["diff"]["changes"] and not d["diff"]["in_sync"]'
pl_expect_rc 1 P revert -n -e 1
pl_expect_rc 2 P revert --exit-code
pl_expect_rc 2 P revert --dry-run --confirm 5
unchanged "$PL_TMP/rs.b" "revert --dry-run variants"

# --- 2. revert --confirm: undone at the deadline unless confirmed ------------
pl_expect_rc 0 P revert --confirm 3			# 3, pending
pl_expect_grep '^transaction 3 reverted transaction 2' "$PL_TMP/out"
pl_expect_grep '^transaction 3 reverts at .* unless .portlock confirm' "$PL_TMP/out"
# the diff printed before the summary is the one the dry run showed
grep -E '^[+-] ' "$PL_TMP/out" >"$PL_TMP/real.diff"
cmp -s "$PL_TMP/dry.diff" "$PL_TMP/real.diff" ||
	pl_fail "dry run and revert differ: $(diff "$PL_TMP/dry.diff" "$PL_TMP/real.diff" | head)"
in_sync "$PL_TMP/a.conf" || pl_fail "revert --confirm did not restore a"
P log >"$PL_TMP/log"
grep -qE '^3 .*pending' "$PL_TMP/log" || pl_fail "the revert is not pending: $(cat "$PL_TMP/log")"
wait_auto 1						# 4 = auto-revert of 3
sleep 0.3
in_sync "$PL_TMP/b.conf" || pl_fail "an unconfirmed revert was not undone at its deadline"

# --- 3. reverting the auto-revert re-installs the unconfirmed change: refused
ruleset "$PL_TMP/rs.b2"
pl_expect_rc 5 P revert
pl_expect_grep 'transaction 4 is the auto-revert of transaction 3' "$PL_TMP/err"
pl_expect_grep 'use .-force to insist' "$PL_TMP/err"
unchanged "$PL_TMP/rs.b2" "refused revert"
# confirmed: it stays (a deadline long enough for a loaded machine to confirm in time)
pl_expect_rc 0 P revert --force --confirm 6		# 5, pending
in_sync "$PL_TMP/a.conf" || pl_fail "revert --force --confirm did not restore a"
pl_expect_rc 0 P confirm
pl_expect_grep 'transaction 5 confirmed' "$PL_TMP/out"
sleep 6
in_sync "$PL_TMP/a.conf" || pl_fail "a confirmed revert was undone"
P log >"$PL_TMP/log"
grep -qE '^5 .*confirmed' "$PL_TMP/log" || pl_fail "revert 5 not confirmed: $(cat "$PL_TMP/log")"

# --- 4. after an auto-revert of apply --confirm ------------------------------
setsid bash -c "ip netns exec $NS $PORTLOCK -c $PL_TMP/b.conf apply --confirm 3 >$PL_TMP/o1 2>&1" </dev/null
pl_expect_grep '^transaction 6 applied' "$PL_TMP/o1"
wait_auto 2						# 7 = auto-revert of 6
sleep 0.3
in_sync "$PL_TMP/a.conf" || pl_fail "apply --confirm 3 was not reverted"
ruleset "$PL_TMP/rs.a"
n0=$(nrecs)
# a bare revert would re-install transaction 6
pl_expect_rc 5 P revert
pl_expect_grep 'transaction 7 is the auto-revert of transaction 6' "$PL_TMP/err"
pl_expect_rc 5 P revert --json
json "$PL_TMP/out" 'd["error"]["auto_revert"] == 7 and d["error"]["transaction"] == 6 and d["changed"] is False'
pl_expect_rc 5 P revert --dry-run
# plan says why the policy is not in force
pl_expect_rc 1 P -c "$PL_TMP/b.conf" plan --exit-code
pl_expect_grep 'applied as transaction 6 and reverted because nobody confirmed it \(transaction 7\)' "$PL_TMP/err"
pl_expect_grep 'not in force' "$PL_TMP/err"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" plan --json
json "$PL_TMP/out" 'd["auto_reverted"]["transaction"] == 6 and d["auto_reverted"]["auto_revert"] == 7'
pl_expect_rc 0 P -c "$PL_TMP/a.conf" plan --json
json "$PL_TMP/out" 'd["auto_reverted"] is None'
# a plain apply of the same policy: exit 5 with the reason (also with -q and --json)
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply
pl_expect_grep 'applied as transaction 6 and reverted because nobody confirmed it \(transaction 7\)' "$PL_TMP/err"
pl_expect_rc 5 P -q -c "$PL_TMP/b.conf" apply
pl_expect_grep 'nobody confirmed it' "$PL_TMP/err"
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply --json
json "$PL_TMP/out" 'd["applied"] is False and d["error"]["transaction"] == 6 and d["error"]["auto_revert"] == 7 and d["error"]["exit_code"] == 5'
unchanged "$PL_TMP/rs.a" "refused revert and apply after an auto-revert"
[ "$(nrecs)" = "$n0" ] || pl_fail "a refusal wrote a journal record"
# --force insists: the revert re-installs transaction 6's table
pl_expect_rc 0 P revert --force --dry-run
pl_expect_grep 'dry run' "$PL_TMP/out"
pl_expect_rc 0 P revert --force				# 8
pl_expect_grep '^transaction 8 reverted transaction 7' "$PL_TMP/out"
in_sync "$PL_TMP/b.conf" || pl_fail "revert --force did not re-install b"

# --- 5. apply --force after an auto-revert -----------------------------------
pl_expect_rc 0 P revert					# 9: a (a revert, not an auto-revert)
in_sync "$PL_TMP/a.conf" || pl_fail "revert 8 did not restore a"
setsid bash -c "ip netns exec $NS $PORTLOCK -c $PL_TMP/b.conf apply --confirm 3 >$PL_TMP/o2 2>&1" </dev/null
wait_auto 3						# 11 = auto-revert of 10
sleep 0.3
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply
pl_expect_grep 'applied as transaction 10 and reverted' "$PL_TMP/err"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --force
pl_expect_grep '^transaction 12 applied' "$PL_TMP/out"
in_sync "$PL_TMP/b.conf" || pl_fail "apply --force did not apply b"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" plan --exit-code
grep -q 'nobody confirmed' "$PL_TMP/err" && pl_fail "plan still warns after apply --force"

# --- 6. revert --confirm whose reader is gone: the watcher still undoes it ---
ip netns exec "$NS" "$PORTLOCK" -v revert --confirm 3 2>/dev/null | true	# 13, pending
in_sync "$PL_TMP/a.conf" || pl_fail "revert --confirm | true did not revert"
wait_auto 4						# 14 = auto-revert of 13
sleep 0.3
in_sync "$PL_TMP/b.conf" || pl_fail "revert --confirm | true was not undone at its deadline"
pl_done
