#!/bin/bash
# bench/probe.sh: `portlock probe` vs `nmap -sV` on the same ports, side by side
# in one run, inside throwaway network namespaces (tests/shell/lib/lib.sh
# topology). Needs root, nmap, postfix, python3-aiosmtpd, socat, node + npm smpp.
#
#   sudo PORTLOCK=build/portlock bench/probe.sh [--quick]
#
# Ports (server 192.0.2.1): 25 Postfix, 2525 aiosmtpd, 465 SMTP over TLS
# (socat -> aiosmtpd), 2775 SMPP (npm smpp SMSC), 3550 SMPP over TLS
# (socat -> SMSC); decoys 8080 HTTP, 2222 SSH banner, 2121 FTP (vsftpd-like),
# 2700 silent, 2701 random bytes, 2703 closed.
# Scoring: an SMTP/SMPP port is right when the tool names the protocol from
# what answered (nmap's port-table guesses, method="table", do not count); a
# decoy is right when the tool names neither SMTP nor SMPP; "software" counts
# SMTP ports where the tool names the server software.
# --quick: only 25, 2525, 2775 and the closed port (a few seconds of nmap).
set -u
PL_SOURCE_DIR=$(cd "$(dirname "$0")/.." && pwd)
PORTLOCK=${PORTLOCK:-$PL_SOURCE_DIR/build/portlock}
. "$PL_SOURCE_DIR/tests/shell/lib/lib.sh"
PEERS=$PL_SOURCE_DIR/tests/peers
export PL_NODE_MODULES=${PL_NODE_MODULES:-$PEERS/node_modules-root/node_modules}
quick=0
[ "${1:-}" = --quick ] && quick=1

pl_topology
chmod 755 "$PL_TMP"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=bench.portlock.test \
	-keyout "$PL_TMP/k.pem" -out "$PL_TMP/c.pem" >/dev/null 2>&1
pl_bg "$SRV" bash "$PEERS/postfix.sh" "$PL_TMP/postfix" "$SRV4" >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" "$SRV4" 2525 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/aiosmtpd_server.py" 127.0.0.1 2526 >/dev/null 2>&1
pl_bg "$SRV" /usr/bin/node "$PEERS/smsc.js" "$SRV4" 2775 >/dev/null 2>&1
pl_bg "$SRV" /usr/bin/node "$PEERS/smsc.js" 127.0.0.1 2776 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/fake_peer.py" http "$SRV4" 8080 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/fake_peer.py" ssh "$SRV4" 2222 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/fake_peer.py" ftp "$SRV4" 2121 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/fake_peer.py" silent "$SRV4" 2700 >/dev/null 2>&1
pl_bg "$SRV" "$PL_PY" "$PEERS/fake_peer.py" random "$SRV4" 2701 >/dev/null 2>&1
pl_wait_port "$SRV" 2526
pl_wait_port "$SRV" 2776
pl_bg "$SRV" socat "OPENSSL-LISTEN:465,bind=$SRV4,reuseaddr,fork,cert=$PL_TMP/c.pem,key=$PL_TMP/k.pem,verify=0" TCP:127.0.0.1:2526 >/dev/null 2>&1
pl_bg "$SRV" socat "OPENSSL-LISTEN:3550,bind=$SRV4,reuseaddr,fork,cert=$PL_TMP/c.pem,key=$PL_TMP/k.pem,verify=0" TCP:127.0.0.1:2776 >/dev/null 2>&1
for p in 25 2525 2775 465 3550 8080 2222 2121 2700 2701; do pl_wait_port "$SRV" $p 30; done

smtp_ports="25 2525 465"
smpp_ports="2775 3550"
decoys="8080 2222 2121 2700 2701 2703"
if [ $quick = 1 ]; then
	smtp_ports="25 2525" smpp_ports="2775" decoys="2703"
fi
all="$smtp_ports $smpp_ports $decoys"
targets=() plist=
for p in $all; do
	targets+=("$SRV4:$p")
	plist=${plist:+$plist,}$p
done

