#!/bin/bash
# `portlock observed` and `show --stats` over 100,000 seen sources.
#
#   sudo bench/observed.sh [PORTLOCK_BINARY] [N_SOURCES=100000] [RUNS=3]
#
# In a throwaway network namespace: apply a one-service policy (observe
# mode), fill its seen sets with N sources (half IPv4, half IPv6: a seen set
# holds at most 65535 elements) by one `nft -f` of a file of `add element`
# lines with counters, then time, median of RUNS, `observed` (text and
# --json), `observed --learn`, `show --stats` (text and --json) and, for
# scale, `nft -j list set` of the same sets and the same commands at N/10.
# Build without sanitizers for meaningful figures (cmake -S . -B build).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PORTLOCK=${1:-$ROOT/build/portlock}
N=${2:-100000}
RUNS=${3:-3}
PY=/usr/bin/python3
NS=plbenchobs$$

[ "$(id -u)" -eq 0 ] || { echo "run as root (network namespace)" >&2; exit 2; }
[ -x "$PORTLOCK" ] || { echo "no portlock binary at $PORTLOCK" >&2; exit 2; }
TMP=$(mktemp -d /tmp/portlock-bench.XXXXXX)
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS"
export PORTLOCK_STATE_DIR=$TMP/state
cat >"$TMP/p.conf" <<CONF
portlock = { mode = "observe"; };
services = ( { name = "smtp"; ports = [25, 587]; allow = ["192.0.2.0/24", "2001:db8::/64"]; } );
CONF
ip netns exec "$NS" "$PORTLOCK" -q -c "$TMP/p.conf" apply

fill() {	# fill N: the seen sets hold N sources after one nft -f
	"$PY" - "$TMP/elems.nft" "$1" <<'PY'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
with open(path, "w") as f:
    f.write("flush set inet portlock smtp_seen4\nflush set inet portlock smtp_seen6\n")
    for fam, count in (("4", n // 2), ("6", n - n // 2)):
        f.write("add element inet portlock smtp_seen%s { " % fam)
        els = []
        for i in range(count):
            port = 25 if i % 3 else 587
            if fam == "4":
                a = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
            else:
                a = "2001:db8:1::%x:%x" % (i >> 16, i & 0xffff)
            els.append("%s . %d counter packets %d bytes %d" % (a, port, rnd.randint(1, 999), rnd.randint(60, 99999)))
        f.write(", ".join(els) + " }\n")
PY
	local t0 t1
	t0=$(date +%s.%N)
	ip netns exec "$NS" nft -f "$TMP/elems.nft"
	t1=$(date +%s.%N)
	echo "fill:     $1 sources in $(echo "$t1 - $t0" | bc) s (nft -f, one transaction)"
}

run() {	# label: median wall time of RUNS runs of the command
	"$PY" - "$RUNS" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, label, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times, cpus = [], []
for _ in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
    times.append(time.monotonic() - t)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpus.append((r1.ru_utime - r0.ru_utime, r1.ru_stime - r0.ru_stime))
u, k = statistics.median(c[0] for c in cpus), statistics.median(c[1] for c in cpus)
print("%-30s wall %.3f s (min %.3f)  cpu user %.3f + sys %.3f = %.3f s" % (label, statistics.median(times), min(times), u, k, u + k))
PY
}

echo "portlock: $("$PORTLOCK" --version) ($PORTLOCK)"
echo "machine:  $(nproc) CPU(s), $(uname -r), $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $((N / 10)) "$N"; do
	echo
	fill "$n"
	X="ip netns exec $NS $PORTLOCK -q -c $TMP/p.conf"
	run "observed ($n)" $X observed
	run "observed --json ($n)" $X observed --json
	run "observed --learn ($n)" $X observed smtp --learn "$TMP/learned.txt"
	run "show --stats ($n)" $X show --stats
	run "show --stats --json ($n)" $X show --stats --json
	run "nft -j list set x2 ($n)" sh -c "ip netns exec $NS nft -j list set inet portlock smtp_seen4 >/dev/null && ip netns exec $NS nft -j list set inet portlock smtp_seen6"
	ip netns exec "$NS" "$PORTLOCK" -q -c "$TMP/p.conf" observed --json | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("check:    observed lists %d sources" % sum(len(s["sources"]) for s in d["services"]))'
done
