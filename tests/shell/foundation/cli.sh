#!/bin/bash
# Command-line contract: exit codes (portlock(8) EXIT STATUS), messages with
# file:line on stderr, nothing on stdout when the config is bad, and
# `check --json` output that parses and has the documented keys.
. "$(dirname "$0")/../lib/lib.sh"

GOOD=$PL_SOURCE_DIR/rulesets/smpp-gateway.conf

# help and version
pl_expect_rc 0 "$PORTLOCK" --help
pl_expect_grep '^Usage: portlock' "$PL_TMP/out"
pl_expect_grep 'check' "$PL_TMP/out"
pl_expect_grep 'export' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" -h
pl_expect_rc 0 "$PORTLOCK" --version
pl_expect_grep '^portlock [0-9]+\.[0-9]+\.[0-9]+' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" -V
pl_expect_rc 0 "$PORTLOCK" check --help
pl_expect_grep 'Usage: portlock .*check' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" export -h

# bad command line: exit 2, a message on stderr
pl_expect_rc 2 "$PORTLOCK" --bogus check
pl_expect_grep "option '--bogus' is unknown" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" -Z check
pl_expect_rc 2 "$PORTLOCK" -c
pl_expect_grep 'needs an argument' "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" frobnicate
pl_expect_grep "unknown command 'frobnicate'" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK"
pl_expect_rc 2 "$PORTLOCK" -c "$GOOD" check --bogus
pl_expect_grep "check: unknown option '--bogus'" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" -c "$GOOD" check extra
pl_expect_grep "unexpected argument 'extra'" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" -c "$GOOD" export --bogus

# a good config
pl_expect_rc 0 "$PORTLOCK" -c "$GOOD" check
pl_expect_grep '^table +inet portlock' "$PL_TMP/out"
PORTLOCK_CONFIG=$GOOD pl_expect_rc 0 "$PORTLOCK" check

# bad config: exit 3, every error with file:line on stderr, nothing on stdout
cat >"$PL_TMP/bad.conf" <<'CONF'
portlock = { actoin = "drop"; };
services = (
  { name = "smtp"; ports = [25, 70000]; allow = ["192.0.2.0/33"]; },
  { name = "smpp"; ports = [25]; allow = ["@partners"]; }
);
CONF
for cmd in check export; do
	pl_expect_rc 3 "$PORTLOCK" -c "$PL_TMP/bad.conf" $cmd
	[ -s "$PL_TMP/out" ] && pl_fail "$cmd with a bad config wrote to stdout: $(head -5 "$PL_TMP/out")"
	pl_expect_grep "^portlock: $PL_TMP/bad.conf:1: unknown key 'actoin' in 'portlock'; did you mean 'action'\?" "$PL_TMP/err"
	pl_expect_grep "^portlock: $PL_TMP/bad.conf:3: service 'smtp': port 70000 is out of range" "$PL_TMP/err"
	pl_expect_grep "^portlock: $PL_TMP/bad.conf:3: '192.0.2.0/33' is not a valid prefix" "$PL_TMP/err"
	pl_expect_grep "^portlock: $PL_TMP/bad.conf:4: service 'smpp': list 'partners' does not exist" "$PL_TMP/err"
	pl_expect_grep "^portlock: $PL_TMP/bad.conf:4: port 25/tcp of service 'smpp' is already in service 'smtp'" "$PL_TMP/err"
	pl_expect_grep '^portlock: 5 errors$' "$PL_TMP/err"
done
# --json does not change the error path
pl_expect_rc 3 "$PORTLOCK" --json -c "$PL_TMP/bad.conf" check
[ -s "$PL_TMP/out" ] && pl_fail "check --json with a bad config wrote to stdout"

# many errors: all counted, the first 20 shown, the rest summarized
{
	printf 'services = ( { name = "a"; ports = [25]; allow = [\n'
	for i in $(seq 1 25); do printf '  "192.0.2.%d/40",\n' "$i"; done
	printf '  "192.0.2.0/24"]; } );\n'
} >"$PL_TMP/many.conf"
pl_expect_rc 3 "$PORTLOCK" -c "$PL_TMP/many.conf" check
[ "$(grep -c "is not a valid prefix" "$PL_TMP/err")" -eq 20 ] ||
	pl_fail "expected 20 prefix errors shown: $(cat "$PL_TMP/err")"
pl_expect_grep "^portlock: $PL_TMP/many.conf:2: '192.0.2.1/40' is not a valid prefix" "$PL_TMP/err"
pl_expect_grep '^portlock: \.\.\. and 5 more messages not shown$' "$PL_TMP/err"
pl_expect_grep '^portlock: 25 errors$' "$PL_TMP/err"

