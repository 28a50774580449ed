#!/bin/bash
# kill -9 of `portlock apply` at random moments, 50 times, on a 100,000-prefix
# policy alternating between two versions: after every kill the table is
# exactly one of the two states, the journal parses, and in the end revert
# restores the state before the last transaction.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plk$PL_TAG
pl_netns "$NS"
"$PL_PY" - "$PL_TMP" <<'PY'
import random, sys
random.seed(42)
base = set()
while len(base) < 100000:
    base.add("100.%d.%d.%d" % (random.randint(64, 127), random.randint(0, 255), random.randint(0, 255)))
base = sorted(base)
extra = ["198.18.%d.%d" % (i // 256, i % 256) for i in range(1000)]
open(sys.argv[1] + "/old.txt", "w").write("\n".join(base) + "\n")
open(sys.argv[1] + "/new.txt", "w").write("\n".join(base[1000:] + extra) + "\n")
PY
for v in old new; do
	printf 'services = ( { name = "smpp"; ports = [2775]; allow_file = "%s.txt"; } );\n' $v >"$PL_TMP/$v.conf"
done
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
state() {	# prints old, new or other (plan's messages in $PL_TMP/state.err)
	local r1 r2
	# --wait: a killed run's lock is released when its last descriptor closes,
	# which under a sanitizer (LSan's tracer task shares the descriptor
	# table) can be a moment after the process itself is gone
	P -q --wait 10 -c "$PL_TMP/old.conf" plan --exit-code >"$PL_TMP/state.out" 2>"$PL_TMP/state.err"
	r1=$?
	[ $r1 -eq 0 ] && { echo old; return; }
	P -q --wait 10 -c "$PL_TMP/new.conf" plan --exit-code >>"$PL_TMP/state.out" 2>>"$PL_TMP/state.err"
	r2=$?
	[ $r2 -eq 0 ] && { echo new; return; }
	echo "other (plan old: $r1, plan new: $r2)"
}
pl_expect_rc 0 P -q -c "$PL_TMP/old.conf" apply
# kill at random moments within the time a whole apply takes here (measured)
t0=$(date +%s%N)
pl_expect_rc 0 P -q -c "$PL_TMP/new.conf" apply
pl_expect_rc 0 P -q -c "$PL_TMP/old.conf" apply
span=$((($(date +%s%N) - t0) / 2000000))	# ms per apply
[ "$span" -ge 20 ] || span=20
pl_log "one apply takes about $span ms: kills land within that"
kills=0
for i in $(seq 1 50); do
	v=$([ $((i % 2)) -eq 0 ] && echo old || echo new)
	ip netns exec "$NS" "$PORTLOCK" -q -c "$PL_TMP/$v.conf" apply >/dev/null 2>&1 &
	pid=$!
	ms=$((RANDOM % span))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 $pid 2>/dev/null && kills=$((kills + 1))
	wait $pid 2>/dev/null
	s=$(state)
	[ "${s%% *}" = other ] && {
		pl_fail "try $i: table is neither the old nor the new state: $s; stderr: $(head -c 1500 "$PL_TMP/state.err"); stdout: $(head -c 3000 "$PL_TMP/state.out")"
		break
	}
	P log >/dev/null 2>"$PL_TMP/logerr" || pl_fail "try $i: log failed: $(cat "$PL_TMP/logerr")"
	grep -q corrupt "$PL_TMP/logerr" && pl_fail "try $i: corrupt journal: $(cat "$PL_TMP/logerr")"
done
pl_log "$kills of 50 applies killed mid-run"
[ "$kills" -ge 10 ] || pl_fail "only $kills kills landed: the test did not exercise anything"
# settle: old, then new, then revert -> old
pl_expect_rc 0 P -q --wait 10 -c "$PL_TMP/old.conf" apply
pl_expect_rc 0 P -q --wait 10 -c "$PL_TMP/new.conf" apply
pl_expect_rc 0 P -q --wait 10 revert
[ "$(state)" = old ] || pl_fail "revert did not restore the old state"
pl_done
