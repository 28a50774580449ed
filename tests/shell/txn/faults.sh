#!/bin/bash
# apply --confirm under faults (issue 13, items 1, 3 and 5): whatever happens
# after the commit, at the deadline (or at the next run that may change the
# kernel) the table is the prior state or the documented safe state, the
# record says which, and nothing stays pending past its deadline.
#   1. SIGPIPE: apply --confirm | true
#   2. a blocked stdout (a reader that does not read) holds neither the lock
#      nor the revert
#   3. SIGKILL right after the batch (before the record is completed): the
#      watcher reverts at the deadline
#   4. SIGKILL after the batch and the watcher killed too: read commands
#      (show, plan, audit, log) report it and leave the ruleset byte-identical;
#      recover reverts it (the deadline came from the prepared record)
#   5. the state dir renamed away around the deadline: the watcher retries
#   6. a damaged prior (a byte flipped in journal/objects/*): the safe state
#      (table kept, record "safe_state": "kept"), reported; after a "reboot"
#      (fresh namespace) apply still enforces the policy
#   7. the same with the watcher killed: recover at the "reboot" takes the
#      safe state (exit 5), apply enforces the policy
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plf$PL_TAG
pl_netns "$NS"
export PORTLOCK_TEST_SYSLOG=$PL_TMP/syslog
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24", "203.0.113.0/25"]; } );
CONF
# b: big enough that apply -v prints more than a pipe holds (64 KiB)
"$PL_PY" - "$PL_TMP" <<'PY'
import sys
open(sys.argv[1] + "/b.txt", "w").write("".join("10.%d.%d.0/25\n" % (i // 256, i % 256) for i in range(4000)))
PY
printf 'services = ( { name = "smpp"; ports = [2775]; allow_file = "%s/b.txt"; } );\n' "$PL_TMP" >"$PL_TMP/b.conf"
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
# the table without its marker comment (case 7 makes a new state dir: another id)
tbl() { ip netns exec "${1:-$NS}" nft -s list table inet portlock 2>&1 | grep -v '^	comment "portlock'; }
last_id() { P log --json 2>/dev/null | "$PL_PY" -c 'import json,sys; print(json.load(sys.stdin)["transactions"][-1]["id"])'; }
rec() { # ID FIELD: a field of record ID (log --json)
	P log --json 2>/dev/null | "$PL_PY" -c '
import json, sys
for r in json.load(sys.stdin)["transactions"]:
    if r["id"] == int(sys.argv[1]): print(r.get(sys.argv[2])); break
else: print("MISSING")' "$1" "$2"
}
# wait until record ID has STATE (up to S seconds); the watcher takes a moment
wait_state() {
	local id=$1 want=$2 s=${3:-8} i
	for ((i = 0; i < s * 10; i++)); do
		[ "$(rec "$id" state)" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
# sleep_past ID: until a second after record ID's deadline (timing-proof under load)
sleep_past() {
	local d
	d=$(rec "$1" confirm_deadline)
	[ "$d" != None ] && [ "$d" != MISSING ] || { pl_fail "record $1 has no deadline"; return; }
	while [ "$(date +%s)" -le "$d" ]; do sleep 0.2; done
	sleep 1
}
watchers() { pgrep -f -- "$1 apply --confirm" | grep -vx "$$"; }
kill_watchers() { local p; for p in $(watchers "$1"); do kill -9 "$p"; done; }

pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply
tbl >"$PL_TMP/want_b"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
tbl >"$PL_TMP/want_a"
cmp -s "$PL_TMP/want_a" "$PL_TMP/want_b" && pl_die "a and b render the same"
is_a() { tbl "${1:-$NS}" | cmp -s - "$PL_TMP/want_a"; }
is_b() { tbl "${1:-$NS}" | cmp -s - "$PL_TMP/want_b"; }

# 1. SIGPIPE: the watcher exists before the first byte of output
P -c "$PL_TMP/b.conf" apply --confirm 4 2>"$PL_TMP/e1" | true
rc=${PIPESTATUS[0]}
[ "$rc" -eq 141 ] && pl_fail "1: apply died of SIGPIPE (141)"
pl_log "1: apply --confirm 4 | true exited $rc"
is_b || pl_fail "1: b not applied"
id=$(last_id)
sleep_past "$id"
wait_state "$id" reverted 5 || pl_fail "1: transaction $id is $(rec "$id" state) after its deadline"
is_a || pl_fail "1: not back to a after the deadline: $(tbl)"

# 2. a reader that does not read: output blocks, but without the lock and after the watcher
(P -v -c "$PL_TMP/b.conf" apply --confirm 3 | (sleep 14; wc -c >"$PL_TMP/o2")) 2>"$PL_TMP/e2" &
bg=$!
for ((i = 0; i < 50; i++)); do is_b && break; sleep 0.1; done
is_b || pl_fail "2: b not applied"
id=$(last_id)
# the lock is free while apply waits for its reader (which sleeps 14 s)
P --wait 5 recover >"$PL_TMP/out" 2>"$PL_TMP/err" || pl_fail "2: the lock is held while apply writes to a blocked pipe: $(cat "$PL_TMP/err")"
sleep_past "$id"
wait_state "$id" reverted 5 || pl_fail "2: transaction $id is $(rec "$id" state) after its deadline"
is_a || pl_fail "2: not back to a at the deadline while the reader still sleeps"
kill -0 $bg 2>/dev/null || pl_fail "2: the reader was not blocking (the test did not test anything)"
wait $bg
[ "$(cat "$PL_TMP/o2" 2>/dev/null || echo 0)" -gt 65536 ] || pl_fail "2: apply -v printed only $(cat "$PL_TMP/o2") bytes"

# 3. SIGKILL right after the batch, before the record is completed
PORTLOCK_TEST_PAUSE_AFTER_MS=4000 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/b.conf" apply --confirm 3 >/dev/null 2>&1 &
pid=$!
sleep 1
is_b || pl_fail "3: b not applied"
id=$(last_id)
[ "$(rec "$id" state)" = prepared ] || pl_fail "3: record $id is $(rec "$id" state), expected prepared during the pause"
[ "$(rec "$id" confirm_deadline)" != None ] || pl_fail "3: the prepared record has no deadline"
kill -9 $pid
wait $pid 2>/dev/null
sleep_past "$id"
wait_state "$id" reverted 6 || pl_fail "3: transaction $id is $(rec "$id" state) after its deadline"
is_a || pl_fail "3: not back to a at the deadline"

# 4. SIGKILL after the batch, the watcher killed too: read commands change nothing
cp "$PL_TMP/b.conf" "$PL_TMP/b4.conf"
PORTLOCK_TEST_PAUSE_AFTER_MS=3000 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/b4.conf" apply --confirm 2 >/dev/null 2>&1 &
pid=$!
sleep 0.7
# the watcher first (it would take the lock as soon as apply is gone), then apply
kill_watchers "$PL_TMP/b4.conf"
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
id=$(last_id)
[ "$(rec "$id" state)" = prepared ] || pl_fail "4: record $id is $(rec "$id" state), expected prepared"
sleep_past "$id"
ip netns exec "$NS" nft list ruleset >"$PL_TMP/rs0"
for c in show "plan --exit-code" audit log; do
	# shellcheck disable=SC2086
	P -c "$PL_TMP/a.conf" $c >"$PL_TMP/out" 2>"$PL_TMP/err"
	rc=$?
	pl_expect_grep 'WARNING: transaction .* (auto-revert is overdue|was interrupted)' "$PL_TMP/err"
	ip netns exec "$NS" nft list ruleset | cmp -s - "$PL_TMP/rs0" || pl_fail "4: '$c' changed the ruleset"
	[ "$c" = "plan --exit-code" ] && [ "$rc" -ne 1 ] && pl_fail "4: plan --exit-code exited $rc for an overdue transaction"
done
P -c "$PL_TMP/a.conf" plan --json >"$PL_TMP/out" 2>/dev/null
pl_expect_grep "\"overdue\": \\{" "$PL_TMP/out"
P -c "$PL_TMP/a.conf" show --json >"$PL_TMP/out" 2>/dev/null
pl_expect_grep "\"overdue\": \\{" "$PL_TMP/out"
P -c "$PL_TMP/a.conf" audit --json --no-probe >"$PL_TMP/out" 2>/dev/null
pl_expect_grep "overdue-confirm" "$PL_TMP/out"
ip netns exec "$NS" nft list ruleset | cmp -s - "$PL_TMP/rs0" || pl_fail "4: the --json read commands changed the ruleset"
is_b || pl_fail "4: the read commands reverted"
[ "$(rec "$id" state)" = prepared ] || pl_fail "4: the read commands touched record $id"
pl_expect_rc 0 P recover
pl_expect_grep 'was not confirmed by .*: reverting it' "$PL_TMP/err"
is_a || pl_fail "4: recover did not honour the prepared record's deadline"
[ "$(rec "$id" state)" = reverted ] || pl_fail "4: record $id is $(rec "$id" state) after recover"

# 5. the state dir renamed away over the deadline: the watcher tries again
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --confirm 3
id=$(last_id)
d=$(rec "$id" confirm_deadline)
mv "$PORTLOCK_STATE_DIR" "$PORTLOCK_STATE_DIR.away"
while [ "$(date +%s)" -le "$d" ]; do sleep 0.2; done
sleep 1.5
is_b || pl_fail "5: reverted without a journal?"
mv "$PORTLOCK_STATE_DIR.away" "$PORTLOCK_STATE_DIR"
wait_state "$id" reverted 6 || pl_fail "5: transaction $id is $(rec "$id" state) after the state dir came back"
is_a || pl_fail "5: not back to a after the state dir came back"
pl_expect_grep "transaction $id: the revert at its deadline .* is not done .*next in" "$PORTLOCK_TEST_SYSLOG"

# 6. a damaged prior: the safe state (the table is kept), said loudly
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --confirm 3
id=$(last_id)
flip() { printf '\x5a' | dd of="$1" bs=1 seek=7 conv=notrunc status=none; }
n=0
for f in "$PORTLOCK_STATE_DIR"/journal/objects/*; do flip "$f"; n=$((n + 1)); done
[ $n -gt 0 ] || pl_die "6: no journal objects to damage"
sleep_past "$id"
wait_state "$id" applied 5 || pl_fail "6: transaction $id is $(rec "$id" state) after its deadline"
[ "$(rec "$id" safe_state)" = kept ] || pl_fail "6: record $id has safe_state $(rec "$id" safe_state)"
is_b || pl_fail "6: the safe state is to keep the table as it is: $(tbl)"
pl_expect_grep "transaction $id cannot be reverted exactly" "$PORTLOCK_TEST_SYSLOG"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" show
pl_expect_grep "left in the safe state" "$PL_TMP/err"
# "reboot": a fresh namespace; the boot unit's apply enforces the policy
BOOT=plg$PL_TAG
pl_netns "$BOOT"
pl_expect_rc 0 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b.conf" recover
pl_expect_rc 0 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b.conf" apply --no-journal-ok
is_b "$BOOT" || pl_fail "6: after the reboot the policy is not enforced: $(tbl "$BOOT")"
ip netns del "$BOOT"

# 7. a damaged prior and the watcher killed, then a reboot
rm -rf "$PORTLOCK_STATE_DIR"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
cp "$PL_TMP/b.conf" "$PL_TMP/b7.conf"
pl_expect_rc 0 P -c "$PL_TMP/b7.conf" apply --confirm 3
kill_watchers "$PL_TMP/b7.conf"
id=$(last_id)
[ "$(rec "$id" state)" = pending ] || pl_fail "7: record $id is $(rec "$id" state) before its deadline"
for f in "$PORTLOCK_STATE_DIR"/journal/objects/*; do flip "$f"; done
sleep_past "$id"
pl_netns "$BOOT"
pl_expect_rc 5 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b7.conf" recover
pl_expect_grep "cannot be reverted exactly" "$PL_TMP/err"
[ "$(rec "$id" safe_state)" = kept ] || pl_fail "7: record $id has safe_state $(rec "$id" safe_state)"
[ "$(rec "$id" state)" = applied ] || pl_fail "7: record $id is $(rec "$id" state)"
pl_expect_rc 0 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b7.conf" apply --no-journal-ok
is_b "$BOOT" || pl_fail "7: after the reboot the policy is not enforced: $(tbl "$BOOT")"
pl_done
