#!/bin/bash
# A state dir that cannot be trusted is refused before anything is applied:
# swapped for a symlink, owned by another user, world-writable, or below a
# directory others can write (not sticky) -> exit 3 naming the path and the
# reason, the ruleset unchanged. Below a sticky world-writable parent (like
# /tmp) it is fine. Config and allow_files writable by others get a warning
# naming the file; with strict = true an error (exit 3).
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plt$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
cat >"$PL_TMP/b.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["198.51.100.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
ruleset() { ip netns exec "$NS" nft list ruleset; }
ST=$PL_TMP/state

pl_expect_rc 0 P --state-dir "$ST" -c "$PL_TMP/a.conf" apply
[ "$(stat -c %a "$ST")" = 700 ] || pl_fail "state dir mode is $(stat -c %a "$ST"), not 700"
ruleset >"$PL_TMP/rs.before"

# refused: the ruleset stays as it is, nothing is written into the state dir
refused() {	# refused WHAT PATTERN STATE_DIR
	pl_expect_rc 3 P --state-dir "$3" -c "$PL_TMP/b.conf" apply
	pl_expect_grep "$2" "$PL_TMP/err"
	ruleset >"$PL_TMP/rs.after"
	cmp -s "$PL_TMP/rs.before" "$PL_TMP/rs.after" || pl_fail "$1: the ruleset changed"
	pl_expect_rc 3 P --state-dir "$3" revert
	ruleset >"$PL_TMP/rs.after"
	cmp -s "$PL_TMP/rs.before" "$PL_TMP/rs.after" || pl_fail "$1: revert changed the ruleset"
}

# 1. the state dir swapped for a symlink to a copy (between runs)
mv "$ST" "$PL_TMP/real"
ln -s "$PL_TMP/real" "$ST"
n_before=$(ls "$PL_TMP/real/journal" | wc -l)
refused symlink "state dir '$ST' is a symbolic link: refusing to use it" "$ST"
[ "$(ls "$PL_TMP/real/journal" | wc -l)" = "$n_before" ] || pl_fail "symlink: the journal behind it was written"
# log (a reader) refuses a symlink too
pl_expect_rc 3 P --state-dir "$ST" log
pl_expect_grep "is a symbolic link" "$PL_TMP/err"
rm "$ST"
mv "$PL_TMP/real" "$ST"

# 2. owned by another user
chown nobody "$ST"
refused user-owned "state dir '$ST' is owned by another user \(uid [0-9]+, mode 0700\): refusing to use it" "$ST"
chown root "$ST"

# 3. world-writable (and group-writable)
chmod 0777 "$ST"
refused world-writable "state dir '$ST' is writable by group or others \(uid 0, mode 0777\)" "$ST"
chmod 0770 "$ST"
refused group-writable "state dir '$ST' is writable by group or others" "$ST"
chmod 0700 "$ST"

# 4. a parent writable by others and not sticky; a user's parent
mkdir -m 0777 "$PL_TMP/open"
refused open-parent "'$PL_TMP/open' \(on the way to state dir '$PL_TMP/open/st'\) is writable by group or others and not sticky" "$PL_TMP/open/st"
[ -e "$PL_TMP/open/st" ] && pl_fail "a state dir was created below a directory others can write"
mkdir -m 0755 "$PL_TMP/users"
chown nobody "$PL_TMP/users"
refused user-parent "'$PL_TMP/users' \(on the way to state dir '$PL_TMP/users/st'\) is owned by a user other than root" "$PL_TMP/users/st"

# 5. a sticky world-writable parent (like /tmp) is fine; missing dirs are made 0700
mkdir -m 1777 "$PL_TMP/sticky"
sed '1i portlock = { table = "pl_sticky"; };' "$PL_TMP/b.conf" >"$PL_TMP/s.conf"
pl_expect_rc 0 P --state-dir "$PL_TMP/sticky/a/st" -c "$PL_TMP/s.conf" apply
pl_expect_rc 0 P --state-dir "$PL_TMP/sticky/a/st" log
pl_expect_grep '^1 ' "$PL_TMP/out"
pl_expect_rc 0 P --state-dir "$PL_TMP/sticky/a/st" revert
[ "$(stat -c %a "$PL_TMP/sticky/a")" = 700 ] || pl_fail "a missing parent was made $(stat -c %a "$PL_TMP/sticky/a")"
# the journal dir inside is held to the same rules
chmod 0777 "$ST/journal"
pl_expect_rc 3 P --state-dir "$ST" -c "$PL_TMP/b.conf" apply
pl_expect_grep "state dir '$ST/journal' is writable by group or others" "$PL_TMP/err"
chmod 0700 "$ST/journal"
ruleset >"$PL_TMP/rs.after"
cmp -s "$PL_TMP/rs.before" "$PL_TMP/rs.after" || pl_fail "the ruleset changed before the state dir was repaired"

# the compile cache goes through the same code: a link planted as its
# directory is not followed (the apply does without a cache)
rm -rf "$ST/cache"
mkdir "$PL_TMP/elsewhere"
ln -s "$PL_TMP/elsewhere" "$ST/cache"
pl_expect_rc 0 P --state-dir "$ST" -c "$PL_TMP/b.conf" apply
[ -z "$(ls -A "$PL_TMP/elsewhere")" ] || pl_fail "the compile cache wrote through a link: $(ls -A "$PL_TMP/elsewhere")"
pl_expect_rc 0 P --state-dir "$ST" revert
rm "$ST/cache"

# 6. config and allow_file permissions
echo 192.0.2.0/24 >"$PL_TMP/allow.txt"
cat >"$PL_TMP/f.conf" <<CONF
services = ( { name = "smpp"; ports = [2775]; allow_file = "$PL_TMP/allow.txt"; } );
CONF
pl_expect_rc 0 P -c "$PL_TMP/f.conf" check
[ -s "$PL_TMP/err" ] && pl_fail "warnings for root-owned 0644 files: $(cat "$PL_TMP/err")"
chmod 0666 "$PL_TMP/f.conf"
chown nobody "$PL_TMP/allow.txt"
pl_expect_rc 0 P -c "$PL_TMP/f.conf" check
pl_expect_grep "^portlock: $PL_TMP/f.conf: warning: config file is writable by group or others \(mode 0666\)" "$PL_TMP/err"
pl_expect_grep "^portlock: $PL_TMP/allow.txt: warning: allow_file is owned by uid [0-9]+, not root" "$PL_TMP/err"
sed -i '1i portlock = { strict = true; };' "$PL_TMP/f.conf"
ruleset >"$PL_TMP/rs.before"
pl_expect_rc 3 P --state-dir "$ST" -c "$PL_TMP/f.conf" apply
pl_expect_grep "^portlock: $PL_TMP/f.conf: config file is writable by group or others \(mode 0666\): .*\(strict = true\)" "$PL_TMP/err"
pl_expect_grep "^portlock: $PL_TMP/allow.txt: allow_file is owned by uid [0-9]+, not root" "$PL_TMP/err"
ruleset >"$PL_TMP/rs.after"
cmp -s "$PL_TMP/rs.before" "$PL_TMP/rs.after" || pl_fail "strict: the ruleset changed"
chmod 0644 "$PL_TMP/f.conf"
chown root "$PL_TMP/allow.txt"
pl_expect_rc 0 P --state-dir "$ST" -c "$PL_TMP/f.conf" apply
pl_done
