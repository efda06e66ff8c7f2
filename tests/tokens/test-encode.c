/*
 * Unit tests for the token helpers: DigestInfo, ECDSA signature forms and
 * PSS/OAEP parameters (tok_encode), OAEP and PKCS#1 v1.5 decoding (tok_oaep),
 * EC point checks (tok_ecpoint). OpenSSL is the reference: keys are generated
 * at run time and every encoding is checked against what OpenSSL produces or
 * accepts.
 */
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "cs_error.h"
#include "cs_secret.h"
#include "tap.h"
#include "tok_ecpoint.h"
#include "tok_encode.h"
#include "tok_oaep.h"

#define MAX_K 512

/* ---- OpenSSL helpers ---- */

static EVP_PKEY *
rsa_key(unsigned int bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static EVP_PKEY *
ec_key(const char *curve)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

/* RSA PKCS#1 v1.5 signature, with md (OpenSSL builds the DigestInfo) or without (tbs is one). */
static int
rsa_sign(EVP_PKEY *pkey, const EVP_MD *md, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
         size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	     (md == NULL || EVP_PKEY_CTX_set_signature_md(ctx, md) == 1) &&
	     EVP_PKEY_sign(ctx, sig, sig_len, tbs, tbs_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
rsa_encrypt(EVP_PKEY *pkey, int padding, const EVP_MD *md, const EVP_MD *mgf1, const uint8_t *label,
            size_t label_len, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	uint8_t *copy = NULL;
	int ok;

	ok = ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1;
	if (ok && padding == RSA_PKCS1_OAEP_PADDING) {
		ok = EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mgf1) == 1;
		if (ok && label != NULL) {
			/* set0 takes ownership of the label. */
			ok = (copy = OPENSSL_memdup(label, label_len)) != NULL &&
			     EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)label_len) == 1;
			if (!ok)
				OPENSSL_free(copy);
		}
	}
	ok = ok && EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* What CKM_RSA_X_509 on a token returns: c^d mod n as k bytes. */
static int
rsa_raw_decrypt(EVP_PKEY *pkey, const uint8_t *in, size_t in_len, uint8_t *out, size_t *out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
	     EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
ec_sign(EVP_PKEY *pkey, const uint8_t *dgst, size_t dlen, uint8_t *sig, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	     EVP_PKEY_sign(ctx, sig, sig_len, dgst, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
ec_verify(EVP_PKEY *pkey, const uint8_t *dgst, size_t dlen, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	int ok;

	ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_verify(ctx, sig, sig_len, dgst, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

/* OpenSSL's own DER for r||s, the reference for tok_ecdsa_raw_to_der. */
static int
openssl_sig_der(const uint8_t *raw, size_t rawlen, uint8_t *out, size_t *out_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, (int)(rawlen / 2), NULL);
	BIGNUM *s = BN_bin2bn(raw + rawlen / 2, (int)(rawlen / 2), NULL);
	unsigned char *p = out;
	int n = -1;

	if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
		r = s = NULL;
		n = i2d_ECDSA_SIG(sig, &p);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	if (n <= 0)
		return 0;
	*out_len = (size_t)n;
	return 1;
}

/* ---- DigestInfo ---- */

static void
test_digestinfo(EVP_PKEY *rsa)
{
	static const int nids[] = {NID_sha1,     NID_sha224,     NID_sha256,     NID_sha384,
	                           NID_sha512,   NID_sha512_224, NID_sha512_256, NID_sha3_224,
	                           NID_sha3_256, NID_sha3_384,   NID_sha3_512};
	static const uint8_t msg[] = "message signed on the card";
	uint8_t dgst[EVP_MAX_MD_SIZE], di[TOK_DIGESTINFO_MAX], sig1[MAX_K], sig2[MAX_K];
	size_t i, di_len, n1, n2, j;
	unsigned int dlen;
	int r, all_small;

	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		const EVP_MD *md = EVP_get_digestbynid(nids[i]);
		const char *name = OBJ_nid2sn(nids[i]);

		n1 = n2 = sizeof(sig1);
		r = md != NULL && EVP_Digest(msg, sizeof(msg), dgst, &dlen, md, NULL) == 1 ? 0 : -1;
		if (r == 0)
			r = tok_digestinfo(nids[i], dgst, dlen, di, sizeof(di), &di_len);
		CHECK(r == 0 && di_len <= TOK_DIGESTINFO_MAX && tok_md_size(nids[i]) == dlen,
		      "%s: DigestInfo built", name);
		/* PKCS#1 v1.5 signatures are deterministic: same key and EM, same bytes. */
		CHECK(r == 0 && rsa_sign(rsa, md, dgst, dlen, sig1, &n1) &&
		          rsa_sign(rsa, NULL, di, di_len, sig2, &n2) && n1 == n2 &&
		          memcmp(sig1, sig2, n1) == 0,
		      "%s: raw signature over our DigestInfo equals OpenSSL's RSA signature", name);
	}

	memset(dgst, 0xab, sizeof(dgst));
	CHECK_EQ_INT(tok_digestinfo(NID_sha256, dgst, 31, di, sizeof(di), &di_len),
	             CS_ERR_INVALID_ARG, "digest one byte short refused");
	CHECK_EQ_INT(tok_digestinfo(NID_sha256, dgst, 48, di, sizeof(di), &di_len),
	             CS_ERR_INVALID_ARG, "SHA-384-sized digest named SHA-256 refused");
	CHECK_EQ_INT(tok_digestinfo(NID_md5, dgst, 16, di, sizeof(di), &di_len), CS_ERR_INVALID_ARG,
	             "MD5 refused");
	CHECK_EQ_INT(tok_digestinfo(NID_sha256, NULL, 32, di, sizeof(di), &di_len),
	             CS_ERR_INVALID_ARG, "NULL digest refused");
	all_small = 1;
	for (j = 0; j < 51; j++)
		if (tok_digestinfo(NID_sha256, dgst, 32, di, j, &di_len) != CS_ERR_TOO_LARGE)
			all_small = 0;
	CHECK(all_small, "every out_size under 51 gives CS_ERR_TOO_LARGE");
	di_len = 0;
	CHECK(tok_digestinfo(NID_sha256, dgst, 32, di, 51, &di_len) == 0 && di_len == 51,
	      "exactly 51 bytes fit a SHA-256 DigestInfo");
	CHECK(tok_md_size(NID_md5) == 0, "no size for a digest we do not sign");
}

/* ---- ECDSA ---- */

/* Whether either half of r||s starts with a zero byte (or a set high bit). */
static int
has_lead(const uint8_t *raw, size_t half, uint8_t zero_or_high)
{
	if (zero_or_high == 0)
		return raw[0] == 0 || raw[half] == 0;
	return (raw[0] & 0x80) || (raw[half] & 0x80);
}

static void
test_ecdsa_curve(const char *curve, int md_nid, size_t half)
{
	EVP_PKEY *key = ec_key(curve);
	const EVP_MD *md = EVP_get_digestbynid(md_nid);
	uint8_t dgst[EVP_MAX_MD_SIZE], der[TOK_ECDSA_DER_MAX + 8], der2[TOK_ECDSA_DER_MAX];
	uint8_t raw[2 * TOK_ECDSA_MAX_HALF], ref[TOK_ECDSA_DER_MAX + 8];
	size_t der_len, der2_len, raw_len, ref_len;
	unsigned int dlen, tries;
	int ok = 1, seen_zero = 0, seen_high = 0, seen_long = 0, count = 0;

	CHECK(key != NULL && md != NULL, "%s: key generated", curve);
	if (key == NULL || md == NULL)
		return;
	/*
	 * Sign until the interesting shapes have turned up, and at least 32 times.
	 * For P-256 and P-384: a half with a leading zero byte (once in 128
	 * signatures; 4000 tries make missing it a 2^-45 event) and one with the
	 * high bit set. P-521's top byte is 00 or 01, never high: there the long
	 * SEQUENCE length is the shape to see.
	 */
	for (tries = 0; tries < 4000 && (count < 32 || !seen_zero || !(seen_high || half == 66));
	     tries++) {
		if (RAND_bytes(dgst, sizeof(dgst)) != 1 ||
		    EVP_Digest(dgst, sizeof(dgst), dgst, &dlen, md, NULL) != 1) {
			ok = 0;
			break;
		}
		der_len = sizeof(der);
		if (!ec_sign(key, dgst, dlen, der, &der_len) ||
		    tok_ecdsa_der_to_raw(der, der_len, half, raw, sizeof(raw), &raw_len) != 0 ||
		    raw_len != 2 * half ||
		    tok_ecdsa_raw_to_der(raw, raw_len, der2, sizeof(der2), &der2_len) != 0 ||
		    der2_len != der_len || memcmp(der, der2, der_len) != 0 ||
		    !openssl_sig_der(raw, raw_len, ref, &ref_len) || ref_len != der_len ||
		    memcmp(ref, der, der_len) != 0 || !ec_verify(key, dgst, dlen, der2, der2_len)) {
			ok = 0;
			break;
		}
		seen_zero |= has_lead(raw, half, 0);
		seen_high |= has_lead(raw, half, 0x80);
		seen_long |= der[1] == 0x81;
		count++;
	}
	CHECK(ok, "%s: %d signatures DER -> raw -> DER round-trip, match OpenSSL, verify", curve,
	      count);
	if (half == 66)
		CHECK(seen_zero && seen_long,
		      "%s: among them a half with a leading zero, long-form SEQUENCE lengths",
		      curve);
	else
		CHECK(seen_zero && seen_high,
		      "%s: among them halves with a leading zero and with the high bit set", curve);
	EVP_PKEY_free(key);
}

static void
test_ecdsa_edges(void)
{
	uint8_t raw[2 * TOK_ECDSA_MAX_HALF + 2], der[TOK_ECDSA_DER_MAX + 8],
	    ref[TOK_ECDSA_DER_MAX + 8];
	uint8_t back[2 * TOK_ECDSA_MAX_HALF];
	size_t der_len, ref_len, back_len, j;
	int ok;

	/* Hand-made halves: leading zero bytes, high bits, one-byte values. */
	static const uint8_t cases[][8] = {
	    {0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00}, /* r = 1, s high bit */
	    {0x00, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff}, /* zero then high bit; zero then 7f */
	    {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x80}, /* all ones; s = 0x80 */
	    {0x7f, 0x00, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04},
	};
	ok = 1;
	for (j = 0; j < sizeof(cases) / sizeof(cases[0]); j++) {
		if (tok_ecdsa_raw_to_der(cases[j], 8, der, sizeof(der), &der_len) != 0 ||
		    !openssl_sig_der(cases[j], 8, ref, &ref_len) || der_len != ref_len ||
		    memcmp(der, ref, der_len) != 0 ||
		    tok_ecdsa_der_to_raw(der, der_len, 4, back, sizeof(back), &back_len) != 0 ||
		    back_len != 8 || memcmp(back, cases[j], 8) != 0)
			ok = 0;
	}
	CHECK(ok, "edge halves (leading zeros, high bits) encode like OpenSSL and round-trip");

	memset(raw, 0x42, sizeof(raw));
	CHECK_EQ_INT(tok_ecdsa_raw_to_der(raw, 63, der, sizeof(der), &der_len), CS_ERR_BAD_FORMAT,
	             "odd raw length refused");
	CHECK_EQ_INT(tok_ecdsa_raw_to_der(raw, 0, der, sizeof(der), &der_len), CS_ERR_BAD_FORMAT,
	             "empty raw signature refused");
	CHECK_EQ_INT(
	    tok_ecdsa_raw_to_der(raw, 2 * TOK_ECDSA_MAX_HALF + 2, der, sizeof(der), &der_len),
	    CS_ERR_TOO_LARGE, "halves wider than P-521 refused");
	memset(raw, 0, 32);
	CHECK_EQ_INT(tok_ecdsa_raw_to_der(raw, 64, der, sizeof(der), &der_len), CS_ERR_BAD_FORMAT,
	             "r = 0 refused");
	memset(raw, 0x42, 32);
	memset(raw + 32, 0, 32);
	CHECK_EQ_INT(tok_ecdsa_raw_to_der(raw, 64, der, sizeof(der), &der_len), CS_ERR_BAD_FORMAT,
	             "s = 0 refused");

	/* P-256 with both high bits set: 2 + 2 * (2 + 33) = 72 bytes. */
	memset(raw, 0xc3, 64);
	ok = 1;
	for (j = 0; j < 72; j++)
		if (tok_ecdsa_raw_to_der(raw, 64, der, j, &der_len) != CS_ERR_TOO_LARGE)
			ok = 0;
	CHECK(ok, "every out_size under 72 gives CS_ERR_TOO_LARGE");
	CHECK(tok_ecdsa_raw_to_der(raw, 64, der, 72, &der_len) == 0 && der_len == 72,
	      "exactly 72 bytes fit");

	/* The inverse, strict: every proper prefix of a good signature is truncated. */
	ok = 1;
	for (j = 0; j < der_len; j++)
		if (tok_ecdsa_der_to_raw(der, j, 32, back, sizeof(back), &back_len) !=
		    CS_ERR_TRUNCATED)
			ok = 0;
	CHECK(ok, "every truncation of the DER gives CS_ERR_TRUNCATED");
	der[der_len] = 0x00;
	CHECK_EQ_INT(tok_ecdsa_der_to_raw(der, der_len + 1, 32, back, sizeof(back), &back_len),
	             CS_ERR_TRAILING, "byte after the SEQUENCE refused");
	CHECK_EQ_INT(tok_ecdsa_der_to_raw(der, der_len, 32, back, 63, &back_len), CS_ERR_TOO_LARGE,
	             "out under 2 * half_len refused");
	CHECK_EQ_INT(tok_ecdsa_der_to_raw(der, der_len, 31, back, sizeof(back), &back_len),
	             CS_ERR_BAD_FORMAT, "integer wider than half_len refused");
	CHECK_EQ_INT(tok_ecdsa_der_to_raw(der, der_len, 0, back, sizeof(back), &back_len),
	             CS_ERR_INVALID_ARG, "half_len 0 refused");
	CHECK_EQ_INT(tok_ecdsa_der_to_raw(der, der_len, 67, back, sizeof(back), &back_len),
	             CS_ERR_INVALID_ARG, "half_len over P-521 refused");

	{
		static const uint8_t neg[] = {0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01};
		static const uint8_t pad[] = {0x30, 0x07, 0x02, 0x02, 0x00, 0x7f, 0x02, 0x01, 0x01};
		static const uint8_t zero[] = {0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01};
		static const uint8_t empty[] = {0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01};
		static const uint8_t longlen[] = {0x30, 0x81, 0x06, 0x02, 0x01,
		                                  0x01, 0x02, 0x01, 0x01};
		static const uint8_t indef[] = {0x30, 0x80, 0x02, 0x01, 0x01,
		                                0x02, 0x01, 0x01, 0x00, 0x00};
		static const uint8_t tag[] = {0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
		static const uint8_t third[] = {0x30, 0x09, 0x02, 0x01, 0x01, 0x02,
		                                0x01, 0x01, 0x02, 0x01, 0x01};
		static const uint8_t one[] = {0x30, 0x03, 0x02, 0x01, 0x01};
		static const uint8_t good[] = {0x30, 0x07, 0x02, 0x02, 0x00,
		                               0x80, 0x02, 0x01, 0x01};

		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(neg, sizeof(neg), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "negative INTEGER refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(pad, sizeof(pad), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "non-minimal INTEGER refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(zero, sizeof(zero), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "zero INTEGER refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(empty, sizeof(empty), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "empty INTEGER refused");
		CHECK_EQ_INT(tok_ecdsa_der_to_raw(longlen, sizeof(longlen), 4, back, sizeof(back),
		                                  &back_len),
		             CS_ERR_BAD_FORMAT, "long-form length under 128 refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(indef, sizeof(indef), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "indefinite length refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(tag, sizeof(tag), 4, back, sizeof(back), &back_len),
		    CS_ERR_BAD_FORMAT, "SET instead of SEQUENCE refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(third, sizeof(third), 4, back, sizeof(back), &back_len),
		    CS_ERR_TRAILING, "third INTEGER refused");
		CHECK_EQ_INT(
		    tok_ecdsa_der_to_raw(one, sizeof(one), 4, back, sizeof(back), &back_len),
		    CS_ERR_TRUNCATED, "missing s refused");
		CHECK(tok_ecdsa_der_to_raw(good, sizeof(good), 4, back, sizeof(back), &back_len) ==
		              0 &&
		          back_len == 8 && memcmp(back, "\x00\x00\x00\x80\x00\x00\x00\x01", 8) == 0,
		      "small values left-padded to half_len");
	}
}

/* ---- PSS and OAEP parameters ---- */

/* OpenSSL signs PSS with saltlen MAX; verifying with exactly `salt` shows it is the max. */
static int
pss_max_is(EVP_PKEY *key, unsigned long salt)
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t dgst[32] = {1, 2, 3}, sig[MAX_K];
	size_t sig_len = sizeof(sig);
	int ok, v1 = 0, v2 = 1;

	ok = (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) != NULL &&
	     EVP_PKEY_sign_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_MAX) == 1 &&
	     EVP_PKEY_sign(ctx, sig, &sig_len, dgst, sizeof(dgst)) == 1;
	EVP_PKEY_CTX_free(ctx);
	ctx = NULL;
	if (ok) {
		ok = (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) != NULL &&
		     EVP_PKEY_verify_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)salt) == 1;
		v1 = ok && EVP_PKEY_verify(ctx, sig, sig_len, dgst, sizeof(dgst)) == 1;
		ok = ok && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)salt - 1) == 1;
		v2 = ok && EVP_PKEY_verify(ctx, sig, sig_len, dgst, sizeof(dgst)) == 1;
	}
	EVP_PKEY_CTX_free(ctx);
	return ok && v1 && !v2;
}

static void
test_params(EVP_PKEY *rsa2048, EVP_PKEY *rsa1025)
{
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	CK_MECHANISM_TYPE mech;
	CK_RSA_PKCS_MGF_TYPE mgf;
	static const uint8_t label[] = "label";

	CHECK(tok_ckm_from_md(NID_sha1, &mech) == 0 && mech == CKM_SHA_1 &&
	          tok_ckm_from_md(NID_sha224, &mech) == 0 && mech == CKM_SHA224 &&
	          tok_ckm_from_md(NID_sha256, &mech) == 0 && mech == CKM_SHA256 &&
	          tok_ckm_from_md(NID_sha384, &mech) == 0 && mech == CKM_SHA384 &&
	          tok_ckm_from_md(NID_sha512, &mech) == 0 && mech == CKM_SHA512,
	      "digest NIDs map to CKM_SHA_*");
	CHECK(tok_ckg_mgf1_from_md(NID_sha1, &mgf) == 0 && mgf == CKG_MGF1_SHA1 &&
	          tok_ckg_mgf1_from_md(NID_sha224, &mgf) == 0 && mgf == CKG_MGF1_SHA224 &&
	          tok_ckg_mgf1_from_md(NID_sha256, &mgf) == 0 && mgf == CKG_MGF1_SHA256 &&
	          tok_ckg_mgf1_from_md(NID_sha384, &mgf) == 0 && mgf == CKG_MGF1_SHA384 &&
	          tok_ckg_mgf1_from_md(NID_sha512, &mgf) == 0 && mgf == CKG_MGF1_SHA512,
	      "digest NIDs map to CKG_MGF1_*");
	CHECK(tok_ckm_from_md(NID_md5, &mech) == CS_ERR_INVALID_ARG &&
	          tok_ckg_mgf1_from_md(NID_sha3_256, &mgf) == CS_ERR_INVALID_ARG,
	      "digests PKCS#11 2.40 cannot name refused");

	CHECK(tok_pss_params(NID_sha256, NID_sha256, RSA_PSS_SALTLEN_DIGEST, 2048, &pss) == 0 &&
	          pss.hashAlg == CKM_SHA256 && pss.mgf == CKG_MGF1_SHA256 && pss.sLen == 32,
	      "PSS SHA-256, salt = digest length");
	CHECK(tok_pss_params(NID_sha384, NID_sha1, 20, 2048, &pss) == 0 &&
	          pss.hashAlg == CKM_SHA384 && pss.mgf == CKG_MGF1_SHA1 && pss.sLen == 20,
	      "PSS SHA-384 with MGF1-SHA-1 and an explicit salt");
	CHECK(tok_pss_params(NID_sha256, NID_sha256, RSA_PSS_SALTLEN_MAX, 2048, &pss) == 0 &&
	          pss.sLen == 222 && pss_max_is(rsa2048, pss.sLen),
	      "PSS max salt for 2048 bits is 222, as OpenSSL signs it");
	CHECK(tok_pss_params(NID_sha256, NID_sha256, RSA_PSS_SALTLEN_AUTO, 1025, &pss) == 0 &&
	          pss.sLen == 94 && pss_max_is(rsa1025, pss.sLen),
	      "PSS max salt for 1025 bits (emLen = k - 1) is 94, as OpenSSL signs it");
	CHECK_EQ_INT(tok_pss_params(NID_sha256, NID_sha256, 223, 2048, &pss), CS_ERR_INVALID_ARG,
	             "PSS salt over the maximum refused");
	CHECK_EQ_INT(tok_pss_params(NID_sha256, NID_sha256, -4, 2048, &pss), CS_ERR_INVALID_ARG,
	             "unknown negative saltlen refused");
	CHECK_EQ_INT(tok_pss_params(NID_sha512, NID_sha512, 0, 512, &pss), CS_ERR_INVALID_ARG,
	             "key too small for the digest refused");
	CHECK_EQ_INT(tok_pss_params(NID_md5, NID_sha256, 16, 2048, &pss), CS_ERR_INVALID_ARG,
	             "PSS with MD5 refused");

	CHECK(tok_oaep_params(NID_sha256, NID_sha1, label, 5, &oaep) == 0 &&
	          oaep.hashAlg == CKM_SHA256 && oaep.mgf == CKG_MGF1_SHA1 &&
	          oaep.source == CKZ_DATA_SPECIFIED && oaep.pSourceData == (void *)label &&
	          oaep.ulSourceDataLen == 5,
	      "OAEP parameters with a label");
	CHECK(tok_oaep_params(NID_sha1, NID_sha1, NULL, 0, &oaep) == 0 &&
	          oaep.pSourceData == NULL && oaep.ulSourceDataLen == 0,
	      "OAEP parameters without a label");
	CHECK_EQ_INT(tok_oaep_params(NID_sha1, NID_sha1, NULL, 3, &oaep), CS_ERR_INVALID_ARG,
	             "OAEP label length without a label refused");
}

/* ---- OAEP decoding ---- */

/* out ^= MGF1(seed, len): the test's own, so it can take an EM apart and rebuild it. */
static int
mgf1_xor(const EVP_MD *md, const uint8_t *seed, size_t seed_len, uint8_t *out, size_t len)
{
	uint8_t buf[MAX_K + 4], block[EVP_MAX_MD_SIZE];
	unsigned int n, c = 0;
	size_t done = 0, i;

	memcpy(buf, seed, seed_len);
	while (done < len) {
		buf[seed_len] = (uint8_t)(c >> 24);
		buf[seed_len + 1] = (uint8_t)(c >> 16);
		buf[seed_len + 2] = (uint8_t)(c >> 8);
		buf[seed_len + 3] = (uint8_t)c;
		if (EVP_Digest(buf, seed_len + 4, block, &n, md, NULL) != 1)
			return 0;
		for (i = 0; i < n && done < len; i++)
			out[done++] ^= block[i];
		c++;
	}
	return 1;
}

/* em -> seed, DB (in place: em[1..] becomes seed || DB). */
static int
oaep_unmask(uint8_t *em, size_t k, const EVP_MD *md, const EVP_MD *mgf1)
{
	size_t hlen = (size_t)EVP_MD_get_size(md);

	return mgf1_xor(mgf1, em + 1 + hlen, k - 1 - hlen, em + 1, hlen) &&
	       mgf1_xor(mgf1, em + 1, hlen, em + 1 + hlen, k - 1 - hlen);
}

/* The inverse of oaep_unmask. */
static int
oaep_mask(uint8_t *em, size_t k, const EVP_MD *md, const EVP_MD *mgf1)
{
	size_t hlen = (size_t)EVP_MD_get_size(md);

	return mgf1_xor(mgf1, em + 1, hlen, em + 1 + hlen, k - 1 - hlen) &&
	       mgf1_xor(mgf1, em + 1 + hlen, k - 1 - hlen, em + 1, hlen);
}

static int
decodes_to(const uint8_t *em, size_t k, int md, int mgf1, const uint8_t *label, size_t label_len,
           const uint8_t *want, size_t want_len)
{
	struct cs_secret *msg = NULL;
	int ok;

	ok = tok_oaep_decode(em, k, md, mgf1, label, label_len, &msg) == 0 && msg != NULL &&
	     cs_secret_equal(msg, want, want_len);
	cs_secret_free(msg);
	return ok;
}

struct oaep_case {
	int md;
	int mgf1;
	const char *label;
};

static void
test_oaep_case(EVP_PKEY *rsa, const struct oaep_case *c)
{
	const EVP_MD *md = EVP_get_digestbynid(c->md), *mgf1 = EVP_get_digestbynid(c->mgf1);
	const uint8_t *label = (const uint8_t *)c->label;
	size_t label_len = c->label != NULL ? strlen(c->label) : 0;
	size_t k = (size_t)EVP_PKEY_get_size(rsa), hlen = (size_t)EVP_MD_get_size(md);
	size_t dblen = k - hlen - 1, ct_len, em_len, sep, i;
	uint8_t pt[32], ct[MAX_K], em[MAX_K], db[MAX_K], lhash[EVP_MAX_MD_SIZE], bad[MAX_K];
	/* Failures must leave *ret_msg alone: a sentinel shows whether they did. */
	struct cs_secret *msg = (struct cs_secret *)1, *longest = NULL;
	char name[80];
	int ok;

	snprintf(name, sizeof(name), "OAEP %s/MGF1-%s%s", OBJ_nid2sn(c->md), OBJ_nid2sn(c->mgf1),
	         label != NULL ? " with label" : "");
	/* A fixed content key whose first byte is neither 00 nor 01 (see the separator cases). */
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(0xa5 + 7 * i);
	ct_len = sizeof(ct);
	em_len = sizeof(em);
	ok = rsa_encrypt(rsa, RSA_PKCS1_OAEP_PADDING, md, mgf1, label, label_len, pt, sizeof(pt),
	                 ct, &ct_len) &&
	     rsa_raw_decrypt(rsa, ct, ct_len, em, &em_len) && em_len == k;
	CHECK(ok, "%s: OpenSSL encrypts, raw decryption gives k bytes", name);
	if (!ok)
		return;
	CHECK(decodes_to(em, k, c->md, c->mgf1, label, label_len, pt, sizeof(pt)),
	      "%s: decodes to the plaintext", name);

	/* Take OpenSSL's EM apart to corrupt one region at a time; check we read it right. */
	memcpy(db, em, k);
	sep = dblen - sizeof(pt) - 1;
	ok = oaep_unmask(db, k, md, mgf1) &&
	     EVP_Digest(label, label_len, lhash, NULL, md, NULL) == 1 &&
	     memcmp(db + 1 + hlen, lhash, hlen) == 0 && db[1 + hlen + sep] == 0x01 &&
	     memcmp(db + 1 + hlen + sep + 1, pt, sizeof(pt)) == 0;
	CHECK(ok, "%s: test unmasking agrees with OpenSSL's encoding", name);

#define DECODE_FAILS(buf, mdn, mgfn, lab, labn)                                                    \
	(tok_oaep_decode((buf), k, (mdn), (mgfn), (lab), (labn), &msg) == CS_ERR_DECRYPT &&        \
	 msg == (struct cs_secret *)1)
/* Rebuild EM from db with one change; the decoder must refuse it. */
#define CORRUPT_DB(idx, val, what)                                                                 \
	do {                                                                                       \
		memcpy(bad, db, k);                                                                \
		bad[1 + hlen + (idx)] = (val);                                                     \
		CHECK(oaep_mask(bad, k, md, mgf1) &&                                               \
		          DECODE_FAILS(bad, c->md, c->mgf1, label, label_len),                     \
		      "%s: %s -> CS_ERR_DECRYPT", name, what);                                     \
	} while (0)

	memcpy(bad, em, k);
	bad[0] = 0x01;
	CHECK(DECODE_FAILS(bad, c->md, c->mgf1, label, label_len),
	      "%s: first byte 01 -> CS_ERR_DECRYPT", name);
	memcpy(bad, em, k);
	bad[1] ^= 0x01;
	CHECK(DECODE_FAILS(bad, c->md, c->mgf1, label, label_len),
	      "%s: masked seed bit -> CS_ERR_DECRYPT", name);
	memcpy(bad, em, k);
	bad[k - 1] ^= 0x80;
	CHECK(DECODE_FAILS(bad, c->md, c->mgf1, label, label_len),
	      "%s: masked DB bit -> CS_ERR_DECRYPT", name);
	CORRUPT_DB(0, db[1 + hlen] ^ 0x01, "first lHash byte");
	CORRUPT_DB(hlen - 1, db[1 + hlen + hlen - 1] ^ 0x80, "last lHash byte");
	CORRUPT_DB(hlen, 0x05, "first padding byte non-zero");
	CORRUPT_DB(sep - 1, 0xff, "last padding byte non-zero");
	CORRUPT_DB(sep, 0x02, "separator 01 -> 02");
	CORRUPT_DB(sep, 0x00, "separator 01 -> 00");

	/* No separator at all: DB is lHash and zeros. */
	memcpy(bad, db, k);
	memset(bad + 1 + hlen + hlen, 0, dblen - hlen);
	CHECK(oaep_mask(bad, k, md, mgf1) && DECODE_FAILS(bad, c->md, c->mgf1, label, label_len),
	      "%s: no separator -> CS_ERR_DECRYPT", name);

	/* Valid edge shapes built the same way: empty message, and no padding. */
	memcpy(bad, db, k);
	memset(bad + 1 + hlen + hlen, 0, dblen - hlen - 1);
	bad[k - 1] = 0x01;
	CHECK(oaep_mask(bad, k, md, mgf1) &&
	          decodes_to(bad, k, c->md, c->mgf1, label, label_len, (const uint8_t *)"", 0),
	      "%s: separator as the last byte -> empty message", name);
	memcpy(bad, db, k);
	bad[1 + hlen + hlen] = 0x01;
	CHECK(oaep_mask(bad, k, md, mgf1) &&
	          tok_oaep_decode(bad, k, c->md, c->mgf1, label, label_len, &longest) == 0 &&
	          cs_secret_len(longest) == dblen - hlen - 1 &&
	          memcmp(cs_secret_data(longest), db + 2 + 2 * hlen, dblen - hlen - 1) == 0,
	      "%s: no padding bytes -> longest message", name);
	cs_secret_free(longest);

	/* The wrong parameters on a good EM. */
	CHECK(DECODE_FAILS(em, c->md, c->mgf1, (const uint8_t *)"other", 5),
	      "%s: wrong label -> CS_ERR_DECRYPT", name);
	if (label != NULL)
		CHECK(DECODE_FAILS(em, c->md, c->mgf1, NULL, 0),
		      "%s: label missing -> CS_ERR_DECRYPT", name);
	CHECK(DECODE_FAILS(em, c->md == NID_sha384 ? NID_sha512 : NID_sha384, c->mgf1, label,
	                   label_len),
	      "%s: wrong hash -> CS_ERR_DECRYPT", name);
	CHECK(
	    DECODE_FAILS(em, c->md, c->mgf1 == NID_sha1 ? NID_sha256 : NID_sha1, label, label_len),
	    "%s: wrong MGF1 hash -> CS_ERR_DECRYPT", name);
#undef CORRUPT_DB
#undef DECODE_FAILS
}

static void
test_oaep(EVP_PKEY *rsa2048, EVP_PKEY *rsa1025)
{
	static const struct oaep_case cases[] = {
	    {NID_sha1, NID_sha1, NULL},          {NID_sha1, NID_sha1, "cardseal"},
	    {NID_sha256, NID_sha1, NULL},        {NID_sha256, NID_sha256, NULL},
	    {NID_sha256, NID_sha256, "a label"}, {NID_sha384, NID_sha384, NULL},
	    {NID_sha384, NID_sha1, "x"},         {NID_sha512, NID_sha256, "label for SHA-512"},
	};
	uint8_t pt[190], ct[MAX_K], em[MAX_K];
	size_t i, ct_len, em_len;
	struct cs_secret *msg = NULL;
	int ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		test_oaep_case(rsa2048, &cases[i]);

	/* The longest message OpenSSL will encrypt for 2048 bits and SHA-256: 256 - 66. */
	ct_len = sizeof(ct);
	em_len = sizeof(em);
	ok = RAND_bytes(pt, sizeof(pt)) == 1 &&
	     rsa_encrypt(rsa2048, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), EVP_sha256(), NULL, 0, pt,
	                 sizeof(pt), ct, &ct_len) &&
	     rsa_raw_decrypt(rsa2048, ct, ct_len, em, &em_len) &&
	     decodes_to(em, em_len, NID_sha256, NID_sha256, NULL, 0, pt, sizeof(pt));
	CHECK(ok, "OAEP: longest message for the key decodes");

	/* 1025 bits: k = 129, so the raw result often has a leading zero byte to keep. */
	ct_len = sizeof(ct);
	em_len = sizeof(em);
	ok = rsa_encrypt(rsa1025, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), EVP_sha1(), NULL, 0, pt, 16,
	                 ct, &ct_len) &&
	     rsa_raw_decrypt(rsa1025, ct, ct_len, em, &em_len) && em_len == 129 &&
	     decodes_to(em, em_len, NID_sha256, NID_sha1, NULL, 0, pt, 16);
	CHECK(ok, "OAEP: 1025-bit key (k = 129) decodes");

	CHECK_EQ_INT(tok_oaep_decode(em, 129, NID_sha512, NID_sha512, NULL, 0, &msg),
	             CS_ERR_INVALID_ARG, "OAEP: SHA-512 with k = 129 (< 2 * 64 + 2) refused");
	CHECK_EQ_INT(tok_oaep_decode(em, 129, NID_md5, NID_sha1, NULL, 0, &msg), CS_ERR_INVALID_ARG,
	             "OAEP: MD5 refused");
	CHECK_EQ_INT(tok_oaep_decode(em, 129, NID_sha1, NID_sha3_256, NULL, 0, &msg),
	             CS_ERR_INVALID_ARG, "OAEP: MGF1 with SHA3 refused");
	CHECK_EQ_INT(tok_oaep_decode(em, TOK_RSA_MAX_BYTES + 1, NID_sha1, NID_sha1, NULL, 0, &msg),
	             CS_ERR_INVALID_ARG, "OAEP: k over 8192 bits refused");
	CHECK_EQ_INT(tok_oaep_decode(em, 129, NID_sha1, NID_sha1, NULL, 4, &msg),
	             CS_ERR_INVALID_ARG, "OAEP: label length without a label refused");
	CHECK(msg == NULL, "OAEP: no message handed out on failure");
}

