#!/bin/bash
# The compile cache end to end, on the kernel: after an apply, a plan/apply
# of a changed allow_file reads only the changed lines and sends only the
# changed elements; the table is always exactly what a full load of the
# policy gives (checked against a run without the cache and without the live
# note); a changed line with a warning, a damaged cache, another shard size
# or PORTLOCK_NO_COMPILE_CACHE all fall back to the full load with its
# messages; the trusted source reaches the port, the untrusted does not.
. "$(dirname "$0")/../lib/lib.sh"
pl_topology
P() { ip netns exec "$SRV" "$PORTLOCK" "$@"; }
C=$PORTLOCK_STATE_DIR/cache
"$PL_PY" - "$PL_TMP/allow.txt" <<'PY'
import random, sys
random.seed(5)
s = set()
while len(s) < 20000:
    s.add("10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(256)))
lines = sorted(s) + ["# partners", "2001:db8:1::10/128", "198.51.100.0/24"]
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
cat >"$PL_TMP/p.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = [ "203.0.113.0/24", "192.0.2.10" ]; allow_file = "allow.txt"; } );
CONF
export PORTLOCK_SHARD_MAX=512
# the full answer: no cache, no note (and the same for "plan" as an oracle)
full_in_sync() {
	PORTLOCK_NO_COMPILE_CACHE=1 PORTLOCK_NO_LIVE_CACHE=1 P -q -c "$PL_TMP/p.conf" plan --exit-code >"$PL_TMP/full.out" 2>&1 ||
		pl_fail "$1: the table differs from a full load: $(head -20 "$PL_TMP/full.out")"
}
pl_bg "$SRV" "$PL_PY" "$PL_SOURCE_DIR/tests/shell/lib/tcp_listen.py" 2775
pl_wait_port "$SRV" 2775

pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "compile: 1 service \(1 from scratch\)" "$PL_TMP/err"
[ -f "$C/index" ] || pl_fail "no cache index after apply"
full_in_sync "first apply"
pl_expect_connect "$CLI" "$TRUST4" "$SRV4" 2775
pl_expect_connect "$CLI" "$TRUST6" "$SRV6" 2775
pl_expect_blocked "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$UNTRUST6" "$SRV6" 2775

# one line changed (the file replaced, as sed -i does): a delta, one shard, two elements
sed -i '5s/.*/192.0.2.20/' "$PL_TMP/allow.txt"
pl_expect_rc 1 P -v -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "compile: 1 service \(0 from scratch\); allow_files: 0 unchanged, 1 changed, 0 read whole; [0-9] lines? read; [0-9]+ shards, [12] computed" "$PL_TMP/err"
pl_expect_grep "^\+ element inet portlock smpp_v4_[0-9a-f_]* \{ 192\.0\.2\.20 \}" "$PL_TMP/out"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "batch of 2 messages" "$PL_TMP/err"
pl_expect_grep "1 changed, 0 read whole" "$PL_TMP/err"
full_in_sync "one line"
pl_expect_connect "$CLI" "$UNTRUST4" "$SRV4" 2775
pl_expect_blocked "$CLI" "$UNTRUST6" "$SRV6" 2775

# unchanged: nothing read, nothing sent
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "allow_files: 1 unchanged, 0 changed, 0 read whole; 0 lines read" "$PL_TMP/err"
pl_expect_grep "^no changes" "$PL_TMP/out"

# edited in place, a wide prefix over hundreds of entries, lines moved, a removal
printf '10.0.0.0/9\n' >>"$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
full_in_sync "a /9 over the list"
sed -i '$d' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
full_in_sync "the /9 gone"
{ head -100 "$PL_TMP/allow.txt" | tail -50; head -50 "$PL_TMP/allow.txt"; tail -n +101 "$PL_TMP/allow.txt"; } >"$PL_TMP/moved"
cp "$PL_TMP/moved" "$PL_TMP/allow.txt"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "^no changes" "$PL_TMP/out"
grep -v '^2001:db8:1::10/128$' "$PL_TMP/allow.txt" >"$PL_TMP/no6" && cp "$PL_TMP/no6" "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
full_in_sync "the IPv6 host removed"
pl_expect_blocked "$CLI" "$TRUST6" "$SRV6" 2775
# the policy file's own prefixes change too
sed -i 's|"203.0.113.0/24"|"203.0.113.0/24", "2001:db8:1::10"|' "$PL_TMP/p.conf"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "0 from scratch" "$PL_TMP/err"
full_in_sync "an inline prefix added"
pl_expect_connect "$CLI" "$TRUST6" "$SRV6" 2775

# a changed line that draws a warning: the full load, its message with file:line, as without a cache
sed -i '7s/.*/10.1.2.3\/16/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "allow.txt:7: warning: '10.1.2.3/16' has host bits set" "$PL_TMP/err"
if grep -q "portlock: compile:" "$PL_TMP/err"; then pl_fail "a policy with a warning was compiled through the cache"; fi
full_in_sync "a line with a warning"
# a bad line: exit 3 naming it, nothing changed
# (seen sources' expiry times tick: compared without them)
ip netns exec "$SRV" nft list ruleset | sed -E 's/ expires [0-9a-z]+//g' >"$PL_TMP/before"
sed -i '7s/.*/10.1.2.300/' "$PL_TMP/allow.txt"
pl_expect_rc 3 P -c "$PL_TMP/p.conf" apply
pl_expect_grep "allow.txt:7: .*'10.1.2.300' is not a valid prefix" "$PL_TMP/err"
ip netns exec "$SRV" nft list ruleset | sed -E 's/ expires [0-9a-z]+//g' >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "a refused policy changed the ruleset"
sed -i '7s/.*/10.1.0.0\/16/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
full_in_sync "fixed"

# a damaged cache: never trusted, rewritten (the next change is a delta again)
for f in "$C"/objects/*; do printf 'Z' | dd of="$f" bs=1 seek=40 conv=notrunc status=none; done
# (a copy may be a hard link to the file's previous version: replaced, not written into)
for f in "$C"/src-*; do head -c 100 "$f" >"$f.x"; printf 'Z\n' >>"$f.x"; mv "$f.x" "$f"; done
sed -i '9s/.*/192.0.2.99/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "1 from scratch" "$PL_TMP/err"
full_in_sync "damaged cache"
sed -i '11s/.*/192.0.2.98/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "0 from scratch" "$PL_TMP/err"
full_in_sync "cache rewritten"
printf 'garbage' >"$C/index"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "1 from scratch" "$PL_TMP/err"
pl_expect_grep "^no changes" "$PL_TMP/out"

# another shard size: the cache does not apply, the table is re-sharded exactly
PORTLOCK_SHARD_MAX=256 pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "1 from scratch" "$PL_TMP/err"
PORTLOCK_SHARD_MAX=256 PORTLOCK_NO_COMPILE_CACHE=1 PORTLOCK_NO_LIVE_CACHE=1 pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply

# PORTLOCK_NO_COMPILE_CACHE: the full load, no cache written
rm -rf "$C"
PORTLOCK_NO_COMPILE_CACHE=1 pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
if grep -q "portlock: compile:" "$PL_TMP/err"; then pl_fail "PORTLOCK_NO_COMPILE_CACHE still compiled"; fi
[ ! -e "$C/index" ] || pl_fail "PORTLOCK_NO_COMPILE_CACHE wrote a cache"
# plan never writes the cache
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" plan
[ ! -e "$C/index" ] || pl_fail "plan wrote a cache"
# the cache is private to the state dir's owner
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
[ "$(stat -c %a "$C")" = 700 ] || pl_fail "cache dir mode $(stat -c %a "$C")"
[ "$(stat -c %a "$C/index")" = 600 ] || pl_fail "cache index mode $(stat -c %a "$C/index")"

# revert through all of it restores exactly
pl_expect_rc 0 P -q revert 1
ip netns exec "$SRV" nft list table inet portlock >/dev/null 2>&1 && pl_fail "revert 1 left the table"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
full_in_sync "applied again"
pl_done
