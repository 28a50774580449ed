#!/bin/bash
# Observe mode, then learn, then enforce:
#  - untrusted clients (IPv4 and IPv6 on the input path, IPv4 through DNAT on
#    the forward path) still complete SMTP sessions with real servers;
#  - `observed --json` lists exactly those sources, with their ports and
#    packet counts (checked against an independent counter), and no trusted
#    source;
#  - `observed --learn` writes them as allow_file lines (kept when rerun with
#    the same prefixes; --aggregate widens only as asked); applied in enforce
#    mode they let exactly the observed clients through and no one else.
#
#   client ---- server (aiosmtpd :25; DNAT 8025 -> 198.51.100.2:25) ---- container (aiosmtpd :25)
. "$(dirname "$0")/lib-observe.bash"
pl_topology
OTHER4=192.0.2.30	# a client that never came during observation
OTHER6=2001:db8:1::30
ip -n "$CLI" addr add $OTHER4/24 dev veth-c
ip -n "$CLI" addr add $OTHER6/64 dev veth-c nodad
pl_dnat_container
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 25
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV6" 25
pl_bg "$CTR" "$PL_PY" "$PEERS/aiosmtpd_server.py" 198.51.100.2 25
pl_wait_port "$SRV" 25
pl_wait_port "$CTR" 25
sleep 0.5	# both server addresses

