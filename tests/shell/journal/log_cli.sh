#!/bin/bash
# `portlock log` against hand-made journals: empty and missing state dirs,
# intact records (text and --json), a truncated record (reported by file name,
# skipped, exit 0, the others still listed), a blob whose sha256 no longer
# matches (--verify), control bytes in a hand-edited record, -n, bad usage.
# The records are written here by python, in the format journal.h documents,
# so the test also pins that format. No network, no namespaces needed.
. "$(dirname "$0")/../lib/lib.sh"

ST=$PL_TMP/state
J=$ST/journal

# mkrec ID KIND STATE [REVERTS_ID] [ARGV]: write record ID with its four blobs.
mkrec() {
	"$PL_PY" - "$J" "$@" <<'EOF'
import hashlib, json, os, sys, time
jdir, rid, kind, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
reverts = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] else None
argv = sys.argv[6] if len(sys.argv) > 6 else "portlock apply"
os.makedirs(jdir, mode=0o700, exist_ok=True)
def blob(name, data):
    fn = "%010d.%s" % (rid, name)
    with open(os.path.join(jdir, fn), "wb") as f:
        f.write(data)
    return {"file": fn, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
now = 1795000000 + rid * 60
rec = {
    "format": 1, "id": rid, "kind": kind, "reverts_id": reverts,
    "time": now, "state_time": now, "uid": 0, "user": "root", "argv": argv,
    "policy_sha256": hashlib.sha256(b"policy%d" % rid).hexdigest() if kind == "apply" else None,
    "table": "portlock", "gen_before": 10 + rid, "gen_after": 11 + rid, "state": state,
    "confirm_deadline": now + 60 if state == "pending" else None,
    "added": rid * 3, "removed": rid,
    "prior": {"absent": rid == 1,
              "nlmsg": None if rid == 1 else blob("prior.nlmsg", os.urandom(4096)),
              "nft": None if rid == 1 else blob("prior.nft", b"table inet portlock {\n}\n")},
    "result": {"absent": False, "nlmsg": blob("result.nlmsg", os.urandom(4096)),
               "nft": blob("result.nft", b"table inet portlock {\n}\n")},
}
with open(os.path.join(jdir, "%010d.json" % rid), "w") as f:
    json.dump(rec, f, indent=2)
EOF
}

# 1. no state dir at all, and an empty one: nothing listed, exit 0
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
pl_expect_grep "^no transactions recorded in '$J'" "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --json
"$PL_PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["transactions"] == []' "$PL_TMP/out" ||
	pl_fail "log --json on a missing dir is not []"
mkdir -m 0700 -p "$J"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
pl_expect_grep "^no transactions recorded" "$PL_TMP/out"
[ -s "$PL_TMP/err" ] && pl_fail "log on an empty journal wrote to stderr: $(cat "$PL_TMP/err")"
# reading creates nothing
[ -e "$ST/lock" ] && pl_fail "log created the lock file"

# 2. three intact records
mkrec 1 apply confirmed
mkrec 2 apply applied "" "portlock apply -c /etc/portlock/test.conf"
mkrec 3 revert pending 2 "portlock revert"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
cp "$PL_TMP/out" "$PL_TMP/log3"
[ "$(grep -c '^[0-9]' "$PL_TMP/log3")" -eq 3 ] || pl_fail "expected 3 records: $(cat "$PL_TMP/log3")"
pl_expect_grep '^ID +TIME +USER +TABLE +KIND +STATE +CHANGES +POLICY +COMMAND' "$PL_TMP/log3"
pl_expect_grep '^1 +[0-9-]+ [0-9:]+ +root +portlock +apply +confirmed +\+3/-1 +[0-9a-f]{12}  portlock apply$' "$PL_TMP/log3"
pl_expect_grep '^2 .* applied +\+6/-2 .*portlock apply -c /etc/portlock/test.conf$' "$PL_TMP/log3"
# its deadline is not today: the date is shown
pl_expect_grep '^3 .* revert #2 +pending until [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]+ +\+9/-3 +- +portlock revert$' "$PL_TMP/log3"
# record 3 is pending past its (synthetic) deadline: log reports that, and nothing else
grep -q 'transaction 3 .*auto-revert is overdue' "$PL_TMP/err" || pl_fail "log did not report the overdue transaction 3"
grep -v 'auto-revert is overdue' "$PL_TMP/err" | grep -q . && pl_fail "intact journal gave warnings: $(cat "$PL_TMP/err")"