/* ---- PKCS#1 v1.5 decoding ---- */

/* 00 02 PS(ps_len, non-zero) 00 M, k bytes in all. */
static void
build_v15(uint8_t *em, size_t k, size_t ps_len, const uint8_t *m, size_t mlen)
{
	size_t i;

	em[0] = 0x00;
	em[1] = 0x02;
	for (i = 0; i < ps_len; i++)
		em[2 + i] = (uint8_t)(1 + (i * 37) % 255);
	em[2 + ps_len] = 0x00;
	memcpy(em + 3 + ps_len, m, mlen);
	(void)k;
}

static int
v15_decodes_to(const uint8_t *em, size_t k, size_t expected, const uint8_t *want, size_t want_len)
{
	struct cs_secret *msg = NULL;
	int ok;

	ok = tok_pkcs1v15_decode(em, k, expected, &msg) == 0 && msg != NULL &&
	     cs_secret_equal(msg, want, want_len);
	cs_secret_free(msg);
	return ok;
}

static int
v15_fails(const uint8_t *em, size_t k, size_t expected)
{
	struct cs_secret *msg = NULL;

	return tok_pkcs1v15_decode(em, k, expected, &msg) == CS_ERR_DECRYPT && msg == NULL;
}

static void
test_pkcs1v15(EVP_PKEY *rsa2048)
{
	uint8_t pt[32], ct[MAX_K], em[MAX_K], bad[MAX_K];
	size_t ct_len = sizeof(ct), em_len = sizeof(em), k = 256, i;
	struct cs_secret *msg = NULL;
	int ok;

	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(0x30 + i);
	ok = rsa_encrypt(rsa2048, RSA_PKCS1_PADDING, NULL, NULL, NULL, 0, pt, sizeof(pt), ct,
	                 &ct_len) &&
	     rsa_raw_decrypt(rsa2048, ct, ct_len, em, &em_len) && em_len == k;
	CHECK(ok, "v1.5: OpenSSL encrypts, raw decryption gives k bytes");
	CHECK(v15_decodes_to(em, k, 0, pt, sizeof(pt)), "v1.5: decodes, any length");
	CHECK(v15_decodes_to(em, k, 32, pt, sizeof(pt)), "v1.5: decodes, expected length 32");
	CHECK(v15_fails(em, k, 16), "v1.5: expected 16 bytes, got 32 -> CS_ERR_DECRYPT");
	CHECK(v15_fails(em, k, 33), "v1.5: expected 33 bytes, got 32 -> CS_ERR_DECRYPT");

	memcpy(bad, em, k);
	bad[0] = 0x01;
	CHECK(v15_fails(bad, k, 0), "v1.5: first byte 01 -> CS_ERR_DECRYPT");
	memcpy(bad, em, k);
	bad[1] = 0x01;
	CHECK(v15_fails(bad, k, 0), "v1.5: block type 01 -> CS_ERR_DECRYPT");
	memcpy(bad, em, k);
	bad[1] = 0x00;
	CHECK(v15_fails(bad, k, 0), "v1.5: block type 00 -> CS_ERR_DECRYPT");

	build_v15(bad, k, k - 3 - 32, pt, 32);
	CHECK(v15_decodes_to(bad, k, 32, pt, 32), "v1.5: built EM decodes");
	bad[2] = 0x00;
	CHECK(v15_fails(bad, k, 0), "v1.5: zero as the first padding byte -> CS_ERR_DECRYPT");
	build_v15(bad, k, k - 3 - 32, pt, 32);
	bad[9] = 0x00;
	CHECK(v15_fails(bad, k, 0), "v1.5: zero as the eighth padding byte -> CS_ERR_DECRYPT");
	build_v15(bad, k, 8, pt, 32);
	memset(bad + 11 + 32, 0x11, k - 11 - 32);
	CHECK(v15_decodes_to(bad, k, 0, bad + 11, k - 11), "v1.5: eight padding bytes suffice");
	build_v15(bad, k, k - 3 - 32, pt, 32);
	bad[k - 33] = 0x07;
	CHECK(v15_fails(bad, k, 0), "v1.5: no zero separator -> CS_ERR_DECRYPT");
	build_v15(bad, k, k - 3, pt, 0);
	CHECK(v15_decodes_to(bad, k, 0, pt, 0),
	      "v1.5: separator as the last byte -> empty message");
	CHECK(v15_fails(bad, k, 32),
	      "v1.5: empty message where 32 bytes expected -> CS_ERR_DECRYPT");

	CHECK_EQ_INT(tok_pkcs1v15_decode(em, 10, 0, &msg), CS_ERR_INVALID_ARG,
	             "v1.5: k under 11 refused");
	CHECK_EQ_INT(tok_pkcs1v15_decode(em, TOK_RSA_MAX_BYTES + 1, 0, &msg), CS_ERR_INVALID_ARG,
	             "v1.5: k over 8192 bits refused");
	CHECK(msg == NULL, "v1.5: no message handed out on failure");
}