# syntax error and missing file: exit 3 too
printf 'services = (\n  { name = "a"; ports = [25,, 26]; }\n);\n' >"$PL_TMP/syntax.conf"
pl_expect_rc 3 "$PORTLOCK" -c "$PL_TMP/syntax.conf" check
pl_expect_grep "^portlock: $PL_TMP/syntax.conf:2: syntax error" "$PL_TMP/err"
pl_expect_rc 3 "$PORTLOCK" -c "$PL_TMP/missing.conf" check
pl_expect_grep "^portlock: $PL_TMP/missing.conf: cannot read config: No such file or directory" "$PL_TMP/err"

# warnings go to stderr and keep exit 0; -q silences them
printf 'services = ( { name = "a"; ports = [25]; allow = ["192.0.2.1/24"]; } );\n' >"$PL_TMP/warn.conf"
pl_expect_rc 0 "$PORTLOCK" -c "$PL_TMP/warn.conf" check
pl_expect_grep "^portlock: $PL_TMP/warn.conf:1: warning: '192.0.2.1/24' has host bits set; using 192.0.2.0/24" "$PL_TMP/err"
pl_expect_rc 0 "$PORTLOCK" -q -c "$PL_TMP/warn.conf" check
[ -s "$PL_TMP/err" ] && pl_fail "-q still printed: $(cat "$PL_TMP/err")"

# check --json parses and has the expected keys (global and per-command flag)
for args in "--json check" "check --json" "-j check"; do
	# shellcheck disable=SC2086
	pl_expect_rc 0 "$PORTLOCK" -c "$GOOD" $args
	"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "'$args' output is not JSON"
done
"$PL_PY" - "$PL_TMP/out" <<'PY' || pl_fail "check --json lacks expected keys or values"
import json, sys
d = json.load(open(sys.argv[1]))
want = {"config", "policy_sha256", "table", "family", "action", "hooks", "log",
        "loopback", "journal_keep", "services"}
missing = want - d.keys()
assert not missing, missing
assert d["table"] == "portlock" and d["family"] == "inet" and d["action"] == "drop"
assert d["hooks"] == ["input", "forward"]
assert set(d["log"]) == {"enabled", "prefix", "rate"}
assert len(d["policy_sha256"]) == 64
svc = {s["name"]: s for s in d["services"]}
assert set(svc) == {"smpp", "smpp_tls"}, svc.keys()
for s in svc.values():
    for k in ("name", "expect", "proto", "ports", "line", "sources", "ipv4", "ipv6"):
        assert k in s, k
assert svc["smpp"]["ports"] == [2775] and svc["smpp_tls"]["ports"] == [3550]
assert "192.0.2.0/24" in svc["smpp"]["ipv4"]
assert "2001:db8:100::/48" in svc["smpp"]["ipv6"]
PY

