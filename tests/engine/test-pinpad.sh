#!/bin/bash
# PIN pads end to end: a client's request through cardseald to keyd and a
# token whose reader has a keypad (CKF_PROTECTED_AUTHENTICATION_PATH, set by
# the fault-injecting module over SoftHSM). keyd must show a message, never a
# PIN field, log in with a NULL PIN (the module takes the "typed" PIN from
# FAULTP11_PAD_PIN, standing in for the reader), take the message down when
# the operation is over, and the client must be told to use the keypad.
#
# Usage: test-pinpad.sh CARDSEAL FAULT_MODULE FAKE_PINENTRY FAULTCTL
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") module=$(realpath "$2") fake=$(realpath "$3") faultctl=$(realpath "$4")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
unset FAULTP11_PAD_PIN
work=$(mktemp -d /tmp/cs-pinpad-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

engine_pids() { pgrep -f "cardseald --socket $work/" || true; }
cleanup() {
	local pid pids i alive
	pids=$(engine_pids)
	for pid in $pids; do kill "$pid" 2>/dev/null; done
	for i in $(seq 1 50); do
		alive=0
		for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 0 ] && break
		sleep 0.1
	done
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$module
. "$here/lib-person.sh"

# pad WHO ACTION: WHO has bob's card in a PIN-pad reader; the fake pinentry
# does ACTION at every dialog and logs every command it gets.
pad() {
	person "$1" bob
	"$faultctl" "$work/$1/control" flags bob-card protected-auth
	printf 'FAKE_PINENTRY_ACTION=%s\nFAKE_PINENTRY_LOG=%s\n' "$2" "$work/$1/pinentry.log" \
		> "$work/$1/pinentry.env"
}
# as_nopad WHO args...: like `as`, but nobody types on the keypad (no FAULTP11_PAD_PIN).
as_nopad() {
	local who=$1
	shift
	env -u FAULTP11_PAD_PIN SOFTHSM2_CONF="$work/$who/softhsm2.conf" \
		XDG_CONFIG_HOME="$work/$who/config" XDG_RUNTIME_DIR="$work/$who/runtime" \
		XDG_DATA_HOME="$work/$who/data" FAULTP11_CONTROL="$work/$who/control" \
		FAULTP11_COUNTERS="$work/$who/counters" "$cardseal" "$@"
}
# The message's text (SETDESC) is sent before keyd starts the login; the
# MESSAGE command itself may never arrive when the login fails at once (keyd
# ends the pinentry first), so the tests count SETDESC lines.
log_has() { grep -q -- "$2" "$work/$1/pinentry.log" 2>/dev/null; }
log_count() { cat "$work/$1/pinentry.log" 2>/dev/null | grep -c -- "$2"; }
counter() { sed -n "s/^$2 //p" "$work/$1/counters" 2>/dev/null; }

cat > "$work/msg.eml" <<'MAIL'
From: Bob Example <bob@example.org>
To: Alice Example <alice@example.org>
Subject: Signed on a PIN pad
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

The PIN went into the reader, not the computer.
MAIL

# 1. Sign: the keypad message stays up (the pinentry never answers it) until
#    the login and the signature are done; keyd then takes it down.
pad bob hang
FAULTP11_COUNTERS=$work/bob/counters as bob protect --sign "$work/msg.eml" "$work/signed.eml" \
	2> "$work/sign.err"
rc=$?
check "PIN pad: bob signs (exit $rc)" test $rc -eq 0 -a -s "$work/signed.eml"
check "openssl cms verifies the signature" \
	openssl cms -verify -in "$work/signed.eml" -CAfile "$CS_ANCHORS" -out /dev/null
check "the client is told which token wants its PIN" \
	grep -q 'waiting for the PIN of "bob-card"' "$work/sign.err"
check "and that the PIN goes into the reader's keypad" \
	grep -q "enter your PIN on the reader's keypad" "$work/sign.err"
check "keyd showed one keypad message" test "$(log_count bob "reader's keypad")" -eq 1
check "no PIN field was ever opened (no GETPIN)" bash -c "! grep -q GETPIN '$work/bob/pinentry.log'"
check "the message says to use the keypad, for bob-card and a signature" \
	log_has bob "SETDESC Sign using the token \"bob-card\".%0AEnter the PIN on the reader's keypad."
check "the message shows what is signed" log_has bob "Subject: Signed on a PIN pad"
check "keyd took the message down when the operation was over (SIGTERM)" log_has bob ' END term'
check "the token logged in once (C_Login with a NULL PIN, typed on the pad)" \
	test "$(counter bob C_Login)" = 1
check "and signed" test -n "$(counter bob C_Sign)"
check "the audit log has the signature" \
	grep -q 'op=sign .*token=bob-card.*result=CS_OK' "$work/bob/data/cardseal/keyd-audit.log"

# 2. Decrypt on the same pad: the message names the operation.
pad bobread hang
openssl cms -encrypt -aes-256-gcm -in "$work/msg.eml" -out "$work/enc.eml" \
	"$CS_PKI/bob-rsa.cert.pem" 2>/dev/null
as bobread read "$work/enc.eml" "$work/enc.out" 2> "$work/read.err"
rc=$?
check "PIN pad: bob decrypts (exit $rc)" test $rc -eq 0
check "... to the original text" grep -q 'not the computer' "$work/enc.out"
check "with a keypad message for a decryption, and no GETPIN" \
	bash -c "grep -q 'SETDESC Decrypt using the token' '$work/bobread/pinentry.log' && ! grep -q GETPIN '$work/bobread/pinentry.log'"

# 3. The user dismisses the message: the reader still takes the PIN.
pad bobdismiss dismiss
as bobdismiss -q protect --sign "$work/msg.eml" "$work/dismissed.eml"
check "a dismissed message does not stop the keypad login (exit $?)" test -s "$work/dismissed.eml"

# 4. Cancel pressed on the reader (the token answers CKR_FUNCTION_CANCELED).
pad bobcancel hang
"$faultctl" "$work/bobcancel/control" fail C_Login CKR_FUNCTION_CANCELED always token=bob-card
as bobcancel protect --sign "$work/msg.eml" "$work/cancel.eml" 2> "$work/cancel.err"
rc=$?
check "keypad cancelled: exit 5 (cancelled), got $rc" test $rc -eq 5
check "said as cancelled" grep -q 'cancelled' "$work/cancel.err"
check "nothing written" test ! -e "$work/cancel.eml"
check "the message was shown once and taken down, no GETPIN" \
	bash -c "[ \$(grep -c \"SETDESC.*reader's keypad\" '$work/bobcancel/pinentry.log') -eq 1 ] && grep -q ' END term' '$work/bobcancel/pinentry.log' && ! grep -q GETPIN '$work/bobcancel/pinentry.log'"

# 5. Nobody at the keypad: the reader gives up (faultp11 without a pad PIN: CKR_FUNCTION_CANCELED).
pad bobaway hang
as_nopad bobaway protect --sign "$work/msg.eml" "$work/away.eml" 2> "$work/away.err"
rc=$?
check "nobody at the keypad: a clean cancel (exit $rc)" test $rc -eq 5 -a ! -e "$work/away.eml"
check "one keypad message, and no login got through" test -z "$(counter bobaway C_Login)" -a \
	"$(log_count bobaway "SETDESC.*reader's keypad")" -eq 1
as_nopad bobaway -q status > /dev/null
rc=$?
check "the engine still answers after it (exit $rc)" test $rc -eq 0

# 6. A wrong PIN typed on the keypad: each new message says so; no PIN field even then.
pad bobwrong hang
CS_USER_PIN=000000 as bobwrong protect --sign "$work/msg.eml" "$work/wrong.eml" 2> "$work/wrong.err"
rc=$?
check "wrong PIN on the keypad: fails (exit $rc), nothing written" test $rc -ne 0 -a ! -e "$work/wrong.eml"
check "reported as an incorrect PIN" grep -q 'incorrect PIN' "$work/wrong.err"
msgs=$(log_count bobwrong "SETDESC.*reader's keypad")
check "every try had its own message ($msgs), the later ones saying 'Wrong PIN.'" \
	test "$msgs" -ge 2 -a "$(log_count bobwrong 'reader.s keypad.%0AWrong PIN.')" -eq $((msgs - 1))
check "still no GETPIN" bash -c "! grep -q GETPIN '$work/bobwrong/pinentry.log'"

# 7. A locked PIN: no message at all.
pad boblocked hang
"$faultctl" "$work/boblocked/control" flags bob-card protected-auth locked
as boblocked protect --sign "$work/msg.eml" "$work/locked.eml" 2> "$work/locked.err"
rc=$?
check "locked: exit 6 (no usable key), got $rc" test $rc -eq 6
check "... its message says so" grep -q 'PIN locked' "$work/locked.err"
check "and no dialog was started" test ! -s "$work/boblocked/pinentry.log"

echo "1..$n"
[ $failed -eq 0 ]
