#!/bin/bash
# probe: hostile peers end in clean bounded results, and never stall the others.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_fake "$SRV" endless "$SRV4" 3001
pl_fake "$SRV" drip "$SRV4" 3002
pl_fake "$SRV" greetclose "$SRV4" 3003
pl_fake "$SRV" smpphuge "$SRV4" 3004
pl_fake "$SRV" greetpause "$SRV4" 3005
pl_fake "$SRV" refuse "$SRV4" 3006
pl_fake "$SRV" ehlogarbage "$SRV4" 3007
pl_fake "$SRV" ansi "$SRV4" 3008
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 2525
for p in 3001 3002 3003 3004 3005 3006 3007 3008 2525; do pl_wait_port "$SRV" $p; done

out=$PL_TMP/out.json
start=$(date +%s%N)
pl_probe_json "$out" --timeout 4000 "$SRV4:3001" "$SRV4:3002" "$SRV4:3003" "$SRV4:3004" \
	"$SRV4:3005" "$SRV4:3006" "$SRV4:3007" "$SRV4:2525"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
pl_expect_service "$out" "$SRV4:3001" unknown
pl_expect_schema "$out"
pl_expect_field "$out" "$SRV4:3001" 'len(r["evidence"]) <= 512' True
pl_expect_field "$out" "$SRV4:3001" 'r["note"]' 'oversized reply'
pl_expect_field "$out" "$SRV4:3001" 'r["timing_ms"]["total"] < 1000' True
pl_expect_service "$out" "$SRV4:3002" timeout
pl_expect_field "$out" "$SRV4:3002" 'r["note"]' 'greeting incomplete'
pl_expect_service "$out" "$SRV4:3003" unknown
pl_expect_field "$out" "$SRV4:3003" 'r["note"]' 'closed after the greeting'
pl_expect_service "$out" "$SRV4:3004" unknown
pl_expect_field "$out" "$SRV4:3004" 'r["note"]' 'command_length 4294967295'
# Sendmail-style greet_pause: still SMTP
pl_expect_service "$out" "$SRV4:3005" smtp
pl_expect_field "$out" "$SRV4:3005" 'r["evidence"]' 'greet_pause'
# a 554 greeting is SMTP refusing us; garbage in answer to EHLO is not SMTP
pl_expect_service "$out" "$SRV4:3006" smtp
pl_expect_field "$out" "$SRV4:3006" 'r["note"]' 'refuses this client'
pl_expect_service "$out" "$SRV4:3007" unknown
pl_expect_field "$out" "$SRV4:3007" 'r["note"]' 'EHLO answered with something that is not an SMTP reply'
# the good server next to them answered at its own pace
pl_expect_service "$out" "$SRV4:2525" smtp
pl_expect_field "$out" "$SRV4:2525" 'r["timing_ms"]["total"] < 1000' True
[ "$ms" -lt 8000 ] || pl_fail "hostile probe took $ms ms"

# terminal escapes and other non-ASCII bytes never reach the terminal raw
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe "$SRV4:3008"
pl_expect_grep 'evidence  220 \\x1b\[2J\\x1b\]0;pwned\\x07 caf\\xc3\\xa9 ESMTP\\r\\n' "$PL_TMP/out"
if LC_ALL=C grep -q "$(printf '[\001-\010\016-\037\177-\377]')" "$PL_TMP/out"; then
	pl_fail "raw control or non-ASCII bytes in the output"
fi
# in JSON the evidence is the peer's bytes, escaped once by JSON (one character
# per byte, \u escapes only: the document is ASCII)
pl_probe_json "$out" "$SRV4:3008"
pl_expect_field "$out" "$SRV4:3008" 'r["evidence"] == "220 \x1b[2J\x1b]0;pwned\x07 caf\xc3\xa9 ESMTP\r\n"' True
if LC_ALL=C grep -q "$(printf '[\001-\010\016-\037\177-\377]')" "$out"; then
	pl_fail "raw control or non-ASCII bytes in the JSON output"
fi

# a global deadline cuts everything short
start=$(date +%s%N)
pl_probe_json "$out" --deadline 1000 "$SRV4:3002" "$SRV4:3005"
ms=$((($(date +%s%N) - start) / 1000000))
pl_expect_service "$out" "$SRV4:3002" timeout
pl_expect_field "$out" "$SRV4:3005" 'r["note"]' 'global deadline'
[ "$ms" -lt 3000 ] || pl_fail "--deadline 1000 took $ms ms"
# ... also in the middle of the behavioural tests (greet_pause makes each one slow)
start=$(date +%s%N)
pl_probe_json "$out" --deadline 3000 --fingerprint "$SRV4:3005"
ms=$((($(date +%s%N) - start) / 1000000))
pl_expect_service "$out" "$SRV4:3005" smtp
pl_expect_field "$out" "$SRV4:3005" '" ".join(str(x["code"] or "-") for x in r["smtp"]["behaviour"])' '^[-0-9 ]+$'
[ "$ms" -lt 5000 ] || pl_fail "--deadline 3000 --fingerprint took $ms ms"
pl_done
