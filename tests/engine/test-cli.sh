#!/bin/bash
# The CLI's own behaviour: --help on every command, usage errors, the sign
# and encrypt shorthands, and the progress bar on a terminal (run under
# script(1), which gives the CLI a pseudo-terminal) for a large message.
#
# Usage: test-cli.sh CARDSEAL FAULT_MODULE FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") module=$(realpath "$2") fake=$(realpath "$3")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-cli-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

cleanup() {
	pkill -f "cardseald --socket $work/" 2>/dev/null
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$module
. "$here/lib-person.sh"
person alice
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null

# 1. --help everywhere: exit 0, a usage line on standard output, no engine needed.
for cmd in "" status protect sign encrypt read data pfx certs settings policy; do
	out=$("$cardseal" $cmd --help 2>&1 >/dev/null; echo "rc=$?")
	text=$("$cardseal" $cmd --help 2>/dev/null)
	check "cardseal ${cmd:-(no command)} --help: exit 0 with a usage text" \
		test "${out##*rc=}" = 0 -a -n "$(grep -m1 '^Usage: cardseal' <<<"$text")"
done

# 2. Usage errors exit 2 and point at --help.
"$cardseal" frobnicate > /dev/null 2> "$work/err"
check "an unknown command exits 2" test $? -eq 2
check "... and names it" grep -q "unknown command 'frobnicate'" "$work/err"
"$cardseal" read --no-such-option > /dev/null 2>&1
check "an unknown option exits 2" test $? -eq 2

# 3. sign and encrypt are protect --sign and protect --encrypt.
cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Shorthands
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello Bob.
MAIL
as alice -q sign "$work/msg.eml" "$work/signed.eml"
check "cardseal sign: exit 0" test $? -eq 0
check "... a multipart/signed message" grep -q 'multipart/signed' "$work/signed.eml"
check "... and not encrypted" test -z "$(grep -l 'pkcs7-mime' "$work/signed.eml")"
as alice -q encrypt "$work/msg.eml" "$work/enc.eml"
check "cardseal encrypt: exit 0" test $? -eq 0
check "... an encrypted message" grep -q 'smime-type=authEnveloped-data' "$work/enc.eml"
openssl pkcs12 -in "$CS_PKI/bob-rsa.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/bob-key.pem" 2>/dev/null
openssl cms -decrypt -in "$work/enc.eml" -inkey "$work/bob-key.pem" -out "$work/enc.out" 2>/dev/null
check "... that openssl cms decrypts with bob's key to a message without a signature" \
	test -s "$work/enc.out" -a -z "$(grep -l 'multipart/signed' "$work/enc.out")"

# --json: the engine's reply on standard output, the message in OUT.
as alice -q protect --sign --json "$work/msg.eml" "$work/signed2.eml" > "$work/p.json"
check "protect --json: the reply says it was signed, at the request" \
	test "$(/usr/bin/python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["applied"]; print(a["sign"], a["sign_because"])' "$work/p.json")" = "True request"
as alice -q read --json "$work/signed2.eml" "$work/read2.out" > "$work/r.json"
check "read --json: the report on standard output (verdict valid)" \
	test "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/r.json")" = valid
as alice -q read --json "$work/signed2.eml" > /dev/null 2>&1
check "read --json without an OUT file: usage (exit 2)" test $? -eq 2

# 4. The progress bar: on a terminal, for a 64 MiB message, with percentages.
{ sed '/^$/q' "$work/msg.eml"; head -c $((48 * 1024 * 1024)) /dev/zero | base64 -w 76; } \
	> "$work/big.eml"
script -qfec "env SOFTHSM2_CONF=$work/alice/softhsm2.conf XDG_CONFIG_HOME=$work/alice/config \
	XDG_RUNTIME_DIR=$work/alice/runtime XDG_DATA_HOME=$work/alice/data \
	$cardseal sign $work/big.eml $work/big.out" "$work/typescript" > /dev/null 2>&1
check "a large message on a terminal: exit 0" test $? -eq 0 -a -s "$work/big.out"
check "... shows a progress bar that reaches 100%" grep -q '\] 100% 6[0-9]/6[0-9] MiB' "$work/typescript"
as alice sign "$work/big.eml" "$work/big2.out" 2> "$work/big.err"
check "... and none when standard error is not a terminal" test -z "$(grep -l MiB "$work/big.err")"

echo "1..$n"
[ "$failed" -eq 0 ]
