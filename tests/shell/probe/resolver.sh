#!/bin/bash
# probe: host names are resolved by a sandboxed process of their own, after the
# privilege drop (DNS answers are peer bytes), and a stalled name server costs
# at most --deadline: the parent never blocks, the targets that answered are
# reported, the names come out unresolved (exit 8).
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 2525
pl_wait_port "$SRV" 2525

# a name server that takes every query and never answers (UDP 127.0.0.53:53 in $CLI)
pl_bg "$CLI" "$PL_PY" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.53", 53))
while True:
    s.recvfrom(4096)'
for ((i = 0; i < 100; i++)); do
	ip netns exec "$CLI" ss -Hlun 'sport = :53' | grep -q . && break
	sleep 0.05
done
printf '127.0.0.1 localhost\n' >"$PL_TMP/hosts"
# glibc's defaults: 5 s per query, 2 attempts (the 31 s of the issue for 3 names)
printf 'nameserver 127.0.0.53\n' >"$PL_TMP/stall.conf"
chmod 644 "$PL_TMP/hosts" "$PL_TMP/stall.conf"	# read by nobody

# pl_in_stall CMD...: CMD in $CLI with the stalled server as the only one
pl_in_stall() {
	ip netns exec "$CLI" unshare -m --propagation private sh -c '
		mount --bind "$1" /etc/hosts || exit 97
		mount --bind "$2" /etc/resolv.conf || exit 97
		shift 2
		exec "$@"' sh "$PL_TMP/hosts" "$PL_TMP/stall.conf" "$@"
}

out=$PL_TMP/out.json
start=$(date +%s%N)
pl_in_stall "$PORTLOCK" probe --json --deadline 1000 \
	"$SRV4:2525" mta.stall.test:2525 relay.stall.test:25 >"$out" 2>"$out.err" &
parent=$!
# the resolver: a child of the probe child, sandboxed like it
res=
for ((i = 0; i < 60; i++)); do
	child=$(pgrep -P "$parent" | head -1)
	[ -n "$child" ] && res=$(pgrep -P "$child" | head -1)
	[ -n "$res" ] && grep -q '^Uid:.*65534' "/proc/$res/status" 2>/dev/null &&
		cp "/proc/$res/status" "$PL_TMP/res.status" 2>/dev/null && break
	res=
	sleep 0.02
done
wait "$parent"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
pl_log "3 targets, 2 names on a stalled name server, --deadline 1000: ${ms} ms, exit $rc"
[ "$ms" -lt 5000 ] || pl_fail "the run took $ms ms with --deadline 1000"
[ "$rc" -eq 8 ] || pl_fail "exit $rc, expected 8 (unresolved names); stderr: $(cat "$out.err")"
pl_expect_service "$out" "$SRV4:2525" smtp
pl_expect_field "$out" "$SRV4:2525" 'r["evidence"]' '^220 '
pl_expect_schema "$out"
for t in mta.stall.test:2525 relay.stall.test:25; do
	pl_expect_service "$out" $t unresolved
	pl_expect_field "$out" $t 'r["note"]' "deadline of 1000 ms"
done
pl_expect_grep "mta.stall.test" "$out.err"

if [ -s "$PL_TMP/res.status" ]; then
	pl_expect_grep '^NoNewPrivs:[[:space:]]+1$' "$PL_TMP/res.status"
	pl_expect_grep '^CapEff:[[:space:]]+0000000000000000$' "$PL_TMP/res.status"
	pl_expect_grep '^CapBnd:[[:space:]]+0000000000000000$' "$PL_TMP/res.status"
	pl_expect_grep '^Uid:[[:space:]]+65534[[:space:]]+65534' "$PL_TMP/res.status"
	if grep -q 'PORTLOCK_SANITIZE:BOOL=ON' "$PL_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
		pl_log "sanitizer build: no seccomp filter expected"
	else
		pl_expect_grep '^Seccomp:[[:space:]]+2$' "$PL_TMP/res.status"
	fi
else
	pl_fail "the resolver process was not found while it waited for the name server"
fi

# names that resolve (from /etc/hosts, read by the sandboxed resolver) still work,
# with every address tried (tests/shell/probe/names.sh has the rest)
printf '127.0.0.1 localhost\n192.0.2.3 mta.test\n%s mta.test\n' "$SRV4" >"$PL_TMP/hosts"
ip -n "$SRV" addr add 192.0.2.3/24 dev veth-s
pl_in_stall "$PORTLOCK" probe --json --deadline 5000 mta.test:2525 >"$out" 2>"$out.err" ||
	pl_fail "resolvable name: exit $?: $(cat "$out.err")"
pl_expect_service "$out" mta.test:2525 smtp
pl_expect_field "$out" mta.test:2525 'len(r["addresses"])' '^2$'
pl_expect_field "$out" mta.test:2525 'r["address"]' "^$SRV4\$"
pl_done
