#!/bin/bash
# revert --dry-run shows what restoring an older table would cut, judged by
# that table's own allowlists: a session from a source the restored table
# does not allow is listed (text and --json), one from a source it allows
# is not.
. "$(dirname "$0")/lib-impact.bash"
pl_topology
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/peers/aiosmtpd_server.py" $SRV4 25
pl_wait_port "$SRV" 25
conf() {
	cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "mail"; ports = [25]; allow = ["$1"]; } );
CONF
}

conf $TRUST4/32
pl_expect_rc 0 P apply
conf 192.0.2.0/24
pl_expect_rc 0 P apply
TXN=$(grep -Eo '^transaction [0-9]+' "$PL_TMP/out" | awk '{print $2}')
imp_hold PORT_U smtp "$CLI" $UNTRUST4 $SRV4 25
imp_hold PORT_T smtp "$CLI" $TRUST4 $SRV4 25

pl_expect_rc 0 P revert --dry-run "$TXN"
pl_expect_grep "^  mail: would cut 1 established connection: $UNTRUST4:$PORT_U -> 25 \(mail\)$" "$PL_TMP/out"
pl_expect_grep "^nothing was changed \(dry run\)" "$PL_TMP/out"
if grep -q "$TRUST4:$PORT_T" "$PL_TMP/out"; then
	pl_fail "revert --dry-run lists the session of $TRUST4, which the restored table allows"
fi
pl_expect_rc 0 P revert --dry-run --json "$TXN"
"$PL_PY" - "$PL_TMP/out" "$UNTRUST4" "$PORT_U" <<'PY' || pl_fail "revert --dry-run --json impact: $(cat "$PL_TMP/out")"
import json, sys, os, jsonschema
im = json.load(open(sys.argv[1]))["impact"]
jsonschema.validate(im, json.load(open(os.environ["PL_IMPACT_SCHEMA"])))
assert im["connections_cut"] == 1, im
[s] = im["services"]
assert s["service"] == "mail", s
assert [(c["source"], c["source_port"], c["port"]) for c in s["connections"]] == \
    [(sys.argv[2], int(sys.argv[3]), 25)], s
PY
# the dry run changed nothing: the untrusted client still gets in
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 25
pl_done
