#!/bin/bash
# contrib/ansible: the playbook passes --syntax-check and ansible-lint, and the role runs for
# real against a local connection inside a throwaway namespace, with the
# policy path, state dir and binary overridden (nothing of the host's /etc,
# state or ruleset is touched; the package is not installed):
#   --check --diff  shows the policy file and portlock's plan, changes nothing
#   a run           templates the policy, applies it (--confirm and a confirm
#                   after the reachability check, when portlock has them),
#                   and the trusted client connects, the untrusted does not
#   a second run    changes nothing
#   a per-host allowlist change shows as a plan diff, then applies
#   an invalid policy fails the play; the file and the table stay as they were
#   the audit of every host lands in one JSON report on the controller
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
command -v ansible-playbook >/dev/null || pl_die "ansible-playbook is missing (tests/deps/ship.txt)"

A=$PL_SOURCE_DIR/contrib/ansible
export ANSIBLE_HOME=$PL_TMP/ansible ANSIBLE_LOCAL_TEMP=$PL_TMP/ansible/tmp ANSIBLE_REMOTE_TEMP=$PL_TMP/ansible/rtmp
export ANSIBLE_ROLES_PATH=$A/roles ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_PYTHON_INTERPRETER=$PL_PY ANSIBLE_DEPRECATION_WARNINGS=0

# 1. syntax
ansible-playbook -i "$A/inventory.example.yml" "$A/site.yml" --syntax-check >"$PL_TMP/syntax" 2>&1 ||
	pl_fail "ansible-playbook --syntax-check failed: $(cat "$PL_TMP/syntax")"

# and ansible-lint's production profile (offline; its cache in the temp dir)
(cd "$A" && HOME=$PL_TMP NO_COLOR=1 XDG_CACHE_HOME=$PL_TMP/cache ansible-lint --offline -p site.yml roles/portlock) \
	>"$PL_TMP/lint" 2>&1 || pl_fail "ansible-lint: $(tail -30 "$PL_TMP/lint")"

has_cmd() { "$PORTLOCK" --help | sed -n '/^Commands:/,/^$/p' | grep -q "^  $1 "; }
confirm=0
if "$PORTLOCK" apply --help | grep -q -- '--confirm' && has_cmd confirm; then
	confirm=30
else
	pl_log "GAP: 'apply --confirm'/'confirm' do not exist yet; the role applies without a deadline"
fi
wait=30
if ! "$PORTLOCK" --help | grep -q -- '--wait'; then
	wait=0
	pl_log "GAP: 'portlock --wait' does not exist yet; the role runs without it"
fi
audit=false
if has_cmd audit; then
	audit=true
else
	pl_log "GAP: 'audit' does not exist yet; the audit report is not collected"
fi

pl_topology
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775
pl_wait_port "$SRV" 2775

CONF=$PL_TMP/etc/portlock/portlock.conf
ST=$PL_TMP/state
REPORT=$PL_TMP/report.json
# inventory: one host, reached over the local connection; group vars hold
# the services, host vars the per-host allowlist
inventory() { # TRUSTED4 TRUSTED6 [extra host var line]
	cat >"$PL_TMP/inventory.yml" <<INV
all:
  children:
    portlock:
      vars:
        ansible_connection: local
        portlock_install_package: false
        portlock_binary: $PORTLOCK
        portlock_config_path: $CONF
        portlock_state_dir: $ST
        portlock_confirm_seconds: $confirm
        portlock_lock_wait: $wait
        portlock_audit_collect: $audit
        portlock_audit_report: $REPORT
        portlock_audit_args: ["--no-probe"]
        portlock_services:
          - {name: smpp, expect: smpp, ports: [2775], allow: ["@partners"]}
      hosts:
        smsc1:
          portlock_host_lists:
            partners: ["$1", "$2"]
${3:-}
INV
}
play() { # ARGS...: run site.yml in the server namespace; output in $PL_TMP/play
	ip netns exec "$SRV" ansible-playbook -i "$PL_TMP/inventory.yml" "$A/site.yml" "$@" >"$PL_TMP/play" 2>&1
}
recap() { # KEY: the count of KEY in the play recap
	grep -oE "$1=[0-9]+" "$PL_TMP/play" | tail -1 | cut -d= -f2
}
table() { ip netns exec "$SRV" nft list table inet portlock 2>/dev/null; }

scratch() { find /tmp -maxdepth 1 -name 'ansible.*.portlock.conf' | sort; }
scratch >"$PL_TMP/scratch.before"

# 2. --check --diff: the policy file and the plan, nothing changed
inventory "$TRUST4/32" "$TRUST6/128"
play --check --diff || pl_fail "check run failed: $(tail -30 "$PL_TMP/play")"
pl_expect_grep 'partners = \["192\.0\.2\.10/32", "2001:db8:1::10/128"\];' "$PL_TMP/play"
pl_expect_grep '^\+ element inet portlock smpp_v4 \{ 192\.0\.2\.10 \}' "$PL_TMP/play"
pl_expect_grep '^\+ table inet portlock' "$PL_TMP/play"
[ "$(recap changed)" -ge 1 ] || pl_fail "check run reports no change"
[ -e "$CONF" ] && pl_fail "check run wrote the policy file"
grep -q 'Remove the dry run.s scratch file' "$PL_TMP/play" || pl_fail "check run did not remove its scratch file"
table >/dev/null && pl_fail "check run created the table"
[ -e "$REPORT" ] && pl_fail "check run wrote the audit report on the controller"
# the diff is headed with the configured table, and the module read portlock's JSON
pl_expect_grep '^--- kernel: table inet portlock$' "$PL_TMP/play"

