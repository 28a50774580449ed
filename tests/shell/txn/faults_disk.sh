#!/bin/bash
# A full or read-only state dir (issue 13, items 2 and 4): the state dir is a
# tiny tmpfs in a private mount namespace (unshare -m), filled up at chosen
# moments. Nothing stays pending past its deadline, the table is the prior
# state at the deadline, and the policy is enforced at a "boot" (a fresh
# network namespace) whatever the state dir.
#   1. ENOSPC after the commit, before the record is completed (apply exits
#      7): the watcher still reverts at the deadline, and records it once
#      there is space again
#   2. the state dir fills up while the transaction is pending: the revert at
#      the deadline goes without a record; the record is marked when there is
#      space; until then read commands report it
#   3. the watcher killed, then a reboot with the state dir full: recover and
#      apply (the boot unit's commands) bring back the prior state, exit 7
#   4. a boot with a full state dir and nothing pending: apply enforces the
#      policy without a record (exit 7); over an existing table only with
#      --no-journal-ok
#   5. a read-only state dir: the same at boot; recover says it (not exit 0)
if [ -z "${PL_IN_MOUNT_NS:-}" ]; then
	[ "$(id -u)" -eq 0 ] || { echo "FATAL: this test must run as root" >&2; exit 1; }
	exec env PL_IN_MOUNT_NS=1 unshare -m --propagation private bash "$0" "$@"
fi
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=pld$PL_TAG
pl_netns "$NS"
export PORTLOCK_TEST_SYSLOG=$PL_TMP/syslog
MNT=$PL_TMP/mnt
mkdir -p "$MNT"
mount -t tmpfs -o size=1m,nr_inodes=400,mode=0755 tmpfs "$MNT" || pl_die "cannot mount a tmpfs"
trap 'umount -l "$MNT" 2>/dev/null; pl_cleanup' EXIT
export PORTLOCK_STATE_DIR=$MNT/state
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24", "203.0.113.0/25"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["198.51.100.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
tbl() { ip netns exec "${1:-$NS}" nft -s list table inet portlock 2>&1; }
last_id() { P log --json 2>/dev/null | "$PL_PY" -c 'import json,sys; print(json.load(sys.stdin)["transactions"][-1]["id"])'; }
rec() {
	P log --json 2>/dev/null | "$PL_PY" -c '
import json, sys
for r in json.load(sys.stdin)["transactions"]:
    if r["id"] == int(sys.argv[1]): print(r.get(sys.argv[2])); break
else: print("MISSING")' "$1" "$2"
}
wait_state() {
	local id=$1 want=$2 s=${3:-8} i
	for ((i = 0; i < s * 10; i++)); do
		[ "$(rec "$id" state)" = "$want" ] && return 0
		sleep 0.1
	done
	return 1
}
# fill: no block and no inode left on the state dir's file system
fill() {
	local i
	dd if=/dev/zero of="$MNT/fill.big" bs=4k status=none 2>/dev/null
	for ((i = 0; i < 1000; i++)); do : 2>/dev/null >"$MNT/fill.$i" || break; done
	: 2>/dev/null >"$MNT/probe" && pl_die "the state dir's file system is not full"
}
unfill() { rm -f "$MNT"/fill.*; }
# sleep_past ID: until a second after record ID's deadline
sleep_past() {
	local d
	d=$(rec "$1" confirm_deadline)
	[ "$d" != None ] && [ "$d" != MISSING ] || { pl_fail "record $1 has no deadline"; return; }
	while [ "$(date +%s)" -le "$d" ]; do sleep 0.2; done
	sleep 1
}
kill_watchers() {
	local p
	for p in $(pgrep -f -- "$1 apply --confirm"); do [ "$p" != $$ ] && kill -9 "$p"; done
}

pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply
tbl >"$PL_TMP/want_b"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
tbl >"$PL_TMP/want_a"
is_a() { tbl "${1:-$NS}" | cmp -s - "$PL_TMP/want_a"; }
is_b() { tbl "${1:-$NS}" | cmp -s - "$PL_TMP/want_b"; }

# 1. ENOSPC after the commit
PORTLOCK_TEST_PAUSE_AFTER_MS=1200 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/b.conf" apply --confirm 5 \
	>"$PL_TMP/out1" 2>"$PL_TMP/err1" &
