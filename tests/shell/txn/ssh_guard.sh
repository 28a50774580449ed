#!/bin/bash
# The lockout guard: a policy that restricts the port of an established SSH
# session, without allowing its source, is refused (exit 5) unless --force.
#
# Part 1: SSH_CONNECTION alone (no sshd in the namespace) still adds its
# session. Part 2: a real sshd (Debian's openssh-server) in $SRV on port 22,
# real ssh sessions from $CLI's addresses; portlock runs without
# SSH_CONNECTION (env -i, runuser -l, su -) and must find them in the kernel.
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

# ---- part 2: a real sshd -------------------------------------------------
SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] && command -v ssh >/dev/null || pl_die "openssh-server and openssh-client are needed (tests/deps/ssh.txt)"
pl_topology
UNTRUST3=192.0.2.30	# a third client address: more sessions than the message lists
ip -n "$CLI" addr add $UNTRUST3/24 dev veth-c
chmod 755 "$PL_TMP"
K=$PL_TMP/ssh
mkdir -m 700 "$K"
ssh-keygen -q -t ed25519 -N '' -f "$K/host" || pl_die "ssh-keygen (host key)"
ssh-keygen -q -t ed25519 -N '' -f "$K/client" || pl_die "ssh-keygen (client key)"
cp "$K/client.pub" "$K/authorized_keys"
mkdir -p /run/sshd	# privilege separation directory (the package's unit makes it)
cat >"$K/sshd_config" <<CONF
Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey $K/host
PidFile $K/sshd.pid
AuthorizedKeysFile $K/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
ClientAliveInterval 0
CONF
pl_bg "$SRV" "$SSHD" -D -e -f "$K/sshd_config" 2>"$PL_TMP/sshd.log"
pl_wait_port "$SRV" 22

# session SRCADDR DSTADDR NAME: an ssh session held open from SRCADDR in $CLI;
# waits until the remote command runs (authenticated) and sshd's side is ESTABLISHED.
session() {
	local src=$1 dst=$2 name=$3 i peer=$1
	[[ $src == *:* ]] && peer="[$src]"	# ss wants IPv6 in brackets
	ip netns exec "$CLI" ssh -F /dev/null -i "$K/client" -b "$src" -o BatchMode=yes \
		-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \
		-o ConnectTimeout=5 "root@$dst" 'echo up; exec sleep 60' \
		>"$PL_TMP/$name.out" 2>"$PL_TMP/$name.err" </dev/null &
	PL_PIDS+=($!)
	for ((i = 0; i < 200; i++)); do
		if grep -q up "$PL_TMP/$name.out" &&
			ip netns exec "$SRV" ss -Htn state established "( sport = :22 )" dst "$peer" | grep -q .; then
			return 0
		fi
		sleep 0.05
	done
	pl_die "ssh session $name from $src did not come up: $(cat "$PL_TMP/$name.err" "$PL_TMP/sshd.log")"
}

# policies: only the trusted sources; all but $UNTRUST3; everything of $CLI
cat >"$PL_TMP/trusted.conf" <<CONF
services = ( { name = "ssh"; ports = [22]; allow = ["$TRUST4", "$TRUST6"]; } );
CONF
cat >"$PL_TMP/one.conf" <<CONF
services = ( { name = "ssh"; ports = [22]; allow = ["$TRUST4", "$UNTRUST4", "2001:db8:1::/64"]; } );
CONF
cat >"$PL_TMP/all.conf" <<CONF
services = ( { name = "ssh"; ports = [22]; allow = ["192.0.2.0/24", "2001:db8:1::/64"]; } );
CONF
ST=$PL_TMP/state2
PATHS=/usr/sbin:/usr/bin:/sbin:/bin
LSAN=${LSAN_OPTIONS:-}
# S CONF ARGS...: portlock in $SRV with an empty environment (no SSH_CONNECTION)
S() {
	local conf=$1
	shift
	ip netns exec "$SRV" env -i PATH=$PATHS LSAN_OPTIONS="$LSAN" \
		"$PORTLOCK" --state-dir "$ST" -c "$PL_TMP/$conf" "$@"
}
# LOGIN WRAPPER CONF ARGS...: the same through a login shell (runuser -l / su -)
LOGIN() {
	local how=$1 conf=$2
	shift 2
	local cmd="LSAN_OPTIONS='$LSAN' '$PORTLOCK' --state-dir '$ST' -c '$PL_TMP/$conf' $*"
	case $how in
	runuser) ip netns exec "$SRV" runuser -l root -c "$cmd" ;;
	su) ip netns exec "$SRV" su - root -c "$cmd" ;;
	esac
}

