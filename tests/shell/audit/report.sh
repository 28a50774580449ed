#!/bin/bash
# audit --report against real servers in a namespace: aiosmtpd on 25 and 2525,
# a real SMPP server (Net::SMPP) on 2775. A scan made in the test (nmap -sV -oX
# from the client namespace) and a hand-written .nessus export with the four
# seed checks, both for the server address: still open before apply; after an
# apply that closes 2525 and restricts 25 and 2775 to the trusted address:
# closed / restricted. Malformed, foreign, oversized exports and an XML bomb:
# exit 3 with file:line, quickly, nothing else done.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
command -v nmap >/dev/null || pl_die "nmap is not installed (tests/deps/probe.txt)"
for port in 25 2525; do
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l "0.0.0.0:$port"
	pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l ":::$port"
done
pl_bg "$SRV" perl "$PL_SOURCE_DIR/tests/peers/smsc.pl" --addr 0.0.0.0 --port 2775
for port in 25 2525 2775; do pl_wait_port "$SRV" $port 20; done

# the scan, as a user makes it (from outside the server)
ip netns exec "$CLI" nmap -n -Pn -sV -p 25,2525,2775 -oX "$PL_TMP/scan.xml" "$SRV4" >"$PL_TMP/nmap.out" 2>&1 ||
	pl_die "nmap failed: $(cat "$PL_TMP/nmap.out")"
grep -q '<nmaprun' "$PL_TMP/scan.xml" || pl_die "nmap wrote no XML"

# a Nessus v2 export: the four seed checks on the server, other plugins, another host
cat >"$PL_TMP/scan.nessus" <<NESSUS
<?xml version="1.0" ?>
<NessusClientData_v2>
<Policy><policyName>Basic Network Scan</policyName></Policy>
<Report name="mail relay" xmlns:cm="http://www.nessus.org/cm">
<ReportHost name="$SRV4"><HostProperties>
<tag name="HOST_END">Sun Dec  6 06:00:00 2026</tag>
<tag name="host-ip">$SRV4</tag>
</HostProperties>
<ReportItem port="0" svc_name="general" protocol="tcp" severity="0" pluginID="19506" pluginName="Nessus Scan Information" pluginFamily="Settings">
<plugin_output>Information about this scan</plugin_output>
</ReportItem>
<ReportItem port="2775" svc_name="smpp" protocol="tcp" severity="0" pluginID="11219" pluginName="Nessus SYN scanner" pluginFamily="Port scanners">
<plugin_output>Port 2775/tcp was found to be open</plugin_output>
</ReportItem>
<ReportItem port="2775" svc_name="smpp" protocol="tcp" severity="0" pluginID="31132" pluginName="SMPP Server Detection" pluginFamily="Service detection">
<plugin_output>The remote SMPP server answered an enquire_link request.</plugin_output>
</ReportItem>
<ReportItem port="25" svc_name="smtp" protocol="tcp" severity="0" pluginID="10263" pluginName="SMTP Server Detection" pluginFamily="Service detection">
<plugin_output>Remote SMTP server banner :
220 pls ESMTP Python SMTP</plugin_output>
</ReportItem>
<ReportItem port="2525" svc_name="smtp" protocol="tcp" severity="2" pluginID="18391" pluginName="SMTP Server Non-standard Port Detection" pluginFamily="Service detection">
<plugin_output>The remote SMTP server is running on a non-standard port.</plugin_output>
</ReportItem>
<ReportItem port="25" svc_name="smtp" protocol="tcp" severity="0" pluginID="11421" pluginName="smtpscan SMTP Fingerprinting" pluginFamily="SMTP problems">
<plugin_output>This server could be fingerprinted as being Python aiosmtpd</plugin_output>
</ReportItem>
<ReportItem port="2776" svc_name="www" protocol="tcp" severity="0" pluginID="11219" pluginName="Nessus SYN scanner" pluginFamily="Port scanners">
<plugin_output>Port 2776/tcp was found to be open</plugin_output>
</ReportItem>
</ReportHost>
<ReportHost name="203.0.113.9"><HostProperties><tag name="host-ip">203.0.113.9</tag></HostProperties>
<ReportItem port="2775" svc_name="smpp" protocol="tcp" severity="0" pluginID="31132" pluginName="SMPP Server Detection" pluginFamily="Service detection"><plugin_output>another host</plugin_output></ReportItem>
</ReportHost>
</Report>
</NessusClientData_v2>
NESSUS

