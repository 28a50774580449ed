#!/bin/bash
# man/fragments/ship.8.txt (the systemd, FILES and SEE ALSO text for
# portlock(8)) renders without warnings once wrapped in a page, and names
# every unit contrib/systemd installs.
. "$(dirname "$0")/../lib/lib.sh"
F=$PL_SOURCE_DIR/man/fragments/ship.8.txt
{
	printf '.TH PORTLOCK 8 "2026" "portlock" "System Administration"\n.SH NAME\nportlock \\- test\n'
	sed -n '/===== SYSTEMD INTEGRATION =====/,/===== FILES/p' "$F"
	printf '.SH FILES\n'
	sed -n '/===== FILES (add) =====/,/===== SEE ALSO/p' "$F"
	printf '.SH SEE ALSO\n'
	sed -n '/===== SEE ALSO (add) =====/,$p' "$F"
} >"$PL_TMP/page.8"
grep -q '^\.SH SYSTEMD INTEGRATION' "$PL_TMP/page.8" || pl_fail "no SYSTEMD INTEGRATION section in the fragment"
if ! groff -man -ww -z "$PL_TMP/page.8" >"$PL_TMP/groff" 2>&1 || [ -s "$PL_TMP/groff" ]; then
	pl_fail "groff -man -ww -z is not clean: $(head -20 "$PL_TMP/groff")"
fi
LC_ALL=C MANWIDTH=80 man --warnings=w -l "$PL_TMP/page.8" >"$PL_TMP/text" 2>"$PL_TMP/manerr"
grep -i warning "$PL_TMP/manerr" && pl_fail "man -l warns: $(head "$PL_TMP/manerr")"
for u in "$PL_SOURCE_DIR"/contrib/systemd/*.in; do
	u=$(basename "${u%.in}")
	grep -q "$u" "$PL_TMP/text" || pl_fail "the fragment does not name $u"
done
pl_expect_grep 'PartOf=nftables.service' "$PL_TMP/text"
pl_done
