#!/bin/bash
# Findings that close, judged by evaluating every table's rules (nft_eval.c):
# aiosmtpd on 25 and 2525, Net::SMPP on 2775. Before: the original findings.
# The remediation snippets the audit prints, inserted as their text says,
# pass `check`; applied, 2525 is closed and 25 restricted: "remediated"
# (info, naming the scanner check). A second portlock table (another config)
# restricting 2775 clears smpp-exposed, so --fail-on high passes. A foreign
# table dropping 2775 closes it; a foreign rule the evaluator cannot judge
# makes it "not evaluated", never open or closed. nmap (real, from the client
# namespace) before and after the fix.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
command -v nmap >/dev/null || pl_die "nmap is not installed (tests/deps/probe.txt)"
for port in 25 2525; do
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l "0.0.0.0:$port"
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l ":::$port"
done
pl_bg "$SRV" perl "$PL_SOURCE_DIR/tests/peers/smsc.pl" --addr 0.0.0.0 --port 2775
for port in 25 2525 2775; do pl_wait_port "$SRV" $port 20; done

cat >"$PL_TMP/p.conf" <<CONF
services = (
  { name = "smtp"; expect = "smtp"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; }
);
CONF
A() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
q() {	# q FILE PYTHON-EXPR-over-d -> printed
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
def f(i, port): return [x for x in d["findings"] if x["id"] == i and x["port"] == port]
def reach(port, fam): return [l[fam + "_reach"] for l in d["listeners"] if l["port"] == port and l["exposed"] and fam + "_reach" in l]
print(eval(sys.argv[2]))' "$1" "$2"
}
expect_q() {	# expect_q FILE EXPR WANT
	local got
	got=$(q "$1" "$2")
	[ "$got" = "$3" ] || pl_fail "$2: got '$got', expected '$3' ($(head -c 4000 "$1"))"
}
schema() {
	"$PL_PY" -c 'import json,sys,jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' "$1" "$PL_SOURCE_DIR/schema/portlock-audit.schema.json" ||
		pl_fail "audit --json does not match schema/portlock-audit.schema.json"
}

ip netns exec "$CLI" nmap -n -Pn -sV -p 25,2525,2775 -oX "$PL_TMP/before.xml" "$SRV4" >"$PL_TMP/nmap.out" 2>&1 ||
	pl_die "nmap failed: $(cat "$PL_TMP/nmap.out")"
grep -q 'portid="2525"><state state="open"' "$PL_TMP/before.xml" || pl_fail "nmap does not see 2525 open before"

# before apply: the original findings
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/before.json"
schema "$PL_TMP/before.json"
expect_q "$PL_TMP/before.json" 'f("smtp-nonstandard-port", 2525)[0]["severity"]' high
expect_q "$PL_TMP/before.json" 'f("smtp-nonstandard-port", 2525)[0]["checks"]' "['nessus:18391']"
expect_q "$PL_TMP/before.json" 'f("smtp-standard-port", 25)[0]["severity"]' medium
expect_q "$PL_TMP/before.json" 'f("smpp-exposed", 2775)[0]["checks"]' "['nessus:31132']"
expect_q "$PL_TMP/before.json" 'reach(2525, "ipv4")' "['open']"
pl_expect_rc 1 A audit --fail-on high

