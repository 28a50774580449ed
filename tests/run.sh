#!/bin/bash
# Install what the tests need, build, and run every test through CTest:
# unit tests (cmocka, ASan+UBSan), namespace integration tests (as root),
# fuzz targets (clang + libFuzzer, PORTLOCK_FUZZ_SECONDS each) and a valgrind
# pass over the unit tests and the CLI. The last line is CTest's summary.
#
#   sudo ./tests/run.sh
#
# Environment: PORTLOCK_FUZZ_SECONDS (default 20), PORTLOCK_FUZZ_SEED
# (default 1: every run mutates in the same order, so a failure reproduces;
# 0: a new random seed each run), PL_JOBS (build jobs,
# default 2), PL_SKIP_DEPS=1 (do not touch packages), PL_CTEST_ARGS (extra
# ctest arguments, e.g. "-R foundation").
# Builds: build-test/ (gcc, sanitizers, runs CTest), build-fuzz/ (clang,
# libFuzzer), build-valgrind/ (gcc, no sanitizers; run under valgrind).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
JOBS=${PL_JOBS:-2}
FUZZ_SECONDS=${PORTLOCK_FUZZ_SECONDS:-20}
FUZZ_SEED=${PORTLOCK_FUZZ_SEED:-1}
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
	echo "tests/run.sh: the namespace tests need root: sudo ./tests/run.sh" >&2
	exit 2
fi

# --- packages: tests/deps/*.txt (build.txt holds the build deps) -----------
install_deps() {
	local pkgs=() missing=() p npm_files=()
	mapfile -t pkgs < <(cat tests/deps/*.txt | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
	npm_files=(tests/deps/*.npm)
	# Debian's npm conflicts with a nodejs that bundles its own npm (nodesource)
	[ -e "${npm_files[0]}" ] && ! command -v npm >/dev/null && pkgs+=(npm)
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	if [ "${#missing[@]}" -gt 0 ]; then
		step "installing ${missing[*]}"
		apt-get -o DPkg::Lock::Timeout=300 update -q
		# servers the tests run themselves, in namespaces (postfix, sshd):
		# installing them must not start them on this host (policy-rc.d, as
		# in container images; only when the host has none of its own)
		local prc=/usr/sbin/policy-rc.d ours=0
		if [ ! -e "$prc" ]; then
			printf '#!/bin/sh\nexit 101\n' >"$prc" && chmod 755 "$prc" && ours=1
		fi
		local irc=0
		apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" || irc=$?
		if [ "$ours" = 1 ]; then rm -f "$prc"; fi
		[ "$irc" -eq 0 ] || return "$irc"
	else
		step "packages: all ${#pkgs[@]} from tests/deps/*.txt installed"
	fi
	if [ -e "${npm_files[0]}" ]; then
		local mods=()
		mapfile -t mods < <(cat "${npm_files[@]}" | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u)
		if [ "${#mods[@]}" -gt 0 ]; then
			step "npm peers: ${mods[*]}"
			mkdir -p tests/peers/node_modules-root
			npm install --no-audit --no-fund --loglevel=error \
				--prefix tests/peers/node_modules-root "${mods[@]}"
		fi
	fi
}
[ "${PL_SKIP_DEPS:-0}" = 1 ] || install_deps

# --- builds ---------------------------------------------------------------
step "build-valgrind: gcc, no sanitizers"
cmake -S . -B build-valgrind -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPORTLOCK_WERROR=ON -DPORTLOCK_BUILD_TESTS=ON -DPORTLOCK_TEST_HOOKS=ON >/dev/null
make -s -C build-valgrind -j"$JOBS"

step "build-fuzz: clang, libFuzzer + ASan/UBSan"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DPORTLOCK_FUZZ=ON -DPORTLOCK_WERROR=ON -DPORTLOCK_BUILD_TESTS=ON -DPORTLOCK_TEST_HOOKS=ON \
	-DPORTLOCK_FUZZ_SECONDS="$FUZZ_SECONDS" -DPORTLOCK_FUZZ_SEED="$FUZZ_SEED" >/dev/null
make -s -C build-fuzz -j"$JOBS"

step "build-test: gcc, ASan/UBSan, -Werror"
cmake -S . -B build-test -DPORTLOCK_SANITIZE=ON -DPORTLOCK_WERROR=ON -DPORTLOCK_BUILD_TESTS=ON -DPORTLOCK_TEST_HOOKS=ON \
	-DPORTLOCK_FUZZ_SECONDS="$FUZZ_SECONDS" -DPORTLOCK_FUZZ_SEED="$FUZZ_SEED" \
	-DPORTLOCK_FUZZ_BUILD_DIR="$ROOT/build-fuzz" \
	-DPORTLOCK_VALGRIND_BUILD_DIR="$ROOT/build-valgrind" >/dev/null
make -s -C build-test -j"$JOBS"

# --- tests ----------------------------------------------------------------
step "ctest: unit + netns + fuzz + memcheck"
log=$ROOT/build-test/ctest-run.log
rc=0
# shellcheck disable=SC2086
(cd build-test && ctest --output-on-failure --timeout 900 ${PL_CTEST_ARGS:-}) 2>&1 | tee "$log" ||
	rc=$?
summary=$(grep -E '^[0-9]+% tests passed' "$log" | tail -1 || true)
if [ -z "$summary" ]; then
	echo "tests/run.sh: ctest printed no summary (exit $rc)" >&2
	exit $((rc ? rc : 1))
fi
echo
echo "$summary"
exit "$rc"
