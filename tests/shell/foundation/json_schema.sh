#!/bin/bash
# Every command's --json carries "schema": "portlock-<doc>/1" and validates
# against schema/portlock-<doc>.schema.json (JSON Schema draft-07, checked
# with Debian's python3-jsonschema). The commands run in a namespace of their
# own, around a small policy applied first.
#
# The table below is the whole test: one line per command line, in order
# (later lines see the state the earlier ones left). Columns, separated by
# '|': the expected exit status, the schema document (the file
# schema/portlock-<doc>.schema.json), and the arguments after "portlock"
# ($A is a.conf, $B b.conf). A command added later (probe, audit, observed,
# allow, metrics, ...) is one more line here and one schema file.
# Every schema file must be used by at least one line.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

SCHEMAS=$PL_SOURCE_DIR/schema
NS=plj$PL_TAG
pl_netns "$NS"

A=$PL_TMP/a.conf
B=$PL_TMP/b.conf
cat >"$A" <<'CONF'
portlock = { mode = "enforce"; retention = "7d"; };
services = (
  { name = "smtp"; expect = "smtp"; ports = [2525]; allow = ["192.0.2.0/24", "2001:db8::/32"];
    critical = true; },
  { name = "smpp"; ports = [2775, 2776]; allow = ["198.51.100.7"]; mode = "observe"; }
);
CONF
cat >"$B" <<'CONF'
services = (
  { name = "smtp"; ports = [2525]; allow = ["192.0.2.0/25"]; }
);
CONF

# listeners to list: v4 and v6, one exposed, one on loopback
pl_bg "$NS" "$PL_PY" -c '
import socket, time
a = socket.socket(); a.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
a.bind(("0.0.0.0", 2525)); a.listen()
b = socket.socket(socket.AF_INET6); b.bind(("::1", 2775)); b.listen()
time.sleep(600)'
pl_wait_port "$NS" 2525

TABLE=$(
	cat <<'TABLE'
0 | check     | -c $A check --json
0 | check     | check -c $B --json
0 | plan      | -c $A plan --json
0 | plan      | plan --check --json -c $A
0 | apply     | -c $A apply --json
0 | apply     | apply -c $A --json
0 | plan      | -c $A plan --json
0 | show      | -c $A show --json
0 | show      | show --table nosuchtable --json
0 | listeners | listeners --json
0 | listeners | listeners --all --tcp --json
0 | apply     | -c $B apply --confirm 60 --json
0 | plan      | -c $A plan --json
0 | confirm   | confirm --json
0 | revert    | -c $B revert --dry-run --json
0 | revert    | revert --json -c $B
0 | log       | log --json
0 | log       | log --last 1 --json
0 | show      | log --show 1 --json
0 | show      | log --show 2 --prior --json
0 | show-stats | -c $A show --stats --json
0 | observed  | -c $A observed --json
0 | observed  | observed smpp --json -c $A
0 | allow     | -c $A allow smtp 198.51.100.9 --for 60s --json
0 | allow     | allow --list --json -c $A
0 | allow     | -c $A allow --revoke smtp 198.51.100.9 --json
0 | probe     | probe 127.0.0.1:2525 --json --timeout 300 --deadline 3000
0 | probe     | --json probe --fingerprint 127.0.0.1:2525 [::1]:2775 --timeout 300
0 | audit     | -c $A audit --json
0 | audit     | audit --json --fail-on high -c $A
0 | audit-report | -c $A audit --report $D/report_nmap.xml --json
0 | audit-report | audit --json --report $D/report_seed.nessus -c $A
TABLE
)

