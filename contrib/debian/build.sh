#!/bin/bash
# Build the Debian package from this tree: copy the tree (without build
# directories and .git) to a temporary directory, put contrib/debian there as
# debian/, run dpkg-buildpackage -us -uc -b and copy the results out.
#
#   contrib/debian/build.sh [--deps] [--lintian] [--install] [--nocheck] [--out DIR]
#
#   --deps     install the build dependencies first (apt-get build-dep)
#   --lintian  run lintian on the result; fail on any error
#   --install  install the .deb with apt, run "portlock --version" and check
#              the installed files, then purge it again
#   --nocheck  skip the unit tests during the build (DEB_BUILD_OPTIONS=nocheck)
#   --out DIR  where the .deb, .buildinfo and .changes go (default build-deb/)
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$SRC/build-deb
deps=0 lint=0 inst=0
while [ $# -gt 0 ]; do
	case $1 in
	--deps) deps=1 ;;
	--lintian) lint=1 ;;
	--install) inst=1 ;;
	--nocheck) export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" ;;
	--out)
		OUT=$2
		shift
		;;
	-h | --help)
		sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build.sh: unknown argument '$1'" >&2
		exit 2
		;;
	esac
	shift
done
export DEBIAN_FRONTEND=noninteractive
step() { printf '==> %s\n' "$*"; }

ver=$(dpkg-parsechangelog -l "$SRC/contrib/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
tmp=$(mktemp -d /tmp/portlock-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
dst=$tmp/portlock-$ver
mkdir -p "$dst" "$OUT"
OUT=$(cd "$OUT" && pwd)

step "copying the tree to $dst"
tar -C "$SRC" --exclude=./.git --exclude='./build*' --exclude=./debian \
	--exclude=./tests/peers/node_modules-root -cf - . | tar -C "$dst" -xf -
cp -a "$SRC/contrib/debian" "$dst/debian"

if [ "$deps" = 1 ]; then
	step "build dependencies"
	apt-get -o DPkg::Lock::Timeout=300 build-dep -y -q "$dst"
fi

step "dpkg-buildpackage -us -uc -b"
(cd "$dst" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 || {
	tail -60 "$tmp/build.log" >&2
	echo "build.sh: dpkg-buildpackage failed (log above)" >&2
	exit 1
}
cp "$tmp"/*.deb "$tmp"/*.buildinfo "$tmp"/*.changes "$OUT/"
cp "$tmp/build.log" "$OUT/build.log"
deb=$OUT/portlock_${ver}_$arch.deb
step "built $deb"
dpkg-deb -c "$deb" | awk '{print $NF}'

if [ "$lint" = 1 ]; then
	step "lintian"
	lintian --fail-on error --display-info "$OUT/portlock_${ver}_$arch.changes" | tee "$OUT/lintian.log"
	echo "lintian: no errors"
fi

if [ "$inst" = 1 ]; then
	step "apt install $deb"
	if dpkg-query -W -f='${Status}' portlock 2>/dev/null | grep -q 'ok installed'; then
		echo "build.sh: portlock is already installed here; not touching it" >&2
		exit 1
	fi
	# whatever happens from here on, the package does not stay installed
	trap 'apt-get -o DPkg::Lock::Timeout=300 purge -y -q portlock >/dev/null 2>&1; rm -rf "$tmp"' EXIT
	apt-get -o DPkg::Lock::Timeout=300 install -y -q "$deb"
	rc=0
	/usr/sbin/portlock --version || rc=1
	for f in /usr/sbin/portlock /usr/share/man/man8/portlock.8.gz /usr/share/man/man5/portlock.conf.5.gz \
		/lib/systemd/system/portlock.service /lib/systemd/system/portlock-audit.service \
		/lib/systemd/system/portlock-audit.timer /usr/share/bash-completion/completions/portlock \
		/usr/share/doc/portlock/examples/smpp-gateway.conf /usr/share/doc/portlock/copyright; do
		if ! dpkg -L portlock | grep -qx "$f"; then
			echo "build.sh: the package lacks $f" >&2
			rc=1
		fi
	done
	man -w portlock >/dev/null || rc=1
	step "apt purge portlock"
	apt-get -o DPkg::Lock::Timeout=300 purge -y -q portlock
	trap 'rm -rf "$tmp"' EXIT
	if dpkg-query -W -f='${Status}' portlock 2>/dev/null | grep -q 'installed'; then
		echo "build.sh: portlock is still installed after purge" >&2
		rc=1
	fi
	[ "$rc" = 0 ] || exit 1
	echo "installed, ran and removed: ok"
fi
