/*
 * signature "RSA" (PKCS#1 v1.5 and PSS) and "ECDSA": the digest is computed
 * here, in software, and only the digest goes to the backend. Verification
 * is not ours: OpenSSL verifies with the certificate's key.
 *
 * OpenSSL 3.0 needs digest_sign_* (it has no fallback from DigestSign to
 * sign) and dupctx (EVP_DigestSignFinal signs on a copy of the context).
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

struct sig_ctx {
	struct cs_provctx *provctx;
	enum cs_key_type type;          /* which algorithm this context is */
	struct cs_key *key;             /* one reference held */
	int pad_mode;                   /* RSA: RSA_PKCS1_PADDING or RSA_PKCS1_PSS_PADDING */
	EVP_MD *md;                     /* NULL until set (sign) or init (digest-sign) */
	EVP_MD *mgf1_md;                /* NULL: same as md */
	int saltlen;                    /* bytes, or one of RSA_PSS_SALTLEN_* */
	EVP_MD_CTX *mdctx;              /* digest-sign only */
	int digest_started;             /* data went into mdctx: the digest is fixed */
};

/*
 * Salt as long as the digest unless asked otherwise: what RFC 8017 advises,
 * and what gpgsm and most S/MIME readers expect.
 */
#define CS_PSS_DEFAULT_SALTLEN RSA_PSS_SALTLEN_DIGEST

static OSSL_FUNC_signature_newctx_fn rsa_sig_newctx;
static OSSL_FUNC_signature_newctx_fn ecdsa_sig_newctx;
static OSSL_FUNC_signature_freectx_fn sig_freectx;
static OSSL_FUNC_signature_dupctx_fn sig_dupctx;
static OSSL_FUNC_signature_sign_init_fn sig_sign_init;
static OSSL_FUNC_signature_sign_fn sig_sign;
static OSSL_FUNC_signature_digest_sign_init_fn sig_digest_sign_init;
static OSSL_FUNC_signature_digest_sign_update_fn sig_digest_sign_update;
static OSSL_FUNC_signature_digest_sign_final_fn sig_digest_sign_final;
static OSSL_FUNC_signature_get_ctx_params_fn sig_get_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn rsa_sig_gettable_ctx_params;
static OSSL_FUNC_signature_gettable_ctx_params_fn ecdsa_sig_gettable_ctx_params;
static OSSL_FUNC_signature_set_ctx_params_fn sig_set_ctx_params;
static OSSL_FUNC_signature_settable_ctx_params_fn rsa_sig_settable_ctx_params;
static OSSL_FUNC_signature_settable_ctx_params_fn ecdsa_sig_settable_ctx_params;

static void *
sig_newctx(void *provctx, enum cs_key_type type)
{
	struct sig_ctx *ctx;

	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	ctx->provctx = provctx;
	ctx->type = type;
	ctx->pad_mode = RSA_PKCS1_PADDING;
	ctx->saltlen = CS_PSS_DEFAULT_SALTLEN;
	return ctx;
}

static void *
rsa_sig_newctx(void *provctx, const char *propq)
{
	return sig_newctx(provctx, CS_KEY_RSA);
}

static void *
ecdsa_sig_newctx(void *provctx, const char *propq)
{
	return sig_newctx(provctx, CS_KEY_EC);
}

static void
sig_freectx(void *vctx)
{
	struct sig_ctx *ctx = vctx;

	if (ctx == NULL)
		return;
	cs_key_free(ctx->key);
	EVP_MD_free(ctx->md);
	EVP_MD_free(ctx->mgf1_md);
	EVP_MD_CTX_free(ctx->mdctx);
	free(ctx);
}

