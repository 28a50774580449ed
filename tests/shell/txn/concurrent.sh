#!/bin/bash
# Two applies started together are serialized by the state-dir lock: both
# complete (the second waits with --wait), both are journaled; without
# --wait the loser exits 5 naming the holder.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plx$PL_TAG
pl_netns "$NS"
for i in 1 2; do
	printf 'services = ( { name = "s%s"; ports = [%s]; allow = ["192.0.2.%s"]; } );\n' $i $((2000 + i)) $i >"$PL_TMP/$i.conf"
done
export PORTLOCK_TEST_PAUSE_MS=500	# hold the lock long enough to overlap
ip netns exec "$NS" "$PORTLOCK" --wait 30 -c "$PL_TMP/1.conf" apply >"$PL_TMP/o1" 2>&1 &
p1=$!
sleep 0.1
ip netns exec "$NS" "$PORTLOCK" --wait 30 -c "$PL_TMP/2.conf" apply >"$PL_TMP/o2" 2>&1 &
p2=$!
wait $p1 || pl_fail "first apply failed: $(cat "$PL_TMP/o1")"
wait $p2 || pl_fail "second apply failed: $(cat "$PL_TMP/o2")"
ip netns exec "$NS" "$PORTLOCK" log --json >"$PL_TMP/log"
"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))["transactions"]; assert [r["id"] for r in d] == [1, 2], d' "$PL_TMP/log" ||
	pl_fail "expected transactions 1 and 2: $(cat "$PL_TMP/log")"

ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/1.conf" apply >"$PL_TMP/o3" 2>&1 &
p3=$!
sleep 0.2
pl_expect_rc 5 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/2.conf" apply
pl_expect_grep 'is locked by pid [0-9]+' "$PL_TMP/err"
wait $p3
pl_done