/* ---- EC points ---- */

static void
test_ec_curve(const char *curve, int nid, size_t field_len)
{
	EVP_PKEY *key = ec_key(curve);
	EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *pt = NULL;
	uint8_t pub[TOK_EC_POINT_MAX + 2], comp[TOK_EC_POINT_MAX], out[TOK_EC_POINT_MAX + 8];
	uint8_t bad[TOK_EC_POINT_MAX + 2], der[TOK_EC_POINT_DER_MAX + 8],
	    ref[TOK_EC_POINT_DER_MAX + 8];
	uint8_t *refp = ref;
	ASN1_OCTET_STRING *os = NULL;
	size_t pub_len = 0, comp_len = 0, out_len, der_len, i;
	int ref_len = -1, ok;

	ok = key != NULL && group != NULL && (pt = EC_POINT_new(group)) != NULL &&
	     EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
	                                     sizeof(pub), &pub_len) == 1 &&
	     pub_len == 1 + 2 * field_len && pub[0] == 0x04 &&
	     EC_POINT_oct2point(group, pt, pub, pub_len, NULL) == 1 &&
	     (comp_len = EC_POINT_point2oct(group, pt, POINT_CONVERSION_COMPRESSED, comp,
	                                    sizeof(comp), NULL)) == 1 + field_len;
	CHECK(ok, "%s: key and its point, uncompressed and compressed", curve);
	if (!ok)
		goto out;
	CHECK_EQ_INT(tok_ec_point_check(nid, pub, pub_len), 0, "%s: uncompressed point accepted",
	             curve);
	CHECK_EQ_INT(tok_ec_point_check(nid, comp, comp_len), 0, "%s: compressed point accepted",
	             curve);
	CHECK(tok_ec_point_uncompressed(nid, comp, comp_len, out, sizeof(out), &out_len) == 0 &&
	          out_len == pub_len && memcmp(out, pub, pub_len) == 0,
	      "%s: compressed point expands to the uncompressed one", curve);
	CHECK(tok_ec_point_uncompressed(nid, pub, pub_len, out, sizeof(out), &out_len) == 0 &&
	          out_len == pub_len && memcmp(out, pub, pub_len) == 0,
	      "%s: uncompressed point stays as it is", curve);
	CHECK_EQ_INT(tok_ec_point_uncompressed(nid, pub, pub_len, out, pub_len - 1, &out_len),
	             CS_ERR_TOO_LARGE, "%s: short out refused", curve);

	memcpy(bad, pub, pub_len);
	bad[pub_len - 1] ^= 0x01;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, pub_len), CS_ERR_BAD_FORMAT,
	             "%s: Y with a bit flipped (off the curve) refused", curve);
	CHECK_EQ_INT(tok_ec_point_uncompressed(nid, bad, pub_len, out, sizeof(out), &out_len),
	             CS_ERR_BAD_FORMAT, "%s: and not expanded either", curve);
	memcpy(bad, pub, pub_len);
	bad[1] ^= 0x01;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, pub_len), CS_ERR_BAD_FORMAT,
	             "%s: X with a bit flipped refused", curve);
	/* P-521's top byte is 0x01 at most; a coordinate of all ones is over p on every curve. */
	memcpy(bad, comp, comp_len);
	memset(bad + 1, 0xff, field_len);
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, comp_len), CS_ERR_BAD_FORMAT,
	             "%s: compressed X >= p refused", curve);
	CHECK_EQ_INT(tok_ec_point_check(nid, pub, pub_len - 1), CS_ERR_BAD_FORMAT,
	             "%s: uncompressed point one byte short refused", curve);
	memcpy(bad, pub, pub_len);
	bad[pub_len] = 0x00;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, pub_len + 1), CS_ERR_BAD_FORMAT,
	             "%s: uncompressed point one byte long refused", curve);
	CHECK_EQ_INT(tok_ec_point_check(nid, comp, comp_len + 1), CS_ERR_BAD_FORMAT,
	             "%s: compressed point one byte long refused", curve);
	memcpy(bad, comp, comp_len);
	bad[0] = 0x04;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, comp_len), CS_ERR_BAD_FORMAT,
	             "%s: X alone with prefix 04 refused", curve);
	/* Hybrid: 06 or 07 by Y's parity, then X and Y. OpenSSL would take it. */
	memcpy(bad, pub, pub_len);
	bad[0] = (uint8_t)(0x06 | (pub[pub_len - 1] & 1));
	CHECK(EC_POINT_oct2point(group, pt, bad, pub_len, NULL) == 1 &&
	          tok_ec_point_check(nid, bad, pub_len) == CS_ERR_BAD_FORMAT,
	      "%s: hybrid form refused (OpenSSL alone would accept it)", curve);
	bad[0] = 0x00;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, 1), CS_ERR_BAD_FORMAT,
	             "%s: point at infinity (00) refused", curve);
	memset(bad, 0, pub_len);
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, pub_len), CS_ERR_BAD_FORMAT,
	             "%s: all-zero point refused", curve);
	bad[0] = 0x04;
	CHECK_EQ_INT(tok_ec_point_check(nid, bad, pub_len), CS_ERR_BAD_FORMAT, "%s: (0, 0) refused",
	             curve);
	CHECK_EQ_INT(tok_ec_point_check(nid, pub, 0), CS_ERR_BAD_FORMAT, "%s: empty point refused",
	             curve);

	/* The DER OCTET STRING form, against OpenSSL's encoder. */
	ok = (os = ASN1_OCTET_STRING_new()) != NULL &&
	     ASN1_OCTET_STRING_set(os, pub, (int)pub_len) == 1 &&
	     (ref_len = i2d_ASN1_OCTET_STRING(os, &refp)) > 0;
	CHECK(ok &&
	          tok_ec_point_to_der_octet_string(pub, pub_len, der, sizeof(der), &der_len) == 0 &&
	          der_len == (size_t)ref_len && memcmp(der, ref, der_len) == 0,
	      "%s: DER OCTET STRING of the point matches OpenSSL's", curve);
	ok = 1;
	for (i = 0; i < der_len; i++)
		if (tok_ec_point_to_der_octet_string(pub, pub_len, der, i, &out_len) !=
		    CS_ERR_TOO_LARGE)
			ok = 0;
	CHECK(ok, "%s: every out_size under %zu gives CS_ERR_TOO_LARGE", curve, der_len);
