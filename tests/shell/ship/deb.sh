#!/bin/bash
# The Debian package builds from the tree (contrib/debian/build.sh: the
# packaging copied to debian/ in a temporary copy, dpkg-buildpackage -us -uc
# -b, the unit tests run during the build), lintian finds no error, and it
# installs with apt, "portlock --version" runs, and it purges cleanly.
# About 30 s here. Installing touches the host's package database only: the
# package starts nothing (portlock.service waits for /etc/portlock/portlock.conf
# and is not started at installation) and is purged at the end.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
for tool in dpkg-buildpackage dh lintian; do
	command -v "$tool" >/dev/null || pl_die "$tool is missing (tests/deps/ship.txt)"
done

bash "$PL_SOURCE_DIR/contrib/debian/build.sh" --lintian --install --out "$PL_TMP/deb" >"$PL_TMP/build.out" 2>&1 ||
	pl_fail "contrib/debian/build.sh failed: $(tail -40 "$PL_TMP/build.out")"
ver=$(dpkg-parsechangelog -l "$PL_SOURCE_DIR/contrib/debian/changelog" -S Version)
deb=$PL_TMP/deb/portlock_${ver}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || pl_fail "no $deb"
pl_expect_grep '^lintian: no errors$' "$PL_TMP/build.out"
grep -E '^E: ' "$PL_TMP/deb/lintian.log" && pl_fail "lintian errors"
pl_expect_grep '^portlock [0-9]' "$PL_TMP/build.out"
pl_expect_grep '^installed, ran and removed: ok$' "$PL_TMP/build.out"
pl_expect_grep '100% tests passed' "$PL_TMP/deb/build.log"
# the package's contents
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\.||' >"$PL_TMP/files"
for f in /usr/sbin/portlock /usr/share/man/man8/portlock.8.gz /usr/share/man/man5/portlock.conf.5.gz \
	/lib/systemd/system/portlock.service /lib/systemd/system/portlock-audit.timer \
	/usr/share/bash-completion/completions/portlock /usr/share/doc/portlock/examples/smpp-gateway.conf; do
	grep -qx "$f" "$PL_TMP/files" || pl_fail "the package lacks $f"
done
# the maintainer scripts enable the units but start nothing at installation
dpkg-deb -e "$deb" "$PL_TMP/ctrl"
pl_expect_grep 'deb-systemd-helper .*enable.*portlock.service' "$PL_TMP/ctrl/postinst"
grep -q 'deb-systemd-invoke .*portlock.service' "$PL_TMP/ctrl/postinst" &&
	pl_fail "postinst starts portlock.service"
pl_expect_grep 'deb-systemd-invoke .*portlock-audit.timer' "$PL_TMP/ctrl/postinst"
dpkg-query -W -f='${Status}' portlock 2>/dev/null | grep -q 'ok installed' && pl_fail "portlock left installed"
pl_done
