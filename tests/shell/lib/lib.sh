# shellcheck shell=bash
# Helpers for portlock's namespace tests. Source it from a test script:
#   . "$(dirname "$0")/../lib/lib.sh"
# Everything a test creates lives in network namespaces named after the test
# and its pid; pl_cleanup (run on EXIT) removes them. Nothing here touches the
# host's own ruleset or interfaces.
#
# Topology made by pl_topology:
#
#   +---------------- $CLI ----------------+        +------------ $SRV ------------+
#   | veth-c  192.0.2.10  2001:db8:1::10   | <----> | veth-s  192.0.2.1            |
#   |         192.0.2.20  2001:db8:1::20   |        |         2001:db8:1::1        |
#   +--------------------------------------+        +------------------------------+
#   .10 / ::10 are the "trusted" client sources, .20 / ::20 the "untrusted" ones.

set -u

PORTLOCK=${PORTLOCK:-$PL_BUILD_DIR/portlock}
PL_SOURCE_DIR=${PL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)}
PL_PY=/usr/bin/python3		# Debian's python: the one python3-aiosmtpd is installed for
PL_TAG=$(basename "${0%.sh}" | tr -c 'a-zA-Z0-9\n' '_' | cut -c1-6)$$
SRV=pls$PL_TAG
CLI=plc$PL_TAG
PL_TMP=$(mktemp -d /tmp/portlock-test.XXXXXX)
# journal and lock of every portlock run in a test: private to the test
export PORTLOCK_STATE_DIR=$PL_TMP/state
PL_PIDS=()
PL_NETNS=()
PL_FAILS=0

SRV4=192.0.2.1
SRV6=2001:db8:1::1
TRUST4=192.0.2.10
TRUST6=2001:db8:1::10
UNTRUST4=192.0.2.20
UNTRUST6=2001:db8:1::20

pl_log() { printf '# %s\n' "$*"; }
pl_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	PL_FAILS=$((PL_FAILS + 1))
}
pl_die() {
	printf 'FATAL: %s\n' "$*" >&2
	exit 1
}

pl_cleanup() {
	local p ns
	for p in "${PL_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	for p in "${PL_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	for ns in "${PL_NETNS[@]}"; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$PL_TMP"
}
trap pl_cleanup EXIT
trap 'exit 130' INT TERM

# pl_require_root: CI runs as root; these tests need CAP_NET_ADMIN and netns.
pl_require_root() {
	[ "$(id -u)" -eq 0 ] || pl_die "this test must run as root (network namespaces)"
}

# pl_netns NAME: create a namespace with lo up and register it for cleanup.
pl_netns() {
	ip netns add "$1" || pl_die "cannot create netns $1"
	PL_NETNS+=("$1")
	ip -n "$1" link set lo up
}

# pl_topology: server and client namespaces over one veth pair (see above).
pl_topology() {
	pl_require_root
	pl_netns "$SRV"
	pl_netns "$CLI"
	ip link add veth-s netns "$SRV" type veth peer name veth-c netns "$CLI" ||
		pl_die "cannot create veth pair"
	ip -n "$SRV" addr add $SRV4/24 dev veth-s
	ip -n "$SRV" addr add $SRV6/64 dev veth-s nodad
	ip -n "$CLI" addr add $TRUST4/24 dev veth-c
	ip -n "$CLI" addr add $UNTRUST4/24 dev veth-c
	ip -n "$CLI" addr add $TRUST6/64 dev veth-c nodad
	ip -n "$CLI" addr add $UNTRUST6/64 dev veth-c nodad
	ip -n "$SRV" link set veth-s up
	ip -n "$CLI" link set veth-c up
}

# pl_dnat_container [FROM [TO]]: a "container" namespace $CTR (198.51.100.2/24)
# behind the server, which forwards and DNATs TCP port FROM (default 8025) to
# 198.51.100.2:TO (default 25); the client routes 198.51.100.0/24 through the
# server.
pl_dnat_container() {
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
	ip netns exec "$SRV" nft -f - <<NFT || pl_die "cannot add the DNAT rule"
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		tcp dport ${1:-8025} dnat to 198.51.100.2:${2:-25}
	}
}
NFT
}

# pl_bg NS CMD...: run CMD in the background inside NS; remembered for cleanup.
pl_bg() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@" &
	PL_PIDS+=($!)
}

# pl_wait_port NS PORT [SECONDS]: wait until something listens on TCP PORT in NS.
pl_wait_port() {
	local ns=$1 port=$2 t=${3:-10} i
	for ((i = 0; i < t * 20; i++)); do
		if ip netns exec "$ns" ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	pl_die "nothing listens on port $port in $ns after ${t}s"
}

# pl_connect NS SRC DST PORT [TIMEOUT]: TCP connect from SRC; 0 connected, 1 not.
pl_connect() {
	ip netns exec "$1" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/connect.py" "$2" "$3" "$4" "${5:-1}"
}

# pl_expect_connect / pl_expect_blocked: assertions on reachability.
# A connection expected to succeed gets 3 s (the first IPv6 one waits for
# neighbour discovery, which a loaded machine can stretch past 1 s); a blocked
# one waits its whole timeout, 1 s unless given.
pl_expect_connect() {
	pl_connect "$1" "$2" "$3" "$4" "${5:-3}" || pl_fail "connect from $2 to [$3]:$4 failed, expected success"
}
pl_expect_blocked() {
	if pl_connect "$@"; then pl_fail "connect from $2 to [$3]:$4 succeeded, expected it blocked"; fi
}

# pl_expect_rc WANT CMD...: run CMD, check its exit code.
pl_expect_rc() {
	local want=$1 rc
	shift
	"$@" >"$PL_TMP/out" 2>"$PL_TMP/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		pl_fail "'$*' exited $rc, expected $want; stderr: $(head -c 2000 "$PL_TMP/err")"
	fi
	return 0
}

# pl_expect_grep PATTERN FILE: FILE must contain PATTERN (extended regex).
pl_expect_grep() {
	grep -Eq -- "$1" "$2" || pl_fail "'$2' lacks /$1/: $(head -c 2000 "$2")"
}

# pl_done: end of test; exit non-zero when any assertion failed.
pl_done() {
	if [ "$PL_FAILS" -ne 0 ]; then
		printf '%s: %d assertion(s) failed\n' "$(basename "$0")" "$PL_FAILS" >&2
		exit 1
	fi
	printf '%s: ok\n' "$(basename "$0")"
	exit 0
}
