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

# Engines a test starts itself (with CARDSEALD=/bin/false, so that no client
# starts one of its own) and stops by process id. Needs $cardseald.
# engine_stop WHO: stops WHO's engine, if one runs.
engine_stop() {
	local pidfile=$work/$1/engine.pid
	[ -f "$pidfile" ] || return 0
	kill "$(cat "$pidfile")" 2>/dev/null
	wait "$(cat "$pidfile")" 2>/dev/null
	rm -f "$pidfile"
}

# engine_start WHO [cardseald options]: WHO's engine on the socket their CLI uses;
# returns once it listens, 1 if it exits or does not listen within 10 s.
engine_start() {
	local who=$1 i sock
	shift
	engine_stop "$who"
	sock=$work/$who/runtime/cardseal/socket
	mkdir -p "$work/$who/runtime/cardseal" && chmod 700 "$work/$who/runtime/cardseal"
	SOFTHSM2_CONF=$work/$who/softhsm2.conf XDG_CONFIG_HOME=$work/$who/config \
		XDG_RUNTIME_DIR=$work/$who/runtime XDG_DATA_HOME=$work/$who/data \
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
