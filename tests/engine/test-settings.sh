#!/bin/bash
# Per-account settings and the choice of the user's own certificates, through
# the CLI and real engines (one per person, each with a copy of only their own
# fixture card, on SoftHSM): settings persist across engine restarts; PROTECT
# without --sign/--encrypt applies the account's defaults; automatic choice
# takes the newest valid certificate; a manual choice is used, and when it
# stops being valid it is reported, never replaced; CERTS_CHOOSE explains.
#
# Usage: test-settings.sh CARDSEAL CARDSEALD FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") cardseald=$(realpath "$2") fake=$(realpath "$3")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-settings-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# The engines are started here and stopped by their process ids; a client
# must never start one of its own (CARDSEALD names a program that fails).
export CARDSEALD=/bin/false
cleanup() {
	local who
	for who in alice bob carol; do engine_stop "$who"; done
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$CS_SOFTHSM_MODULE
person_conf_extra="crl-dir = $CS_CRL_DIR"
. "$here/lib-person.sh"


json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# json_true FILE EXPR: EXPR holds for the JSON in FILE.
json_true() { test "$(json_field "$@" 2>/dev/null)" = True; }
# signer_of FILE: the SHA-256 fingerprint of the certificate that signed a multipart/signed message.
signer_of() {
	openssl cms -verify -noverify -in "$1" -signer "$1.signer" -out /dev/null 2>/dev/null &&
		openssl x509 -in "$1.signer" -noout -fingerprint -sha256
}
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256; }

person alice
person bob
person carol

# Certificates for alice that the fixtures do not have, from a private copy of the fixture CA.
cp -a "$CS_PKI/ca" "$work/ca"
sed "s#$CS_PKI/ca#$work/ca#g" "$CS_PKI/ca/openssl.cnf" > "$work/ca/openssl.cnf"
# issue NAME START END: a signing certificate for alice@example.org and its key on alice's card.
issue_for_alice() {
	local name=$1 start=$2 end=$3 id=$4
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/$name.key.pem" 2>/dev/null
	openssl req -new -key "$work/$name.key.pem" -subj "/CN=Alice $name/emailAddress=alice@example.org" \
		-out "$work/$name.csr" 2>/dev/null
	OPENSSL_CONF=$work/ca/openssl.cnf FX_KU="digitalSignature, nonRepudiation" FX_EKU=emailProtection \
		FX_EMAIL=alice@example.org openssl ca -config "$work/ca/openssl.cnf" -name ca_inter -batch \
		-notext -in "$work/$name.csr" -extensions ee -startdate "$start" -enddate "$end" \
		-out "$work/$name.cert.pem" 2>/dev/null || return 1
	openssl pkcs8 -topk8 -nocrypt -in "$work/$name.key.pem" -outform DER -out "$work/$name.key.der"
	openssl x509 -in "$work/$name.cert.pem" -outform DER -out "$work/$name.cert.der"
	openssl pkey -in "$work/$name.key.pem" -pubout -outform DER -out "$work/$name.pub.der"
	local p11=(pkcs11-tool --module "$CS_SOFTHSM_MODULE" --token-label alice-card --login --pin "$CS_USER_PIN")
	SOFTHSM2_CONF=$work/alice/softhsm2.conf "${p11[@]}" --write-object "$work/$name.key.der" \
		--type privkey --id "$id" --label "$name" --private --sensitive --usage-sign >/dev/null 2>&1 &&
	SOFTHSM2_CONF=$work/alice/softhsm2.conf "${p11[@]}" --write-object "$work/$name.pub.der" \
		--type pubkey --id "$id" --label "$name" --usage-sign >/dev/null 2>&1 &&
	SOFTHSM2_CONF=$work/alice/softhsm2.conf "${p11[@]}" --write-object "$work/$name.cert.der" \
		--type cert --id "$id" --label "$name" >/dev/null 2>&1
}
utc() { date -u -d "$1" +%Y%m%d%H%M%SZ; }

cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Settings
Content-Type: text/plain; charset=utf-8

Hello Bob.
MAIL

engine_start alice || { echo "Bail out! alice's engine did not start"; exit 1; }
engine_start bob || { echo "Bail out! bob's engine did not start"; exit 1; }
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null
as bob -q certs import "$CS_PKI/alice-sign-rsa.cert.pem" > /dev/null