static void *
sig_dupctx(void *vctx)
{
	const struct sig_ctx *src = vctx;
	struct sig_ctx *dst, *ret = NULL;

	if ((dst = malloc(sizeof(*dst))) == NULL)
		return NULL;
	*dst = *src;
	dst->key = NULL;
	dst->md = NULL;
	dst->mgf1_md = NULL;
	dst->mdctx = NULL;
	if (src->md != NULL && EVP_MD_up_ref(src->md) != 1)
		goto out;
	dst->md = src->md;
	if (src->mgf1_md != NULL && EVP_MD_up_ref(src->mgf1_md) != 1)
		goto out;
	dst->mgf1_md = src->mgf1_md;
	if (src->mdctx != NULL) {
		/* The copy must carry the running hash: OpenSSL finishes it there. */
		if ((dst->mdctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_MD_CTX_copy_ex(dst->mdctx, src->mdctx) != 1)
			goto out;
	}
	if (src->key != NULL)
		dst->key = cs_key_ref(src->key);
	ret = dst;
	dst = NULL;
out:
	sig_freectx(dst);
	return ret;
}

/* The digest a bare ECDSA input of dlen bytes was made with. */
static int
ecdsa_md_by_len(size_t dlen)
{
	switch (dlen) {
	case 28:
		return NID_sha224;
	case 32:
		return NID_sha256;
	case 48:
		return NID_sha384;
	case 64:
		return NID_sha512;
	}
	return NID_undef;
}

/* PSS salt length in bytes for a digest of hlen bytes (RFC 8017 9.1.1). */
static int
pss_salt_len(const struct sig_ctx *ctx, int hlen, int *ret_len)
{
	int em_len = (ctx->key->bits - 1 + 7) / 8;
	int max = em_len - hlen - 2;
	int len;

	switch (ctx->saltlen) {
	case RSA_PSS_SALTLEN_DIGEST:
		len = hlen;
		break;
	case RSA_PSS_SALTLEN_AUTO:      /* for signing, auto means as long as fits */
	case RSA_PSS_SALTLEN_MAX:
		len = max;
		break;
	default:
		len = ctx->saltlen;
	}
	if (len < 0 || len > max)
		return CS_ERR_INVALID_ARG;
	*ret_len = len;
	return 0;
}

/* What the backend is asked for, for a digest of dlen bytes. */
static int
sign_params(const struct sig_ctx *ctx, size_t dlen, struct cs_sign_params *sp)
{
	memset(sp, 0, sizeof(*sp));
	if (ctx->md != NULL) {
		sp->md_nid = EVP_MD_get_type(ctx->md);
		if ((size_t)EVP_MD_get_size(ctx->md) != dlen)
			return CS_ERR_INVALID_ARG;
	} else if (ctx->type == CS_KEY_EC) {
		sp->md_nid = ecdsa_md_by_len(dlen);
	}
	/* Never a raw RSA operation: keyd offers none. */
	if (sp->md_nid == NID_undef)
		return CS_ERR_INVALID_ARG;
	if (ctx->type == CS_KEY_EC) {
		sp->scheme = CS_SIG_ECDSA;
		return 0;
	}
	if (ctx->pad_mode == RSA_PKCS1_PADDING) {
		sp->scheme = CS_SIG_RSA_PKCS1;
		return 0;
	}
	sp->scheme = CS_SIG_RSA_PSS;
	sp->mgf1_nid = ctx->mgf1_md != NULL ? EVP_MD_get_type(ctx->mgf1_md) : sp->md_nid;
	return pss_salt_len(ctx, (int)dlen, &sp->salt_len);
}

static int
do_sign(struct sig_ctx *ctx, const unsigned char *dgst, size_t dlen, unsigned char *sig,
        size_t *siglen, size_t sigsize)
{
	const struct cs_key_backend *be = ctx->provctx->backend;
	struct cs_sign_params sp;
	size_t len = sigsize;
	int r;

	if ((r = sign_params(ctx, dlen, &sp)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable signature parameters");
		return 0;
	}
	if (be == NULL || be->sign == NULL) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INTERNAL, "no key backend");
		return 0;
	}
	if ((r = be->sign(be->arg, ctx->key->uri, &sp, dgst, dlen, sig, &len)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "signing with %s", ctx->key->uri);
		return 0;
	}
	if (len > sigsize) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INTERNAL, "backend overran the signature buffer");
		return 0;
	}
	*siglen = len;
	return 1;
}

static int sig_set_params(struct sig_ctx *ctx, const OSSL_PARAM params[]);

