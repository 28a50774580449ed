#!/bin/bash
# apply in a server namespace; a client namespace with a trusted and an
# untrusted address of each family checks who gets through:
#  - trusted reaches the restricted ports, untrusted does not (IPv4 and IPv6)
#  - unrestricted ports stay reachable; loopback reaches everything
#  - plan --exit-code is 1 before and 0 after; applying twice is a no-op
#  - a foreign table is byte-identical before and after
. "$(dirname "$0")/../lib/lib.sh"
pl_topology

cat >"$PL_TMP/p.conf" <<CONF
portlock = { table = "portlock"; hooks = ["input", "forward"]; };
services = (
  { name = "smpp"; expect = "smpp"; ports = [2775, 3550]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "smtp"; ports = [25]; allow = ["$TRUST4"]; },
  { name = "legacy"; ports = [2525]; allow = []; }
);
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775 3550 25 2525 8080
pl_wait_port "$SRV" 8080

# a foreign table, shaped like a hand-written filter table
ip netns exec "$SRV" nft -f - <<'NFT'
table ip filter {
	chain INPUT {
		type filter hook input priority filter; policy accept;
		tcp dport 9 counter drop
	}
}
NFT
ip netns exec "$SRV" nft list table ip filter >"$PL_TMP/foreign.before"

# before: everything open; plan says changes are pending
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_rc 1 P plan --exit-code
pl_expect_grep '^\+ table inet portlock' "$PL_TMP/out"

pl_expect_rc 0 P apply
pl_expect_grep '^transaction 1 applied to table inet portlock' "$PL_TMP/out"

# IPv4
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_expect_connect "$CLI" $TRUST4 $SRV4 3550
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 3550
pl_expect_connect "$CLI" $TRUST4 $SRV4 25
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 25
pl_expect_blocked "$CLI" $TRUST4 $SRV4 2525
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 8080
# IPv6
pl_expect_connect "$CLI" $TRUST6 $SRV6 2775
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 2775
pl_expect_blocked "$CLI" $TRUST6 $SRV6 25	# smtp allows no IPv6 source
pl_expect_connect "$CLI" $UNTRUST6 $SRV6 8080
# loopback inside the server
pl_expect_connect "$SRV" 127.0.0.1 127.0.0.1 2525
pl_expect_connect "$SRV" ::1 ::1 2775
# (traffic to the server's own veth address from inside the server also
# travels over lo, so it is exempt as well: the kernel routes it locally)
pl_expect_connect "$SRV" $SRV4 $SRV4 2525

# in sync now; applying again sends nothing
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"
# (the seen sources' expiry times tick: compared without them)
ip netns exec "$SRV" nft list table inet portlock | sed -E 's/ expires [0-9a-z]+//g' >"$PL_TMP/t1"
pl_expect_rc 0 P apply
pl_expect_grep '^no changes' "$PL_TMP/out"
ip netns exec "$SRV" nft list table inet portlock | sed -E 's/ expires [0-9a-z]+//g' >"$PL_TMP/t2"
cmp -s "$PL_TMP/t1" "$PL_TMP/t2" || pl_fail "second apply changed the table"

# the drop counters saw the untrusted attempts, the seen sets recorded them
grep -Eq 'meta nfproto ipv4 counter packets [1-9][0-9]* bytes [0-9]+ drop' "$PL_TMP/t1" ||
	pl_fail "no drop counter moved: $(cat "$PL_TMP/t1")"
ip netns exec "$SRV" nft list set inet portlock smpp_seen4 >"$PL_TMP/seen"
pl_expect_grep "$UNTRUST4 . 2775 counter packets [1-9]" "$PL_TMP/seen"
pl_expect_grep "$UNTRUST4 . 3550 counter packets [1-9]" "$PL_TMP/seen"
grep -q "$TRUST4 " "$PL_TMP/seen" && pl_fail "a trusted source was recorded as seen: $(cat "$PL_TMP/seen")"
ip netns exec "$SRV" nft list set inet portlock smpp_seen6 >"$PL_TMP/seen"
pl_expect_grep "$UNTRUST6 . 2775 counter packets [1-9]" "$PL_TMP/seen"

# the foreign table is untouched, byte for byte
ip netns exec "$SRV" nft list table ip filter >"$PL_TMP/foreign.after"
cmp -s "$PL_TMP/foreign.before" "$PL_TMP/foreign.after" || pl_fail "foreign table changed"

# show reports it as another table on our hooks, and --json parses
pl_expect_rc 0 P show
pl_expect_grep 'table ip filter chain INPUT: hook input priority 0 policy accept' "$PL_TMP/out"
pl_expect_rc 0 P show --json
"$PL_PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["exists"] and d["table"]=="portlock" and any(s["name"]=="smpp_v4" for s in d["sets"]), d' "$PL_TMP/out" ||
	pl_fail "show --json lacks expected keys"

pl_done
