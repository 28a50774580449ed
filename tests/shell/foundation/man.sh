#!/bin/bash
# The man pages format cleanly (groff -man -ww -z prints nothing) and are
# complete: every command and global option of `portlock --help`, every
# config key config.c accepts and every exit code is documented, and the
# example policy in portlock.conf(5) is valid.
. "$(dirname "$0")/../lib/lib.sh"

MAN8=$PL_SOURCE_DIR/man/portlock.8
MAN5=$PL_SOURCE_DIR/man/portlock.conf.5

for page in "$MAN8" "$MAN5"; do
	if ! groff -man -ww -z "$page" >"$PL_TMP/groff" 2>&1 || [ -s "$PL_TMP/groff" ]; then
		pl_fail "groff -man -ww -z $(basename "$page") is not clean: $(head -20 "$PL_TMP/groff")"
	fi
	# also renders through man(1) without troff warnings (other noise, such as
	# locale complaints in minimal containers, is not the page's fault)
	LC_ALL=C MANWIDTH=80 man --warnings=w -l "$page" >/dev/null 2>"$PL_TMP/manerr"
	grep -i 'warning' "$PL_TMP/manerr" &&
		pl_fail "man -l $(basename "$page") warns: $(head -10 "$PL_TMP/manerr")"
done

# the sections STYLE.md asks for (PROBES arrives with the probe command)
for sec in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "NFTABLES OBJECTS" "ERROR REPORTING" \
	"EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO" AUTHORS; do
	grep -q "^\.SH \"\?$sec\"\?\$" "$MAN8" || pl_fail "portlock.8 lacks section $sec"
done
grep -q '^\.\\" COMMANDS-END$' "$MAN8" || pl_fail "portlock.8 lacks the COMMANDS-END marker"

# every command in the help's command list has a .B entry under COMMANDS
"$PORTLOCK" --help >"$PL_TMP/help"
cmds=$(sed -n '/^Commands:/,/^$/p' "$PL_TMP/help" | awk 'NF && !/^Commands:/ {print $1}')
[ -n "$cmds" ] || pl_fail "no commands found in portlock --help"
sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$MAN8" >"$PL_TMP/commands"
for c in $cmds; do
	grep -qE "^\.BR? $c( |\$)" "$PL_TMP/commands" || pl_fail "portlock.8 COMMANDS does not document '$c'"
done
# every global long option
for o in $(grep -oE '^  (-[a-zA-Z], )?--[a-z-]+' "$PL_TMP/help" | grep -oE -- '--[a-z-]+'); do
	esc=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
	grep -q -- "$esc" "$MAN8" || pl_fail "portlock.8 does not document option $o"
done
# every exit code of enum pl_exit
for code in $(grep -oE 'PL_EXIT_[A-Z]+ = [0-9]+' "$PL_SOURCE_DIR/src/diag.h" | awk '{print $3}'); do
	sed -n '/^\.SH EXIT STATUS/,/^\.SH /p' "$MAN8" | grep -q "^\.B $code\$" ||
		pl_fail "portlock.8 EXIT STATUS lacks code $code"
done

# every key config.c accepts is documented in portlock.conf.5
keys=$(sed -n '/_keys\[\] = {/,/};/p' "$PL_SOURCE_DIR/src/config.c" | grep -oE '"[a-z_]+"' | tr -d '"' | sort -u)
[ -n "$keys" ] || pl_fail "no keys found in src/config.c"
for k in $keys; do
	grep -qE "^\.(B|BR) $k( |\$)" "$MAN5" || pl_fail "portlock.conf.5 does not document key '$k'"
done

# the complete example in portlock.conf(5) is a valid policy
LC_ALL=C MANWIDTH=200 man -l "$MAN5" 2>/dev/null | col -b |
	sed -n '/^ *A complete policy:/,/^ *With /p' | sed '1d;$d' >"$PL_TMP/example.conf"
printf '192.0.2.25\n' >"$PL_TMP/relays.txt"
sed -i "s|/etc/portlock/relays.txt|$PL_TMP/relays.txt|" "$PL_TMP/example.conf"
grep -q 'services' "$PL_TMP/example.conf" || pl_fail "cannot extract the example from portlock.conf.5"
pl_expect_rc 0 "$PORTLOCK" -c "$PL_TMP/example.conf" check
pl_done
