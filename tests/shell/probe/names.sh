#!/bin/bash
# probe: a host name means every address it has (RFC 8305 style), whatever the
# order in /etc/hosts; a name without an address is exit 8, other targets still run.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
LIVE=$SRV4			# aiosmtpd
DEAD=192.0.2.3			# the server's too, nothing listens: refused
HANG=192.0.2.5			# nobody (no neighbour): the SYN goes unanswered
QUIET=192.0.2.4			# accepts and never says a word
FTP=192.0.2.6			# greets, but is no SMTP server
ip -n "$SRV" addr add $DEAD/24 dev veth-s
ip -n "$SRV" addr add $QUIET/24 dev veth-s
ip -n "$SRV" addr add $FTP/24 dev veth-s
pl_fake "$SRV" silent $QUIET 2525
pl_fake "$SRV" ftp $FTP 2525
ip -n "$SRV" addr add 2001:db8:1::3/64 dev veth-s nodad
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$LIVE" 2525
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" 127.0.0.1 2526
pl_wait_port "$SRV" 2525
pl_wait_port "$SRV" 2526
for a in $QUIET $FTP; do	# the fakes share the port: wait for each address
	for ((i = 0; i < 100; i++)); do
		pl_connect "$CLI" $TRUST4 $a 2525 && break
		sleep 0.05
	done
done
hosts=$PL_TMP/hosts
out=$PL_TMP/out.json

# pl_probe_hosts NS OUT ARGS...: probe --json ARGS in NS with $hosts as /etc/hosts.
pl_probe_hosts() {
	pl_log "probe $*"
	local ns=$1 o=$2
	shift 2
	pl_in_hosts "$ns" "$hosts" "$PORTLOCK" probe --json "$@" >"$o" 2>"$o.err"
	PL_RC=$?
}

# address k of a result: 'r["addresses"][k]["address"]' and its outcome
addr() { printf 'r["addresses"][%d]["%s"]' "$1" "${2:-address}"; }

# dead address first, then live first: the server answers either way
printf '%s mta.test\n%s mta.test\n' $DEAD $LIVE >"$hosts"
pl_probe_hosts "$CLI" "$out" mta.test:2525
[ "$PL_RC" -eq 0 ] || pl_fail "dead first: exit $PL_RC: $(cat "$out.err")"
pl_expect_service "$out" mta.test:2525 smtp
pl_expect_schema "$out"
pl_expect_field "$out" mta.test:2525 'r["address"]' "^$LIVE\$"
pl_expect_field "$out" mta.test:2525 'len(r["addresses"])' '^2$'
pl_expect_field "$out" mta.test:2525 "$(addr 0)" "^$DEAD\$"
pl_expect_field "$out" mta.test:2525 "$(addr 0 outcome)" '^refused$'
pl_expect_field "$out" mta.test:2525 "$(addr 0 service)" '^closed$'
pl_expect_field "$out" mta.test:2525 "$(addr 1)" "^$LIVE\$"
pl_expect_field "$out" mta.test:2525 "$(addr 1 outcome)" '^answered$'
pl_expect_field "$out" mta.test:2525 "$(addr 1 service)" '^smtp$'
# refused: the next address at once, not after the 250 ms stagger
pl_expect_field "$out" mta.test:2525 "$(addr 1 start_ms) < 200" True
pl_expect_field "$out" mta.test:2525 'r["evidence"]' '^220 .*Python SMTP'

printf '%s mta.test\n%s mta.test\n' $LIVE $DEAD >"$hosts"
pl_probe_hosts "$CLI" "$out" mta.test:2525
[ "$PL_RC" -eq 0 ] || pl_fail "live first: exit $PL_RC: $(cat "$out.err")"
pl_expect_service "$out" mta.test:2525 smtp
pl_expect_field "$out" mta.test:2525 'r["address"]' "^$LIVE\$"
pl_expect_field "$out" mta.test:2525 'len(r["addresses"])' '^2$'
pl_expect_field "$out" mta.test:2525 "$(addr 0)" "^$LIVE\$"
pl_expect_field "$out" mta.test:2525 "$(addr 0 outcome)" '^answered$'
pl_expect_field "$out" mta.test:2525 "$(addr 1)" "^$DEAD\$"
# answered within the stagger (not tried), or a slow server let it start
pl_expect_field "$out" mta.test:2525 "$(addr 1 outcome)" '^(not tried|cancelled|refused)$'