# 1. Defaults, and settings that persist across a restart.
as alice settings show --json --account alice@example.org > "$work/s0.json"
check "defaults: sign-cert auto, encrypt-cert auto, always-sign off, harvest on" \
	test "$(json_field "$work/s0.json" 'd["sign-cert"]+d["encrypt-cert"]+str(d["always-sign"])+str(d["always-encrypt"])+str(d["harvest"])')" = autoautoFalseFalseTrue
as alice -q protect "$work/msg.eml" "$work/none.eml" 2> "$work/none.err"
check "PROTECT without flags and no defaults: refused (exit 1), nothing written" test $? -eq 1 -a ! -e "$work/none.eml"
check "and the error says there is nothing to do" grep -q 'nothing to do' "$work/none.err"
as alice -q settings set --account Alice@Example.org --always-sign yes --harvest no
check "settings set (address case ignored)" test $? -eq 0
engine_stop alice
engine_start alice || not_ok "alice's engine restarts"
as alice settings show --json --account alice@example.org > "$work/s1.json"
check "after an engine restart: always-sign yes, harvest no" \
	test "$(json_field "$work/s1.json" 'str(d["always-sign"])+str(d["harvest"])')" = TrueFalse
as alice settings show --json > "$work/all.json"
check "settings show (every account) lists alice" \
	test "$(json_field "$work/all.json" '[a["account"] for a in d["accounts"]]')" = "['alice@example.org']"
as alice settings set --account alice@example.org --always-sign maybe 2> "$work/bad.err"
check "a bad value is refused (exit 1) and says what it takes" bash -c "test $? -eq 1 && grep -q 'yes or no' '$work/bad.err'"
as alice settings set --always-sign yes 2>/dev/null
check "settings set without --account: usage (exit 2)" test $? -eq 2

# 2. PROTECT without --sign/--encrypt applies the account's defaults.
as alice protect "$work/msg.eml" "$work/d1.eml" 2> "$work/d1.err"
check "PROTECT without flags says what it applied and why" grep -q 'signed (account always-sign), not encrypted (account always-encrypt)' "$work/d1.err"
check "always-sign: PROTECT without flags signs (multipart/signed, not encrypted)" \
	bash -c "grep -q multipart/signed '$work/d1.eml' && ! grep -q enveloped-data '$work/d1.eml'"
as bob -q read --report "$work/d1.json" "$work/d1.eml" "$work/d1.out"
check "bob reads it as valid" test $? -eq 0 -a "$(json_field "$work/d1.json" 'd["verdict"]')" = valid
as alice -q settings set --account alice@example.org --always-encrypt yes
as alice -q protect "$work/msg.eml" "$work/d2.eml"
check "always-encrypt too: signed and encrypted (GCM)" grep -q 'smime-type=authEnveloped-data' "$work/d2.eml"
as bob -q read --report "$work/d2.json" "$work/d2.eml" "$work/d2.out"
check "bob decrypts and verifies it" test $? -eq 0 -a "$(json_field "$work/d2.json" 'd["verdict"]')" = valid
as alice -q protect --no-encrypt "$work/msg.eml" "$work/d3.eml"
check "--no-encrypt turns the default off: signed only" \
	bash -c "grep -q multipart/signed '$work/d3.eml' && ! grep -q enveloped-data '$work/d3.eml'"
as alice -q protect --encrypt "$work/msg.eml" "$work/d4.eml"
check "explicit --encrypt: the request says both (encrypted, the inner entity unsigned)" \
	grep -q 'smime-type=authEnveloped-data' "$work/d4.eml"
as bob -q read --report "$work/d4.json" "$work/d4.eml" "$work/d4.out"
check "bob reads it as unsigned" test "$(json_field "$work/d4.json" 'd["verdict"]')" = unsigned
as alice -q protect --sign --no-sign "$work/msg.eml" "$work/d5.eml" 2>/dev/null
check "--sign with --no-sign: usage (exit 2)" test $? -eq 2
as alice -q settings set --account alice@example.org --always-encrypt no

# 3. CERTS_CHOOSE explains: candidates, reasons, the choice.
as alice settings choose --json --account alice@example.org --to bob@example.org --to carol@example.org > "$work/c1.json"
check "choose: automatic signer chosen among alice's certificates" \
	test "$(json_field "$work/c1.json" 'd["signer"]["mode"]+" "+str(d["signer"]["chosen"] is not None)')" = "automatic True"
