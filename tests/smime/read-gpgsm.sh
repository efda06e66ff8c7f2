#!/bin/sh
# cs_read against messages made by gpgsm 2.2 in a separate process (TAP):
# opaque signed, detached signed (multipart/signed built here around
# gpgsm's signature), encrypted, and signed then encrypted, all by Bob with
# the fixture key from bob-rsa.legacy.p12. gpgsm writes bare CMS; the MIME
# around it is written here, so the expected output is known byte for byte.
#
# Usage: read-gpgsm.sh READ_DRIVER   (CS_MAKE_FIXTURES, CS_FIXTURES_DIR set)
#
# Two gpgsm 2.2.40 facts this script works with:
# - it has no --passphrase option: "--passphrase cardseal" is taken as an
#   abbreviation of --passphrase-fd, so the PKCS#12 import cannot decrypt
#   ("decryption failed; trying charset ..."). The passphrase goes through
#   --passphrase-fd 3 instead, with --pinentry-mode loopback and
#   allow-loopback-pinentry in gpg-agent.conf.
# - it has no CRL for the test PKI: --disable-crl-checks; the root is
#   trusted through trustlist.txt.
set -u
driver=$1
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

if ! command -v gpgsm >/dev/null 2>&1 || ! command -v gpgconf >/dev/null 2>&1; then
	echo "1..0 # SKIP gpgsm not installed"
	exit 0
fi
"$CS_MAKE_FIXTURES" "$CS_FIXTURES_DIR" >/dev/null || { echo "Bail out! fixtures"; exit 1; }
pki=$CS_FIXTURES_DIR/pki
work=$(mktemp -d "${TMPDIR:-/tmp}/cs-gpgsm-XXXXXX")
export GNUPGHOME="$work/g"
mkdir -m 700 "$GNUPGHOME"
trap 'gpgconf --kill gpg-agent >/dev/null 2>&1; rm -rf "$work"' EXIT INT TERM
echo allow-loopback-pinentry >"$GNUPGHOME/gpg-agent.conf"
echo disable-crl-checks >"$GNUPGHOME/gpgsm.conf"
printf '%s\n' cardseal >"$work/pw"
G="gpgsm --batch --pinentry-mode loopback --passphrase-fd 3"

$G --import "$pki/bob-rsa.legacy.p12" 3<"$work/pw" >"$work/import.log" 2>&1
grep -q 'secret keys imported: 1' "$work/import.log"
ok $? "gpgsm imports bob-rsa.legacy.p12 (key and certificate)"
gpgsm --batch --import "$pki/root-ca.cert.pem" "$pki/inter-ca.cert.pem" >/dev/null 2>&1
fpr=$(openssl x509 -in "$pki/root-ca.cert.pem" -noout -fingerprint -sha1 | cut -d= -f2)
echo "$fpr S" >"$GNUPGHOME/trustlist.txt"

# The entity Bob signs, in canonical form.
printf 'Content-Type: text/plain; charset=us-ascii\r\n\r\nHello Alice,\r\nthis came from gpgsm.\r\n' >"$work/entity"
hdr='From: bob@example.org\r\nTo: alice@example.org\r\nSubject: gpgsm\r\nMIME-Version: 1.0\r\n'
# What cs_read gives: the outer fields, MIME-Version, the entity.
{ printf "$hdr"; cat "$work/entity"; } >"$work/expected"

read_check() {
	what=$1 msg=$2 want_verdict=$3
	shift 3
	"$driver" "$@" --anchors "$pki/root-ca.cert.pem" "$msg" "$work/out" >"$work/report"
	rc=$?
	ok $rc "$what: cs_read succeeds"
	grep -q "\"verdict\": \"$want_verdict\", \"from\"" "$work/report"
	ok $? "$what: verdict $want_verdict"
	cmp -s "$work/out" "$work/expected"
	ok $? "$what: plaintext is the original"
	[ $rc -eq 0 ] && [ "$want_verdict" = VALID ] && {
		grep -q '"signer": "bob@example.org", "email_matches": 1' "$work/report"
		ok $? "$what: signed by bob@example.org"
	}
	sed 's/^/# /' "$work/report"
}

# Opaque signed-data, base64 in application/pkcs7-mime.
$G -u bob@example.org --sign -o "$work/opaque.der" "$work/entity" 3<"$work/pw" >/dev/null 2>&1
ok $? "gpgsm --sign"
{
	printf "${hdr}Content-Type: application/pkcs7-mime; smime-type=signed-data; name=smime.p7m\r\n"
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	base64 "$work/opaque.der"
} >"$work/opaque.eml"
read_check "gpgsm opaque signed" "$work/opaque.eml" VALID

# Detached signature in a multipart/signed (built here as RFC 8551 3.5.3 says).
multipart_signed() { # ENTITY P7S
	printf 'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; '
	printf 'micalg=sha-256; boundary="gpgsm-b"\r\n\r\n--gpgsm-b\r\n'
	cat "$1"
	printf '\r\n--gpgsm-b\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n'
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	base64 "$2"
	printf '\r\n--gpgsm-b--\r\n'
}
$G -u bob@example.org --detach-sign -o "$work/det.p7s" "$work/entity" 3<"$work/pw" >/dev/null 2>&1
ok $? "gpgsm --detach-sign"
{ printf "$hdr"; multipart_signed "$work/entity" "$work/det.p7s"; } >"$work/det.eml"
read_check "gpgsm multipart/signed" "$work/det.eml" VALID

# Encrypted to Bob (gpgsm 2.2: EnvelopedData, AES-128-CBC, RSA v1.5).
enc_wrap() { # DER
	printf "${hdr}Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m\r\n"
	printf 'Content-Transfer-Encoding: base64\r\n\r\n'
	base64 "$1"
}
gpgsm --batch -r bob@example.org --encrypt -o "$work/enc.der" "$work/entity" >/dev/null 2>&1
ok $? "gpgsm --encrypt"
enc_wrap "$work/enc.der" >"$work/enc.eml"
read_check "gpgsm encrypted" "$work/enc.eml" UNSIGNED --id "$pki/bob-rsa.key.pem" "$pki/bob-rsa.cert.pem"

# Signed, then encrypted.
multipart_signed "$work/entity" "$work/det.p7s" >"$work/signed.part"
gpgsm --batch -r bob@example.org --encrypt -o "$work/se.der" "$work/signed.part" >/dev/null 2>&1
ok $? "gpgsm --encrypt of the signed entity"
enc_wrap "$work/se.der" >"$work/se.eml"
read_check "gpgsm signed then encrypted" "$work/se.eml" VALID --id "$pki/bob-rsa.key.pem" "$pki/bob-rsa.cert.pem"
grep -q '"kind": "encrypted", "cipher": "AES-128-CBC", "integrity": 0' "$work/report"
ok $? "gpgsm signed then encrypted: AES-128-CBC reported without integrity protection"

echo "1..$n"
exit $failed