# the snippets, inserted as the text says, parse
snippet() {	# snippet JSON PORT ID -> the entry and where it goes
	q "$1" "f(\"$3\", $2)[0][\"remediation\"]"
}
insert() {	# insert REMEDIATION FILE: "insert ENTRY, right after "services = (" in FILE"
	"$PL_PY" - "$1" "$2" <<'PY' || pl_fail "remediation is not an insertion: $1"
import re, sys
m = re.search(r'insert (\{.*?\}), right after "services = \(" in (\S+)', sys.argv[1])
assert m and m.group(2) == sys.argv[2], sys.argv[1]
t = open(sys.argv[2]).read()
assert "services = (" in t
open(sys.argv[2], "w").write(t.replace("services = (", "services = ( " + m.group(1) + ",", 1))
PY
}
cp "$PL_TMP/p.conf" "$PL_TMP/p.orig"
r2525=$(snippet "$PL_TMP/before.json" 2525 smtp-nonstandard-port)
r2775=$(snippet "$PL_TMP/before.json" 2775 smpp-exposed)
insert "$r2775" "$PL_TMP/p.conf"
pl_expect_rc 0 A check
# applied, the snippet clears its finding (2775 closed to every remote source)
pl_expect_rc 0 A apply
pl_expect_rc 0 A audit --json
expect_q "$PL_TMP/out" 'f("smpp-exposed", 2775)' "[]"
expect_q "$PL_TMP/out" '[(x["closes"], x["checks"]) for x in f("remediated", 2775)]' "[('smpp-exposed', ['nessus:31132'])]"
expect_q "$PL_TMP/out" 'reach(2775, "ipv4")' "['closed']"
cp "$PL_TMP/p.orig" "$PL_TMP/p.conf"
pl_expect_rc 0 A apply	# 2775 open again for what follows
insert "$r2525" "$PL_TMP/p.conf"
pl_expect_rc 0 A check
grep -q 'name = "stray_smtp_2525"; ports = \[2525\]; allow = \[\]; }' "$PL_TMP/p.conf" || pl_fail "2525 snippet: $(cat "$PL_TMP/p.conf")"
# without a policy: "write services = ( ... ); to FILE"
ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/none.conf" audit --json >"$PL_TMP/none.json" 2>"$PL_TMP/none.err" ||
	pl_fail "audit without a policy: $(cat "$PL_TMP/none.err")"
"$PL_PY" - "$PL_TMP/none.json" "$PL_TMP/none.conf" <<'PY' || pl_fail "no-policy snippet"
import json, re, sys
d = json.load(open(sys.argv[1]))
r = [f["remediation"] for f in d["findings"] if f["id"] == "smpp-exposed" and f["port"] == 2775][0]
m = re.search(r'write (services = \( .* \);) to (\S+) ', r)
assert m and m.group(2) == sys.argv[2], r
open(sys.argv[2], "w").write(m.group(1) + "\n")
PY
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/none.conf" check

# applied: 2525 closed, 25 restricted -> remediated, naming the check it closes
# (and 2775, whose snippet is no longer in the policy, open again)
pl_expect_rc 0 A apply
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/after.json"
schema "$PL_TMP/after.json"
expect_q "$PL_TMP/after.json" 'f("smtp-nonstandard-port", 2525)' "[]"
expect_q "$PL_TMP/after.json" 'f("smtp-standard-port", 25)' "[]"
expect_q "$PL_TMP/after.json" '[(x["severity"], x["closes"], x["checks"]) for x in f("remediated", 2525)]' "[('info', 'smtp-nonstandard-port', ['nessus:18391']), ('info', 'smtp-fingerprint', ['nessus:11421'])]"
expect_q "$PL_TMP/after.json" '[(x["severity"], x["closes"], x["checks"]) for x in f("remediated", 25)]' "[('info', 'smtp-standard-port', ['nessus:10263']), ('info', 'smtp-fingerprint', ['nessus:11421'])]"
expect_q "$PL_TMP/after.json" 'reach(2525, "ipv4") + reach(2525, "ipv6")' "['closed', 'closed']"
expect_q "$PL_TMP/after.json" 'reach(25, "ipv4") + reach(25, "ipv6")' "['restricted', 'restricted']"
expect_q "$PL_TMP/after.json" 'f("smpp-exposed", 2775)[0]["severity"]' high
pl_expect_rc 0 A audit
pl_expect_grep 'SMTP Server Non-standard Port Detection \(nessus:18391\): closed' "$PL_TMP/out"
pl_expect_rc 1 A audit --fail-on high
# and from outside: 2525 refused, 25 still reaches from the trusted address
pl_expect_rc 1 ip netns exec "$CLI" "$PL_PY" -c 'import socket,sys; socket.create_connection(("'$SRV4'", 2525), 3)'
pl_expect_rc 0 ip netns exec "$CLI" "$PL_PY" -c 'import socket,sys; socket.create_connection(("'$SRV4'", 25), 3)'

