#!/bin/bash
# bench/apply.sh [N...]: portlock apply/show/plan against nft -f / nft -j list,
# side by side in one run, in a throwaway network namespace, for allowlists of
# N prefixes (default: 1000 100000 1000000). Reports medians of R runs
# (R=3, env BENCH_RUNS), ratios and peak RSS. Needs root; never touches the
# host's ruleset.
set -eu
cd "$(dirname "$0")/.."
PORTLOCK=${PORTLOCK:-./build/portlock}
RUNS=${BENCH_RUNS:-3}
NS=plbench$$
TMP=$(mktemp -d /tmp/portlock-bench.XXXXXX)
trap 'ip netns del $NS 2>/dev/null; rm -rf "$TMP"' EXIT
export PORTLOCK_STATE_DIR=$TMP/state	# the journal of the runs: private to the bench
ip netns add $NS
X() { ip netns exec $NS "$@"; }
export NS
[ -x "$PORTLOCK" ] || { echo "build portlock first (cmake -B build && make -C build)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

# measure CMD...: prints "seconds maxrss_kib" of one run
measure() {
	local t0 t1
	t0=$(date +%s%N)
	/usr/bin/time -f '%M' -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; return 1; }
	t1=$(date +%s%N)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(cat "$TMP/t")"
}
# median of RUNS runs; env SETUP is run before each (untimed)
median() {
	local i out=()
	for ((i = 0; i < RUNS; i++)); do
		[ -n "${SETUP:-}" ] && eval "$SETUP"
		out+=("$(measure "$@")")
	done
	printf '%s\n' "${out[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "inf" }'; }

gen() {	# gen N FILE: N random non-overlapping prefixes, half /24 half /32, seeded
	/usr/bin/python3 - "$1" "$2" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
random.seed(n)
seen = set()
with open(path, "w") as f:
    while len(seen) < n:
        a = random.randrange(1 << 24) << 8     # a /24 slot
        if a in seen: continue
        seen.add(a)
        if len(seen) % 2:
            f.write("%d.%d.%d.0/24\n" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255))
        else:
            f.write("%d.%d.%d.%d\n" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, random.randrange(256)))
PY
}

SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000 100000 1000000)
printf '%-9s %-34s %10s %10s %10s\n' N step portlock nft ratio
for N in "${SIZES[@]}"; do
	gen "$N" "$TMP/allow.txt"
	cat >"$TMP/p.conf" <<CONF
services = ( { name = "smpp"; ports = [2775]; allow_file = "allow.txt"; } );
CONF
	"$PORTLOCK" -q -c "$TMP/p.conf" export >"$TMP/full.nft"
	DEL="X nft delete table inet portlock 2>/dev/null || true"

	SETUP=$DEL
	read -r pt prss < <(median ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" apply)
	read -r nt nrss < <(median ip netns exec $NS nft -f "$TMP/full.nft")
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "apply from scratch" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	printf '%-9s %-34s %8sMiB %8sMiB %10s\n' "$N" "  peak RSS" "$((prss / 1024))" "$((nrss / 1024))" "$(ratio "$nrss" "$prss")"
	# what a person would write by hand: the same policy as one interval set
	PORTLOCK_SHARD_MAX=100000000 "$PORTLOCK" -q -c "$TMP/p.conf" export >"$TMP/oneset.nft"
	read -r ot orss < <(median ip netns exec $NS nft -f "$TMP/oneset.nft")
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "  vs nft -f, one unsharded set" "$pt" "$ot" "$(ratio "$ot" "$pt")"
	printf '%-9s %-34s %8sMiB %8sMiB %10s\n' "$N" "  peak RSS" "$((prss / 1024))" "$((orss / 1024))" "$(ratio "$orss" "$prss")"
	X nft delete table inet portlock
	kus=$(X "$PORTLOCK" -q -c "$TMP/p.conf" apply --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["kernel_ms"])')
	printf '%-9s %-34s %9ss\n' "$N" "  of which the kernel (sendmsg)" "$(awk -v a="$kus" 'BEGIN { printf "%.3f", a / 1000 }')"

	# one prefix changed: portlock sends the difference, nft -f reloads all
	X "$PORTLOCK" -q -c "$TMP/p.conf" apply >/dev/null
	cp "$TMP/allow.txt" "$TMP/allow.orig"
	# (sync: the 15 MB the setup just wrote are flushed before the timed run, not during its fsyncs)
	SETUP="cp $TMP/allow.orig $TMP/allow.txt; X $PORTLOCK -q -c $TMP/p.conf apply >/dev/null; sed -i '1s/.*/203.0.113.77/' $TMP/allow.txt; sync"
	read -r pt prss < <(RUNS=5 median ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" apply)
	"$PORTLOCK" -q -c "$TMP/p.conf" export >"$TMP/changed.nft"
	SETUP=""
	read -r nt nrss < <(median ip netns exec $NS nft -f "$TMP/changed.nft")
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "re-apply, one prefix changed" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	printf '%-9s %-34s %8sMiB\n' "$N" "  peak RSS" "$((prss / 1024))"
	# the same with the journal full (journal_keep 100 records): the steady state of a busy host
	cp "$TMP/allow.orig" "$TMP/allow.txt"
	for ((k = 0; k < 100; k++)); do
		sed -i "2s/.*/198.18.$((k / 250)).$((k % 250 + 1))/" "$TMP/allow.txt"
		X "$PORTLOCK" -q -c "$TMP/p.conf" apply >/dev/null
	done
	CNT=0
	SETUP="CNT=\$((CNT + 1)); sed -i \"1s/.*/203.0.113.\$CNT/\" $TMP/allow.txt; sync"
	read -r pt prss < <(RUNS=5 median ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" apply)
	SETUP=""
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "  with 100 journal records" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	cp "$TMP/allow.orig" "$TMP/allow.txt"

	# portlock's own table again (nft -f above replaced it): its note says what the sets hold
	X "$PORTLOCK" -q -c "$TMP/p.conf" apply >/dev/null
	read -r pt prss < <(median ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" show)
	read -r nt nrss < <(median ip netns exec $NS nft -j list table inet portlock)
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "show vs nft -j list table" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	read -r pt prss < <(median ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" plan)
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "plan vs nft -j list table" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	# the same without the generation-keyed note: every set dumped
	read -r pt prss < <(median env PORTLOCK_NO_LIVE_CACHE=1 ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" show)
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "  show, full dump" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	read -r pt prss < <(median env PORTLOCK_NO_LIVE_CACHE=1 ip netns exec $NS "$PORTLOCK" -q -c "$TMP/p.conf" plan)
	printf '%-9s %-34s %9ss %9ss %10s\n' "$N" "  plan, full dump" "$pt" "$nt" "$(ratio "$nt" "$pt")"
	cp "$TMP/allow.orig" "$TMP/allow.txt"
done
