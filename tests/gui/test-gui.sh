#!/bin/bash
# The GUI suite: cardseal-gtk driven through AT-SPI by accessible names, under
# Xvfb with no window manager and a private D-Bus session, against real
# engines (one per person, each with only their own fixture card behind the
# fault-injecting module, PINs from the scripted pinentry).
#
# Usage: test-gui.sh CARDSEAL_GTK CARDSEAL CARDSEALD FAULT_MODULE FAKE_PINENTRY FAULTCTL
# Prints TAP. CS_GUI_ONLY=TEXT runs only the tests whose names contain TEXT.
# With CS_GUI_SCREENSHOTS=DIR the screenshots land in DIR
# (tests/gui/screenshots.sh points it at docs/screenshots).
set -uo pipefail
gtk=$(realpath "$1") cardseal=$(realpath "$2") cardseald=$(realpath "$3")
module=$(realpath "$4") fake=$(realpath "$5") faultctl=$(realpath "$6")
here=$(dirname "$(realpath "$0")")

for tool in xvfb-run dbus-run-session; do
	command -v "$tool" >/dev/null || { echo "1..0 # SKIP $tool is not installed"; exit 0; }
done
/usr/bin/python3 -c 'import pyatspi' 2>/dev/null || { echo "1..0 # SKIP python3-pyatspi is not installed"; exit 0; }

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-gui-XXXXXX)
chmod 755 "$work"

