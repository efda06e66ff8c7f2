#include "tok_encode.h"
#include "cs_error.h"

#include <string.h>

#include <openssl/obj_mac.h>
#include <openssl/rsa.h>

/*
 * DigestInfo prefixes: SEQUENCE { SEQUENCE { OID, NULL }, OCTET STRING (dlen) }
 * up to the digest. Fixed bytes rather than an ASN.1 encoder: they are
 * standard (RFC 8017 9.2 note 1, NIST for SHA-3) and there is nothing to get
 * wrong at run time. The NULL parameters are explicit for every digest, which
 * is what verifiers of SHA-2 signatures expect.
 */
struct digestinfo_prefix {
	int nid;
	uint8_t dlen;
	uint8_t len;
	uint8_t prefix[19];
};

/* SHA-1's 15 bytes, OID 1.3.14.3.2.26. */
#define SHA1_PREFIX                                                                                \
	{                                                                                          \
		0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00,      \
		    0x04, 0x14                                                                     \
	}

/* The 19-byte form: a 9-byte NIST OID under 2.16.840.1.101.3.4.2 (arc `last`). */
#define NIST_PREFIX(total, last, dl)                                                               \
	{                                                                                          \
		0x30, (total), 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,   \
		    0x02, (last), 0x05, 0x00, 0x04, (dl)                                           \
	}

static const struct digestinfo_prefix prefixes[] = {
    {NID_sha1, 20, 15, SHA1_PREFIX},
    {NID_sha224, 28, 19, NIST_PREFIX(0x2d, 0x04, 0x1c)},
    {NID_sha256, 32, 19, NIST_PREFIX(0x31, 0x01, 0x20)},
    {NID_sha384, 48, 19, NIST_PREFIX(0x41, 0x02, 0x30)},
    {NID_sha512, 64, 19, NIST_PREFIX(0x51, 0x03, 0x40)},
    {NID_sha512_224, 28, 19, NIST_PREFIX(0x2d, 0x05, 0x1c)},
    {NID_sha512_256, 32, 19, NIST_PREFIX(0x31, 0x06, 0x20)},
    {NID_sha3_224, 28, 19, NIST_PREFIX(0x2d, 0x07, 0x1c)},
    {NID_sha3_256, 32, 19, NIST_PREFIX(0x31, 0x08, 0x20)},
    {NID_sha3_384, 48, 19, NIST_PREFIX(0x41, 0x09, 0x30)},
    {NID_sha3_512, 64, 19, NIST_PREFIX(0x51, 0x0a, 0x40)},
};

static const struct digestinfo_prefix *
find_prefix(int md_nid)
{
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (prefixes[i].nid == md_nid)
			return &prefixes[i];
	return NULL;
}

size_t
tok_md_size(int md_nid)
{
	const struct digestinfo_prefix *d = find_prefix(md_nid);

	return d != NULL ? d->dlen : 0;
}

int
tok_digestinfo(int md_nid, const uint8_t *digest, size_t dlen, uint8_t *out, size_t out_size,
               size_t *ret_len)
{
	const struct digestinfo_prefix *d = find_prefix(md_nid);

	/* A digest of the wrong size would be signed as if it were right. */
	if (d == NULL || digest == NULL || dlen != d->dlen)
		return CS_ERR_INVALID_ARG;
	if (out_size < (size_t)d->len + dlen)
		return CS_ERR_TOO_LARGE;
	memcpy(out, d->prefix, d->len);
	memcpy(out + d->len, digest, dlen);
	*ret_len = (size_t)d->len + dlen;
	return 0;
}

/* ---- ECDSA signatures ---- */

/* Bytes to write a DER length n (< 256, all we need). */
static size_t
der_len_size(size_t n)
{
	return n < 0x80 ? 1 : 2;
}

static uint8_t *
der_put_len(uint8_t *p, size_t n)
{
	if (n >= 0x80)
		*p++ = 0x81;
	*p++ = (uint8_t)n;
	return p;
}

/* The magnitude of a big-endian unsigned integer without its leading zeros. */
static void
strip_zeros(const uint8_t *p, size_t n, const uint8_t **ret_p, size_t *ret_n)
{
	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	*ret_p = p;
	*ret_n = n;
}

/* Content length of a minimal DER INTEGER for a stripped, non-zero magnitude of n bytes. */
static size_t
int_content_len(const uint8_t *p, size_t n)
{
	/* A set high bit would read as negative: a zero byte keeps it positive. */
	return n + ((p[0] & 0x80) ? 1 : 0);
}

