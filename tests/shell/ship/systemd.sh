#!/bin/bash
# contrib/systemd: the units pass "systemd-analyze verify" (which also checks
# that ExecStart binaries exist and that the Documentation= man pages are
# found), have the ordering and restart coupling with nftables.service the
# issue asks for, and their command lines do what they promise when run in
# a throwaway namespace as systemd would run them at boot:
#   boot                   ExecStartPre (recover) then ExecStart (apply)
#   systemctl restart nftables  a "flush ruleset" file loaded, then (PartOf=)
#                          ExecStart again: the table is back
#   systemctl reload nftables   the same through ReloadPropagatedFrom=/ExecReload
#   an expired --confirm deadline found at boot is reverted by ExecStartPre
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

U=$PL_TMP/units
mkdir -p "$U" "$PL_TMP/sbin" "$PL_TMP/man/man8" "$PL_TMP/man/man5"
ln -s "$PORTLOCK" "$PL_TMP/sbin/portlock"
cp "$PL_SOURCE_DIR/man/portlock.8" "$PL_TMP/man/man8/"
cp "$PL_SOURCE_DIR/man/portlock.conf.5" "$PL_TMP/man/man5/"
units=(portlock.service portlock-audit.service portlock-audit.timer)
for u in "${units[@]}"; do
	sed "s|@SBINDIR@|$PL_TMP/sbin|g" "$PL_SOURCE_DIR/contrib/systemd/$u.in" >"$U/$u"
done

(cd "$U" && MANPATH=$PL_TMP/man systemd-analyze verify "${units[@]}") >"$PL_TMP/verify" 2>&1 ||
	pl_fail "systemd-analyze verify failed: $(cat "$PL_TMP/verify")"
[ -s "$PL_TMP/verify" ] && pl_fail "systemd-analyze verify warns: $(cat "$PL_TMP/verify")"
# verify does fail on a broken unit (the check above is not vacuous)
sed 's|^ExecStart=.*|ExecStart=/nonexistent/portlock apply|' "$U/portlock.service" >"$PL_TMP/broken.service"
(cd "$PL_TMP" && MANPATH=$PL_TMP/man systemd-analyze verify broken.service) >/dev/null 2>&1 &&
	pl_fail "systemd-analyze verify accepts a unit whose binary is missing"

# the properties the issue asks for, as systemd parses them
prop() { # UNIT KEY: the value of KEY in UNIT's section (last assignment wins)
	awk -F= -v k="$2" '$1 == k {v = substr($0, length(k) + 2)} END {print v}' "$U/$1"
}
S=portlock.service
[ "$(prop $S Type)" = oneshot ] || pl_fail "$S: Type is not oneshot"
[ "$(prop $S RemainAfterExit)" = yes ] || pl_fail "$S: RemainAfterExit is not yes"
[[ " $(prop $S After) " == *" nftables.service "* ]] || pl_fail "$S: not After=nftables.service"
[ "$(prop $S PartOf)" = nftables.service ] || pl_fail "$S: not PartOf=nftables.service"
[ "$(prop $S ReloadPropagatedFrom)" = nftables.service ] || pl_fail "$S: no ReloadPropagatedFrom=nftables.service"
[[ " $(prop $S Before) " == *" network-pre.target "* ]] || pl_fail "$S: not Before=network-pre.target"
# "-": a failed recover (full state dir, safe state) must not stop the apply
[ "$(prop $S ExecStartPre)" = "-$PL_TMP/sbin/portlock --wait 60 recover" ] ||
	pl_fail "$S: ExecStartPre is not '-portlock --wait 60 recover'"
# fail safe, not open: a full or read-only state dir does not keep the policy out
[ "$(prop $S ExecStart)" = "$PL_TMP/sbin/portlock --wait 60 apply --boot" ] ||
	pl_fail "$S: ExecStart is not 'portlock --wait 60 apply --boot'"
