#!/bin/bash
# probe: unknown is unknown. Every SMTP server that data/fingerprints.conf has
# behavioural signatures for runs from its Debian package in $SRV
# (tests/peers/smtp-servers.sh). With every signature each is named right;
# leave-one-out: with its own signatures removed from a copy of the file, the
# answer for its server is "unknown" (the closest match shown as such), never
# another product, with and without --fingerprint.
. "$(dirname "$0")/lib-probe.bash"
pl_topology
command -v postfix >/dev/null || pl_die "postfix is not installed (tests/deps/probe.txt)"
command -v m4 >/dev/null || pl_die "m4 is not installed (tests/deps/probe.txt)"
[ -d "$PL_NODE_MODULES/smtp-server" ] ||
	pl_die "npm package smtp-server missing: npm install --prefix $PEERS/node_modules-root smtp-server"
FP=$PL_SOURCE_DIR/data/fingerprints.conf
FP_NAME_MIN=70	# src/fingerprint.h
SERVERS=$PEERS/smtp-servers.sh

# the unpacked .debs of the servers that conflict with Postfix: fetched once
# per build directory
pkg=${PL_BUILD_DIR:-$PL_TMP}/peer-pkgs
bash "$SERVERS" --fetch "$pkg" || pl_die "cannot fetch the SMTP server packages"
chmod 755 "$PL_TMP"	# the servers' users reach their files below it
pl_bg "$SRV" bash "$SERVERS" "$pkg" "$PL_TMP/srv" "$SRV4"

declare -A port_of
while read -r port sw; do port_of[$sw]=$port; done < <(bash "$SERVERS" --list)

# every product with behavioural signatures has a server here
mapfile -t products < <(awk -F'|' '/^[^#]/ && NF >= 4 {
	gsub(/^[ \t]+|[ \t]+$/, "", $1); gsub(/^[ \t]+|[ \t]+$/, "", $2)
	if ($2 != "banner") print $1 }' "$FP" | sort -u)
[ "${#products[@]}" -ge 7 ] || pl_fail "only ${#products[@]} products with behavioural signatures"
for sw in "${products[@]}"; do
	[ -n "${port_of[$sw]:-}" ] || pl_fail "no server runs for '$sw' (tests/peers/smtp-servers.sh)"
done

# without_sigs SOFTWARE OUT: the signature file less SOFTWARE's lines
without_sigs() {
	awk -F'|' -v sw="$1" '{ n = $1; gsub(/^[ \t]+|[ \t]+$/, "", n) } /^#/ || NF < 4 || n != sw' \
		"$FP" >"$2"
	grep -q "^$1 *|" "$2" && pl_fail "$1's signatures still in $2"
	return 0
}

# one job per server, all at once (Postfix takes long to start; Sendmail's
# greet_pause makes its 16 connections take 12 s): as soon as its port
# listens, probe it with all signatures and with its own removed (the
# leave-one-out), with and without --fingerprint. One probe at a time per
# server: OpenSMTPD and Python's smtpd listen with a backlog of 5.
probe_server() {
	local sw=$1 t=$SRV4:${port_of[$1]} f=$PL_TMP/loo-${1// /_} mode
	pl_wait_port "$SRV" "${port_of[$sw]}" 60
	pl_log "$sw listens after ${SECONDS}s"
	without_sigs "$sw" "$f.conf"
	for mode in --fingerprint ""; do
		ip netns exec "$CLI" "$PORTLOCK" probe --json $mode "$t" >"$f.all$mode.json" 2>"$f.err" ||
			pl_fail "probe $mode $t exited $?: $(cat "$f.err")"
		ip netns exec "$CLI" "$PORTLOCK" probe --json $mode --fingerprints "$f.conf" "$t" \
			>"$f.loo$mode.json" 2>"$f.err" || pl_fail "probe $mode (without $sw) $t exited $?: $(cat "$f.err")"
	done
	pl_log "$sw probed after ${SECONDS}s"
	return "$PL_FAILS"
}
pids=()
for sw in "${products[@]}"; do
	probe_server "$sw" &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || pl_fail "a probe job failed"; done

# check every result in one pass
for sw in "${products[@]}"; do printf '%s\t%s\n' "$sw" "${port_of[$sw]}"; done >"$PL_TMP/products"
"$PL_PY" - "$PL_TMP" "$SRV4" "$FP_NAME_MIN" >"$PL_TMP/check" <<'PY'
import json, sys
tmp, addr, name_min = sys.argv[1], sys.argv[2], int(sys.argv[3])
for line in open(tmp + "/products"):
    sw, port = line.rstrip("\n").split("\t")
    f = tmp + "/loo-" + sw.replace(" ", "_")
    for mode in ("--fingerprint", ""):
        for kind in ("all", "loo"):
            try:
                r = json.load(open("%s.%s%s.json" % (f, kind, mode)))["results"][0]
            except (OSError, ValueError, IndexError) as e:
                print("FAIL %s %s %s: no result (%s)" % (sw, kind, mode, e))
                continue
            got = "software=%s closest=%s" % (r.get("software"), r.get("closest"))
            print("LOG %s %s%s %s:%s: %s" % ("with all signatures," if kind == "all" else
                  "without its signatures,", sw, " " + mode if mode else "", addr, port, got))
            if r["service"] != "smtp":
                print("FAIL %s %s %s: service %s" % (sw, kind, mode, r["service"]))
            elif kind == "all":
                s = r["software"] or {}
                if s.get("name") != sw or s.get("confidence", 0) < name_min or r["closest"] is not None:
                    print("FAIL %s %s: not named right: %s" % (sw, mode, got))
            else:
                c = r["closest"]
                if r["software"] is not None or (c is not None and c["software"] == sw):
                    print("FAIL %s without its signatures %s: %s" % (sw, mode, got))
PY
while read -r kind msg; do
	if [ "$kind" = LOG ]; then pl_log "$msg"; else pl_fail "$msg"; fi
done <"$PL_TMP/check"
grep -q . "$PL_TMP/check" || pl_fail "no check output"

# the text output says unknown and shows the closest match as such, and
# $PORTLOCK_FINGERPRINTS selects the file as --fingerprints does
t=$SRV4:${port_of[aiosmtpd]}
without_sigs aiosmtpd "$PL_TMP/no-aiosmtpd.conf"
pl_expect_rc 0 ip netns exec "$CLI" env PORTLOCK_FINGERPRINTS="$PL_TMP/no-aiosmtpd.conf" \
	"$PORTLOCK" probe --fingerprint "$t"
pl_expect_grep "^$t  smtp  unknown \(closest: Python smtpd, [0-9]+%, [a-z+()0-9 ]+\)  [0-9]+ ms$" "$PL_TMP/out"
pl_log "done after ${SECONDS}s"
pl_done
