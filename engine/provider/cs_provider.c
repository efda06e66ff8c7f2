/*
 * The provider's entry: its init function, the table of algorithms, errors
 * reported through the core, and the three public functions of cs_provider.h.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/provider.h>

/* Room for every CS_ERR_* reason string, and the terminating entry. */
#define CS_MAX_REASONS 64

/* What the core gave one instance of the provider. */
struct cs_provider {
	struct cs_provctx ctx;          /* first: OpenSSL hands us back &ctx */
	OSSL_FUNC_core_new_error_fn *new_error;
	OSSL_FUNC_core_set_error_debug_fn *set_error_debug;
	OSSL_FUNC_core_vset_error_fn *vset_error;
	OSSL_ITEM reasons[CS_MAX_REASONS + 1];
};

static const OSSL_ALGORITHM cs_keymgmt_algs[] = {
	{ "RSA:rsaEncryption", CS_PROVIDER_PROPS, cs_rsa_keymgmt_functions,
	  "Cardseal RSA key on a token" },
	{ "EC:id-ecPublicKey", CS_PROVIDER_PROPS, cs_ec_keymgmt_functions,
	  "Cardseal EC key on a token" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM cs_signature_algs[] = {
	{ "RSA:rsaEncryption", CS_PROVIDER_PROPS, cs_rsa_signature_functions,
	  "RSA PKCS#1 v1.5 and PSS signatures on a token" },
	{ "ECDSA", CS_PROVIDER_PROPS, cs_ecdsa_signature_functions, "ECDSA on a token" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM cs_asym_cipher_algs[] = {
	{ "RSA:rsaEncryption", CS_PROVIDER_PROPS, cs_rsa_asym_cipher_functions,
	  "RSA key unwrapping on a token" },
	{ NULL, NULL, NULL, NULL },
};

static const OSSL_ALGORITHM cs_keyexch_algs[] = {
	{ "ECDH", CS_PROVIDER_PROPS, cs_ecdh_keyexch_functions, "ECDH on a token" },
	{ NULL, NULL, NULL, NULL },
};

void
cs_prov_raise(const struct cs_provctx *pc, int err, const char *file, int line,
              const char *func, const char *fmt, ...)
{
	const struct cs_provider *p = (const struct cs_provider *)pc;
	va_list ap;

	if (p == NULL || p->new_error == NULL || p->vset_error == NULL)
		return;
	p->new_error(pc->handle);
	if (p->set_error_debug != NULL)
		p->set_error_debug(pc->handle, file, line, func);
	va_start(ap, fmt);
	/* Our reason codes are the CS_ERR_* values made positive. */
	p->vset_error(pc->handle, err < 0 ? (uint32_t)-err : (uint32_t)-CS_ERR_INTERNAL, fmt, ap);
	va_end(ap);
}

static const OSSL_ALGORITHM *
cs_query_operation(void *provctx, int operation_id, int *no_cache)
{
	*no_cache = 0;
	switch (operation_id) {
	case OSSL_OP_KEYMGMT:
		return cs_keymgmt_algs;
	case OSSL_OP_SIGNATURE:
		return cs_signature_algs;
	case OSSL_OP_ASYM_CIPHER:
		return cs_asym_cipher_algs;
	case OSSL_OP_KEYEXCH:
		return cs_keyexch_algs;
	}
	return NULL;
}

static const OSSL_PARAM cs_provider_param_types[] = {
	OSSL_PARAM_DEFN(OSSL_PROV_PARAM_NAME, OSSL_PARAM_UTF8_PTR, NULL, 0),
	OSSL_PARAM_DEFN(OSSL_PROV_PARAM_VERSION, OSSL_PARAM_UTF8_PTR, NULL, 0),
	OSSL_PARAM_DEFN(OSSL_PROV_PARAM_STATUS, OSSL_PARAM_INTEGER, NULL, 0),
	OSSL_PARAM_END,
};

static const OSSL_PARAM *
cs_gettable_params(void *provctx)
{
	return cs_provider_param_types;
}

static int
cs_get_params(void *provctx, OSSL_PARAM params[])
{
	OSSL_PARAM *p;

	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_NAME);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "Cardseal token provider"))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_VERSION);
	if (p != NULL && !OSSL_PARAM_set_utf8_ptr(p, "0.1.0"))
		return 0;
	p = OSSL_PARAM_locate(params, OSSL_PROV_PARAM_STATUS);
	if (p != NULL && !OSSL_PARAM_set_int(p, 1))
		return 0;
	return 1;
}

static const OSSL_ITEM *
cs_get_reason_strings(void *provctx)
{
	return ((struct cs_provider *)provctx)->reasons;
}

static void
cs_teardown(void *provctx)
{
	free(provctx);
}

static const OSSL_DISPATCH cs_provider_functions[] = {
	{ OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))cs_teardown },
	{ OSSL_FUNC_PROVIDER_GETTABLE_PARAMS, (void (*)(void))cs_gettable_params },
	{ OSSL_FUNC_PROVIDER_GET_PARAMS, (void (*)(void))cs_get_params },
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))cs_query_operation },
	{ OSSL_FUNC_PROVIDER_GET_REASON_STRINGS, (void (*)(void))cs_get_reason_strings },
	{ 0, NULL },
};

