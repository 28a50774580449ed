#!/bin/sh
# portlock-gate.sh: fail a deploy when the exposure audit finds something.
#
# Runs "portlock audit --fail-on LEVEL" on the host it runs on (in a pipeline:
# on the deployed host, over ssh or through ansible; see gitlab-ci.yml and
# github-actions.yml here) and turns its exit status into the job's:
#
#   0   no finding at or above LEVEL: the deploy goes on
#   1   findings at or above LEVEL: the deploy is blocked (the findings are
#       printed above)
#   2+  portlock itself failed (bad config, no privileges, ...): the job fails
#       too, with portlock's own exit code, so a broken audit never passes
#
# Environment: PORTLOCK (the binary, default portlock), PORTLOCK_FAIL_ON
# (default high), PORTLOCK_CONFIG (the policy, default portlock's own),
# PORTLOCK_REPORT (also write the findings as JSON to this file, for the
# job's artifacts), PORTLOCK_AUDIT_ARGS (more audit options, e.g. --no-probe).
set -u
PORTLOCK=${PORTLOCK:-portlock}
LEVEL=${PORTLOCK_FAIL_ON:-high}

# shellcheck disable=SC2086  # PORTLOCK_AUDIT_ARGS is a list of options
"$PORTLOCK" audit --fail-on "$LEVEL" ${PORTLOCK_AUDIT_ARGS:-}
rc=$?
if [ -n "${PORTLOCK_REPORT:-}" ] && [ "$rc" -le 1 ]; then
	# shellcheck disable=SC2086
	"$PORTLOCK" --json audit ${PORTLOCK_AUDIT_ARGS:-} >"$PORTLOCK_REPORT" ||
		echo "portlock-gate: could not write the JSON report to $PORTLOCK_REPORT" >&2
fi
case $rc in
0)
	echo "portlock-gate: no finding at or above '$LEVEL': pass"
	;;
1)
	echo "portlock-gate: findings at or above '$LEVEL': deploy blocked" >&2
	;;
*)
	echo "portlock-gate: portlock audit failed (exit $rc; see portlock(8), EXIT STATUS): deploy blocked" >&2
	;;
esac
exit "$rc"
