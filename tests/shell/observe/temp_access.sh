#!/bin/bash
# Temporary access: `allow SERVICE SOURCE --for 3s` lets a refused client in,
# and 5 s later the kernel refuses it again with no portlock process running;
# plan and apply leave a grant alone; --revoke ends one early; each grant and
# revoke is a journal record that `log` shows and `revert` passes over.
. "$(dirname "$0")/lib-observe.bash"
pl_topology
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 25
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV6" 25
pl_wait_port "$SRV" 25
sleep 0.5

cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "mail"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; } );
CONF
pl_expect_rc 0 P apply
obs_expect_smtp "$CLI" $TRUST4 $SRV4 25
obs_expect_refused "$CLI" $UNTRUST4 $SRV4 25

# a grant for 3 s: in at once, and out again by itself
pl_expect_rc 0 P allow mail $UNTRUST4 --for 3s
t0=$(date +%s.%N)
pl_expect_grep "^transaction [0-9]+: $UNTRUST4 may reach service mail until .* \(3s\)" "$PL_TMP/out"
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25
# plan sees no drift in the temporary set, apply leaves it alone
pl_expect_rc 0 P plan --exit-code
pl_expect_rc 0 P apply
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25
pl_expect_rc 0 P allow --list --json
obs_json_check "$PL_TMP/out" portlock-allow
grep -q "\"source\": \"$UNTRUST4\"" "$PL_TMP/out" || pl_fail "allow --list lacks the grant: $(cat "$PL_TMP/out")"
# 5 s after the grant, no portlock process anywhere in the server's namespace
sleep "$("$PL_PY" -c "import sys,time; print(max(0.0, 5 - (time.time() - float(sys.argv[1]))))" "$t0")"
for pid in $(ip netns pids "$SRV"); do
	case "$(cat /proc/"$pid"/comm 2>/dev/null)" in
	portlock*) pl_fail "a portlock process ($pid) runs in the server's namespace" ;;
	esac
done
obs_expect_refused "$CLI" $UNTRUST4 $SRV4 25
pl_expect_rc 0 P allow --list
pl_expect_grep "^no temporary access in table inet portlock" "$PL_TMP/out"

# IPv6, a prefix, renewed, then revoked before its time
pl_expect_rc 0 P allow mail 2001:db8:1::/120 --for 1h --json
obs_json_check "$PL_TMP/out" portlock-allow
obs_expect_smtp "$CLI" $UNTRUST6 $SRV6 25
pl_expect_rc 0 P allow mail 2001:db8:1::/120 --for 2h
pl_expect_grep "renewed" "$PL_TMP/out"
obs_expect_smtp "$CLI" $UNTRUST6 $SRV6 25
pl_expect_rc 0 P allow --revoke mail 2001:db8:1::/120
obs_expect_refused "$CLI" $UNTRUST6 $SRV6 25
pl_expect_rc 5 P allow --revoke mail 2001:db8:1::/120
pl_expect_grep "has no temporary access for 2001:db8:1::/120" "$PL_TMP/err"

# bad input: nothing is changed
pl_expect_rc 2 P allow mail $UNTRUST4 --for 0
pl_expect_rc 2 P allow mail 192.0.2.20/24 --for 1m
pl_expect_rc 2 P allow nosuch $UNTRUST4 --for 1m
pl_expect_rc 2 P allow mail $UNTRUST4

# the journal: allow, allow, revoke; revert passes over them
pl_expect_rc 0 P log --json
"$PL_PY" -c '
import json, sys
kinds = [r["kind"] for r in json.load(open(sys.argv[1]))["transactions"] if r["kind"] != "apply"]
assert kinds == ["allow", "allow", "allow", "revoke"], kinds
' "$PL_TMP/out" || pl_fail "log --json kinds: $(cat "$PL_TMP/out")"
pl_expect_rc 0 P log
pl_expect_grep " allow +applied .*allow mail $UNTRUST4 --for 3s" "$PL_TMP/out"
pl_expect_grep " revoke +applied " "$PL_TMP/out"
allow_id=$("$PL_PY" -c 'import json,sys; print([r["id"] for r in json.load(open(sys.argv[1]))["transactions"] if r["kind"]=="revoke"][0])' <(P log --json))
pl_expect_rc 5 P revert "$allow_id"
pl_expect_grep "is temporary access \(revoke\)" "$PL_TMP/err"
pl_expect_rc 0 P revert	# the apply, not a grant: the table goes
ip netns exec "$SRV" nft list table inet portlock >/dev/null 2>&1 && pl_fail "revert did not revert the apply"
pl_done
