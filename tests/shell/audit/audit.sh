#!/bin/bash
# audit against real servers in a namespace: aiosmtpd on 25 and 2525, a real
# SMPP server (Net::SMPP) on 2775, an HTTP decoy on 2776, a loopback-only
# listener, a UDP socket. Before apply / after apply / expect mismatch /
# IPv6 left open by hand (unrestricted-v6 + drift) / --fail-on / --json.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
for port in 25 2525; do
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l "0.0.0.0:$port"
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l ":::$port"
done
pl_bg "$SRV" perl "$PL_SOURCE_DIR/tests/peers/smsc.pl" --addr 0.0.0.0 --port 2775
pl_bg "$SRV" "$PL_PY" -m http.server --bind :: 2776
pl_bg "$SRV" "$PL_PY" -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 2599)); s.listen(); u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 2600)); time.sleep(3600)'
for port in 25 2525 2775 2776 2599; do pl_wait_port "$SRV" $port 20; done

cat >"$PL_TMP/p.conf" <<CONF
services = (
  { name = "smpp"; expect = "smpp"; ports = [2775]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "smtp"; expect = "smtp"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; }
);
CONF
A() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
finding() {	# finding FILE ID PORT -> severity, or "none"
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
m = [f["severity"] for f in d["findings"] if f["id"] == sys.argv[2] and (sys.argv[3] == "-" or f["port"] == int(sys.argv[3]))]
print(m[0] if m else "none")' "$@"
}
expect_finding() {	# expect_finding FILE ID PORT SEVERITY
	local got
	got=$(finding "$1" "$2" "$3")
	[ "$got" = "$4" ] || pl_fail "finding $2 on $3: got '$got', expected '$4' ($(head -c 3000 "$1"))"
}

# before apply: everything open
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/before.json"
"$PL_PY" -m json.tool "$PL_TMP/before.json" >/dev/null || pl_fail "audit --json is not JSON"
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "portlock-audit/1"
for k in ("table", "generation", "summary", "listeners", "findings"): assert k in d, k
for f in d["findings"]:
    for k in ("id", "severity", "proto", "address", "port", "process", "summary", "evidence", "checks", "closes", "remediation"): assert k in f, (k, f)
    assert isinstance(f["checks"], list) and all(":" in c for c in f["checks"]), f
ports = {l["port"] for l in d["listeners"]}
assert {25, 2525, 2775, 2776, 2599, 2600} <= ports, ports
lo = [l for l in d["listeners"] if l["port"] == 2599][0]
assert not lo["exposed"], lo' "$PL_TMP/before.json" || pl_fail "audit JSON schema"
expect_finding "$PL_TMP/before.json" smpp-exposed 2775 high
expect_finding "$PL_TMP/before.json" smtp-nonstandard-port 2525 high
expect_finding "$PL_TMP/before.json" smtp-standard-port 25 medium
expect_finding "$PL_TMP/before.json" smpp-exposed 2776 none
expect_finding "$PL_TMP/before.json" smtp-nonstandard-port 2776 none
expect_finding "$PL_TMP/before.json" smtp-nonstandard-port 2599 none
grep -q '"nessus:31132"' "$PL_TMP/before.json" || pl_fail "no SMPP scanner check id"
pl_expect_rc 1 A audit --fail-on high
pl_expect_grep '^high +smpp-exposed +tcp' "$PL_TMP/out"
pl_expect_rc 0 A audit --no-probe --fail-on high

# after apply
pl_expect_rc 0 A apply
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/after.json"
expect_finding "$PL_TMP/after.json" smpp-exposed 2775 none
expect_finding "$PL_TMP/after.json" smtp-standard-port 25 none
expect_finding "$PL_TMP/after.json" remediated 25 info
expect_finding "$PL_TMP/after.json" remediated 2775 info
expect_finding "$PL_TMP/after.json" smtp-nonstandard-port 2525 high
expect_finding "$PL_TMP/after.json" drift - none
pl_expect_rc 0 A audit --fail-on medium --no-probe

# hand edit: drop the IPv6 rule of smtp -> unrestricted-v6 on 25 and drift
# (the refusing rule of the service chain smtp_in for IPv6: IPv6 then falls through to accept)
h=$(ip netns exec "$SRV" nft -a list chain inet portlock smtp_in | grep -E 'meta nfproto ipv6 .*(drop|reject)' | grep -o 'handle [0-9]*' | cut -d' ' -f2)
[ -n "$h" ] || pl_fail "no IPv6 refusing rule in smtp_in: $(ip netns exec "$SRV" nft -a list chain inet portlock smtp_in)"
ip netns exec "$SRV" nft delete rule inet portlock smtp_in handle "$h"
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/v6.json"
expect_finding "$PL_TMP/v6.json" unrestricted-v6 25 high
expect_finding "$PL_TMP/v6.json" smtp-standard-port 25 medium
expect_finding "$PL_TMP/v6.json" drift - medium
pl_expect_rc 0 A apply

# a policy that expects SMPP where HTTP answers
cat >"$PL_TMP/m.conf" <<CONF
services = ( { name = "smpp"; expect = "smpp"; ports = [2776, 2777]; allow = ["$TRUST4/32"]; } );
CONF
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/m.conf" audit --json
cp "$PL_TMP/out" "$PL_TMP/m.json"
expect_finding "$PL_TMP/m.json" expect-mismatch 2776 medium
expect_finding "$PL_TMP/m.json" expect-mismatch 2777 medium
pl_expect_rc 6 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/m.conf" audit --strict

# a transaction awaiting confirmation (a hand edit gives apply something to do)
ip netns exec "$SRV" nft add element inet portlock smpp_v4 '{ 203.0.113.0/24 }'
pl_expect_rc 0 A apply --confirm 60
pl_expect_rc 0 A audit --no-probe --json
expect_finding "$PL_TMP/out" pending-confirm - low
pl_expect_rc 0 A confirm

# DNAT published by another table while portlock only hooks input
ip netns exec "$SRV" nft -f - <<'NFT'
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8025 dnat to 192.0.2.1:25
	}
}
NFT
sed '1i portlock = { hooks = ["input"]; };' "$PL_TMP/p.conf" >"$PL_TMP/i.conf"
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/i.conf" apply
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/i.conf" audit --no-probe --json
expect_finding "$PL_TMP/out" forward-exposed - high
"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(t["table"]=="nat" and t["type"]=="nat" for t in d["other_tables"]), d["other_tables"]' "$PL_TMP/out" ||
	pl_fail "other_tables lacks the nat table"
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/i.conf" audit --no-probe
pl_expect_grep 'table ip nat chain prerouting: nat hook prerouting' "$PL_TMP/out"
pl_expect_rc 0 A apply
pl_expect_rc 0 A audit --no-probe --json
expect_finding "$PL_TMP/out" forward-exposed - none
pl_expect_rc 2 A audit --fail-on severe
pl_done
