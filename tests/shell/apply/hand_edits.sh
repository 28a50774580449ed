#!/bin/bash
# What someone else put into portlock's table:
#  - a grant added by hand into S_tmp4 with a timeout lets its source in and
#    survives `portlock apply` (plan: no changes; a policy change: kept)
#  - a rule added by hand is shown by plan in nft syntax, not libnftnl's
#    notation, and removed by apply
#  - a table of the previous shape (port sets and "saddr != @set drop"
#    rules) migrates to the dispatch shape in one transaction
. "$(dirname "$0")/../lib/lib.sh"
pl_topology

cat >"$PL_TMP/p.conf" <<CONF
services = (
  { name = "smpp"; ports = [2775]; allow = ["$TRUST4/32", "$TRUST6/128"]; }
);
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }
N() { ip netns exec "$SRV" nft "$@"; }

pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775 2776
pl_wait_port "$SRV" 2776

# --- the previous shape, as portlock 0.x loaded it
N -f - <<NFT
table inet portlock {
	comment "portlock"
	set smpp_ports { type inet_service; elements = { 2775 } }
	set smpp_v4 { type ipv4_addr; flags interval; elements = { $TRUST4 } }
	set smpp_v6 { type ipv6_addr; flags interval; elements = { $TRUST6 } }
	chain input {
		type filter hook input priority filter - 10; policy accept;
		iif "lo" accept
		tcp dport @smpp_ports ip saddr != @smpp_v4 limit rate 10/minute log prefix "portlock[smpp] "
		tcp dport @smpp_ports ip saddr != @smpp_v4 counter drop
		tcp dport @smpp_ports ip6 saddr != @smpp_v6 limit rate 10/minute log prefix "portlock[smpp] "
		tcp dport @smpp_ports ip6 saddr != @smpp_v6 counter drop
	}
}
NFT
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_rc 1 P plan --exit-code
pl_expect_grep '^- rule inet portlock input handle [0-9]+: tcp dport @smpp_ports ip saddr != @smpp_v4 counter packets [0-9]+ bytes [0-9]+ drop' "$PL_TMP/out"
pl_expect_grep '^- set inet portlock smpp_ports' "$PL_TMP/out"
pl_expect_grep '^\+ chain inet portlock smpp_in' "$PL_TMP/out"
pl_expect_grep '^\+ rule inet portlock input tcp dport vmap @in_tcp' "$PL_TMP/out"
pl_expect_grep '^\+ element inet portlock in_tcp \{ 2775 : jump smpp_in \}' "$PL_TMP/out"
# the allowlist sets are the same: kept, not re-added
grep -Eq '^[-+] set inet portlock smpp_v4 ' "$PL_TMP/out" && pl_fail "migration re-creates smpp_v4: $(cat "$PL_TMP/out")"
grep -q '\[ ' "$PL_TMP/out" && pl_fail "plan shows libnftnl notation: $(cat "$PL_TMP/out")"
pl_expect_rc 0 P apply
pl_expect_grep '^transaction 1 applied .*\(generation ([0-9]+) -> [0-9]+\)' "$PL_TMP/out"
gens=$(sed -n 's/.*(generation \([0-9]*\) -> \([0-9]*\)).*/\1 \2/p' "$PL_TMP/out")
set -- $gens
[ $# -eq 2 ] && [ $(($2 - $1)) -eq 1 ] || pl_fail "migration took more than one transaction: $gens"
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"
N list table inet portlock >"$PL_TMP/t"
grep -q smpp_ports "$PL_TMP/t" && pl_fail "the old port set is left: $(cat "$PL_TMP/t")"
pl_expect_connect "$CLI" $TRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 2775

# --- a temporary grant added by hand (what portlock allow --for does)
N add element inet portlock smpp_tmp4 "{ $UNTRUST4 timeout 1h }"
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 2775
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"
pl_expect_rc 0 P apply
pl_expect_grep '^no changes' "$PL_TMP/out"
# a policy change elsewhere in the service: the grant stays
sed -i 's/ports = \[2775\]/ports = [2775, 2776]/' "$PL_TMP/p.conf"
pl_expect_rc 0 P apply
pl_expect_grep '^transaction' "$PL_TMP/out"
grep -q tmp4 "$PL_TMP/out" && pl_fail "apply touched the temporary set: $(cat "$PL_TMP/out")"
N list set inet portlock smpp_tmp4 >"$PL_TMP/tmp"
pl_expect_grep "$UNTRUST4 timeout 1h expires" "$PL_TMP/tmp"
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2775
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 2776
pl_expect_blocked "$CLI" $UNTRUST6 $SRV6 2776
N list chain inet portlock smpp_in >"$PL_TMP/c"
pl_expect_grep 'ip saddr @smpp_tmp4 counter packets [1-9]' "$PL_TMP/c"

# --- a rule added by hand: shown in nft syntax, removed by apply
N add rule inet portlock input ip saddr 10.77.0.0/16 accept
N add rule inet portlock smpp_in ip6 saddr 2001:db8:77::/48 tcp dport 1000-2000 ct state established,related counter accept
N add rule inet portlock input iifname "veth*" ip saddr 10.76.0.0/15 drop
N add rule inet portlock input tcp dport 2775 reject with tcp reset
N add rule inet portlock input tcp dport 2776 reject
N add rule inet portlock input ip6 saddr 2001:db8::/32 udp dport 53 reject with icmpv6 type admin-prohibited
N add rule inet portlock input ip protocol udp reject with icmp type host-prohibited
N add rule inet portlock input ip ttl 1 drop
N add rule inet portlock input icmp type echo-request accept
N add rule inet portlock input icmpv6 type 42 accept
pl_expect_rc 1 P plan --exit-code
for r in 'tcp dport 2775 reject with tcp reset' 'tcp dport 2776 reject' \
	 'ip6 saddr 2001:db8::/32 udp dport 53 reject with icmpv6 admin-prohibited' \
	 'ip protocol udp reject with icmp host-prohibited' 'ip ttl 1 drop' \
	 'icmp type echo-request accept' 'icmpv6 type 42 accept'; do
	sed -E 's/ handle [0-9]+: / handle N: /' "$PL_TMP/out" | grep -qxF -- "- rule inet portlock input handle N: $r" ||
		pl_fail "plan does not show '$r' in nft syntax: $(cat "$PL_TMP/out")"
done
pl_expect_grep '^- rule inet portlock input handle [0-9]+: ip saddr 10.77.0.0/16 accept$' "$PL_TMP/out"
pl_expect_grep '^- rule inet portlock smpp_in handle [0-9]+: ip6 saddr 2001:db8:77::/48 tcp dport 1000-2000 ct state established,related counter packets 0 bytes 0 accept$' "$PL_TMP/out"
pl_expect_grep '^- rule inet portlock input handle [0-9]+: iifname "veth\*" ip saddr 10.76.0.0/15 drop$' "$PL_TMP/out"
grep -q '\[ ' "$PL_TMP/out" && pl_fail "plan shows libnftnl notation: $(cat "$PL_TMP/out")"
pl_expect_rc 0 P apply
pl_expect_rc 0 P plan --exit-code
pl_expect_grep '^no changes' "$PL_TMP/out"
N list set inet portlock smpp_tmp4 >"$PL_TMP/tmp"
pl_expect_grep "$UNTRUST4 timeout 1h expires" "$PL_TMP/tmp"
pl_done
