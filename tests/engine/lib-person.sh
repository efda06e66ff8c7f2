# Shared by the engine's shell tests (sourced): one "person" per engine, each
# with a copy of only their own fixture card, their own socket, store and
# configuration, and the scripted pinentry answering with the fixture PIN.
#
# Needs: $work (scratch directory), $CS_TOKENS, $CS_USER_PIN, $CS_ANCHORS
# (from the fixtures' env file), $person_module (the PKCS#11 module), $fake
# (the fake pinentry). Optional: $person_conf_extra (more [pin]/[trust] lines).

# person WHO [CARD]: WHO's home, with CARD's token (default WHO's own).
person() {
	local who=$1 card=${2:-$1} other
	mkdir -p "$work/$who/config/cardseal" "$work/$who/runtime"
	cp -a "$CS_TOKENS" "$work/$who/tokens"
	printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
		"$work/$who/tokens" > "$work/$who/softhsm2.conf"
	for other in alice bob carol; do
		[ "$other" = "$card" ] || SOFTHSM2_CONF=$work/$who/softhsm2.conf \
			softhsm2-util --delete-token --token "$other-card" >/dev/null
	done
	: > "$work/$who/control"
	ln -s "$fake" "$work/$who/pinentry"
	printf 'FAKE_PINENTRY_ACTION=pin:%s\n' "$CS_USER_PIN" > "$work/$who/pinentry.env"
	cat > "$work/$who/config/cardseal/cardseald.conf" <<CONF
[tokens]
modules = $person_module
[trust]
anchors = $CS_ANCHORS
${person_conf_extra:-}
[pin]
pinentry = $work/$who/pinentry
timeout = 20
CONF
}

# as WHO cardseal-args...: the CLI in WHO's session (the engine starts on demand).
as() {
	local who=$1
	shift
	SOFTHSM2_CONF=$work/$who/softhsm2.conf XDG_CONFIG_HOME=$work/$who/config \
		XDG_RUNTIME_DIR=$work/$who/runtime XDG_DATA_HOME=$work/$who/data \
		FAULTP11_CONTROL=$work/$who/control FAULTP11_PAD_PIN=$CS_USER_PIN \
		"$cardseal" "$@"
}