check "choose: the signer is RSA on equal notBefore (alice-sign-rsa)" \
	test "$(json_field "$work/c1.json" '[c["subject"] for c in d["signer"]["candidates"] if c["key_uri"]==d["signer"]["chosen"]][0].count("Alice")')" = 1
check "choose: an encryption-only certificate is a rejected signing candidate, with its reason" \
	json_true "$work/c1.json" 'any(not c["valid"] and any("key usage" in r for r in c["reasons"]) for c in d["signer"]["candidates"])'
check "choose: own encryption certificate chosen" test "$(json_field "$work/c1.json" 'd["encryption"]["chosen"] is not None')" = True
check "choose: bob has a certificate, carol none" \
	test "$(json_field "$work/c1.json" '[(r["address"], r["found"]) for r in d["recipients"]]')" = "[('bob@example.org', True), ('carol@example.org', False)]"
as alice settings choose --account alice@example.org > "$work/c1.txt"
check "choose (text) marks the chosen signer" grep -q '^  \* pkcs11:' "$work/c1.txt"
sign_rsa=$(json_field "$work/c1.json" 'd["signer"]["chosen"]')
sign_ec=$(json_field "$work/c1.json" '[c["key_uri"] for c in d["signer"]["candidates"] if c["valid"] and c["key_uri"]!=d["signer"]["chosen"]][0]')

# 4. Manual choice: used; a URI that is no valid identity is refused, listing the valid ones.
as alice -q settings set --account alice@example.org --sign-cert "$sign_ec"
check "manual sign-cert set to alice's other signing key" test $? -eq 0
as alice -q protect --sign "$work/msg.eml" "$work/m1.eml"
check "the manual choice signs (alice-sign-ec)" test "$(signer_of "$work/m1.eml")" = "$(fingerprint "$CS_PKI/alice-sign-ec.cert.pem")"
as alice settings set --account alice@example.org --sign-cert 'pkcs11:token=alice-card;id=%99;type=private' 2> "$work/m2.err"
check "a URI that names no identity: refused (exit 1)" test $? -eq 1
check "the refusal lists the valid choices" grep -qF "$sign_rsa" "$work/m2.err"
enc_uri=$(json_field "$work/c1.json" 'd["encryption"]["chosen"]')
as alice settings set --account alice@example.org --sign-cert "$enc_uri" 2> "$work/m3.err"
check "an encryption-only identity as signer: refused with its reason" bash -c "test $? -eq 1 && grep -q 'key usage' '$work/m3.err'"
as alice settings show --json --account alice@example.org > "$work/s2.json"
check "the refused settings left the manual choice as it was" test "$(json_field "$work/s2.json" 'd["sign-cert"]')" = "$sign_ec"

# 5. Automatic choice takes the newest notBefore; a manual choice that expires is reported.
as alice -q settings set --account alice@example.org --sign-cert auto
engine_stop alice
issue_for_alice alice-new "$(utc '-1 hour')" "$(utc '+1 year')" 05
check "a newer certificate for alice on her card" test $? -eq 0
expires=$(date -u -d '+25 seconds' +%s)
issue_for_alice alice-short "$(utc '-2 hours')" "$(date -u -d "@$expires" +%Y%m%d%H%M%SZ)" 06
check "and one that expires in 25 seconds" test $? -eq 0
engine_start alice || not_ok "alice's engine restarts"
as alice -q protect --sign "$work/msg.eml" "$work/a1.eml"
check "automatic: the newest valid certificate signs (alice-new)" test "$(signer_of "$work/a1.eml")" = "$(fingerprint "$work/alice-new.cert.pem")"
as alice settings choose --json --account alice@example.org > "$work/c2.json"
short_uri=$(json_field "$work/c2.json" '[c["key_uri"] for c in d["signer"]["candidates"] if "alice-short" in c["subject"]][0]')
as alice -q settings set --account alice@example.org --sign-cert "$short_uri"
check "manual: the short-lived certificate chosen while valid" test $? -eq 0
as alice -q protect --sign "$work/msg.eml" "$work/a2.eml"
check "and it signs" test "$(signer_of "$work/a2.eml")" = "$(fingerprint "$work/alice-short.cert.pem")"
while [ "$(date -u +%s)" -le $((expires + 1)) ]; do sleep 1; done
as alice protect --sign "$work/msg.eml" "$work/a3.eml" 2> "$work/a3.err"
check "once it expired, PROTECT fails (exit 6: no usable key), nothing written" test $? -eq 6 -a ! -e "$work/a3.eml"
check "the error names the chosen certificate and says it expired" \
	bash -c "grep -qF '$short_uri' '$work/a3.err' && grep -q 'expired on' '$work/a3.err'"