# 3. the real run
play || pl_fail "run failed: $(tail -30 "$PL_TMP/play")"
[ -f "$CONF" ] || pl_fail "no policy file at $CONF"
pl_expect_rc 0 "$PORTLOCK" -c "$CONF" check
pl_expect_rc 0 ip netns exec "$SRV" "$PORTLOCK" -c "$CONF" --state-dir "$ST" plan --exit-code
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
pl_expect_connect "$CLI" "$TRUST6" "$SRV6" 2775
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$UNTRUST6" "$SRV6" 2775
if [ "$confirm" -gt 0 ]; then
	pl_expect_grep 'Confirm the transaction' "$PL_TMP/play"
	"$PORTLOCK" --state-dir "$ST" log --json | "$PL_PY" -c \
		'import json,sys; r=json.load(sys.stdin)["transactions"]; sys.exit(not r or r[-1]["state"] != "confirmed")' ||
		pl_fail "the last transaction is not confirmed: $("$PORTLOCK" --state-dir "$ST" log)"
fi

# 4. again: nothing to do
play || pl_fail "second run failed: $(tail -30 "$PL_TMP/play")"
[ "$(recap changed)" = 0 ] || pl_fail "second run changed something: $(grep -B3 '^changed' "$PL_TMP/play")"

# 5. the host's allowlist changes: plan diff in check mode, then applied
inventory "$UNTRUST4/32" "$UNTRUST6/128"
[ -e "$REPORT" ] && cp -p "$REPORT" "$PL_TMP/report.before"
play --check --diff || pl_fail "check run failed: $(tail -30 "$PL_TMP/play")"
if [ -e "$PL_TMP/report.before" ]; then
	cmp -s "$REPORT" "$PL_TMP/report.before" && [ ! "$REPORT" -nt "$PL_TMP/report.before" ] ||
		pl_fail "check run rewrote the audit report on the controller"
fi
pl_expect_grep '^- element inet portlock smpp_v4 \{ 192\.0\.2\.10 \}' "$PL_TMP/play"
pl_expect_grep '^\+ element inet portlock smpp_v4 \{ 192\.0\.2\.20 \}' "$PL_TMP/play"
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
play || pl_fail "run failed: $(tail -30 "$PL_TMP/play")"
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$TRUST4" "$SRV4" 2775
pl_expect_connect "$CLI" "$UNTRUST6" "$SRV6" 2775
pl_expect_blocked "$CLI" "$TRUST6" "$SRV6" 2775

# 6. an invalid policy: the play fails at validation, nothing changes
cp "$CONF" "$PL_TMP/conf.before"
table >"$PL_TMP/table.before"
inventory "$UNTRUST4/33" "$UNTRUST6/128"
play && pl_fail "a run with an invalid prefix succeeded"
pl_expect_grep 'failed=1' "$PL_TMP/play"
cmp -s "$CONF" "$PL_TMP/conf.before" || pl_fail "an invalid policy replaced the policy file"
table | cmp -s - "$PL_TMP/table.before" || pl_fail "an invalid policy changed the table"
# in check mode too
play --check --diff && pl_fail "a check run with an invalid prefix succeeded"

# the check runs (a failed one too) left no scratch policy behind
scratch | diff "$PL_TMP/scratch.before" - >/dev/null || pl_fail "check runs left files: $(scratch)"

# 7. the reachability check fails: not confirmed, reverted at the deadline
if [ "$confirm" -gt 0 ]; then
	inventory "$TRUST4/32" "$TRUST6/128" '          portlock_confirm_seconds: 3
          portlock_reachability_timeout: 2
          portlock_reachability_checks: [{host: 127.0.0.1, port: 9}]'
	play && pl_fail "a run whose reachability check fails succeeded"
	pl_expect_grep 'not confirmed' "$PL_TMP/play"
	sleep 5
	pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
	pl_expect_blocked "$CLI" "$TRUST4" "$SRV4" 2775
fi

# 7b. another table: the check run's diff names it (not a fixed name)
inventory "$TRUST4/32" "$TRUST6/128" '          portlock_table: pl_fleet'
play --check --diff || pl_fail "check run with portlock_table failed: $(tail -30 "$PL_TMP/play")"
pl_expect_grep '^--- kernel: table inet pl_fleet$' "$PL_TMP/play"
pl_expect_grep '^\+ table inet pl_fleet' "$PL_TMP/play"
grep -q 'kernel: table inet portlock' "$PL_TMP/play" && pl_fail "the diff names table portlock for pl_fleet"
ip netns exec "$SRV" nft list table inet pl_fleet >/dev/null 2>&1 && pl_fail "check run created table pl_fleet"

# 8. the audit report on the controller
if [ "$audit" = true ]; then
	inventory "$UNTRUST4/32" "$UNTRUST6/128"
	rm -f "$REPORT"
	play || pl_fail "run failed: $(tail -30 "$PL_TMP/play")"
	"$PL_PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not ("smsc1" in r and "audit" in r["smsc1"]))' \
		"$REPORT" || pl_fail "the report lacks smsc1's audit: $(head -c 2000 "$REPORT")"
fi
pl_done
