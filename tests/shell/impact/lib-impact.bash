# shellcheck shell=bash
# Helpers of the impact tests: clients that hold a session open (smpp_hold.pl,
# smtp_hold.py) and the schema every --json impact object is checked against.
. "$(dirname "$0")/../lib/lib.sh"
HERE=$PL_SOURCE_DIR/tests/shell/impact
# the impact object's schema: definitions/impact of the plan schema (apply's
# and revert's hold the same copy: imp_schema_check says when they differ)
PL_IMPACT_SCHEMA=$PL_TMP/impact.schema.json
"$PL_PY" - "$PL_SOURCE_DIR/schema" "$PL_IMPACT_SCHEMA" <<'PY' || pl_die "the impact schemas differ"
import json, sys
d = {c: json.load(open("%s/portlock-%s.schema.json" % (sys.argv[1], c)))["definitions"]["impact"]
     for c in ("plan", "apply", "revert")}
if not d["plan"] == d["apply"] == d["revert"]:
    sys.exit("definitions/impact differs between the plan, apply and revert schemas")
d["plan"]["$schema"] = "http://json-schema.org/draft-07/schema#"
json.dump(d["plan"], open(sys.argv[2], "w"))
PY
export PL_IMPACT_SCHEMA
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

# imp_hold NAME KIND NS SRC DST PORT: start a client (KIND smpp or smtp) that
# holds its session from SRC; waits until it has one and sets NAME to its
# local port.
imp_hold() {
	local name=$1 kind=$2 ns=$3 src=$4 dst=$5 port=$6 ready=$PL_TMP/ready.$1 i
	if [ "$kind" = smpp ]; then
		pl_bg "$ns" perl "$HERE/smpp_hold.pl" "$src" "$dst" "$port" "$ready"
	else
		pl_bg "$ns" "$PL_PY" "$HERE/smtp_hold.py" "$src" "$dst" "$port" "$ready"
	fi
	for ((i = 0; i < 100; i++)); do [ -s "$ready" ] && break; sleep 0.1; done
	[ -s "$ready" ] || pl_die "the $kind client from $src did not get its session"
	printf -v "$name" '%s' "$(awk '{print $2}' "$ready")"
}
