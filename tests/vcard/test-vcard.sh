#!/bin/bash
# The real smartcard path: the engine and keyd with OpenSC's PKCS#11 module,
# OpenSC reading a CAC card through pcscd, the card a libcacard emulation
# behind vsmartcard's vpcd reader driver (vcard-bridge), all inside a
# private mount and network namespace (lib-vcard.sh). Discovery, signing and
# decryption checked by openssl cms, the insert-card flow, cards pulled in
# the middle of an operation, and reader and card events in
# `cardseal status --watch`.
#
# Known limits of the emulation: libcacard's CAC card does RSA only (alice's
# EC keys are not on it, so ECDSA and ECDH are not tested here); it keeps no
# PIN retry counter (a wrong PIN is refused but never counts down or locks
# the card) and reports a wrong PIN as a card error, not as 63Cx; and its
# PIN is the SoftHSM token's. Step 8 shows the PIN limits as they are.
#
# Usage: test-vcard.sh CARDSEAL VCARD_BRIDGE FAKE_PINENTRY READERS_PROBE
# Prints TAP.
set -uo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/lib-vcard.sh"
[ -n "${2:-}" ] && [ -x "$2" ] || vcard_skip "vcard-bridge not built (libcacard-dev missing at setup)"
vcard_enter_namespace "$@"