now() { date +%s%N; }
t0=$(now)
ip netns exec "$CLI" "$PORTLOCK" probe --fingerprint --json "${targets[@]}" >"$PL_TMP/pl.json" 2>"$PL_TMP/pl.err"
t1=$(now)
ip netns exec "$CLI" nmap -sV -Pn -n -p "$plist" -oX "$PL_TMP/nmap.xml" "$SRV4" >/dev/null 2>&1
t2=$(now)

"$PL_PY" - "$PL_TMP/pl.json" "$PL_TMP/nmap.xml" $(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000)) \
	"$smtp_ports" "$smpp_ports" "$decoys" <<'PY'
import json, sys, xml.etree.ElementTree as ET
pl_file, nm_file, pl_ms, nm_ms, smtp, smpp, decoys = sys.argv[1:]
pl_ms, nm_ms = int(pl_ms), int(nm_ms)
smtp, smpp, decoys = [list(map(int, x.split())) for x in (smtp, smpp, decoys)]
pl = {r["port"]: r for r in json.load(open(pl_file))}
nm = {}
for port in ET.parse(nm_file).getroot().iter("port"):
    st = port.find("state").get("state")
    sv = port.find("service")
    d = {"state": st, "name": "", "product": "", "method": "", "tunnel": ""}
    if sv is not None:
        d.update(name=sv.get("name", ""), product=(sv.get("product", "") + " " + sv.get("version", "")).strip(),
                 method=sv.get("method", ""), tunnel=sv.get("tunnel", ""))
    nm[int(port.get("portid"))] = d

def pl_says(p):
    r = pl.get(p, {})
    s = r.get("service", "?")
    sw = (r.get("software") or {}).get("name", "")
    return s, sw

def nm_says(p):
    d = nm.get(p, {"state": "?", "name": "?", "product": "", "method": "", "tunnel": ""})
    name = d["name"] + ("/ssl" if d["tunnel"] == "ssl" else "")
    if d["method"] == "table":
        name += " (port table guess)"
    return d["state"], name, d["product"], d["method"]

score = {"pl": [0, 0, 0], "nm": [0, 0, 0]}   # protocol right, decoys right, software named
rows = []
for p in smtp + smpp + decoys:
    s, sw = pl_says(p)
    st, name, prod, meth = nm_says(p)
    if p in smtp:
        ok_pl = s in ("smtp", "smtps")
        ok_nm = "smtp" in name and meth == "probed"
        score["pl"][2] += bool(sw) and ok_pl
        score["nm"][2] += bool(prod) and ok_nm
    elif p in smpp:
        ok_pl = s in ("smpp", "smpp-tls")
        ok_nm = "smpp" in name and meth == "probed"
    else:
        ok_pl = s not in ("smtp", "smtps", "smpp", "smpp-tls")
        ok_nm = not any(x in name for x in ("smtp", "smpp")) or meth == "table"
    k = 1 if p in decoys else 0
    score["pl"][k] += ok_pl
    score["nm"][k] += ok_nm
    rows.append((p, s + (" " + sw if sw else ""), "ok" if ok_pl else "WRONG",
                 (st + " " + name + (" [" + prod + "]" if prod else "")).strip(), "ok" if ok_nm else "WRONG"))
print("%-6s %-34s %-6s %-52s %s" % ("port", "portlock probe --fingerprint", "", "nmap -sV", ""))
for r in rows:
    print("%-6s %-34s %-6s %-52s %s" % r)
n_proto, n_dec, n_smtp = len(smtp) + len(smpp), len(decoys), len(smtp)
print()
print("portlock: %6.1f s  protocols %d/%d  decoys left alone %d/%d  SMTP software named %d/%d"
      % (pl_ms / 1000, score["pl"][0], n_proto, score["pl"][1], n_dec, score["pl"][2], n_smtp))
print("nmap -sV: %6.1f s  protocols %d/%d  decoys left alone %d/%d  SMTP software named %d/%d"
      % (nm_ms / 1000, score["nm"][0], n_proto, score["nm"][1], n_dec, score["nm"][2], n_smtp))
print("speed-up: %.1fx (nmap wall time / portlock wall time)" % (nm_ms / max(pl_ms, 1)))
PY
