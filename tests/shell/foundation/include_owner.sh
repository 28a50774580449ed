#!/bin/bash
# src/README.md stays true: each library is included only by the files its
# "include-owner" table names (libmnl, netlink sockets, libnftnl, libconfig,
# OpenSSL, libxml2), and every src/*.c is named on that page. The table is
# read from the README itself, so the two cannot drift apart.
. "$(dirname "$0")/../lib/lib.sh"

README=$PL_SOURCE_DIR/src/README.md
[ -r "$README" ] || pl_die "no $README"
"$PL_PY" - "$README" "$PL_SOURCE_DIR/src" >"$PL_TMP/out" 2>&1 <<'PY'
import fnmatch, glob, os, re, sys
readme, src = sys.argv[1], sys.argv[2]
text = open(readme, encoding="utf-8").read()
m = re.search(r"<!-- include-owner: begin -->\n(.*?)<!-- include-owner: end -->", text, re.S)
if not m:
    sys.exit("src/README.md: no include-owner table")
rows = []
for line in m.group(1).splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) != 3 or cells[0] in ("Library", "") or set(cells[0]) <= set("-"):
        continue
    match = re.findall(r"`([^`]+)`", cells[1])
    owners = re.findall(r"`([^`]+)`", cells[2])
    if len(match) != 1 or not owners:
        sys.exit("src/README.md: bad include-owner row: " + line)
    rows.append((cells[0], match[0], owners))
want = {"libmnl", "netlink sockets", "libnftnl", "libconfig", "OpenSSL", "libxml2"}
missing = want - {r[0] for r in rows}
if missing:
    sys.exit("src/README.md: include-owner table lacks " + ", ".join(sorted(missing)))
bad = 0
files = sorted(glob.glob(os.path.join(src, "*.[ch]")))
for lib, needle, owners in rows:
    for path in files:
        name = os.path.basename(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            hits = [i + 1 for i, l in enumerate(f) if needle in l and not l.lstrip().startswith(("*", "/*", "//"))]
        if hits and not any(fnmatch.fnmatchcase(name, o) for o in owners):
            print(f"src/{name}:{hits[0]}: uses {lib} ({needle!r}) but src/README.md gives it to {', '.join(owners)}")
            bad += 1
named = set(re.findall(r"`([A-Za-z0-9_*]+\.c)`", text))	# names, and globs of planned files
for path in files:
    name = os.path.basename(path)
    if name.endswith(".c") and not any(fnmatch.fnmatchcase(name, n) for n in named):
        print(f"src/{name}: not named in src/README.md (add it to the module table)")
        bad += 1
print(f"{len(rows)} libraries, {len(files)} files checked")
sys.exit(1 if bad else 0)
PY
rc=$?
cat "$PL_TMP/out"
[ "$rc" -eq 0 ] || pl_fail "include ownership differs from src/README.md"

# the check itself: a stray include is caught
mkdir -p "$PL_TMP/src"
cp "$PL_SOURCE_DIR"/src/*.[ch] "$PL_TMP/src/"
printf '#include <libnftnl/table.h>\n' >>"$PL_TMP/src/cidr.c"
cp "$README" "$PL_TMP/README.md"
sed -n '/^"\$PL_PY" - /,/^PY$/p' "$0" | sed '1d;$d' >"$PL_TMP/check.py"
"$PL_PY" "$PL_TMP/check.py" "$PL_TMP/README.md" "$PL_TMP/src" >"$PL_TMP/out2" 2>&1 &&
	pl_fail "a libnftnl include in cidr.c passed"
pl_expect_grep '^src/cidr.c:[0-9]+: uses libnftnl' "$PL_TMP/out2"
pl_done
