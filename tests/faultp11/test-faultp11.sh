#!/bin/bash
# test-faultp11.sh MODULE FAULTCTL: drives libcardseal-faultp11.so with pkcs11-tool, a
# program nobody here wrote, over a SoftHSM token made for this run, with the control file
# edited by faultctl. Prints "ok N - ..." or "not ok N - ..." per check; exits 1 if any
# failed, keeping the directory for a look.
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 MODULE FAULTCTL" >&2
	exit 2
fi
module=$1
faultctl=$2
softhsm=/usr/lib/softhsm/libsofthsm2.so
label=fault-card
pin=123456
n=0
failed=0

dir=$(mktemp -d "${TMPDIR:-/tmp}/faultp11-sh.XXXXXX") || exit 2
export SOFTHSM2_CONF=$dir/softhsm2.conf
export FAULTP11_CONTROL=$dir/control
export FAULTP11_COUNTERS=$dir/counters
unset FAULTP11_PAD_PIN FAULTP11_MODULE

# check DESCRIPTION ok|fail REGEX CMD...: passes when CMD exits 0 (ok) or not (fail) and
# its output, stdout and stderr together, matches the extended REGEX (empty: anything).
check() {
	local desc=$1 want=$2 regex=$3 out rc
	shift 3
	out=$("$@" 2>&1 </dev/null) && rc=0 || rc=$?
	if { [ "$want" = ok ] && [ $rc -eq 0 ]; } || { [ "$want" = fail ] && [ $rc -ne 0 ]; }; then
		if [ -z "$regex" ] || grep -Eq -- "$regex" <<<"$out"; then
			n=$((n + 1))
			echo "ok $n - $desc"
			return 0
		fi
	fi
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $desc (exit $rc)"
	printf '%s\n' "$out" | sed 's/^/#   /'
	return 1
}

# lacks DESCRIPTION REGEX CMD...: passes when CMD exits 0 and its output lacks REGEX.
lacks() {
	local desc=$1 regex=$2 out rc
	shift 2
	out=$("$@" 2>&1 </dev/null) && rc=0 || rc=$?
	n=$((n + 1))
	if [ $rc -eq 0 ] && ! grep -Eq -- "$regex" <<<"$out"; then
		echo "ok $n - $desc"
		return 0
	fi
	failed=$((failed + 1))
	echo "not ok $n - $desc (exit $rc)"
	printf '%s\n' "$out" | sed 's/^/#   /'
	return 1
}

p11() {
	pkcs11-tool --module "$module" "$@"
}

sign() {
	p11 --token-label $label --sign --id 01 -m SHA256-RSA-PKCS -i "$dir/in" -o "$dir/sig" "$@"
}

ctl() {
	"$faultctl" "$FAULTP11_CONTROL" "$@" || exit 2
}

# The token and its keys, made with SoftHSM directly.
mkdir "$dir/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$dir" >"$SOFTHSM2_CONF"
echo "signed by the token" >"$dir/in"
if ! softhsm2-util --init-token --free --label $label --pin $pin --so-pin 12345678 \
	>/dev/null ||
	! pkcs11-tool --module $softhsm --keypairgen --key-type rsa:2048 --id 01 --label k1 \
		--login --pin $pin --token-label $label >/dev/null ||
	! pkcs11-tool --module $softhsm --read-object --type pubkey --id 01 \
		--token-label $label -o "$dir/pub.der" >/dev/null 2>&1; then
	echo "cannot make a SoftHSM token in $dir" >&2
	exit 2
fi

check "pkcs11-tool -I shows the injector" ok "Manufacturer +Cardseal fault injector" p11 -I
check "pkcs11-tool -L shows $label" ok "token label +: $label" p11 -L
check "sign through the module" ok "" sign --login --pin $pin
check "the signature verifies with the public key" ok "Verified OK" \
	openssl dgst -sha256 -verify "$dir/pub.der" -keyform DER -signature "$dir/sig" "$dir/in"

ctl hide $label
lacks "hide: pkcs11-tool -L no longer shows $label" "$label" p11 -L
lacks "hide: pkcs11-tool -T no longer shows $label" "$label" p11 -T
check "hide: signing finds no token" fail "No slot with token named" sign --login --pin $pin
ctl show $label
check "show: pkcs11-tool -T shows $label again" ok "token label +: $label" p11 -T
check "show: signing works again" ok "" sign --login --pin $pin