# The engines are started here and stopped by their process ids; the shell
# must never start one of its own (CARDSEALD names a program that fails).
export CARDSEALD=/bin/false
engine_pids=()
stop_engine() {
	local pidfile=$work/$1/engine.pid
	[ -f "$pidfile" ] || return 0
	kill "$(cat "$pidfile")" 2>/dev/null
	wait "$(cat "$pidfile")" 2>/dev/null
	rm -f "$pidfile"
}
cleanup() {
	local who
	for who in alice bob carol dora; do stop_engine "$who"; done
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

person_module=$module
person_conf_extra="crl-dir = $CS_CRL_DIR"
. "$here/../engine/lib-person.sh"

# start_engine WHO [cardseald options]: WHO's engine on the socket their shell uses.
start_engine() {
	local who=$1 i sock
	shift
	sock=$work/$who/runtime/cardseal/socket
	mkdir -p "$work/$who/runtime/cardseal" && chmod 700 "$work/$who/runtime" "$work/$who/runtime/cardseal"
	SOFTHSM2_CONF=$work/$who/softhsm2.conf XDG_CONFIG_HOME=$work/$who/config \
		XDG_RUNTIME_DIR=$work/$who/runtime XDG_DATA_HOME=$work/$who/data \
		FAULTP11_CONTROL=$work/$who/control FAULTP11_PAD_PIN=$CS_USER_PIN \
		"$cardseald" --foreground --config "$work/$who/config/cardseal/cardseald.conf" \
		--socket "$sock" "$@" 2>>"$work/$who/engine.log" &
	echo $! > "$work/$who/engine.pid"
	for i in $(seq 100); do
		[ -S "$sock" ] && return 0
		kill -0 "$(cat "$work/$who/engine.pid")" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# accounts WHO ADDRESS NAME: WHO's accounts file, sending into an outbox Maildir.
accounts() {
	cat > "$work/$1/config/cardseal/accounts.conf" <<CONF
[$3]
address = $2
name = $3
outbox = $work/$1/outbox
folder = $work/$1/inbox
CONF
	mkdir -p "$work/$1/inbox/cur" "$work/$1/inbox/new" "$work/$1/inbox/tmp"
}

person alice
person bob
person carol
# dora: alice's card under an administrator's policy that requires signing.
person dora alice
accounts alice alice@example.org "Alice Example"
accounts bob bob@example.org "Bob Example"
accounts dora alice@example.org "Alice Example"
printf '[policy]\nrequire-signed = yes\n' > "$work/policy.conf"
chmod 644 "$work/policy.conf"

start_engine alice || { echo "Bail out! alice's engine"; exit 1; }
start_engine bob || { echo "Bail out! bob's engine"; exit 1; }
# The engine trusts only a root-owned policy file, and no test may shadow a system policy.
policy_engine=1
if [ "$(id -u)" != 0 ] || [ -e /etc/cardseal/policy.conf ]; then
	policy_engine=skip
elif ! "$cardseald" --help 2>&1 | grep -q -- '--policy' ||
	! start_engine dora --policy "$work/policy.conf"; then
	policy_engine=0
fi

# Bob installs certificates only when he asks (Install), so that the test can tell.
harvest_off=0
as bob -q settings set --account bob@example.org --harvest no >/dev/null 2>&1 && harvest_off=1

# The fixture messages: alice signs and encrypts to bob (and to herself).
# anyeku@example.org is the Bcc recipient whose key (a PKCS#12 file) the tests hold.
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" >/dev/null
as alice -q certs import "$CS_PKI/anyeku.cert.pem" >/dev/null
cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Bob Example <bob@example.org>
Subject: Quarterly figures
Date: Sat, 28 Nov 2026 12:00:00 +0000
Message-ID: <figures-1@example.org>
Content-Type: text/plain; charset=utf-8

Hello Bob,

the quarterly figures are ready; the summary follows in the next message.

Alice
MAIL
as alice -q protect --sign --encrypt "$work/msg.eml" "$work/bob/inbox/cur/1.eml:2,S" ||
	{ echo "Bail out! protect"; exit 1; }
cp "$work/bob/inbox/cur/1.eml:2,S" "$work/signed-encrypted.eml"
sed -e 's/^Subject: .*/Subject: Lunch on Friday/' -e 's/^Message-ID: .*/Message-ID: <lunch-1@example.org>/' \
	-e 's/^To: .*/To: Bob Example <bob@example.org>\nReply-To: Alice at home <alice.home@example.org>/' \
	"$work/msg.eml" > "$work/plain.eml"
as alice -q protect --sign "$work/plain.eml" "$work/bob/inbox/cur/2.eml:2,S"
openssl pkcs12 -in "$CS_PKI/bob-rsa.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/bob-key.pem" 2>/dev/null
openssl pkcs12 -in "$CS_PKI/anyeku.p12" -passin "pass:$CS_P12_PASSWORD" -nodes -nocerts \
	-out "$work/anyeku-key.pem" 2>/dev/null

export CS_GUI_WORK=$work CS_GUI_SHELL=$gtk CS_GUI_CARDSEAL=$cardseal CS_GUI_FAULTCTL=$faultctl
export CS_GUI_POLICY_ENGINE=$policy_engine CS_GUI_HARVEST_OFF=$harvest_off
export CS_GUI_SCREENSHOTS=${CS_GUI_SCREENSHOTS:-$PWD/screenshots}
mkdir -p "$CS_GUI_SCREENSHOTS"
# No window manager: windows place themselves; the screen is big enough for them side by side.
# -noreset: the X server resets when its last client leaves (the accessibility bus launcher
# looks at the root window and goes), and a shell starting during that reset cannot open
# the display.
# The accessibility daemons print on the session's stdout: keep only the driver's TAP.
xvfb-run -a -s "-screen 0 1280x900x24 -noreset" dbus-run-session -- \
	/usr/bin/python3 "$here/gui_driver.py" > "$work/driver.out" 2> "$work/driver.err"
status=$?
grep -E '^(ok|not ok|1\.\.|#)' "$work/driver.out"
if [ $status -ne 0 ]; then
	sed 's/^/# /' "$work/driver.err"
	for who in alice bob dora; do [ -f "$work/$who/engine.log" ] && sed "s/^/# $who engine: /" "$work/$who/engine.log" | tail -5; done
fi
exit $status
