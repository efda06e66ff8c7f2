#!/bin/bash
# The front's confinement on a running engine (engine/front/sandbox.c): after
# start-up cardseald runs under its seccomp filter with no_new_privs, on every
# thread; keyd, started before, is not under it (it runs pinentry); sign,
# encrypt, decrypt, verify and a store write still work through the confined
# engine; --no-sandbox turns it all off. What the filter denies is checked by
# sandbox-probe, which applies the same filter to itself.
#
# Usage: test-sandbox.sh CARDSEAL CARDSEALD FAKE_PINENTRY
# Prints TAP.
set -uo pipefail
cardseal=$(realpath "$1") cardseald=$(realpath "$2") fake=$(realpath "$3")

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
work=$(mktemp -d /tmp/cs-sandbox-XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# The engine is started here and stopped by its process id; the CLI must
# never start one of its own (CARDSEALD names a program that fails).
export CARDSEALD=/bin/false
stop_engine() {
	local pidfile=$work/alice/engine.pid pid i
	[ -f "$pidfile" ] || return 0
	pid=$(cat "$pidfile")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# An engine the client started is not our child: wait for it to go.
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	rm -f "$pidfile"
}
cleanup() {
	stop_engine
	[ -n "${CS_KEEP_TEST_DIRS:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$CS_SOFTHSM_MODULE
. "$here/lib-person.sh"
person alice

# start_engine [cardseald options]: alice's engine on the socket her CLI uses.
start_engine() {
	local i sock=$work/alice/runtime/cardseal/socket
	mkdir -p "$work/alice/runtime/cardseal" && chmod 700 "$work/alice/runtime/cardseal"
	: > "$work/alice/engine.log"
	SOFTHSM2_CONF=$work/alice/softhsm2.conf XDG_CONFIG_HOME=$work/alice/config \
		XDG_RUNTIME_DIR=$work/alice/runtime XDG_DATA_HOME=$work/alice/data \
		"$cardseald" --foreground --config "$work/alice/config/cardseal/cardseald.conf" \
		--socket "$sock" "$@" 2>>"$work/alice/engine.log" &
	echo $! > "$work/alice/engine.pid"
	for i in $(seq 100); do
		# The socket appears before the sandbox is applied; the log line after.
		grep -q 'listening on' "$work/alice/engine.log" && return 0
		kill -0 "$(cat "$work/alice/engine.pid")" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
# field PID NAME: a "Name:" field of /proc/PID/status.
field() { awk -v name="$2:" '$1 == name { print $2 }' "/proc/$1/status" 2>/dev/null; }
# all_threads PID NAME VALUE: every thread of PID has that status field value.
all_threads() {
	local t seen=0
	for t in /proc/"$1"/task/*; do
		[ "$(awk -v name="$2:" '$1 == name { print $2 }' "$t/status")" = "$3" ] || return 1
		seen=$((seen + 1))
	done
	[ "$seen" -gt 1 ]
}
# keyd_of PID: the engine's child, cardseal-keyd.
keyd_of() {
	local s
	for s in /proc/[0-9]*/status; do
		awk -v ppid="$1" '$1 == "PPid:" && $2 == ppid { found = 1 } END { exit !found }' "$s" \
			2>/dev/null && { s=${s#/proc/}; echo "${s%/status}"; return 0; }
	done
	return 1
}

if ! start_engine; then
	echo "Bail out! the engine did not start: $(cat "$work/alice/engine.log")"
	exit 1
fi
if grep -q 'built without libseccomp' "$work/alice/engine.log"; then
	echo "1..0 # SKIP cardseald was built without libseccomp (no system call filter):" \
		"install libseccomp-dev and reconfigure"
	exit 0
fi
pid=$(cat "$work/alice/engine.pid")

# 1. The confinement, as the kernel reports it.
check "the engine says it is confined" \
	grep -q 'sandbox: no new privileges, not dumpable, system call filter' "$work/alice/engine.log"
check "a running cardseald shows Seccomp: 2 (filter)" test "$(field "$pid" Seccomp)" = 2
check "... and NoNewPrivs: 1" test "$(field "$pid" NoNewPrivs)" = 1
check "... on every one of its threads (the keyd reader started before the filter)" \
	all_threads "$pid" Seccomp 2
kpid=$(keyd_of "$pid")
check "keyd, started before the filter, is not under it (it runs pinentry)" \
	test -n "$kpid" -a "$(field "${kpid:-0}" Seccomp)" = 0

# 2. Every kind of work through the confined engine: a store write, a PIN
#    dialog (keyd runs pinentry), signing, encryption, decryption, verification.
cat > "$work/msg.eml" <<'MAIL'
From: Alice Example <alice@example.org>
To: Alice Example <alice@example.org>
Subject: Confined
Date: Sat, 28 Nov 2026 12:00:00 +0000
Content-Type: text/plain; charset=utf-8

A note to self, through the sandbox.
MAIL
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null
check "certs import (a store write) works" test $? -eq 0
as alice -q status > /dev/null
check "status works" test $? -eq 0
as alice -q protect --sign --encrypt "$work/msg.eml" "$work/msg.p7m"
check "protect --sign --encrypt works (PIN dialog, token signature)" test $? -eq 0
as alice -q read --json "$work/msg.p7m" "$work/msg.out" > "$work/read.json"
check "read decrypts (token unwrap) and verifies" test $? -eq 0
check "... valid" test "$(/usr/bin/python3 -c \
	'import json,sys; print(json.load(open(sys.argv[1]))["verdict"])' "$work/read.json")" = valid
check "... and the text came back" grep -q 'A note to self, through the sandbox.' "$work/msg.out"
check "the engine is still running, still filtered" test "$(field "$pid" Seccomp)" = 2
check "... and so is its keyd" kill -0 "$kpid"
stop_engine

# 3. keyd dies: the confined engine cannot start another (no exec), so it stops,
#    and the next client starts a fresh engine, confined again.
start_engine || { echo "Bail out! the engine did not restart"; exit 1; }
pid=$(cat "$work/alice/engine.pid")
kpid=$(keyd_of "$pid")
[ -n "$kpid" ] || { echo "Bail out! no keyd under the engine"; exit 1; }
kill -KILL "$kpid"
for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	not_ok "keyd killed: the engine stops with status 1 (still running after 10 s)"
	kill "$pid"
	wait "$pid"
else
	wait "$pid"
	check "keyd killed: the engine stops with status 1" test $? -eq 1
fi
rm -f "$work/alice/engine.pid"
check "... and says why" grep -q 'cardseal-keyd exited; stopping' "$work/alice/engine.log"
check "... and removes its socket" test ! -e "$work/alice/runtime/cardseal/socket"
CARDSEALD=$cardseald as alice -q status > /dev/null
check "the next client starts a fresh engine" test $? -eq 0
# The client started it detached; it is found by its socket argument and stopped by its id.
for c in /proc/[0-9]*/cmdline; do
	if [ "$(tr '\0' ' ' < "$c" 2>/dev/null)" = \
	     "$cardseald --socket $work/alice/runtime/cardseal/socket " ]; then
		c=${c#/proc/}
		echo "${c%/cmdline}" > "$work/alice/engine.pid"
	fi
done
pid=$(cat "$work/alice/engine.pid" 2>/dev/null)
check "... confined too" test -n "$pid" -a "$(field "${pid:-0}" Seccomp)" = 2
stop_engine

# 4. --no-sandbox: for debugging only, and says so.
if ! start_engine --no-sandbox; then
	echo "Bail out! the engine did not start with --no-sandbox: $(cat "$work/alice/engine.log")"
	exit 1
fi
pid=$(cat "$work/alice/engine.pid")
check "--no-sandbox: the log warns that the sandbox is off" \
	grep -q 'sandbox off (--no-sandbox)' "$work/alice/engine.log"
check "... Seccomp: 0 and NoNewPrivs: 0" \
	test "$(field "$pid" Seccomp)/$(field "$pid" NoNewPrivs)" = 0/0
as alice -q status > /dev/null
check "... and the engine serves" test $? -eq 0
stop_engine

echo "1..$n"
[ "$failed" -eq 0 ]
