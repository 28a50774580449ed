#!/bin/bash
# A port published through DNAT is never "closed" because nothing listens on
# it: a real SMPP server (Net::SMPP) in a backend namespace behind the server,
# which DNATs its public 2775 to it (Docker-style, ip_forward on). nmap from
# the client sees 2775 open; audit --report of that scan says "still open"
# (the forward path is evaluated: nothing drops it), and "restricted" after an
# apply whose service smpp covers 2775 for the trusted client (portlock's
# forward chain then lets the trusted client through and drops the other
# one, as the connections show); plain audit has a high dnat-published, then
# a remediated one. A redirect (2526 -> local 2525) is judged as the local
# port: open while the listener on 2525 is open, closed once the policy
# closes 2525, and a connection to 2526 is then refused as the audit says; so
# is a DNAT to the server's own address (2527 -> 192.0.2.1:2525). A foreign
# forward rule on the output interface (which the evaluator cannot judge)
# makes 2775 "not evaluated" while the backend still answers. The same policy
# on the input hook only leaves 2775 open: the audit says "still open" and
# its fix adds the forward hook.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
command -v nmap >/dev/null || pl_die "nmap is not installed (tests/deps/probe.txt)"
pl_dnat_container 2775 2775
BACKEND=198.51.100.2
ip netns exec "$SRV" nft add rule ip nat prerouting tcp dport 2526 redirect to :2525 ||
	pl_die "cannot add the redirect rule"
# a DNAT to the server's own address stays local: judged as 2525 too
ip netns exec "$SRV" nft add rule ip nat prerouting tcp dport 2527 dnat to $SRV4:2525 ||
	pl_die "cannot add the local DNAT rule"
pl_bg "$CTR" perl "$PL_SOURCE_DIR/tests/peers/smsc.pl" --addr 0.0.0.0 --port 2775
pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l "0.0.0.0:2525"
pl_wait_port "$CTR" 2775 20
pl_wait_port "$SRV" 2525 20
# nothing listens on 2775 on the server itself: the backend answers
ip netns exec "$SRV" ss -Hltn "sport = :2775" | grep -q . && pl_die "something listens on 2775 in the server"

# the scan, from outside: the backend answers through the DNAT
ip netns exec "$CLI" nmap -n -Pn -p 2775,2526,2527 -oX "$PL_TMP/scan.xml" "$SRV4" >"$PL_TMP/nmap.out" 2>&1 ||
	pl_die "nmap failed: $(cat "$PL_TMP/nmap.out")"
grep -Eq 'portid="2775"><state state="open"' "$PL_TMP/scan.xml" || pl_die "nmap does not see 2775 open: $(cat "$PL_TMP/scan.xml")"
for port in 2526 2527; do
	grep -Eq "portid=\"$port\"><state state=\"open\"" "$PL_TMP/scan.xml" ||
		pl_die "nmap does not see $port open: $(cat "$PL_TMP/scan.xml")"
done

cat >"$PL_TMP/p.conf" <<CONF
portlock = { hooks = ["input", "forward"]; };
services = (
  { name = "smpp"; ports = [2775]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "legacy"; ports = [2525]; allow = []; }
);
CONF
A() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
# entry FILE PORT -> "state severity" of the report entry for PORT, and its evidence on the next line
entry() {
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
m = [e for e in d["entries"] if e["entry"]["port"] == int(sys.argv[2])]
print("%s %s" % (m[0]["state"].replace(" ", "-"), m[0]["finding"]["severity"]) if m else "none")
print(m[0]["evidence"] if m else "")' "$@"
}
expect_entry() {	# expect_entry FILE PORT STATE-SEVERITY EVIDENCE-REGEX
	local got
	got=$(entry "$1" "$2")
	[ "$(head -1 <<<"$got")" = "$3" ] || pl_fail "entry $2: got '$(head -1 <<<"$got")', expected '$3' ($got)"
	tail -n +2 <<<"$got" | grep -Eq -- "$4" || pl_fail "entry $2: evidence lacks /$4/: $got"
}
finding() {	# finding FILE ID PORT -> severity, or "none"
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
m = [f for f in d["findings"] if f["id"] == sys.argv[2] and f["port"] == int(sys.argv[3])]
print(m[0]["severity"] if m else "none")' "$@"
}
schemas() {	# schemas REPORT-JSON AUDIT-JSON
	"$PL_PY" -c 'import json,sys,jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[3])))
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[4])))' "$1" "$2" \
		"$PL_SOURCE_DIR/schema/portlock-audit-report.schema.json" "$PL_SOURCE_DIR/schema/portlock-audit.schema.json" ||
		pl_fail "audit JSON schema ($1, $2)"
}
published="\(published by DNAT to $BACKEND:2775 in table ip nat chain prerouting \(handle [0-9]+: tcp dport 2775 dnat ip to $BACKEND:2775\)\)"

