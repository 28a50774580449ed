#!/bin/bash
# probe: a port that sends nothing gets, after the SMTP wait and the SMPP
# enquire_link, one generic request (GET / HTTP/1.0): real servers are named
# as nmap would (http with its Server header, tls with what the handshake
# gives, https, ssh from its banner), every byte escaped, nothing trusted.
. "$(dirname "$0")/lib-probe.bash"
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || pl_die "openssh-server is needed (tests/deps/ssh.txt)"
pl_topology
pl_cert silent.test
mkdir -p "$PL_TMP/www" && echo hello >"$PL_TMP/www/index.html"
pl_bg "$SRV" "$PL_PY" -m http.server --bind "$SRV4" --directory "$PL_TMP/www" 8081
pl_bg "$SRV" openssl s_server -quiet -accept "$SRV4:4433" -cert "$PL_TMP/silent.test.crt" \
	-key "$PL_TMP/silent.test.key"
(cd "$PL_TMP/www" && pl_bg "$SRV" openssl s_server -quiet -WWW -accept "$SRV4:4443" \
	-cert "$PL_TMP/silent.test.crt" -key "$PL_TMP/silent.test.key")
# a real sshd
K=$PL_TMP/ssh
mkdir -m 700 "$K"
ssh-keygen -q -t ed25519 -N '' -f "$K/host" || pl_die "ssh-keygen"
mkdir -p /run/sshd
cat >"$K/sshd_config" <<CONF
Port 2222
ListenAddress $SRV4
HostKey $K/host
PidFile $K/sshd.pid
UsePAM no
StrictModes no
CONF
pl_bg "$SRV" "$SSHD" -D -e -f "$K/sshd_config" 2>"$PL_TMP/sshd.log"
# a silent port that stays silent: still timeout
pl_fake "$SRV" silent "$SRV4" 2700
for p in 8081 4433 4443 2222 2700; do pl_wait_port "$SRV" $p; done

out=$PL_TMP/out.json
pl_probe_json "$out" --timeout 1500 "$SRV4:8081" "$SRV4:4433" "$SRV4:4443" "$SRV4:2222" "$SRV4:2700"
[ "$PL_RC" -eq 0 ] || pl_fail "probe exited $PL_RC: $(cat "$out.err")"
t=$SRV4:8081
pl_expect_service "$out" $t http
pl_expect_field "$out" $t 'r["http"]["status"]' '^200$'
pl_expect_field "$out" $t 'r["http"]["server"]' '^SimpleHTTP/[0-9.]+ Python/3'
pl_expect_field "$out" $t 'r["evidence"]' '^HTTP/1\.0 200 OK'
pl_expect_field "$out" $t 'r["smtp"] is None and r["smpp"] is None and r["tls"] is None' True
t=$SRV4:4433
pl_expect_service "$out" $t tls
pl_expect_field "$out" $t 'r["tls"]["subject"]' 'CN ?= ?silent\.test'
pl_expect_field "$out" $t 'r["tls"]["version"]' '^TLSv1\.[23]$'
pl_expect_field "$out" $t 'r["http"] is None' True
t=$SRV4:4443
pl_expect_service "$out" $t https
pl_expect_field "$out" $t 'r["http"]["status"]' '^[1-5][0-9][0-9]$'
pl_expect_field "$out" $t 'r["tls"]["subject"]' 'CN ?= ?silent\.test'
t=$SRV4:2222
pl_expect_service "$out" $t ssh
pl_expect_field "$out" $t 'r["ssh"]["banner"]' '^SSH-2\.0-OpenSSH_[[:graph:]]+( [[:graph:]]+)*$'
pl_expect_service "$out" "$SRV4:2700" timeout
pl_expect_field "$out" "$SRV4:2700" 'r["http"] is None and r["ssh"] is None' True
pl_expect_schema "$out"

# text output names what answered
pl_expect_rc 0 ip netns exec "$CLI" "$PORTLOCK" probe --timeout 1500 "$SRV4:8081" "$SRV4:2222"
pl_expect_grep "^$SRV4:8081  http  " "$PL_TMP/out"
pl_expect_grep "^  http      status 200, server SimpleHTTP/" "$PL_TMP/out"
pl_expect_grep "^  ssh       SSH-2\.0-OpenSSH_" "$PL_TMP/out"

# a hostile HTTP answer: the Server header is escaped and bounded, and --expect still fails
pl_bg "$SRV" "$PL_PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8082)); s.listen(8)
while True:
    c, _ = s.accept()
    c.settimeout(10)
    try:
        d = c.recv(100)
        if d.startswith(b"GET "):
            c.sendall(b"HTTP/1.1 200 OK\r\nServer: \x1b[2Jevil\x07 " + b"A" * 5000 + b"\r\n\r\n")
    except OSError:
        pass
    c.close()' "$SRV4"
pl_wait_port "$SRV" 8082
pl_expect_rc 6 ip netns exec "$CLI" "$PORTLOCK" probe --timeout 1000 --expect smtp "$SRV4:8082"
pl_expect_grep "^  http      status 200, server \\\\x1b\[2Jevil\\\\x07 A+\$" "$PL_TMP/out"
if LC_ALL=C grep -q "$(printf '[\001-\010\016-\037\177-\377]')" "$PL_TMP/out"; then
	pl_fail "raw control bytes in the output"
fi
pl_probe_json "$out" --timeout 1000 "$SRV4:8082"
pl_expect_field "$out" "$SRV4:8082" 'r["http"]["server"].startswith("\x1b[2Jevil\x07 AAA")' True
pl_expect_field "$out" "$SRV4:8082" 'len(r["http"]["server"]) <= 127' True
pl_done
