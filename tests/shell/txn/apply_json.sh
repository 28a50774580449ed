#!/bin/bash
# apply --json: one object with the same keys whether the batch changed the
# table or the table was in sync already (issue 16: in sync it had 3 keys);
# confirm and revert --json print one object each; text output unchanged.
. "$(dirname "$0")/../lib/lib.sh"
pl_require_root
NS=plt$PL_TAG
pl_netns "$NS"
cat >"$PL_TMP/a.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/24"]; } );
CONF
P() { ip netns exec "$NS" "$PORTLOCK" "$@"; }
keys() { "$PL_PY" -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$1"; }

pl_expect_rc 0 P -c "$PL_TMP/a.conf" --json apply
cp "$PL_TMP/out" "$PL_TMP/applied.json"
pl_expect_grep '"applied": true' "$PL_TMP/applied.json"
pl_expect_grep '"transaction": 1,' "$PL_TMP/applied.json"
pl_expect_rc 0 P -c "$PL_TMP/a.conf" --json apply
cp "$PL_TMP/out" "$PL_TMP/insync.json"
pl_expect_grep '"applied": false' "$PL_TMP/insync.json"
pl_expect_grep '"in_sync": true' "$PL_TMP/insync.json"
pl_expect_grep '"transaction": null' "$PL_TMP/insync.json"
[ "$(keys "$PL_TMP/applied.json")" = "$(keys "$PL_TMP/insync.json")" ] ||
	pl_fail "apply --json keys differ: applied: $(keys "$PL_TMP/applied.json"); in sync: $(keys "$PL_TMP/insync.json")"
[ "$(keys "$PL_TMP/insync.json" | wc -w)" -ge 15 ] || pl_fail "in sync: only $(keys "$PL_TMP/insync.json")"

pl_expect_rc 0 P -c "$PL_TMP/a.conf" apply
pl_expect_grep '^no changes: table inet portlock matches .*a.conf \(generation [0-9]+\)$' "$PL_TMP/out"

cat >"$PL_TMP/b.conf" <<'CONF'
services = ( { name = "smpp"; ports = [2775]; allow = ["192.0.2.0/25"]; } );
CONF
pl_expect_rc 0 P -c "$PL_TMP/b.conf" --json apply --confirm 600
pl_expect_grep '"confirm_deadline": [0-9]+' "$PL_TMP/out"
pl_expect_rc 0 P --json confirm
pl_expect_grep "\"confirmed\": 2" "$PL_TMP/out"
pl_expect_grep "\"schema\": \"portlock-confirm/1\"" "$PL_TMP/out"
pl_expect_rc 0 P --json revert --dry-run
pl_expect_grep '"dry_run": true' "$PL_TMP/out"
pl_expect_grep '"reverted": 2' "$PL_TMP/out"
pl_expect_rc 0 P --json revert
"$PL_PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); assert o["changed"] and o["transaction"] == 3 and o["reverted"] == 2, o' "$PL_TMP/out" ||
	pl_fail "revert --json: $(cat "$PL_TMP/out")"
pl_expect_rc 0 P revert --dry-run
pl_expect_grep '^revert of transaction 3 on table inet portlock' "$PL_TMP/out"
pl_done
