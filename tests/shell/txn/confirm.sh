#!/bin/bash
# apply --confirm: reverted after the deadline by the detached watcher even
# though the shell that ran apply is gone; kept with confirm; a killed watcher
# is reported by read commands and replaced by the next run that may change
# the kernel (recover, apply), which reverts first and says so; a pending
# transaction blocks another apply.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plc$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["198.51.100.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
in_sync() { P -c "$1" plan --exit-code >/dev/null 2>&1; }

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
# 1. no confirm: the watcher reverts; apply runs in a shell that exits at once
setsid bash -c "ip netns exec $NS $PORTLOCK -c $PL_TMP/b.conf apply --confirm 2 >$PL_TMP/o1 2>&1" </dev/null
pl_expect_grep 'reverts at .* unless .portlock confirm' "$PL_TMP/o1"
in_sync "$PL_TMP/b.conf" || pl_fail "b not applied"
P -c "$PL_TMP/a.conf" apply >/dev/null 2>&1 && pl_fail "apply while a transaction is pending must be refused"
for i in $(seq 1 60); do
	# read-only look (log takes no lock and never reverts by itself)
	P log --json | grep -q '"auto-revert"' && break
	sleep 0.1
done
sleep 2.5
P log --json >"$PL_TMP/log1"
grep -q '"auto-revert"' "$PL_TMP/log1" || pl_fail "no auto-revert within ~8 s: $(cat "$PL_TMP/log1")"
in_sync "$PL_TMP/a.conf" || pl_fail "not back to a after the deadline"
# the same unconfirmed policy is not re-applied (the boot unit runs apply): refused, exit 5
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply
pl_expect_grep 'reverted because nobody confirmed it' "$PL_TMP/err"
in_sync "$PL_TMP/a.conf" || pl_fail "plain apply brought the unconfirmed policy back"

# 2. confirm keeps it; the watcher does not hold the caller's pipe open
timeout 3 bash -c "ip netns exec $NS $PORTLOCK -c $PL_TMP/b.conf apply --confirm 2 | cat >/dev/null" ||
	pl_fail "apply --confirm | cat did not return before the deadline"
pl_expect_rc 0 P confirm
pl_expect_grep 'confirmed' "$PL_TMP/out"
sleep 3.5
in_sync "$PL_TMP/b.conf" || pl_fail "confirmed transaction was reverted"

# 3. the watcher dies (kill -9); a read command reports it and changes nothing;
# the next run that may change the kernel (recover) reverts first and says so
# (the deadline counts from before the batch: 3 s leave room for a slow apply)
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply --confirm 3
pkill -9 -f "portlock -c $PL_TMP/a.conf apply --confirm 3" || pl_fail "no watcher process found"
sleep 3.5
pl_expect_rc 0 P -c "$PL_TMP/a.conf" show
pl_expect_grep 'auto-revert is overdue' "$PL_TMP/err"
pl_expect_rc 1 P -c "$PL_TMP/a.conf" plan --exit-code
pl_expect_grep 'auto-revert is overdue' "$PL_TMP/err"
pl_expect_rc 0 P recover
pl_expect_grep 'was not confirmed by .*: reverting it' "$PL_TMP/err"
in_sync "$PL_TMP/b.conf" || pl_fail "expired transaction not reverted by recover"
pl_expect_rc 0 P log
pl_expect_grep 'auto-revert' "$PL_TMP/out"
pl_expect_rc 2 P -c "$PL_TMP/a.conf" apply --confirm 0
pl_done
