#!/bin/bash
# 100,000 prefixes apply in one transaction (sharded sets); changing one of
# them sends only a few messages; plan afterwards is in sync; nft agrees
# with the content (a trusted source inside the list passes, one outside is
# dropped).
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
# 100,000 distinct /32s in 10.0.0.0/8-like doc-free space is not needed: use
# 100.64.0.0/10 shared space addresses as pure data (never contacted), plus
# the trusted client address.
"$PL_PY" - "$PL_TMP/allow.txt" <<'PY'
import sys, random
random.seed(7)
out = set()
while len(out) < 100000:
    out.add("100.%d.%d.%d" % (random.randint(64, 127), random.randint(0, 255), random.randint(0, 255)))
with open(sys.argv[1], "w") as f:
    for a in sorted(out):
        f.write(a + "\n")
PY
cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "smpp"; ports = [2775]; allow = ["$TRUST4/32"]; allow_file = "allow.txt"; } );
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775
pl_wait_port "$SRV" 2775

pl_expect_rc 0 P --json apply
"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["applied"] and d["counts"]["elements_added"] > 90000, d["counts"]' "$PL_TMP/out" ||
	pl_fail "apply --json did not report 100k elements"
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_rc 0 P plan --exit-code

# one prefix changed: a handful of messages
sed -i '1d' "$PL_TMP/allow.txt"
echo 100.126.1.1 >>"$PL_TMP/allow.txt"
pl_expect_rc 0 P --json apply
"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); c=d["counts"]; assert d["messages"] <= 6 and c["elements_added"] <= 2 and c["elements_removed"] <= 2, d' "$PL_TMP/out" ||
	pl_fail "one changed prefix sent too much: $(head -c 600 "$PL_TMP/out")"
pl_expect_rc 0 P plan --exit-code
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_done
