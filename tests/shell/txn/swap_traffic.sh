#!/bin/bash
# Swaps under traffic: while the untrusted client hammers a restricted port,
# 200 apply/revert cycles between two policies that both exclude it: not one
# of its connections may succeed; the trusted client's keep succeeding.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
cat >"$PL_TMP/a.conf" <<CONF
services = ( { name = "smpp"; ports = [2775]; allow = ["$TRUST4/32", "$TRUST6/128"]; } );
CONF
cat >"$PL_TMP/b.conf" <<CONF
portlock = { action = "reject"; };
services = ( { name = "smpp"; ports = [2775, 3550]; allow = ["$TRUST4/32", "$TRUST6/128", "203.0.113.0/24"]; } );
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" "$@"; }
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775
pl_wait_port "$SRV" 2775
pl_expect_rc 0 P -q -c "$PL_TMP/a.conf" apply

hammer() {	# hammer SRC DST OUT: connect in a loop until $PL_TMP/stop exists (bounded: 60 s)
	ip netns exec "$CLI" "$PL_PY" - "$1" "$2" "$3" "$PL_TMP/stop" <<'PY'
import os, socket, struct, sys, time
src, dst, out, stop = sys.argv[1:5]
ok = fail = 0
errs = {}
end = time.time() + 60
# the trusted client waits long enough that a busy machine is no excuse; a
# dropped SYN would still show as a timeout, a reject as a reset
timeout = 2.0 if src.endswith((".10", "::10")) else 0.05
while not os.path.exists(stop) and time.time() < end:
    s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET)
    # close with a reset, not TIME_WAIT: tens of thousands of connections from
    # one address would use up its ephemeral ports (EADDRINUSE, not a block)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(timeout)
    try:
        s.bind((src, 0)); s.connect((dst, 2775)); ok += 1
    except OSError as e:
        fail += 1
        errs[type(e).__name__ + ":" + str(e.errno)] = errs.get(type(e).__name__ + ":" + str(e.errno), 0) + 1
    finally:
        s.close()
open(out, "w").write("%d %d %s\n" % (ok, fail, errs))
PY
}
hammer $UNTRUST4 $SRV4 "$PL_TMP/u4" &
h1=$!
hammer $UNTRUST6 $SRV6 "$PL_TMP/u6" &
h2=$!
hammer $TRUST4 $SRV4 "$PL_TMP/t4" &
h3=$!
cycles=0
for i in $(seq 1 200); do
	P -q -c "$PL_TMP/b.conf" apply >/dev/null || { pl_fail "apply $i failed"; break; }
	P -q revert >/dev/null || { pl_fail "revert $i failed"; break; }
	cycles=$((cycles + 1))
done
touch "$PL_TMP/stop"
wait $h1 $h2 $h3
read -r u4ok u4fail u4err <"$PL_TMP/u4"
read -r u6ok u6fail u6err <"$PL_TMP/u6"
read -r t4ok t4fail t4err <"$PL_TMP/t4"
pl_log "$cycles cycles; untrusted v4 $u4ok ok / $u4fail blocked, v6 $u6ok ok / $u6fail blocked; trusted $t4ok ok / $t4fail failed $t4err"
[ "$cycles" -eq 200 ] || pl_fail "only $cycles cycles"
[ "$u4ok" -eq 0 ] || pl_fail "$u4ok untrusted IPv4 connections got through"
[ "$u6ok" -eq 0 ] || pl_fail "$u6ok untrusted IPv6 connections got through"
[ "$u4fail" -gt 20 ] && [ "$u6fail" -gt 20 ] || pl_fail "the untrusted clients barely ran"
[ "$t4fail" -eq 0 ] || pl_fail "$t4fail trusted connections failed"
[ "$t4ok" -gt 100 ] || pl_fail "trusted client barely ran ($t4ok)"
pl_done
