#!/bin/bash
# memcheck of the kernel-facing commands: apply, show, plan --check, revert,
# log, audit --no-probe, apply --confirm, confirm, revert ID, in a throwaway
# namespace, each under valgrind (registered by tests/CMakeLists.txt when a
# valgrind build exists; PORTLOCK points at that build's binary).
. "$(dirname "$0")/../shell/lib/lib.sh"
pl_require_root
NS=plv$PL_TAG
pl_netns "$NS"
VG=(valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --track-fds=no --quiet)
printf 'services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24", "203.0.113.0/24", "2001:db8::/48"]; } );\n' >"$PL_TMP/a.conf"
printf 'portlock = { action = "reject"; };\nservices = ( { name = "smpp"; ports = [2775, 3550]; allow = ["198.51.100.0/24"]; }, { name = "smtp"; ports = [25]; allow = []; } );\n' >"$PL_TMP/b.conf"
run() {
	ip netns exec "$NS" "${VG[@]}" "$PORTLOCK" "$@" >"$PL_TMP/out" 2>"$PL_TMP/err"
	local rc=$?
	[ "$rc" -eq 0 ] || pl_fail "valgrind portlock $* -> $rc: $(head -c 3000 "$PL_TMP/err")"
}
run -c "$PL_TMP/a.conf" apply
run -c "$PL_TMP/b.conf" apply
run -c "$PL_TMP/b.conf" show
run -c "$PL_TMP/a.conf" plan --check
run revert
run log
run -c "$PL_TMP/b.conf" audit --no-probe
PORTLOCK_SHARD_MAX=1 run -c "$PL_TMP/a.conf" apply --confirm 60
run confirm
run revert 1
pl_done