out:
	ASN1_OCTET_STRING_free(os);
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	EVP_PKEY_free(key);
}

static void
test_ec_misc(void)
{
	static const int nids[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
	uint8_t der[64], big[300], out[8];
	unsigned char *p;
	size_t i, out_len;
	int n, nid, ok;

	memset(big, 0x04, sizeof(big));
	CHECK_EQ_INT(tok_ec_point_check(NID_secp256k1, big, 65), CS_ERR_INVALID_ARG,
	             "secp256k1 is not one of our curves");
	CHECK_EQ_INT(tok_ec_point_check(NID_X9_62_prime256v1, NULL, 65), CS_ERR_BAD_FORMAT,
	             "NULL point refused");
	CHECK_EQ_INT(tok_ec_point_to_der_octet_string(big, 256, big, sizeof(big), &out_len),
	             CS_ERR_TOO_LARGE, "point of 256 bytes too large for the OCTET STRING helper");
	CHECK_EQ_INT(tok_ec_point_to_der_octet_string(big, 0, out, sizeof(out), &out_len),
	             CS_ERR_INVALID_ARG, "empty point refused by the OCTET STRING helper");

	ok = 1;
	for (i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		p = der;
		nid = 0;
		n = i2d_ASN1_OBJECT(OBJ_nid2obj(nids[i]), &p);
		if (n <= 0 || tok_ec_curve_from_params(der, (size_t)n, &nid) != 0 || nid != nids[i])
			ok = 0;
	}
	CHECK(ok, "CKA_EC_PARAMS OIDs from OpenSSL's encoder name P-256, P-384, P-521");
	p = der;
	n = i2d_ASN1_OBJECT(OBJ_nid2obj(NID_secp256k1), &p);
	CHECK(n > 0 && tok_ec_curve_from_params(der, (size_t)n, &nid) == CS_ERR_BAD_FORMAT,
	      "CKA_EC_PARAMS for secp256k1 refused");
	p = der;
	n = i2d_ASN1_OBJECT(OBJ_nid2obj(NID_secp384r1), &p);
	der[n] = 0x00;
	CHECK(tok_ec_curve_from_params(der, (size_t)n + 1, &nid) == CS_ERR_BAD_FORMAT &&
	          tok_ec_curve_from_params(der, (size_t)n - 1, &nid) == CS_ERR_BAD_FORMAT,
	      "CKA_EC_PARAMS with a trailing byte or one missing refused");
	CHECK(tok_ec_curve_from_params((const uint8_t *)"\x05\x00", 2, &nid) == CS_ERR_BAD_FORMAT &&
	          tok_ec_curve_from_params(der, 0, &nid) == CS_ERR_BAD_FORMAT,
	      "implicitCA (NULL) and empty CKA_EC_PARAMS refused");
}

int
main(void)
{
	EVP_PKEY *rsa2048 = rsa_key(2048), *rsa1025 = rsa_key(1025);

	CHECK(rsa2048 != NULL && rsa1025 != NULL, "RSA keys generated");
	if (rsa2048 == NULL || rsa1025 == NULL)
		return tap_done();

	test_digestinfo(rsa2048);
	test_ecdsa_curve("P-256", NID_sha256, 32);
	test_ecdsa_curve("P-384", NID_sha384, 48);
	test_ecdsa_curve("P-521", NID_sha512, 66);
	test_ecdsa_edges();
	test_params(rsa2048, rsa1025);
	test_oaep(rsa2048, rsa1025);
	test_pkcs1v15(rsa2048);
	test_ec_curve("P-256", NID_X9_62_prime256v1, 32);
	test_ec_curve("P-384", NID_secp384r1, 48);
	test_ec_curve("P-521", NID_secp521r1, 66);
	test_ec_misc();

	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(rsa1025);
	return tap_done();
}
