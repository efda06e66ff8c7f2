/*
 * keyexch "ECDH": the shared secret comes from the token (through the
 * backend), and the X9.63 KDF that CMS asks for runs here in software, with
 * the default provider's KDF from the private context.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

/* CMS's ECC-CMS-SharedInfo is small; anything long is not for us. */
#define CS_UKM_MAX 4096

enum kdf_type {
	KDF_NONE = 0,
	KDF_X963 = 1,
};

struct exch_ctx {
	struct cs_provctx *provctx;
	struct cs_key *key;             /* one reference held */
	uint8_t *peer;                  /* the peer's point, uncompressed */
	size_t peer_len;
	int cofactor_mode;              /* -1 (key default), 0 or 1 */
	enum kdf_type kdf;
	EVP_MD *kdf_md;
	size_t kdf_outlen;
	uint8_t *ukm;
	size_t ukm_len;
};

static OSSL_FUNC_keyexch_newctx_fn exch_newctx;
static OSSL_FUNC_keyexch_init_fn exch_init;
static OSSL_FUNC_keyexch_set_peer_fn exch_set_peer;
static OSSL_FUNC_keyexch_derive_fn exch_derive;
static OSSL_FUNC_keyexch_freectx_fn exch_freectx;
static OSSL_FUNC_keyexch_dupctx_fn exch_dupctx;
static OSSL_FUNC_keyexch_set_ctx_params_fn exch_set_ctx_params;
static OSSL_FUNC_keyexch_settable_ctx_params_fn exch_settable_ctx_params;
static OSSL_FUNC_keyexch_get_ctx_params_fn exch_get_ctx_params;
static OSSL_FUNC_keyexch_gettable_ctx_params_fn exch_gettable_ctx_params;

static void *
exch_newctx(void *provctx)
{
	struct exch_ctx *ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	ctx->provctx = provctx;
	ctx->cofactor_mode = -1;
	return ctx;
}

static void
exch_reset(struct exch_ctx *ctx)
{
	OPENSSL_free(ctx->peer);
	EVP_MD_free(ctx->kdf_md);
	OPENSSL_free(ctx->ukm);
	ctx->peer = NULL;
	ctx->peer_len = 0;
	ctx->kdf_md = NULL;
	ctx->ukm = NULL;
	ctx->ukm_len = 0;
	ctx->kdf = KDF_NONE;
	ctx->kdf_outlen = 0;
	ctx->cofactor_mode = -1;
}

static void
exch_freectx(void *vctx)
{
	struct exch_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	exch_reset(ctx);
	cs_key_free(ctx->key);
	free(ctx);
}

static void *
exch_dupctx(void *vctx)
{
	const struct exch_ctx *src = vctx;
	struct exch_ctx *dst, *ret = NULL;

	if ((dst = calloc(1, sizeof(*dst))) == NULL)
		return NULL;
	dst->provctx = src->provctx;
	dst->cofactor_mode = src->cofactor_mode;
	dst->kdf = src->kdf;
	dst->kdf_outlen = src->kdf_outlen;
	if (src->kdf_md != NULL && EVP_MD_up_ref(src->kdf_md) != 1)
		goto out;
	dst->kdf_md = src->kdf_md;
	if (src->peer != NULL) {
		if ((dst->peer = OPENSSL_memdup(src->peer, src->peer_len)) == NULL)
			goto out;
		dst->peer_len = src->peer_len;
	}
	if (src->ukm != NULL) {
		if ((dst->ukm = OPENSSL_memdup(src->ukm, src->ukm_len)) == NULL)
			goto out;
		dst->ukm_len = src->ukm_len;
	}
	if (src->key != NULL)
		dst->key = cs_key_ref(src->key);
	ret = dst;
	dst = NULL;
out:
	exch_freectx(dst);
	return ret;
}

static int exch_set_params(struct exch_ctx *ctx, const OSSL_PARAM params[]);

static int
exch_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	struct exch_ctx *ctx = vctx;
	struct cs_key *key = provkey;
	int r;

	if (key == NULL || key->type != CS_KEY_EC || key->uri == NULL || !key->has_pub) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "not an EC token key");
		return 0;
	}
	cs_key_free(ctx->key);
	ctx->key = cs_key_ref(key);
	exch_reset(ctx);
	if ((r = exch_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable key agreement parameters");
		return 0;
	}
	return 1;
}

/*
 * OpenSSL hands the peer over as a key of our keymgmt: it copies other
 * providers' keys into ours, and builds the originator's key from the
 * message on our key's domain parameters.
 */
