#!/bin/bash
# Impact on the forward path: an SMTP session through a DNAT'ed port to a
# "container" behind the server is found through conntrack (ctnetlink) and
# listed by plan (text and --json, path "forward", the DNAT target) when the
# new policy removes its source; a session from a source that stays allowed
# is not listed.
#
#   client ---- server (DNAT 8025 -> 198.51.100.2:25) ---- container
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
HERE=$PL_SOURCE_DIR/tests/shell/impact
# the impact object of every --json output is checked against its schema
export PL_IMPACT_SCHEMA=$PL_SOURCE_DIR/schema/portlock-impact.schema.json
CTR=plk$PL_TAG
pl_netns "$CTR"
ip link add veth-k netns "$SRV" type veth peer name veth-i netns "$CTR" || pl_die "veth"
ip -n "$SRV" addr add 198.51.100.1/24 dev veth-k
ip -n "$CTR" addr add 198.51.100.2/24 dev veth-i
ip -n "$SRV" link set veth-k up
ip -n "$CTR" link set veth-i up
ip -n "$CTR" route add default via 198.51.100.1
ip netns exec "$SRV" sysctl -qw net.ipv4.ip_forward=1
ip -n "$CLI" route add 198.51.100.0/24 via $SRV4
ip netns exec "$SRV" nft -f - <<'NFT'
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8025 dnat to 198.51.100.2:25
	}
}
NFT
pl_bg "$CTR" "$PL_PY" "$PL_SOURCE_DIR/tests/peers/aiosmtpd_server.py" 198.51.100.2 25
pl_wait_port "$CTR" 25

conf() {
	cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "published"; ports = [8025]; allow = ["$1"]; critical = true; } );
CONF
}
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

conf 192.0.2.0/24
pl_expect_rc 0 P apply
pl_bg "$CLI" "$PL_PY" "$HERE/smtp_hold.py" $UNTRUST4 $SRV4 8025 "$PL_TMP/untrusted"
pl_bg "$CLI" "$PL_PY" "$HERE/smtp_hold.py" $TRUST4 $SRV4 8025 "$PL_TMP/trusted"
for f in untrusted trusted; do
	for ((i = 0; i < 100; i++)); do [ -s "$PL_TMP/$f" ] && break; sleep 0.1; done
	[ -s "$PL_TMP/$f" ] || pl_die "client $f did not get its session"
done
PORT_U=$(awk '{print $2}' "$PL_TMP/untrusted")
PORT_T=$(awk '{print $2}' "$PL_TMP/trusted")
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

# hooks = ["input"]: the forward path is not filtered, nothing is cut there
sed -i '1i portlock = { hooks = ["input"]; };' "$PL_TMP/p.conf"
pl_expect_rc 0 P plan
pl_expect_grep "^impact: no established connection would be cut" "$PL_TMP/out"
pl_done