as alice settings choose --json --account alice@example.org > "$work/c3.json"
check "choose: manual, nothing chosen (never replaced by another)" \
	test "$(json_field "$work/c3.json" 'd["signer"]["mode"]+" "+str(d["signer"]["chosen"])')" = "manual None"
as alice -q settings set --account alice@example.org --sign-cert auto
as alice -q protect --sign "$work/msg.eml" "$work/a4.eml"
check "back to auto: alice-new signs again" test "$(signer_of "$work/a4.eml")" = "$(fingerprint "$work/alice-new.cert.pem")"

# 6. Trust: a signer that no longer chains to an anchor is not chosen.
engine_stop alice
sed -i "s#^anchors = .*#anchors = $CS_PKI/rogue-ca.cert.pem#" "$work/alice/config/cardseal/cardseald.conf"
engine_start alice || not_ok "alice's engine restarts with other anchors"
as alice protect --sign "$work/msg.eml" "$work/t1.eml" 2> "$work/t1.err"
check "without her CA as an anchor alice has no valid signing certificate (exit 6)" test $? -eq 6
as alice settings choose --json --account alice@example.org > "$work/c4.json"
check "choose says why: does not chain to a trust anchor" \
	json_true "$work/c4.json" 'any("trust anchor" in r for c in d["signer"]["candidates"] for r in c["reasons"])'

# 7. Malformed bodies of the new requests, as raw frames: each answered with its error.
cat > "$work/raw.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def frame(t, i, body): s.sendall(struct.pack(">IBI", len(body) + 5, t, i) + body)
def reply(i):
    while True:
        hdr = b""
        while len(hdr) < 4: hdr += s.recv(4 - len(hdr))
        n = struct.unpack(">I", hdr)[0]; data = b""
        while len(data) < n: data += s.recv(n - len(data))
        t, rid = struct.unpack(">BI", data[:5])
        if rid == i and t in (1, 2): return t, data[5:]
def st(x): return struct.pack(">I", len(x)) + x
frame(0x10, 1, struct.pack(">I", 1) + st(b"") * 7); reply(1)
cases = [(0x20, st(b"") + b"x", 5), (0x20, b"\0\0", 3), (0x21, st(b"a@b") + st(b"harvest"), 3),
         (0x22, b"x", 5), (0x1f, st(b"alice@example.org") + struct.pack(">I", 5000), 4),
         (0x1f, st(b"alice@example.org") + struct.pack(">I", 2) + st(b"bob@example.org"), 3),
         (0x21, st(b"alice@example.org") + st(b"colour") + st(b"blue"), 11)]
for k, (t, body, want) in enumerate(cases, 2):
    frame(t, k, body)
    rt, rb = reply(k)
    code = struct.unpack(">I", rb[:4])[0] if rt == 2 else 0
    print("%02x:%d" % (t, code))
PY
python3 "$work/raw.py" "$work/alice/runtime/cardseal/socket" > "$work/raw.out" 2>&1
check "raw SETTINGS_GET with trailing bytes / truncated: TRAILING, TRUNCATED" \
	test "$(sed -n 1,2p "$work/raw.out" | tr '\n' ' ')" = "20:5 20:3 "
check "raw SETTINGS_SET without a value: TRUNCATED" test "$(sed -n 3p "$work/raw.out")" = "21:3"
check "raw POLICY_GET with a body: TRAILING" test "$(sed -n 4p "$work/raw.out")" = "22:5"
check "raw CERTS_CHOOSE with too many recipients / fewer than announced: TOO_LARGE, TRUNCATED" \
	test "$(sed -n 5,6p "$work/raw.out" | tr '\n' ' ')" = "1f:4 1f:3 "
check "raw SETTINGS_SET of an unknown key: INVALID_ARG" test "$(sed -n 7p "$work/raw.out")" = "21:11"

echo "1..$n"
exit $((failed > 0))
