#!/bin/sh
# protect-memory.sh DRIVER [SIZE]: cs_protect in bounded memory. A message with a SIZE-byte
# attachment (default 1 GiB) is generated on the fly into a pipe, signed and encrypted by
# protect-driver under /usr/bin/time -v, and the test fails when the peak RSS passes 32 MiB.
# Runs: sign+encrypt AES-256-GCM and AES-256-CBC with a base64 attachment, and GCM with a
# binary one (which cs_protect re-encodes). Then a 64 MiB round trip through openssl cms.
# Reports throughput. Needs CS_MAKE_FIXTURES and CS_FIXTURES_DIR (meson's fixture_env).
set -u

DRIVER=$1
SIZE=${2:-1073741824}
CAP_KB=32768
OPENSSL=${CS_OPENSSL:-openssl}
export OPENSSL_CONF=/dev/null

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; }

"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
P=$CS_FIXTURES_DIR/pki
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cs-protect-mem-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# header_and_text CTE: the message up to the attachment's body.
header() {
	printf 'From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nBcc: x@example.org\n'
	printf 'Subject: big\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="XYZ"\n\n'
	printf -- '--XYZ\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n'
	printf 'Anbei die gro\303\237e Datei.\n--XYZ\nContent-Type: application/octet-stream\n'
	printf 'Content-Transfer-Encoding: %s\nContent-Disposition: attachment; filename="big.bin"\n\n' "$1"
}
gen_base64() { header base64; head -c "$1" /dev/urandom | base64 -w 76; printf -- '--XYZ--\n'; }
gen_binary() { header binary; head -c "$1" /dev/urandom; printf -- '\n--XYZ--\n'; }

SIGN="--sign $P/alice-sign-rsa.key.pem $P/alice-sign-rsa.cert.pem --chain $P/inter-ca.cert.pem"

run() { # name generator cipher
	name=$1 gen=$2 cipher=$3
	$gen "$SIZE" | /usr/bin/time -v -o "$WORK/time.txt" "$DRIVER" -v $SIGN --cipher "$cipher" \
		--recip "$P/bob-rsa.cert.pem" - /dev/null 2>"$WORK/driver.txt"
	rc=$?
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time.txt")
	speed=$(sed -n 's/^protect-driver: //p' "$WORK/driver.txt")
	echo "# $name: $speed; peak RSS ${rss:-?} KiB"
	if [ $rc -ne 0 ]; then
		sed 's/^/# /' "$WORK/driver.txt"
		not_ok "$name: protect-driver failed"
	elif [ -z "$rss" ] || [ "$rss" -gt $CAP_KB ]; then
		not_ok "$name: peak RSS ${rss:-?} KiB within $CAP_KB KiB"
	else
		ok "$name: peak RSS $rss KiB within $CAP_KB KiB ($speed)"
	fi
}

echo "# attachment of $SIZE bytes, generated through a pipe"
run "sign+encrypt AES-256-GCM, base64 attachment" gen_base64 gcm
run "sign+encrypt AES-256-CBC, base64 attachment" gen_base64 cbc
run "sign+encrypt AES-256-GCM, binary attachment" gen_binary gcm

# The same path, small enough for openssl cms (which holds everything in memory): the
# attachment must come back byte for byte.
RT=$((64 * 1024 * 1024))
head -c $RT /dev/urandom >"$WORK/orig.bin"
{ header base64; base64 -w 76 "$WORK/orig.bin"; printf -- '--XYZ--\n'; } >"$WORK/in.eml"
if "$DRIVER" $SIGN --cipher cbc --recip "$P/bob-ec.cert.pem" "$WORK/in.eml" "$WORK/out.eml" &&
	"$OPENSSL" cms -decrypt -in "$WORK/out.eml" -inkey "$P/bob-ec.key.pem" -out "$WORK/inner.eml" &&
	"$OPENSSL" cms -verify -CAfile "$P/root-ca.cert.pem" -in "$WORK/inner.eml" \
		-out "$WORK/content.txt" 2>/dev/null &&
	tr -d '\r' <"$WORK/content.txt" |
	sed -n '/filename="big.bin"/,/^--XYZ--$/p' | sed '1,2d;$d' | base64 -d >"$WORK/back.bin" &&
	cmp -s "$WORK/orig.bin" "$WORK/back.bin"; then
	ok "64 MiB attachment: openssl decrypts and verifies, bytes identical"
else
	not_ok "64 MiB attachment: openssl decrypts and verifies, bytes identical"
fi

echo "1..$n"
exit $failed
