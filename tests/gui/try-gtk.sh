#!/bin/bash
# Starts cardseal-gtk on the fixture cards, for trying it by hand:
#
#   tests/gui/try-gtk.sh [bob|alice] [cardseal-gtk options...]
#
# Makes (once) a scratch directory /tmp/cardseal-try with Alice and Bob, each
# with a copy of only their own SoftHSM fixture card, an engine configuration,
# an accounts file (sending into an outbox Maildir) and, for Bob, an inbox with
# a message Alice signed and encrypted and one she only signed. Then runs the
# shell as the person asked for (Bob by default) on your display. The card PIN
# is 123456; the PIN dialog is pinentry-gnome3, -gtk-2 or -qt when installed,
# else the tests' scripted pinentry, which answers with that PIN by itself.
# Needs a build: meson setup build/ci -Dgtk=enabled && ninja -C build/ci
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CS_BUILD:-$top/build/ci}
who=${1:-bob}
[ $# -gt 0 ] && shift
work=${CS_TRY_DIR:-/tmp/cardseal-try}
cardseal=$build/shell/cli/cardseal
gtk=$build/shell/gtk/cardseal-gtk
fake=$build/tests/keyd/fake-pinentry
[ -x "$gtk" ] || { echo "try-gtk: build first (meson setup build/ci -Dgtk=enabled; ninja -C build/ci)" >&2; exit 2; }

CS_MAKE_FIXTURES=$top/softhsm-fixtures/make-fixtures
"$CS_MAKE_FIXTURES" "$build/fixtures" >/dev/null
. "$build/fixtures/env"
person_module=$CS_SOFTHSM_MODULE
person_conf_extra="crl-dir = $CS_CRL_DIR"
. "$top/tests/engine/lib-person.sh"

if [ ! -d "$work" ]; then
	mkdir -p "$work"
	person alice
	person bob
	while read -r p address name; do
		mkdir -p "$work/$p/inbox/cur" "$work/$p/inbox/new" "$work/$p/inbox/tmp"
		cat > "$work/$p/config/cardseal/accounts.conf" <<CONF
[$name]
address = $address
name = $name
outbox = $work/$p/outbox
folder = $work/$p/inbox
CONF
	done <<LIST
alice alice@example.org Alice Example
bob bob@example.org Bob Example
LIST
	as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" >/dev/null
	printf 'From: Alice Example <alice@example.org>\nTo: Bob Example <bob@example.org>\nSubject: Quarterly figures\nContent-Type: text/plain; charset=utf-8\n\nHello Bob,\n\nthe quarterly figures are ready.\n\nAlice\n' > "$work/msg.eml"
	as alice -q protect --sign --encrypt "$work/msg.eml" "$work/bob/inbox/cur/1.eml:2,S"
	sed 's/^Subject: .*/Subject: Lunch on Friday/' "$work/msg.eml" > "$work/plain.eml"
	as alice -q protect --sign "$work/plain.eml" "$work/bob/inbox/cur/2.eml:2,S"
	# A graphical PIN dialog when there is one (the messages above used the scripted one).
	for dialog in pinentry-gnome3 pinentry-gtk-2 pinentry-qt; do
		if [ -x "/usr/bin/$dialog" ]; then
			for p in alice bob; do ln -sf "/usr/bin/$dialog" "$work/$p/pinentry"; done
			break
		fi
	done
	echo "try-gtk: made $work (the card PIN is $CS_USER_PIN)" >&2
fi
export SOFTHSM2_CONF=$work/$who/softhsm2.conf XDG_CONFIG_HOME=$work/$who/config
export XDG_RUNTIME_DIR=$work/$who/runtime XDG_DATA_HOME=$work/$who/data
exec "$gtk" "$@"
