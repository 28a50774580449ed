#!/bin/bash
# Edge cases of the exported ruleset load into the kernel (nft -f in a
# throwaway netns) with the expected content: both ends of the address
# space, /0, adjacent prefixes merged, UDP with reject, extreme ports and
# rates, forward-only hooks, loopback restricted, empty allowlists.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

cat >"$PL_TMP/edges.conf" <<'CONF'
portlock = {
  table = "pl_edges";
  action = "reject";
  hooks = ["forward"];
  log = { prefix = "edge"; rate = "1000000/second"; };
  loopback = false;
};
services = (
  { name = "all"; ports = [1, 65535]; allow = ["0.0.0.0/0", "::/0"]; },
  { name = "ends"; proto = "udp"; ports = [53];
    allow = ["255.255.255.255", "255.255.255.254", "0.0.0.1", "0.0.0.0",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", "::1"]; },
  { name = "merged"; ports = [2775];
    allow = ["192.0.2.0/25", "192.0.2.128/25", "198.51.100.7/24", "192.0.3.0/24", "192.0.4.0/24",
             "2001:db8::/33", "2001:db8:8000::/33"]; },
  { name = "closed"; ports = [2525]; allow = []; }
);
CONF
pl_expect_rc 0 "$PORTLOCK" -c "$PL_TMP/edges.conf" export
cp "$PL_TMP/out" "$PL_TMP/edges.nft"
ns=ple$PL_TAG
pl_netns "$ns"
ip netns exec "$ns" nft -f "$PL_TMP/edges.nft" 2>"$PL_TMP/nfterr" ||
	pl_fail "nft -f of the edge-case export failed: $(cat "$PL_TMP/nfterr")"
ip netns exec "$ns" nft list table inet pl_edges >"$PL_TMP/live"

set_elems() {	# set_elems SET: the set's elements on one line
	ip netns exec "$ns" nft list set inet pl_edges "$1" | tr -d '\n\t' |
		sed -n 's/.*elements = { \(.*\) }.*/\1/p' | sed 's/,  */, /g'
}
expect_elems() {
	local got
	got=$(set_elems "$1")
	[ "$got" = "$2" ] || pl_fail "set $1: got '$got', want '$2'"
}
expect_elems all_v4 "0.0.0.0/0"
expect_elems all_v6 "::/0"
map_elems() {	# map_elems MAP: the dispatch map's elements on one line
	ip netns exec "$ns" nft list map inet pl_edges "$1" | tr -d '\n\t' |
		sed -n 's/.*elements = { \(.*\) }.*/\1/p' | sed 's/,  */, /g'
}
got=$(map_elems fwd_tcp)
[ "$got" = "1 : jump all_fwd, 2525 : jump closed_fwd, 2775 : jump merged_fwd, 65535 : jump all_fwd" ] ||
	pl_fail "map fwd_tcp: got '$got'"
got=$(map_elems fwd_udp)
[ "$got" = "53 : jump ends_fwd" ] || pl_fail "map fwd_udp: got '$got'"
expect_elems ends_v4 "0.0.0.0/31, 255.255.255.254/31"
expect_elems ends_v6 "::/127, ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
expect_elems merged_v4 "192.0.2.0-192.0.4.255, 198.51.100.0/24"
expect_elems merged_v6 "2001:db8::/32"
expect_elems closed_v4 ""
pl_expect_grep 'type filter hook forward priority filter - 10; policy accept;' "$PL_TMP/live"
pl_expect_grep 'ct direction original ct status dnat meta l4proto udp ct original proto-dst vmap @fwd_udp' "$PL_TMP/live"
pl_expect_grep 'meta nfproto ipv4 counter packets 0 bytes 0 reject with icmp port-unreachable' "$PL_TMP/live"
pl_expect_grep 'meta nfproto ipv6 counter packets 0 bytes 0 reject with icmpv6 port-unreachable' "$PL_TMP/live"
pl_expect_grep 'meta l4proto tcp meta nfproto ipv4 counter packets 0 bytes 0 reject with tcp reset' "$PL_TMP/live"
pl_expect_grep 'meta l4proto udp update @ends_seen4 { ip saddr . ct original proto-dst }' "$PL_TMP/live"
pl_expect_grep 'limit rate 1000000/second log prefix "edge\[merged\] "' "$PL_TMP/live"
grep -q 'chain input' "$PL_TMP/live" && pl_fail "hooks = [\"forward\"] but an input chain was loaded"
grep -q 'iif "lo"' "$PL_TMP/live" && pl_fail "loopback = false but loopback is accepted"
pl_done
