#!/bin/bash
# record-fingerprints.sh [PORTLOCK]: start every SMTP server that
# data/fingerprints.conf has behavioural signatures for, each from its Debian 12
# package, in one throwaway network + mount namespace (192.0.2.1), and print
# what `portlock probe --fingerprint` and smtp_transcript.py observe. The
# signatures in data/fingerprints.conf were written from this output.
#
# Postfix and aiosmtpd come installed (tests/deps/probe.txt). Exim, OpenSMTPD,
# chasquid and Sendmail conflict with Postfix as packages, so their .debs are fetched
# with `apt-get download` and unpacked into a temp dir; the mount namespace
# supplies the users they expect (Debian-exim, opensmtpd, opensmtpq, smmsp,
# mailnull), an /etc/hosts that qualifies the host name (Sendmail sleeps
# otherwise) and a private /var/spool, /var/lib and /run. Nothing on the host
# changes. Needs root and m4. Ports: 25 Postfix, 26 Exim, 27 OpenSMTPD,
# 28 chasquid, 31 Sendmail (greet_pause 2 s), 2525 aiosmtpd, 2526 Python smtpd.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
portlock=$(realpath "${1:-$src/build/portlock}")
if [ -z "${PL_RECORD_INNER:-}" ]; then
	w=$(mktemp -d /tmp/portlock-record.XXXXXX)
	chmod 755 "$w"
	trap 'rm -rf "$w"' EXIT
	(cd "$w" && apt-get download exim4-daemon-light exim4-base opensmtpd chasquid sendmail-bin sendmail-cf >/dev/null 2>&1)
	for f in "$w"/*.deb; do dpkg -x "$f" "$w/root"; done
	PL_RECORD_INNER=$w unshare -m -n bash "$0" "$portlock"
	exit
fi
w=$PL_RECORD_INNER
r=$w/root
# Exim, OpenSMTPD and Postfix daemonize: on exit, end every process in this
# (private) network namespace, whatever its parent.
netns=$(readlink /proc/self/ns/net)
reap() {
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$netns" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	return 0
}
trap reap EXIT
ip link set lo up
ip addr add 192.0.2.1/24 dev lo
cp /etc/passwd "$w/passwd"
cp /etc/group "$w/group"
for u in Debian-exim opensmtpd opensmtpq smmsp mailnull; do
	echo "$u:x:65534:65534::/nonexistent:/usr/sbin/nologin" >>"$w/passwd"
	echo "$u:x:65534:" >>"$w/group"
done
printf '127.0.0.1 localhost\n192.0.2.1 %s.portlock.test %s\n' "$(hostname)" "$(hostname)" >"$w/hosts"
mount --bind "$w/hosts" /etc/hosts
mount --bind "$w/passwd" /etc/passwd
mount --bind "$w/group" /etc/group
mount -t tmpfs none /var/spool
mount -t tmpfs none /var/lib
mount -t tmpfs none /run
mkdir -p /var/lib/opensmtpd/empty /var/run "$w/exim/spool" "$w/chasquid/certs/mx.portlock.test" \
	"$w/chasquid/domains/mx.portlock.test"
chmod 1777 "$w/exim"
chown nobody "$w/exim/spool"

cat >"$w/exim/exim.conf" <<CF
keep_environment =
primary_hostname = mx.portlock.test
exim_user = nobody
exim_group = nogroup
spool_directory = $w/exim/spool
log_file_path = $w/exim/%slog
local_interfaces = 192.0.2.1.26
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  deny message = relay not permitted
CF
printf 'listen on 192.0.2.1 port 27\naction "local" maildir "%s/%%{user.username}"\nmatch from any for local action "local"\n' \
	"$w" >"$w/smtpd.conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.portlock.test \
	-keyout "$w/chasquid/certs/mx.portlock.test/privkey.pem" \
	-out "$w/chasquid/certs/mx.portlock.test/fullchain.pem" >/dev/null 2>&1
cat >"$w/chasquid/chasquid.conf" <<CF
hostname: "mx.portlock.test"
smtp_address: "192.0.2.1:28"
submission_address: "192.0.2.1:29"
submission_over_tls_address: "192.0.2.1:30"
data_dir: "$w/chasquid/data"
mail_log_path: "$w/chasquid/mail.log"
CF

mkdir -p "$w/sm/mqueue"
chmod 700 "$w/sm/mqueue"
cat >"$w/sm/sm.mc" <<MC
include(\`$r/usr/share/sendmail/cf/m4/cf.m4')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`mx.portlock.test')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`QUEUE_DIR', \`$w/sm/mqueue')dnl
define(\`STATUS_FILE', \`$w/sm/statistics')dnl
define(\`confPID_FILE', \`$w/sm/pid')dnl
define(\`ALIAS_FILE', \`')dnl
DAEMON_OPTIONS(\`Port=31, Addr=192.0.2.1, Name=MTA')dnl
FEATURE(\`greet_pause', \`2000')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
m4 "$w/sm/sm.mc" >"$w/sm/sendmail.cf"

pids=()
bash "$src/tests/peers/postfix.sh" "$w/postfix" 192.0.2.1 >/dev/null 2>&1 & pids+=($!)
"$r/usr/sbin/exim4" -C "$w/exim/exim.conf" -bd >/dev/null 2>&1 & pids+=($!)
"$r/usr/sbin/smtpd" -d -f "$w/smtpd.conf" >/dev/null 2>&1 & pids+=($!)
"$r/usr/bin/chasquid" -config_dir "$w/chasquid" >/dev/null 2>&1 & pids+=($!)
"$r/usr/libexec/sendmail/sendmail" -C "$w/sm/sendmail.cf" -bD >/dev/null 2>&1 & pids+=($!)
/usr/bin/python3 "$src/tests/peers/aiosmtpd_server.py" 192.0.2.1 2525 >/dev/null 2>&1 & pids+=($!)
/usr/bin/python3 -W ignore -m smtpd -n -c DebuggingServer 192.0.2.1:2526 >/dev/null 2>&1 & pids+=($!)
sleep 6
"$portlock" probe --fingerprint 192.0.2.1:25 192.0.2.1:26 192.0.2.1:27 192.0.2.1:28 \
	192.0.2.1:31 192.0.2.1:2525 192.0.2.1:2526
for p in 25 26 27 28 31 2525 2526; do
	echo "== transcript 192.0.2.1:$p"
	/usr/bin/python3 "$src/tests/peers/smtp_transcript.py" 192.0.2.1 "$p"
done
