#!/bin/bash
# probe: services that are neither SMTP nor SMPP must be left alone (named
# when a silent port answers the generic request, see silent.sh), and
# closed/filtered ports reported as such.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
pl_fake "$SRV" http "$SRV4" 8080
pl_bg "$SRV" "$PL_PY" -m http.server --bind "$SRV4" 8081
pl_fake "$SRV" ssh "$SRV4" 2222
pl_fake "$SRV" ftp "$SRV4" 2121
pl_fake "$SRV" silent "$SRV4" 2700
pl_fake "$SRV" random "$SRV4" 2701
pl_fake "$SRV" silent "$SRV4" 2702
for p in 8080 8081 2222 2121 2700 2701 2702; do pl_wait_port "$SRV" $p; done
# filtered: DROP inside the server's own namespace only
ip netns exec "$SRV" nft -f - <<NFT || pl_die "nft failed"
table inet probetest {
	chain input { type filter hook input priority 0; tcp dport 2702 drop; }
}
NFT

out=$PL_TMP/out.json
start=$(date +%s%N)
pl_probe_json "$out" --timeout 2000 --connect-timeout 1500 "$SRV4:8080" "$SRV4:8081" "$SRV4:2222" \
	"$SRV4:2121" "$SRV4:2700" "$SRV4:2701" "$SRV4:2702" "$SRV4:2703"
ms=$((($(date +%s%N) - start) / 1000000))
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
for p in 8080 8081 2222 2121 2700 2701; do
	pl_expect_field "$out" "$SRV4:$p" 'r["smtp"] is None and r["smpp"] is None' True
done
pl_expect_service "$out" "$SRV4:8080" http
pl_expect_field "$out" "$SRV4:8080" 'r["evidence"]' '^HTTP/1\.1 400'
pl_expect_field "$out" "$SRV4:8080" 'r["http"]["status"]' '^400$'
pl_expect_service "$out" "$SRV4:8081" http
pl_expect_service "$out" "$SRV4:2222" ssh
pl_expect_field "$out" "$SRV4:2222" 'r["evidence"]' '^SSH-2\.0-OpenSSH'
pl_expect_service "$out" "$SRV4:2121" unknown
pl_expect_field "$out" "$SRV4:2121" 'r["note"]' 'not SMTP \(FTP\?\)'
pl_expect_service "$out" "$SRV4:2700" timeout
pl_expect_service "$out" "$SRV4:2701" unknown
pl_expect_service "$out" "$SRV4:2702" filtered
pl_expect_service "$out" "$SRV4:2703" closed
pl_expect_schema "$out"
# every decoy in parallel: the whole run is bounded by the slowest path, the
# silent port's: SMPP wait (0.5 s + --timeout), then the generic request (--timeout)
[ "$ms" -lt 9000 ] || pl_fail "decoy probe took $ms ms"
pl_expect_rc 6 ip netns exec "$CLI" "$PORTLOCK" probe --timeout 1000 --expect smtp "$SRV4:2121"
pl_expect_rc 6 ip netns exec "$CLI" "$PORTLOCK" probe --timeout 1000 --expect smpp "$SRV4:8080"
pl_done
