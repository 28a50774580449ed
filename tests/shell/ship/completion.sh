#!/bin/bash
# contrib/bash-completion/portlock, sourced in bash (with and without the
# bash-completion package's helpers): commands, global and command options,
# option arguments, and transaction ids from "portlock log" for revert.
. "$(dirname "$0")/../lib/lib.sh"

COMP=$PL_SOURCE_DIR/contrib/bash-completion/portlock
BIN=$PL_TMP/bin
mkdir -p "$BIN"
ln -s "$PORTLOCK" "$BIN/portlock"

# complete LINE: print the candidates for the last word of LINE, sorted,
# one per line (a trailing space in LINE means: complete a new empty word)
cat >"$PL_TMP/complete.bash" <<'SH'
comp_helpers=$1 comp=$2 line=$3
if [ "$comp_helpers" = 1 ]; then
	. /usr/share/bash-completion/bash_completion || exit 99
fi
. "$comp" || exit 98
read -ra COMP_WORDS <<<"$line"
[[ $line == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
_portlock portlock "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort
SH

for helpers in 1 0; do
	complete() {
		PATH=$BIN:$PATH bash "$PL_TMP/complete.bash" "$helpers" "$COMP" "$1" >"$PL_TMP/got" 2>"$PL_TMP/err" ||
			pl_fail "completing '$1' (helpers=$helpers) failed: $(cat "$PL_TMP/err")"
		[ -s "$PL_TMP/err" ] && pl_fail "completing '$1' (helpers=$helpers) printed on stderr: $(cat "$PL_TMP/err")"
	}
	# expect_words LINE WORD...: exactly these candidates
	expect_words() {
		local line=$1
		shift
		complete "$line"
		printf '%s\n' "$@" | sort >"$PL_TMP/want"
		diff -u "$PL_TMP/want" "$PL_TMP/got" >"$PL_TMP/diff" ||
			pl_fail "'$line' (helpers=$helpers) completes to: $(tr '\n' ' ' <"$PL_TMP/got")"
	}
	# expect_has LINE WORD...: at least these candidates
	expect_has() {
		local line=$1 w
		shift
		complete "$line"
		for w in "$@"; do
			grep -qx -- "$w" "$PL_TMP/got" ||
				pl_fail "'$line' (helpers=$helpers) does not offer '$w': $(tr '\n' ' ' <"$PL_TMP/got")"
		done
	}

	# every command of --help, and nothing else
	cmds=$("$PORTLOCK" --help | sed -n '/^Commands:/,/^$/{/^Commands:/d;p}' | awk 'NF {print $1}')
	# shellcheck disable=SC2086
	expect_words 'portlock ' $cmds
	expect_words 'portlock pl' plan
	expect_words 'portlock -c /x.conf --state-dir /y ch' check
	expect_words 'portlock -q li' listeners
	expect_has 'portlock --' --config --state-dir --json --verbose --quiet --help --version
	# command options come from the command's --help
	expect_words 'portlock plan --' --check --exit-code --json --help
	expect_words 'portlock -c /x.conf plan --ex' --exit-code
	expect_has 'portlock listeners --' --all --tcp --udp --json
	# for every command: exactly the long options its --help lists
	for c in $cmds; do
		# shellcheck disable=SC2046
		expect_words "portlock $c --" $("$PORTLOCK" "$c" --help | grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' |
			grep -oE -- '--[a-z-]+$')
	done
	expect_has 'portlock log --' --json --last --verify --show --prior
	expect_words 'portlock log --last ' 5 10 20 50
	# after the command, -c is still the global --config (apply's --confirm
	# has no short letter): it completes files
	mkdir -p "$PL_TMP/c2.d" && touch "$PL_TMP/c2.d/x.conf"
	expect_words "portlock apply -c $PL_TMP/c2.d/" "$PL_TMP/c2.d/x.conf"
	expect_words "portlock plan -v --state-dir $PL_TMP/c2" "$PL_TMP/c2.d"
	expect_words 'portlock apply --confirm ' 60 120 300 600
	expect_words 'portlock -c /x.conf apply --confirm 3' 300
	expect_words 'portlock revert --confirm ' 60 120 300 600
	expect_words 'portlock revert --d' --dry-run
	expect_has 'portlock revert --' --dry-run --exit-code --confirm --force --json
	expect_words 'portlock --wait 3' 30
	expect_words 'portlock audit --fail-on ' info low medium high
	expect_words "portlock audit -F $PL_TMP/c2.d/" "$PL_TMP/c2.d/x.conf"
	expect_words 'portlock probe --expect smp' smpp smpp-tls
	# -c completes files, --state-dir directories
	mkdir -p "$PL_TMP/conf.d" && touch "$PL_TMP/conf.d/a.conf" "$PL_TMP/conf.d/b.conf"
	expect_words "portlock -c $PL_TMP/conf.d/" "$PL_TMP/conf.d/a.conf" "$PL_TMP/conf.d/b.conf"
	expect_words "portlock --state-dir $PL_TMP/con" "$PL_TMP/conf.d"
	expect_words "portlock probe --fingerprints $PL_TMP/conf.d/a" "$PL_TMP/conf.d/a.conf"
done

# transaction ids for revert, from the journal named by --state-dir. The
# records are written in the format src/journal.h documents (as
# tests/shell/journal/log_cli.sh does): ids 3, 7 and 12.
mkrec() {
	"$PL_PY" - "$1" "$2" <<'PY'
import hashlib, json, os, sys
jdir, rid = sys.argv[1], int(sys.argv[2])
os.makedirs(jdir, mode=0o700, exist_ok=True)
def blob(name, data):
    fn = "%010d.%s" % (rid, name)
    with open(os.path.join(jdir, fn), "wb") as f:
        f.write(data)
    return {"file": fn, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
now = 1795000000 + rid * 60
rec = {
    "format": 1, "id": rid, "kind": "apply", "reverts_id": None,
    "time": now, "state_time": now, "uid": 0, "user": "root", "argv": "portlock apply",
    "policy_sha256": hashlib.sha256(b"p%d" % rid).hexdigest(),
    "table": "portlock", "gen_before": rid, "gen_after": rid + 1, "state": "applied",
    "confirm_deadline": None, "added": 1, "removed": 0,
    "prior": {"absent": True, "nlmsg": None, "nft": None},
    "result": {"absent": False, "nlmsg": blob("result.nlmsg", b"\0" * 64),
               "nft": blob("result.nft", b"table inet portlock {\n}\n")},
}
with open(os.path.join(jdir, "%010d.json" % rid), "w") as f:
    json.dump(rec, f)
PY
}
for id in 3 7 12; do mkrec "$PL_TMP/state/journal" $id; done
pl_expect_rc 0 "$PORTLOCK" --state-dir "$PL_TMP/state" log
[ "$(grep -cE '^(3|7|12) ' "$PL_TMP/out")" -eq 3 ] || pl_fail "portlock log does not list 3, 7, 12: $(cat "$PL_TMP/out")"

for helpers in 1 0; do
	expect_words "portlock --state-dir $PL_TMP/state revert " 3 7 12
	expect_words "portlock --state-dir=$PL_TMP/state -q revert 1" 12
	# one id only
	expect_words "portlock --state-dir $PL_TMP/state revert 7 "
	expect_words "portlock --state-dir $PL_TMP/state log --show " 3 7 12
	# -c after the command is not the global -c: the ids still come from --state-dir
	expect_words "portlock --state-dir $PL_TMP/state --wait 5 revert " 3 7 12
	# options of revert are not ids
	expect_words "portlock --state-dir $PL_TMP/state revert --json " 3 7 12
	# nor are the seconds of --confirm
	expect_words "portlock --state-dir $PL_TMP/state revert --confirm 60 " 3 7 12
	expect_words "portlock --state-dir $PL_TMP/state revert --confirm 60 --force 7 "
	expect_words "portlock --state-dir $PL_TMP/state revert -c /x.conf --wait 5 " 3 7 12
	# the global --state-dir after the command names the journal too
	expect_words "portlock revert --state-dir $PL_TMP/state " 3 7 12
	# an empty or missing journal: nothing to offer, no error
	expect_words "portlock --state-dir $PL_TMP/nothing revert "
done

# the same with transactions made by apply, in a namespace of our own
pl_require_root
NS=plx$PL_TAG
pl_netns "$NS"
printf 'services = ( { name = "smtp"; ports = [2525]; allow = ["192.0.2.0/24"]; } );\n' >"$PL_TMP/p.conf"
printf 'services = ( { name = "smtp"; ports = [2525]; allow = ["198.51.100.0/24"]; } );\n' >"$PL_TMP/q.conf"
pl_expect_rc 0 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/p.conf" --state-dir "$PL_TMP/real" apply
pl_expect_rc 0 ip netns exec "$NS" "$PORTLOCK" -c "$PL_TMP/q.conf" --state-dir "$PL_TMP/real" apply
ids=$("$PORTLOCK" --state-dir "$PL_TMP/real" log --json | "$PL_PY" -c \
	'import json,sys; print(" ".join(str(r["id"]) for r in json.load(sys.stdin)["transactions"]))')
if [ -z "$ids" ]; then
	# apply does not write the journal yet (the lead's transaction work)
	pl_log "note: apply wrote no journal records; real-journal completion not exercised"
else
	for helpers in 1 0; do
		# shellcheck disable=SC2086
		expect_words "portlock --state-dir $PL_TMP/real revert " $ids
	done
fi
pl_done
