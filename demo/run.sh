#!/bin/bash
# portlock demo: install the build deps, build portlock, and walk through what
# it does, step by step, against REAL servers in throwaway network namespaces.
#
#   sudo ./demo/run.sh
#
# Topology (tests/shell/lib/lib.sh, pl_topology):
#   client netns  192.0.2.10 / 2001:db8:1::10 (trusted)    <-- veth -->  server netns
#                 192.0.2.20 / 2001:db8:1::20 (untrusted)                192.0.2.1 / 2001:db8:1::1
#   server: SMTP (python3 -m aiosmtpd) on 25 and on 2525 (a stray relay),
#           SMPP (tests/peers/smsc.pl, Net::SMPP) on 2775
#
# The host's own ruleset and interfaces are never touched: every nft command
# runs inside the server namespace; everything is removed on exit or Ctrl-C.
# Each step is a function named step_<n>_<what>; STEPS lists them in order.
set -eo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export DEBIAN_FRONTEND=noninteractive
JOBS=${PL_JOBS:-2}

if [ "$(id -u)" -ne 0 ]; then
	echo "demo/run.sh needs root (network namespaces): sudo ./demo/run.sh" >&2
	exit 2
fi

N=0
heading() {
	N=$((N + 1))
	if [ -t 1 ]; then
		printf '\n\033[1m=== %d. %s\033[0m\n' "$N" "$*"
	else
		printf '\n=== %d. %s\n' "$N" "$*"
	fi
}
run() {
	# show a command, then run it; "$" lines are what a user would type
	printf '$ %s\n' "$*"
	"$@"
}
srv() { ip netns exec "$SRV" "$@"; }

step_1_deps() {
	heading "install the build dependencies (apt, only what is missing)"
	local pkgs missing=() p
	mapfile -t pkgs < <(cat tests/deps/build.txt demo/deps.txt | sed 's/#.*//' | grep -v '^\s*$' | sort -u)
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		echo "all ${#pkgs[@]} packages already installed: ${pkgs[*]}"
	else
		apt-get -o DPkg::Lock::Timeout=300 update -q
		apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
	fi
}

step_2_build() {
	heading "build portlock (build/)"
	run cmake -S . -B build -DPORTLOCK_WERROR=ON >/dev/null
	run make -s -C build -j"$JOBS"
	run build/portlock --version
}

step_3_namespaces() {
	heading "create a throwaway server and client namespace pair"
	export PORTLOCK=$ROOT/build/portlock PL_SOURCE_DIR=$ROOT
	# lib.sh: namespace helpers and the cleanup trap (EXIT, INT, TERM)
	# shellcheck source=../tests/shell/lib/lib.sh
	. "$ROOT/tests/shell/lib/lib.sh"
	set +u
	# pl_cleanup is not written for errexit: a server's non-zero wait status
	# must not stop it before the namespaces are deleted
	trap 'set +e; pl_cleanup' EXIT
	pl_topology
	echo "server namespace $SRV: $SRV4 $SRV6"
	echo "client namespace $CLI: trusted $TRUST4 $TRUST6, untrusted $UNTRUST4 $UNTRUST6"
	run ip -n "$SRV" -br addr show dev veth-s
}

step_4_servers() {
	heading "start real servers: SMTP on 25 and 2525 (aiosmtpd), SMPP on 2775 (Net::SMPP)"
	local port
	for port in 25 2525; do
		pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l "0.0.0.0:$port"
		pl_bg "$SRV" "$PL_PY" -m aiosmtpd -n -l ":::$port"
	done
	pl_bg "$SRV" perl "$ROOT/tests/peers/smsc.pl" --addr 0.0.0.0 --port 2775
	for port in 25 2525 2775; do
		pl_wait_port "$SRV" "$port" 15
	done
	run ip netns exec "$SRV" ss -Hltn
}

# peek PROTO SRC DST PORT: what answers from SRC (never fails the demo)
peek() {
	ip netns exec "$CLI" "$PL_PY" "$ROOT/demo/peek.py" "$@" || true
}

step_5_exposed() {
	heading "what is exposed now: every source reaches every port"
	peek smtp "$UNTRUST4" "$SRV4" 25
	peek smtp "$UNTRUST6" "$SRV6" 25
	peek smtp "$UNTRUST4" "$SRV4" 2525
	peek smpp "$UNTRUST4" "$SRV4" 2775
	echo "(a scanner reports: SMTP server detected, SMTP on a non-standard port, SMPP server detected)"
}

