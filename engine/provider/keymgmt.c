/*
 * keymgmt "RSA:rsaEncryption" and "EC:id-ecPublicKey": how OpenSSL creates,
 * compares, copies and queries our keys. The rules that keep private-key
 * operations with us: export refuses any selection that includes the private
 * key (OpenSSL 3.0 exports everything when it tries another provider's
 * operation, so a refusal sends it back to ours), and import refuses private
 * material (cs_key_import).
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>

#define CS_DEFAULT_DIGEST "SHA256"

static OSSL_FUNC_keymgmt_new_fn rsa_new;
static OSSL_FUNC_keymgmt_new_fn ec_new;
static OSSL_FUNC_keymgmt_free_fn km_free;
static OSSL_FUNC_keymgmt_has_fn km_has;
static OSSL_FUNC_keymgmt_match_fn km_match;
static OSSL_FUNC_keymgmt_validate_fn km_validate;
static OSSL_FUNC_keymgmt_import_fn km_import;
static OSSL_FUNC_keymgmt_import_types_fn rsa_key_types;
static OSSL_FUNC_keymgmt_import_types_fn ec_key_types;
static OSSL_FUNC_keymgmt_export_fn km_export;
static OSSL_FUNC_keymgmt_get_params_fn km_get_params;
static OSSL_FUNC_keymgmt_gettable_params_fn rsa_gettable_params;
static OSSL_FUNC_keymgmt_gettable_params_fn ec_gettable_params;
static OSSL_FUNC_keymgmt_set_params_fn ec_set_params;
static OSSL_FUNC_keymgmt_settable_params_fn ec_settable_params;
static OSSL_FUNC_keymgmt_dup_fn km_dup;
static OSSL_FUNC_keymgmt_query_operation_name_fn rsa_query_operation_name;
static OSSL_FUNC_keymgmt_query_operation_name_fn ec_query_operation_name;

static void *
rsa_new(void *provctx)
{
	return cs_key_new(provctx, CS_KEY_RSA);
}

static void *
ec_new(void *provctx)
{
	return cs_key_new(provctx, CS_KEY_EC);
}

static void
km_free(void *keydata)
{
	cs_key_free(keydata);
}

static int
km_has(const void *keydata, int selection)
{
	const struct cs_key *key = keydata;

	/* OpenSSL asks this of empty EVP_PKEYs too (EVP_PKEY_missing_parameters). */
	if (key == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !key->has_pub)
		return 0;
	/* The private half is on the token; the URI is our claim to it. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && key->uri == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && key->type == CS_KEY_EC &&
	    key->pkey == NULL)
		return 0;
	return 1;
}

static int
km_match(const void *keydata1, const void *keydata2, int selection)
{
	const struct cs_key *a = keydata1, *b = keydata2;
	char ga[64], gb[64];

	if (a->type != b->type)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0 && a->type == CS_KEY_EC) {
		if (cs_key_group_name(a, ga, sizeof(ga)) != 0 ||
		    cs_key_group_name(b, gb, sizeof(gb)) != 0 || strcmp(ga, gb) != 0)
			return 0;
	}
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0) {
		/* Two halves of one key pair have the same public half. */
		if (a->has_pub && b->has_pub)
			return EVP_PKEY_eq(a->pkey, b->pkey) == 1;
		if (a->uri != NULL && b->uri != NULL)
			return strcmp(a->uri, b->uri) == 0;
		return 0;
	}
	return 1;
}

static int
km_validate(const void *keydata, int selection, int checktype)
{
	const struct cs_key *key = keydata;
	EVP_PKEY_CTX *ctx;
	int ok = 1;

	if (key == NULL || key->pkey == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 && !key->has_pub)
		return 0;
	/* The private half cannot be checked from here; keyd talks to the token. */
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && key->uri == NULL)
		return 0;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(key->provctx->libctx, key->pkey,
	                                      CS_DEFAULT_PROPS)) == NULL)
		return 0;
	/* An ECDH peer arrives this way: its point must be on the curve. */
	if (key->has_pub)
		ok = EVP_PKEY_public_check(ctx) == 1;
	else if ((selection & OSSL_KEYMGMT_SELECT_DOMAIN_PARAMETERS) != 0)
		ok = EVP_PKEY_param_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

static int
km_import(void *keydata, int selection, const OSSL_PARAM params[])
{
	struct cs_key *key = keydata;
	int r;

	if (key == NULL)
		return 0;
	r = cs_key_import(key, selection, params);
	/*
	 * A refused software private key is no error to report: OpenSSL was only
	 * trying whether we could take it, and goes on with the default provider.
	 */
	if (r != 0 && r != CS_ERR_PERMISSION)
		CS_PROV_ERR(key->provctx, r, "cannot import the key");
	return r == 0;
}