pid=$!
sleep 0.6
fill
wait $pid
rc=$?
[ $rc -eq 7 ] || pl_fail "1: apply exited $rc, expected 7: $(cat "$PL_TMP/err1")"
pl_expect_grep 'its deadline stands' "$PL_TMP/err1"
id=$(last_id)
[ "$(rec "$id" state)" = prepared ] || pl_fail "1: record $id is $(rec "$id" state), expected prepared"
is_b || pl_fail "1: b not applied"
sleep_past "$id"
is_a || pl_fail "1: not back to a at the deadline with the state dir full"
unfill
wait_state "$id" reverted 6 || pl_fail "1: record $id is $(rec "$id" state) once there is space, expected reverted"
pl_expect_rc 0 P recover
is_a || pl_fail "1: recover changed the table"

# 2. full while pending
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --confirm 3
id=$(last_id)
fill
sleep_past "$id"
is_a || pl_fail "2: not back to a at the deadline with the state dir full"
[ "$(rec "$id" state)" = pending ] || pl_fail "2: record $id is $(rec "$id" state) while the journal is full"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" show
pl_expect_grep 'auto-revert is overdue' "$PL_TMP/err"
unfill
wait_state "$id" reverted 8 || pl_fail "2: record $id is $(rec "$id" state) once there is space, expected reverted"
grep -q "transaction $id .*reverted; the journal could not record all of it" "$PORTLOCK_TEST_SYSLOG" ||
	pl_fail "2: no syslog line for the unrecorded revert: $(cat "$PORTLOCK_TEST_SYSLOG")"

# 3. the watcher killed, then a reboot with the state dir full
cp "$PL_TMP/b.conf" "$PL_TMP/b3.conf"
pl_expect_rc 0 P -c "$PL_TMP/b3.conf" apply --confirm 3
kill_watchers "$PL_TMP/b3.conf"
id=$(last_id)
fill
sleep_past "$id"
is_b || pl_fail "3: reverted although the watcher was killed?"
BOOT=plb$PL_TAG
pl_netns "$BOOT"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b3.conf" recover
pl_expect_grep 'was not confirmed by .*: reverting it' "$PL_TMP/err"
is_a "$BOOT" || pl_fail "3: recover at boot did not restore the prior state: $(tbl "$BOOT")"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b3.conf" apply --no-journal-ok
is_a "$BOOT" || pl_fail "3: apply at boot installed the unconfirmed policy again: $(tbl "$BOOT")"
unfill
pl_expect_rc 0 ip netns exec "$BOOT" "$PORTLOCK" recover
[ "$(rec "$id" state)" = reverted ] || pl_fail "3: record $id is $(rec "$id" state) after recover with space"
ip netns del "$BOOT"

# 4. a boot with the state dir full, nothing pending
fill
pl_netns "$BOOT"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/a.conf" recover
pl_expect_grep 'cannot be written' "$PL_TMP/err"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/a.conf" apply
pl_expect_grep 'WITHOUT a journal record' "$PL_TMP/err"
is_a "$BOOT" || pl_fail "4: the policy is not enforced at boot with the state dir full: $(tbl "$BOOT")"
# over an existing table: refused without --no-journal-ok, nothing changed
pl_expect_rc 70 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b.conf" apply
pl_expect_grep 'no-journal-ok' "$PL_TMP/err"
is_a "$BOOT" || pl_fail "4: a refused apply changed the table"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/b.conf" apply --no-journal-ok
is_b "$BOOT" || pl_fail "4: apply --no-journal-ok did not apply b"
# --confirm cannot be armed without a record: nothing changes
pl_expect_rc 70 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/a.conf" apply --confirm 5 --no-journal-ok
is_b "$BOOT" || pl_fail "4: apply --confirm without a journal changed the table"
unfill
ip netns del "$BOOT"

# 5. a read-only state dir at boot
mount -o remount,ro "$MNT" || pl_die "cannot make the tmpfs read-only"
pl_netns "$BOOT"
ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/a.conf" recover >"$PL_TMP/out" 2>"$PL_TMP/err" &&
	pl_fail "5: recover with a read-only state dir exited 0"
pl_expect_rc 7 ip netns exec "$BOOT" "$PORTLOCK" -c "$PL_TMP/a.conf" apply
is_a "$BOOT" || pl_fail "5: the policy is not enforced at boot with a read-only state dir: $(tbl "$BOOT")"
mount -o remount,rw "$MNT"
pl_done
