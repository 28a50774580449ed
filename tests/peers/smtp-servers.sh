#!/bin/bash
# smtp-servers.sh DEBROOT WORKDIR ADDR: run every SMTP server that
# data/fingerprints.conf has behavioural signatures for, each from its Debian 12
# package, on ADDR (already configured in the current network namespace), in
# the foreground until killed (SIGTERM); on exit it ends every process of its
# private mount namespace (Exim, OpenSMTPD and Postfix daemonize). Used by
# tests/peers/record-fingerprints.sh and tests/shell/probe/fingerprint_loo.sh.
#
# Postfix and aiosmtpd come installed (tests/deps/probe.txt), smtp-server from
# npm (tests/deps/probe.npm, in tests/peers/node_modules-root). Exim, OpenSMTPD,
# chasquid and Sendmail conflict with Postfix as packages: DEBROOT is where
# their .debs were unpacked (smtp-servers.sh --fetch DEBROOT does it with
# `apt-get download` + `dpkg -x`). The script re-runs itself in a private
# mount namespace that supplies the users they expect (Debian-exim,
# opensmtpd, opensmtpq, smmsp, mailnull), an /etc/hosts that qualifies the host
# name (Sendmail sleeps otherwise) and a private /var/spool, /var/lib and /run.
# Nothing on the host changes. Needs root and m4.
#
# Ports: 25 Postfix (10025, 10026 too: see postfix.sh), 26 Exim, 27 OpenSMTPD,
# 28 chasquid, 31 Sendmail (greet_pause 2 s), 2525 aiosmtpd, 2526 Python smtpd,
# 2527 Nodemailer's smtp-server (npm, tests/peers/smtp_server.js).
# The list, one "PORT SOFTWARE" a line, is printed by smtp-servers.sh --list.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)

if [ "${1:-}" = --list ]; then
	printf '%s\n' "25 Postfix" "26 Exim" "27 OpenSMTPD" "28 chasquid" "31 Sendmail" \
		"2525 aiosmtpd" "2526 Python smtpd" "2527 Nodemailer smtp-server"
	exit 0
fi
if [ "${1:-}" = --fetch ]; then
	# the unpacked packages, kept in DEBROOT/root (reused when present)
	d=$2
	if [ ! -x "$d/root/usr/sbin/exim4" ] || [ ! -x "$d/root/usr/sbin/smtpd" ] ||
		[ ! -x "$d/root/usr/bin/chasquid" ] || [ ! -x "$d/root/usr/libexec/sendmail/sendmail" ]; then
		mkdir -p "$d/debs"
		chmod 755 "$d" "$d/debs"
		(cd "$d/debs" && apt-get download exim4-daemon-light exim4-base opensmtpd chasquid \
			sendmail-bin sendmail-cf >/dev/null 2>&1) || {
			echo "smtp-servers.sh: apt-get download failed" >&2
			exit 1
		}
		rm -rf "$d/root"
		for f in "$d"/debs/*.deb; do dpkg -x "$f" "$d/root"; done
		rm -rf "$d/debs"
	fi
	exit 0
fi

r=$1/root w=$2 addr=$3
if [ -z "${PL_SMTP_SERVERS_INNER:-}" ]; then
	PL_SMTP_SERVERS_INNER=1 exec unshare -m bash "$0" "$@"
fi

# every server runs in this private mount namespace, daemonized or not
mntns=$(readlink /proc/self/ns/mnt)
reap() {
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" = $$ ] && continue
		[ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$mntns" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	return 0
}
trap reap EXIT
trap 'exit 0' TERM INT	# asked to stop: a clean end

mkdir -p "$w"
chmod 755 "$w"
cp /etc/passwd "$w/passwd"
cp /etc/group "$w/group"
for u in Debian-exim opensmtpd opensmtpq smmsp mailnull; do
	echo "$u:x:65534:65534::/nonexistent:/usr/sbin/nologin" >>"$w/passwd"
	echo "$u:x:65534:" >>"$w/group"
done
printf '127.0.0.1 localhost\n%s %s.portlock.test %s\n' "$addr" "$(hostname)" "$(hostname)" >"$w/hosts"
mount --make-rprivate /
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
local_interfaces = $addr.26
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  deny message = relay not permitted
CF
printf 'listen on %s port 27\naction "local" maildir "%s/%%{user.username}"\nmatch from any for local action "local"\n' \
	"$addr" "$w" >"$w/smtpd.conf"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=mx.portlock.test \
	-keyout "$w/chasquid/certs/mx.portlock.test/privkey.pem" \
	-out "$w/chasquid/certs/mx.portlock.test/fullchain.pem" >/dev/null 2>&1
cat >"$w/chasquid/chasquid.conf" <<CF
hostname: "mx.portlock.test"
smtp_address: "$addr:28"
submission_address: "$addr:29"
submission_over_tls_address: "$addr:30"
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
DAEMON_OPTIONS(\`Port=31, Addr=$addr, Name=MTA')dnl
FEATURE(\`greet_pause', \`2000')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
MC
m4 "$w/sm/sm.mc" >"$w/sm/sendmail.cf"

bash "$src/tests/peers/postfix.sh" "$w/postfix" "$addr" >"$w/postfix.log" 2>&1 &
"$r/usr/sbin/exim4" -C "$w/exim/exim.conf" -bd >"$w/exim.log" 2>&1 &
"$r/usr/sbin/smtpd" -d -f "$w/smtpd.conf" >"$w/opensmtpd.log" 2>&1 &
"$r/usr/bin/chasquid" -config_dir "$w/chasquid" >"$w/chasquid.log" 2>&1 &
"$r/usr/libexec/sendmail/sendmail" -C "$w/sm/sendmail.cf" -bD >"$w/sendmail.log" 2>&1 &
/usr/bin/python3 "$src/tests/peers/aiosmtpd_server.py" "$addr" 2525 >"$w/aiosmtpd.log" 2>&1 &
/usr/bin/python3 -W ignore -m smtpd -n -c DebuggingServer "$addr:2526" >"$w/smtpd.log" 2>&1 &
/usr/bin/node "$src/tests/peers/smtp_server.js" "$addr" 2527 >"$w/smtp-server.log" 2>&1 &
# Exim, Postfix (master) and OpenSMTPD may fork away: stay until killed
while :; do sleep 3600 & wait $! || true; done
