#!/bin/sh
# Memory test of cs_read (TAP, suite 'slow'): a signed-then-GCM-encrypted
# message of SIZE MiB of content (default 1024), made by `openssl cms
# -stream` in a separate process, read by read-driver under /usr/bin/time
# -v. Fails when the peak RSS passes 32 MiB or the plaintext differs; prints
# the throughput.
#
# Usage: read-memory.sh READ_DRIVER [SIZE_MIB]   (CS_MAKE_FIXTURES, CS_FIXTURES_DIR set)
# Needs about 3.5 x SIZE of free space in $TMPDIR (message, output, spill).
set -u
driver=$1
mib=${2:-1024}
cap_kib=$((32 * 1024))
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

if [ ! -x /usr/bin/time ]; then
	echo "1..0 # SKIP /usr/bin/time not installed (apt-get install time)"
	exit 0
fi
"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
pki=$CS_FIXTURES_DIR/pki
work=$(mktemp -d "${TMPDIR:-/tmp}/cs-readmem-XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# The entity: base64 lines of random bytes, already in canonical form (CRLF).
{
	printf 'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
	head -c $((mib * 1024 * 1024 / 4 * 3)) /dev/urandom | base64 -w 76 | sed 's/$/\r/'
} >"$work/entity"
ok $? "made a $mib MiB entity"

openssl cms -sign -stream -binary -in "$work/entity" -md sha256 \
	-signer "$pki/alice-sign-rsa.cert.pem" -inkey "$pki/alice-sign-rsa.key.pem" \
	-certfile "$pki/inter-ca.cert.pem" |
	openssl cms -encrypt -stream -binary -aes-256-gcm -from alice@example.org \
		-to bob@example.org -subject "memory test" -out "$work/msg.eml" \
		"$pki/bob-rsa.cert.pem"
ok $? "openssl cms -sign -stream | openssl cms -encrypt -stream -aes-256-gcm"
echo "# message: $(wc -c <"$work/msg.eml") bytes"

/usr/bin/time -v "$driver" -v --anchors "$pki/root-ca.cert.pem" \
	--id "$pki/bob-rsa.key.pem" "$pki/bob-rsa.cert.pem" --spill-dir "$work" \
	"$work/msg.eml" "$work/out.eml" >"$work/report" 2>"$work/time"
ok $? "read-driver reads it"
sed 's/^/# /' "$work/report"
grep 'read-driver:' "$work/time" | sed 's/^/# /'
grep -E 'Maximum resident|Elapsed' "$work/time" | sed 's/^[[:space:]]*/# /'
rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time")
[ -n "$rss" ] && [ "$rss" -lt "$cap_kib" ]
ok $? "peak RSS ${rss:-?} KiB under $cap_kib KiB"
grep -q '"verdict": "VALID", "from"' "$work/report"
ok $? "verdict VALID"
grep -q '"kind": "encrypted", "cipher": "AES-256-GCM", "integrity": 1' "$work/report"
ok $? "one GCM layer"
# The output is the outer header, MIME-Version, then the entity.
sed -n '/^Content-Type/,$p' "$work/out.eml" | cmp -s - "$work/entity"
ok $? "plaintext is the original entity"
[ -z "$(ls "$work" | grep cardseal-spill)" ]
ok $? "no spill file left in the spill directory"

echo "1..$n"
exit $failed
