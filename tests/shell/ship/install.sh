#!/bin/bash
# "cmake --install" puts every file where an operator (and dpkg) expects it:
# a build configured for prefix /usr is installed into a DESTDIR and its file
# list compared with the expected one (binary in sbin, man5/man8, examples in
# the doc dir, fingerprint data and JSON schemas in share/portlock, systemd units and bash
# completion where pkg-config says); the installed units name the installed
# binary; a second configure for another prefix moves everything under it
# (units and completion too) and the installed man pages render there.
. "$(dirname "$0")/../lib/lib.sh"

B=$PL_TMP/build
D=$PL_TMP/destdir
cmake -S "$PL_SOURCE_DIR" -B "$B" -DCMAKE_INSTALL_PREFIX=/usr -DPORTLOCK_BUILD_TESTS=OFF \
	>"$PL_TMP/cmake.log" 2>&1 || pl_die "cmake failed: $(tail -20 "$PL_TMP/cmake.log")"
make -s -C "$B" -j2 portlock >"$PL_TMP/make.log" 2>&1 || pl_die "build failed: $(tail -20 "$PL_TMP/make.log")"
DESTDIR=$D cmake --install "$B" >"$PL_TMP/install.log" 2>&1 ||
	pl_die "cmake --install failed: $(tail -20 "$PL_TMP/install.log")"

unitdir=$(pkg-config --variable=systemdsystemunitdir systemd)
compdir=$(pkg-config --variable=completionsdir bash-completion)
[ -n "$unitdir" ] || pl_fail "pkg-config knows no systemdsystemunitdir (systemd.pc missing?)"
[ -n "$compdir" ] || pl_fail "pkg-config knows no completionsdir (bash-completion.pc missing?)"

{
	echo /usr/sbin/portlock
	echo /usr/share/man/man8/portlock.8
	echo /usr/share/man/man5/portlock.conf.5
	for f in "$PL_SOURCE_DIR"/rulesets/*.conf "$PL_SOURCE_DIR"/rulesets/*.nft "$PL_SOURCE_DIR"/rulesets/*.txt; do
		[ -e "$f" ] && echo "/usr/share/doc/portlock/examples/${f##*/}"
	done
	if [ -d "$PL_SOURCE_DIR/data" ]; then
		(cd "$PL_SOURCE_DIR/data" && find . -type f | sed 's|^\./|/usr/share/portlock/|')
	fi
	for f in "$PL_SOURCE_DIR"/schema/portlock-*.schema.json; do
		echo "/usr/share/portlock/schema/${f##*/}"
	done
	echo "$unitdir/portlock.service"
	echo "$unitdir/portlock-audit.service"
	echo "$unitdir/portlock-audit.timer"
	echo "$unitdir/portlock-metrics.service"
	echo "$unitdir/portlock-metrics.timer"
	echo "$compdir/portlock"
} | sort >"$PL_TMP/want"
(cd "$D" && find . -type f -o -type l) | sed 's|^\.||' | sort >"$PL_TMP/got"
diff -u "$PL_TMP/want" "$PL_TMP/got" >"$PL_TMP/diff" || pl_fail "installed files differ: $(cat "$PL_TMP/diff")"
pl_log "$(wc -l <"$PL_TMP/got") files installed"

# modes: the binary executable, nothing else
[ -x "$D/usr/sbin/portlock" ] || pl_fail "/usr/sbin/portlock is not executable"
find "$D" -type f ! -path '*/sbin/*' -perm /111 | grep . && pl_fail "data files installed executable"
# the installed binary runs
"$D/usr/sbin/portlock" --version >"$PL_TMP/ver" || pl_fail "installed portlock --version failed"
pl_expect_grep '^portlock [0-9]' "$PL_TMP/ver"
# the units name the installed binary, and no template placeholder is left
for u in portlock.service portlock-audit.service portlock-audit.timer portlock-metrics.service portlock-metrics.timer; do
	grep -n '@[A-Z_]*@' "$D$unitdir/$u" && pl_fail "$u keeps a placeholder"
done
pl_expect_grep '^ExecStart=/usr/sbin/portlock --wait 60 apply --boot$' "$D$unitdir/portlock.service"
pl_expect_grep '^ExecStart=/usr/sbin/portlock audit ' "$D$unitdir/portlock-audit.service"
pl_expect_grep '^ExecStart=/usr/sbin/portlock -q metrics --output /var/lib/prometheus/node-exporter/portlock.prom$' \
	"$D$unitdir/portlock-metrics.service"
cmp -s "$PL_SOURCE_DIR/contrib/bash-completion/portlock" "$D$compdir/portlock" ||
	pl_fail "installed completion differs from contrib/bash-completion/portlock"

# another prefix: everything under it, units and completion included
P=$PL_TMP/prefix
cmake -S "$PL_SOURCE_DIR" -B "$B" -DCMAKE_INSTALL_PREFIX="$P" >"$PL_TMP/cmake.log" 2>&1 ||
	pl_die "cmake failed: $(tail -20 "$PL_TMP/cmake.log")"
cmake --install "$B" >"$PL_TMP/install.log" 2>&1 || pl_die "cmake --install failed: $(tail "$PL_TMP/install.log")"
sed "s|^/usr|$P|; s|^$unitdir|$P/lib/systemd/system|; s|^$compdir|$P/share/bash-completion/completions|" \
	"$PL_TMP/want" | sort >"$PL_TMP/want2"
find "$P" -type f -o -type l | sort >"$PL_TMP/got2"
diff -u "$PL_TMP/want2" "$PL_TMP/got2" >"$PL_TMP/diff" || pl_fail "prefix install differs: $(cat "$PL_TMP/diff")"
pl_expect_grep "^ExecStart=$P/sbin/portlock --wait 60 apply --boot\$" "$P/lib/systemd/system/portlock.service"
# the units as installed there pass systemd-analyze verify, which also runs
# man(1) on their Documentation= pages: the installed pages are found and render
(cd "$P/lib/systemd/system" && MANPATH=$P/share/man systemd-analyze verify \
	./portlock.service ./portlock-audit.service ./portlock-audit.timer ./portlock-metrics.service \
	./portlock-metrics.timer) >"$PL_TMP/verify" 2>&1 ||
	pl_fail "systemd-analyze verify of the installed units failed: $(cat "$PL_TMP/verify")"
[ -s "$PL_TMP/verify" ] && pl_fail "systemd-analyze verify warns: $(cat "$PL_TMP/verify")"
for page in man8/portlock.8 man5/portlock.conf.5; do
	LC_ALL=C MANWIDTH=80 man --warnings=w -l "$P/share/man/$page" >/dev/null 2>"$PL_TMP/manerr" ||
		pl_fail "man -l $page failed"
	grep -i warning "$PL_TMP/manerr" && pl_fail "man -l $page warns: $(cat "$PL_TMP/manerr")"
done
pl_done
