#!/bin/bash
# The admin policy through the CLI and real engines on SoftHSM fixture cards:
# no policy; soft certificates forbidden (alice's imported keys refused for
# signing with an error naming the policy; carol's keys, generated on her
# token, allowed once SoftHSM is on the hardware allowlist and refused while
# it is not); require-encrypted (an unencrypted send refused, the default
# applied, the setting locked); locked toggles; raw CMS forbidden; cipher
# rules; confirm each signature; the EAS names; policy files that are not
# root's or are malformed (the engine refuses to start); POLICY_GET, STATUS.
#
# The files are root's because the tests run as root (they are skipped
# otherwise, as when a system policy exists: --policy is then refused).
#
# Usage: test-policy.sh CARDSEAL CARDSEALD FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") cardseald=$(realpath "$2") fake=$(realpath "$3")

if [ "$(id -u)" != 0 ] || [ -e /etc/cardseal/policy.conf ]; then
	echo "1..0 # SKIP needs root, and no system policy in /etc/cardseal/policy.conf"
	exit 0
fi
"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-policy-XXXXXX)
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
. "$here/lib-person.sh"

# engine_cmd WHO [cardseald options]: runs WHO's engine in the foreground.
engine_cmd() {
	local who=$1
	shift
	SOFTHSM2_CONF=$work/$who/softhsm2.conf XDG_CONFIG_HOME=$work/$who/config \
		XDG_RUNTIME_DIR=$work/$who/runtime XDG_DATA_HOME=$work/$who/data \
		exec "$cardseald" --foreground --config "$work/$who/config/cardseal/cardseald.conf" \
		--socket "$work/$who/runtime/cardseal/socket" "$@"
}

# start_engine WHO [POLICY]: WHO's engine, with that policy file (--policy).
start_engine() { engine_start "$1" ${2:+--policy "$2"}; }
policy() {
	local name=$1
	shift
	printf '%s\n' "# test policy $name" "$@" > "$work/$name.conf"
	chmod 644 "$work/$name.conf"
}

json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
json_true() { test "$(json_field "$@" 2>/dev/null)" = True; }
refused_by() { grep -q "refused by the admin policy: $1" "$2"; }

person alice
person bob
person carol
: > "$work/empty-allowlist"
chmod 644 "$work/empty-allowlist"
printf '# SoftHSM stands in for a smartcard here\n%s\n' "$CS_SOFTHSM_MODULE" > "$work/softhsm-allowlist"
chmod 644 "$work/softhsm-allowlist"

cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Policy
Content-Type: text/plain; charset=utf-8

Hello Bob.
MAIL
sed -e 's/^From: .*/From: Carol Example <carol@example.org>/' -e 's/^To: .*/To: carol@example.org/' \
	"$work/msg.eml" > "$work/carol.eml"

# 1. No policy: nothing enforced; POLICY_GET says so.
start_engine alice "" || { echo "Bail out! alice's engine did not start"; exit 1; }
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null
as alice policy show --json > "$work/p0.json"
check "no policy: POLICY_GET has no source, soft certificates allowed" \
	test "$(json_field "$work/p0.json" 'str(d["source"])+" "+str(d["keys"]["allow-soft-certs"])')" = "None True"
as alice -q protect --sign "$work/msg.eml" "$work/n1.eml"
check "no policy: alice signs with her imported (soft) key" test $? -eq 0 -a -s "$work/n1.eml"
as alice -q protect --sign "$work/msg.eml" "$work/n2.eml"
check "no policy: an unencrypted send is allowed" test $? -eq 0

# 2. Soft certificates forbidden, the allowlist empty.
policy nosoft "allow-soft-certs = no" "hardware-modules = $work/empty-allowlist"
start_engine alice "$work/nosoft.conf" || not_ok "alice's engine starts with the policy"
as alice protect --sign "$work/msg.eml" "$work/s1.eml" 2> "$work/s1.err"
check "soft certificates forbidden: alice's SoftHSM key is refused for signing (exit 1)" test $? -eq 1 -a ! -e "$work/s1.eml"
check "the error names the policy (allow-soft-certs)" refused_by allow-soft-certs "$work/s1.err"
check "and says why (module not on the hardware allowlist)" grep -q 'hardware allowlist' "$work/s1.err"
as alice settings choose --json --account alice@example.org > "$work/s1.json"
check "CERTS_CHOOSE gives the policy as each candidate's reason" \
	json_true "$work/s1.json" 'all(any(r.startswith("policy allow-soft-certs") for r in c["reasons"]) for c in d["signer"]["candidates"] if "key usage" not in str(c["reasons"]))'
