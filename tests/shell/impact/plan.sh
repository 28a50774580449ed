#!/bin/bash
# Impact of a change (portlock(8), IMPACT): a live Net::SMPP bind and an SMTP
# session held open from a source the new policy removes are listed by plan
# (text and --json) and by apply; a session from a source that stays allowed
# is not. apply refuses to cut the critical service's session without
# --force (exit 5, the ruleset unchanged) and goes through with it.
. "$(dirname "$0")/lib-impact.bash"
pl_topology

pl_bg "$SRV" perl "$PL_SOURCE_DIR/tests/peers/smsc.pl" --addr $SRV4 --port 2775
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/peers/aiosmtpd_server.py" $SRV4 25
pl_wait_port "$SRV" 2775
pl_wait_port "$SRV" 25

conf() {	# conf SMPP_ALLOW MAIL_ALLOW CRITICAL
	cat >"$PL_TMP/p.conf" <<CONF
services = (
	{ name = "smpp"; ports = [2775]; allow = ["$1"]; critical = $3; },
	{ name = "mail"; ports = [25]; allow = ["$2"]; }
);
CONF
}

# both clients allowed; the sessions are set up under that policy
conf 192.0.2.0/24 192.0.2.0/24 false
pl_expect_rc 0 P apply
imp_hold SMPP_PORT smpp "$CLI" $UNTRUST4 $SRV4 2775
imp_hold SMPP_TRUSTED_PORT smpp "$CLI" $TRUST4 $SRV4 2775
imp_hold SMTP_PORT smtp "$CLI" $UNTRUST4 $SRV4 25

# the unchanged policy cuts nothing: no changes, no impact
pl_expect_rc 0 P plan
pl_expect_grep '^no changes' "$PL_TMP/out"

# the new policy keeps only the trusted source
conf $TRUST4/32 $TRUST4/32 false
pl_expect_rc 0 P plan
cp "$PL_TMP/out" "$PL_TMP/plan.txt"
pl_expect_grep "^  smpp: would cut 1 established connection: $UNTRUST4:$SMPP_PORT -> 2775 \(smpp\)$" "$PL_TMP/plan.txt"
pl_expect_grep "^  mail: would cut 1 established connection: $UNTRUST4:$SMTP_PORT -> 25 \(mail\)$" "$PL_TMP/plan.txt"
if grep -q "$TRUST4:$SMPP_TRUSTED_PORT" "$PL_TMP/plan.txt"; then
	pl_fail "plan lists the session of $TRUST4, which stays allowed: $(cat "$PL_TMP/plan.txt")"
fi

pl_expect_rc 0 P plan --json
"$PL_PY" - "$PL_TMP/out" "$UNTRUST4" "$SMPP_PORT" "$SMTP_PORT" <<'PY' || pl_fail "plan --json impact: $(cat "$PL_TMP/out")"
import json, sys, os, jsonschema
doc = json.load(open(sys.argv[1]))
src, smpp_port, smtp_port = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
im = doc["impact"]
jsonschema.validate(im, json.load(open(os.environ["PL_IMPACT_SCHEMA"])))
assert im["connections_cut"] == 2, im
assert im["critical_connections_cut"] == 0, im
svcs = {s["service"]: s for s in im["services"]}
assert set(svcs) == {"smpp", "mail"}, svcs
want = {"smpp": (smpp_port, 2775), "mail": (smtp_port, 25)}
for name, (sport, port) in want.items():
    c = svcs[name]["connections"]
    assert c == [{"family": "ipv4", "protocol": "tcp", "source": src, "source_port": sport,
                  "port": port, "path": "input", "dnat_to": None, "dnat_port": None}], c
    assert svcs[name]["mode"] == "enforce" and svcs[name]["critical"] is False
PY

# smpp critical: apply refuses, names the session, changes nothing
conf $TRUST4/32 $TRUST4/32 true
# stateless (no counter values), without the seen sets' ticking expiry
listing() { ip netns exec "$SRV" nft -s list table inet portlock | sed -E 's/ expires [0-9a-z]+//g'; }
listing >"$PL_TMP/before"
pl_expect_rc 5 P apply
pl_expect_grep "1 established connection of a critical service would be cut: service 'smpp' \(.*p.conf:2\): $UNTRUST4:$SMPP_PORT -> 2775; refusing to apply" "$PL_TMP/err"
listing >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "the refused apply changed the ruleset: $(diff "$PL_TMP/before" "$PL_TMP/after")"
pl_expect_rc 5 P apply --json
# still allowed, both sessions still alive
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2775

# --force: applied, and the output says what it cut
pl_expect_rc 0 P apply --force
pl_expect_grep "applying anyway \(--force\)" "$PL_TMP/err"
pl_expect_grep "^  smpp \(critical\): cut 1 established connection: $UNTRUST4:$SMPP_PORT -> 2775 \(smpp\)$" "$PL_TMP/out"
pl_expect_grep "^transaction [0-9]+ applied" "$PL_TMP/out"
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_done
