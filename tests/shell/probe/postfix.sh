#!/bin/bash
# probe: a full MTA, Debian's Postfix, started inside the server namespace with a
# private config/queue under $PL_TMP and bound to the namespace address only
# (tests/peers/postfix.sh). STARTTLS, implicit TLS, and a changed banner that
# behaviour still identifies.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
command -v postfix >/dev/null || pl_die "postfix is not installed (tests/deps/probe.txt)"
pl_cert mx.portlock.test
chmod 755 "$PL_TMP"	# the postfix user must reach its queue below it
pl_bg "$SRV" bash "$PEERS/postfix.sh" "$PL_TMP/postfix" "$SRV4" "" \
	"$PL_TMP/mx.portlock.test.crt" "$PL_TMP/mx.portlock.test.key"
for p in 25 465 10025 10026; do pl_wait_port "$SRV" $p 30; done

out=$PL_TMP/out.json
pl_probe_json "$out" --starttls "$SRV4:25" "$SRV4:465" "$SRV4:10025"
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
t=$SRV4:25
pl_expect_service "$out" "$t" smtp
pl_expect_schema "$out"
pl_expect_field "$out" "$t" 'r["evidence"]' '^220 mx\.portlock\.test ESMTP Postfix'
pl_expect_field "$out" "$t" 'r["software"]["name"]' '^Postfix$'
pl_expect_field "$out" "$t" 'r["software"]["confidence"] >= 90' True
pl_expect_field "$out" "$t" '" ".join(r["smtp"]["capabilities"])' 'STARTTLS.*SIZE.*PIPELINING.*8BITMIME'
pl_expect_field "$out" "$t" 'r["smtp"]["size"]' '^10240000$'
pl_expect_field "$out" "$t" 'r["tls"]["starttls"]' True
pl_expect_field "$out" "$t" 'r["tls"]["subject"]' 'CN=mx\.portlock\.test'
pl_expect_service "$out" "$SRV4:465" smtps
pl_expect_field "$out" "$SRV4:465" 'r["software"]["name"]' '^Postfix$'
# banner without the software name: the EHLO keywords point at Postfix, but a
# keyword set is shared by many MTAs: unknown, Postfix only the closest match
pl_expect_field "$out" "$SRV4:10025" 'r["evidence"] == "220 mx.portlock.test ESMTP\r\n"' True
pl_expect_field "$out" "$SRV4:10025" 'r["software"] is None' True
pl_expect_field "$out" "$SRV4:10025" 'r["closest"]["software"]' '^Postfix$'
pl_expect_field "$out" "$SRV4:10025" 'r["closest"]["basis"]' '^ehlo$'

# behavioural fingerprint: a banner that lies is outvoted
pl_probe_json "$out" --fingerprint "$SRV4:10025" "$SRV4:10026"
for t in "$SRV4:10025" "$SRV4:10026"; do
	pl_expect_field "$out" "$t" 'r["software"]["name"]' '^Postfix$'
	pl_expect_field "$out" "$t" 'r["software"]["basis"]' 'codes'
	pl_expect_field "$out" "$t" '" ".join(str(x["code"] or "-") for x in r["smtp"]["behaviour"])' '^250 501 501 250 501 501 554 500 554 500 500 500 500 250 250$'
	pl_expect_schema "$out"
	# 1 + the 15 tests; 17 when the greeting came after PROBE_SMPP_DELAY_MS
	# (a loaded machine): then the SMPP check ran on a connection of its own
	pl_expect_field "$out" "$t" 'r["connections"]' '^1[67]$'
done
pl_expect_field "$out" "$SRV4:10026" 'r["evidence"]' 'ESMTP Exim 4\.96'
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe --expect smtp "$SRV4:25" "$SRV4:465"
pl_done