# the global --json and the command's --json both give a parseable array
for args in "--json log" "log --json" "log -j"; do
	# shellcheck disable=SC2086
	pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" $args
	"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "'$args' is not JSON"
done
"$PL_PY" - "$PL_TMP/out" <<'EOF' || pl_fail "log --json content"
import json, sys
a = json.load(open(sys.argv[1]))["transactions"]
assert [r["id"] for r in a] == [1, 2, 3], a
r = a[2]
assert r["kind"] == "revert" and r["reverts_id"] == 2 and r["state"] == "pending", r
assert r["confirm_deadline"] == r["time"] + 60 and r["time_iso"].endswith("Z"), r
assert r["added"] == 9 and r["removed"] == 3 and r["policy_sha256"] is None, r
assert a[0]["prior"]["absent"] is True and a[0]["prior"]["nlmsg"] is None, a[0]
assert a[1]["prior"]["nlmsg"]["file"] == "0000000002.prior.nlmsg", a[1]
assert a[1]["gen_before"] == 12 and a[1]["gen_after"] == 13 and a[1]["user"] == "root"
EOF

# --last N: the newest N
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --last 1
[ "$(grep -c '^[0-9]' "$PL_TMP/out")" -eq 1 ] && grep -q '^3 ' "$PL_TMP/out" ||
	pl_fail "log --last 1: $(cat "$PL_TMP/out")"

# 3. a truncated record: named on stderr, skipped, the others listed, exit 0
size=$(stat -c %s "$J/0000000002.json")
truncate -s $((size / 2)) "$J/0000000002.json"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
pl_expect_grep "^portlock: $J/0000000002.json: warning: corrupt journal record skipped: truncated or invalid JSON at line [0-9]+, column [0-9]+" "$PL_TMP/err"
[ "$(grep -c '^[0-9]' "$PL_TMP/out")" -eq 2 ] || pl_fail "expected records 1 and 3: $(cat "$PL_TMP/out")"
pl_expect_grep '^1 ' "$PL_TMP/out"
pl_expect_grep '^3 ' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --json
"$PL_PY" -m json.tool "$PL_TMP/out" >/dev/null || pl_fail "log --json with a corrupt record is not JSON"
"$PL_PY" -c 'import json,sys; assert [r["id"] for r in json.load(open(sys.argv[1]))["transactions"]] == [1, 3]' \
	"$PL_TMP/out" || pl_fail "log --json should list records 1 and 3"
pl_expect_grep "0000000002.json: warning: corrupt" "$PL_TMP/err"

# garbage, an empty file, a wrong type, a missing blob: each reported, never a crash
printf '\x00\xff garbage' >"$J/0000000004.json"
: >"$J/0000000005.json"
mkrec 6 apply applied
sed -i 's/"added": 18/"added": "many"/' "$J/0000000006.json"
mkrec 7 apply applied
rm "$J/0000000007.result.nft"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
pl_expect_grep "0000000004.json: warning: corrupt journal record skipped: truncated or invalid JSON" "$PL_TMP/err"
pl_expect_grep "0000000005.json: warning: corrupt journal record skipped: empty file" "$PL_TMP/err"
pl_expect_grep "0000000006.json: warning: corrupt journal record skipped: 'added' must be an integer" "$PL_TMP/err"
pl_expect_grep "0000000007.json: warning: corrupt journal record skipped: blob '0000000007.result.nft' is missing" "$PL_TMP/err"
[ "$(grep -c '^[0-9]' "$PL_TMP/out")" -eq 2 ] || pl_fail "expected records 1 and 3: $(cat "$PL_TMP/out")"
rm -f "$J"/000000000[4-7].*

