/*
 * asym_cipher "RSA": unwrapping a content key with a token key. Padding is
 * checked by the backend (keyd), never here; we only pass on which padding
 * and OAEP parameters the message names. Encryption is a public-key
 * operation and stays with the default provider and the certificate.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

/* Labels are empty in CMS; anything long is not for us. */
#define CS_OAEP_LABEL_MAX 1024

struct dec_ctx {
	struct cs_provctx *provctx;
	struct cs_key *key;             /* one reference held */
	int pad_mode;                   /* RSA_PKCS1_PADDING or RSA_PKCS1_OAEP_PADDING */
	EVP_MD *oaep_md;                /* NULL: SHA-1, the OAEP default */
	EVP_MD *mgf1_md;                /* NULL: same as oaep_md */
	uint8_t *label;
	size_t label_len;
};

static OSSL_FUNC_asym_cipher_newctx_fn dec_newctx;
static OSSL_FUNC_asym_cipher_freectx_fn dec_freectx;
static OSSL_FUNC_asym_cipher_dupctx_fn dec_dupctx;
static OSSL_FUNC_asym_cipher_decrypt_init_fn dec_decrypt_init;
static OSSL_FUNC_asym_cipher_decrypt_fn dec_decrypt;
static OSSL_FUNC_asym_cipher_get_ctx_params_fn dec_get_ctx_params;
static OSSL_FUNC_asym_cipher_gettable_ctx_params_fn dec_gettable_ctx_params;
static OSSL_FUNC_asym_cipher_set_ctx_params_fn dec_set_ctx_params;
static OSSL_FUNC_asym_cipher_settable_ctx_params_fn dec_settable_ctx_params;

static void *
dec_newctx(void *provctx)
{
	struct dec_ctx *ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	ctx->provctx = provctx;
	ctx->pad_mode = RSA_PKCS1_PADDING;
	return ctx;
}

static void
dec_reset(struct dec_ctx *ctx)
{
	EVP_MD_free(ctx->oaep_md);
	EVP_MD_free(ctx->mgf1_md);
	OPENSSL_free(ctx->label);
	ctx->oaep_md = NULL;
	ctx->mgf1_md = NULL;
	ctx->label = NULL;
	ctx->label_len = 0;
	ctx->pad_mode = RSA_PKCS1_PADDING;
}

static void
dec_freectx(void *vctx)
{
	struct dec_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	dec_reset(ctx);
	cs_key_free(ctx->key);
	free(ctx);
}

static void *
dec_dupctx(void *vctx)
{
	const struct dec_ctx *src = vctx;
	struct dec_ctx *dst, *ret = NULL;

	if ((dst = calloc(1, sizeof(*dst))) == NULL)
		return NULL;
	dst->provctx = src->provctx;
	dst->pad_mode = src->pad_mode;
	if (src->oaep_md != NULL && EVP_MD_up_ref(src->oaep_md) != 1)
		goto out;
	dst->oaep_md = src->oaep_md;
	if (src->mgf1_md != NULL && EVP_MD_up_ref(src->mgf1_md) != 1)
		goto out;
	dst->mgf1_md = src->mgf1_md;
	if (src->label != NULL) {
		if ((dst->label = OPENSSL_memdup(src->label, src->label_len)) == NULL)
			goto out;
		dst->label_len = src->label_len;
	}
	if (src->key != NULL)
		dst->key = cs_key_ref(src->key);
	ret = dst;
	dst = NULL;
out:
	dec_freectx(dst);
	return ret;
}

static int dec_set_params(struct dec_ctx *ctx, const OSSL_PARAM params[]);

static int
dec_decrypt_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	struct dec_ctx *ctx = vctx;
	struct cs_key *key = provkey;
	int r;

	if (key == NULL || key->type != CS_KEY_RSA || key->uri == NULL || !key->has_pub) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "not an RSA token key");
		return 0;
	}
	cs_key_free(ctx->key);
	ctx->key = cs_key_ref(key);
	dec_reset(ctx);
	if ((r = dec_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable decryption parameters");
		return 0;
	}
	return 1;
}

static int
dec_decrypt(void *vctx, unsigned char *out, size_t *outlen, size_t outsize,
            const unsigned char *in, size_t inlen)
{
	struct dec_ctx *ctx = vctx;
	const struct cs_key_backend *be = ctx->provctx->backend;
	struct cs_decrypt_params dp;
	struct cs_secret *key = NULL;
	int r;

	if (ctx->key == NULL)
		return 0;
	/* The size query: at most one modulus worth, and no token involved. */
	if (out == NULL) {
		*outlen = (size_t)ctx->key->max_size;
		return 1;
	}
	if (be == NULL || be->decrypt == NULL) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INTERNAL, "no key backend");
		return 0;
	}
	memset(&dp, 0, sizeof(dp));
	if (ctx->pad_mode == RSA_PKCS1_OAEP_PADDING) {
		dp.padding = CS_PAD_OAEP;
		dp.md_nid = ctx->oaep_md != NULL ? EVP_MD_get_type(ctx->oaep_md) : NID_sha1;
		dp.mgf1_nid = ctx->mgf1_md != NULL ? EVP_MD_get_type(ctx->mgf1_md) : dp.md_nid;
		dp.label = ctx->label;
		dp.label_len = ctx->label_len;
	} else {
		dp.padding = CS_PAD_PKCS1;
	}
	if ((r = be->decrypt(be->arg, ctx->key->uri, &dp, in, inlen, &key)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unwrapping with %s", ctx->key->uri);
		return 0;
	}
	if (cs_secret_len(key) > outsize) {
		cs_secret_free(key);
		CS_PROV_ERR(ctx->provctx, CS_ERR_TOO_LARGE, "unwrapped key larger than the buffer");
		return 0;
	}
	memcpy(out, cs_secret_data(key), cs_secret_len(key));
	*outlen = cs_secret_len(key);
	cs_secret_free(key);
	return 1;
}

