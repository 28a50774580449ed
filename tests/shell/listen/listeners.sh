#!/bin/bash
# `portlock listeners`: the sockets of this namespace, with the right
# v6only/exposure/owner judgement, the same set ss reports, and nothing from
# other namespaces. Runs as root; one check runs portlock as 'nobody'.
#
#   $SRV: lo, veth-s 192.0.2.1 2001:db8:1::1     (listeners under test)
#   $CLI: lo, veth-c 192.0.2.10/.20 ...          (decoy listeners: must not show)
#
# Every listener is a python one-liner that renames itself (/proc/self/comm)
# so the owner names can be asserted, and writes "pid [childpid]" into
# $READY/<name> once it is bound.
. "$(dirname "$0")/../lib/lib.sh"

pl_require_root
pl_topology

chmod 755 "$PL_TMP"
READY=$PL_TMP/ready
mkdir -m 1777 "$READY"
# a copy nobody can run whatever the build directory's permissions
install -m 755 "$PORTLOCK" "$PL_TMP/portlock"
PL=$PL_TMP/portlock

LISTENER='
import os, socket, sys, time
name, proto, fam, addr, port, v6only, dev, fork, ready = sys.argv[1:10]
open("/proc/self/comm", "w").write(name)
s = socket.socket(socket.AF_INET6 if fam == "6" else socket.AF_INET,
                  socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == "6":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
if dev != "-":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
s.bind((addr, int(port)))
if proto == "tcp":
    s.listen()
elif proto == "udpconn":
    s.connect(("192.0.2.10", 9))
pids = [os.getpid()]
if fork == "1":
    r, w = os.pipe()
    child = os.fork()
    if child == 0:
        open("/proc/self/comm", "w").write(name + "c")
        os.write(w, b"x")
        time.sleep(3600)
        os._exit(0)
    os.read(r, 1)
    pids.append(child)
open(ready + "/" + name + ".tmp", "w").write(" ".join(map(str, pids)))
os.rename(ready + "/" + name + ".tmp", ready + "/" + name)
time.sleep(3600)
'

# listener NS NAME PROTO FAM ADDR PORT V6ONLY DEV FORK [setpriv args...]
listener() {
	local ns=$1 name=$2
	shift 2
	local args=("$@")
	pl_bg "$ns" "${args[@]:7}" "$PL_PY" -c "$LISTENER" "$name" "${args[@]:0:7}" "$READY"
}

listener "$SRV" pl2501 tcp 4 127.0.0.1 2501 0 - 0
listener "$SRV" pl2502 tcp 4 0.0.0.0 2502 0 - 1
listener "$SRV" pl2503 tcp 6 :: 2503 1 - 0
listener "$SRV" pl2504 tcp 6 :: 2504 0 - 0
listener "$SRV" pl2505 udp 4 0.0.0.0 2505 0 - 0
listener "$SRV" pl2506 tcp 4 "$SRV4" 2506 0 - 0
listener "$SRV" pl2507 tcp 6 "$SRV6" 2507 1 - 0
listener "$SRV" pl2508 udp 6 :: 2508 0 - 0
listener "$SRV" pl2509 udp 6 ::1 2509 1 - 0
listener "$SRV" pl2510 tcp 4 0.0.0.0 2510 0 lo 0
listener "$SRV" pl2511 tcp 4 0.0.0.0 2511 0 - 0 setpriv --reuid=nobody --regid=nogroup --clear-groups
# a connected UDP socket only takes its peer's datagrams: not a listener
listener "$SRV" pl2512 udpconn 4 0.0.0.0 2512 0 - 0
# decoys in the other namespace
listener "$CLI" pl2599 tcp 4 0.0.0.0 2599 0 - 0
listener "$CLI" pl2598 udp 6 :: 2598 0 - 0

for n in 2501 2502 2503 2504 2505 2506 2507 2508 2509 2510 2511 2512 2599 2598; do
	for ((i = 0; i < 200; i++)); do
		[ -e "$READY/pl$n" ] && break
		sleep 0.05
	done
	[ -e "$READY/pl$n" ] || pl_die "listener pl$n did not start"
done

pl_log "text output, default (exposed only) and --all"
ip netns exec "$SRV" "$PL" listeners >"$PL_TMP/text" 2>"$PL_TMP/text.err" ||
	pl_fail "portlock listeners exited $?"
cat "$PL_TMP/text"
pl_expect_grep '^PROTO +ADDRESS:PORT +V6ONLY +EXPOSURE +PROCESS$' "$PL_TMP/text"
pl_expect_grep "^tcp +0\.0\.0\.0:2502 +- +exposed ipv4 +$(cut -d' ' -f1 "$READY/pl2502")/pl2502,$(cut -d' ' -f2 "$READY/pl2502")/pl2502c$" "$PL_TMP/text"
pl_expect_grep '^tcp +\[::\]:2503 +yes +exposed ipv6 +[0-9]+/pl2503$' "$PL_TMP/text"
pl_expect_grep '^tcp +\[::\]:2504 +no +exposed ipv4\+ipv6 +[0-9]+/pl2504$' "$PL_TMP/text"
pl_expect_grep '^udp +0\.0\.0\.0:2505 +- +exposed ipv4 +[0-9]+/pl2505$' "$PL_TMP/text"
if grep -Eq ':(2501|2509|2510) ' "$PL_TMP/text"; then
	pl_fail "loopback-only listeners shown without --all"
fi
pl_expect_grep 'note: 3 loopback-only listeners not shown' "$PL_TMP/text.err"
ip netns exec "$SRV" "$PL" listeners --all >"$PL_TMP/textall" 2>&1 ||
	pl_fail "portlock listeners --all exited $?"
pl_expect_grep '^tcp +127\.0\.0\.1:2501 +- +loopback-only +[0-9]+/pl2501$' "$PL_TMP/textall"
pl_expect_grep '^tcp +0\.0\.0\.0%lo:2510 +- +loopback-only +[0-9]+/pl2510$' "$PL_TMP/textall"
pl_expect_grep '^udp +\[::1\]:2509 +yes +loopback-only +[0-9]+/pl2509$' "$PL_TMP/textall"

pl_log "json output against the expected set"
ip netns exec "$SRV" "$PL" listeners --all --json >"$PL_TMP/all.json" ||
	pl_fail "portlock listeners --all --json exited $?"
ip netns exec "$SRV" "$PL" listeners --json >"$PL_TMP/exposed.json" 2>/dev/null ||
	pl_fail "portlock listeners --json exited $?"
ip netns exec "$SRV" ss -Hltnu >"$PL_TMP/ss" || pl_fail "ss failed"
ip netns exec "$SRV" setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$PL" listeners --all --json >"$PL_TMP/nobody.json" 2>"$PL_TMP/nobody.err" ||
	pl_fail "portlock listeners as nobody exited $?: $(cat "$PL_TMP/nobody.err")"
pl_expect_grep "owners of other users' sockets need root" "$PL_TMP/nobody.err"
# the host's listeners (inodes) must not show up in the namespace's list
ss -Hltnue >"$PL_TMP/host.ss" 2>/dev/null

"$PL_PY" - "$PL_TMP" "$READY" "$(id -u nobody)" <<'EOF' || pl_fail "json assertions failed"
import json, os, re, sys
tmp, ready, nobody = sys.argv[1], sys.argv[2], int(sys.argv[3])
fails = 0
def fail(msg):
    global fails
    fails += 1
    print("FAIL:", msg, file=sys.stderr)

def pids(name):
    return [int(x) for x in open(os.path.join(ready, name)).read().split()]

# (proto, address, port): family, v6only, scope, exposed, families, interface, names
P2502 = pids("pl2502")
want = {
    ("tcp", "127.0.0.1", 2501): ("ipv4", None, "loopback", False, ["ipv4"], None, ["pl2501"]),
    ("tcp", "0.0.0.0", 2502): ("ipv4", None, "wildcard", True, ["ipv4"], None, ["pl2502", "pl2502c"]),
    ("tcp", "::", 2503): ("ipv6", True, "wildcard", True, ["ipv6"], None, ["pl2503"]),
    ("tcp", "::", 2504): ("ipv6", False, "wildcard", True, ["ipv4", "ipv6"], None, ["pl2504"]),
    ("udp", "0.0.0.0", 2505): ("ipv4", None, "wildcard", True, ["ipv4"], None, ["pl2505"]),
    ("tcp", "192.0.2.1", 2506): ("ipv4", None, "address", True, ["ipv4"], None, ["pl2506"]),
    ("tcp", "2001:db8:1::1", 2507): ("ipv6", True, "address", True, ["ipv6"], None, ["pl2507"]),
    ("udp", "::", 2508): ("ipv6", False, "wildcard", True, ["ipv4", "ipv6"], None, ["pl2508"]),
    ("udp", "::1", 2509): ("ipv6", True, "loopback", False, ["ipv6"], None, ["pl2509"]),
    ("tcp", "0.0.0.0", 2510): ("ipv4", None, "loopback", False, ["ipv4"], "lo", ["pl2510"]),
    ("tcp", "0.0.0.0", 2511): ("ipv4", None, "wildcard", True, ["ipv4"], None, ["pl2511"]),
}
root = json.load(open(os.path.join(tmp, "all.json")))
if root.get("owners_complete") is not True:
    fail("owners_complete is not true as root")
got = {}
for l in root["listeners"]:
    key = (l["proto"], l["address"], l["port"])
    if key in got:
        fail("duplicate listener %r" % (key,))
    got[key] = l
if set(got) != set(want):
    fail("listener set differs: extra %r, missing %r" % (sorted(set(got) - set(want)),
                                                         sorted(set(want) - set(got))))
for key, (fam, v6only, scope, exposed, fams, ifname, names) in want.items():
    l = got.get(key)
    if not l:
        continue
    for field, val in (("family", fam), ("v6only", v6only), ("scope", scope),
                       ("exposed", exposed), ("families", fams), ("interface", ifname)):
        if l[field] != val:
            fail("%r: %s is %r, expected %r" % (key, field, l[field], val))
    procs = l["processes"]
    if [p["name"] for p in procs] != names:
        fail("%r: process names %r, expected %r" % (key, procs, names))
    exp_pids = pids(names[0])
    if [p["pid"] for p in procs] != exp_pids:
        fail("%r: pids %r, expected %r" % (key, [p["pid"] for p in procs], exp_pids))
    if l["uid"] != (nobody if key[2] == 2511 else 0):
        fail("%r: uid %r" % (key, l["uid"]))
    if not isinstance(l["inode"], int) or l["inode"] <= 0:
        fail("%r: inode %r" % (key, l["inode"]))
if got.get(("tcp", "0.0.0.0", 2510), {}).get("endpoint") != "0.0.0.0%lo:2510":
    fail("2510 endpoint %r" % got.get(("tcp", "0.0.0.0", 2510), {}).get("endpoint"))

# without --all: exactly the exposed ones
exp = json.load(open(os.path.join(tmp, "exposed.json")))
ekeys = {(l["proto"], l["address"], l["port"]) for l in exp["listeners"]}
if ekeys != {k for k, v in want.items() if v[3]}:
    fail("exposed set %r" % sorted(ekeys))

# the same (proto, addr, port) set as ss -Hltnu in the namespace
ss = set()
for line in open(os.path.join(tmp, "ss")):
    f = line.split()
    addr, _, port = f[4].rpartition(":")
    addr = re.sub(r"%.*", "", addr.strip("[]"))
    if addr == "*":
        addr = "::"	# ss prints a dual-stack [::] as *
    ss.add((f[0], addr, int(port)))
if ss != set(got):
    fail("ss disagrees: only ss %r, only portlock %r" % (sorted(ss - set(got)),
                                                          sorted(set(got) - ss)))

# the host's sockets are not reported (by inode: unique system-wide)
host = set(int(m) for m in re.findall(r"ino:(\d+)", open(os.path.join(tmp, "host.ss")).read()))
leak = host & {l["inode"] for l in root["listeners"]}
if leak:
    fail("host socket inodes reported: %r" % leak)

# unprivileged: every socket, owners only for nobody's own
nb = json.load(open(os.path.join(tmp, "nobody.json")))
if nb.get("owners_complete") is not False:
    fail("nobody: owners_complete should be false")
nbk = {(l["proto"], l["address"], l["port"]): l for l in nb["listeners"]}
if set(nbk) != set(want):
    fail("nobody sees a different set: %r" % sorted(set(nbk) ^ set(want)))
for key, l in nbk.items():
    names = [p["name"] for p in l["processes"]]
    exp_names = ["pl2511"] if key[2] == 2511 else []
    if names != exp_names:
        fail("nobody: %r processes %r, expected %r" % (key, names, exp_names))
    if key in got and (l["v6only"], l["scope"]) != (got[key]["v6only"], got[key]["scope"]):
        fail("nobody: %r judged differently" % (key,))
sys.exit(1 if fails else 0)
EOF

pl_log "command line errors"
pl_expect_rc 2 "$PL" listeners --bogus
pl_expect_grep "unknown option '--bogus'" "$PL_TMP/err"
pl_expect_rc 2 "$PL" listeners extra
pl_expect_rc 0 "$PL" listeners --help
pl_expect_grep '[-]-all +also loopback-only' "$PL_TMP/out"

pl_done