# 4. a blob changed in place: only --verify (full sha256) notices
mkrec 8 apply applied
printf 'XX' | dd of="$J/0000000008.prior.nlmsg" bs=1 seek=100 conv=notrunc status=none
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log
pl_expect_grep '^8 ' "$PL_TMP/out"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --verify
pl_expect_grep "0000000008.json: warning: corrupt journal record skipped: blob '0000000008.prior.nlmsg' has sha256 " "$PL_TMP/err"
grep -q '^8 ' "$PL_TMP/out" && pl_fail "log --verify listed the corrupt record 8"

# 5. control bytes in a hand-edited record are escaped in the text output
mkrec 9 apply applied "" "$(printf 'portlock apply \033[31mred')"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --last 1
pl_expect_grep '^9 .*portlock apply \\x1b\[31mred$' "$PL_TMP/out"
grep -q $'\033' "$PL_TMP/out" && pl_fail "log printed a raw escape byte"

# 6. a group-writable state dir is a warning for readers (writers refuse it)
chmod 0770 "$ST"
pl_expect_rc 0 "$PORTLOCK" --state-dir "$ST" log --last 1
pl_expect_grep "warning: state dir '$ST' is writable by group or others" "$PL_TMP/err"
chmod 0700 "$ST"

# 7. bad usage: exit 2 with a clear message
pl_expect_rc 2 "$PORTLOCK" --state-dir "$ST" log --last zero
pl_expect_grep "'--last' needs a positive count, not 'zero'" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" --state-dir "$ST" log --last
pl_expect_rc 2 "$PORTLOCK" --state-dir "$ST" log --bogus
pl_expect_grep "unknown option '--bogus'" "$PL_TMP/err"
pl_expect_rc 2 "$PORTLOCK" --state-dir "$ST" log extra
pl_expect_rc 0 "$PORTLOCK" log --help
pl_expect_grep "Usage: portlock \[global options\] log" "$PL_TMP/out"

# 8. long kinds, users and table names: every column stays aligned (each as
# wide as its widest entry); CHANGES is +added/-removed as recorded
J=$PL_TMP/state2/journal
mkrec 1 apply applied
mkrec 2 auto-revert applied 1 "portlock recover"
mkrec 123456789012 revert pending 2 "portlock revert 2 --confirm 200000"
mkrec 123456789013 auto-revert applied 123456789012 "portlock recover"
sed -i 's/"user": "root"/"user": "a-rather-long-user-name"/; s/"table": "portlock"/"table": "portlock_a_long_table_name"/' \
	"$J/0000000002.json"
# a deadline two days from now: shown with its date (and generations that fit)
"$PL_PY" - "$J"/12345678901[23].json <<'PY'
import json, sys, time
for f in sys.argv[1:]:
    r = json.load(open(f))
    r["gen_before"], r["gen_after"] = 20, 21
    if r["state"] == "pending":
        r["confirm_deadline"] = int(time.time()) + 200000
    json.dump(r, open(f, "w"))
PY
pl_expect_rc 0 "$PORTLOCK" --state-dir "$PL_TMP/state2" log
cp "$PL_TMP/out" "$PL_TMP/log8"
pl_expect_grep "pending until $(date -d @$(($(date +%s) + 200000)) +%F) [0-9:]{8} " "$PL_TMP/log8"
pl_expect_grep '^123456789013 .* auto-revert #123456789012 +applied +\+370370367039/-123456789013 ' "$PL_TMP/log8"
"$PL_PY" - "$PL_TMP/log8" <<'PY' || pl_fail "log columns are not aligned: $(cat "$PL_TMP/log8")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
head, rows = lines[0], lines[1:]
cols = ["TIME", "USER", "TABLE", "KIND", "STATE", "CHANGES", "POLICY", "COMMAND"]
starts = [head.index(" " + c + " " if c != "COMMAND" else " " + c) + 1 for c in cols]
assert len(rows) == 4, lines
for r in rows:
    for c, st in zip(cols, starts):
        # every cell begins at its header's column, after a space
        assert r[st - 1] == " " and r[st] != " ", (c, st, r)
PY

# 9. a state dir that is a file
echo "not a dir" >"$PL_TMP/afile"
pl_expect_rc 3 "$PORTLOCK" --state-dir "$PL_TMP/afile" log
pl_expect_grep "^portlock: state dir '$PL_TMP/afile' is not a directory$" "$PL_TMP/err"

pl_done