as alice data sign "$work/msg.eml" "$work/s1.p7s" 2> "$work/s1d.err"
check "SIGN_DATA refused too, naming the policy" bash -c "test $? -eq 1 && grep -q 'allow-soft-certs' '$work/s1d.err'"
start_engine carol "$work/nosoft.conf" || not_ok "carol's engine starts with the policy"
as carol protect --sign "$work/carol.eml" "$work/s2.eml" 2> "$work/s2.err"
check "carol's on-token key with SoftHSM not allowlisted: refused" bash -c "test $? -eq 1 && grep -q 'allow-soft-certs' '$work/s2.err'"

# 3. SoftHSM allowlisted: keys generated on the token pass, imported ones do not.
policy hwok "allow-soft-certs = no" "hardware-modules = $work/softhsm-allowlist"
start_engine alice "$work/hwok.conf" || not_ok "alice's engine starts"
start_engine carol "$work/hwok.conf" || not_ok "carol's engine starts"
as carol -q protect --sign "$work/carol.eml" "$work/h1.eml"
check "allowlisted, generated on the token (carol): signing allowed" test $? -eq 0 -a -s "$work/h1.eml"
check "the signature verifies" openssl cms -verify -in "$work/h1.eml" -CAfile "$CS_ANCHORS" -out /dev/null
as alice protect --sign "$work/msg.eml" "$work/h2.eml" 2> "$work/h2.err"
check "allowlisted but imported (alice, CKA_LOCAL false): still refused" bash -c "test $? -eq 1 && grep -q 'allow-soft-certs' '$work/h2.err'"
check "and the reason says the key was not generated on the token" grep -q 'not generated on the token' "$work/h2.err"
as carol policy show --json > "$work/h.json"
check "POLICY_GET: the source, allow-soft-certs false, the allowlisted module" \
	json_true "$work/h.json" 'd["source"]=="'"$work/hwok.conf"'" and d["keys"]["allow-soft-certs"] is False and len(d["hardware_modules"])==1'

# 4. Require encryption.
policy reqenc "require-encrypted = yes"
start_engine alice "$work/reqenc.conf" || not_ok "alice's engine starts"
as alice protect --sign "$work/msg.eml" "$work/e1.eml" 2> "$work/e1.err"
check "require-encrypted: an unencrypted send is refused (exit 1), nothing written" test $? -eq 1 -a ! -e "$work/e1.eml"
check "the error names the policy (require-encrypted)" refused_by require-encrypted "$work/e1.err"
as alice -q protect --no-sign "$work/msg.eml" "$work/e2.eml"
check "without --encrypt the default applies the policy: encrypted" bash -c "test $? -eq 0 && grep -q 'smime-type=authEnveloped-data' '$work/e2.eml'"
as alice -q protect --sign --encrypt "$work/msg.eml" "$work/e3.eml"
check "--sign --encrypt is allowed" test $? -eq 0 -a -s "$work/e3.eml"
as alice settings set --account alice@example.org --always-encrypt no 2> "$work/e4.err"
check "always-encrypt cannot be turned off (exit 1, names require-encrypted)" bash -c "test $? -eq 1 && grep -q 'require-encrypted' '$work/e4.err'"
as alice status --json > "$work/st.json"
check "STATUS carries the policy: the encrypt toggle locked on by require-encrypted" \
	json_true "$work/st.json" 'd["policy"]["toggles"]["encrypt"]=={"locked":True,"value":True,"by":"require-encrypted"}'

# 5. Locked toggles: sign on (required), encrypt locked off.
policy locked "require-signed = yes" "lock-toggles = yes"
start_engine alice "$work/locked.conf" || not_ok "alice's engine starts"
as alice protect --sign --encrypt "$work/msg.eml" "$work/l1.eml" 2> "$work/l1.err"
check "locked toggles: --encrypt refused, naming lock-toggles" bash -c "test $? -eq 1 && grep -q 'lock-toggles' '$work/l1.err'"
as alice protect --encrypt "$work/msg.eml" "$work/l2.eml" 2> "$work/l2.err"
check "--encrypt alone (no signature) refused too" test $? -eq 1
as alice -q protect "$work/msg.eml" "$work/l3.eml"
check "without flags: what the policy fixes (signed, not encrypted)" \
	bash -c "test $? -eq 0 && grep -q multipart/signed '$work/l3.eml' && ! grep -q enveloped '$work/l3.eml'"
as alice settings set --account alice@example.org --always-encrypt yes 2> "$work/l4.err"
check "settings set of a locked toggle refused, naming lock-toggles" bash -c "test $? -eq 1 && grep -q 'lock-toggles' '$work/l4.err'"
as alice settings show --account alice@example.org > "$work/l5.txt"
check "settings show marks the locked toggles" grep -q 'always-encrypt .*locked by the admin policy' "$work/l5.txt"