/* Reason strings are cs_strerror()'s, so an OpenSSL error reads like ours. */
static void
cs_fill_reasons(struct cs_provider *p)
{
	size_t n = 0;
	int err;

	for (err = -1; n < CS_MAX_REASONS; err--) {
		if (strcmp(cs_error_name(err), "CS_ERR_UNKNOWN") == 0)
			break;
		p->reasons[n].id = (unsigned int)-err;
		p->reasons[n].ptr = (void *)cs_strerror(err);
		n++;
	}
	p->reasons[n].id = 0;
	p->reasons[n].ptr = NULL;
}

static int
cs_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                 const OSSL_DISPATCH **out, void **provctx)
{
	OSSL_FUNC_core_get_libctx_fn *get_libctx = NULL;
	struct cs_provider *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return 0;
	for (; in->function_id != 0; in++) {
		switch (in->function_id) {
		case OSSL_FUNC_CORE_GET_LIBCTX:
			get_libctx = OSSL_FUNC_core_get_libctx(in);
			break;
		case OSSL_FUNC_CORE_NEW_ERROR:
			p->new_error = OSSL_FUNC_core_new_error(in);
			break;
		case OSSL_FUNC_CORE_SET_ERROR_DEBUG:
			p->set_error_debug = OSSL_FUNC_core_set_error_debug(in);
			break;
		case OSSL_FUNC_CORE_VSET_ERROR:
			p->vset_error = OSSL_FUNC_core_vset_error(in);
			break;
		}
	}
	if (get_libctx == NULL) {
		free(p);
		return 0;
	}
	p->ctx.handle = handle;
	/* For a provider the core made, the "core context" is the library context. */
	p->ctx.libctx = (OSSL_LIB_CTX *)get_libctx(handle);
	cs_fill_reasons(p);
	*out = cs_provider_functions;
	*provctx = &p->ctx;
	return 1;
}

static int
unload_one(OSSL_PROVIDER *prov, void *arg)
{
	/* do_all holds its own reference, so unloading inside the walk is safe. */
	(void)OSSL_PROVIDER_unload(prov);
	return 1;
}

void
cs_provider_context_free(OSSL_LIB_CTX *libctx)
{
	if (libctx == NULL)
		return;
	(void)OSSL_PROVIDER_do_all(libctx, unload_one, NULL);
	OSSL_LIB_CTX_free(libctx);
}

int
cs_provider_context_new(const struct cs_key_backend *backend, OSSL_LIB_CTX **ret_libctx)
{
	OSSL_LIB_CTX *libctx = NULL;
	OSSL_PROVIDER *prov;
	struct cs_provctx *pc;
	int r = CS_ERR_INTERNAL;

	if (backend == NULL || ret_libctx == NULL)
		return CS_ERR_INVALID_ARG;
	if ((libctx = OSSL_LIB_CTX_new()) == NULL)
		return CS_ERR_NOMEM;
	/* Digests, KDFs and the public halves of our keys come from "default". */
	if (OSSL_PROVIDER_load(libctx, "default") == NULL)
		goto out;
	if (!OSSL_PROVIDER_add_builtin(libctx, CS_PROVIDER_NAME, cs_provider_init))
		goto out;
	if ((prov = OSSL_PROVIDER_load(libctx, CS_PROVIDER_NAME)) == NULL)
		goto out;
	/* Nothing can use the provider before this returns: no key exists yet. */
	if ((pc = OSSL_PROVIDER_get0_provider_ctx(prov)) == NULL)
		goto out;
	pc->backend = backend;
	*ret_libctx = libctx;
	libctx = NULL;
	r = 0;
out:
	cs_provider_context_free(libctx);
	return r;
}

int
cs_provider_token_key(OSSL_LIB_CTX *libctx, const char *key_uri, X509 *cert,
                      EVP_PKEY **ret_pkey)
{
	EVP_PKEY *pub, *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *pub_params = NULL, *params = NULL;
	OSSL_PARAM uri_params[2];
	const char *type;
	int r = CS_ERR_INTERNAL;

	if (libctx == NULL || key_uri == NULL || cert == NULL || ret_pkey == NULL)
		return CS_ERR_INVALID_ARG;
	if ((pub = X509_get0_pubkey(cert)) == NULL)
		return CS_ERR_BAD_FORMAT;
	if (EVP_PKEY_is_a(pub, "RSA"))
		type = "RSA";
	else if (EVP_PKEY_is_a(pub, "EC"))
		type = "EC";
	else
		return CS_ERR_MECHANISM;

	if (EVP_PKEY_todata(pub, EVP_PKEY_PUBLIC_KEY, &pub_params) != 1)
		goto out;
	uri_params[0] = OSSL_PARAM_construct_utf8_string(CS_PROVIDER_PARAM_KEY_URI,
	                                                 (char *)key_uri, 0);
	uri_params[1] = OSSL_PARAM_construct_end();
	if ((params = OSSL_PARAM_merge(pub_params, uri_params)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_name(libctx, type, CS_PROVIDER_PROPS)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	*ret_pkey = pkey;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_free(pub_params);
	return r;
}
