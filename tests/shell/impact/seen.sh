#!/bin/bash
# Observed sources in the impact: after a service ran in observe mode, the
# switch to enforce lists the sources its seen sets recorded and the new
# policy refuses (port, packets, last seen; text and --json); an allowed
# source is not listed, and once the service enforces, its seen sources are
# no longer news. A source with temporary access (portlock allow) stays
# allowed: its established session is not listed as cut.
. "$(dirname "$0")/lib-impact.bash"
pl_topology
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/peers/aiosmtpd_server.py" $SRV4 25
pl_wait_port "$SRV" 25
conf() {	# conf MODE ALLOW...
	local mode=$1 allow
	shift
	allow=$(printf '"%s", ' "$@")
	cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "mail"; ports = [25]; mode = "$mode"; allow = [${allow%, }]; } );
CONF
}
smtp_once() {	# one SMTP session (EHLO, QUIT) from $2 in netns $1
	ip netns exec "$1" "$PL_PY" -c '
import smtplib, sys
s = smtplib.SMTP(sys.argv[2], 25, source_address=(sys.argv[1], 0), timeout=3)
s.ehlo("impact.test")
s.quit()' "$2" $SRV4 || pl_fail "SMTP session from $2 failed"
}

conf observe $TRUST4/32
pl_expect_rc 0 P apply
smtp_once "$CLI" $UNTRUST4
smtp_once "$CLI" $TRUST4

conf enforce $TRUST4/32
pl_expect_rc 0 P plan
pl_expect_grep "^  mail: would start refusing observed source: $UNTRUST4 \(port 25, last seen [0-9]+ s ago, [1-9][0-9]* packets?\)$" "$PL_TMP/out"
if grep -q "$TRUST4 (port" "$PL_TMP/out"; then
	pl_fail "plan lists $TRUST4, which stays allowed: $(cat "$PL_TMP/out")"
fi
pl_expect_rc 0 P plan --json
"$PL_PY" - "$PL_TMP/out" "$UNTRUST4" <<'PY' || pl_fail "plan --json impact: $(cat "$PL_TMP/out")"
import json, sys, os, time, jsonschema
im = json.load(open(sys.argv[1]))["impact"]
jsonschema.validate(im, json.load(open(os.environ["PL_IMPACT_SCHEMA"])))
assert im["seen_sets"] is True and im["sources_newly_refused"] == 1, im
[s] = im["services"]
assert s["service"] == "mail" and s["mode"] == "enforce" and s["connections"] == [], s
[r] = s["refused_sources"]
assert (r["family"], r["source"], r["port"]) == ("ipv4", sys.argv[2], 25), r
assert r["packets"] >= 3 and r["bytes"] > 0, r
assert abs(time.time() - r["last_seen"]) < 120, r
PY

# enforced: the seen source is refused already, not news for the next change
pl_expect_rc 0 P apply
conf enforce $TRUST4/32 192.0.2.30/32
pl_expect_rc 0 P plan
pl_expect_grep "^impact: no established connection would be cut, no observed source newly refused$" "$PL_TMP/out"

# temporary access: a held session of a granted source is not cut by a change
conf enforce $TRUST4/32
pl_expect_rc 0 P apply
pl_expect_rc 0 P allow mail $UNTRUST4 --for 1h
imp_hold PORT_G smtp "$CLI" $UNTRUST4 $SRV4 25
conf enforce $TRUST4/32 192.0.2.30/32
pl_expect_rc 0 P plan
pl_expect_grep "^impact: no established connection would be cut" "$PL_TMP/out"
# without the grant the same session is listed
pl_expect_rc 0 P allow --revoke mail $UNTRUST4
pl_expect_rc 0 P plan
pl_expect_grep "^  mail: would cut 1 established connection: $UNTRUST4:$PORT_G -> 25 \(mail\)$" "$PL_TMP/out"
pl_done
