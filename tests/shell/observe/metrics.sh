#!/bin/bash
# Counters: `show --stats` and `metrics` count what the rules counted (allowed,
# refused, temporary) per service and family, and the sources seen; `metrics`
# passes the Prometheus text parser (python3-prometheus-client), carries the
# last transaction time and a pending confirm, and --output writes atomically.
# `show --json` gives a rule's counter as fields, not inside its text.
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
obs_expect_smtp "$CLI" $TRUST6 $SRV6 25
obs_expect_refused "$CLI" $UNTRUST4 $SRV4 25
obs_expect_refused "$CLI" $UNTRUST6 $SRV6 25
pl_expect_rc 0 P allow mail $UNTRUST4 --for 1h
obs_expect_smtp "$CLI" $UNTRUST4 $SRV4 25

# show --stats --json: the schema, and the counters moved where they should
pl_expect_rc 0 P show --stats --json
cp "$PL_TMP/out" "$PL_TMP/stats.json"
obs_json_check "$PL_TMP/stats.json" portlock-show-stats
"$PL_PY" - "$PL_TMP/stats.json" "$UNTRUST4" "$UNTRUST6" <<'PY' || pl_fail "show --stats --json: $(cat "$PL_TMP/stats.json")"
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(r["service"], r["family"]): r for r in d["services"]}
v4, v6 = rows[("mail", "ipv4")], rows[("mail", "ipv6")]
for r in (v4, v6):
    assert r["allowed"]["packets"] > 0 and r["refused"]["packets"] > 0, r
    assert r["observed"] is None, r
    assert r["seen_sources"] == 1, r
assert v4["temporary"]["packets"] > 0 and v4["grants"] == 1 and v6["grants"] == 0, (v4, v6)
assert [t["source"] for t in v4["top_sources"]] == [sys.argv[2]], v4
assert [t["source"] for t in v6["top_sources"]] == [sys.argv[3]], v6
assert v4["top_sources"][0]["port"] == 25
PY
pl_expect_rc 0 P show --stats
pl_expect_grep "^mail +ipv4 +[1-9][0-9]*/[1-9][0-9]* +[1-9][0-9]*/[0-9]+ +[1-9][0-9]*/[0-9]+ +- +1 +1$" "$PL_TMP/out"
pl_expect_grep "^  mail +$UNTRUST6 " "$PL_TMP/out"

# show --json: counters are fields
pl_expect_rc 0 P show --json
"$PL_PY" -c '
import json, sys
rules = json.load(open(sys.argv[1]))["rules"]
assert not any("packets" in r["rule"] for r in rules), [r["rule"] for r in rules if "packets" in r["rule"]]
counted = [r for r in rules if r["counter"]]
assert counted and any(r["counter"]["packets"] > 0 for r in counted), rules
assert all("counter" in r["rule"] for r in counted), counted
' "$PL_TMP/out" || pl_fail "show --json counters: $(head -c 3000 "$PL_TMP/out")"

# metrics: the parser takes it; values agree with show --stats
pl_expect_rc 0 P metrics
cp "$PL_TMP/out" "$PL_TMP/metrics.prom"
check_metrics() {
	"$PL_PY" - "$1" "$PL_TMP/stats.json" "$2" <<'PY'
import json, sys, time
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
stats = json.load(open(sys.argv[2]))
pending = int(sys.argv[3])
fams = {f.name: f for f in text_string_to_metric_families(text)}
samples = [s for f in fams.values() for s in f.samples]
def val(name, **labels):
    for s in samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise KeyError((name, labels))
assert fams["portlock_refused_packets"].type == "counter", fams["portlock_refused_packets"].type
for r in stats["services"]:
    lab = dict(service=r["service"], family=r["family"])
    # counters only grow between the two reads
    assert val("portlock_refused_packets_total", **lab) >= r["refused"]["packets"] > 0, lab
    assert val("portlock_allowed_bytes_total", **lab) >= r["allowed"]["bytes"] > 0, lab
    assert val("portlock_seen_sources", **lab) == r["seen_sources"], lab
assert val("portlock_temporary_grants", service="mail", family="ipv4") == 1
assert val("portlock_table_present", table="portlock") == 1
last = val("portlock_last_transaction_timestamp_seconds")
assert time.time() - 120 < last <= time.time() + 1, last
assert val("portlock_confirm_pending") == pending
if pending:
    assert val("portlock_confirm_deadline_timestamp_seconds") > time.time()
for f in fams.values():
    assert f.documentation, f.name
PY
}
check_metrics "$PL_TMP/metrics.prom" 0 || pl_fail "metrics: $(cat "$PL_TMP/metrics.prom")"

# a pending confirm shows; --output writes the same text atomically
sed -i "s|\"$TRUST6/128\"|\"$TRUST6/128\", \"198.51.100.0/24\"|" "$PL_TMP/p.conf"
pl_expect_rc 0 P apply --confirm 300
mkdir "$PL_TMP/textfile"
pl_expect_rc 0 P metrics --output "$PL_TMP/textfile/portlock.prom"
[ -s "$PL_TMP/out" ] && pl_fail "metrics --output printed to stdout"
ls -A "$PL_TMP/textfile" | grep -qv '^portlock.prom$' && pl_fail "metrics --output left a temp file: $(ls -A "$PL_TMP/textfile")"
check_metrics "$PL_TMP/textfile/portlock.prom" 1 || pl_fail "metrics --output: $(cat "$PL_TMP/textfile/portlock.prom")"
pl_expect_rc 0 P confirm
pl_expect_rc 2 P metrics --bogus
pl_done
