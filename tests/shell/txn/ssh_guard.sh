#!/bin/bash
# The lockout guard: a policy that restricts the port of the operator's own
# SSH session, without allowing its source, is refused unless --force.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plg$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/p.conf" <<'CONF'
services = ( { name = "ssh"; ports = [22]; allow = ["192.0.2.0/24", "2001:db8::/32"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/p.conf" "$@"; }

SSH_CONNECTION="203.0.113.5 50000 192.0.2.1 22" pl_expect_rc 5 P apply
pl_expect_grep "SSH session from 203.0.113.5 to port 22 would be cut: service 'ssh'" "$PL_TMP/err"
ip netns exec "$NS" nft list table inet portlock >/dev/null 2>&1 && pl_fail "guard refused but a table exists"
SSH_CLIENT= SSH_CONNECTION="2001:db8::7 50000 2001:db8::1 22" pl_expect_rc 0 P apply
SSH_CONNECTION="192.0.2.9 50000 192.0.2.1 2222" pl_expect_rc 0 P apply	# another port: not managed
SSH_CONNECTION="203.0.113.5 50000 192.0.2.1 22" pl_expect_rc 0 P apply --force
pl_done