static int
exch_set_peer(void *vctx, void *provkey)
{
	struct exch_ctx *ctx = vctx;
	const struct cs_key *peer = provkey;
	char g1[64], g2[64];
	uint8_t *pt = NULL;
	size_t len = 0;
	int r;

	if (ctx->key == NULL || peer == NULL || peer->type != CS_KEY_EC || !peer->has_pub) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "the peer is not an EC public key");
		return 0;
	}
	if ((r = cs_key_group_name(ctx->key, g1, sizeof(g1))) != 0 ||
	    (r = cs_key_group_name(peer, g2, sizeof(g2))) != 0 ||
	    (r = strcmp(g1, g2) == 0 ? 0 : CS_ERR_INVALID_ARG) != 0 ||
	    (r = cs_key_encoded_point(peer, &pt, &len)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable ECDH peer");
		return 0;
	}
	OPENSSL_free(ctx->peer);
	ctx->peer = pt;
	ctx->peer_len = len;
	return 1;
}

/* X9.63 KDF over the shared secret z, into out (ctx->kdf_outlen bytes). */
static int
run_x963(const struct exch_ctx *ctx, const struct cs_secret *z, unsigned char *out)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[4], *p = params;
	int r = CS_ERR_INTERNAL;

	if ((kdf = EVP_KDF_fetch(ctx->provctx->libctx, OSSL_KDF_NAME_X963KDF, NULL)) == NULL)
		return CS_ERR_MECHANISM;
	if ((kctx = EVP_KDF_CTX_new(kdf)) == NULL)
		goto out;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	                                        (char *)EVP_MD_get0_name(ctx->kdf_md), 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
	                                         (void *)cs_secret_data(z), cs_secret_len(z));
	if (ctx->ukm != NULL)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ctx->ukm,
		                                         ctx->ukm_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, ctx->kdf_outlen, params) == 1)
		r = 0;
out:
	/* The KDF context holds a copy of z; freeing it wipes that copy. */
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return r;
}

static int
exch_derive(void *vctx, unsigned char *secret, size_t *secretlen, size_t outlen)
{
	struct exch_ctx *ctx = vctx;
	const struct cs_key_backend *be = ctx->provctx->backend;
	struct cs_secret *z = NULL;
	size_t zlen;
	int r;

	if (ctx->key == NULL || ctx->peer == NULL) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "no key or no peer");
		return 0;
	}
	if (ctx->kdf == KDF_X963 && (ctx->kdf_md == NULL || ctx->kdf_outlen == 0)) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "KDF digest or length not set");
		return 0;
	}
	/* The size query: the field size or the KDF's output, without the token. */
	if (secret == NULL) {
		*secretlen = ctx->kdf == KDF_X963 ? ctx->kdf_outlen
		                                  : (size_t)(ctx->key->bits + 7) / 8;
		return 1;
	}
	if (ctx->kdf == KDF_X963 && outlen < ctx->kdf_outlen) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_TOO_LARGE, "output buffer too small");
		return 0;
	}
	if (be == NULL || be->derive == NULL) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INTERNAL, "no key backend");
		return 0;
	}
	if ((r = be->derive(be->arg, ctx->key->uri, ctx->peer, ctx->peer_len, &z)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "key agreement with %s", ctx->key->uri);
		return 0;
	}
	if (ctx->kdf == KDF_X963) {
		if ((r = run_x963(ctx, z, secret)) != 0) {
			cs_secret_free(z);
			CS_PROV_ERR(ctx->provctx, r, "X9.63 KDF failed");
			return 0;
		}
		*secretlen = ctx->kdf_outlen;
	} else {
		/* Like OpenSSL's ECDH, a shorter buffer takes the leading bytes. */
		zlen = cs_secret_len(z) < outlen ? cs_secret_len(z) : outlen;
		memcpy(secret, cs_secret_data(z), zlen);
		*secretlen = zlen;
	}
	cs_secret_free(z);
	return 1;
}

static int
set_kdf_type(struct exch_ctx *ctx, const OSSL_PARAM *p)
{
	const char *name;

	if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
		return CS_ERR_BAD_FORMAT;
	if (name[0] == '\0')
		ctx->kdf = KDF_NONE;
	else if (strcmp(name, OSSL_KDF_NAME_X963KDF) == 0)
		ctx->kdf = KDF_X963;
	else
		return CS_ERR_MECHANISM;
	return 0;
}

static int
set_ukm(struct exch_ctx *ctx, const OSSL_PARAM *p)
{
	void *ukm = NULL;
	size_t len = 0;

	/* OpenSSL frees the caller's UKM once this returns: keep a copy. */
	if (OSSL_PARAM_get_octet_string(p, &ukm, CS_UKM_MAX, &len) != 1)
		return CS_ERR_BAD_FORMAT;
	OPENSSL_free(ctx->ukm);
	ctx->ukm = ukm;
	ctx->ukm_len = len;
	return 0;
}

