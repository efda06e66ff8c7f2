#!/bin/bash
# The mail flows end to end through the CLI and real engines, one per person
# (each with only their own fixture card, behind the fault-injecting module):
# sign+encrypt, sign only (multipart and opaque), CBC, recipients without a
# certificate (error or dropped), Bcc copies, tampering, interop with
# openssl cms both ways, the insert-card flow, and a card pulled mid-read.
#
# Usage: test-mail-flow.sh CARDSEAL FAULT_MODULE FAKE_PINENTRY FAULTCTL
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") module=$(realpath "$2") fake=$(realpath "$3") faultctl=$(realpath "$4")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-flow-XXXXXX)
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
person_conf_extra="crl-dir = $CS_CRL_DIR"
. "$here/lib-person.sh"

body_of() { tr -d '\r' < "$1" | sed -n '/^$/,$p'; }
json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }

person alice
person bob
person carol
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null
as bob -q certs import "$CS_PKI/alice-sign-rsa.cert.pem" > /dev/null

cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Quarterly figures
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello Bob,
figures attached in spirit.
MAIL
printf 'openssl cms -decrypt -in "$1" -inkey "$2" -out "$3" 2>/dev/null\n' > "$work/decrypt.sh"
openssl pkcs12 -in "$CS_PKI/bob-rsa.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/bob-key.pem" 2>/dev/null

# 1. Sign and encrypt; Bob reads it; openssl cms agrees.
as alice -q protect --sign --encrypt "$work/msg.eml" "$work/se.eml"
check "alice signs and encrypts to bob (exit 0)" test $? -eq 0 -a -s "$work/se.eml"
check "AuthEnvelopedData (AES-256-GCM) by default" grep -q 'smime-type=authEnveloped-data' "$work/se.eml"
as bob -q read --report "$work/se.json" "$work/se.eml" "$work/se.out"
check "bob reads it: exit 0" test $? -eq 0
check "report verdict valid, signer alice" test "$(json_field "$work/se.json" 'd["verdict"]+" "+d["layers"][1]["signer"]["email"]')" = "valid alice@example.org"
check "report: encrypted layer first, AES-256-GCM with integrity" test "$(json_field "$work/se.json" 'd["layers"][0]["cipher"]+" "+str(d["layers"][0]["integrity_protected"])')" = "AES-256-GCM True"
check "plaintext body equals the original" diff <(body_of "$work/se.out") <(body_of "$work/msg.eml")
check "openssl cms decrypts it with bob's PKCS#12 key" openssl cms -decrypt -in "$work/se.eml" -inkey "$work/bob-key.pem" -out "$work/se.ossl"
check "and verifies alice's signature" openssl cms -verify -in "$work/se.ossl" -CAfile "$CS_ANCHORS" -out /dev/null

# 2. Sign only: multipart/signed and opaque.
as alice -q protect --sign "$work/msg.eml" "$work/s.eml"
check "sign only: multipart/signed" grep -q 'multipart/signed' "$work/s.eml"
check "openssl cms verifies the multipart/signed message" openssl cms -verify -in "$work/s.eml" -CAfile "$CS_ANCHORS" -out /dev/null
as bob -q read --report "$work/s.json" "$work/s.eml" "$work/s.out"
check "bob reads it as valid" test $? -eq 0 -a "$(json_field "$work/s.json" 'd["verdict"]')" = valid
as alice -q protect --sign --opaque "$work/msg.eml" "$work/o.eml"
check "opaque signing: signed-data" grep -q 'smime-type=signed-data' "$work/o.eml"
as bob -q read --report "$work/o.json" "$work/o.eml" "$work/o.out"
check "bob reads the opaque one as valid, body intact" test $? -eq 0 -a "$(json_field "$work/o.json" 'd["verdict"]+str(d["layers"][0]["opaque"])')" = validTrue

# 3. Tampering: change the signed text.
sed 's/figures attached/figures deleted/' "$work/s.eml" > "$work/t.eml"
as bob -q read --report "$work/t.json" "$work/t.eml" "$work/t.out"
check "a changed body: exit 3 and verdict invalid" test $? -eq 3 -a "$(json_field "$work/t.json" 'd["verdict"]')" = invalid

# 4. CBC for peers without GCM.
as alice -q protect --sign --encrypt --cbc "$work/msg.eml" "$work/cbc.eml"
check "--cbc: enveloped-data" grep -q 'smime-type=enveloped-data' "$work/cbc.eml"
as bob -q read --report "$work/cbc.json" "$work/cbc.eml" "$work/cbc.out"
check "bob reads CBC, reported without integrity protection" test $? -eq 0 -a "$(json_field "$work/cbc.json" 'str(d["layers"][0]["integrity_protected"])')" = False

