#!/bin/bash
# PFX import end to end: the real CLI, cardseald and keyd, SoftHSM behind the
# fault-injecting module, and the scripted pinentry answering the file's
# password and the token's PIN (one script line per dialog). A fresh token
# gets a fixture PKCS#12 file; the identity then shows in status and signs a
# message openssl cms accepts; the key's attributes are read back with
# pkcs11-tool. Then the refusals: several tokens and none named, an absent
# token, a wrong password three times, cancel at either dialog, a duplicate,
# a full token, an RSA-1024 key, a SHA-1-signed certificate; and a
# Windows-style RC2-40 file that must work.
#
# Usage: test-pfx.sh CARDSEAL FAULT_MODULE FAKE_PINENTRY FAULTCTL
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") module=$(realpath "$2") fake=$(realpath "$3") faultctl=$(realpath "$4")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-pfx-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

cleanup() {
	local p
	# Only the engine of this test's own socket.
	for p in $(pgrep -f "cardseald --socket $work/"); do kill "$p" 2>/dev/null; done
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$module
. "$here/lib-person.sh"

# Dave has no fixture card: two empty tokens, initialised here.
person dave none
export SOFTHSM2_CONF=$work/dave/softhsm2.conf
for t in pfx-card spare-card; do
	softhsm2-util --init-token --free --label "$t" --pin "$CS_USER_PIN" \
		--so-pin "$CS_SO_PIN" >/dev/null || { echo "Bail out! init $t"; exit 1; }
done
# Every operation asks its PIN (no login kept), so each import shows both dialogs.
printf 'cache-ttl = 0\n' >> "$work/dave/config/cardseal/cardseald.conf"
log=$work/dave/pinentry.log

# answers LINE...: the fake pinentry's next dialogs, one action a line; the log restarts.
answers() {
	printf '%s\n' "$@" > "$work/dave/script"
	rm -f "$work/dave/script.state" "$log"
	printf 'FAKE_PINENTRY_SCRIPT=%s\nFAKE_PINENTRY_LOG=%s\n' "$work/dave/script" "$log" \
		> "$work/dave/pinentry.env"
}
dialogs() { cat "$log" 2>/dev/null | grep -c ' DIALOG GETPIN'; }
# objects: how many objects pfx-card holds (logged in, so private keys count too).
objects() {
	pkcs11-tool --module "$CS_SOFTHSM_MODULE" --token-label pfx-card --login \
		--pin "$CS_USER_PIN" --list-objects 2>/dev/null | grep -c '^[A-Z][a-z]* Key Object\|^Certificate Object'
}
import() { as dave pfx import "$@" > "$work/out" 2> "$work/err"; }
json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
P=$CS_P12_PASSWORD

# 0. Usage.
as dave pfx --help > "$work/help" 2>&1
check "pfx --help: exit 0 and names --token and --label" \
	grep -q -- '--token URI' "$work/help"
as dave pfx import 2>/dev/null
check "pfx import without a file: usage (exit 2)" test $? -eq 2

# 1. Two writable tokens and none named: refused, naming both; no dialog.
answers "pin:$P" "pin:$CS_USER_PIN"
import "$CS_PKI/alice-sign-rsa.p12"
check "two writable tokens, no --token: exit 1" test $? -eq 1
check "the error names both tokens" grep -q '2 writable tokens ("pfx-card", "spare-card")\|2 writable tokens ("spare-card", "pfx-card")' "$work/err"
check "and no dialog was shown" test "$(dialogs)" = 0

# 2. A token that is not there: insert it.
import --token 'pkcs11:token=nope' "$CS_PKI/alice-sign-rsa.p12"
check "an absent token: exit 6 (no token)" test $? -eq 6
check "the error says to insert it" grep -q 'insert the token "nope"' "$work/err"

# 3. With spare-card pulled out, the only writable token is chosen.
"$faultctl" "$work/dave/control" hide spare-card
before=$(objects)
answers "pin:$P" "pin:$CS_USER_PIN"
import --json "$CS_PKI/alice-sign-rsa.p12"
check "alice-sign-rsa.p12 imported onto the only writable token: exit 0" test $? -eq 0
cp "$work/out" "$work/first.json"
check "the reply names the token, a key URI on it, the subject and a chain of 2" \
	test "$(json_field "$work/first.json" 'd["token"]+" "+str("token=pfx-card" in d["key_uri"])+" "+str("alice@example.org" in d["subject"])+" "+str(d["chain"])+" "+str(d["chain_written"])')" = "pfx-card True True 2 2"
check "password dialog, then the PIN dialog" test "$(dialogs)" = 2
check "the first dialog asked the file's password, naming file and token" \
	grep -q 'CMD SETDESC Password of the certificate file "alice-sign-rsa.p12" to import onto token "pfx-card"' "$log"
check "with its own prompt" grep -q 'CMD SETPROMPT Password:' "$log"
check "the CLI said it waited for the password, then the PIN" \
	test "$(grep -c 'waiting for the password of "alice-sign-rsa.p12"\|waiting for the PIN of "pfx-card"' "$work/err")" = 2
check "key, public key, certificate and 2 CA certificates written" test "$(objects)" = $((before + 5))

pkcs11-tool --module "$CS_SOFTHSM_MODULE" --token-label pfx-card --login --pin "$CS_USER_PIN" \
	--list-objects --type privkey > "$work/privkey" 2>/dev/null
check "the private key is sensitive" grep -q 'Access:.*sensitive' "$work/privkey"
# pkcs11-tool prints CKA_SENSITIVE and CKA_EXTRACTABLE as words on this line.
check "and not extractable" \
	sh -c "grep 'Access:' '$work/privkey' | sed 's/never extractable//' | grep -vq extractable"
# 4. The identity shows in status and signs; openssl cms accepts the signature.
as dave status --json > "$work/status.json"
check "status lists the imported identity on pfx-card" \
	test "$(json_field "$work/status.json" 'sum(1 for i in d["identities"] if "token=pfx-card" in i["key_uri"])')" -ge 1
cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Signed with an imported key
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

The key came from a PFX file.
MAIL
answers "pin:$CS_USER_PIN"
as dave -q protect --sign "$work/msg.eml" "$work/signed.eml"
check "the imported key signs a message" test $? -eq 0 -a -s "$work/signed.eml"
check "openssl cms -verify accepts it" \
	openssl cms -verify -in "$work/signed.eml" -CAfile "$CS_ANCHORS" -out /dev/null 2>/dev/null

# 5. Wrong password three times: a clear error, a retry line, nothing written, no PIN asked.
before=$(objects)
answers "pin:wrong1" "pin:wrong2" "pin:wrong3" "pin:$CS_USER_PIN"
import "$CS_PKI/alice-enc-rsa.p12"
check "wrong password x3: exit 1" test $? -eq 1
check "the error says: wrong password" grep -q 'wrong password' "$work/err"
check "three password dialogs and no PIN dialog" test "$(dialogs)" = 3
check "the retries said the last one was wrong, with the tries left" \
	test "$(grep -c 'CMD SETERROR Wrong password. 2 tries left.\|CMD SETERROR Wrong password. 1 try left.' "$log")" = 2
check "nothing written" test "$(objects)" = "$before"

# 6. A wrong password, then the right one: imported (alice's encryption key).
answers "pin:wrong" "pin:$P" "pin:$CS_USER_PIN"
import --label alice-enc "$CS_PKI/alice-enc-rsa.p12"
check "wrong, then right password: imported" test $? -eq 0
check "the CLI says where it went, in words" \
	grep -q '^imported onto token "pfx-card": .*alice@example.org' "$work/out"
check "the CA certificates were not written twice" \
	test "$(objects)" = $((before + 3))

# 6b. A file without a MAC: a wrong password shows only as a failed decryption.
openssl pkcs12 -export -nomac -inkey "$CS_PKI/neg-noeku.key.pem" -in "$CS_PKI/neg-noeku.cert.pem" \
	-passout "pass:$P" -out "$work/nomac.p12" 2>/dev/null
answers "pin:wrong" "pin:$P" "pin:$CS_USER_PIN"
import --label nomac "$work/nomac.p12"
check "no MAC: wrong, then right password: imported" \
	test $? -eq 0 -a "$(dialogs)" = 3 -a "$(grep -c 'SETERROR Wrong password' "$log")" = 1

# 7. Cancel at the password, and at the PIN.
before=$(objects)
answers cancel
import "$CS_PKI/bob-rsa.p12"
check "cancel at the password: exit 5" test $? -eq 5
answers "pin:$P" cancel
import "$CS_PKI/bob-rsa.p12"
check "cancel at the PIN: exit 5" test $? -eq 5
check "nothing written" test "$(objects)" = "$before"

# 7b. The client goes away while the password dialog is open: the dialog closes.
answers hang
# The CLI itself in the background (exec), so that its pid is the one killed.
(SOFTHSM2_CONF=$work/dave/softhsm2.conf XDG_CONFIG_HOME=$work/dave/config \
	XDG_RUNTIME_DIR=$work/dave/runtime XDG_DATA_HOME=$work/dave/data \
	FAULTP11_CONTROL=$work/dave/control exec "$cardseal" pfx import "$CS_PKI/bob-rsa.p12" \
	> /dev/null 2>&1) &
client=$!
for _ in $(seq 100); do grep -q 'DIALOG GETPIN' "$log" 2>/dev/null && break; sleep 0.1; done
kill "$client"
wait "$client" 2>/dev/null
for _ in $(seq 100); do grep -q 'END term' "$log" 2>/dev/null && break; sleep 0.1; done
check "a client that disconnects closes the open password dialog" grep -q 'END term' "$log"
check "nothing written" test "$(objects)" = "$before"

# 8. The same file again: refused, naming the object already there.
answers "pin:$P" "pin:$CS_USER_PIN"
import "$CS_PKI/alice-sign-rsa.p12"
check "duplicate: exit 1" test $? -eq 1
check "the error names the object already on the token" \
	grep -q 'already on the token: .* "alice@example.org" (id ' "$work/err"
check "nothing written" test "$(objects)" = "$before"

# 9. A full token: C_CreateObject answers CKR_DEVICE_MEMORY.
"$faultctl" "$work/dave/control" fail C_CreateObject CKR_DEVICE_MEMORY always token=pfx-card
answers "pin:$P" "pin:$CS_USER_PIN"
import "$CS_PKI/bob-rsa.p12"
check "full token: exit 1" test $? -eq 1
check "the error says the token is full" grep -q 'the token is full' "$work/err"
"$faultctl" "$work/dave/control" unfail C_CreateObject
check "nothing written" test "$(objects)" = "$before"

# 10. Too weak for policy: an RSA-1024 key, a SHA-1-signed certificate. No PIN asked.
answers "pin:$P" "pin:$CS_USER_PIN"
import "$CS_PKI/neg-rsa1024.p12"
check "RSA-1024: exit 1" test $? -eq 1
check "the error: too weak for policy (RSA 1024 < 2048)" \
	grep -q 'the key is too weak for policy (RSA 1024 < 2048)' "$work/err"
check "only the password was asked" test "$(dialogs)" = 1
openssl req -x509 -newkey rsa:2048 -sha1 -nodes -keyout "$work/sha1.key" -out "$work/sha1.pem" \
	-subj '/CN=Sha One/emailAddress=sha1@example.org' -days 30 \
	-addext keyUsage=critical,digitalSignature 2>/dev/null
openssl pkcs12 -export -inkey "$work/sha1.key" -in "$work/sha1.pem" -passout "pass:$P" \
	-out "$work/sha1.p12" 2>/dev/null
answers "pin:$P" "pin:$CS_USER_PIN"
import "$work/sha1.p12"
check "a SHA-1-signed certificate: exit 1, too weak for policy (SHA1)" \
	test $? -eq 1 -a "$(grep -c "signature is too weak for policy (SHA1)" "$work/err")" = 1
check "nothing written" test "$(objects)" = "$before"

# 11. A Windows-style file: certificates under RC2-40, the key under 3DES, SHA-1 MAC.
openssl pkcs12 -export -legacy -certpbe PBE-SHA1-RC2-40 -keypbe PBE-SHA1-3DES \
	-inkey "$CS_PKI/bob-rsa.key.pem" -in "$CS_PKI/bob-rsa.cert.pem" \
	-certfile "$CS_PKI/chain.pem" -passout "pass:$P" -out "$work/windows.pfx" 2>/dev/null
openssl pkcs12 -info -noout -legacy -in "$work/windows.pfx" -passin "pass:$P" > "$work/info" 2>&1
check "the file really is RC2-40" grep -q 'pbeWithSHA1And40BitRC2-CBC' "$work/info"
answers "pin:$P" "pin:$CS_USER_PIN"
import --json "$work/windows.pfx"
check "the RC2-40 file imports: exit 0" test $? -eq 0
check "its chain was on the token already: 2 in the file, none written" \
	test "$(json_field "$work/out" 'str(d["chain"])+" "+str(d["chain_written"])')" = "2 0"
check "key, public key and certificate written" test "$(objects)" = $((before + 3))

# 12. A file without a password needs no password dialog: only the PIN's.
openssl pkcs12 -export -inkey "$CS_PKI/bob-ec.key.pem" -in "$CS_PKI/bob-ec.cert.pem" \
	-passout pass: -out "$work/nopass.p12" 2>/dev/null
answers "pin:$CS_USER_PIN"
import "$work/nopass.p12"
check "a file without a password: imported (exit 0)" test $? -eq 0
check "with the PIN dialog only" \
	test "$(dialogs) $(grep -c 'SETDESC Password' "$log")" = "1 0"

# 13. Not a PKCS#12 file, and a file too large: refused before any dialog.
head -c 3000 /dev/urandom > "$work/garbage.p12"
answers "pin:$P"
import "$work/garbage.p12"
check "not a PKCS#12 file: exit 1, said so, no dialog" \
	test $? -eq 1 -a "$(grep -c 'not a usable PKCS#12 file' "$work/err") $(dialogs)" = "1 0"
head -c 70000 /dev/urandom > "$work/large.p12"
import "$work/large.p12"
check "a 70 KB file: exit 1, too large, no dialog" \
	test $? -eq 1 -a "$(grep -c 'over 60 KiB' "$work/err") $(dialogs)" = "1 0"

# 14. A corpus file (PKITS, 3DES, password "password") when the corpora are there.
pkits=${CS_CORPORA:-/nonexistent}/pkits-smime-pyca-vectors/PKITS_data/pkcs12/ValidRFC822nameConstraintsTest23EE.p12
if [ -r "$pkits" ]; then
	answers "pin:password" "pin:$CS_USER_PIN"
	import --label pkits "$pkits"
	check "the PKITS corpus file imports (exit 0)" test $? -eq 0
else
	ok "the PKITS corpus file imports # SKIP not present: $pkits"
fi

# 15. No writable token at all.
"$faultctl" "$work/dave/control" hide pfx-card
"$faultctl" "$work/dave/control" hide spare-card
answers "pin:$P"
import "$CS_PKI/bob-ec.p12"
check "no writable token: exit 6" test $? -eq 6
check "the error says to insert one" grep -q 'no writable token: insert one' "$work/err"

echo "1..$n"
[ "$failed" -eq 0 ]