cardseal=$(realpath "$1") bridge=$(realpath "$2") fake=$(realpath "$3") probe=$(realpath "$4")
"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
unset SOFTHSM2_CONF     # the engine sees the card through OpenSC only
work=$(mktemp -d /tmp/cs-vcard-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

cleanup() {
	local pid
	for pid in $(pgrep -f "cardseald --socket $work/" 2>/dev/null); do kill "$pid"; done
	vcard_stop
	if [ $failed -ne 0 ] || [ -n "${CS_KEEP_TEST_DIRS:-}" ]; then
		for f in pcscd.log bridge.log pinentry.log ../engine.log; do
			[ -f "$work/card/$f" ] && { echo "# --- $f"; tail -n 30 "$work/card/$f" | sed 's/^/# /'; }
		done
	fi
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

vcard_namespace_setup || { echo "Bail out! cannot set up the namespace (loopback, /run/pcscd)"; exit 1; }
mkdir -p "$work/card"
t0=$(date +%s%N)
vcard_make_card "$work/card" || { echo "Bail out! cannot make the card's token and NSS database"; exit 1; }
vcard_start_pcscd "$work/card" || { echo "Bail out! pcscd did not start"; cat "$work/card/pcscd.log"; exit 1; }
vcard_start_bridge "$work/card" "$bridge"
check "the virtual card is in the virtual reader" test $? -eq 0
echo "# card, pcscd and bridge ready in $((($(date +%s%N) - t0) / 1000000)) ms"

# Alice's engine with OpenSC as its only module and the scripted pinentry.
mkdir -p "$work/alice/config/cardseal" "$work/alice/runtime" "$work/alice/data"
ln -s "$fake" "$work/alice/pinentry"
pin_action() {
	printf 'FAKE_PINENTRY_ACTION=%s\nFAKE_PINENTRY_LOG=%s\n%s' "$1" "$work/card/pinentry.log" \
		"${2:-}" > "$work/alice/pinentry.env"
}
pin_action "pin:$CS_USER_PIN"
cat > "$work/alice/config/cardseal/cardseald.conf" <<CONF
[tokens]
modules = $vcard_opensc
[trust]
anchors = $CS_ANCHORS
crl-dir = $CS_CRL_DIR
[pin]
pinentry = $work/alice/pinentry
timeout = 20
CONF
as_alice() {
	XDG_CONFIG_HOME=$work/alice/config XDG_RUNTIME_DIR=$work/alice/runtime \
		XDG_DATA_HOME=$work/alice/data "$cardseal" "$@"
}
# The engine starts here, its log (and keyd's) kept in engine.log.
CARDSEAL_ENGINE_LOG=1 as_alice -q status > /dev/null 2>> "$work/engine.log"
json_field() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
body_of() { tr -d '\r' < "$1" | sed -n '/^$/,$p'; }
# token_is present|absent: polls STATUS until the CAC token is (not) there.
token_is() {
	local want=$1 i
	for ((i = 0; i < 100; i++)); do
		# Only an answer counts: a failed STATUS says nothing about the card.
		if ! as_alice -q status --json > "$work/st.json" 2>/dev/null; then
			sleep 0.1
			continue
		fi
		if [ "$want" = present ]; then
			grep -q '"Alice Example"' "$work/st.json" && return 0
		else
			grep -q '"Alice Example"' "$work/st.json" || return 0
		fi
		sleep 0.1
	done
	return 1
}

cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Alice Example <alice@example.org>
Subject: Card in a virtual reader
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hello from a CAC card that never existed.
MAIL
# The CAC card carries alice's certificates only: the intermediate CA comes from her store,
# and openssl is given it the same way.
as_alice -q certs import "$CS_PKI/inter-ca.cert.pem" > /dev/null 2>> "$work/engine.log"
verify() { openssl cms -verify -CAfile "$CS_ANCHORS" -certfile "$CS_PKI/inter-ca.cert.pem" "$@"; }
openssl pkcs12 -in "$CS_PKI/alice-enc-rsa.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/alice-enc-key.pem" 2>/dev/null

# 1. Discovery: the engine finds the card as a token, with alice's identities on it.
token_is present
check "the engine discovers the CAC card as a token (OpenSC via pcscd)" test $? -eq 0
as_alice -q status --json > "$work/status.json"
check "status names alice@example.org on it" grep -q 'alice@example.org' "$work/status.json"
echo "# token: $(json_field "$work/status.json" '[t["label"]+" / "+t.get("model","") for t in d.get("tokens",[])]' 2>/dev/null)"

# 2. Sign on the card; openssl cms verifies.
as_alice -q protect --sign "$work/msg.eml" "$work/s.eml" 2> "$work/s.err"
check "sign with the card (exit 0)" test $? -eq 0 -a -s "$work/s.eml"
check "openssl cms verifies the card's signature" \
	verify -in "$work/s.eml" -out /dev/null
check "the PIN was asked in a dialog" grep -q 'DIALOG GETPIN' "$work/card/pinentry.log"
printf 'payload for a script\n' > "$work/data.txt"
as_alice -q data sign "$work/data.txt" "$work/data.sig"
check "data sign: openssl cms verifies the SignedData, content intact" \
	verify -inform DER -in "$work/data.sig" -out "$work/data.sig.out"
check "and the content is the original" cmp -s "$work/data.sig.out" "$work/data.txt"

# 3. Decrypt on the card what openssl cms encrypted to alice (RSA PKCS#1 v1.5 key transport).
openssl cms -encrypt -aes-256-cbc -in "$work/msg.eml" -out "$work/ossl.eml" "$CS_PKI/alice-enc-rsa.cert.pem"
as_alice -q read --report "$work/ossl.json" "$work/ossl.eml" "$work/ossl.out"
check "the card decrypts a message openssl cms encrypted to alice (exit 0, unsigned)" \
	test $? -eq 0 -a "$(json_field "$work/ossl.json" 'd["verdict"]' 2>/dev/null)" = unsigned
check "its text equals the original" diff <(body_of "$work/ossl.out") <(body_of "$work/msg.eml")
head -c 3000 /dev/urandom > "$work/secret.bin"
openssl cms -encrypt -binary -aes-256-cbc -in "$work/secret.bin" -outform DER \
	-out "$work/secret.p7m" "$CS_PKI/alice-enc-rsa.cert.pem"
openssl cms -decrypt -binary -inform DER -in "$work/secret.p7m" -inkey "$work/alice-enc-key.pem" \
	-out "$work/secret.ossl"
as_alice -q data decrypt "$work/secret.p7m" "$work/secret.out"
check "data decrypt on the card (exit 0)" test $? -eq 0
check "the plaintext equals what openssl cms decrypts with alice's key, byte for byte" \
	cmp -s "$work/secret.out" "$work/secret.ossl"
as_alice -q protect --sign --encrypt "$work/msg.eml" "$work/se.eml"
check "sign and encrypt to herself with the card" test $? -eq 0 -a -s "$work/se.eml"
check "openssl cms decrypts it with alice's encryption key" \
	openssl cms -decrypt -in "$work/se.eml" -inkey "$work/alice-enc-key.pem" -out "$work/se.ossl"
check "and verifies the card's signature inside" \
	verify -in "$work/se.ossl" -out /dev/null
as_alice -q read --report "$work/se.json" "$work/se.eml" "$work/se.out"
check "alice reads it back on the card: exit 0, verdict valid" \
	test $? -eq 0 -a "$(json_field "$work/se.json" 'd["verdict"]' 2>/dev/null)" = valid
check "its text equals the original" diff <(body_of "$work/se.out") <(body_of "$work/msg.eml")

# 4. Readers and cards as the user sees them: status --watch while the card goes and comes.
XDG_CONFIG_HOME=$work/alice/config XDG_RUNTIME_DIR=$work/alice/runtime \
	XDG_DATA_HOME=$work/alice/data "$cardseal" status --watch > "$work/watch.out" 2>&1 &
watcher=$!
# The watchers of tokens/ alone beside it: stdin held open on fd 7 until the end of step 5.
mkfifo "$work/probe.in"
"$probe" "$vcard_opensc" < "$work/probe.in" > "$work/probe.out" 2>&1 &
probe_pid=$!
exec 7> "$work/probe.in"
vcard_wait_log "$work/probe.out" watching 10
sleep 0.5                        # the subscription is in place before anything happens
vcard_remove
token_is absent
check "card removed: the engine sees the token go" test $? -eq 0
vcard_wait_log "$work/watch.out" "card-removed $vcard_reader_name" 5
check "status --watch shows the card leaving the reader" test $? -eq 0
vcard_wait_log "$work/watch.out" "absent Alice Example" 5
check "status --watch shows the token absent" test $? -eq 0

# 5. Insert the card: a READ that needs it asks for it and finishes once it is back.
as_alice read "$work/se.eml" "$work/late.out" 2> "$work/late.err" &
reader=$!
vcard_wait_log "$work/late.err" 'insert your smartcard' 10
check "card out: the reader is asked to insert \"Alice Example\"" \
	grep -q 'insert your smartcard "Alice Example"' "$work/late.err"
vcard_insert
wait $reader
check "card in: the read finishes (exit 0)" test $? -eq 0
check "with the right text" diff <(body_of "$work/late.out") <(body_of "$work/msg.eml")
vcard_wait_log "$work/watch.out" "card-inserted $vcard_reader_name" 5
check "status --watch shows the card coming back" test $? -eq 0
vcard_wait_log "$work/watch.out" "present Alice Example" 5
check "status --watch shows the token present again" test $? -eq 0
# The probe prints what it has every 100 ms, and its own OpenSC may find the card busy
# with keyd's for a moment: each line is waited for.
vcard_wait_log "$work/probe.out" "reader card-removed $vcard_reader_name 00 00" 5
check "the reader thread of tokens/ saw the card go" test $? -eq 0
vcard_wait_log "$work/probe.out" "reader card-inserted $vcard_reader_name 00 00" 5
check "and come back" test $? -eq 0
vcard_wait_log "$work/probe.out" "token present Alice Example" 5
check "and its slot thread saw the token come back" test $? -eq 0
exec 7>&-
# The reader thread waits with no timeout: without a working SCardCancel it would never stop.
for ((i = 0; i < 100; i++)); do kill -0 $probe_pid 2>/dev/null || break; sleep 0.1; done
kill -9 $probe_pid 2>/dev/null && echo "# the probe did not stop within 10 s"
wait $probe_pid 2>/dev/null
stop_ms=$(sed -n 's/^stopped in \([0-9]*\) ms$/\1/p' "$work/probe.out")
check "stopping the watchers takes ${stop_ms:-forever} ms: SCardCancel ends the reader thread's wait" \
	test -n "$stop_ms" -a "${stop_ms:-9999}" -lt 2000

# 6. The card pulled while it computes: the signing APDU (CAC SIGN/DECRYPT, INS 42) is never answered.
vcard_ctl remove-at 42
as_alice -q data sign "$work/data.txt" "$work/pulled.sig" 2> "$work/pulled.err"
rc=$?
check "card pulled mid-signature: a clean error (exit $rc), no output" \
	test $rc -ne 0 -a $rc -lt 128 -a ! -e "$work/pulled.sig"
check "the card really was pulled during the operation" grep -q 'pulled 42' "$work/card/bridge.log"
echo "# client said: $(head -c 300 "$work/pulled.err")"
vcard_wait_card absent
vcard_insert
token_is present
check "the card is back" test $? -eq 0
as_alice -q data sign "$work/data.txt" "$work/again.sig" 2> "$work/again.err"
echo "# again: $(head -c 300 "$work/again.err")"
check "the next signature works" \
	verify -inform DER -in "$work/again.sig" -out /dev/null

# 7. The card pulled while the PIN dialog is open (the login state went with the card).
pin_action "pin:$CS_USER_PIN" "FAKE_PINENTRY_DELAY_MS=1500"
dialogs=$(grep -c 'DIALOG GETPIN' "$work/card/pinentry.log")
vcard_remove                   # out and in again: the login state went with the power
token_is absent
vcard_insert
token_is present
as_alice -q data decrypt "$work/secret.p7m" "$work/pin-pulled.out" 2> "$work/pin-pulled.err" &
client=$!
for ((i = 0; i < 100; i++)); do
	[ "$(grep -c 'DIALOG GETPIN' "$work/card/pinentry.log")" -gt "$dialogs" ] && break
	sleep 0.05
done
vcard_remove
wait $client
rc=$?
check "card pulled during the PIN dialog: a clean error (exit $rc), no output" \
	test $rc -ne 0 -a $rc -lt 128 -a ! -e "$work/pin-pulled.out"
echo "# client said: $(head -c 300 "$work/pin-pulled.err")"
pin_action "pin:$CS_USER_PIN"
vcard_insert
token_is present
as_alice -q data decrypt "$work/secret.p7m" "$work/after.out" 2> "$work/after.err"
echo "# after: $(head -c 300 "$work/after.err")"
check "after re-insertion the next decryption works" \
	cmp -s "$work/after.out" "$work/secret.ossl"

# 8. Known limits, shown: a wrong PIN is refused, but the emulated card keeps no retry
# counter (no "count low" or "final try" ever, it never locks), and libcacard answers a
# wrong PIN with 6985 "conditions not satisfied" rather than 63Cx, so OpenSC, and so
# Cardseal, see a card error rather than "incorrect PIN" (a real CAC card says 63Cx).
vcard_remove && vcard_insert    # logged out
token_is present
pin_action "pin:000000"
dialogs=$(grep -c 'DIALOG GETPIN' "$work/card/pinentry.log")
as_alice -q data sign "$work/data.txt" "$work/wrong.sig" 2> "$work/wrong.err"
rc=$?
check "a wrong PIN is refused: the signature fails (exit $rc), no output" \
	test $rc -ne 0 -a $rc -lt 128 -a ! -e "$work/wrong.sig"
echo "# limit: the client is told \"$(head -c 200 "$work/wrong.err")\", not \"incorrect PIN\""
check "the PIN was asked once and not resent" \
	test $(( $(grep -c 'DIALOG GETPIN' "$work/card/pinentry.log") - dialogs )) -eq 1
as_alice -q status --json > "$work/wrongpin.json"
check "limit of the emulation: no PIN counter state is reported (no count-low, final-try, locked)" \
	bash -c "! grep -qE '\"(pin_count_low|pin_final_try|pin_locked)\": *true' '$work/wrongpin.json'"
pin_action "pin:$CS_USER_PIN"
as_alice -q data sign "$work/data.txt" "$work/right.sig"
check "the right PIN still works: the card did not lock" \
	verify -inform DER -in "$work/right.sig" -out /dev/null

# 9. pcscd itself goes and comes back: its readers go and come with it, and the card works again.
check "status --watch saw no reader come or go so far" bash -c "! grep -q '^reader-' '$work/watch.out'"
kill "$vcard_pcscd_pid"
wait "$vcard_pcscd_pid" 2>/dev/null
vcard_wait_log "$work/watch.out" "reader-removed $vcard_reader_name 00 00" 10
check "pcscd stopped: status --watch shows the reader gone" test $? -eq 0
vcard_start_pcscd "$work/card" && vcard_wait_card present 10
check "pcscd started again, the bridge puts the card back by itself" test $? -eq 0
vcard_wait_log "$work/watch.out" "reader-added $vcard_reader_name 00 00" 10
check "status --watch shows the reader back" test $? -eq 0
token_is present
as_alice -q data sign "$work/data.txt" "$work/pcscd.sig" 2> "$work/pcscd.err"
check "and the card signs again (OpenSC found the new pcscd)" \
	verify -inform DER -in "$work/pcscd.sig" -out /dev/null
kill $watcher 2>/dev/null
wait $watcher 2>/dev/null

echo "1..$n"
[ $failed -eq 0 ]
