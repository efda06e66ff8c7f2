#!/bin/bash
# Trust anchors: only the configured CA files by default; the system store
# (OpenSSL's default paths, here pointed at a file by SSL_CERT_FILE) only
# with [trust] system-anchors = yes. A verdict other than valid names its
# reason (untrusted root). The engine is started directly, so that it sees
# SSL_CERT_FILE (clients start engines with a clean environment).
#
# Usage: test-trust.sh CARDSEAL CARDSEALD FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") cardseald=$(realpath "$2") fake=$(realpath "$3")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-trust-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

export CARDSEALD=/bin/false     # never an engine this test did not start
pid=
stop_engine() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
cleanup() {
	stop_engine
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$CS_SOFTHSM_MODULE
. "$here/lib-person.sh"
json() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

person bob
conf=$work/bob/config/cardseal/cardseald.conf
sock=$work/bob/runtime/cardseal/socket
# start_engine ANCHORS SYSTEM: bob's engine with these [trust] lines, SSL_CERT_FILE = the fixture root.
start_engine() {
	stop_engine
	sed -i '/^anchors = /d; /^system-anchors = /d' "$conf"
	sed -i "s|^\[trust\]\$|[trust]\nanchors = $1\nsystem-anchors = $2|" "$conf"
	mkdir -p "$work/bob/runtime/cardseal" && chmod 700 "$work/bob/runtime/cardseal"
	SSL_CERT_FILE=$CS_ANCHORS SOFTHSM2_CONF=$work/bob/softhsm2.conf \
		XDG_RUNTIME_DIR=$work/bob/runtime XDG_DATA_HOME=$work/bob/data \
		"$cardseald" --foreground --config "$conf" --socket "$sock" 2>> "$work/engine.log" &
	pid=$!
	for i in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.1; done
	return 1
}

# A message alice signed with OpenSSL (her key from the fixtures), chain included.
cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Trust
Content-Type: text/plain

Whom do you trust?
MAIL
openssl cms -sign -in "$work/msg.eml" -signer "$CS_PKI/alice-sign-rsa.cert.pem" \
	-inkey "$CS_PKI/alice-sign-rsa.key.pem" -certfile "$CS_PKI/inter-ca.cert.pem" \
	-out "$work/signed.eml" 2>/dev/null
{ grep -E '^(From|To|Subject):' "$work/msg.eml"; cat "$work/signed.eml"; } > "$work/mail.eml"

start_engine "" no
check "no anchors, no system store: the engine starts" test -S "$sock"
as bob -q read --report "$work/r1.json" "$work/mail.eml" "$work/r1.out"
check "read: exit 3 (not valid)" test $? -eq 3
check "verdict untrusted, with the reason untrusted-root" \
	test "$(json "$work/r1.json" 'd["verdict"] + " " + str("untrusted-root" in d["layers"][0]["reasons"])')" = "untrusted True"

start_engine "" yes
as bob -q read --report "$work/r2.json" "$work/mail.eml" "$work/r2.out"
check "system-anchors = yes (the system store holds the fixture root): valid" \
	test $? -eq 0 -a "$(json "$work/r2.json" 'd["verdict"]')" = valid

start_engine "$CS_ANCHORS" no
as bob -q read --report "$work/r3.json" "$work/mail.eml" "$work/r3.out"
check "the configured anchor file alone: valid" \
	test $? -eq 0 -a "$(json "$work/r3.json" 'd["verdict"]')" = valid

echo "1..$n"
[ "$failed" -eq 0 ]
