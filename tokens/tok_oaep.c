#include "tok_oaep.h"
#include "cs_buf.h"
#include "cs_error.h"
#include "cs_secret.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>

/*
 * Constant-time helpers over size_t: masks are all ones (true) or all zeros
 * (false), made by arithmetic on the top bit rather than by comparison, which
 * the compiler may turn into a branch. The pattern is OpenSSL's and BoringSSL's.
 */
static inline size_t
ct_barrier(size_t a)
{
	/* The optimiser cannot see through this, so cannot rebuild a branch from a mask. */
	__asm__("" : "+r"(a));
	return a;
}

static inline size_t
ct_msb(size_t a)
{
	return 0 - (a >> (sizeof(a) * 8 - 1));
}

static inline size_t
ct_is_zero(size_t a)
{
	return ct_msb(~a & (a - 1));
}

static inline size_t
ct_eq(size_t a, size_t b)
{
	return ct_is_zero(a ^ b);
}

static inline size_t
ct_lt(size_t a, size_t b)
{
	return ct_msb(a ^ ((a ^ b) | ((a - b) ^ a)));
}

static inline size_t
ct_select(size_t mask, size_t a, size_t b)
{
	return (ct_barrier(mask) & a) | (ct_barrier(~mask) & b);
}

/* The digests OAEP may name; fetched so the caller frees it. NULL for others. */
static EVP_MD *
fetch_md(int nid)
{
	switch (nid) {
	case NID_sha1:
	case NID_sha224:
	case NID_sha256:
	case NID_sha384:
	case NID_sha512:
		return EVP_MD_fetch(NULL, OBJ_nid2sn(nid), NULL);
	default:
		return NULL;
	}
}

/*
 * Appends masked XOR MGF1(seed, len) to out (RFC 8017 B.2.1). The mask is made
 * one digest block at a time in a stack buffer that is wiped, so the unmasked
 * bytes are whole only in the locked secret. The work depends on len alone.
 * Returns 0, CS_ERR_NOMEM or CS_ERR_INTERNAL.
 */
static int
mgf1_unmask(const EVP_MD *mgf1, const uint8_t *seed, size_t seed_len, const uint8_t *masked,
            size_t len, struct cs_secret *out)
{
	EVP_MD_CTX *ctx;
	uint8_t block[EVP_MAX_MD_SIZE], ctr[4];
	size_t hlen = (size_t)EVP_MD_get_size(mgf1), done, n, i;
	uint32_t counter;
	int r;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return CS_ERR_NOMEM;
	for (done = 0, counter = 0; done < len; done += n, counter++) {
		ctr[0] = (uint8_t)(counter >> 24);
		ctr[1] = (uint8_t)(counter >> 16);
		ctr[2] = (uint8_t)(counter >> 8);
		ctr[3] = (uint8_t)counter;
		if (EVP_DigestInit_ex(ctx, mgf1, NULL) != 1 ||
		    EVP_DigestUpdate(ctx, seed, seed_len) != 1 ||
		    EVP_DigestUpdate(ctx, ctr, sizeof(ctr)) != 1 ||
		    EVP_DigestFinal_ex(ctx, block, NULL) != 1) {
			r = CS_ERR_INTERNAL;
			goto out;
		}
		n = len - done < hlen ? len - done : hlen;
		for (i = 0; i < n; i++)
			block[i] ^= masked[done + i];
		if ((r = cs_secret_append(out, block, n)) != 0)
			goto out;
	}
	r = 0;
out:
	cs_wipe(block, sizeof(block));
	EVP_MD_CTX_free(ctx);
	return r;
}