cat >"$PL_TMP/p.conf" <<CONF
portlock = { mode = "observe"; };
services = (
	{ name = "mail"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
	{ name = "published"; ports = [8025]; allow = ["$TRUST4/32"]; }
);
CONF
pl_expect_rc 0 P apply
obs_count_setup "$SRV"
obs_count_rule "$SRV" cin ip saddr $UNTRUST4 tcp dport 25
obs_count_rule "$SRV" cin ip6 saddr $UNTRUST6 tcp dport 25
obs_count_rule "$SRV" cfwd ip saddr $UNTRUST4 tcp dport 25

# observe: everyone gets through
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25
obs_expect_smtp "$CLI" $UNTRUST6 $SRV6 25
obs_expect_smtp "$CLI" $TRUST4 $SRV4 25
obs_expect_smtp "$CLI" $TRUST6 $SRV6 25
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 8025
obs_expect_smtp "$CLI" $TRUST4 $SRV4 8025
sleep 0.3	# the last FIN/ACKs

pl_expect_rc 0 P observed --json
cp "$PL_TMP/out" "$PL_TMP/observed.json"
obs_json_check "$PL_TMP/observed.json" portlock-observed
in4=$(obs_count "$SRV" cin $UNTRUST4)
in6=$(obs_count "$SRV" cin $UNTRUST6)
fw4=$(obs_count "$SRV" cfwd $UNTRUST4)
pl_log "independent counts: input v4 $in4, input v6 $in6, forward v4 $fw4"
"$PL_PY" - "$PL_TMP/observed.json" "$UNTRUST4" "$UNTRUST6" "$in4" "$in6" "$fw4" <<'PY' || pl_fail "observed --json is not what the clients did: $(cat "$PL_TMP/observed.json")"
import json, sys
d = json.load(open(sys.argv[1]))
u4, u6, in4, in6, fw4 = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
svc = {s["name"]: s for s in d["services"]}
assert d["schema"] == "portlock-observed/1"
mail = {s["source"]: s for s in svc["mail"]["sources"]}
pub = {s["source"]: s for s in svc["published"]["sources"]}
assert svc["mail"]["mode"] == "observe" and svc["mail"]["recorded"], svc["mail"]
assert set(mail) == {u4, u6}, ("mail sources", sorted(mail))
assert set(pub) == {u4}, ("published sources", sorted(pub))
assert [p["port"] for p in mail[u4]["ports"]] == [25], mail[u4]
assert [p["port"] for p in mail[u6]["ports"]] == [25], mail[u6]
assert [p["port"] for p in pub[u4]["ports"]] == [8025], pub[u4]
assert mail[u4]["packets"] == in4 > 0, ("mail v4 packets", mail[u4]["packets"], in4)
assert mail[u6]["packets"] == in6 > 0, ("mail v6 packets", mail[u6]["packets"], in6)
assert pub[u4]["packets"] == fw4 > 0, ("published packets", pub[u4]["packets"], fw4)
for s in list(mail.values()) + list(pub.values()):
    assert not s["allowed"] and s["bytes"] > 0 and s["last_seen"], s
PY
pl_expect_rc 0 P observed
pl_expect_grep "^mail \(tcp, observe\): 2 sources seen" "$PL_TMP/out"
pl_expect_grep "^  $UNTRUST4 .* no +25$" "$PL_TMP/out"
grep -q "$TRUST4\|$TRUST6" "$PL_TMP/out" && pl_fail "observed lists a trusted source: $(cat "$PL_TMP/out")"
pl_expect_rc 2 P observed nosuch
pl_expect_rc 2 P observed --learn "$PL_TMP/x.txt"	# two services: name one

# learn
pl_expect_rc 0 P observed mail --learn "$PL_TMP/mail.txt"
pl_expect_grep "mail.txt: 2 prefixes \(1 IPv4, 1 IPv6\) from 2 sources of service mail" "$PL_TMP/out"
grep -v '^#' "$PL_TMP/mail.txt" >"$PL_TMP/mail.lines"
printf '%s\n%s\n' $UNTRUST4 $UNTRUST6 | cmp -s - "$PL_TMP/mail.lines" || pl_fail "learned lines: $(cat "$PL_TMP/mail.txt")"
pl_expect_grep "^# $UNTRUST4: [0-9]+ packets, [0-9]+ bytes, port 25, last seen 20" "$PL_TMP/mail.txt"
# the same prefixes again: the file is kept as it is
before=$(stat -c %Y.%i "$PL_TMP/mail.txt")
sleep 1.1
pl_expect_rc 0 P observed mail --learn "$PL_TMP/mail.txt"
pl_expect_grep "unchanged, it already lists these 2 prefixes" "$PL_TMP/out"
[ "$(stat -c %Y.%i "$PL_TMP/mail.txt")" = "$before" ] || pl_fail "--learn rewrote an unchanged file"
# widening only when asked
pl_expect_rc 0 P observed mail --learn "$PL_TMP/agg.txt" --aggregate /24
pl_expect_grep "^192\.0\.2\.0/24$" "$PL_TMP/agg.txt"
pl_expect_grep "^$UNTRUST6$" "$PL_TMP/agg.txt"
pl_expect_rc 0 P observed published --learn "$PL_TMP/pub.txt"
[ "$(grep -v '^#' "$PL_TMP/pub.txt")" = "$UNTRUST4" ] || pl_fail "published learned: $(cat "$PL_TMP/pub.txt")"

# enforce with what was learned
cat >"$PL_TMP/p.conf" <<CONF
services = (
	{ name = "mail"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; allow_file = "$PL_TMP/mail.txt"; },
	{ name = "published"; ports = [8025]; allow = ["$TRUST4/32"]; allow_file = "$PL_TMP/pub.txt"; }
);
CONF
pl_expect_rc 0 P apply
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25
obs_expect_smtp "$CLI" $UNTRUST6 $SRV6 25
obs_expect_smtp "$CLI" $TRUST4 $SRV4 25
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 8025
obs_expect_refused "$CLI" $OTHER4 $SRV4 25
obs_expect_refused "$CLI" $OTHER6 $SRV6 25
obs_expect_refused "$CLI" $OTHER4 $SRV4 8025
# the refused one is what `observed` now lists for mail, as not allowed
pl_expect_rc 0 P observed mail --json
"$PL_PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
src = {s["source"]: s for s in d["services"][0]["sources"]}
assert not src[sys.argv[2]]["allowed"] and src[sys.argv[3]]["allowed"], src
' "$PL_TMP/out" $OTHER4 $UNTRUST4 || pl_fail "observed after enforce: $(cat "$PL_TMP/out")"
pl_done
