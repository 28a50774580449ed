#!/bin/bash
# A table name portlock accepts is one nft accepts: for the words nft's
# grammar uses (and some ordinary names), whenever `portlock check` takes
# `table = "WORD"`, `nft -c add table inet WORD` must succeed too (in a
# throwaway netns). The words nft refuses must be refused with exit 3.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root

words=$(sed -n '/nft_keywords\[\] = {/,/^};/p' "$PL_SOURCE_DIR/src/config.c" | grep -oE '"[a-z0-9_-]+"' | tr -d '"')
# words nft 1.0.6 (Debian 12) refuses as a table name, found by trying every
# word of nft(8) and libnftables
words="$words
accept add ah all and arp auto-merge bridge cgroup chain comment comp constant continue
counter cpu create ct day dccp define delete describe device devices dnat drop dst dup
dynamic ecn element elements esp ether exists expires export exthdr fib flags flow
flowtable flush frag fwd gc-interval get goto handle hbh hook hour ibriport ibrname icmp
icmpv6 igmp iif iifgroup iifname iiftype import include index inet insert interval ip ip6
ipsec jhash jump limit list log lt map mark masquerade meta meter mh missing monitor
netdev nftrace not notrack numgen obriport obrname offload oif oifgroup oifname oiftype
or osf pkttype policy position priority queue quota random redefine redirect reject
rename replace reset return rt rt0 rt2 rtclassid rule ruleset sctp secmark set size skgid
skuid snat socket srh symhash synproxy table tcp th time timeout tproxy type typeof udp
udplite undefine update vlan vmap xt
portlock portlock_mail fw-1 _x filter mangle raw security input output forward
prerouting postrouting ingress egress last tunnel vxlan geneve state status new established
related invalid untracked level group snaplen over until from to at in out original reply
direction avgpkt l3proto proto-src proto-dst zone event helper helpers expectation id
version length dscp hoplimit nexthdr flowlabel sequence checksum window urgptr option
persist dormant owner offset inc mod seed vlan-id pcp cfi dei queue-threshold fully-random
persistent hooks stateful objects devices policies synack mss wscale ttl daddr saddr sport
dport nat label bytes packets counters with destroy sets maps meters quotas chains tables"

n=0
for w in $words; do
	printf 'portlock = { table = "%s"; };\nservices = ( { name = "a"; ports = [25]; allow = []; } );\n' \
		"$w" >"$PL_TMP/t.conf"
	"$PORTLOCK" -q -c "$PL_TMP/t.conf" check >/dev/null 2>"$PL_TMP/err"
	rc=$?
	if [ "$rc" -eq 0 ]; then
		n=$((n + 1))
		echo "add table inet $w" >>"$PL_TMP/accepted.nft"
		unshare -n nft -c add table inet "$w" 2>"$PL_TMP/nfterr" ||
			pl_fail "portlock accepts table name '$w' but nft refuses it: $(head -3 "$PL_TMP/nfterr")"
	elif [ "$rc" -eq 3 ]; then
		grep -q "table name '$w' is not accepted by nft" "$PL_TMP/err" ||
			pl_fail "table '$w': exit 3 without the table-name message: $(cat "$PL_TMP/err")"
	else
		pl_fail "table '$w': portlock check exited $rc"
	fi
done
[ "$n" -ge 50 ] || pl_fail "only $n names accepted: the word list is wrong"
# the names portlock refuses include the ones this nft refuses
for w in add table inet accept drop counter ct meta flow time; do
	printf 'portlock = { table = "%s"; };\nservices = ( { name = "a"; ports = [25]; allow = []; } );\n' \
		"$w" >"$PL_TMP/t.conf"
	pl_expect_rc 3 "$PORTLOCK" -q -c "$PL_TMP/t.conf" check
done
pl_done
