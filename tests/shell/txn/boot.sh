#!/bin/bash
# apply --boot (what portlock.service runs at boot and after "systemctl
# reload nftables"): the table is never left absent. A "reboot" here is the
# table deleted in the namespace (what nftables.service's flush ruleset
# does). Cases: an auto-revert of the policy on disk (plain apply refuses
# it, exit 5, so the unit would leave every port open; --boot puts back the
# state the auto-revert restored); a pending --confirm (--boot puts back its
# result, and its deadline still reverts it); the SSH lockout guard (only a
# warning with --boot).
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plc$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["198.51.100.0/24"]; },
             { name = "ssh"; ports = [22]; allow = ["198.51.100.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
in_sync() { P -c "$1" plan --exit-code >/dev/null 2>&1; }
flush() { ip netns exec "$NS" nft flush ruleset; }
# wait for the newest record to be of kind $1 (log takes no lock)
wait_kind() {
	local i
	for i in $(seq 1 100); do
		P log --json 2>/dev/null | python3 -c '
import json, sys
recs = json.load(sys.stdin)
recs = recs.get("transactions", recs) if isinstance(recs, dict) else recs
sys.exit(0 if recs and recs[-1]["kind"] == sys.argv[1] else 1)' "$1" && return 0
		sleep 0.1
	done
	return 1
}

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply

# 1. b applied with --confirm and not confirmed: auto-reverted to a
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --confirm 2
wait_kind auto-revert || pl_fail "1: no auto-revert"
in_sync "$PL_TMP/a.conf" || pl_fail "1: not back to a after the deadline"
# "reboot": no table; the config on disk is still b
flush
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply
[ -z "$(ip netns exec "$NS" nft list ruleset)" ] || pl_fail "1: refused apply changed the ruleset"
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --boot
pl_expect_grep 'restored as transaction [0-9]* left it' "$PL_TMP/err"
in_sync "$PL_TMP/a.conf" || pl_fail "1: --boot did not put back the auto-revert's state (a)"
# the unconfirmed policy stays refused after the boot, and --boot again is a no-op
pl_expect_rc 5 P -c "$PL_TMP/b.conf" apply
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --boot
in_sync "$PL_TMP/a.conf" || pl_fail "1: second --boot changed the table"
# bare revert still refuses to re-install the unconfirmed change
pl_expect_rc 5 P revert

# 2. a pending --confirm, then the table is flushed (reload nftables)
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --confirm 6
flush
pl_expect_rc 0 P -c "$PL_TMP/b.conf" apply --boot
pl_expect_grep 'awaits confirmation' "$PL_TMP/err"
in_sync "$PL_TMP/b.conf" || pl_fail "2: --boot did not put back the pending transaction's result (b)"
# its deadline still reverts it, to a
wait_kind auto-revert || sleep 6
for i in $(seq 1 80); do in_sync "$PL_TMP/a.conf" && break; sleep 0.1; done
in_sync "$PL_TMP/a.conf" || pl_fail "2: the pending transaction was not reverted at its deadline"

# 3. the SSH lockout guard: refuses a plain apply, only warns with --boot
flush
export SSH_CONNECTION="203.0.113.9 50000 192.0.2.1 22"
cat >"$PL_TMP/c.conf" <<'CONF'
services = ( { name = "ssh"; ports = [22]; allow = ["198.51.100.0/24"]; } );
CONF
pl_expect_rc 5 P -c "$PL_TMP/c.conf" apply
pl_expect_grep 'SSH session from 203.0.113.9' "$PL_TMP/err"
pl_expect_rc 0 P -c "$PL_TMP/c.conf" apply --boot
pl_expect_grep 'enforcing the policy anyway \(--boot\)' "$PL_TMP/err"
in_sync "$PL_TMP/c.conf" || pl_fail "3: --boot did not enforce c"
unset SSH_CONNECTION

# --boot with --confirm is a usage error
pl_expect_rc 2 P -c "$PL_TMP/a.conf" apply --boot --confirm 5
pl_done
