#!/bin/bash
# A port published through DNAT to a "container" namespace behind the server
# is restricted through the forward hook (ct original proto-dst), for
# trusted and untrusted clients alike, IPv4.
#
#   client ---- server (DNAT 8025 -> 198.51.100.2:25) ---- container
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
CTR=plk$PL_TAG
pl_netns "$CTR"
ip link add veth-k netns "$SRV" type veth peer name veth-i netns "$CTR" || pl_die "veth"
ip -n "$SRV" addr add 198.51.100.1/24 dev veth-k
ip -n "$CTR" addr add 198.51.100.2/24 dev veth-i
ip -n "$SRV" link set veth-k up
ip -n "$CTR" link set veth-i up
ip -n "$CTR" route add default via 198.51.100.1
ip netns exec "$SRV" sysctl -qw net.ipv4.ip_forward=1
ip -n "$CLI" route add 198.51.100.0/24 via $SRV4
ip netns exec "$SRV" nft -f - <<'NFT'
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport 8025 dnat to 198.51.100.2:25
	}
}
NFT
pl_bg "$CTR" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 25
pl_wait_port "$CTR" 25

cat >"$PL_TMP/p.conf" <<CONF
services = ( { name = "published"; ports = [8025]; allow = ["$TRUST4/32"]; } );
CONF
P() { ip netns exec "$SRV" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

pl_expect_connect "$CLI" $UNTRUST4 $SRV4 8025
pl_expect_rc 0 P apply
pl_expect_connect "$CLI" $TRUST4 $SRV4 8025
pl_expect_blocked "$CLI" $UNTRUST4 $SRV4 8025
# the container's own address, routed without DNAT, is not a published port
pl_expect_connect "$CLI" $UNTRUST4 198.51.100.2 25
ip netns exec "$SRV" nft list chain inet portlock forward >"$PL_TMP/fwd"
pl_expect_grep 'ct direction original ct status dnat meta l4proto tcp ct original proto-dst vmap @fwd_tcp' "$PL_TMP/fwd"
ip netns exec "$SRV" nft list chain inet portlock published_fwd >"$PL_TMP/fwd"
grep -Eq 'meta nfproto ipv4 counter packets [1-9][0-9]* bytes [0-9]+ drop' "$PL_TMP/fwd" ||
	pl_fail "forward drop counter did not move: $(cat "$PL_TMP/fwd")"
grep -Eq 'ip saddr @published_v4 counter packets [1-9]' "$PL_TMP/fwd" ||
	pl_fail "forward allow counter did not move: $(cat "$PL_TMP/fwd")"
# the untrusted source is recorded with the published port (8025), not the container's (25)
ip netns exec "$SRV" nft list set inet portlock published_seen4 >"$PL_TMP/seen"
pl_expect_grep "$UNTRUST4 . 8025 counter packets [1-9]" "$PL_TMP/seen"

# hooks = ["input"] only: the published port is open again (documents why forward matters)
sed -i '1i portlock = { hooks = ["input"]; };' "$PL_TMP/p.conf"
pl_expect_rc 0 P apply
pl_expect_connect "$CLI" $UNTRUST4 $SRV4 8025
pl_done
