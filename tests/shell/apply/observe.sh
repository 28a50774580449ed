#!/bin/bash
# Observe mode and the seen sets, on the packet path (input hook):
#  - a service in observe mode lets untrusted v4 and v6 clients in, counts
#    them on its observe rules and records each source . port in S_seen4/6
#    (per-element counters); trusted sources are not recorded
#  - a service in enforce mode refuses them and records them all the same
#  - switching observe -> enforce keeps what was seen (the set is not drift)
#    and refuses from then on; the plan names the rules that change
. "$(dirname "$0")/../lib/lib.sh"
pl_topology

cat >"$PL_TMP/p.conf" <<CONF
portlock = { mode = "observe"; retention = "2d"; };
services = (
  { name = "smpp"; ports = [2775, 3550]; allow = ["$TRUST4/32", "$TRUST6/128"]; },
  { name = "smtp"; mode = "enforce"; ports = [25]; allow = ["$TRUST4/32", "$TRUST6/128"]; }
);
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
L() { ip netns exec "$SRV" nft list "$@"; }

pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775 3550 25 8080
pl_wait_port "$SRV" 8080

pl_expect_rc 0 P apply
L set inet portlock smpp_seen4 >"$PL_TMP/def"
pl_expect_grep 'type ipv4_addr . inet_service' "$PL_TMP/def"
pl_expect_grep 'flags dynamic,timeout' "$PL_TMP/def"
pl_expect_grep 'timeout 2d' "$PL_TMP/def"
pl_expect_grep 'size 65535' "$PL_TMP/def"
pl_expect_grep '^[[:space:]]*counter$' "$PL_TMP/def"

# observe: everyone gets in
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 3550
pl_expect_connect "$CLI" $TRUST6 $SRV6 2775
pl_expect_connect "$CLI" $UNTRUST6 $SRV6 2775
# enforce: the untrusted are refused
pl_expect_connect "$CLI" $TRUST4 $SRV4 25
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 25
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 25
# an unmanaged port stays open
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 8080

L set inet portlock smpp_seen4 >"$PL_TMP/s4"
L set inet portlock smpp_seen6 >"$PL_TMP/s6"
pl_expect_grep "$UNTRUST4 . 2775 counter packets [1-9][0-9]* bytes [1-9]" "$PL_TMP/s4"
pl_expect_grep "$UNTRUST4 . 3550 counter packets [1-9]" "$PL_TMP/s4"
pl_expect_grep "$UNTRUST6 . 2775 counter packets [1-9]" "$PL_TMP/s6"
grep -q "$TRUST4 " "$PL_TMP/s4" && pl_fail "a trusted v4 source was recorded: $(cat "$PL_TMP/s4")"
grep -q "$TRUST6 " "$PL_TMP/s6" && pl_fail "a trusted v6 source was recorded: $(cat "$PL_TMP/s6")"
L set inet portlock smtp_seen4 >"$PL_TMP/t4"
L set inet portlock smtp_seen6 >"$PL_TMP/t6"
pl_expect_grep "$UNTRUST4 . 25 counter packets [1-9]" "$PL_TMP/t4"
pl_expect_grep "$UNTRUST6 . 25 counter packets [1-9]" "$PL_TMP/t6"
grep -q "$TRUST4 " "$PL_TMP/t4" && pl_fail "a trusted source was recorded as refused: $(cat "$PL_TMP/t4")"

# the counters: observe accepted, enforce refused, allowlist accepted
L chain inet portlock smpp_in >"$PL_TMP/c"
pl_expect_grep 'meta nfproto ipv4 counter packets [1-9][0-9]* bytes [0-9]+ accept' "$PL_TMP/c"
pl_expect_grep 'meta nfproto ipv6 counter packets [1-9][0-9]* bytes [0-9]+ accept' "$PL_TMP/c"
pl_expect_grep 'ip saddr @smpp_v4 counter packets [1-9]' "$PL_TMP/c"
grep -q drop "$PL_TMP/c" && pl_fail "observe mode has a drop rule: $(cat "$PL_TMP/c")"
L chain inet portlock smtp_in >"$PL_TMP/c"
pl_expect_grep 'meta nfproto ipv4 counter packets [1-9][0-9]* bytes [0-9]+ drop' "$PL_TMP/c"

# in sync: nothing to do, the seen elements are not drift
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"

# observe -> enforce: only the observe rules change; what was seen stays
sed -i 's/mode = "observe"/mode = "enforce"/' "$PL_TMP/p.conf"
pl_expect_rc 1 P plan --exit-code
pl_expect_grep '^- rule inet portlock smpp_in handle [0-9]+: meta nfproto ipv4 counter packets [0-9]+ bytes [0-9]+ accept' "$PL_TMP/out"
pl_expect_grep '^\+ rule inet portlock smpp_in meta nfproto ipv4 counter drop' "$PL_TMP/out"
grep -q 'seen' "$PL_TMP/out" && pl_fail "the mode switch touches the seen sets: $(cat "$PL_TMP/out")"
pl_expect_rc 0 P apply
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 2775
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
L set inet portlock smpp_seen4 >"$PL_TMP/s4"
pl_expect_grep "$UNTRUST4 . 3550 counter packets [1-9]" "$PL_TMP/s4"
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"
pl_done
