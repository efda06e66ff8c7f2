#!/bin/bash
# The README's walk-through, step by step, as a new user does it: Alice's
# card is empty; she imports her PFX files onto it, sees her certificate
# chosen automatically, switches to a manual choice, turns on always-sign,
# reads a signed message from Bob (harvesting off, so nothing is kept
# unasked), installs Bob's certificate from it, and sends him an encrypted
# reply that openssl cms decrypts with Bob's key and Bob's own engine reads
# as valid. Each step uses only commands the README shows.
#
# Usage: test-walkthrough.sh CARDSEAL FAULT_MODULE FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") module=$(realpath "$2") fake=$(realpath "$3")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-walk-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

cleanup() {
	local p
	for p in $(pgrep -f "cardseald --socket $work/"); do kill "$p" 2>/dev/null; done
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$module
. "$here/lib-person.sh"
json() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
fp() { openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr A-F a-f; }

# Alice starts with a blank card (initialised by her administrator); Bob has his.
person alice none
person bob
SOFTHSM2_CONF=$work/alice/softhsm2.conf softhsm2-util --init-token --free --label alice-card \
	--pin "$CS_USER_PIN" --so-pin "$CS_SO_PIN" > /dev/null || { echo "Bail out! init"; exit 1; }
# The scripted pinentry answers the PFX password, then the PIN, for each import.
script_answers() {
	printf '%s\n' "$@" > "$work/alice/script"
	rm -f "$work/alice/script.state"
	printf 'FAKE_PINENTRY_SCRIPT=%s\n' "$work/alice/script" > "$work/alice/pinentry.env"
}
pin_answers() { printf 'FAKE_PINENTRY_ACTION=pin:%s\n' "$CS_USER_PIN" > "$work/alice/pinentry.env"; }
A=alice@example.org

# Step 1: import the PFX files onto the card.
for f in alice-sign-rsa alice-enc-rsa alice-sign-ec; do
	script_answers "pin:$CS_P12_PASSWORD" "pin:$CS_USER_PIN"
	as alice pfx import --json "$CS_PKI/$f.p12" > "$work/$f.json" 2> "$work/$f.err"
	check "step 1: cardseal pfx import $f.p12 (exit 0)" test $? -eq 0
done
pin_answers
check "step 1: the keys are on alice-card" \
	test "$(json "$work/alice-sign-ec.json" 'd["token"]')" = alice-card
ec_uri=$(json "$work/alice-sign-ec.json" 'd["key_uri"]')
rsa_uri=$(json "$work/alice-sign-rsa.json" 'd["key_uri"]')
as alice status --json > "$work/status.json"
check "step 1: cardseal status lists the three identities on alice-card" \
	test "$(json "$work/status.json" 'sum(1 for i in d["identities"] if "token=alice-card" in i["key_uri"])')" = 3

# Step 2: the signing certificate is chosen automatically.
as alice settings choose --account $A --json > "$work/auto.json"
check "step 2: settings choose: automatic mode" test "$(json "$work/auto.json" 'd["signer"]["mode"]')" = automatic
check "step 2: a signing certificate is chosen, among the two valid ones" \
	test "$(json "$work/auto.json" 'sum(1 for c in d["signer"]["candidates"] if c["valid"])')" = 2 \
	-a "$(json "$work/auto.json" 'd["signer"]["chosen"] in (sys.argv[3], sys.argv[4])' "$ec_uri" "$rsa_uri")" = True
check "step 2: and the encryption certificate (alice-enc-rsa)" \
	test "$(json "$work/auto.json" 'd["encryption"]["chosen"]')" = "$(json "$work/alice-enc-rsa.json" 'd["key_uri"]')"

# Step 3: choose the EC signing certificate manually.
as alice settings set --account $A --sign-cert "$ec_uri" > /dev/null
check "step 3: settings set --sign-cert URI (exit 0)" test $? -eq 0
as alice settings choose --account $A --json > "$work/manual.json"
check "step 3: manual mode, the EC certificate chosen" \
	test "$(json "$work/manual.json" 'd["signer"]["mode"]+" "+str(d["signer"]["chosen"]==sys.argv[3])' "$ec_uri")" = "manual True"

# Step 4: always sign; and no automatic harvesting, to show Install.
as alice settings set --account $A --always-sign yes --harvest no > /dev/null
check "step 4: settings set --always-sign yes --harvest no (exit 0)" test $? -eq 0
as alice settings show --json --account $A > "$work/settings.json"
check "step 4: settings show says so" \
	test "$(json "$work/settings.json" 'str(d["always-sign"])+" "+str(d["harvest"])')" = "True False"
cat > "$work/note.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Carol Example <carol@example.org>
Subject: Lunch
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

Lunch at noon?
MAIL
as alice -q protect "$work/note.eml" "$work/note.out"
check "step 4: protect without flags signs (always-sign)" grep -q 'multipart/signed' "$work/note.out"
openssl cms -verify -in "$work/note.out" -CAfile "$CS_ANCHORS" -certfile "$CS_PKI/chain.pem" \
	-signer "$work/note.signer.pem" -out /dev/null 2>/dev/null
check "step 4: openssl cms verifies it, signed with the manually chosen EC certificate" \
	test "$(fp "$work/note.signer.pem")" = "$(fp "$CS_PKI/alice-sign-ec.cert.pem")"

# Step 5: Bob writes to Alice, signed; Alice reads it.
cat > "$work/bob.eml" <<'MAIL'
From: Bob Example <bob@example.org>
To: Alice Example <alice@example.org>
Subject: The contract
Date: Sat, 28 Nov 2026 12:30:00 +0000
Content-Type: text/plain; charset=utf-8

Alice, please send me the contract, encrypted.
MAIL
as bob -q protect --sign "$work/bob.eml" "$work/bob.signed"
check "step 5: bob signs a message to alice" test $? -eq 0 -a -s "$work/bob.signed"
as alice -q read --report "$work/read.json" "$work/bob.signed" "$work/bob.read"
check "step 5: alice reads it: exit 0 (valid)" test $? -eq 0
check "step 5: the verdict is valid" test "$(json "$work/read.json" 'd["verdict"]')" = valid
check "step 5: harvesting is off: nothing kept" \
	test "$(json "$work/read.json" 'd.get("harvested", [])')" = "[]"
as alice -q certs list --json bob@example.org > "$work/list0.json"
check "step 5: no certificate for bob yet" \
	test "$(json "$work/list0.json" 'len([c for c in d["certs"] if c["source"] != "own"])')" = 0
cat > "$work/reply.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Re: The contract
Date: Sat, 28 Nov 2026 13:00:00 +0000
Content-Type: text/plain; charset=utf-8

Bob, here is the contract: clause 1, clause 2, clause 3.
MAIL
as alice -q protect --sign --encrypt "$work/reply.eml" "$work/reply.early" 2> "$work/early.err"
check "step 5: encrypting to bob before installing: exit 4, naming him" \
	test $? -eq 4 -a -n "$(grep -l 'bob@example.org' "$work/early.err")" -a ! -e "$work/reply.early"

# Step 6: install Bob's certificate from his message.
as alice certs import --from-message "$work/bob.signed" > "$work/install.out"
check "step 6: certs import --from-message (exit 0)" test $? -eq 0
check "step 6: it says what it installed for whom" grep -q 'bob@example.org' "$work/install.out"
as alice -q certs list --json bob@example.org > "$work/list1.json"
check "step 6: bob's certificate is in the store, installed, and the one encryption uses" \
	test "$(json "$work/list1.json" '[(c["fingerprint"], c["source"]) for c in d["certs"] if c["source"] != "own"]')" = "[('$(fp "$CS_PKI/bob-rsa.cert.pem")', 'installed')]" \
	-a "$(json "$work/list1.json" 'd["choice"]["chosen"]["fingerprint"]')" = "$(fp "$CS_PKI/bob-rsa.cert.pem")"

# Step 7: the encrypted (and, by the setting, signed) reply.
as alice -q protect --sign --encrypt "$work/reply.eml" "$work/reply.out"
check "step 7: alice signs and encrypts her reply (exit 0)" test $? -eq 0 -a -s "$work/reply.out"
openssl pkcs12 -in "$CS_PKI/bob-rsa.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/bob-key.pem" 2>/dev/null
openssl cms -decrypt -in "$work/reply.out" -inkey "$work/bob-key.pem" -out "$work/reply.dec" 2>/dev/null
check "step 7: openssl cms decrypts it with bob's key" test $? -eq 0 -a -s "$work/reply.dec"
openssl cms -verify -in "$work/reply.dec" -CAfile "$CS_ANCHORS" -certfile "$CS_PKI/chain.pem" \
	-out "$work/reply.txt" 2>/dev/null
check "step 7: openssl cms verifies alice's signature inside" test $? -eq 0
check "step 7: the text is alice's reply" grep -q 'clause 1, clause 2, clause 3' "$work/reply.txt"
as bob -q read --report "$work/bob-read.json" "$work/reply.out" "$work/bob-reply.eml"
check "step 7: bob's engine reads it as valid" \
	test $? -eq 0 -a "$(json "$work/bob-read.json" 'd["verdict"]')" = valid
check "step 7: and gets the same text" grep -q 'clause 1, clause 2, clause 3' "$work/bob-reply.eml"

echo "1..$n"
[ "$failed" -eq 0 ]
