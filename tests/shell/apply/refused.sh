#!/bin/bash
# Failure paths: a batch the kernel refuses changes nothing and names the
# object; plan --check reports what the kernel would refuse and changes
# nothing; no CAP_NET_ADMIN -> clear message, exit 4.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plr$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/p.conf" <<'CONF'
services = (
  { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]; }
);
CONF
chmod 755 "$PL_TMP" && chmod 644 "$PL_TMP/p.conf"
cat >"$PL_TMP/q.conf" <<'CONF'
services = (
  { name = "smtp"; ports = [25]; allow = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]; }
);
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }

pl_expect_rc 0 P -c "$PL_TMP/q.conf" apply
ip netns exec "$NS" nft list ruleset >"$PL_TMP/before"

# a set size smaller than its elements: the kernel answers ENFILE
export PORTLOCK_TEST_SET_SIZE=1
pl_expect_rc 4 P -c "$PL_TMP/p.conf" apply
pl_expect_grep "kernel refused elements of set smpp_v4, service .smpp. \\(.*p.conf:2\\): Too many open files in system" "$PL_TMP/err"
pl_expect_grep "p.conf:2" "$PL_TMP/err"
pl_expect_grep "nothing was changed" "$PL_TMP/err"
ip netns exec "$NS" nft list ruleset >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "refused apply changed the ruleset"

# the same through plan --check
pl_expect_rc 4 P -c "$PL_TMP/p.conf" plan --check
pl_expect_grep "kernel refused" "$PL_TMP/err"
ip netns exec "$NS" nft list ruleset >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "plan --check changed the ruleset"
unset PORTLOCK_TEST_SET_SIZE

# a valid plan --check validates and still changes nothing
pl_expect_rc 0 P -c "$PL_TMP/p.conf" plan --check
pl_expect_grep "the kernel validated the batch; nothing was changed" "$PL_TMP/out"
ip netns exec "$NS" nft list ruleset >"$PL_TMP/after"
cmp -s "$PL_TMP/before" "$PL_TMP/after" || pl_fail "plan --check changed the ruleset"

# no CAP_NET_ADMIN
pl_expect_rc 4 ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all --bounding-set=-all "$PORTLOCK" -c "$PL_TMP/p.conf" apply
pl_expect_grep "CAP_NET_ADMIN" "$PL_TMP/err"
pl_expect_rc 4 ip netns exec "$NS" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	--inh-caps=-all --bounding-set=-all "$PORTLOCK" -c "$PL_TMP/p.conf" show
pl_expect_grep "CAP_NET_ADMIN" "$PL_TMP/err"

# usage errors exit 2
pl_expect_rc 2 P -c "$PL_TMP/p.conf" apply --bogus
pl_expect_rc 2 P -c "$PL_TMP/p.conf" plan extra
pl_done
