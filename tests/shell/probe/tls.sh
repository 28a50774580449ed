#!/bin/bash
# probe: implicit TLS (SMTP on 465 and SMPP on 3550 behind socat), STARTTLS
# with aiosmtpd, and --tls on another port.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_cert smtp.portlock.test
pl_cert smsc.portlock.test
c=$PL_TMP/smtp.portlock.test s=$PL_TMP/smsc.portlock.test
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" 127.0.0.1 2525
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 587 "$c.crt" "$c.key"
pl_smsc "$SRV" 127.0.0.1 2775
pl_wait_port "$SRV" 2525
pl_wait_port "$SRV" 2775
pl_bg "$SRV" socat "OPENSSL-LISTEN:465,bind=$SRV4,reuseaddr,fork,cert=$c.crt,key=$c.key,verify=0" TCP:127.0.0.1:2525
pl_bg "$SRV" socat "OPENSSL-LISTEN:3550,bind=$SRV4,reuseaddr,fork,cert=$s.crt,key=$s.key,verify=0" TCP:127.0.0.1:2775
pl_bg "$SRV" socat "OPENSSL-LISTEN:4650,bind=$SRV4,reuseaddr,fork,cert=$c.crt,key=$c.key,verify=0" TCP:127.0.0.1:2525
pl_wait_port "$SRV" 465
pl_wait_port "$SRV" 3550
pl_wait_port "$SRV" 4650
pl_wait_port "$SRV" 587
# plain SMTP on 465 (by number only): the probe falls back to clear text
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV6" 465
pl_wait_port "$SRV" 465

out=$PL_TMP/out.json
pl_probe_json "$out" "$SRV4:465" "$SRV4:3550"
pl_expect_service "$out" "$SRV4:465" smtps
pl_expect_schema "$out"
pl_expect_field "$out" "$SRV4:465" 'r["tls"]["version"]' '^TLSv1\.[23]$'
pl_expect_field "$out" "$SRV4:465" 'r["tls"]["subject"]' 'CN=smtp\.portlock\.test'
pl_expect_field "$out" "$SRV4:465" 'r["tls"]["expires"]' '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T'
pl_expect_field "$out" "$SRV4:465" 'r["software"]["name"]' '^aiosmtpd$'
pl_expect_service "$out" "$SRV4:3550" smpp-tls
pl_expect_field "$out" "$SRV4:3550" 'r["tls"]["subject"]' 'CN=smsc\.portlock\.test'
pl_expect_field "$out" "$SRV4:3550" 'r["smpp"]["pdu"]' '^enquire_link_resp$'

pl_probe_json "$out" "[$SRV6]:465"
pl_expect_service "$out" "[$SRV6]:465" smtp
pl_expect_field "$out" "[$SRV6]:465" 'r["note"]' 'no TLS handshake on port 465: probed in clear'
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe "$SRV4:465" "$SRV4:3550"
pl_expect_grep "^  cert      subject '/CN=smtp\.portlock\.test', expires 20" "$PL_TMP/out"
pl_expect_grep "^  smpp      enquire_link_resp status 0x00000000" "$PL_TMP/out"

# an unusual port needs --tls; without it the TLS server says nothing useful
pl_probe_json "$out" --timeout 1500 "$SRV4:4650"
pl_expect_field "$out" "$SRV4:4650" 'r["service"] in ("smtp", "smtps", "smpp", "smpp-tls")' False
pl_probe_json "$out" --tls "$SRV4:4650"
pl_expect_service "$out" "$SRV4:4650" smtps
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe --expect smtp --tls "$SRV4:4650"

# STARTTLS: reported without --starttls, negotiated with it
pl_probe_json "$out" "$SRV4:587"
pl_expect_service "$out" "$SRV4:587" smtp
pl_expect_field "$out" "$SRV4:587" 'r["smtp"]["capabilities"]' 'STARTTLS'
pl_expect_field "$out" "$SRV4:587" 'r["tls"] is None' True
pl_probe_json "$out" --starttls "$SRV4:587"
pl_expect_service "$out" "$SRV4:587" smtp
pl_expect_field "$out" "$SRV4:587" 'r["tls"]["starttls"]' True
pl_expect_field "$out" "$SRV4:587" 'r["tls"]["subject"]' 'CN=smtp\.portlock\.test'
pl_done
