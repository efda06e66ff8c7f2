#!/bin/bash
# Constant memory through the whole engine: a message with a large attachment
# (CS_MEMORY_MIB, default 1024 MiB) is signed and encrypted by Alice's engine
# and read back by Bob's, and the peak resident memory of every process --
# the CLI, cardseald and cardseal-keyd -- must stay under 32 MiB. Also prints
# the throughput. The attachment is generated through a pipe, never stored in
# plaintext twice. Prints TAP; the slow suite runs it.
#
# Usage: test-memory.sh CARDSEAL FAKE_PINENTRY
set -uo pipefail
cardseal=$(realpath "$1") fake=$(realpath "$2")
mib=${CS_MEMORY_MIB:-1024}
cap_kib=$((32 * 1024))

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
. "$CS_FIXTURES_DIR/env"
[ -x /usr/bin/time ] || { echo "1..0 # SKIP /usr/bin/time is not installed"; exit 0; }
work=$(mktemp -d "${TMPDIR:-/tmp}/cs-mem-XXXXXX")
n=0 failed=0
check() { local what=$1; shift; n=$((n + 1)); if "$@"; then echo "ok $n - $what"; else failed=$((failed + 1)); echo "not ok $n - $what"; fi; }
cleanup() { pkill -f "cardseald --socket $work/" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

here=$(dirname "$(realpath "$0")")
person_module=$CS_SOFTHSM_MODULE
. "$here/lib-person.sh"
# Peak RSS (KiB) of the engine and keyd serving WHO's socket.
engine_hwm() {
	local who=$1 pid kpid
	pid=$(pgrep -f "cardseald --socket $work/$who/" | head -1)
	kpid=$(pgrep -P "$pid" -f cardseal-keyd | head -1)
	echo "$(awk '/VmHWM/ {print $2}' /proc/$pid/status) $(awk '/VmHWM/ {print $2}' /proc/$kpid/status)"
}

person alice
person bob
as alice -q certs import "$CS_PKI/bob-rsa.cert.pem" > /dev/null
as bob -q status > /dev/null

{
	printf 'From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: big\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
	printf -- '--b\r\nContent-Type: text/plain\r\n\r\nThe attachment follows.\r\n'
	printf -- '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	head -c $((mib * 1024 * 1024)) /dev/zero | base64 -w 76 | sed 's/$/\r/'
	printf -- '--b--\r\n'
} > "$work/big.eml"
size=$(stat -c %s "$work/big.eml")

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$work/cli1.kib" bash -c "$(declare -f as); work='$work' cardseal='$cardseal'; as alice -q protect --sign --encrypt '$work/big.eml' '$work/big.p7m'"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
check "protect --sign --encrypt of ${mib} MiB (exit $rc, $(echo "$size / 1048576 / $secs" | bc) MiB/s)" test $rc -eq 0
rm -f "$work/big.eml"
read -r eng key < <(engine_hwm alice)
check "protect: CLI peak $(cat "$work/cli1.kib") KiB under the cap" test "$(cat "$work/cli1.kib")" -lt $cap_kib
check "protect: cardseald peak $eng KiB under the cap" test "$eng" -lt $cap_kib
check "protect: cardseal-keyd peak $key KiB under the cap" test "$key" -lt $cap_kib

start=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$work/cli2.kib" bash -c "$(declare -f as); work='$work' cardseal='$cardseal'; as bob -q read --report '$work/big.json' '$work/big.p7m' '$work/big.out'"
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
check "read (decrypt + verify) of it (exit $rc, $(echo "$size / 1048576 / $secs" | bc) MiB/s)" test $rc -eq 0
check "verdict valid" grep -q '"verdict":"valid"' "$work/big.json"
rm -f "$work/big.p7m"
read -r eng key < <(engine_hwm bob)
check "read: CLI peak $(cat "$work/cli2.kib") KiB under the cap" test "$(cat "$work/cli2.kib")" -lt $cap_kib
check "read: cardseald peak $eng KiB under the cap" test "$eng" -lt $cap_kib
check "read: cardseal-keyd peak $key KiB under the cap" test "$key" -lt $cap_kib
echo "1..$n"
[ $failed -eq 0 ]