# GNU options: the global options after the command too, options and
# operands in any order, no short option with two meanings
pl_expect_rc 0 "$PORTLOCK" check -c "$GOOD" --json
"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "'check -c FILE --json' output is not JSON"
pl_expect_rc 0 "$PORTLOCK" check --config="$GOOD" -j -q
"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "'check --config=FILE -j -q' output is not JSON"
# -v after the command: all ranges, not "(-v shows all)"
big=$PL_TMP/big.conf
{
	printf 'services = ( { name = "a"; ports = [25]; allow = [\n'
	for i in $(seq 1 11); do printf '  "192.0.%d.0/24",\n' $((i * 2)); done
	printf '  "10.0.0.0/8"]; } );\n'
} >"$big"
pl_expect_rc 0 "$PORTLOCK" check -c "$big"
pl_expect_grep '\(-v shows all\)' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" check -v -c "$big"
grep -q 'shows all' "$PL_TMP/out" && pl_fail "'check -v' still cut the list: $(cat "$PL_TMP/out")"
[ "$(grep -c '^    ipv4  ' "$PL_TMP/out")" -eq 12 ] || pl_fail "'check -v' did not list 12 ranges: $(cat "$PL_TMP/out")"
pl_expect_rc 0 "$PORTLOCK" check -c "$big" --verbose
[ "$(grep -c '^    ipv4  ' "$PL_TMP/out")" -eq 12 ] || pl_fail "'check --verbose' did not list 12 ranges"
# -q after the command
pl_expect_rc 0 "$PORTLOCK" check -c "$PL_TMP/warn.conf" -q
[ -s "$PL_TMP/err" ] && pl_fail "'check -q' still printed: $(cat "$PL_TMP/err")"
# --state-dir and --wait after the command
pl_expect_rc 0 "$PORTLOCK" log --state-dir "$PL_TMP/nostate" --wait 1
pl_expect_rc 2 "$PORTLOCK" log --wait soon
pl_expect_grep "^portlock: --wait 'soon' is not a number of seconds" "$PL_TMP/err"
# usage errors after the command name the command and say what is wrong
pl_expect_rc 2 "$PORTLOCK" check --config
pl_expect_grep "^portlock: check: option '--config' needs an argument" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" log --last
pl_expect_grep "^portlock: log: option '--last' needs an argument" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" check --json=yes
pl_expect_grep "^portlock: check: option '--json' takes no argument" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" apply --conf x
pl_expect_grep "^portlock: apply: option '--conf' is ambiguous \(--confirm, --config\)" "$PL_TMP/err"
[ "$(wc -l <"$PL_TMP/err")" -eq 1 ] || pl_fail "one usage error, one message: $(cat "$PL_TMP/err")"
pl_expect_rc 2 "$PORTLOCK" check -- -v
pl_expect_grep "^portlock: check: unexpected argument '-v'" "$PL_TMP/err"
# -c after apply is --config, not --confirm (which has no short form): a
# number is a config file that does not exist, and nothing is applied
pl_expect_rc 3 "$PORTLOCK" apply -c 60
pl_expect_grep "^portlock: 60: cannot read config" "$PL_TMP/err"
"$PORTLOCK" apply --help >"$PL_TMP/out"
grep -q -- '-c, --confirm' "$PL_TMP/out" && pl_fail "apply --help still offers -c for --confirm"
pl_expect_grep '^ +--confirm S' "$PL_TMP/out"
pl_expect_rc 2 "$PORTLOCK" apply --confirm 0
pl_expect_grep "^portlock: apply: --confirm '0' is not a number of seconds \(1 to 604800\)" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" revert --confirm
pl_expect_grep "^portlock: revert: option '--confirm' needs an argument" "$PL_TMP/err"
# options after the operand (revert ID --dry-run): parsed as options
pl_expect_rc 2 "$PORTLOCK" revert 7 --exit-code
pl_expect_grep "^portlock: revert: --exit-code needs --dry-run" "$PL_TMP/err"
# a port out of range says so
pl_expect_rc 2 "$PORTLOCK" probe host.example:70000
pl_expect_grep "^portlock: probe: target 'host.example:70000': port 70000 is out of range \(1 to 65535\)" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" probe 192.0.2.1:0 --connect-timeout 100
pl_expect_grep "port 0 is out of range" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" probe host.example:smtp
pl_expect_grep "is not HOST:PORT" "$PL_TMP/err"
# an option after a target is an option, not a target
pl_expect_rc 2 "$PORTLOCK" probe --source 192.0.2.7 192.0.2.1:25 --connect-timeout soon
pl_expect_grep "^portlock: probe: --connect-timeout 'soon' is not 1..3600000" "$PL_TMP/err"
grep -q "target '--connect-timeout'" "$PL_TMP/err" && pl_fail "probe took an option for a target"

# in a namespace: plan -v after the command, and a --confirm deadline that
# is not today is printed with its date
pl_require_root
NS=plx$PL_TAG
pl_netns "$NS"
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
printf 'services = ( { name = "smtp"; ports = [2525]; allow = ["192.0.2.0/24"]; } );\n' >"$PL_TMP/p.conf"
pl_expect_rc 0 P plan -c "$PL_TMP/p.conf" -v --json
"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "plan -v --json is not JSON"
pl_expect_rc 1 P plan --exit-code -c "$PL_TMP/p.conf" -v
pl_expect_grep '^plan for table inet portlock' "$PL_TMP/out"
pl_expect_grep '^portlock: batch of [0-9]+ messages' "$PL_TMP/err"
pl_expect_rc 0 P apply -c "$PL_TMP/p.conf" --confirm 200000
day=$(date -d @$(($(date +%s) + 200000)) +%F)
pl_expect_grep "reverts at $day [0-9]{2}:[0-9]{2}:[0-9]{2} unless" "$PL_TMP/out"
pl_expect_rc 0 P confirm
pl_expect_rc 0 P revert --confirm 30 -c "$PL_TMP/p.conf"
pl_expect_grep "reverts at [0-9]{2}:[0-9]{2}:[0-9]{2} unless" "$PL_TMP/out"
grep -q "reverts at $(date +%F)" "$PL_TMP/out" && pl_fail "a deadline of today printed its date"
pl_expect_rc 0 P confirm

# export prints a script nft can read (syntax only here; the kernel check
# is rulesets_nft_check.sh)
pl_expect_rc 0 "$PORTLOCK" -c "$GOOD" export
pl_expect_grep '^table inet portlock \{' "$PL_TMP/out"
pl_expect_grep '^#!/usr/sbin/nft -f' "$PL_TMP/out"
pl_done