# 6. Raw CMS operations forbidden.
policy noraw "allow-raw-cms = no"
start_engine alice "$work/noraw.conf" || not_ok "alice's engine starts"
as alice data sign "$work/msg.eml" "$work/r1.p7s" 2> "$work/r1.err"
check "allow-raw-cms = no: data sign refused, naming the policy" bash -c "test $? -eq 1 && grep -q 'allow-raw-cms' '$work/r1.err'"
openssl cms -encrypt -binary -aes-256-gcm -in "$work/msg.eml" -outform DER -out "$work/r2.der" "$CS_PKI/alice-enc-rsa.cert.pem" 2>/dev/null
as alice data decrypt "$work/r2.der" "$work/r2.out" 2> "$work/r2.err"
check "data decrypt refused" test $? -ne 0 -a ! -e "$work/r2.out"
as alice data encrypt --to bob@example.org "$work/msg.eml" "$work/r3.der" 2> /dev/null
check "data encrypt refused" test $? -ne 0 -a ! -e "$work/r3.der"
as alice -q protect --sign "$work/msg.eml" "$work/r4.eml"
check "PROTECT still works" test $? -eq 0

# 7. Ciphers: only GCM; no negotiation.
policy gcm "encryption-algorithms = aes256-gcm"
start_engine alice "$work/gcm.conf" || not_ok "alice's engine starts"
as alice protect --sign --encrypt --cbc "$work/msg.eml" "$work/c1.eml" 2> "$work/c1.err"
check "encryption-algorithms = aes256-gcm: --cbc refused, naming the policy" bash -c "test $? -eq 1 && grep -q 'encryption-algorithms' '$work/c1.err'"
policy noneg "algorithm-negotiation = never"
start_engine alice "$work/noneg.conf" || not_ok "alice's engine starts"
as alice protect --sign --encrypt --cbc "$work/msg.eml" "$work/c2.eml" 2> "$work/c2.err"
check "algorithm-negotiation = never: CBC for a peer refused, naming the policy" bash -c "test $? -eq 1 && grep -q 'algorithm-negotiation' '$work/c2.err'"
policy cbconly "encryption-algorithms = aes256-cbc"
start_engine alice "$work/cbconly.conf" || not_ok "alice's engine starts"
as alice -q protect --sign --encrypt "$work/msg.eml" "$work/c3.eml"
check "encryption-algorithms = aes256-cbc: the policy's cipher is used (enveloped-data)" \
	bash -c "test $? -eq 0 && grep -q 'smime-type=enveloped-data' '$work/c3.eml'"
policy nosha256 "signature-algorithms = sha384 sha512"
start_engine alice "$work/nosha256.conf" || not_ok "alice's engine starts"
as alice protect --sign "$work/msg.eml" "$work/c4.eml" 2> "$work/c4.err"
check "signature-algorithms without sha256: signing refused, naming the policy" bash -c "test $? -eq 1 && grep -q 'signature-algorithms' '$work/c4.err'"

# 8. Confirm each signature: the policy turns keyd's confirmation on.
printf 'FAKE_PINENTRY_ACTION=pin:%s\nFAKE_PINENTRY_LOG=%s\n' "$CS_USER_PIN" "$work/carol/pinentry.log" > "$work/carol/pinentry.env"
start_engine carol "" || not_ok "carol's engine starts"
as carol -q protect --sign "$work/carol.eml" "$work/f1.eml"
check "no policy: no confirmation dialog" bash -c "test $? -eq 0 && ! grep -q 'DIALOG CONFIRM' '$work/carol/pinentry.log'"
policy confirm "confirm-signatures = yes"
start_engine carol "$work/confirm.conf" || not_ok "carol's engine starts"
as carol -q protect --sign "$work/carol.eml" "$work/f2.eml"
check "confirm-signatures = yes: keyd asks to confirm the signature" grep -q 'DIALOG CONFIRM' "$work/carol/pinentry.log"
printf 'FAKE_PINENTRY_ACTION=cancel\n' > "$work/carol/pinentry.env"
as carol -q protect --sign "$work/carol.eml" "$work/f3.eml" 2>/dev/null
check "and refusing the confirmation signs nothing: cancelled (exit 5), no output" \
	test $? -eq 5 -a ! -e "$work/f3.eml"
printf 'FAKE_PINENTRY_ACTION=pin:%s\n' "$CS_USER_PIN" > "$work/carol/pinentry.env"