step_6_check() {
	heading "portlock check: validate the policy, print it normalized"
	sed -e "s|@TRUST4@|$TRUST4|" -e "s|@TRUST6@|$TRUST6|" demo/demo.conf.in >"$PL_TMP/portlock.conf"
	CONF=$PL_TMP/portlock.conf
	grep -v '^#' "$CONF"
	run "$PORTLOCK" -c "$CONF" check
	echo
	echo "a policy with mistakes is refused with file:line for each, exit code 3:"
	printf 'services = (\n  { name = "smtp"; ports = [25, 70000]; allow = ["192.0.2.10/33", "@partners"]; }\n);\n' \
		>"$PL_TMP/broken.conf"
	cat -n "$PL_TMP/broken.conf"
	local rc=0
	run "$PORTLOCK" -c "$PL_TMP/broken.conf" check || rc=$?
	echo "exit code $rc"
	[ "$rc" -eq 3 ] || { echo "demo: expected exit code 3" >&2; return 1; }
}

step_7_export() {
	heading "portlock export: the nftables ruleset this policy means"
	printf '$ %s\n' "$PORTLOCK -c $CONF export > portlock.nft"
	"$PORTLOCK" -c "$CONF" export >"$PL_TMP/portlock.nft"
	cat "$PL_TMP/portlock.nft"
}

step_8_nft_check() {
	heading "nft -c: the kernel of the server namespace validates it (nothing loaded)"
	printf '$ %s\n' "ip netns exec $SRV nft -c -f portlock.nft"
	srv nft -c -f "$PL_TMP/portlock.nft"
	echo "ruleset accepted by the kernel; the server namespace's ruleset is still empty:"
	run ip netns exec "$SRV" nft list ruleset
}

step_8b_audit_before() {
	heading "portlock audit: what a scanner sees now (probes run over loopback, de-privileged)"
	local rc=0
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" audit --fail-on high || rc=$?
	echo "exit code $rc (1: findings at or above --fail-on high)"
}

step_9_plan() {
	heading "portlock plan: the exact change apply would make (dry run)"
	local rc=0
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" plan --exit-code || rc=$?
	echo "exit code $rc (1: changes pending)"
	[ "$rc" -eq 1 ] || { echo "demo: expected exit code 1" >&2; return 1; }
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" plan --check >/dev/null
	echo "plan --check: the kernel validated the whole batch and nothing changed"
}

step_10_apply() {
	heading "portlock apply: one atomic nftables transaction"
	run ip netns exec "$SRV" "$PORTLOCK" -q -c "$CONF" apply
}

step_11_verify() {
	heading "verify: trusted sources still get through, untrusted ones do not"
	echo "-- from the trusted addresses $TRUST4 / $TRUST6:"
	peek smtp "$TRUST4" "$SRV4" 25
	peek smtp "$TRUST6" "$SRV6" 25
	peek smpp "$TRUST4" "$SRV4" 2775
	echo "-- from the untrusted addresses $UNTRUST4 / $UNTRUST6:"
	peek smtp "$UNTRUST4" "$SRV4" 25
	peek smtp "$UNTRUST6" "$SRV6" 25
	peek smpp "$UNTRUST4" "$SRV4" 2775
	peek smtp "$TRUST4" "$SRV4" 2525
	pl_connect "$CLI" "$TRUST4" "$SRV4" 2775 || { echo "demo: trusted SMPP blocked" >&2; return 1; }
	if pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775; then echo "demo: untrusted SMPP reached" >&2; return 1; fi
}

step_11b_audit_after() {
	heading "portlock audit after apply: SMPP is no longer exposed; the stray SMTP port is closed"
	local rc=0
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" audit --fail-on high || rc=$?
	echo "exit code $rc: SMTP on 2525 stays a high finding even though it is closed to every"
	echo "remote source - a second SMTP server on a stray port needs a person to look at it"
}

step_12_in_sync() {
	heading "re-apply: nothing to do; show: the live table with counters"
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" apply
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" show
}

step_13_drift() {
	heading "someone edits the table by hand: plan shows it, apply undoes it"
	run ip netns exec "$SRV" nft add element inet portlock smpp_v4 '{ 203.0.113.0/24 }'
	run ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" plan || true
	run ip netns exec "$SRV" "$PORTLOCK" -q -c "$CONF" apply
	srv "$PORTLOCK" -q -c "$CONF" plan --exit-code ||
		{ echo "demo: the hand edit is still there after apply" >&2; return 1; }
}

