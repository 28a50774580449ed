#!/bin/bash
# contrib/ci: the pipeline examples are valid YAML and gate on
# "portlock audit --fail-on high" through portlock-gate.sh; the gate passes
# portlock's exit status through (0 pass, 1 blocked, 2+ portlock failed) with
# a message saying which, and never passes when portlock fails.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

C=$PL_SOURCE_DIR/contrib/ci
GATE=$C/portlock-gate.sh
for f in "$C/gitlab-ci.yml" "$C/github-actions.yml"; do
	"$PL_PY" -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$f" 2>"$PL_TMP/err" ||
		pl_fail "$(basename "$f") is not valid YAML: $(cat "$PL_TMP/err")"
	pl_expect_grep 'portlock-gate\.sh' "$f"
done
pl_expect_grep 'PORTLOCK_FAIL_ON: high' "$C/gitlab-ci.yml"
# shellcheck disable=SC2016  # a literal $LEVEL
pl_expect_grep 'audit --fail-on "\$LEVEL"' "$GATE"
sh -n "$GATE" || pl_fail "portlock-gate.sh: syntax error"

# gate KEY=VALUE...: run the gate with that environment, in the test's netns
gate() {
	env "$@" ip netns exec "$NS" sh "$GATE" >"$PL_TMP/gate.out" 2>&1
}
NS=plg$PL_TAG
pl_netns "$NS"

# portlock fails (here: a policy file with a syntax error): the gate fails
# with portlock's own exit code, never 0 or 1
printf 'services = ( { name = "smtp"; ports = [25' >"$PL_TMP/bad.conf"
PORTLOCK_CONFIG=$PL_TMP/bad.conf ip netns exec "$NS" "$PORTLOCK" audit --fail-on high >/dev/null 2>&1
want=$?
[ "$want" -ge 2 ] || pl_fail "portlock audit with an invalid policy exited $want"
gate PORTLOCK="$PORTLOCK" PORTLOCK_CONFIG="$PL_TMP/bad.conf" PORTLOCK_REPORT="$PL_TMP/r0.json"
rc=$?
[ "$rc" = "$want" ] || pl_fail "the gate exited $rc where portlock exited $want: $(cat "$PL_TMP/gate.out")"
pl_expect_grep "portlock audit failed \(exit $want" "$PL_TMP/gate.out"
[ -e "$PL_TMP/r0.json" ] && pl_fail "the gate wrote a report for a failed audit"

if "$PORTLOCK" --help | sed -n '/^Commands:/,/^$/p' | grep -q '^  audit '; then
	# an audit that runs: the gate's status and message follow portlock's
	printf 'services = ( { name = "smtp"; expect = "smtp"; ports = [2525]; allow = ["192.0.2.0/24"]; } );\n' \
		>"$PL_TMP/p.conf"
	pl_bg "$NS" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2525
	pl_wait_port "$NS" 2525
	for level in high info; do
		PORTLOCK_CONFIG=$PL_TMP/p.conf ip netns exec "$NS" "$PORTLOCK" --state-dir "$PL_TMP/st" audit \
			--fail-on $level >/dev/null 2>&1
		want=$?
		gate PORTLOCK="$PORTLOCK" PORTLOCK_CONFIG="$PL_TMP/p.conf" PORTLOCK_STATE_DIR="$PL_TMP/st" \
			PORTLOCK_FAIL_ON=$level PORTLOCK_REPORT="$PL_TMP/r.json"
		rc=$?
		[ "$rc" = "$want" ] || pl_fail "fail-on $level: the gate exited $rc, portlock $want"
		case $rc in
		0) pl_expect_grep "no finding at or above '$level': pass" "$PL_TMP/gate.out" ;;
		1) pl_expect_grep "findings at or above '$level': deploy blocked" "$PL_TMP/gate.out" ;;
		*) pl_fail "portlock audit failed (exit $rc): $(cat "$PL_TMP/gate.out")" ;;
		esac
		"$PL_PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$PL_TMP/r.json" ||
			pl_fail "the gate's report is not JSON"
	done
else
	pl_log "GAP: 'audit' does not exist yet; the gate was run against a failing portlock only"
fi
pl_done
