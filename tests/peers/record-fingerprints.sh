#!/bin/bash
# record-fingerprints.sh [PORTLOCK]: start every SMTP server that
# data/fingerprints.conf has behavioural signatures for, each from its Debian 12
# package, in one throwaway network namespace (192.0.2.1) with
# tests/peers/smtp-servers.sh, and print what `portlock probe --fingerprint`
# and smtp_transcript.py observe. The signatures in data/fingerprints.conf were
# written from this output. Nothing on the host changes. Needs root and m4.
# Ports: see smtp-servers.sh --list.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
portlock=$(realpath "${1:-$src/build/portlock}")
if [ -z "${PL_RECORD_INNER:-}" ]; then
	w=$(mktemp -d /tmp/portlock-record.XXXXXX)
	chmod 755 "$w"
	trap 'rm -rf "$w"' EXIT
	bash "$src/tests/peers/smtp-servers.sh" --fetch "$w/pkg"
	PL_RECORD_INNER=$w unshare -n bash "$0" "$portlock"
	exit
fi
w=$PL_RECORD_INNER
ip link set lo up
ip addr add 192.0.2.1/24 dev lo
bash "$src/tests/peers/smtp-servers.sh" "$w/pkg" "$w/run" 192.0.2.1 &
srv=$!
trap 'kill $srv; wait $srv || true' EXIT
mapfile -t ports < <(bash "$src/tests/peers/smtp-servers.sh" --list | cut -d' ' -f1)
for i in $(seq 1200); do	# Postfix may take a minute on a loaded machine
	n=0
	for p in "${ports[@]}"; do ss -Hltn "sport = :$p" | grep -q . && n=$((n + 1)); done
	[ "$n" -eq "${#ports[@]}" ] && break
	sleep 0.1
done
targets=()
for p in "${ports[@]}"; do targets+=("192.0.2.1:$p"); done
"$portlock" probe --fingerprint "${targets[@]}"
for p in "${ports[@]}"; do
	echo "== transcript 192.0.2.1:$p"
	/usr/bin/python3 "$src/tests/peers/smtp_transcript.py" 192.0.2.1 "$p"
done