n=0
: >"$PL_TMP/used"
while IFS='|' read -r want doc args; do
	want=${want// /}
	doc=${doc// /}
	[ -n "$doc" ] || continue
	args=${args# }
	args=${args//\$A/$A}
	args=${args//\$B/$B}
	args=${args//\$D/$PL_SOURCE_DIR/tests/unit/data}
	n=$((n + 1))
	echo "$doc" >>"$PL_TMP/used"
	# shellcheck disable=SC2086
	pl_expect_rc "$want" ip netns exec "$NS" "$PORTLOCK" $args
	cp "$PL_TMP/out" "$PL_TMP/doc$n.json"
	"$PL_PY" - "$SCHEMAS/portlock-$doc.schema.json" "$PL_TMP/doc$n.json" "portlock-$doc/1" \
		>"$PL_TMP/why" 2>&1 <<'PY' || pl_fail "'portlock $args': $(cat "$PL_TMP/why")"
import json, sys
import jsonschema
schema_file, doc_file, want = sys.argv[1:4]
schema = json.load(open(schema_file))
cls = jsonschema.validators.validator_for(schema)
cls.check_schema(schema)
try:
    doc = json.load(open(doc_file))
except ValueError as e:
    sys.exit("output is not one JSON document (%s): %s" % (e, open(doc_file).read()[:1500]))
if not isinstance(doc, dict) or doc.get("schema") != want:
    sys.exit("output lacks \"schema\": \"%s\": %s" % (want, json.dumps(doc)[:1500]))
errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
if errors:
    sys.exit("does not validate against %s:\n%s" % (schema_file, "\n".join(
        "  at /%s: %s" % ("/".join(map(str, e.path)), e.message[:300]) for e in errors[:10])))
# the schema key is required: the same document without it must fail
bare = dict(doc)
del bare["schema"]
if cls(schema).is_valid(bare):
    sys.exit("%s accepts a document without its schema key" % schema_file)
PY
done <<<"$TABLE"
pl_log "$n command lines validated"

# every schema file is exercised, and every table line has its file
for f in "$SCHEMAS"/portlock-*.schema.json; do
	d=${f##*/portlock-}
	d=${d%.schema.json}
	grep -qx "$d" "$PL_TMP/used" || pl_fail "schema/${f##*/} is used by no line of the table"
	"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["properties"]["schema"]["const"] == "portlock-%s/1" % sys.argv[2]' \
		"$f" "$d" || pl_fail "${f##*/} does not require \"schema\": \"portlock-$d/1\""
done

# the documents say what the scenario did
"$PL_PY" - "$PL_TMP" <<'PY' || pl_fail "JSON content"
import json, sys, os
d = lambda n: json.load(open(os.path.join(sys.argv[1], "doc%d.json" % n)))
check = d(1)
svc = {s["name"]: s for s in check["services"]}
assert check["mode"] == "enforce" and check["retention"] == 7 * 86400, check
assert svc["smtp"]["critical"] is True and svc["smpp"]["mode"] == "observe", svc
assert svc["smtp"]["sources"] == 2 and svc["smpp"]["ports"] == [2775, 2776], svc
assert d(5)["applied"] is True and d(5)["transaction"] == 1, d(5)
assert d(6)["applied"] is False and d(6)["in_sync"] is True, d(6)
assert d(7)["in_sync"] is True, d(7)
assert d(8)["exists"] is True and d(9)["exists"] is False, (d(8), d(9))
lst = d(11)["listeners"]
ends = {l["endpoint"] for l in lst}
assert {"0.0.0.0:2525", "[::1]:2775"} <= ends, ends
for l in lst:
    assert ":" not in l["address"] or l["family"] == "ipv6", l
    assert all(p["name"] for p in l["processes"]), l
assert d(12)["confirm_deadline"] is not None, d(12)
assert d(14)["confirmed"] == 2, d(14)
assert d(15)["dry_run"] is True and d(15)["reverted"] == 2, d(15)
assert d(16)["changed"] is True and d(16)["transaction"] == 3, d(16)
assert [r["id"] for r in d(17)["transactions"]] == [1, 2, 3], d(17)
assert [r["id"] for r in d(18)["transactions"]] == [3], d(18)
assert d(19)["transaction"] == 1 and d(19)["content"] == "result", d(19)
assert d(20)["content"] == "prior", d(20)
PY

# a document that lacks its schema key, or has a wrong type, fails
printf '{"confirmed": 2}\n' >"$PL_TMP/bad1.json"
printf '{"schema": "portlock-confirm/1", "confirmed": "2"}\n' >"$PL_TMP/bad2.json"
for bad in bad1 bad2; do
	"$PL_PY" - "$SCHEMAS/portlock-confirm.schema.json" "$PL_TMP/$bad.json" <<'PY' || pl_fail "$bad.json validated"
import json, sys, jsonschema
s, d = (json.load(open(f)) for f in sys.argv[1:3])
sys.exit(0 if not jsonschema.validators.validator_for(s)(s).is_valid(d) else 1)
PY
done
pl_done