# a second portlock table (another config) restricting 2775: no smpp-exposed
cat >"$PL_TMP/smsc.conf" <<CONF
portlock = { table = "smsc"; };
services = ( { name = "smpp"; expect = "smpp"; ports = [2775]; allow = ["$TRUST4/32"]; } );
CONF
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/smsc.conf" apply
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/two.json"
expect_q "$PL_TMP/two.json" 'f("smpp-exposed", 2775)' "[]"
expect_q "$PL_TMP/two.json" '[(x["closes"], x["checks"]) for x in f("remediated", 2775)]' "[('smpp-exposed', ['nessus:31132'])]"
expect_q "$PL_TMP/two.json" 'reach(2775, "ipv4")' "['restricted']"
expect_q "$PL_TMP/two.json" 'sorted((t["name"], t["portlock"]) for t in d["tables_evaluated"])' "[('portlock', True), ('smsc', True)]"
pl_expect_rc 0 A audit --fail-on high
# nmap after the fix, and the report of the scan made before
ip netns exec "$CLI" nmap -n -Pn -sV -p 25,2525,2775 -oX "$PL_TMP/after.xml" "$SRV4" >"$PL_TMP/nmap.out" 2>&1 ||
	pl_die "nmap failed: $(cat "$PL_TMP/nmap.out")"
grep -q 'portid="2525"><state state="open"' "$PL_TMP/after.xml" && pl_fail "nmap still sees 2525 open"
pl_expect_rc 0 A audit --report "$PL_TMP/before.xml" --fail-on high
pl_expect_grep '2525/tcp .* -> +closed' "$PL_TMP/out"
pl_expect_grep '25/tcp .* -> +restricted to 1 source' "$PL_TMP/out"
pl_expect_grep '2775/tcp .* -> +restricted to 1 source.*table inet smsc' "$PL_TMP/out"
ip netns exec "$SRV" nft delete table inet smsc

# a foreign table dropping 2775: closed, evidence names it
ip netns exec "$SRV" nft -f - <<'NFT'
table inet fw {
	chain in {
		type filter hook input priority 0; policy accept;
		ct state established,related accept
		tcp dport 2775 counter drop
	}
}
NFT
pl_expect_rc 0 A audit --json --no-probe
cp "$PL_TMP/out" "$PL_TMP/fw.json"
expect_q "$PL_TMP/fw.json" 'reach(2775, "ipv4")' "['closed']"
expect_q "$PL_TMP/fw.json" 'reach(25, "ipv4")' "['restricted']"
expect_q "$PL_TMP/fw.json" 'reach(2525, "ipv4")' "['closed']"
expect_q "$PL_TMP/fw.json" '[l["ipv4"] for l in d["listeners"] if l["port"] == 2775][0].startswith("closed to every remote source (table inet fw chain in: tcp dport 2775")' True
# (the probe goes over lo, which the foreign rule drops too: nothing to identify)
pl_expect_rc 0 A audit --json
expect_q "$PL_TMP/out" 'f("smpp-exposed", 2775)' "[]"
pl_expect_rc 0 A audit --fail-on high

# a foreign rule it cannot judge (the input interface) decides 2775: not evaluated
ip netns exec "$SRV" nft -f - <<'NFT'
flush chain inet fw in
table inet fw {
	chain in {
		iifname "veth-s" tcp dport 2775 drop
	}
}
NFT
pl_expect_rc 0 A audit --json
cp "$PL_TMP/out" "$PL_TMP/unk.json"
expect_q "$PL_TMP/unk.json" 'reach(2775, "ipv4")' "['not evaluated']"
expect_q "$PL_TMP/unk.json" 'f("remediated", 2775)' "[]"
expect_q "$PL_TMP/unk.json" 'f("smpp-exposed", 2775)[0]["severity"]' medium
expect_q "$PL_TMP/unk.json" '"IPv4 not evaluated: table inet fw chain in: " in f("smpp-exposed", 2775)[0]["summary"]' True
expect_q "$PL_TMP/unk.json" '"(meta iifname)" in f("smpp-exposed", 2775)[0]["summary"]' True
# ... the other ports are still judged: the rule does not match them
expect_q "$PL_TMP/unk.json" 'reach(2525, "ipv4")' "['closed']"
pl_expect_rc 0 A audit --report "$PL_TMP/before.xml"
pl_expect_grep '2775/tcp .* -> +not evaluated' "$PL_TMP/out"
pl_done