static uint8_t *
der_put_int(uint8_t *out, const uint8_t *p, size_t n)
{
	size_t clen = int_content_len(p, n);

	*out++ = 0x02;
	out = der_put_len(out, clen);
	if (clen > n)
		*out++ = 0x00;
	memcpy(out, p, n);
	return out + n;
}

int
tok_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t *out, size_t out_size,
                     size_t *ret_len)
{
	const uint8_t *r, *s;
	size_t half, rn, sn, rlen, slen, seqlen, total;
	uint8_t *p;

	if (raw == NULL || rawlen == 0 || rawlen % 2 != 0)
		return CS_ERR_BAD_FORMAT;
	half = rawlen / 2;
	if (half > TOK_ECDSA_MAX_HALF)
		return CS_ERR_TOO_LARGE;
	strip_zeros(raw, half, &r, &rn);
	strip_zeros(raw + half, half, &s, &sn);
	/* ECDSA never yields zero; a token that says so is broken, not a signer. */
	if (rn == 0 || sn == 0)
		return CS_ERR_BAD_FORMAT;

	rlen = int_content_len(r, rn);
	slen = int_content_len(s, sn);
	seqlen = 1 + der_len_size(rlen) + rlen + 1 + der_len_size(slen) + slen;
	total = 1 + der_len_size(seqlen) + seqlen;
	if (out_size < total)
		return CS_ERR_TOO_LARGE;

	p = out;
	*p++ = 0x30;
	p = der_put_len(p, seqlen);
	p = der_put_int(p, r, rn);
	p = der_put_int(p, s, sn);
	*ret_len = (size_t)(p - out);
	return 0;
}

/* A read cursor over DER; every read checks what is left by subtraction. */
struct der_reader {
	const uint8_t *p;
	size_t left;
};

/*
 * Reads one TLV with the given tag and a minimal definite length under 256.
 * Returns 0, CS_ERR_TRUNCATED or CS_ERR_BAD_FORMAT.
 */
static int
der_read_tlv(struct der_reader *d, uint8_t tag, const uint8_t **ret_p, size_t *ret_n)
{
	size_t n;

	if (d->left < 2)
		return CS_ERR_TRUNCATED;
	if (d->p[0] != tag)
		return CS_ERR_BAD_FORMAT;
	n = d->p[1];
	d->p += 2;
	d->left -= 2;
	if (n == 0x81) {
		if (d->left < 1)
			return CS_ERR_TRUNCATED;
		n = d->p[0];
		d->p++;
		d->left--;
		/* Long form for a length the short form can say is not DER. */
		if (n < 0x80)
			return CS_ERR_BAD_FORMAT;
	} else if (n >= 0x80) {
		/* Indefinite or longer than 255: never in an ECDSA signature. */
		return CS_ERR_BAD_FORMAT;
	}
	if (d->left < n)
		return CS_ERR_TRUNCATED;
	*ret_p = d->p;
	*ret_n = n;
	d->p += n;
	d->left -= n;
	return 0;
}

/* Reads a positive minimal INTEGER of at most half_len bytes of magnitude. */
static int
der_read_uint(struct der_reader *d, size_t half_len, const uint8_t **ret_p, size_t *ret_n)
{
	const uint8_t *p;
	size_t n;
	int r;

	if ((r = der_read_tlv(d, 0x02, &p, &n)) != 0)
		return r;
	if (n == 0 || (p[0] & 0x80))
		return CS_ERR_BAD_FORMAT; /* empty or negative */
	if (p[0] == 0x00) {
		/* A leading zero is only there to clear a high bit. */
		if (n == 1 || !(p[1] & 0x80))
			return CS_ERR_BAD_FORMAT; /* zero, or not minimal */
		p++;
		n--;
	}
	if (n > half_len)
		return CS_ERR_BAD_FORMAT;
	*ret_p = p;
	*ret_n = n;
	return 0;
}

int
tok_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t half_len, uint8_t *out,
                     size_t out_size, size_t *ret_len)
{
	struct der_reader d = {der, derlen}, seq;
	const uint8_t *r, *s;
	size_t rn, sn;
	int ret;

	if (half_len == 0 || half_len > TOK_ECDSA_MAX_HALF)
		return CS_ERR_INVALID_ARG;
	if (der == NULL)
		return CS_ERR_TRUNCATED;
	if ((ret = der_read_tlv(&d, 0x30, &seq.p, &seq.left)) != 0)
		return ret;
	if (d.left != 0)
		return CS_ERR_TRAILING;
	if ((ret = der_read_uint(&seq, half_len, &r, &rn)) != 0 ||
	    (ret = der_read_uint(&seq, half_len, &s, &sn)) != 0)
		return ret;
	if (seq.left != 0)
		return CS_ERR_TRAILING;
	if (out_size < 2 * half_len)
		return CS_ERR_TOO_LARGE;

	memset(out, 0, 2 * half_len);
	memcpy(out + half_len - rn, r, rn);
	memcpy(out + 2 * half_len - sn, s, sn);
	*ret_len = 2 * half_len;
	return 0;
}