static int
exch_set_params(struct exch_ctx *ctx, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	EVP_MD *md;
	size_t outlen;
	int r, mode;

	if (params == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) !=
	    NULL) {
		if (OSSL_PARAM_get_int(p, &mode) != 1 || mode < -1 || mode > 1)
			return CS_ERR_BAD_FORMAT;
		/* Cofactor ECDH is plain ECDH when the cofactor is 1 (all NIST curves). */
		if (mode == 1 && (ctx->key == NULL || !ctx->key->cofactor_one))
			return CS_ERR_MECHANISM;
		ctx->cofactor_mode = mode;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL &&
	    (r = set_kdf_type(ctx, p)) != 0)
		return r;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST)) != NULL) {
		r = cs_param_get_md(ctx->provctx, p,
		                    OSSL_PARAM_locate_const(params,
		                                            OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS),
		                    &md);
		if (r != 0)
			return r;
		EVP_MD_free(ctx->kdf_md);
		ctx->kdf_md = md;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) != NULL) {
		if (OSSL_PARAM_get_size_t(p, &outlen) != 1 || outlen > CS_SECRET_MAX)
			return CS_ERR_BAD_FORMAT;
		ctx->kdf_outlen = outlen;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_EXCHANGE_PARAM_KDF_UKM)) != NULL &&
	    (r = set_ukm(ctx, p)) != 0)
		return r;
	return 0;
}

static int
exch_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct exch_ctx *ctx = vctx;
	int r;

	if ((r = exch_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable key agreement parameters");
		return 0;
	}
	return 1;
}

static int
exch_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct exch_ctx *ctx = vctx;
	OSSL_PARAM *p;
	int ok = 1;

	if ((p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE)) != NULL)
		ok = OSSL_PARAM_set_int(p, ctx->cofactor_mode == 1 ? 1 : 0);
	if (ok && (p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_TYPE)) != NULL)
		ok = OSSL_PARAM_set_utf8_string(p, ctx->kdf == KDF_X963 ? OSSL_KDF_NAME_X963KDF
		                                                        : "");
	if (ok && (p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_DIGEST)) != NULL)
		ok = cs_param_set_md(p, ctx->kdf_md) == 0;
	if (ok && (p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_OUTLEN)) != NULL)
		ok = OSSL_PARAM_set_size_t(p, ctx->kdf_outlen);
	if (ok && (p = OSSL_PARAM_locate(params, OSSL_EXCHANGE_PARAM_KDF_UKM)) != NULL)
		ok = OSSL_PARAM_set_octet_ptr(p, ctx->ukm, ctx->ukm_len);
	return ok;
}

/* Enforced by OpenSSL for the EVP_PKEY_CTX_set_ecdh_* calls CMS makes. */
static const OSSL_PARAM exch_settable[] = {
	OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
	OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST_PROPS, NULL, 0),
	OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
	OSSL_PARAM_octet_string(OSSL_EXCHANGE_PARAM_KDF_UKM, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM exch_gettable[] = {
	OSSL_PARAM_int(OSSL_EXCHANGE_PARAM_EC_ECDH_COFACTOR_MODE, NULL),
	OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_TYPE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_EXCHANGE_PARAM_KDF_DIGEST, NULL, 0),
	OSSL_PARAM_size_t(OSSL_EXCHANGE_PARAM_KDF_OUTLEN, NULL),
	OSSL_PARAM_octet_ptr(OSSL_EXCHANGE_PARAM_KDF_UKM, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
exch_settable_ctx_params(void *vctx, void *provctx)
{
	return exch_settable;
}

static const OSSL_PARAM *
exch_gettable_ctx_params(void *vctx, void *provctx)
{
	return exch_gettable;
}

const OSSL_DISPATCH cs_ecdh_keyexch_functions[] = {
	{ OSSL_FUNC_KEYEXCH_NEWCTX, (void (*)(void))exch_newctx },
	{ OSSL_FUNC_KEYEXCH_INIT, (void (*)(void))exch_init },
	{ OSSL_FUNC_KEYEXCH_SET_PEER, (void (*)(void))exch_set_peer },
	{ OSSL_FUNC_KEYEXCH_DERIVE, (void (*)(void))exch_derive },
	{ OSSL_FUNC_KEYEXCH_FREECTX, (void (*)(void))exch_freectx },
	{ OSSL_FUNC_KEYEXCH_DUPCTX, (void (*)(void))exch_dupctx },
	{ OSSL_FUNC_KEYEXCH_SET_CTX_PARAMS, (void (*)(void))exch_set_ctx_params },
	{ OSSL_FUNC_KEYEXCH_SETTABLE_CTX_PARAMS, (void (*)(void))exch_settable_ctx_params },
	{ OSSL_FUNC_KEYEXCH_GET_CTX_PARAMS, (void (*)(void))exch_get_ctx_params },
	{ OSSL_FUNC_KEYEXCH_GETTABLE_CTX_PARAMS, (void (*)(void))exch_gettable_ctx_params },
	{ 0, NULL },
};