cat >"$PL_TMP/p.conf" <<CONF
services = (
  { name = "smpp"; expect = "smpp"; ports = [2775]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "smtp"; expect = "smtp"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "legacy"; ports = [2525]; allow = []; }
);
CONF
A() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
# state FILE PORT CHECK-SUBSTRING -> "state finding severity sources" of the first matching entry
state() {
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
m = [e for e in d["entries"] if e["entry"]["port"] == int(sys.argv[2]) and sys.argv[3] in e["entry"]["check"]]
print("%s %s %s %d" % (m[0]["state"].replace(" ", "-"), m[0]["finding"]["id"], m[0]["finding"]["severity"], m[0]["sources"]) if m else "none")' "$@"
}
expect_state() {	# expect_state FILE PORT CHECK WANT
	local got
	got=$(state "$1" "$2" "$3")
	[ "$got" = "$4" ] || pl_fail "entry $2 '$3': got '$got', expected '$4' ($(head -c 4000 "$1"))"
}
schema() {
	"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "portlock-audit-report/1", d["schema"]
assert d["report"]["format"] == sys.argv[2], d["report"]
for k in ("file", "hosts_in_file", "entries_of_other_hosts", "this_host"): assert k in d["report"], k
for k in ("table", "table_exists", "generation", "summary", "entries"): assert k in d, k
for e in d["entries"]:
    for k in ("entry", "state", "sources", "finding", "evidence", "fix"): assert k in e, (k, e)
    for k in ("address", "port", "proto", "check", "service", "product", "evidence", "line", "host", "plugin_id"): assert k in e["entry"], (k, e)
    assert e["entry"]["address"] == sys.argv[3], e
    assert e["state"] in ("closed", "restricted", "not evaluated", "still open"), e
    assert e["finding"]["severity"] in ("info", "low", "medium", "high"), e
    assert e["entry"]["line"] > 0, e
import jsonschema
jsonschema.validate(d, json.load(open(sys.argv[4])))' "$@" "$PL_SOURCE_DIR/schema/portlock-audit-report.schema.json" ||
		pl_fail "audit --report --json schema ($1)"
}

# ---- before apply: every finding still open ----
pl_expect_rc 0 A audit --report "$PL_TMP/scan.xml" --json
cp "$PL_TMP/out" "$PL_TMP/nmap-before.json"
schema "$PL_TMP/nmap-before.json" nmap "$SRV4"
expect_state "$PL_TMP/nmap-before.json" 25 "nmap -sV: smtp" "still-open smtp-standard-port medium 0"
expect_state "$PL_TMP/nmap-before.json" 2525 "nmap -sV: smtp" "still-open smtp-nonstandard-port high 0"
expect_state "$PL_TMP/nmap-before.json" 2775 "nmap -sV:" "still-open smpp-exposed high 0"
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
e = [x for x in d["entries"] if x["entry"]["port"] == 25][0]
# nmap 7.93 has no signature for aiosmtpd: what it saw is in its service fingerprint
assert e["entry"]["product"] or "sent: 220 " in e["entry"]["evidence"], e["entry"]
assert "smtp answers now" in e["evidence"], e["evidence"]
assert "no table drops 25/tcp" in e["evidence"], e["evidence"]
assert "{ name = " in e["fix"] or "portlock apply" in e["fix"], e["fix"]' "$PL_TMP/nmap-before.json" ||
	pl_fail "nmap entry of 25 lacks product, probe or fix"
pl_expect_rc 1 A audit --report "$PL_TMP/scan.xml" --fail-on high
pl_expect_grep "^$SRV4 2525/tcp +nmap -sV: smtp +-> +still open \[high smtp-nonstandard-port\]" "$PL_TMP/out"
pl_expect_grep "scan.xml:[0-9]+" "$PL_TMP/out"
pl_expect_grep '^3 report entries for this host: 3 still open, 0 restricted, 0 closed, 0 not evaluated \(nmap export' "$PL_TMP/out"