/* ---- Mechanism parameters ---- */

int
tok_ckm_from_md(int md_nid, CK_MECHANISM_TYPE *ret_mech)
{
	switch (md_nid) {
	case NID_sha1:
		*ret_mech = CKM_SHA_1;
		return 0;
	case NID_sha224:
		*ret_mech = CKM_SHA224;
		return 0;
	case NID_sha256:
		*ret_mech = CKM_SHA256;
		return 0;
	case NID_sha384:
		*ret_mech = CKM_SHA384;
		return 0;
	case NID_sha512:
		*ret_mech = CKM_SHA512;
		return 0;
	default:
		return CS_ERR_INVALID_ARG;
	}
}

int
tok_ckg_mgf1_from_md(int md_nid, CK_RSA_PKCS_MGF_TYPE *ret_mgf)
{
	switch (md_nid) {
	case NID_sha1:
		*ret_mgf = CKG_MGF1_SHA1;
		return 0;
	case NID_sha224:
		*ret_mgf = CKG_MGF1_SHA224;
		return 0;
	case NID_sha256:
		*ret_mgf = CKG_MGF1_SHA256;
		return 0;
	case NID_sha384:
		*ret_mgf = CKG_MGF1_SHA384;
		return 0;
	case NID_sha512:
		*ret_mgf = CKG_MGF1_SHA512;
		return 0;
	default:
		return CS_ERR_INVALID_ARG;
	}
}

int
tok_pss_params(int md_nid, int mgf1_nid, int saltlen, unsigned int mod_bits,
               CK_RSA_PKCS_PSS_PARAMS *ret)
{
	CK_MECHANISM_TYPE mech;
	CK_RSA_PKCS_MGF_TYPE mgf;
	size_t hlen = tok_md_size(md_nid), em_len, max_salt, salt;
	int r;

	if ((r = tok_ckm_from_md(md_nid, &mech)) != 0 ||
	    (r = tok_ckg_mgf1_from_md(mgf1_nid, &mgf)) != 0)
		return r;
	/* RFC 8017 9.1.1: emLen = ceil((modBits - 1) / 8) must hold hash, salt and two bytes. */
	if (mod_bits < 2)
		return CS_ERR_INVALID_ARG;
	em_len = ((size_t)mod_bits - 1 + 7) / 8;
	if (em_len < hlen + 2)
		return CS_ERR_INVALID_ARG;
	max_salt = em_len - hlen - 2;
	if (saltlen >= 0)
		salt = (size_t)saltlen;
	else if (saltlen == RSA_PSS_SALTLEN_DIGEST)
		salt = hlen;
	else if (saltlen == RSA_PSS_SALTLEN_MAX || saltlen == RSA_PSS_SALTLEN_AUTO)
		salt = max_salt;
	else
		return CS_ERR_INVALID_ARG;
	if (salt > max_salt)
		return CS_ERR_INVALID_ARG;

	ret->hashAlg = mech;
	ret->mgf = mgf;
	ret->sLen = salt;
	return 0;
}

int
tok_oaep_params(int md_nid, int mgf1_nid, const uint8_t *label, size_t label_len,
                CK_RSA_PKCS_OAEP_PARAMS *ret)
{
	CK_MECHANISM_TYPE mech;
	CK_RSA_PKCS_MGF_TYPE mgf;
	int r;

	if ((r = tok_ckm_from_md(md_nid, &mech)) != 0 ||
	    (r = tok_ckg_mgf1_from_md(mgf1_nid, &mgf)) != 0)
		return r;
	if (label == NULL && label_len != 0)
		return CS_ERR_INVALID_ARG;

	ret->hashAlg = mech;
	ret->mgf = mgf;
	ret->source = CKZ_DATA_SPECIFIED;
	/* PKCS#11 declares the label non-const; the token only reads it. */
	ret->pSourceData = label_len != 0 ? (void *)label : NULL;
	ret->ulSourceDataLen = label_len;
	return 0;
}
