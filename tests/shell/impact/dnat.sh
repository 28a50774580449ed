#!/bin/bash
# Impact on the forward path: an SMTP session through a DNAT'ed port to a
# "container" behind the server is found through conntrack (ctnetlink) and
# listed by plan (text and --json, path "forward", the DNAT target) when the
# new policy removes its source; a session from a source that stays allowed
# is not listed.
#
#   client ---- server (DNAT 8025 -> 198.51.100.2:25) ---- container
. "$(dirname "$0")/lib-impact.bash"
pl_topology
pl_dnat_container
pl_bg "$CTR" "$PL_PY" "$PL_SOURCE_DIR/tests/peers/aiosmtpd_server.py" 198.51.100.2 25
pl_wait_port "$CTR" 25

conf() {
	cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "published"; ports = [8025]; allow = ["$1"]; critical = true; } );
CONF
}

conf 192.0.2.0/24
pl_expect_rc 0 P apply
imp_hold PORT_U smtp "$CLI" $UNTRUST4 $SRV4 8025
imp_hold PORT_T smtp "$CLI" $TRUST4 $SRV4 8025
# the server has no socket of these sessions: only conntrack knows them
if ip netns exec "$SRV" ss -Htn state established | grep -q .; then
	pl_die "unexpected local sessions on the server: $(ip netns exec "$SRV" ss -Htn)"
fi

conf $TRUST4/32
pl_expect_rc 0 P plan
pl_expect_grep "^  published \(critical\): would cut 1 established connection: $UNTRUST4:$PORT_U -> 8025 \(published, forwarded to 198\.51\.100\.2:25\)$" "$PL_TMP/out"
if grep -q "$TRUST4:$PORT_T" "$PL_TMP/out"; then
	pl_fail "plan lists the session of $TRUST4, which stays allowed: $(cat "$PL_TMP/out")"
fi
pl_expect_rc 0 P plan --json
"$PL_PY" - "$PL_TMP/out" "$UNTRUST4" "$PORT_U" <<'PY' || pl_fail "plan --json impact: $(cat "$PL_TMP/out")"
import json, sys, os, jsonschema
im = json.load(open(sys.argv[1]))["impact"]
jsonschema.validate(im, json.load(open(os.environ["PL_IMPACT_SCHEMA"])))
assert im["conntrack"] is True and im["conntrack_error"] is None, im
assert im["connections_cut"] == 1 and im["critical_connections_cut"] == 1, im
[s] = im["services"]
assert s["service"] == "published" and s["critical"] is True, s
assert s["connections"] == [{"family": "ipv4", "protocol": "tcp", "source": sys.argv[2],
                             "source_port": int(sys.argv[3]), "port": 8025, "path": "forward",
                             "dnat_to": "198.51.100.2", "dnat_port": 25}], s
PY
# critical: refused without --force
pl_expect_rc 5 P apply
pl_expect_grep "service 'published' .*: $UNTRUST4:$PORT_U -> 8025; refusing to apply" "$PL_TMP/err"
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 8025
# --force: applied; apply --json says what it cut
pl_expect_rc 0 P apply --force --json
"$PL_PY" - "$PL_TMP/out" "$UNTRUST4" "$PORT_U" <<'PY' || pl_fail "apply --json impact: $(cat "$PL_TMP/out")"
import json, sys, os, jsonschema
doc = json.load(open(sys.argv[1]))
assert doc["applied"] is True, doc
im = doc["impact"]
jsonschema.validate(im, json.load(open(os.environ["PL_IMPACT_SCHEMA"])))
assert im["critical_connections_cut"] == 1, im
assert [(c["source"], c["source_port"], c["path"]) for c in im["services"][0]["connections"]] == \
    [(sys.argv[2], int(sys.argv[3]), "forward")], im
PY
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 8025
pl_expect_connect "$CLI" $TRUST4 $SRV4 8025

# hooks = ["input"]: the forward path is not filtered, nothing is cut there
sed -i '1i portlock = { hooks = ["input"]; };' "$PL_TMP/p.conf"
pl_expect_rc 0 P plan
pl_expect_grep "^impact: no established connection would be cut" "$PL_TMP/out"
pl_done