# 5. A recipient without a certificate.
sed 's/^To: .*/To: Bob Example <bob@example.org>, Carol <carol@example.org>/' "$work/msg.eml" > "$work/tocarol.eml"
as alice protect --sign --encrypt "$work/tocarol.eml" "$work/m.eml" 2> "$work/m.err"
check "carol has no certificate: exit 4" test $? -eq 4
check "the error names carol" grep -q 'carol@example.org' "$work/m.err"
check "and nothing was written" test ! -e "$work/m.eml"
check "no temporary file left behind" test -z "$(ls "$work" | grep cardseal- || true)"
as alice -q protect --sign --encrypt --drop-missing "$work/tocarol.eml" "$work/d.eml"
check "--drop-missing: written" test $? -eq 0 -a -s "$work/d.eml"
check "carol left the To: header" bash -c "! grep -qi 'carol' '$work/d.eml'"
as bob -q read "$work/d.eml" "$work/d.out"
check "bob still reads it" test $? -eq 0

# 6. Bcc: each gets their own copy; nobody learns of the Bcc.
as alice -q certs import "$CS_PKI/carol-rsa.cert.pem" > /dev/null
sed 's/^To: .*/To: Bob Example <bob@example.org>\nBcc: carol@example.org/' "$work/msg.eml" > "$work/bcc.eml"
as alice -q protect --sign --encrypt "$work/bcc.eml" "$work/b.eml"
check "Bcc: the message and a copy (OUT, OUT.bcc1)" test $? -eq 0 -a -s "$work/b.eml" -a -s "$work/b.eml.bcc1"
headers_of() { tr -d '\r' < "$1" | sed '/^$/q'; }
check "no Bcc header in either" bash -c "! { $(declare -f headers_of); headers_of '$work/b.eml'; headers_of '$work/b.eml.bcc1'; } | grep -qi '^bcc:'"
as carol -q read "$work/b.eml" "$work/b.carol" 2>/dev/null
check "carol cannot read bob's copy (exit 6: no key)" test $? -eq 6
as carol -q read --report "$work/bc.json" "$work/b.eml.bcc1" "$work/bc.out"
check "carol reads her own copy" test $? -eq 0 -a "$(json_field "$work/bc.json" 'd["layers"][1]["verdict"]')" != ""
as bob -q read "$work/b.eml" "$work/b.bob"
check "bob reads his" test $? -eq 0

# 7. openssl cms writes to bob; the engine reads it.
openssl cms -encrypt -aes-256-gcm -in "$work/msg.eml" -out "$work/ossl.eml" "$CS_PKI/bob-rsa.cert.pem" 2>/dev/null
as bob -q read --report "$work/ossl.json" "$work/ossl.eml" "$work/ossl.out"
check "a message openssl cms encrypted (GCM) reads as unsigned with the right text" test $? -eq 0 -a "$(json_field "$work/ossl.json" 'd["verdict"]')" = unsigned
check "its text" diff <(body_of "$work/ossl.out") <(body_of "$work/msg.eml")

# 8. Insert the card: bob's card is out when the message arrives.
"$faultctl" "$work/bob/control" hide bob-card
as bob read "$work/se.eml" "$work/late.out" 2> "$work/late.err" &
reader=$!
for i in $(seq 1 100); do grep -q 'insert your smartcard' "$work/late.err" && break; sleep 0.1; done
check "card out: the reader is asked to insert bob-card" grep -q 'insert your smartcard "bob-card"' "$work/late.err"
"$faultctl" "$work/bob/control" show bob-card
wait $reader
check "card in: the read finishes (exit 0)" test $? -eq 0 -a -s "$work/late.out"

# 9. The card pulled in the middle of the decryption.
"$faultctl" "$work/bob/control" fail C_Decrypt CKR_DEVICE_REMOVED once token=bob-card
as bob -q read "$work/se.eml" "$work/pulled.out" 2>/dev/null
rc=$?
check "card pulled mid-read: a clean error (exit $rc)" test $rc -ne 0 -a $rc -ne 3
check "and no output file" test ! -e "$work/pulled.out"
"$faultctl" "$work/bob/control" clear
as bob -q read "$work/se.eml" "$work/again.out"
check "the next read works" test $? -eq 0 -a -s "$work/again.out"