ctl flags $label count-low final-try locked
check "flags: pkcs11-tool -T shows user PIN count low" ok "user PIN count low" p11 -T
check "flags: pkcs11-tool -T shows final user PIN try" ok "final user PIN try" p11 -T
check "flags: pkcs11-tool -T shows user PIN locked" ok "user PIN locked" p11 -T
check "flags locked: login fails with CKR_PIN_LOCKED" fail "CKR_PIN_LOCKED" sign --login --pin $pin

ctl flags $label protected-auth
check "flags protected-auth: pkcs11-tool -T shows PIN pad present" ok "PIN pad present" p11 -T
lacks "flags protected-auth: PIN locked no longer shown" "user PIN locked" p11 -T
check "flags protected-auth: login on the keypad (FAULTP11_PAD_PIN) and sign" ok "" \
	env FAULTP11_PAD_PIN=$pin pkcs11-tool --module "$module" --token-label $label \
	--sign --id 01 -m SHA256-RSA-PKCS -i "$dir/in" -o "$dir/sig" --login
check "flags protected-auth: nobody at the keypad gives CKR_FUNCTION_CANCELED" fail \
	"CKR_FUNCTION_CANCELED" sign --login
ctl flags $label

# pkcs11-tool answers any C_Sign failure by signing again with C_SignInit, C_SignUpdate and
# C_SignFinal: a card pulled during C_Sign alone goes unnoticed, and the counters show it.
ctl fail C_Sign CKR_DEVICE_REMOVED once
rm -f "$FAULTP11_COUNTERS"
check "fail C_Sign once: pkcs11-tool signs again, multi-part" ok "" sign --login --pin $pin
check "fail C_Sign once: that signature verifies" ok "Verified OK" \
	openssl dgst -sha256 -verify "$dir/pub.der" -keyform DER -signature "$dir/sig" "$dir/in"
lacks "fail C_Sign once: counters show no C_Sign" "^C_Sign " cat "$FAULTP11_COUNTERS"
check "fail C_Sign once: counters show C_SignFinal 1" ok "^C_SignFinal 1$" \
	cat "$FAULTP11_COUNTERS"
ctl fail C_SignFinal CKR_DEVICE_REMOVED once
check "fail C_Sign and C_SignFinal once: signing fails with CKR_DEVICE_REMOVED" fail \
	"C_SignFinal.*CKR_DEVICE_REMOVED" sign --login --pin $pin
check "fail once: a new process is new to the generation, and fails too" fail \
	"CKR_DEVICE_REMOVED" sign --login --pin $pin
ctl unfail C_Sign
ctl unfail C_SignFinal
check "unfail: signing works" ok "" sign --login --pin $pin

ctl fail C_Login CKR_PIN_LOCKED always
check "fail C_Login CKR_PIN_LOCKED always: login fails" fail "CKR_PIN_LOCKED" \
	sign --login --pin $pin
ctl clear
check "clear: signing works" ok "" sign --login --pin $pin

# The counters belong to one process: each pkcs11-tool run writes its own.
rm -f "$FAULTP11_COUNTERS"
sign --login --pin $pin >/dev/null 2>&1
check "counters: one pkcs11-tool --sign shows C_Sign 1" ok "^C_Sign 1$" cat "$FAULTP11_COUNTERS"
ctl fail C_Sign CKR_FUNCTION_FAILED always
ctl fail C_SignFinal CKR_FUNCTION_FAILED always
rm -f "$FAULTP11_COUNTERS"
check "counters: both ways refused, signing fails" fail "CKR_FUNCTION_FAILED" \
	sign --login --pin $pin
check "counters: the forwarded C_SignInit calls are counted" ok "^C_SignInit 2$" \
	cat "$FAULTP11_COUNTERS"
lacks "counters: the refused C_Sign and C_SignFinal are not" "^C_Sign(Final)? " \
	cat "$FAULTP11_COUNTERS"
ctl clear
openssl pkeyutl -encrypt -pubin -keyform DER -inkey "$dir/pub.der" -in "$dir/in" \
	-out "$dir/enc" || exit 2
check "decrypt through the module" ok "signed by the token" \
	p11 --token-label $label --decrypt --id 01 -m RSA-PKCS --login --pin $pin -i "$dir/enc"
check "counters: one pkcs11-tool --decrypt shows C_Decrypt 1" ok "^C_Decrypt 1$" \
	cat "$FAULTP11_COUNTERS"
lacks "counters: and no C_Sign" "^C_Sign " cat "$FAULTP11_COUNTERS"

echo "1..$n"
if [ $failed -ne 0 ]; then
	echo "$failed of $n checks failed; token and files kept in $dir" >&2
	exit 1
fi
rm -rf "$dir"