int
tok_oaep_decode(const uint8_t *em, size_t k, int md_nid, int mgf1_nid, const uint8_t *label,
                size_t label_len, struct cs_secret **ret_msg)
{
	EVP_MD *md = NULL, *mgf1 = NULL;
	struct cs_secret *seed = NULL, *db = NULL, *msg;
	uint8_t lhash[EVP_MAX_MD_SIZE];
	const uint8_t *masked_seed, *masked_db, *p;
	size_t hlen, dblen, i, good, found, one_index, is_one;
	int r;

	if (em == NULL || (label == NULL && label_len != 0)) {
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	if ((md = fetch_md(md_nid)) == NULL || (mgf1 = fetch_md(mgf1_nid)) == NULL) {
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	/* em = 00 || maskedSeed (hLen) || maskedDB; DB = lHash || PS (zeros) || 01 || M. */
	hlen = (size_t)EVP_MD_get_size(md);
	if (k < 2 * hlen + 2 || k > TOK_RSA_MAX_BYTES) {
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	dblen = k - hlen - 1;
	masked_seed = em + 1;
	masked_db = em + 1 + hlen;

	/* seed and DB are as secret as the message: they live where it will. */
	if ((seed = cs_secret_new(hlen)) == NULL || (db = cs_secret_new(dblen)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if ((r = mgf1_unmask(mgf1, masked_db, dblen, masked_seed, hlen, seed)) != 0 ||
	    (r = mgf1_unmask(mgf1, cs_secret_data(seed), hlen, masked_db, dblen, db)) != 0)
		goto out;
	if (EVP_Digest(label, label_len, lhash, NULL, md, NULL) != 1) {
		r = CS_ERR_INTERNAL;
		goto out;
	}

	/*
	 * Every check runs over every byte and is folded into `good`, so neither
	 * the time taken nor the memory touched says which one failed or where
	 * the 01 separator is.
	 */
	p = cs_secret_data(db);
	good = ct_is_zero(em[0]);
	good &= ct_is_zero((size_t)CRYPTO_memcmp(p, lhash, hlen));
	found = 0;
	one_index = 0;
	for (i = hlen; i < dblen; i++) {
		is_one = ct_eq(p[i], 1);
		one_index = ct_select(~found & is_one, i, one_index);
		found |= is_one;
		/* Up to and including the separator only zeros and that 01 may appear. */
		good &= found | ct_is_zero(p[i]);
	}
	good &= found;

	/* The one decision. Only a success goes on to reveal the message's length. */
	if (ct_barrier(good) == 0) {
		r = CS_ERR_DECRYPT;
		goto out;
	}
	if ((msg = cs_secret_from(p + one_index + 1, dblen - one_index - 1)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	*ret_msg = msg;
	r = 0;
out:
	cs_secret_free(seed);
	cs_secret_free(db);
	EVP_MD_free(md);
	EVP_MD_free(mgf1);
	return r;
}

int
tok_pkcs1v15_decode(const uint8_t *em, size_t k, size_t expected_len, struct cs_secret **ret_msg)
{
	struct cs_secret *msg;
	size_t good, found, zero_index, is_zero, mlen, i;

	/* 00 02, eight bytes of padding at least, 00: eleven bytes before any message. */
	if (em == NULL || k < 11 || k > TOK_RSA_MAX_BYTES)
		return CS_ERR_INVALID_ARG;

	/* As for OAEP: scan everything, fold every check into `good`, decide once. */
	good = ct_is_zero(em[0]) & ct_eq(em[1], 2);
	found = 0;
	zero_index = 0;
	for (i = 2; i < k; i++) {
		is_zero = ct_is_zero(em[i]);
		zero_index = ct_select(~found & is_zero, i, zero_index);
		found |= is_zero;
	}
	good &= found;
	/* The padding string is em[2..zero_index): at least eight bytes. */
	good &= ~ct_lt(zero_index, 2 + 8);
	mlen = k - zero_index - 1;
	if (expected_len != 0)
		good &= ct_eq(mlen, expected_len);

	if (ct_barrier(good) == 0)
		return CS_ERR_DECRYPT;
	if ((msg = cs_secret_from(em + zero_index + 1, mlen)) == NULL)
		return CS_ERR_NOMEM;
	*ret_msg = msg;
	return 0;
}