grep -q '^ExecStop=' "$U/$S" && pl_fail "$S: ExecStop would open the ports when nftables restarts"
[ "$(prop $S WantedBy)" = sysinit.target ] || pl_fail "$S: not WantedBy=sysinit.target"
[ "$(prop portlock-audit.timer OnCalendar)" = daily ] || pl_fail "timer: OnCalendar is not daily"
[ "$(prop portlock-audit.timer Persistent)" = true ] || pl_fail "timer: not Persistent"
[[ "$(prop portlock-audit.service ExecStart)" == "$PL_TMP/sbin/portlock audit "* ]] ||
	pl_fail "portlock-audit.service does not run portlock audit"
# the audit's findings land in the journal: stdout is not redirected elsewhere
grep -qE '^Standard(Output|Error)=' "$U/portlock-audit.service" && pl_fail "audit output is not left to the journal"

# run a unit's Exec lines of KEY the way systemd would (no shell), in NS, with
# the policy and state dir the binary takes from its environment, and with
# the unit's CapabilityBoundingSet= and NoNewPrivileges= (setpriv: as for a
# root service, the bounding set becomes what the process may hold), so that
# a missing capability shows here
has_cmd() { "$PORTLOCK" --help | sed -n '/^Commands:/,/^$/p' | grep -q "^  $1 "; }
run_key() { # NS KEY [UNIT]: exit codes other than 0 fail, unless OK_RC lists them
	local line rc
	while IFS= read -r line; do
		line=${line#*=}
		line=${line#-}
		if [[ $line == *" recover" ]] && ! has_cmd recover; then
			pl_log "GAP: 'portlock recover' does not exist yet; ExecStartPre not run"
			continue
		fi
		if [[ $line == *" --wait "* ]] && ! "$PORTLOCK" --help | grep -q -- '--wait'; then
			pl_log "GAP: 'portlock --wait' does not exist yet; run without it"
			line=$(sed -E 's/ --wait [0-9]+//' <<<"$line")
		fi
		local unit=$U/${3:-$S} caps nnp=()
		caps=$(prop "${3:-$S}" CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_/,+/p' | tr -d '\n')
		[ "$(prop "${3:-$S}" NoNewPrivileges)" = yes ] && nnp=(--no-new-privs)
		[ -n "$caps" ] || pl_fail "${unit##*/} has no CapabilityBoundingSet"
		# shellcheck disable=SC2086  # systemd splits on spaces too
		PORTLOCK_CONFIG=$PL_TMP/p.conf PORTLOCK_STATE_DIR=$PL_TMP/state ip netns exec "$1" \
			setpriv --bounding-set "-all$caps" "${nnp[@]}" -- $line \
			>"$PL_TMP/exec.out" 2>&1
		rc=$?
		[[ " 0 ${OK_RC:-} " == *" $rc "* ]] || pl_fail "$2=$line exited $rc: $(tail -5 "$PL_TMP/exec.out")"
	done < <(grep "^$2=" "$U/${3:-$S}")
}
in_sync() { # NS: the table is there and matches the policy
	PORTLOCK_CONFIG=$PL_TMP/p.conf PORTLOCK_STATE_DIR=$PL_TMP/state \
		ip netns exec "$1" "$PORTLOCK" plan --exit-code >"$PL_TMP/plan" 2>&1
}
cat >"$PL_TMP/p.conf" <<'CONF'
services = ( { name = "smtp"; expect = "smtp"; ports = [2525]; allow = ["192.0.2.0/24"]; } );
CONF
# the ruleset file nftables.service loads, as Debian ships it
cat >"$PL_TMP/nftables.conf" <<'NFT'
flush ruleset
table inet filter {
	chain input { type filter hook input priority filter; policy accept; }
}
NFT

# boot
NS=pl$PL_TAG
pl_netns "$NS"
ip netns exec "$NS" nft -f "$PL_TMP/nftables.conf" || pl_fail "cannot load nftables.conf"
run_key "$NS" ExecStartPre
run_key "$NS" ExecStart
in_sync "$NS" || pl_fail "after boot the table is not in sync: $(cat "$PL_TMP/plan")"
# systemctl restart nftables: flush ruleset removes the table, PartOf= starts us again
ip netns exec "$NS" nft -f "$PL_TMP/nftables.conf"
ip netns exec "$NS" nft list table inet portlock >/dev/null 2>&1 && pl_fail "flush ruleset left the table"
run_key "$NS" ExecStartPre
run_key "$NS" ExecStart
in_sync "$NS" || pl_fail "after restarting nftables the table is not back: $(cat "$PL_TMP/plan")"
ip netns exec "$NS" nft list table inet filter >/dev/null || pl_fail "nftables' own table is gone"
# systemctl reload nftables
ip netns exec "$NS" nft -f "$PL_TMP/nftables.conf"
run_key "$NS" ExecReload
in_sync "$NS" || pl_fail "after reloading nftables the table is not back: $(cat "$PL_TMP/plan")"
# reload with nothing to do changes nothing and succeeds
run_key "$NS" ExecReload

# the daily audit (portlock-audit.service, started by the timer): its
# findings and summary go to standard output, i.e. the journal; exit 1 when
# one is high (the unit fails), 0 otherwise
if has_cmd audit; then
	# a listener on the policy's port: the probe runs (its child drops to
	# nobody, which needs the unit's SETUID, SETGID and SETPCAP)
	pl_bg "$NS" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2525
	pl_wait_port "$NS" 2525
	OK_RC=1 run_key "$NS" ExecStart portlock-audit.service
	pl_expect_grep '^[0-9]+ findings?: [0-9]+ high' "$PL_TMP/exec.out"
	pl_expect_grep 'expect-mismatch|2525' "$PL_TMP/exec.out"
	grep -q 'probe process failed' "$PL_TMP/exec.out" && pl_fail "the probe failed under the unit's capabilities"
else
	pl_log "GAP: 'audit' does not exist yet; portlock-audit.service's command not run"
fi

# an expired --confirm deadline found at boot
if has_cmd recover && "$PORTLOCK" apply --help | grep -q -- '--confirm'; then
	cat >"$PL_TMP/q.conf" <<'CONF'
services = ( { name = "smtp"; ports = [2525]; allow = ["198.51.100.0/24"]; } );
CONF
	OLD=plo$PL_TAG
	pl_netns "$OLD"
	PORTLOCK_STATE_DIR=$PL_TMP/state ip netns exec "$OLD" "$PORTLOCK" -c "$PL_TMP/q.conf" apply --confirm 2 \
		>"$PL_TMP/confirm.out" 2>&1 || pl_fail "apply --confirm failed: $(cat "$PL_TMP/confirm.out")"
	# power loss: the watcher dies with the machine, before the deadline
	ip netns pids "$OLD" | xargs -r kill -9
	sleep 3
	pending=$("$PORTLOCK" --state-dir "$PL_TMP/state" log --json | "$PL_PY" -c \
		'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["transactions"] if r["state"] == "pending"))')
	[ -n "$pending" ] || pl_fail "no pending transaction after apply --confirm and a lost watcher"
	BOOT=plb$PL_TAG
	pl_netns "$BOOT"
	run_key "$BOOT" ExecStartPre
	"$PORTLOCK" --state-dir "$PL_TMP/state" log --json >"$PL_TMP/log.json"
	for id in $pending; do
		"$PL_PY" -c 'import json,sys; r=[r for r in json.load(open(sys.argv[1]))["transactions"] if r["id"]==int(sys.argv[2])][0]; sys.exit(r["state"] != "reverted")' \
			"$PL_TMP/log.json" "$id" || pl_fail "transaction $id is not reverted after recover at boot"
	done
	run_key "$BOOT" ExecStart
	in_sync "$BOOT" || pl_fail "after recover and apply at boot the table is not in sync"
else
	pl_log "GAP: 'recover' or 'apply --confirm' does not exist yet; expired-deadline boot not exercised"
fi
pl_done
