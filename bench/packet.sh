#!/bin/bash
# bench/packet.sh [N...]: what portlock's ruleset costs per packet. TCP connect
# rate over a veth pair, client namespace -> server namespace, side by side in
# one run, for policies of N services (default: 1 20 100 500) against no
# ruleset at all:
#   - an unmanaged port (a listener no service manages), untrusted source;
#   - a managed port (the last service's), trusted source: connects;
#   - a managed port without listener, untrusted source, enforce (reject with
#     a TCP reset from the ruleset) vs observe (accepted by the ruleset, reset
#     by the TCP stack): the same packets either way, so the difference is
#     the ruleset's (the seen set is updated in both modes);
#   - a managed port, trusted source, observe vs enforce.
# Conntrack is loaded in every configuration (a table of the bench with one
# ct rule on prerouting), as on a real host. Rates are connects (or refusals)
# per second of one client process for BENCH_SECS seconds (2), median of
# BENCH_RUNS rounds (3); the configurations take turns within each round so
# that other load on the machine spreads over all of them. With BENCH_OLD set
# to another portlock binary (e.g. a build of the previous release), its
# ruleset is measured too (column "old"). Needs root; never touches the
# host's ruleset.
set -eu
cd "$(dirname "$0")/.."
PORTLOCK=${PORTLOCK:-./build/portlock}
OLD=${BENCH_OLD:-}
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECS:-2}
PY=/usr/bin/python3
SRV=plbs$$
CLI=plbc$$
TMP=$(mktemp -d /tmp/portlock-bench.XXXXXX)
SRVPID=
cleanup() {
	[ -n "$SRVPID" ] && kill "$SRVPID" 2>/dev/null
	ip netns del $SRV 2>/dev/null
	ip netns del $CLI 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
export PORTLOCK_STATE_DIR=$TMP/state	# the journal of the runs: private to the bench
[ -x "$PORTLOCK" ] || { echo "build portlock first (cmake -B build && make -C build)" >&2; exit 2; }
NS=("$@")
[ ${#NS[@]} -gt 0 ] || NS=(1 20 100 500)

S4=192.0.2.1 T4=192.0.2.10 U4=192.0.2.20
ip netns add $SRV
ip netns add $CLI
ip -n $SRV link set lo up
ip -n $CLI link set lo up
ip link add veth-s netns $SRV type veth peer name veth-c netns $CLI
ip -n $SRV addr add $S4/24 dev veth-s
ip -n $CLI addr add $T4/24 dev veth-c
ip -n $CLI addr add $U4/24 dev veth-c
ip -n $SRV link set veth-s up
ip -n $CLI link set veth-c up
X() { ip netns exec $SRV "$@"; }

# listeners: the unmanaged port 8080 and the first port of the last service of each N
ports="8080"
for n in "${NS[@]}"; do ports="$ports $((10000 + n - 1))"; done
cat >"$TMP/srv.py" <<'PY'
import selectors, socket, sys
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(p)))
    s.listen(4096)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while True:
    for k, _ in sel.select():
        try:
            while True:
                c, _ = k.fileobj.accept()
                c.close()
        except BlockingIOError:
            pass
PY
# one client: connect from SRC to DST:PORT for SECS seconds, closing with a
# reset (no TIME_WAIT); prints connects (or refusals, with "refused") per second
cat >"$TMP/cli.py" <<'PY'
import errno, socket, struct, sys, time
src, dst, port, secs, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
linger = struct.pack("ii", 1, 0)
n = bad = 0
end = time.monotonic() + secs
while time.monotonic() < end:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
    s.settimeout(1)
    s.bind((src, 0))
    try:
        s.connect((dst, port))
        ok = want == "connect"
    except ConnectionRefusedError:
        ok = want == "refused"
    except OSError:
        ok = False
    s.close()
    if ok:
        n += 1
    else:
        bad += 1
if bad:
    print("unexpected outcomes: %d" % bad, file=sys.stderr)
print("%.0f" % (n / secs))
PY
ip netns exec $SRV $PY "$TMP/srv.py" $ports &
SRVPID=$!
sleep 0.5

policy() {	# policy N MODE: N services, each a listening port and a closed one
	local n=$1 mode=$2 i
	{
		echo "portlock = { action = \"reject\"; hooks = [\"input\"]; mode = \"$mode\"; };"
		echo "services = ("
		for ((i = 0; i < n; i++)); do
			printf '  { name = "s%d"; ports = [%d, %d]; allow = ["%s/32", "198.51.%d.0/24", "2001:db8:%x::/48"]; }%s\n' \
				"$i" $((10000 + i)) $((20000 + i)) "$T4" $((i % 256)) "$i" "$([ $i -lt $((n - 1)) ] && echo ,)"
		done
		echo ");"
	} >"$TMP/p-$n-$mode.conf"
}
load() {	# load BINARY N MODE: the bench's ct table and portlock's ruleset, nothing else
	X nft flush ruleset
	X nft -f - <<'NFT'
table inet bench {
	chain pre {
		type filter hook prerouting priority -150; policy accept;
		ct state invalid counter
	}
}
NFT
	[ "$2" = 0 ] && return 0
	X "$1" -q -c "$TMP/p-$2-$3.conf" apply >/dev/null
}
rate() {	# rate SRC PORT WANT
	ip netns exec $CLI $PY "$TMP/cli.py" "$1" $S4 "$2" "$SECS" "$3"
}

# the measurements: name -> "binary N mode src port want"
declare -A CASES
ORDER=()
add() { CASES[$1]=$2; ORDER+=("$1"); }
add "none/unmanaged" "- 0 enforce $U4 8080 connect"
for n in "${NS[@]}"; do
	policy "$n" enforce
	policy "$n" observe
	last=$((10000 + n - 1))
	add "$n/unmanaged" "$PORTLOCK $n enforce $U4 8080 connect"
	add "$n/managed" "$PORTLOCK $n enforce $T4 $last connect"
	add "$n/refused-enforce" "$PORTLOCK $n enforce $U4 $((20000 + n - 1)) refused"
	add "$n/refused-observe" "$PORTLOCK $n observe $U4 $((20000 + n - 1)) refused"
	add "$n/allowed-observe" "$PORTLOCK $n observe $T4 $last connect"
	if [ -n "$OLD" ]; then
		add "$n/old-unmanaged" "$OLD $n enforce $U4 8080 connect"
		add "$n/old-managed" "$OLD $n enforce $T4 $last connect"
	fi
done
declare -A R
for ((round = 0; round < RUNS; round++)); do
	for c in "${ORDER[@]}"; do
		read -r bin n mode src port want <<<"${CASES[$c]}"
		if [ "$bin" = "$OLD" ] && [ -n "$OLD" ]; then
			PORTLOCK_STATE_DIR=$TMP/old-state load "$bin" "$n" "$mode"
		else
			load "$bin" "$n" "$mode"
		fi
		R[$c]="${R[$c]:-} $(rate "$src" "$port" "$want")"
	done
done
X nft flush ruleset
med() { tr ' ' '\n' <<<"${R[$1]}" | grep . | sort -n | sed -n "$(((RUNS + 1) / 2))p"; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "-" }'; }

none=$(med none/unmanaged)
one_m=$(med "${NS[0]}/managed")
printf 'connects/s, median of %d rounds of %ss, one client; no ruleset (conntrack loaded): %s/s\n\n' "$RUNS" "$SECS" "$none"
printf '%-9s %11s %8s %11s %8s %11s %11s %8s %11s %11s %8s\n' services unmanaged "vs none" managed "vs 1svc" \
	"refused-enf" "refused-obs" "obs/enf" "allowed-enf" "allowed-obs" "obs/enf"
for n in "${NS[@]}"; do
	u=$(med "$n/unmanaged") m=$(med "$n/managed") re=$(med "$n/refused-enforce") ro=$(med "$n/refused-observe")
	ao=$(med "$n/allowed-observe")
	printf '%-9s %11s %8s %11s %8s %11s %11s %8s %11s %11s %8s\n' "$n" "$u" "$(pct "$u" "$none")" "$m" \
		"$(pct "$m" "$one_m")" "$re" "$ro" "$(pct "$ro" "$re")" "$m" "$ao" "$(pct "$ao" "$m")"
done
if [ -n "$OLD" ]; then
	one_o=$(med "${NS[0]}/old-managed")
	printf '\nprevious shape (%s):\n%-9s %11s %8s %11s %8s\n' "$OLD" services unmanaged "vs none" managed "vs 1svc"
	for n in "${NS[@]}"; do
		u=$(med "$n/old-unmanaged") m=$(med "$n/old-managed")
		printf '%-9s %11s %8s %11s %8s\n' "$n" "$u" "$(pct "$u" "$none")" "$m" "$(pct "$m" "$one_o")"
	done
fi