# 9. The EAS names, mapped onto the native keys.
policy eas "[policy]" "RequireSignedSMIMEMessages = 1" "RequireEncryptedSMIMEMessages = 1" \
	"RequireSignedSMIMEAlgorithm = SHA1" "RequireEncryptionSMIMEAlgorithm = TripleDES" \
	"AllowSMIMEEncryptionAlgorithmNegotiation = BlockNegotiation" "AllowSMIMESoftCerts = 0" \
	"hardware-modules = $work/softhsm-allowlist"
start_engine carol "$work/eas.conf" || not_ok "carol's engine starts with EAS names"
as carol policy show --json > "$work/eas.json"
check "EAS names mapped: require-signed, require-encrypted, negotiation never, no soft certificates" \
	json_true "$work/eas.json" 'd["keys"]["require-signed"] and d["keys"]["require-encrypted"] and d["keys"]["algorithm-negotiation"]=="never" and not d["keys"]["allow-soft-certs"]'
check "the EAS algorithms are recorded as minimums (SHA-1, 3DES)" \
	json_true "$work/eas.json" 'd["eas_minimums"]=={"signature":"SHA-1","encryption":"3DES"}'
as carol -q protect "$work/carol.eml" "$work/x1.eml"
check "carol's mail is signed and encrypted with AES-256-GCM, never 3DES" \
	bash -c "test $? -eq 0 && grep -q 'smime-type=authEnveloped-data' '$work/x1.eml'"
as carol -q read --report "$work/x1.json" "$work/x1.eml" "$work/x1.out"
check "carol reads it: AES-256-GCM, signature valid" \
	test "$(json_field "$work/x1.json" 'd["layers"][0]["cipher"]+" "+d["verdict"]')" = "AES-256-GCM valid"
as carol protect --sign "$work/carol.eml" "$work/x2.eml" 2> "$work/x2.err"
check "RequireEncryptedSMIMEMessages: a signed-only send refused, naming require-encrypted" \
	bash -c "test $? -eq 1 && grep -q 'require-encrypted' '$work/x2.err'"
engine_stop carol

# 10. Bad policy files: the engine refuses to start and says why.
bad_start() { # NAME: exit status of the engine under $work/NAME.conf; its stderr in $work/NAME.log
	timeout 20 bash -c "$(declare -f engine_cmd); work='$work' cardseald='$cardseald' engine_cmd carol --policy '$work/$1.conf'" \
		> /dev/null 2> "$work/$1.log"
}
policy notroot "require-signed = yes"
chown nobody "$work/notroot.conf"
bad_start notroot
check "a policy file not owned by root: the engine refuses to start (exit 1)" test $? -eq 1
check "and logs why" grep -q 'not owned by root' "$work/notroot.log"
policy writable "require-signed = yes"
chmod 666 "$work/writable.conf"
bad_start writable
check "a policy file writable by others: refused to start" bash -c "test $? -eq 1 && grep -q 'writable by group or others' '$work/writable.log'"
policy typo "require-signd = yes"
bad_start typo
check "an unknown key: refused to start, FILE:LINE named" bash -c "test $? -eq 1 && grep -q 'typo.conf:2: unknown key' '$work/typo.log'"
policy badval "allow-soft-certs = perhaps"
bad_start badval
check "a bad value: refused to start" bash -c "test $? -eq 1 && grep -q 'bad value' '$work/badval.log'"
policy twice "require-encrypted = no" "RequireEncryptedSMIMEMessages = 1"
bad_start twice
check "a key set twice (native and EAS): refused to start" bash -c "test $? -eq 1 && grep -q 'again' '$work/twice.log'"
policy noallow "allow-soft-certs = no" "hardware-modules = $work/missing-allowlist"
bad_start noallow
check "a named allowlist that is missing: refused to start" test $? -eq 1
cp "$work/softhsm-allowlist" "$work/user-allowlist" && chown nobody "$work/user-allowlist"
policy userallow "allow-soft-certs = no" "hardware-modules = $work/user-allowlist"
bad_start userallow
check "an allowlist not owned by root: refused to start" bash -c "test $? -eq 1 && grep -q 'user-allowlist: not owned by root' '$work/userallow.log'"
mkdir -m 777 "$work/open-dir"
policy inopen "require-signed = yes"
mv "$work/inopen.conf" "$work/open-dir/"
timeout 20 bash -c "$(declare -f engine_cmd); work='$work' cardseald='$cardseald' engine_cmd carol --policy '$work/open-dir/inopen.conf'" > /dev/null 2> "$work/inopen.log"
check "a policy in a directory others can write to: refused to start" bash -c "test $? -eq 1 && grep -q 'not root' '$work/inopen.log'"
policy good "require-signed = yes"
start_engine carol "$work/good.conf"
check "a good policy file: the engine starts" test $? -eq 0

echo "1..$n"
exit $((failed > 0))
