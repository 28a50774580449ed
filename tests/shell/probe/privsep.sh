#!/bin/bash
# probe: the process that touches peer bytes runs without capabilities, with
# no_new_privs, as nobody, under seccomp (except in sanitizer builds, whose
# runtimes need more system calls); the parent only decodes its records.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_fake "$SRV" silent "$SRV4" 2700
pl_wait_port "$SRV" 2700

: >"$PL_TMP/inherited"
ip netns exec "$CLI" "$PORTLOCK" probe --timeout 3000 "$SRV4:2700" >"$PL_TMP/out" 2>&1 7<"$PL_TMP/inherited" &
parent=$!
child=
for _ in $(seq 50); do
	child=$(pgrep -P "$parent" -f portlock | head -1)
	# ip netns exec execs portlock, so $parent is portlock itself; its child is the prober
	[ -z "$child" ] && child=$(pgrep -P "$(pgrep -P "$parent" | head -1)" 2>/dev/null | head -1)
	[ -n "$child" ] && grep -q '^Uid:.*65534' "/proc/$child/status" 2>/dev/null && break
	sleep 0.1
done
[ -n "$child" ] || pl_die "probe child not found"
st=/proc/$child/status
cp "$st" "$PL_TMP/status" 2>/dev/null || pl_die "probe child vanished"
pl_expect_grep '^NoNewPrivs:[[:space:]]+1$' "$PL_TMP/status"
pl_expect_grep '^CapEff:[[:space:]]+0000000000000000$' "$PL_TMP/status"
pl_expect_grep '^CapPrm:[[:space:]]+0000000000000000$' "$PL_TMP/status"
pl_expect_grep '^CapBnd:[[:space:]]+0000000000000000$' "$PL_TMP/status"
pl_expect_grep '^Uid:[[:space:]]+65534[[:space:]]+65534' "$PL_TMP/status"
pl_expect_grep '^Groups:[[:space:]]*$' "$PL_TMP/status"
if grep -q 'PORTLOCK_SANITIZE:BOOL=ON' "$PL_BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
	pl_log "sanitizer build: no seccomp filter expected"
else
	pl_expect_grep '^Seccomp:[[:space:]]+2$' "$PL_TMP/status"
fi
# descriptors the caller left open (fd 7 here) do not reach the prober
if ls -l "/proc/$child/fd/" 2>/dev/null | grep -q "$PL_TMP/inherited"; then
	pl_fail "the probe child inherited a caller's descriptor"
fi
ls -l "/proc/$parent/fd/" 2>/dev/null | grep -q "$PL_TMP/inherited" ||
	pl_log "note: parent's fd 7 not visible (already exited?)"
pl_expect_grep '^Name:' "$PL_TMP/status"
wait "$parent" || pl_fail "probe exited $?"
pl_expect_grep "^$SRV4:2700  timeout" "$PL_TMP/out"
pl_done