# text output names the address that answered and what the others did
printf '%s mta.test\n%s mta.test\n' $DEAD $LIVE >"$hosts"
pl_expect_rc 0 pl_in_hosts "$CLI" "$hosts" "$PORTLOCK" probe mta.test:2525
pl_expect_grep "^mta.test:2525 \($LIVE\)  smtp  " "$PL_TMP/out"
pl_expect_grep "^  addresses $DEAD refused, $LIVE answered\$" "$PL_TMP/out"

# an address that never answers: the next one starts 250 ms later and wins
printf '%s slow.test\n%s slow.test\n' $HANG $LIVE >"$hosts"
pl_probe_hosts "$CLI" "$out" slow.test:2525
[ "$PL_RC" -eq 0 ] || pl_fail "hanging first: exit $PL_RC: $(cat "$out.err")"
pl_expect_service "$out" slow.test:2525 smtp
pl_expect_field "$out" slow.test:2525 'r["address"]' "^$LIVE\$"
pl_expect_field "$out" slow.test:2525 "$(addr 0)" "^$HANG\$"
pl_expect_field "$out" slow.test:2525 "$(addr 0 outcome)" '^cancelled$'
pl_expect_field "$out" slow.test:2525 "$(addr 0 service) is None" True
pl_expect_field "$out" slow.test:2525 "240 <= $(addr 1 start_ms) < 1500" True
pl_expect_field "$out" slow.test:2525 'r["timing_ms"]["total"] < 2500' True

# connected but silent: no dialogue, so the next address still starts after
# 250 ms and wins (Happy Eyeballs over the whole dialogue, not just the connect)
printf '%s quiet.test\n%s quiet.test\n' $QUIET $LIVE >"$hosts"
pl_probe_hosts "$CLI" "$out" quiet.test:2525
pl_expect_service "$out" quiet.test:2525 smtp
pl_expect_field "$out" quiet.test:2525 'r["address"]' "^$LIVE\$"
pl_expect_field "$out" quiet.test:2525 "$(addr 0)" "^$QUIET\$"
pl_expect_field "$out" quiet.test:2525 "$(addr 0 outcome)" '^cancelled$'
pl_expect_field "$out" quiet.test:2525 "240 <= $(addr 1 start_ms) < 1500" True
pl_expect_field "$out" quiet.test:2525 'r["timing_ms"]["total"] < 2500' True

# something else answers first: that ends its turn at once, the server wins
printf '%s ftp.test\n%s ftp.test\n' $FTP $LIVE >"$hosts"
pl_probe_hosts "$CLI" "$out" ftp.test:2525
pl_expect_service "$out" ftp.test:2525 smtp
pl_expect_field "$out" ftp.test:2525 'r["address"]' "^$LIVE\$"
pl_expect_field "$out" ftp.test:2525 "$(addr 0)" "^$FTP\$"
pl_expect_field "$out" ftp.test:2525 "$(addr 0 outcome)" '^(unidentified|cancelled)$'
# only the FTP server: it is reported (unknown), with its evidence
printf '%s ftponly.test\n%s ftponly.test\n' $DEAD $FTP >"$hosts"
pl_probe_hosts "$CLI" "$out" ftponly.test:2525
pl_expect_service "$out" ftponly.test:2525 unknown
pl_expect_field "$out" ftponly.test:2525 'r["address"]' "^$FTP\$"
pl_expect_field "$out" ftponly.test:2525 '[a["outcome"] for a in r["addresses"]]' \
	"^\['refused', 'unidentified'\]\$"

