/*
 * The key object shared by both keymgmts: a token key's URI beside its public
 * half, which is a key of the default provider in the private context.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/params.h>

/* A pkcs11: URI is short; anything longer is not one of ours. */
#define CS_KEY_URI_MAX 4096

/*
 * Params that only a private key has. Any of them in an import means
 * someone is handing us a software key: refusing it keeps that key with the
 * default provider, which can use it, instead of turning it into a key we
 * would have to send to a token that does not hold it.
 */
static const char *const private_params[] = {
	OSSL_PKEY_PARAM_PRIV_KEY,
	OSSL_PKEY_PARAM_RSA_D,
	OSSL_PKEY_PARAM_RSA_FACTOR1,
	OSSL_PKEY_PARAM_RSA_FACTOR2,
	OSSL_PKEY_PARAM_RSA_EXPONENT1,
	OSSL_PKEY_PARAM_RSA_EXPONENT2,
	OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
};

struct cs_key *
cs_key_new(struct cs_provctx *pc, enum cs_key_type type)
{
	struct cs_key *key;

	if ((key = calloc(1, sizeof(*key))) == NULL)
		return NULL;
	key->provctx = pc;
	key->type = type;
	atomic_init(&key->refs, 1);
	return key;
}

struct cs_key *
cs_key_ref(struct cs_key *key)
{
	atomic_fetch_add(&key->refs, 1);
	return key;
}

void
cs_key_free(struct cs_key *key)
{
	if (key == NULL || atomic_fetch_sub(&key->refs, 1) != 1)
		return;
	free(key->uri);
	EVP_PKEY_free(key->pkey);
	free(key);
}

static int
has_private_params(const OSSL_PARAM params[])
{
	size_t i;

	for (i = 0; i < sizeof(private_params) / sizeof(private_params[0]); i++) {
		if (OSSL_PARAM_locate_const(params, private_params[i]) != NULL)
			return 1;
	}
	return 0;
}

/* Whether ECDH with cofactor multiplication equals plain ECDH (cofactor 1). */
static int
ec_cofactor_is_one(EVP_PKEY *pkey)
{
	BIGNUM *h = NULL;
	int one;

	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_COFACTOR, &h) != 1)
		return 0;
	one = BN_is_one(h);
	BN_free(h);
	return one;
}

/*
 * The backend takes uncompressed points: make encoded-pub-key give one. Only
 * for a pkey nobody else holds yet (setting a param invalidates its caches).
 */
static int
ec_uncompressed(EVP_PKEY *pkey)
{
	if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
	                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
		return CS_ERR_INTERNAL;
	return 0;
}

/* Installs pkey (taking ownership) and caches what OpenSSL asks of every key. */
static void
key_set_pkey(struct cs_key *key, EVP_PKEY *pkey, int has_pub)
{
	if (key->type == CS_KEY_EC)
		key->cofactor_one = ec_cofactor_is_one(pkey);
	key->bits = EVP_PKEY_get_bits(pkey);
	key->security_bits = EVP_PKEY_get_security_bits(pkey);
	key->max_size = EVP_PKEY_get_size(pkey);
	EVP_PKEY_free(key->pkey);
	key->pkey = pkey;
	key->has_pub = has_pub;
}

static const char *
key_type_name(const struct cs_key *key)
{
	return key->type == CS_KEY_RSA ? "RSA" : "EC";
}

/* A default-provider key from params, with selection EVP_PKEY_PUBLIC_KEY or _KEY_PARAMETERS. */
static int
build_pkey(const struct cs_key *key, int selection, const OSSL_PARAM params[],
           EVP_PKEY **ret_pkey)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	int r = CS_ERR_BAD_FORMAT;

	ctx = EVP_PKEY_CTX_new_from_name(key->provctx->libctx, key_type_name(key),
	                                 CS_DEFAULT_PROPS);
	if (ctx == NULL)
		return CS_ERR_INTERNAL;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, (OSSL_PARAM *)params) != 1)
		goto out;
	if (key->type == CS_KEY_EC && (r = ec_uncompressed(pkey)) != 0)
		goto out;
	*ret_pkey = pkey;
	pkey = NULL;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