pl_expect_rc 0 A audit --report "$PL_TMP/scan.nessus" --json
cp "$PL_TMP/out" "$PL_TMP/nessus-before.json"
schema "$PL_TMP/nessus-before.json" nessus "$SRV4"
expect_state "$PL_TMP/nessus-before.json" 2775 "SMPP Server Detection" "still-open smpp-exposed high 0"
expect_state "$PL_TMP/nessus-before.json" 25 "SMTP Server Detection" "still-open smtp-standard-port medium 0"
expect_state "$PL_TMP/nessus-before.json" 2525 "SMTP Server Non-standard Port Detection" "still-open smtp-nonstandard-port high 0"
expect_state "$PL_TMP/nessus-before.json" 25 "smtpscan SMTP Fingerprinting" "still-open smtp-fingerprint medium 0"
expect_state "$PL_TMP/nessus-before.json" 2776 "open port" "closed open-port info 0"
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert len(d["entries"]) == 5, [e["entry"]["check"] for e in d["entries"]]
assert d["report"]["hosts_in_file"] == 2 and d["report"]["entries_of_other_hosts"] == 1, d["report"]
ids = sorted(e["entry"]["plugin_id"] or "" for e in d["entries"])
assert ids == ["", "10263", "11421", "18391", "31132"], ids
s = [e for e in d["entries"] if e["entry"]["plugin_id"] == "31132"][0]
assert "enquire_link" in s["entry"]["evidence"], s' "$PL_TMP/nessus-before.json" ||
	pl_fail "nessus entries"
pl_expect_rc 1 A audit --report "$PL_TMP/scan.nessus" --fail-on high --no-probe
pl_expect_rc 1 A audit --report "$PL_TMP/scan.nessus" --fail-on medium --no-probe

# the fix of a still-open entry is a policy entry that passes check as written
# (here without a policy: "create FILE with: services = ( ... );")
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/new.conf" audit --no-probe --json \
	--report "$PL_TMP/scan.nessus"
"$PL_PY" -c 'import json,re,sys
d = json.load(open(sys.argv[1]))
for e in d["entries"]:
    if e["state"] != "still open": continue
    m = re.search(r"(services = \( \{ name = .*?\} \);)", e["fix"])
    assert m, e["fix"]
    print(m.group(1))' "$PL_TMP/out" >"$PL_TMP/fixes" 2>&1 || pl_fail "no policy entry in a fix: $(cat "$PL_TMP/fixes")"
[ "$(wc -l <"$PL_TMP/fixes")" -eq 4 ] || pl_fail "expected 4 fixes: $(cat "$PL_TMP/fixes")"
while read -r line; do
	printf '%s\n' "$line" >"$PL_TMP/fix.conf"
	pl_expect_rc 0 "$PORTLOCK" -c "$PL_TMP/fix.conf" check
done <"$PL_TMP/fixes"

# ---- after apply: 2525 closed, 25 and 2775 restricted to the trusted address ----
pl_expect_rc 0 A apply
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 2525
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
for f in scan.xml scan.nessus; do
	pl_expect_rc 0 A audit --report "$PL_TMP/$f" --json --fail-on low
	cp "$PL_TMP/out" "$PL_TMP/$f-after.json"
done
expect_state "$PL_TMP/scan.xml-after.json" 25 "nmap -sV: smtp" "restricted smtp-standard-port info 1"
expect_state "$PL_TMP/scan.xml-after.json" 2525 "nmap -sV: smtp" "closed smtp-nonstandard-port info 0"
expect_state "$PL_TMP/scan.xml-after.json" 2775 "nmap -sV:" "restricted smpp-exposed info 1"
expect_state "$PL_TMP/scan.nessus-after.json" 2775 "SMPP Server Detection" "restricted smpp-exposed info 1"
expect_state "$PL_TMP/scan.nessus-after.json" 25 "SMTP Server Detection" "restricted smtp-standard-port info 1"
expect_state "$PL_TMP/scan.nessus-after.json" 2525 "SMTP Server Non-standard Port Detection" "closed smtp-nonstandard-port info 0"
expect_state "$PL_TMP/scan.nessus-after.json" 25 "smtpscan SMTP Fingerprinting" "restricted smtp-fingerprint info 1"
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
e = [x for x in d["entries"] if x["entry"]["port"] == 2775][0]
assert sys.argv[2] in e["evidence"], e["evidence"]
c = [x for x in d["entries"] if x["entry"]["port"] == 2525][0]
assert "2525/tcp is dropped for every remote source (table inet portlock chain " in c["evidence"], c["evidence"]' \
	"$PL_TMP/scan.nessus-after.json" "$TRUST4" || pl_fail "after-apply evidence"
pl_expect_rc 0 A audit --report "$PL_TMP/scan.nessus" --no-probe
pl_expect_grep "^$SRV4 2775/tcp +SMPP Server Detection \(31132\) +-> +restricted to 1 source \[info smpp-exposed\]" "$PL_TMP/out"
pl_expect_grep "^$SRV4 2525/tcp +SMTP Server Non-standard Port Detection \(18391\) +-> +closed \[info" "$PL_TMP/out"
pl_expect_grep '^5 report entries for this host: 0 still open, 3 restricted, 2 closed' "$PL_TMP/out"

