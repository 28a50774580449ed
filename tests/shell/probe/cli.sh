#!/bin/bash
# probe: command line errors, fingerprint file lookup, --listening.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
P=$PORTLOCK
pl_expect_rc 2 "$P" probe
pl_expect_grep "no target given" "$PL_TMP/err"
pl_expect_rc 2 "$P" probe 192.0.2.1
pl_expect_grep "target '192.0.2.1' is not HOST:PORT" "$PL_TMP/err"
pl_expect_rc 2 "$P" probe 2001:db8::1:25
pl_expect_rc 2 "$P" probe 192.0.2.1:0
pl_expect_rc 2 "$P" probe 192.0.2.1:65536
pl_expect_grep "target '192.0.2.1:65536': port 65536 is out of range \(1 to 65535\)" "$PL_TMP/err"
pl_expect_rc 2 "$P" probe mx.example:70000
pl_expect_grep "port 70000 is out of range" "$PL_TMP/err"
pl_expect_rc 2 "$P" probe 192.0.2.1:25x
pl_expect_grep "is not HOST:PORT" "$PL_TMP/err"
pl_expect_rc 2 "$P" probe '[2001:db8::1]25'
pl_expect_rc 2 "$P" probe --bogus 192.0.2.1:25
pl_expect_rc 2 "$P" probe --expect ftp 192.0.2.1:25
pl_expect_rc 2 "$P" probe --expect closed 192.0.2.1:25
pl_expect_rc 2 "$P" probe --source nowhere 192.0.2.1:25
pl_expect_rc 2 "$P" probe --timeout 0 192.0.2.1:25
pl_expect_rc 2 "$P" probe --concurrency 5000 192.0.2.1:25
pl_expect_rc 0 "$P" probe --help
pl_expect_grep "fingerprint" "$PL_TMP/out"

# fingerprint file: a missing explicit file is an error (3), a bad one too
pl_expect_rc 3 ip netns exec "$CLI" "$P" probe --fingerprints /nonexistent "$SRV4:1"
printf 'Postfix | banner | 95 | ESMTP Postfix\nbroken line\nX | codes | 50 | 1 2\nY | banner | 101 | x\n' >"$PL_TMP/bad.conf"
pl_expect_rc 3 ip netns exec "$CLI" "$P" probe --fingerprints "$PL_TMP/bad.conf" "$SRV4:1"
pl_expect_grep "bad.conf:2: expected 'SOFTWARE \| KIND \| CONFIDENCE \| PATTERN'" "$PL_TMP/err"
pl_expect_grep "bad.conf:3: bad reply code '1'" "$PL_TMP/err"
pl_expect_grep "bad.conf:4: confidence '101' is not 1..100" "$PL_TMP/err"
PORTLOCK_FINGERPRINTS=$PL_TMP/bad.conf pl_expect_rc 3 ip netns exec "$CLI" "$P" probe "$SRV4:1"
# the source tree's data/ is found from the build directory
pl_expect_rc 0 ip netns exec "$CLI" "$P" probe "$SRV4:1"
if grep -q "no fingerprint file" "$PL_TMP/err"; then pl_fail "data/fingerprints.conf not found"; fi
pl_expect_grep "^$SRV4:1  closed" "$PL_TMP/out"

# options and targets in any order (GNU getopt_long permutation)
pl_expect_rc 0 ip netns exec "$CLI" "$P" probe --source "$TRUST4" "$SRV4:1" --connect-timeout 1000 \
	"$SRV4:2" --json
pl_expect_field "$PL_TMP/out" "$SRV4:1" 'r["service"]' '^closed$'
pl_expect_field "$PL_TMP/out" "$SRV4:2" 'r["service"]' '^closed$'
pl_expect_schema "$PL_TMP/out"
# "--" ends the options
pl_expect_rc 2 "$P" probe -- --json
pl_expect_grep "target '--json' is not HOST:PORT" "$PL_TMP/err"

# --listening: every local TCP listener (here: in the server namespace)
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 2525
pl_smsc "$SRV" 0.0.0.0 2775
pl_wait_port "$SRV" 2525
pl_wait_port "$SRV" 2775
ip netns exec "$SRV" "$P" probe --json --listening >"$PL_TMP/l.json" 2>"$PL_TMP/l.err" ||
	pl_fail "probe --listening exited $?: $(cat "$PL_TMP/l.err")"
pl_expect_service "$PL_TMP/l.json" "$SRV4:2525" smtp
pl_expect_service "$PL_TMP/l.json" "127.0.0.1:2775" smpp
pl_done
