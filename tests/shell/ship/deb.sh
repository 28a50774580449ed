#!/bin/bash
# The Debian package builds from the tree (contrib/debian/build.sh: the
# packaging copied to debian/ in a temporary copy, dpkg-buildpackage -us -uc
# -b, the unit tests run during the build), lintian finds no error, and it
# installs with apt, "portlock --version" runs, and it purges cleanly; then
# the Ansible role installs the same .deb and applies a policy with it.
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

# the Ansible role installs this .deb (portlock_package_deb) and runs the
# installed /usr/sbin/portlock, inside a namespace with a temporary policy
# path and state dir; the package is purged again afterwards
command -v ansible-playbook >/dev/null || pl_die "ansible-playbook is missing (tests/deps/ship.txt)"
purge() { apt-get -o DPkg::Lock::Timeout=300 purge -y -q portlock >/dev/null 2>&1; }
# (the role installs from a scratch directory it removes: nothing is left in apt's cache)
trap 'purge; pl_cleanup' EXIT
NS=pld$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/inventory.yml" <<INV
all:
  hosts:
    host1:
      ansible_connection: local
      portlock_package_deb: $deb
      portlock_config_path: $PL_TMP/etc/portlock.conf
      portlock_state_dir: $PL_TMP/state
      portlock_confirm_seconds: 0
      portlock_lock_wait: 0
      portlock_observed_report: $PL_TMP/observed.json
      portlock_audit_collect: false
      portlock_services:
        - {name: smtp, ports: [2525], allow: ["192.0.2.0/24"]}
INV
ANSIBLE_HOME=$PL_TMP/ansible ANSIBLE_REMOTE_TEMP=$PL_TMP/ansible/rtmp ANSIBLE_LOCAL_TEMP=$PL_TMP/ansible/tmp \
	ANSIBLE_ROLES_PATH=$PL_SOURCE_DIR/contrib/ansible/roles ANSIBLE_NOCOLOR=1 ANSIBLE_PYTHON_INTERPRETER=$PL_PY \
	ip netns exec "$NS" ansible-playbook -i "$PL_TMP/inventory.yml" "$PL_SOURCE_DIR/contrib/ansible/site.yml" \
	-e portlock_hosts=all >"$PL_TMP/play" 2>&1 || pl_fail "the role failed: $(tail -30 "$PL_TMP/play")"
dpkg-query -W -f='${Status} ${Version}\n' portlock 2>/dev/null | grep -q "ok installed $ver" ||
	pl_fail "the role did not install portlock $ver"
pl_expect_grep 'Install the portlock package' "$PL_TMP/play"
find /tmp /var/cache/apt/archives -maxdepth 2 -name "portlock_${ver}_*.deb" -newer "$deb" | grep . &&
	pl_fail "the role left its copy of the package behind"
ip netns exec "$NS" nft list set inet portlock smtp_v4 >"$PL_TMP/set" 2>&1 || pl_fail "no table after the role"
pl_expect_grep '192\.0\.2\.0/24' "$PL_TMP/set"
purge
dpkg-query -W -f='${Status}' portlock 2>/dev/null | grep -q 'ok installed' && pl_fail "portlock left installed"
pl_done