/* Binds the key and resets the context to its defaults, then applies params. */
static int
sig_init(struct sig_ctx *ctx, void *provkey, const OSSL_PARAM params[])
{
	struct cs_key *key = provkey;
	int r;

	if (key == NULL || key->type != ctx->type || key->uri == NULL || !key->has_pub) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INVALID_ARG, "not a token key of this type");
		return 0;
	}
	cs_key_free(ctx->key);
	ctx->key = cs_key_ref(key);
	EVP_MD_free(ctx->md);
	EVP_MD_free(ctx->mgf1_md);
	EVP_MD_CTX_free(ctx->mdctx);
	ctx->md = NULL;
	ctx->mgf1_md = NULL;
	ctx->mdctx = NULL;
	ctx->digest_started = 0;
	ctx->pad_mode = RSA_PKCS1_PADDING;
	ctx->saltlen = CS_PSS_DEFAULT_SALTLEN;
	if ((r = sig_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable signature parameters");
		return 0;
	}
	return 1;
}

static int
sig_sign_init(void *vctx, void *provkey, const OSSL_PARAM params[])
{
	return sig_init(vctx, provkey, params);
}

static int
sig_sign(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize,
         const unsigned char *tbs, size_t tbslen)
{
	struct sig_ctx *ctx = vctx;

	if (ctx->key == NULL)
		return 0;
	/* The size query: no backend call, and nothing changes. */
	if (sig == NULL) {
		*siglen = (size_t)ctx->key->max_size;
		return 1;
	}
	return do_sign(ctx, tbs, tbslen, sig, siglen, sigsize);
}