step_14_log_revert() {
	heading "every change is journaled; revert restores the exact state before it"
	run ip netns exec "$SRV" "$PORTLOCK" log
	echo "-- what transaction 2 (the hand edit undone) found, as saved in the journal:"
	run ip netns exec "$SRV" "$PORTLOCK" log --show 2 --prior
	run ip netns exec "$SRV" "$PORTLOCK" revert 1
	echo "-- the table is gone again (there was none before transaction 1):"
	run ip netns exec "$SRV" nft list ruleset
	[ -z "$(srv nft list ruleset)" ] || { echo "demo: revert 1 left a ruleset" >&2; return 1; }
	peek smpp "$UNTRUST4" "$SRV4" 2775
	pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775 || { echo "demo: SMPP still blocked after revert" >&2; return 1; }
}

step_15_confirm() {
	heading "commit-confirmed: apply --confirm 3 reverts by itself unless confirmed"
	run ip netns exec "$SRV" "$PORTLOCK" -q -c "$CONF" apply --confirm 3
	if pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775; then
		echo "demo: untrusted SMPP reached under the pending change" >&2
		return 1
	fi
	echo "untrusted SMPP: blocked"
	echo "(no 'portlock confirm' comes; waiting for the watcher)"
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		sleep 1
		[ -z "$(srv nft list ruleset)" ] && break
	done
	pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775 ||
		{ echo "demo: the watcher did not revert by the deadline" >&2; return 1; }
	echo "untrusted SMPP: open again (auto-reverted after ${i} s)"
	run ip netns exec "$SRV" "$PORTLOCK" log --last 2
}

step_16_observe_learn() {
	heading "observe, learn, enforce: who uses SMPP now? (mode = \"observe\": nothing is cut)"
	local other=192.0.2.30
	ip -n "$CLI" addr add $other/24 dev veth-c
	sed -e 's|^  { name = "smpp";.*|  { name = "smpp";  expect = "smpp"; ports = [2775]; allow = ["@trusted"]; mode = "observe"; },|' \
		"$CONF" >"$PL_TMP/observe.conf"
	grep -n smpp "$PL_TMP/observe.conf"
	run ip netns exec "$SRV" "$PORTLOCK" -q -c "$PL_TMP/observe.conf" apply
	echo "-- a partner nobody listed, $UNTRUST4, binds; observe mode lets it through and records it:"
	peek smpp "$UNTRUST4" "$SRV4" 2775
	pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775 || { echo "demo: observe mode cut SMPP" >&2; return 1; }
	run ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/observe.conf" observed smpp
	run ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/observe.conf" observed smpp --learn "$PL_TMP/partners.txt"
	run cat "$PL_TMP/partners.txt"
	grep -qx "$UNTRUST4" "$PL_TMP/partners.txt" || { echo "demo: $UNTRUST4 not learned" >&2; return 1; }
	echo "-- reviewed; enforce with the learned file (allow_file = \"partners.txt\"):"
	sed -e 's|^  { name = "smpp";.*|  { name = "smpp";  expect = "smpp"; ports = [2775]; allow = ["@trusted"]; allow_file = "partners.txt"; },|' \
		"$CONF" >"$PL_TMP/enforce.conf"
	run ip netns exec "$SRV" "$PORTLOCK" -q -c "$PL_TMP/enforce.conf" apply
	pl_connect "$CLI" "$UNTRUST4" "$SRV4" 2775 || { echo "demo: the learned partner is cut" >&2; return 1; }
	echo "learned partner $UNTRUST4: connects"
	if pl_connect "$CLI" "$other" "$SRV4" 2775; then echo "demo: $other reached SMPP" >&2; return 1; fi
	echo "$other (never seen): blocked"
	heading "temporary access: allow smpp $other --for 3s (the kernel ends it, no daemon)"
	run ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/enforce.conf" allow smpp $other --for 3s
	pl_connect "$CLI" "$other" "$SRV4" 2775 || { echo "demo: the grant did not let $other in" >&2; return 1; }
	echo "$other: connects"
	sleep 4
	if pl_connect "$CLI" "$other" "$SRV4" 2775; then echo "demo: the grant did not expire" >&2; return 1; fi
	echo "$other after 4 s: blocked again"
	run ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/enforce.conf" show --stats
}

step_99_done() {
	heading "done: namespaces and servers are removed on exit"
}

STEPS=(step_1_deps step_2_build step_3_namespaces step_4_servers step_5_exposed
	step_6_check step_7_export step_8_nft_check step_8b_audit_before step_9_plan step_10_apply
	step_11_verify step_11b_audit_after
	step_12_in_sync step_13_drift step_14_log_revert step_15_confirm step_16_observe_learn
	step_99_done)

for s in "${STEPS[@]}"; do
	"$s"
done
echo "demo: all ${#STEPS[@]} steps ran and every check passed"
