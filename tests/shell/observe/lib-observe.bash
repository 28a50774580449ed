# shellcheck shell=bash
# Helpers of the observe tests: real SMTP sessions (python3's smtplib against
# Debian's python3-aiosmtpd) from a chosen source, and an independent packet
# count (a table of the test's own, hooked before portlock's) to check the
# seen sets' counters against.
. "$(dirname "$0")/../lib/lib.sh"
PEERS=$PL_SOURCE_DIR/tests/peers
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

# obs_smtp NS SRC DST PORT: one SMTP session (EHLO, QUIT) from SRC; 0 when it completed.
obs_smtp() {
	ip netns exec "$1" "$PL_PY" - "$2" "$3" "$4" <<'PY'
import smtplib, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    s = smtplib.SMTP(dst, port, source_address=(src, 0), timeout=2)
    s.ehlo("observe.test")
    s.quit()
except (OSError, smtplib.SMTPException):
    sys.exit(1)
PY
}
obs_expect_smtp() { obs_smtp "$@" || pl_fail "SMTP session from $2 to [$3]:$4 failed, expected success"; }
obs_expect_refused() { if obs_smtp "$@"; then pl_fail "SMTP session from $2 to [$3]:$4 succeeded, expected it refused"; fi; }

# obs_count_setup NS: count packets per source in chains "cin" (input) and "cfwd"
# (forward) of a table of the test's own, hooked before portlock's chains.
obs_count_setup() {
	ip netns exec "$1" nft -f - <<NFT || pl_die "cannot create the counting table"
table inet obscount {
	chain cin { type filter hook input priority -400; policy accept; }
	chain cfwd { type filter hook forward priority -400; policy accept; }
}
NFT
}
# obs_count_rule NS CHAIN MATCH...: a counter rule (e.g. cin ip saddr X tcp dport 25).
obs_count_rule() {
	local ns=$1 chain=$2
	shift 2
	ip netns exec "$ns" nft add rule inet obscount "$chain" "$@" counter || pl_die "cannot add counter '$*'"
}
# obs_count NS CHAIN SADDR: packets counted by CHAIN's rules that name SADDR.
obs_count() {
	ip netns exec "$1" nft -j list chain inet obscount "$2" | "$PL_PY" -c '
import json, sys
n = 0
for item in json.load(sys.stdin)["nftables"]:
    r = item.get("rule")
    if not r or sys.argv[1] not in json.dumps(r["expr"]):
        continue
    for e in r["expr"]:
        if "counter" in e:
            n += e["counter"]["packets"]
print(n)' "$3"
}

# obs_json_check FILE SCHEMA: FILE is valid against schema/SCHEMA.schema.json.
obs_json_check() {
	"$PL_PY" -c 'import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))' \
		"$1" "$PL_SOURCE_DIR/schema/$2.schema.json" || pl_fail "$1 does not match schema $2: $(head -c 1500 "$1")"
}