static const OSSL_PARAM rsa_key_param_types[] = {
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_utf8_string(CS_PROVIDER_PARAM_KEY_URI, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ec_key_param_types[] = {
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_utf8_string(CS_PROVIDER_PARAM_KEY_URI, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
rsa_key_types(int selection)
{
	return rsa_key_param_types;
}

static const OSSL_PARAM *
ec_key_types(int selection)
{
	return ec_key_param_types;
}

static int
km_export(void *keydata, int selection, OSSL_CALLBACK *param_cb, void *cbarg)
{
	struct cs_key *key = keydata;
	OSSL_PARAM *params = NULL;
	int ok;

	/*
	 * No error raised: a refusal is how OpenSSL learns to use our own
	 * operations instead of the default provider's.
	 */
	if (key == NULL || key->pkey == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
		return 0;
	selection &= OSSL_KEYMGMT_SELECT_PUBLIC_KEY | OSSL_KEYMGMT_SELECT_ALL_PARAMETERS;
	if (!key->has_pub)
		selection &= ~OSSL_KEYMGMT_SELECT_PUBLIC_KEY;
	if (selection == 0 || EVP_PKEY_todata(key->pkey, selection, &params) != 1)
		return 0;
	ok = param_cb(params, cbarg);
	OSSL_PARAM_free(params);
	return ok;
}

static int
km_get_params(void *keydata, OSSL_PARAM params[])
{
	struct cs_key *key = keydata;
	OSSL_PARAM *p;

	if (key == NULL)
		return 0;
	/* Public values (n, e, group, points) are the default provider's answers. */
	if (key->pkey != NULL && EVP_PKEY_get_params(key->pkey, params) != 1)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
	    OSSL_PARAM_set_int(p, key->bits) != 1)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
	    OSSL_PARAM_set_int(p, key->security_bits) != 1)
		return 0;
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
	    OSSL_PARAM_set_int(p, key->max_size) != 1)
		return 0;
	/*
	 * mandatory-digest is left unanswered on purpose: any answer, even "",
	 * tells OpenSSL the key allows only that digest.
	 */
	if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_DEFAULT_DIGEST)) != NULL &&
	    OSSL_PARAM_set_utf8_string(p, CS_DEFAULT_DIGEST) != 1)
		return 0;
	if ((p = OSSL_PARAM_locate(params, CS_PROVIDER_PARAM_KEY_URI)) != NULL &&
	    key->uri != NULL && OSSL_PARAM_set_utf8_string(p, key->uri) != 1)
		return 0;
	return 1;
}

static const OSSL_PARAM rsa_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_N, NULL, 0),
	OSSL_PARAM_BN(OSSL_PKEY_PARAM_RSA_E, NULL, 0),
	OSSL_PARAM_utf8_string(CS_PROVIDER_PARAM_KEY_URI, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM ec_gettable[] = {
	OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
	OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, NULL, 0),
	OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
	OSSL_PARAM_utf8_string(CS_PROVIDER_PARAM_KEY_URI, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
rsa_gettable_params(void *provctx)
{
	return rsa_gettable;
}

static const OSSL_PARAM *
ec_gettable_params(void *provctx)
{
	return ec_gettable;
}

/* How OpenSSL builds an ECDH peer: copy our domain parameters, then set the point. */
static int
ec_set_params(void *keydata, const OSSL_PARAM params[])
{
	struct cs_key *key = keydata;
	const OSSL_PARAM *p;
	const void *pt;
	size_t len;
	int r;

	if (key == NULL)
		return 0;
	p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
	if (p == NULL)
		return 1;
	if (OSSL_PARAM_get_octet_string_ptr(p, &pt, &len) != 1)
		return 0;
	if ((r = cs_key_set_encoded_point(key, pt, len)) != 0) {
		CS_PROV_ERR(key->provctx, r, "cannot set the EC public point");
		return 0;
	}
	return 1;
}

static const OSSL_PARAM ec_settable[] = {
	OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
ec_settable_params(void *provctx)
{
	return ec_settable;
}

static void *
km_dup(const void *keydata_from, int selection)
{
	const struct cs_key *src = keydata_from;
	struct cs_key *dst = NULL;
	int r;

	if (src == NULL)
		return NULL;
	if ((r = cs_key_dup(src, selection, &dst)) != 0) {
		CS_PROV_ERR(src->provctx, r, "cannot copy the key");
		return NULL;
	}
	return dst;
}

static const char *
rsa_query_operation_name(int operation_id)
{
	return "RSA";
}

/* Without this OpenSSL would look for signatures and exchanges named "EC". */
static const char *
ec_query_operation_name(int operation_id)
{
	switch (operation_id) {
	case OSSL_OP_SIGNATURE:
		return "ECDSA";
	case OSSL_OP_KEYEXCH:
		return "ECDH";
	}
	return NULL;
}

#define CS_KEYMGMT_COMMON                                                               \
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },                            \
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },                              \
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },                          \
	{ OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))km_validate },                    \
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },                        \
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },                        \
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },                \
	{ OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))km_dup }

const OSSL_DISPATCH cs_rsa_keymgmt_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))rsa_new },
	CS_KEYMGMT_COMMON,
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))rsa_key_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))rsa_key_types },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))rsa_gettable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))rsa_query_operation_name },
	{ 0, NULL },
};

const OSSL_DISPATCH cs_ec_keymgmt_functions[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))ec_new },
	CS_KEYMGMT_COMMON,
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))ec_key_types },
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))ec_key_types },
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))ec_gettable_params },
	{ OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))ec_set_params },
	{ OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))ec_settable_params },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME, (void (*)(void))ec_query_operation_name },
	{ 0, NULL },
};