static int
dec_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct dec_ctx *ctx = vctx;
	OSSL_PARAM *p;
	int r = 0;

	if ((p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL)
		r = cs_param_set_pad_mode(p, ctx->pad_mode);
	if (r == 0 && (p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL)
		r = cs_param_set_md(p, ctx->oaep_md);
	if (r == 0 && (p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL)
		r = cs_param_set_md(p, ctx->mgf1_md != NULL ? ctx->mgf1_md : ctx->oaep_md);
	if (r == 0 && (p = OSSL_PARAM_locate(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL) {
		/* EVP_PKEY_CTX_get0_rsa_oaep_label() asks for a pointer, others for a copy. */
		if (p->data_type == OSSL_PARAM_OCTET_PTR)
			r = OSSL_PARAM_set_octet_ptr(p, ctx->label, ctx->label_len) == 1 ?
			            0 : CS_ERR_BAD_FORMAT;
		else
			r = OSSL_PARAM_set_octet_string(p, ctx->label, ctx->label_len) == 1 ?
			            0 : CS_ERR_BAD_FORMAT;
	}
	if (r != 0) {
		CS_PROV_ERR(ctx->provctx, r, "cannot answer a decryption parameter");
		return 0;
	}
	return 1;
}

static int
set_label(struct dec_ctx *ctx, const OSSL_PARAM *p)
{
	void *label = NULL;
	size_t len = 0;

	/* OpenSSL frees the caller's label after this call: keep a copy. */
	if (OSSL_PARAM_get_octet_string(p, &label, CS_OAEP_LABEL_MAX, &len) != 1)
		return CS_ERR_BAD_FORMAT;
	OPENSSL_free(ctx->label);
	ctx->label = label;
	ctx->label_len = len;
	return 0;
}

static int
dec_set_params(struct dec_ctx *ctx, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	EVP_MD *md;
	int r, mode;

	if (params == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_PAD_MODE)) != NULL) {
		if ((r = cs_param_get_pad_mode(p, &mode)) != 0)
			return r;
		/* No raw RSA and no TLS tricks: keyd answers only these two. */
		if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_OAEP_PADDING)
			return CS_ERR_MECHANISM;
		ctx->pad_mode = mode;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST)) != NULL) {
		r = cs_param_get_md(ctx->provctx, p,
		                    OSSL_PARAM_locate_const(params,
		                                            OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS),
		                    &md);
		if (r != 0)
			return r;
		EVP_MD_free(ctx->oaep_md);
		ctx->oaep_md = md;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST)) != NULL) {
		r = cs_param_get_md(ctx->provctx, p,
		                    OSSL_PARAM_locate_const(params,
		                                            OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS),
		                    &md);
		if (r != 0)
			return r;
		EVP_MD_free(ctx->mgf1_md);
		ctx->mgf1_md = md;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL)) != NULL &&
	    (r = set_label(ctx, p)) != 0)
		return r;
	return 0;
}

static int
dec_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct dec_ctx *ctx = vctx;
	int r;

	if ((r = dec_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable decryption parameters");
		return 0;
	}
	return 1;
}

/* Enforced by OpenSSL for the EVP_PKEY_CTX_set_rsa_* calls: list all we take. */
static const OSSL_PARAM dec_settable[] = {
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST_PROPS, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST_PROPS, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM dec_gettable[] = {
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_OAEP_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_ASYM_CIPHER_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_octet_ptr(OSSL_ASYM_CIPHER_PARAM_OAEP_LABEL, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
dec_settable_ctx_params(void *vctx, void *provctx)
{
	return dec_settable;
}

static const OSSL_PARAM *
dec_gettable_ctx_params(void *vctx, void *provctx)
{
	return dec_gettable;
}

const OSSL_DISPATCH cs_rsa_asym_cipher_functions[] = {
	{ OSSL_FUNC_ASYM_CIPHER_NEWCTX, (void (*)(void))dec_newctx },
	{ OSSL_FUNC_ASYM_CIPHER_FREECTX, (void (*)(void))dec_freectx },
	{ OSSL_FUNC_ASYM_CIPHER_DUPCTX, (void (*)(void))dec_dupctx },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT_INIT, (void (*)(void))dec_decrypt_init },
	{ OSSL_FUNC_ASYM_CIPHER_DECRYPT, (void (*)(void))dec_decrypt },
	{ OSSL_FUNC_ASYM_CIPHER_GET_CTX_PARAMS, (void (*)(void))dec_get_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_GETTABLE_CTX_PARAMS, (void (*)(void))dec_gettable_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SET_CTX_PARAMS, (void (*)(void))dec_set_ctx_params },
	{ OSSL_FUNC_ASYM_CIPHER_SETTABLE_CTX_PARAMS, (void (*)(void))dec_settable_ctx_params },
	{ 0, NULL },
};
