#!/bin/bash
# The real pinentry-curses, driven in a detached tmux pane: curses-driver asks
# for a PIN on the pane's terminal, we wait until the dialog shows our text,
# type a PIN and check the driver got exactly it (by length and SHA-256; the
# PIN itself is never printed), then cancel a second dialog (Ctrl-E: in
# pinentry-curses Escape is Alt, not cancel), let a third one time out, show
# and take down the PIN-pad message, and end a fifth dialog whose user typed
# and walked away (pinentry-curses then ignores its own timeout; ours holds).
#
# Usage: test-curses.sh CURSES_DRIVER [PINENTRY]
# Prints TAP; exits 77 (meson: skipped) only when tmux or pinentry-curses is missing.
set -u

driver=$1
pinentry=${2:-/usr/bin/pinentry-curses}

skip() {
	echo "1..0 # SKIP $1"
	exit 77
}
command -v tmux >/dev/null 2>&1 || skip "tmux is not installed"
[ -x "$pinentry" ] || skip "$pinentry is not installed"

dir=$(mktemp -d /tmp/cs-pinentry-curses-XXXXXX)
# Our own tmux server on its own socket: the user's sessions are never touched.
sock="cs-pinentry-test-$$"
tm() {
	tmux -L "$sock" -f /dev/null "$@"
}
cleanup() {
	tm kill-server >/dev/null 2>&1
	rm -rf "$dir"
}
trap cleanup EXIT

n=0
failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		failed=1
	fi
}

# wait_for SECONDS COMMAND...: polls every 0.1 s until COMMAND succeeds.
wait_for() {
	local tries=$(($1 * 10))
	shift
	while [ "$tries" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}

pane_has() {
	tm capture-pane -p -t cs | grep -qF -- "$1"
}

pin='12%3 4x'
want="rc=0 len=${#pin} sha256=$(printf '%s' "$pin" | sha256sum | cut -d' ' -f1)"

tm new-session -d -x 100 -y 30 -s cs \
	"'$driver' '$pinentry' '$dir/first' 'First Test Card';
	 '$driver' '$pinentry' '$dir/second' 'Second Test Card';
	 '$driver' '$pinentry' '$dir/third' 'Third Test Card' 1;
	 '$driver' '$pinentry' '$dir/fourth' 'Keypad Test Card' 0 keypad;
	 '$driver' '$pinentry' '$dir/fifth' 'Idle Test Card' 1;
	 sleep 60"
ok $? "tmux session started"

wait_for 15 pane_has 'using the token "First Test Card"'
ok $? "pinentry-curses shows our description"
pane_has 'Subject: tmux test'
ok $? "the summary is shown"
pane_has 'PIN:'
ok $? "the PIN field is shown"

tm send-keys -t cs -l "$pin"
wait_for 5 pane_has 'PIN: *******_'
ok $? "typed PIN is masked"
if pane_has "$pin"; then
	ok 1 "the PIN is not on the screen"
else
	ok 0 "the PIN is not on the screen"
fi
tm send-keys -t cs Enter
wait_for 15 test -s "$dir/first"
got=$(cat "$dir/first" 2>/dev/null)
[ "$got" = "$want" ]
ok $? "driver got the PIN exactly (by length and hash)"
[ "$got" = "$want" ] || echo "#   got '$got', want '$want'"

wait_for 15 pane_has 'using the token "Second Test Card"'
ok $? "second dialog shown after the first ended"
tm send-keys -t cs C-e
wait_for 15 test -s "$dir/second"
got=$(cat "$dir/second" 2>/dev/null)
case "$got" in rc=-17\ *) r=0 ;; *) r=1 ;; esac
ok $r "cancel (Ctrl-E) is CS_ERR_CANCELLED"
[ "$r" -eq 0 ] || echo "#   got '$got'"

# Nobody types: pinentry's own SETTIMEOUT answers, before our hard deadline.
wait_for 15 test -s "$dir/third"
got=$(cat "$dir/third" 2>/dev/null)
case "$got" in rc=-18\ *) r=0 ;; *) r=1 ;; esac
ok $r "untouched dialog times out: CS_ERR_TIMEOUT"
[ "$r" -eq 0 ] || echo "#   got '$got'"

wait_for 15 pane_has "Enter the PIN on the reader's keypad."
ok $? "keypad: the message is shown, without a PIN field"
pane_has 'PIN:'
[ $? -ne 0 ]
ok $? "keypad: no PIN field"
touch "$dir/fourth.go"
wait_for 15 test -s "$dir/fourth"
got=$(cat "$dir/fourth" 2>/dev/null)
case "$got" in rc=0\ *) r=0 ;; *) r=1 ;; esac
ok $r "keypad: message taken down by cs_pinentry_message_close()"
wait_for 15 pane_has 'using the token "Idle Test Card"'
ok $? "fifth dialog shown"
tm send-keys -t cs -l 1
start=$(date +%s)
wait_for 20 test -s "$dir/fifth"
took=$(($(date +%s) - start))
got=$(cat "$dir/fifth" 2>/dev/null)
case "$got" in rc=-18\ *) r=0 ;; *) r=1 ;; esac
ok $r "typed, then idle: ended by the driver's own deadline as CS_ERR_TIMEOUT (${took}s)"
[ "$r" -eq 0 ] || echo "#   got '$got'"

# Each pinentry drew on the alternate screen and gave the terminal back:
# the driver's own lines are all there, the dialogs are gone.
finished() {
	[ "$(tm capture-pane -p -t cs | grep -c '^driver finished: ')" -eq 5 ]
}
wait_for 5 finished
r=$?
ok $r "terminal given back after every dialog, also those ended by signal"
[ "$r" -eq 0 ] || tm capture-pane -p -t cs | grep -v '^$' | sed 's/^/#   /'
if pane_has "reader's keypad" || pane_has 'PIN:'; then
	ok 1 "no dialog left on the screen"
else
	ok 0 "no dialog left on the screen"
fi

echo "1..$n"
exit $failed