# ---- before apply ----
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml" --json
cp "$PL_TMP/out" "$PL_TMP/before.json"
expect_entry "$PL_TMP/before.json" 2775 "still-open high" "^IPv4: no table drops 2775/tcp $published"
expect_entry "$PL_TMP/before.json" 2526 "still-open low" "IPv4: no table drops 2526/tcp \(redirected to local port 2525 by table ip nat chain prerouting"
expect_entry "$PL_TMP/before.json" 2527 "still-open low" "IPv4: no table drops 2527/tcp \(DNAT to this host's $SRV4:2525 by table ip nat chain prerouting"
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml"
pl_expect_grep "^$SRV4 2775/tcp .*-> +still open \[high smpp-exposed\]" "$PL_TMP/out"
grep -E "2775/tcp .*-> +closed" "$PL_TMP/out" && pl_fail "2775 reported closed while the backend answers"
pl_expect_rc 0 A audit --no-probe --json
cp "$PL_TMP/out" "$PL_TMP/audit-before.json"
[ "$(finding "$PL_TMP/audit-before.json" dnat-published 2775)" = high ] ||
	pl_fail "plain audit: no high dnat-published on 2775: $(head -c 3000 "$PL_TMP/audit-before.json")"
schemas "$PL_TMP/before.json" "$PL_TMP/audit-before.json"
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2526

# a forward rule the evaluator cannot judge (the output interface): not evaluated, never closed
ip netns exec "$SRV" nft -f - <<'NFT' || pl_die "cannot add the forward table"
table inet fw {
	chain filter_forward {
		type filter hook forward priority 0; policy accept;
		meta oifname "nosuch0" drop
	}
}
NFT
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml" --json
cp "$PL_TMP/out" "$PL_TMP/unknown.json"
expect_entry "$PL_TMP/unknown.json" 2775 "not-evaluated medium" "^IPv4: not evaluated: table inet fw chain filter_forward: oifname \"nosuch0\" drop .*$published"
ip netns exec "$SRV" nft delete table inet fw || pl_die "cannot delete the forward table"

# ---- after apply: portlock's forward chain restricts 2775, its input chain closes 2525 ----
pl_expect_rc 0 A apply
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 2526
pl_expect_blocked "$CLI" "$TRUST4" "$SRV4" 2526
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml" --json
cp "$PL_TMP/out" "$PL_TMP/after.json"
expect_entry "$PL_TMP/after.json" 2775 "restricted info" "^IPv4: 2775/tcp is accepted only from 1 source range \($TRUST4; table inet portlock chain smpp_fwd: .*service 'smpp'\) $published"
expect_entry "$PL_TMP/after.json" 2527 "closed info" "IPv4: 2527/tcp is dropped for every remote source .*service 'legacy'.*DNAT to this host's $SRV4:2525"
pl_expect_blocked "$CLI" "$TRUST4" "$SRV4" 2527
expect_entry "$PL_TMP/after.json" 2526 "closed info" "IPv4: 2526/tcp is dropped for every remote source .*service 'legacy'.*redirected to local port 2525"
pl_expect_rc 0 A audit --no-probe --json
cp "$PL_TMP/out" "$PL_TMP/audit-after.json"
[ "$(finding "$PL_TMP/audit-after.json" dnat-published 2775)" = none ] ||
	pl_fail "plain audit after apply: dnat-published on 2775 still: $(head -c 3000 "$PL_TMP/audit-after.json")"
[ "$(finding "$PL_TMP/audit-after.json" remediated 2775)" = info ] ||
	pl_fail "plain audit after apply: no remediated 2775: $(head -c 3000 "$PL_TMP/audit-after.json")"
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml"
pl_expect_grep "^$SRV4 2775/tcp .*-> +restricted to 1 source \[info smpp-exposed\]" "$PL_TMP/out"
grep -E "2775/tcp .*-> +closed" "$PL_TMP/out" && pl_fail "2775 reported closed while the backend answers"
schemas "$PL_TMP/after.json" "$PL_TMP/audit-after.json"

# ---- the same policy on input only: the published port is open again, and the audit says so ----
sed -i 's/hooks = \["input", "forward"\]/hooks = ["input"]/' "$PL_TMP/p.conf"
pl_expect_rc 0 A apply
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_rc 0 A audit --no-probe --report "$PL_TMP/scan.xml" --json
cp "$PL_TMP/out" "$PL_TMP/input-only.json"
expect_entry "$PL_TMP/input-only.json" 2775 "still-open high" "^IPv4: no table drops 2775/tcp $published"
"$PL_PY" -c 'import json,sys
e = [x for x in json.load(open(sys.argv[1]))["entries"] if x["entry"]["port"] == 2775][0]
assert "its hooks lack \"forward\"" in e["fix"], e["fix"]' "$PL_TMP/input-only.json" ||
	pl_fail "input-only: the fix does not add the forward hook"
pl_done
