#!/bin/bash
# A short option means one thing in every command (portlock(8) OPTIONS): the
# letters each `--help` lists map to one long option across the program and
# the global options, and a letter a command's --help does not list is
# refused by that command as an unknown option (so the help is the whole
# truth about the short letters).
. "$(dirname "$0")/../lib/lib.sh"

declare -A long_of where
letters_of() { # HELP-TEXT-FILE: "x long" per short option listed
	grep -oE '^ +-[a-zA-Z], --[a-z][a-z-]*' "$1" | sed -E 's/^ +-(.), --/\1 /'
}

pl_expect_rc 0 "$PORTLOCK" --help
cp "$PL_TMP/out" "$PL_TMP/global"
cmds=$(sed -n '/^Commands:/,/^$/{/^Commands:/d;p}' "$PL_TMP/global" | awk 'NF {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 15 ] || pl_fail "too few commands in --help: $cmds"

while read -r l name; do
	long_of[$l]=$name
	where[$l]=global
done < <(letters_of "$PL_TMP/global")
[ "${long_of[c]}" = config ] && [ "${long_of[j]}" = json ] && [ "${long_of[v]}" = verbose ] ||
	pl_fail "global short options are not -c/-j/-v: $(letters_of "$PL_TMP/global" | tr '\n' ' ')"

for c in $cmds; do
	pl_expect_rc 0 "$PORTLOCK" "$c" --help
	cp "$PL_TMP/out" "$PL_TMP/help.$c"
	while read -r l name; do
		if [ -n "${long_of[$l]:-}" ] && [ "${long_of[$l]}" != "$name" ]; then
			pl_fail "-$l is --$name in '$c' but --${long_of[$l]} in ${where[$l]}"
		fi
		long_of[$l]=$name
		where[$l]=${where[$l]:-$c}
	done < <(letters_of "$PL_TMP/out")
done
# a letter some command uses is unknown to every command whose --help does not
# list it (globals are accepted anywhere); -X stands for the letters nobody uses
for c in $cmds; do
	own=$(letters_of "$PL_TMP/help.$c" | cut -c1 | tr -d '\n')
	for l in "${!long_of[@]}" X; do
		case $own in *"$l"*) continue ;; esac
		[ "${where[$l]:-}" = global ] && continue
		pl_expect_rc 2 "$PORTLOCK" "$c" "-$l"
		pl_expect_grep "unknown option '-$l'" "$PL_TMP/err"
	done
done

# the table the man page states is the one the commands implement
for l in "${!long_of[@]}"; do
	echo "-$l --${long_of[$l]}"
done | sort >"$PL_TMP/got"
cat >"$PL_TMP/want" <<'EOF'
-C --check
-F --fingerprints
-H --host
-V --version
-a --all
-c --config
-e --exit-code
-f --force
-h --help
-j --json
-l --list
-n --dry-run
-o --output
-q --quiet
-r --report
-s --stats
-t --tcp
-u --udp
-v --verbose
EOF
diff -u "$PL_TMP/want" "$PL_TMP/got" || pl_fail "short options differ from the table in portlock(8)"
pl_done