# ---- hosts: the report's other host is this one only when named ----
pl_expect_rc 0 A audit --report "$PL_TMP/scan.nessus" --no-probe --host 203.0.113.9 --json
"$PL_PY" -c 'import json,sys
d = json.load(open(sys.argv[1]))
assert len(d["entries"]) == 6 and d["report"]["entries_of_other_hosts"] == 0, d
assert "203.0.113.9" in d["report"]["this_host"], d["report"]' "$PL_TMP/out" || pl_fail "--host"
sed "s/$SRV4/198.51.100.1/g" "$PL_TMP/scan.nessus" >"$PL_TMP/other.nessus"
pl_expect_rc 0 A audit --report "$PL_TMP/other.nessus" --no-probe
pl_expect_grep 'no entry of .* is for this host' "$PL_TMP/err"
pl_expect_rc 2 A audit --host 192.0.2.1

# ---- bad exports: exit 3, file:line, nothing else done (no audit output) ----
head -n 12 "$PL_TMP/scan.nessus" >"$PL_TMP/cut.nessus"
pl_expect_rc 3 A audit --report "$PL_TMP/cut.nessus"
pl_expect_grep "cut.nessus:1[0-9]: not a well-formed XML document" "$PL_TMP/err"
[ -s "$PL_TMP/out" ] && pl_fail "output despite a malformed export: $(head -c 500 "$PL_TMP/out")"
printf '<?xml version="1.0"?>\n<nmaprun>\n<host>\n<address addr="192.0.2.1" addrtype="ipv4"/>\n</hosts>\n</nmaprun>\n' >"$PL_TMP/bad.xml"
pl_expect_rc 3 A audit --report "$PL_TMP/bad.xml" --json
pl_expect_grep "bad.xml:5: not a well-formed XML document: .*mismatch" "$PL_TMP/err"
[ -s "$PL_TMP/out" ] && pl_fail "output despite a malformed export: $(head -c 500 "$PL_TMP/out")"
printf '<?xml version="1.0"?>\n\n<html><body/></html>\n' >"$PL_TMP/page.xml"
pl_expect_rc 3 A audit --report "$PL_TMP/page.xml"
pl_expect_grep "page.xml:3: root element <html> is neither" "$PL_TMP/err"
pl_expect_rc 3 A audit --report "$PL_TMP/missing.xml"
pl_expect_grep "missing.xml: cannot open" "$PL_TMP/err"
truncate -s 65M "$PL_TMP/big.xml"
pl_expect_rc 3 A audit --report "$PL_TMP/big.xml"
pl_expect_grep "big.xml: .*larger than 64 MiB" "$PL_TMP/err"

# billion laughs: refused at the first declaration, nothing expanded
{
	echo '<?xml version="1.0"?>'
	echo '<!DOCTYPE nmaprun ['
	echo ' <!ENTITY lol "lol">'
	prev=lol
	for i in 1 2 3 4 5 6 7 8 9; do
		printf ' <!ENTITY lol%d "' $i
		for _ in 1 2 3 4 5 6 7 8 9 10; do printf '&%s;' $prev; done
		echo '">'
		prev=lol$i
	done
	echo ']>'
	echo '<nmaprun><host><address addr="192.0.2.1" addrtype="ipv4"/><ports><port protocol="tcp" portid="25"><state state="open"/><service name="&lol9;"/></port></ports></host></nmaprun>'
} >"$PL_TMP/bomb.xml"
t0=$(date +%s%N)
pl_expect_rc 3 A audit --report "$PL_TMP/bomb.xml"
t1=$(date +%s%N)
pl_expect_grep "bomb.xml:3: entity declaration in a scanner export: refused" "$PL_TMP/err"
[ $(((t1 - t0) / 1000000)) -lt 3000 ] || pl_fail "the XML bomb took $(((t1 - t0) / 1000000)) ms"
# an external entity (would read a local file) is refused the same way
printf '<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY x SYSTEM "file:///etc/passwd">\n]>\n<NessusClientData_v2>&x;</NessusClientData_v2>\n' >"$PL_TMP/xxe.nessus"
pl_expect_rc 3 A audit --report "$PL_TMP/xxe.nessus"
pl_expect_grep "xxe.nessus:3: entity declaration" "$PL_TMP/err"
grep -q root: "$PL_TMP/out" "$PL_TMP/err" && pl_fail "the external entity was read"
pl_done
