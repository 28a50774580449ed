#!/bin/bash
# The generation-keyed live note (<state>/live): a table that has not changed
# since portlock's last transaction is read without dumping its range sets,
# and anything else (a hand edit, another namespace at the same generation, a
# damaged note or record) is read in full, so drift is always seen. Also: a
# one-prefix change journals its prior as a hard link to the previous result.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plc$PL_TAG
pl_netns "$NS"
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
"$PL_PY" - "$PL_TMP/allow.txt" <<'PY'
import random, sys
random.seed(7)
s = set()
while len(s) < 10000:
    s.add("10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(256)))
open(sys.argv[1], "w").write("\n".join(sorted(s)) + "\n")
PY
cat >"$PL_TMP/p.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = [ "192.0.2.0/24", "2001:db8::/32" ]; allow_file = "allow.txt"; } );
CONF
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
LIVE=$PORTLOCK_STATE_DIR/live
[ -f "$LIVE" ] || pl_fail "no live note after apply"
gen=$(P -q -c "$PL_TMP/p.conf" show --json | "$PL_PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
pl_expect_grep "^generation $gen\$" "$LIVE"
pl_expect_grep "^transaction 1\$" "$LIVE"

# the same table read through the note and in full: identical
P -c "$PL_TMP/p.conf" show >"$PL_TMP/cached.txt" 2>&1
PORTLOCK_NO_LIVE_CACHE=1 P -c "$PL_TMP/p.conf" show >"$PL_TMP/full.txt" 2>&1
cmp -s "$PL_TMP/cached.txt" "$PL_TMP/full.txt" || pl_fail "show through the note differs: $(diff "$PL_TMP/cached.txt" "$PL_TMP/full.txt" | head -20)"
grep -q "10\." "$PL_TMP/cached.txt" || pl_fail "show lists no allowlist element"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
# the journal renders what it saved: the same table
P log --show 1 | tail -n +2 >"$PL_TMP/saved.txt"
cmp -s "$PL_TMP/saved.txt" "$PL_TMP/full.txt" || pl_fail "log --show 1 differs from show: $(diff "$PL_TMP/saved.txt" "$PL_TMP/full.txt" | head -20)"
P log --show 1 --prior >"$PL_TMP/prior.txt"
pl_expect_grep "^# table inet portlock does not exist" "$PL_TMP/prior.txt"
pl_expect_rc 5 P log --show 42
pl_expect_grep "no transaction 42" "$PL_TMP/err"
pl_expect_rc 2 P log --prior

# one prefix changed: 2 element changes; the prior is a link to the last result
first=$(head -1 "$PL_TMP/allow.txt")
sed -i '1s/.*/203.0.113.77/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -v -c "$PL_TMP/p.conf" apply
pl_expect_grep "\+1 element\(s\), -1 element\(s\)" "$PL_TMP/out"
pl_expect_grep "batch of 2 messages" "$PL_TMP/err"
J=$PORTLOCK_STATE_DIR/journal
[ "$(stat -c %i "$J/0000000002.prior.ranges")" = "$(stat -c %i "$J/0000000001.result.ranges")" ] ||
	pl_fail "the prior of transaction 2 is not a link to the result of transaction 1"
pl_expect_grep "^transaction 2\$" "$LIVE"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code

# a dump that overruns the socket (ENOBUFS) is read again at the same generation: the
# second attempt dumps the sets (the note's ranges went to the first), it does not see them empty
PORTLOCK_TEST_DUMP_OVERRUN=rules pl_expect_rc 0 P -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "^no changes" "$PL_TMP/out"
sed -i '2s/.*/198.51.100.200/' "$PL_TMP/allow.txt"
PORTLOCK_TEST_DUMP_OVERRUN=rules pl_expect_rc 0 P -c "$PL_TMP/p.conf" apply
pl_expect_grep "\+1 element\(s\), -1 element\(s\)" "$PL_TMP/out"
PORTLOCK_NO_LIVE_CACHE=1 pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
PORTLOCK_TEST_DUMP_OVERRUN=rules pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code

# a hand edit moves the generation: the table is read in full and the edit is drift
set4=$(ip netns exec "$NS" nft list table inet portlock | sed -n "s/^\tset \(smpp_v4_[0-9a-f]*_[0-9]*\) {/\1/p" | head -1)
[ -n "$set4" ] || pl_fail "no shard set in the table"
ip netns exec "$NS" nft add element inet portlock "$set4" '{ 198.51.100.99 }' || pl_fail "nft add element"
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "^- element inet portlock $set4 \{ 198\.51\.100\.99 \}" "$PL_TMP/out"
victim=$(ip netns exec "$NS" nft list set inet portlock "$set4" | grep -o '10\.[0-9.]*' | head -1)
ip netns exec "$NS" nft delete element inet portlock "$set4" "{ $victim }" || pl_fail "nft delete element"
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "^\+ element inet portlock $set4 \{ ${victim//./\\.} \}" "$PL_TMP/out"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code

# a damaged note or a note naming a pruned or damaged record: a full read, same answer
cp "$LIVE" "$PL_TMP/live.good"
printf 'portlock-live 1\ngarbage\n' >"$LIVE"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
sed 's/^transaction .*/transaction 999/' "$PL_TMP/live.good" >"$LIVE"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
cp "$PL_TMP/live.good" "$LIVE"
rec=$(sed -n 's/^transaction //p' "$LIVE")
rf=$(printf '%s/%010d.result.ranges' "$J" "$rec")
cp "$rf" "$PL_TMP/ranges.good"
printf 'X' | dd of="$rf" bs=1 seek=20 conv=notrunc status=none
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
cp "$PL_TMP/ranges.good" "$rf"

# another namespace at the same generation, same state dir: the note does not apply
ip netns del "$NS"
ip netns add "$NS"
ip -n "$NS" link set lo up
P -q -c "$PL_TMP/p.conf" export | grep -v '203\.0\.113\.77' >"$PL_TMP/other.nft"
ip netns exec "$NS" nft -f "$PL_TMP/other.nft" || pl_fail "nft -f of the edited export"
# make the note's generation coincide with the new namespace's: only the namespace differs
gen=$(PORTLOCK_NO_LIVE_CACHE=1 P -q -c "$PL_TMP/p.conf" show --json | "$PL_PY" -c 'import json,sys; print(json.load(sys.stdin)["generation"])')
sed -i "s/^generation .*/generation $gen/" "$LIVE"
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_grep "^\+ element inet portlock smpp_v4_[0-9a-f_]* \{ 203\.0\.113\.77 \}" "$PL_TMP/out"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code

# revert through the linked and ranges contents restores exactly
sed -i "1s/.*/$first/" "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
pl_expect_rc 0 P -q revert
pl_expect_rc 1 P -q -c "$PL_TMP/p.conf" plan --exit-code
sed -i '1s/.*/203.0.113.77/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_done