# 10. A client that vanishes mid-stream leaves the engine healthy.
( yes "line of a long message" | head -c 50000000 | cat "$work/msg.eml" - | as alice -q protect --sign --encrypt - "$work/vanished.eml" ) &
victim=$!
sleep 1
pkill -P $victim 2>/dev/null; kill $victim 2>/dev/null; wait $victim 2>/dev/null
as alice -q status > /dev/null
check "after a client vanished mid-upload, the engine still answers" test $? -eq 0
as alice -q protect --sign "$work/msg.eml" /dev/null
check "writing to /dev/null leaves it a device (never renamed over)" test -c /dev/null

# 12. CMS (DER) for scripts: data sign, verify, encrypt, decrypt.
printf 'payload for a script\n' > "$work/data.txt"
as alice -q data sign "$work/data.txt" "$work/data.sig"
check "data sign: SignedData DER that openssl cms verifies" openssl cms -verify -inform DER -in "$work/data.sig" -CAfile "$CS_ANCHORS" -out "$work/data.sig.out"
check "with the content inside" cmp -s "$work/data.sig.out" "$work/data.txt"
as bob -q data verify --report "$work/dv.json" "$work/data.sig" "$work/dv.out"
check "data verify: valid (no From: to compare), content back" test $? -eq 0 -a "$(json_field "$work/dv.json" 'd["verdict"]')" = valid
check "the verified content" cmp -s "$work/dv.out" "$work/data.txt"
as alice -q data sign --detached "$work/data.txt" "$work/data.p7s"
check "data sign --detached: openssl cms verifies with the content beside it" openssl cms -verify -inform DER -in "$work/data.p7s" -content "$work/data.txt" -binary -CAfile "$CS_ANCHORS" -out /dev/null
as alice -q data encrypt --to bob@example.org "$work/data.txt" "$work/data.enc"
check "data encrypt: openssl cms decrypts it with bob's key" openssl cms -decrypt -inform DER -in "$work/data.enc" -inkey "$work/bob-key.pem" -out "$work/data.dec"
check "to the original" cmp -s "$work/data.dec" "$work/data.txt"
as bob -q data decrypt "$work/data.enc" "$work/data.bob"
check "data decrypt on bob's card: exit 0" test $? -eq 0
check "... gives the original, byte for byte" cmp -s "$work/data.bob" "$work/data.txt"
head -c 300 /dev/urandom > "$work/garbage.der"
as bob data decrypt "$work/garbage.der" "$work/garbage.out" 2> "$work/garbage.err"
check "data decrypt of garbage: the one decryption error, nothing written" test $? -eq 1 -a ! -e "$work/garbage.out"
check "... its message says so" grep -q 'decryption failed' "$work/garbage.err"
as alice data encrypt --to nobody@example.org "$work/data.txt" "$work/none.enc" 2> "$work/none.err"
check "data encrypt to an unknown address: exit 4, named" test $? -eq 4
check "... its message says so" grep -q nobody@example.org "$work/none.err"

# 13. Three clients find no engine at once: one engine starts, all three are served.
person dora carol
for i in 1 2 3; do as dora -q status > "$work/dora$i.out" & done
wait
check "three clients starting the engine at once all get their answer" test -s "$work/dora1.out" -a -s "$work/dora2.out" -a -s "$work/dora3.out"
check "and exactly one engine serves dora's socket" test "$(pgrep -fc "cardseald --socket $work/dora/")" -eq 1

# 11. One client's open PIN dialog holds up nobody else; when that client goes, so does its dialog.
person bob2 bob
printf 'FAKE_PINENTRY_ACTION=hang\n' > "$work/bob2/pinentry.env"
as bob2 -q read "$work/se.eml" "$work/hang.out" 2>/dev/null &
hung=$!
for i in $(seq 1 100); do pgrep -x pinentry >/dev/null && break; sleep 0.1; done
dialog=$(pgrep -n -x pinentry || true)
check "a PIN dialog is open for one client" test -n "$dialog"
start=$(date +%s%N)
as bob2 -q status > /dev/null
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
check "meanwhile another client's STATUS answers (exit $rc, ${ms} ms)" test $rc -eq 0 -a $ms -lt 5000
# The client is the cardseal process under the background job.
pkill -P $hung 2>/dev/null; kill $hung 2>/dev/null; wait $hung 2>/dev/null
gone=1
for i in $(seq 1 50); do [ -n "$dialog" ] && kill -0 "$dialog" 2>/dev/null || { gone=0; break; }; sleep 0.1; done
check "the client that went away took its PIN dialog with it" test $gone -eq 0

echo "1..$n"
[ $failed -eq 0 ]