# no address answers: the most telling result (both refused: closed), exit 0
printf '%s dead.test\n%s dead.test\n' $DEAD 2001:db8:1::3 >"$hosts"
pl_probe_hosts "$CLI" "$out" dead.test:2525
[ "$PL_RC" -eq 0 ] || pl_fail "all dead: exit $PL_RC: $(cat "$out.err")"
pl_expect_service "$out" dead.test:2525 closed
pl_expect_field "$out" dead.test:2525 'sorted(a["outcome"] for a in r["addresses"])' \
	"^\['refused', 'refused'\]\$"

# Debian's stock /etc/hosts (localhost is 127.0.0.1 and ::1) and the same with
# ::1 first; the server listens on 127.0.0.1 only
for order in v4first v6first; do
	if [ $order = v4first ]; then
		printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n\n::1     localhost ip6-localhost ip6-loopback\nff02::1 ip6-allnodes\n' >"$hosts"
	else
		printf '::1 localhost\n127.0.0.1 localhost\n' >"$hosts"
	fi
	pl_probe_hosts "$SRV" "$out" localhost:2526
	[ "$PL_RC" -eq 0 ] || pl_fail "localhost ($order): exit $PL_RC: $(cat "$out.err")"
	pl_expect_service "$out" localhost:2526 smtp
	pl_expect_field "$out" localhost:2526 'r["address"]' '^127\.0\.0\.1$'
	pl_expect_field "$out" localhost:2526 'sorted(a["address"] for a in r["addresses"])' \
		"^\['127.0.0.1', '::1'\]\$"
	pl_expect_field "$out" localhost:2526 \
		'[a["outcome"] for a in r["addresses"] if a["address"] == "::1"][0]' \
		'^(refused|not tried)$'
done

# a name without an address: exit 8 and a message naming it; the other target
# of the same run is still probed and reported
printf '%s mta.test\n' $LIVE >"$hosts"
pl_probe_hosts "$CLI" "$out" nosuch.invalid:2525 mta.test:2525
[ "$PL_RC" -eq 8 ] || pl_fail "unresolved: exit $PL_RC, expected 8: $(cat "$out.err")"
pl_expect_grep "^portlock: probe nosuch.invalid:2525: cannot resolve 'nosuch.invalid': " "$out.err"
pl_expect_service "$out" nosuch.invalid:2525 unresolved
pl_expect_field "$out" nosuch.invalid:2525 'r["address"] is None and r["addresses"] == []' True
pl_expect_field "$out" nosuch.invalid:2525 'r["connections"]' '^0$'
pl_expect_service "$out" mta.test:2525 smtp
pl_expect_field "$out" mta.test:2525 'r["address"]' "^$LIVE\$"
# text output, and --expect: still 8 (not 6), no mismatch claimed for the name
pl_expect_rc 8 pl_in_hosts "$CLI" "$hosts" "$PORTLOCK" probe --expect smtp nosuch.invalid:25 mta.test:2525
pl_expect_grep "^nosuch.invalid:25  unresolved\$" "$PL_TMP/out"
pl_expect_grep "^mta.test:2525 \($LIVE\)  smtp  " "$PL_TMP/out"
pl_expect_grep "cannot resolve 'nosuch.invalid'" "$PL_TMP/err"
if grep -q "expected smtp" "$PL_TMP/err"; then pl_fail "unresolved reported as a mismatch"; fi
# --source fixes the family: a name with only IPv6 addresses does not resolve
printf '%s mta6.test\n' $SRV6 >"$hosts"
pl_expect_rc 8 pl_in_hosts "$CLI" "$hosts" "$PORTLOCK" probe --source $TRUST4 mta6.test:2525
pl_expect_grep "cannot resolve 'mta6.test' to an IPv4 address \(--source\)" "$PL_TMP/err"
# a numeric target is one address, tried as before
pl_probe_json "$out" "$LIVE:2525"
pl_expect_field "$out" "$LIVE:2525" '[(a["address"], a["outcome"]) for a in r["addresses"]]' \
	"^\[\('$LIVE', 'answered'\)\]\$"
pl_done
