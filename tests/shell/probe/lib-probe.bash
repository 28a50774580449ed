# shellcheck shell=bash
# Helpers shared by the probe tests (sourced; not a test itself: no .sh suffix).
# Servers run in $SRV (192.0.2.1, 2001:db8:1::1), portlock runs in $CLI.
. "$(dirname "$0")/../lib/lib.sh"

PEERS=$PL_SOURCE_DIR/tests/peers
export PL_NODE_MODULES=${PL_NODE_MODULES:-$PEERS/node_modules-root/node_modules}

# pl_need_smpp: the npm smpp package must be installed (tests/deps/probe.npm).
pl_need_smpp() {
	[ -d "$PL_NODE_MODULES/smpp" ] ||
		pl_die "npm package smpp missing: npm install --prefix $PEERS/node_modules-root smpp"
}

# pl_fake NS MODE ADDR PORT: start tests/peers/fake_peer.py in NS.
pl_fake() {
	pl_bg "$1" "$PL_PY" "$PEERS/fake_peer.py" "$2" "$3" "$4"
}

# pl_smsc NS ADDR PORT: start the npm smpp SMSC in NS.
pl_smsc() {
	pl_need_smpp
	pl_bg "$1" /usr/bin/node "$PEERS/smsc.js" "$2" "$3" smsc secret
}

# pl_cert NAME: a self-signed certificate and key in $PL_TMP/NAME.{crt,key}.
pl_cert() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$1" \
		-keyout "$PL_TMP/$1.key" -out "$PL_TMP/$1.crt" >/dev/null 2>&1 ||
		pl_die "openssl req failed"
}

# pl_probe_json OUT ARGS...: run 'portlock probe --json ARGS' in $CLI into OUT;
# sets PL_RC to its exit code.
pl_probe_json() {
	local out=$1
	shift
	ip netns exec "$CLI" "$PORTLOCK" probe --json "$@" >"$out" 2>"$out.err"
	PL_RC=$?
}

# pl_field FILE TARGET EXPR: print a field of TARGET's result (python expression
# over r, the result object), e.g. pl_field out 192.0.2.1:25 'r["service"]'.
pl_field() {
	"$PL_PY" - "$1" "$2" "$3" <<'PY'
import json, sys
f, t, e = sys.argv[1:]
for r in json.load(open(f))["results"]:
    if r["target"] == t:
        v = eval(e, {}, {"r": r})
        print("" if v is None else v)
        break
else:
    print("<no result for %s>" % t)
PY
}

# pl_expect_field FILE TARGET EXPR REGEX
pl_expect_field() {
	local v
	v=$(pl_field "$1" "$2" "$3" 2>&1)
	printf '%s' "$v" | grep -Eq -- "$4" ||
		pl_fail "$2: $3 = '$v', expected /$4/"
}

# pl_expect_service FILE TARGET SERVICE
pl_expect_service() {
	pl_expect_field "$1" "$2" 'r["service"]' "^$3\$"
}

# pl_in_hosts NS HOSTS CMD...: run CMD in NS, in a private mount namespace where the
# file HOSTS is /etc/hosts and /etc/resolv.conf names 127.0.0.1 as the only name
# server (nothing listens there: a name that HOSTS lacks fails at once and no query
# leaves the namespace).
pl_in_hosts() {
	local ns=$1 hosts=$2
	shift 2
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$PL_TMP/resolv.conf"
	ip netns exec "$ns" unshare -m --propagation private sh -c '
		mount --bind "$1" /etc/hosts || exit 97
		if [ -e /etc/resolv.conf ]; then mount --bind "$2" /etc/resolv.conf || exit 97; fi
		shift 2
		exec "$@"' sh "$hosts" "$PL_TMP/resolv.conf" "$@"
}

# pl_expect_schema FILE: FILE (probe --json) is valid against schema/portlock-probe.schema.json.
pl_expect_schema() {
	"$PL_PY" - "$1" "$PL_SOURCE_DIR/schema/portlock-probe.schema.json" <<'PY' ||
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))
PY
		pl_fail "$1 does not match the probe schema"
}