cs_key_import(struct cs_key *key, int selection, const OSSL_PARAM params[])
{
	const OSSL_PARAM *p;
	const char *uri = NULL;
	char *uri_copy = NULL;
	EVP_PKEY *pkey = NULL;
	int want_pub, has_pub, r;

	/* Keys are filled once; sharing them depends on it. */
	if (key->pkey != NULL || key->uri != NULL || params == NULL)
		return CS_ERR_INVALID_ARG;
	if (has_private_params(params))
		return CS_ERR_PERMISSION;
	p = OSSL_PARAM_locate_const(params, CS_PROVIDER_PARAM_KEY_URI);
	if (p != NULL && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0) {
		if (OSSL_PARAM_get_utf8_string_ptr(p, &uri) != 1 || uri[0] == '\0' ||
		    strlen(uri) > CS_KEY_URI_MAX)
			return CS_ERR_BAD_FORMAT;
	}
	want_pub = (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0;
	if (key->type == CS_KEY_RSA) {
		/* RSA has no domain parameters: without the public key there is nothing. */
		if (!want_pub)
			return 0;
		if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_RSA_N) == NULL)
			return CS_ERR_BAD_FORMAT;
		has_pub = 1;
	} else {
		/* Named curves only: that is all a token and CMS give us. */
		if (OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME) == NULL)
			return CS_ERR_BAD_FORMAT;
		has_pub = want_pub &&
		          OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY) != NULL;
	}
	/* A token key always comes with its public half (from its certificate). */
	if (uri != NULL && !has_pub)
		return CS_ERR_BAD_FORMAT;
	if (uri != NULL && (uri_copy = strdup(uri)) == NULL)
		return CS_ERR_NOMEM;
	r = build_pkey(key, has_pub ? EVP_PKEY_PUBLIC_KEY : EVP_PKEY_KEY_PARAMETERS, params,
	               &pkey);
	if (r != 0) {
		free(uri_copy);
		return r;
	}
	key_set_pkey(key, pkey, has_pub);
	key->uri = uri_copy;
	return 0;
}

int
cs_key_set_encoded_point(struct cs_key *key, const uint8_t *pt, size_t len)
{
	EVP_PKEY *pkey;

	/* A token key's public half is its certificate's; it never changes. */
	if (key->type != CS_KEY_EC || key->pkey == NULL || key->uri != NULL)
		return CS_ERR_INVALID_ARG;
	if ((pkey = EVP_PKEY_dup(key->pkey)) == NULL)
		return CS_ERR_NOMEM;
	if (EVP_PKEY_set1_encoded_public_key(pkey, pt, len) != 1 || ec_uncompressed(pkey) != 0) {
		EVP_PKEY_free(pkey);
		return CS_ERR_BAD_FORMAT;
	}
	key_set_pkey(key, pkey, 1);
	return 0;
}

int
cs_key_dup(const struct cs_key *src, int selection, struct cs_key **ret_key)
{
	struct cs_key *dst;
	EVP_PKEY *pkey = NULL;
	int has_pub = 0, r = CS_ERR_NOMEM;

	if ((dst = cs_key_new(src->provctx, src->type)) == NULL)
		return CS_ERR_NOMEM;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && src->has_pub) {
		/* Installed keys are never changed, so the copy can share it. */
		if (EVP_PKEY_up_ref(src->pkey) != 1)
			goto out;
		pkey = src->pkey;
		has_pub = 1;
	} else if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 &&
	           src->type == CS_KEY_EC && src->pkey != NULL) {
		if ((pkey = EVP_PKEY_new()) == NULL)
			goto out;
		if (EVP_PKEY_copy_parameters(pkey, src->pkey) != 1) {
			EVP_PKEY_free(pkey);
			r = CS_ERR_INTERNAL;
			goto out;
		}
	}
	if (pkey != NULL)
		key_set_pkey(dst, pkey, has_pub);
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && src->uri != NULL && has_pub &&
	    (dst->uri = strdup(src->uri)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	*ret_key = dst;
	dst = NULL;
	r = 0;
out:
	cs_key_free(dst);
	return r;
}

int
cs_key_encoded_point(const struct cs_key *key, uint8_t **ret_pt, size_t *ret_len)
{
	uint8_t *pt;
	size_t len = 0;

	if (key->type != CS_KEY_EC || !key->has_pub)
		return CS_ERR_INVALID_ARG;
	if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL,
	                                    0, &len) != 1 || len == 0)
		return CS_ERR_INTERNAL;
	if ((pt = OPENSSL_malloc(len)) == NULL)
		return CS_ERR_NOMEM;
	if (EVP_PKEY_get_octet_string_param(key->pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, len,
	                                    &len) != 1) {
		OPENSSL_free(pt);
		return CS_ERR_INTERNAL;
	}
	*ret_pt = pt;
	*ret_len = len;
	return 0;
}

int
cs_key_group_name(const struct cs_key *key, char *buf, size_t n)
{
	if (key->type != CS_KEY_EC || key->pkey == NULL)
		return CS_ERR_INVALID_ARG;
	if (EVP_PKEY_get_utf8_string_param(key->pkey, OSSL_PKEY_PARAM_GROUP_NAME, buf, n, NULL) != 1)
		return CS_ERR_INTERNAL;
	return 0;
}
