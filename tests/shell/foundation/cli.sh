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

# export prints a script nft can read (syntax only here; the kernel check
# is rulesets_nft_check.sh)
pl_expect_rc 0 "$PORTLOCK" -c "$GOOD" export
pl_expect_grep '^table inet portlock \{' "$PL_TMP/out"
pl_expect_grep '^#!/usr/sbin/nft -f' "$PL_TMP/out"
pl_done
