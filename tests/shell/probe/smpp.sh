#!/bin/bash
# probe: a real SMPP server (npm smpp SMSC) over IPv4 and IPv6; --smpp-bind; --expect.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_smsc "$SRV" "$SRV4" 2775
pl_smsc "$SRV" "$SRV6" 2776
pl_wait_port "$SRV" 2775
pl_wait_port "$SRV" 2776
pl_fake "$SRV" smpp34 "$SRV4" 2777
pl_wait_port "$SRV" 2777

out=$PL_TMP/out.json
pl_probe_json "$out" "$SRV4:2775" "[$SRV6]:2776"
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
for t in "$SRV4:2775" "[$SRV6]:2776"; do
	pl_expect_service "$out" "$t" smpp
	pl_expect_schema "$out"
	pl_expect_field "$out" "$t" 'r["smpp"]["pdu"]' '^enquire_link_resp$'
	pl_expect_field "$out" "$t" 'r["smpp"]["status"]' '^0$'
	pl_expect_field "$out" "$t" 'r["evidence"].encode("latin-1")[:8].hex()' '^0000001080000015$'
	pl_expect_field "$out" "$t" 'r["smtp"] is None' True
	pl_expect_field "$out" "$t" 'r["timing_ms"]["total"] < 3000' True
done

# opt-in bind with dummy credentials: the SMSC refuses them
pl_probe_json "$out" --smpp-bind "$SRV4:2775"
pl_expect_field "$out" "$SRV4:2775" 'r["smpp"]["bind"]["pdu"]' '^bind_transmitter_resp$'
pl_expect_field "$out" "$SRV4:2775" 'r["smpp"]["bind"]["status"] in (0x0d, 0x0e, 0x0f)' True
# without the option no bind is attempted
pl_probe_json "$out" "$SRV4:2775"
pl_expect_field "$out" "$SRV4:2775" 'r["smpp"]["bind"] is None' True

# a strict v3.4 SMSC closes on enquire_link before bind: not confirmed without
# --smpp-bind, confirmed by the bind attempt with it
pl_probe_json "$out" --timeout 2000 "$SRV4:2777"
pl_expect_service "$out" "$SRV4:2777" timeout
pl_expect_field "$out" "$SRV4:2777" 'r["note"]' 'closed the connection after enquire_link'
pl_probe_json "$out" --timeout 2000 --smpp-bind "$SRV4:2777"
pl_expect_service "$out" "$SRV4:2777" smpp
pl_expect_field "$out" "$SRV4:2777" 'r["smpp"]["pdu"]' '^bind_transmitter_resp$'
pl_expect_field "$out" "$SRV4:2777" 'r["smpp"]["status"]' '^14$'
pl_expect_field "$out" "$SRV4:2777" 'r["timing_ms"]["total"] < 1500' True

pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe --expect smpp "$SRV4:2775"
pl_expect_grep "smpp +enquire_link_resp status 0x00000000 \(ESME_ROK\)" "$PL_TMP/out"
pl_expect_rc 6 ip netns exec "$CLI" "$PORTLOCK" probe --expect smtp "$SRV4:2775"
pl_done
