#!/bin/bash
# probe: aiosmtpd over IPv4, IPv6 and a host name; --expect; --source; text output.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 2525
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV6" 2525
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" 127.0.0.1 2526
pl_fake "$SRV" echosmtp "$SRV4" 2600
pl_wait_port "$SRV" 2525
pl_wait_port "$SRV" 2526
pl_wait_port "$SRV" 2600

out=$PL_TMP/out.json
pl_probe_json "$out" "$SRV4:2525" "[$SRV6]:2525"
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
for t in "$SRV4:2525" "[$SRV6]:2525"; do
	pl_expect_service "$out" "$t" smtp
	pl_expect_schema "$out"
	pl_expect_field "$out" "$t" 'r["evidence"]' '^220 .*Python SMTP'
	pl_expect_field "$out" "$t" 'r["smtp"]["capabilities"]' '8BITMIME'
	pl_expect_field "$out" "$t" 'r["software"]["name"]' '^aiosmtpd$'
	pl_expect_field "$out" "$t" 'r["timing_ms"]["total"] < 2000' True
done
pl_expect_field "$out" "[$SRV6]:2525" 'r["address"]' "^$SRV6\$"

# a host name, resolved inside the probe child: the server listens on 127.0.0.1
# only, so that is the address that answers, whatever /etc/hosts says first
ip netns exec "$SRV" "$PORTLOCK" probe --json localhost:2526 >"$out" 2>"$out.err" ||
	pl_fail "probe localhost exited $?"
pl_expect_service "$out" localhost:2526 smtp
pl_expect_field "$out" localhost:2526 'r["address"]' '^127\.0\.0\.1$'
# ... also with ::1 before 127.0.0.1 (a stock Debian /etc/hosts; it said 'closed')
printf '::1 localhost ip6-localhost ip6-loopback\n127.0.0.1 localhost\n' >"$PL_TMP/hosts"
pl_in_hosts "$SRV" "$PL_TMP/hosts" "$PORTLOCK" probe --json localhost:2526 >"$out" 2>"$out.err" ||
	pl_fail "probe localhost (::1 first) exited $?: $(cat "$out.err")"
pl_expect_service "$out" localhost:2526 smtp
pl_expect_field "$out" localhost:2526 'r["address"]' '^127\.0\.0\.1$'
pl_expect_field "$out" localhost:2526 '[(a["address"], a["outcome"]) for a in r["addresses"]]' \
	"^\[\('::1', 'refused'\), \('127.0.0.1', 'answered'\)\]\$"

# --expect: 0 when it matches, 6 when it does not
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe --expect smtp "$SRV4:2525"
pl_expect_rc 6 ip netns exec "$CLI" "$PORTLOCK" probe --expect smpp "$SRV4:2525"
pl_expect_grep "expected smpp, found 'smtp'" "$PL_TMP/err"

# --source: the server sees the chosen address
pl_probe_json "$out" --source "$UNTRUST4" "$SRV4:2600"
pl_expect_field "$out" "$SRV4:2600" 'r["evidence"]' "client=$UNTRUST4"
pl_probe_json "$out" --source "$TRUST4" "$SRV4:2600"
pl_expect_field "$out" "$SRV4:2600" 'r["evidence"]' "client=$TRUST4"

# a concurrency cap of 1 still gets every target done
pl_probe_json "$out" --concurrency 1 "$SRV4:2525" "[$SRV6]:2525" "$SRV4:2600" "$SRV4:9"
pl_expect_service "$out" "$SRV4:2525" smtp
pl_expect_service "$out" "[$SRV6]:2525" smtp
pl_expect_service "$out" "$SRV4:2600" smtp
pl_expect_service "$out" "$SRV4:9" closed

# text output
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe "$SRV4:2525"
pl_expect_grep "^$SRV4:2525  smtp  aiosmtpd \(confidence [0-9]+%" "$PL_TMP/out"
pl_expect_grep "evidence  220 " "$PL_TMP/out"
pl_done
