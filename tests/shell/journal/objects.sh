#!/bin/bash
# Journal format 3: every range set is stored once as a content-addressed
# object (journal/objects/<sha256>), so a one-prefix change to a sharded table
# writes one shard; objects no record uses are removed with the records that
# used them; a damaged object is never trusted: the planner reads the kernel
# instead, and a revert that needs it refuses and names it.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plo$PL_TAG
pl_netns "$NS"
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
J=$PORTLOCK_STATE_DIR/journal
"$PL_PY" - "$PL_TMP/allow.txt" <<'PY'
import random, sys
random.seed(11)
s = set()
while len(s) < 3000:
    s.add("10.%d.%d.%d" % (random.randrange(256), random.randrange(256), random.randrange(256)))
open(sys.argv[1], "w").write("\n".join(sorted(s)) + "\n")
PY
cat >"$PL_TMP/p.conf" <<'CONF'
portlock = { journal_keep = 3; };
services = ( { name = "smpp"; ports = [2775]; allow = [ "2001:db8::/32" ]; allow_file = "allow.txt"; } );
CONF
export PORTLOCK_SHARD_MAX=64	# about 90 shards
nobj() { find "$J/objects" -maxdepth 1 -type f -name '[0-9a-f]*' | wc -l; }
# every object is named by its SHA-256
check_names() {
	local f
	for f in "$J"/objects/*; do
		[ "$(sha256sum <"$f" | cut -c1-64)" = "$(basename "$f")" ] || pl_fail "object $f: content does not match its name"
	done
}
# objects on disk == the union of every record's refs
check_refs() {
	cat "$J"/*.refs 2>/dev/null | sort -u >"$PL_TMP/refs"
	(cd "$J/objects" && ls | sort) >"$PL_TMP/objs"
	cmp -s "$PL_TMP/refs" "$PL_TMP/objs" || pl_fail "objects and refs differ: $(diff "$PL_TMP/refs" "$PL_TMP/objs" | head -5)"
}

pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
shards=$(ip netns exec "$NS" nft list sets inet | grep -c 'set smpp_v4_')
[ "$shards" -ge 20 ] || pl_fail "expected a sharded table, got $shards shard sets"
n1=$(nobj)
# one object per range set: the shards and the v6 set
[ "$n1" -eq "$((shards + 1))" ] || pl_fail "$n1 objects for $shards shards + 1 v6 set"
pl_expect_grep '"format": 3' "$J/0000000001.json"
pl_expect_grep "^# table inet portlock does not exist" <(P log --show 1 --prior)
check_names

# one prefix changed: one new object, the prior a link to the last result
sed -i '1s/.*/10.255.255.254/' "$PL_TMP/allow.txt"
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
n2=$(nobj)
[ "$n2" -le "$((n1 + 2))" ] || pl_fail "a one-prefix change stored $((n2 - n1)) objects"
[ "$n2" -gt "$n1" ] || pl_fail "a one-prefix change stored no object"
[ "$(stat -c %i "$J/0000000002.prior.refs")" = "$(stat -c %i "$J/0000000001.result.refs")" ] ||
	pl_fail "the prior refs of transaction 2 are not a link to the result of transaction 1"
check_names
check_refs
# the saved contents render as the live table
PORTLOCK_NO_LIVE_CACHE=1 P -c "$PL_TMP/p.conf" show >"$PL_TMP/live.txt" 2>&1
P log --show 2 | tail -n +2 >"$PL_TMP/saved.txt"
cmp -s "$PL_TMP/live.txt" "$PL_TMP/saved.txt" || pl_fail "log --show 2 differs from the live table: $(diff "$PL_TMP/live.txt" "$PL_TMP/saved.txt" | head -10)"

# a damaged object of the live table: plan compares that shard, finds the object bad and reads the kernel
sed -i '2s/.*/10.255.255.253/' "$PL_TMP/allow.txt"
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
cp "$PL_TMP/out" "$PL_TMP/plan.good"
for f in "$J"/objects/*; do cp "$f" "$PL_TMP/objs.bak.$(basename "$f")"; printf 'X' | dd of="$f" bs=1 seek=30 conv=notrunc status=none; done
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
cmp -s "$PL_TMP/out" "$PL_TMP/plan.good" || pl_fail "plan with damaged objects differs: $(diff "$PL_TMP/out" "$PL_TMP/plan.good" | head)"
# show needs every set: it dumps them instead
PORTLOCK_NO_LIVE_CACHE=1 P -c "$PL_TMP/p.conf" show >"$PL_TMP/full.txt" 2>&1
P -c "$PL_TMP/p.conf" show >"$PL_TMP/noted.txt" 2>&1
cmp -s "$PL_TMP/full.txt" "$PL_TMP/noted.txt" || pl_fail "show with damaged objects differs from a full read"
# a revert that needs them refuses, names the object, and changes nothing
ip netns exec "$NS" nft list ruleset >"$PL_TMP/before"
pl_expect_rc 5 P revert 2
pl_expect_grep "set smpp_v4_[0-9a-f_]*: its saved content '.*/objects/[0-9a-f]{64}' is damaged" "$PL_TMP/err"
pl_expect_grep "nothing was reverted" "$PL_TMP/err"
ip netns exec "$NS" nft list ruleset >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "a refused revert changed the ruleset"
for f in "$PL_TMP"/objs.bak.*; do cp "$f" "$J/objects/${f##*/objs.bak.}"; done
# objects that are gone: the same, and a revert names one as missing
mv "$J/objects" "$PL_TMP/objects.away"
mkdir -m 700 "$J/objects"
pl_expect_rc 1 P -c "$PL_TMP/p.conf" plan --exit-code
cmp -s "$PL_TMP/out" "$PL_TMP/plan.good" || pl_fail "plan with missing objects differs"
pl_expect_rc 5 P revert 2
pl_expect_grep "its saved content '.*/objects/[0-9a-f]{64}' is missing" "$PL_TMP/err"
rmdir "$J/objects"
mv "$PL_TMP/objects.away" "$J/objects"

# apply and revert through the objects: exact
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_rc 0 P -q revert
ip netns exec "$NS" nft list ruleset >"$PL_TMP/reverted"
P log --show 3 --prior | tail -n +2 | grep -v '^# generation' >"$PL_TMP/prior3"
PORTLOCK_NO_LIVE_CACHE=1 P -c "$PL_TMP/p.conf" show 2>&1 | grep -v '^# generation' >"$PL_TMP/now"
cmp -s "$PL_TMP/prior3" "$PL_TMP/now" || pl_fail "revert did not restore the prior of transaction 3: $(diff "$PL_TMP/prior3" "$PL_TMP/now" | head)"
pl_expect_rc 0 P -q revert
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code

# retention (journal_keep = 3): objects of pruned records go, the rest stay and verify
for i in 1 2 3 4 5; do
	sed -i "$((i + 5))s/.*/10.255.254.$i/" "$PL_TMP/allow.txt"
	pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
done
[ "$(ls "$J"/*.json | wc -l)" -eq 3 ] || pl_fail "journal_keep = 3 keeps $(ls "$J"/*.json | wc -l) records"
check_refs
check_names
[ "$(nobj)" -le "$((n1 + 8))" ] || pl_fail "$(nobj) objects after pruning ($n1 at first)"
# every kept record still reverts (its objects are all there)
first=$(ls "$J"/*.json | head -1 | xargs basename | sed 's/^0*//; s/\.json//')
pl_expect_rc 0 P -q revert "$first"
pl_expect_rc 1 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" apply
pl_expect_rc 0 P -q -c "$PL_TMP/p.conf" plan --exit-code
pl_done