static int
sig_digest_sign_init(void *vctx, const char *mdname, void *provkey, const OSSL_PARAM params[])
{
	struct sig_ctx *ctx = vctx;
	int r;

	if (!sig_init(ctx, provkey, NULL))
		return 0;
	/* No name: the key's default digest, as OpenSSL's own providers do. */
	if ((r = cs_md_fetch(ctx->provctx, mdname != NULL && mdname[0] != '\0' ? mdname : "SHA256",
	                     NULL, &ctx->md)) != 0 ||
	    (ctx->mdctx = EVP_MD_CTX_new()) == NULL) {
		CS_PROV_ERR(ctx->provctx, r != 0 ? r : CS_ERR_NOMEM, "cannot set up digest %s",
		            mdname != NULL ? mdname : "(default)");
		return 0;
	}
	if (EVP_DigestInit_ex2(ctx->mdctx, ctx->md, NULL) != 1) {
		CS_PROV_ERR(ctx->provctx, CS_ERR_INTERNAL, "cannot start the digest");
		return 0;
	}
	if ((r = sig_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable signature parameters");
		return 0;
	}
	return 1;
}

static int
sig_digest_sign_update(void *vctx, const unsigned char *data, size_t datalen)
{
	struct sig_ctx *ctx = vctx;

	if (ctx->mdctx == NULL)
		return 0;
	ctx->digest_started = 1;
	return EVP_DigestUpdate(ctx->mdctx, data, datalen);
}

static int
sig_digest_sign_final(void *vctx, unsigned char *sig, size_t *siglen, size_t sigsize)
{
	struct sig_ctx *ctx = vctx;
	unsigned char dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen;
	int ok;

	if (ctx->mdctx == NULL || ctx->key == NULL)
		return 0;
	/* The size query must leave the running hash alone: the real call follows. */
	if (sig == NULL) {
		*siglen = (size_t)ctx->key->max_size;
		return 1;
	}
	ctx->digest_started = 1;
	if (EVP_DigestFinal_ex(ctx->mdctx, dgst, &dlen) != 1)
		return 0;
	ok = do_sign(ctx, dgst, dlen, sig, siglen, sigsize);
	OPENSSL_cleanse(dgst, sizeof(dgst));
	return ok;
}

/* The salt length as OpenSSL asks it back: resolved to bytes once the digest is known. */
static int
get_saltlen(const struct sig_ctx *ctx, OSSL_PARAM *p)
{
	char buf[16];
	int len = ctx->saltlen;

	if (ctx->md != NULL && ctx->key != NULL &&
	    pss_salt_len(ctx, EVP_MD_get_size(ctx->md), &len) != 0)
		len = ctx->saltlen;
	if (p->data_type != OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_set_int(p, len) == 1 ? 0 : CS_ERR_BAD_FORMAT;
	switch (len) {
	case RSA_PSS_SALTLEN_DIGEST:
		snprintf(buf, sizeof(buf), "digest");
		break;
	case RSA_PSS_SALTLEN_AUTO:
		snprintf(buf, sizeof(buf), "auto");
		break;
	case RSA_PSS_SALTLEN_MAX:
		snprintf(buf, sizeof(buf), "max");
		break;
	default:
		snprintf(buf, sizeof(buf), "%d", len);
	}
	return OSSL_PARAM_set_utf8_string(p, buf) == 1 ? 0 : CS_ERR_BAD_FORMAT;
}

static int
get_algorithm_id(const struct sig_ctx *ctx, OSSL_PARAM *p)
{
	struct cs_sign_params sp;
	uint8_t *der = NULL;
	size_t len;
	int r;

	/* Nothing to say before the digest is chosen; OpenSSL's providers stay silent too. */
	if (ctx->md == NULL || ctx->key == NULL)
		return 0;
	if ((r = sign_params(ctx, (size_t)EVP_MD_get_size(ctx->md), &sp)) != 0 ||
	    (r = cs_sig_algid(&sp, &der, &len)) != 0)
		return r;
	r = OSSL_PARAM_set_octet_string(p, der, len) == 1 ? 0 : CS_ERR_BAD_FORMAT;
	OPENSSL_free(der);
	return r;
}

static int
sig_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
	struct sig_ctx *ctx = vctx;
	OSSL_PARAM *p;
	int r = 0;

	if ((p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_ALGORITHM_ID)) != NULL)
		r = get_algorithm_id(ctx, p);
	if (r == 0 && (p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL)
		r = cs_param_set_md(p, ctx->md);
	if (ctx->type == CS_KEY_RSA) {
		if (r == 0 && (p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL)
			r = cs_param_set_pad_mode(p, ctx->pad_mode);
		if (r == 0 &&
		    (p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL)
			r = get_saltlen(ctx, p);
		if (r == 0 &&
		    (p = OSSL_PARAM_locate(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL)
			r = cs_param_set_md(p, ctx->mgf1_md != NULL ? ctx->mgf1_md : ctx->md);
	}
	if (r != 0) {
		CS_PROV_ERR(ctx->provctx, r, "cannot answer a signature parameter");
		return 0;
	}
	return 1;
}

/* "digest", "max", "auto" or a number of bytes, as a string or an integer. */
static int
parse_saltlen(const OSSL_PARAM *p, int *ret_len)
{
	const char *s;
	char *end;
	long v;
	int len;

	if (p->data_type != OSSL_PARAM_UTF8_STRING) {
		if (OSSL_PARAM_get_int(p, &len) != 1 || len < RSA_PSS_SALTLEN_MAX)
			return CS_ERR_BAD_FORMAT;
		*ret_len = len;
		return 0;
	}
	if (OSSL_PARAM_get_utf8_string_ptr(p, &s) != 1)
		return CS_ERR_BAD_FORMAT;
	if (strcmp(s, "digest") == 0) {
		*ret_len = RSA_PSS_SALTLEN_DIGEST;
	} else if (strcmp(s, "max") == 0) {
		*ret_len = RSA_PSS_SALTLEN_MAX;
	} else if (strcmp(s, "auto") == 0) {
		*ret_len = RSA_PSS_SALTLEN_AUTO;
	} else {
		v = strtol(s, &end, 10);
		if (end == s || *end != '\0' || v < RSA_PSS_SALTLEN_MAX || v > 65535)
			return CS_ERR_BAD_FORMAT;
		*ret_len = (int)v;
	}
	return 0;
}

static int
set_digest(struct sig_ctx *ctx, const OSSL_PARAM *p, const OSSL_PARAM *props)
{
	EVP_MD *md = NULL;
	int r;

	if ((r = cs_param_get_md(ctx->provctx, p, props, &md)) != 0)
		return r;
	if (ctx->mdctx != NULL) {
		/* Changing the hash halfway would sign something nobody hashed. */
		if (ctx->digest_started && EVP_MD_get_type(md) != EVP_MD_get_type(ctx->md)) {
			EVP_MD_free(md);
			return CS_ERR_INVALID_ARG;
		}
		if (!ctx->digest_started && EVP_DigestInit_ex2(ctx->mdctx, md, NULL) != 1) {
			EVP_MD_free(md);
			return CS_ERR_INTERNAL;
		}
	}
	EVP_MD_free(ctx->md);
	ctx->md = md;
	return 0;
}

static int
sig_set_params(struct sig_ctx *ctx, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	EVP_MD *md;
	int r, mode;

	if (params == NULL)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_DIGEST)) != NULL &&
	    (r = set_digest(ctx, p, OSSL_PARAM_locate_const(params,
	                                                     OSSL_SIGNATURE_PARAM_PROPERTIES))) != 0)
		return r;
	if (ctx->type != CS_KEY_RSA)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if ((r = cs_param_get_pad_mode(p, &mode)) != 0)
			return r;
		if (mode != RSA_PKCS1_PADDING && mode != RSA_PKCS1_PSS_PADDING)
			return CS_ERR_MECHANISM;
		ctx->pad_mode = mode;
	}
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL &&
	    (r = parse_saltlen(p, &ctx->saltlen)) != 0)
		return r;
	if ((p = OSSL_PARAM_locate_const(params, OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		r = cs_param_get_md(ctx->provctx, p,
		                    OSSL_PARAM_locate_const(params,
		                                            OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES),
		                    &md);
		if (r != 0)
			return r;
		EVP_MD_free(ctx->mgf1_md);
		ctx->mgf1_md = md;
	}
	return 0;
}

static int
sig_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
	struct sig_ctx *ctx = vctx;
	int r;

	if ((r = sig_set_params(ctx, params)) != 0) {
		CS_PROV_ERR(ctx->provctx, r, "unusable signature parameters");
		return 0;
	}
	return 1;
}

/*
 * OpenSSL checks ctrl-style calls (EVP_PKEY_CTX_set_rsa_padding() and
 * friends) against these lists: a param missing here fails the call.
 */
static const OSSL_PARAM rsa_sig_settable[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_PROPERTIES, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM rsa_sig_gettable[] = {
	OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ecdsa_sig_settable[] = {
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PROPERTIES, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ecdsa_sig_gettable[] = {
	OSSL_PARAM_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
rsa_sig_settable_ctx_params(void *vctx, void *provctx)
{
	return rsa_sig_settable;
}

static const OSSL_PARAM *
rsa_sig_gettable_ctx_params(void *vctx, void *provctx)
{
	return rsa_sig_gettable;
}

static const OSSL_PARAM *
ecdsa_sig_settable_ctx_params(void *vctx, void *provctx)
{
	return ecdsa_sig_settable;
}

static const OSSL_PARAM *
ecdsa_sig_gettable_ctx_params(void *vctx, void *provctx)
{
	return ecdsa_sig_gettable;
}

#define CS_SIGNATURE_COMMON                                                             \
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },                   \
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },                     \
	{ OSSL_FUNC_SIGNATURE_SIGN_INIT, (void (*)(void))sig_sign_init },               \
	{ OSSL_FUNC_SIGNATURE_SIGN, (void (*)(void))sig_sign },                         \
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT, (void (*)(void))sig_digest_sign_init }, \
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_UPDATE,                                       \
	  (void (*)(void))sig_digest_sign_update },                                     \
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_FINAL, (void (*)(void))sig_digest_sign_final },\
	{ OSSL_FUNC_SIGNATURE_GET_CTX_PARAMS, (void (*)(void))sig_get_ctx_params },     \
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS, (void (*)(void))sig_set_ctx_params }

const OSSL_DISPATCH cs_rsa_signature_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))rsa_sig_newctx },
	CS_SIGNATURE_COMMON,
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS, (void (*)(void))rsa_sig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS, (void (*)(void))rsa_sig_settable_ctx_params },
	{ 0, NULL },
};

const OSSL_DISPATCH cs_ecdsa_signature_functions[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))ecdsa_sig_newctx },
	CS_SIGNATURE_COMMON,
	{ OSSL_FUNC_SIGNATURE_GETTABLE_CTX_PARAMS,
	  (void (*)(void))ecdsa_sig_gettable_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	  (void (*)(void))ecdsa_sig_settable_ctx_params },
	{ 0, NULL },
};