# a trusted session, a policy that allows only the trusted sources: no refusal
session "$TRUST4" "$SRV4" trusted
pl_expect_rc 0 S trusted.conf apply
grep -q "SSH session" "$PL_TMP/err" && pl_fail "trusted session reported: $(cat "$PL_TMP/err")"
# open the port to $CLI's untrusted sources too, then hold sessions from them
pl_expect_rc 0 S all.conf apply
session "$UNTRUST4" "$SRV4" untrusted4
session "$UNTRUST4" "$SRV4" untrusted4b
session "$UNTRUST3" "$SRV4" untrusted3
session "$UNTRUST6" "$SRV6" untrusted6

# env -i: the untrusted sessions named (a client's two once), the trusted one not; nothing changed
pl_expect_rc 5 S trusted.conf apply
pl_expect_grep "^portlock: 4 SSH sessions would be cut: 2 sessions from $UNTRUST4 to port 22: service 'ssh' \(.*trusted.conf:1\) does not allow $UNTRUST4; from $UNTRUST3 to port 22: service 'ssh' \(.*\) does not allow $UNTRUST3; from $UNTRUST6 to port 22: service 'ssh' \(.*\) does not allow $UNTRUST6; refusing to apply" "$PL_TMP/err"
grep -q "$TRUST4 to" "$PL_TMP/err" && pl_fail "the trusted session was named: $(cat "$PL_TMP/err")"
ip netns exec "$SRV" nft list table inet portlock | grep -q "192.0.2.0/24" ||
	pl_fail "refused apply changed the table"
# one session cut: the singular message
pl_expect_rc 5 S one.conf apply
pl_expect_grep "your SSH session from $UNTRUST3 to port 22 would be cut: service 'ssh' \(.*one.conf:1\) does not allow $UNTRUST3" "$PL_TMP/err"
# a login shell drops SSH_CONNECTION: the kernel still shows the sessions
pl_expect_rc 5 LOGIN runuser trusted.conf apply
pl_expect_grep "4 SSH sessions would be cut" "$PL_TMP/err"
pl_expect_rc 5 LOGIN su trusted.conf apply
pl_expect_grep "4 SSH sessions would be cut" "$PL_TMP/err"
# SSH_CONNECTION naming an allowed session adds to the kernel's view, never replaces it
pl_expect_rc 5 ip netns exec "$SRV" env SSH_CONNECTION="$TRUST4 40000 $SRV4 22" \
	"$PORTLOCK" --state-dir "$ST" -c "$PL_TMP/trusted.conf" apply
pl_expect_grep "4 SSH sessions would be cut" "$PL_TMP/err"
# ... and a cut one it names is one more
pl_expect_rc 5 ip netns exec "$SRV" env SSH_CONNECTION="203.0.113.5 40000 $SRV4 22" \
	"$PORTLOCK" --state-dir "$ST" -c "$PL_TMP/trusted.conf" apply
pl_expect_grep "5 SSH sessions would be cut: .*; and 1 more; refusing" "$PL_TMP/err"
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 22
# a policy that allows every session's source: no refusal
pl_expect_rc 0 S all.conf apply
grep -q "SSH session" "$PL_TMP/err" && pl_fail "allowed sessions reported: $(cat "$PL_TMP/err")"
# --force applies, with a warning naming the sessions
pl_expect_rc 0 S trusted.conf apply --force
pl_expect_grep "warning: 4 SSH sessions would be cut: .*applying anyway \(--force\)" "$PL_TMP/err"
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 22
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 22
# the cut sessions stay ESTABLISHED on the server (until keepalive gives up),
# but this change did not cut them: the next apply of a policy that keeps
# them cut is not refused because of them (STATE_DIR/ssh-cut)
[ -s "$ST/ssh-cut" ] || pl_fail "no ssh-cut file after apply --force"
pl_expect_rc 0 S one.conf apply
grep -q "SSH session" "$PL_TMP/err" && pl_fail "sessions cut by the --force apply counted again: $(cat "$PL_TMP/err")"
# a policy that lets them through again forgets them; cutting them again is refused again
pl_expect_rc 0 S all.conf apply
[ -s "$ST/ssh-cut" ] && pl_fail "ssh-cut still lists sessions after a policy that allows them"
pl_expect_rc 5 S one.conf apply
pl_expect_grep "would be cut" "$PL_TMP/err"

# revert gets the guard: with trusted.conf as the config, reverting the
# all.conf apply that followed a trusted.conf apply restores trusted.conf's
# table, which cuts the untrusted sessions: refused, --force reverts
last_id() { S all.conf log --json | "$PL_PY" -c 'import json,sys; print(json.load(sys.stdin)["transactions"][-1]["id"])'; }
pl_expect_rc 0 S trusted.conf apply --force
pl_expect_rc 0 S all.conf apply
id=$(last_id)
pl_expect_rc 5 S trusted.conf revert "$id"
pl_expect_grep "SSH sessions would be cut: .*the table the revert of transaction $id restores enforces this policy\); refusing to revert" "$PL_TMP/err"
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 22
pl_expect_rc 0 S trusted.conf revert --force "$id"
pl_expect_grep "reverting anyway \(--force\)" "$PL_TMP/err"
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 22
pl_done
