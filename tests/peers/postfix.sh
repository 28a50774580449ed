#!/bin/bash
# postfix.sh DIR ADDR [BANNER] [CERT KEY]: run a private Postfix instance (Debian's
# package) with its config, queue and log under DIR, in the foreground, on ADDR
# only: port 25 (BANNER, STARTTLS with CERT/KEY), 10025 (banner "$myhostname ESMTP"),
# 10026 (a lying banner naming Exim) and, with CERT/KEY, 465 (implicit TLS). Run it inside a test's network namespace; the host's own
# Postfix (if any) is untouched: different config dir, queue and address.
set -eu
dir=$1 addr=$2 banner=${3:-} cert=${4:-} key=${5:-}
mkdir -p "$dir/conf" "$dir/spool" "$dir/data"
chown postfix "$dir/data"
cp /etc/postfix/master.cf "$dir/conf/master.cf"
cat >>"$dir/conf/master.cf" <<'MCF'
10025     inet  n       -       n       -       -       smtpd -o { smtpd_banner = $myhostname ESMTP }
10026     inet  n       -       n       -       -       smtpd -o { smtpd_banner = $myhostname ESMTP Exim 4.96 }
MCF
[ -n "$cert" ] && echo '465       inet  n       -       n       -       -       smtpd -o smtpd_tls_wrappermode=yes' >>"$dir/conf/master.cf"
cp /etc/postfix/dynamicmaps.cf "$dir/conf/" 2>/dev/null || true
cat >"$dir/conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = $addr
inet_protocols = all
myhostname = mx.portlock.test
mydestination =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
maillog_file_prefixes = /var, /dev/stdout, $dir
maillog_file = $dir/maillog
smtpd_relay_restrictions = reject_unauth_destination
CF
if [ -n "$banner" ]; then echo "smtpd_banner = $banner" >>"$dir/conf/main.cf"; fi
if [ -n "$cert" ]; then
	cat >>"$dir/conf/main.cf" <<CF
smtpd_tls_cert_file = $cert
smtpd_tls_key_file = $key
smtpd_tls_security_level = may
CF
fi
export MAIL_CONFIG=$dir/conf
postfix -c "$dir/conf" set-permissions >/dev/null 2>&1 || true
postfix -c "$dir/conf" check || { script -qc "postfix -c $dir/conf check" /dev/null >&2; exit 1; }
exec postfix -c "$dir/conf" start-fg
