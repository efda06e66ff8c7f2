/*
 * Reading and answering the OSSL_PARAMs the operations share: padding modes
 * (which OpenSSL passes as an integer from EVP_PKEY_CTX_set_rsa_padding() but
 * asks back as a name) and digests.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <string.h>

#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/rsa.h>

static const struct {
	int mode;
	const char *name;
} pad_modes[] = {
	{ RSA_PKCS1_PADDING, "pkcs1" },
	{ RSA_PKCS1_PSS_PADDING, "pss" },
	{ RSA_PKCS1_OAEP_PADDING, "oaep" },
	{ RSA_PKCS1_OAEP_PADDING, "oeap" },     /* OpenSSL accepts this misspelling */
	{ RSA_NO_PADDING, "none" },
	{ RSA_X931_PADDING, "x931" },
};

int
cs_param_get_pad_mode(const OSSL_PARAM *p, int *ret_mode)
{
	const char *name;
	size_t i;
	int mode;

	if (p->data_type == OSSL_PARAM_UTF8_STRING) {
		if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
			return CS_ERR_BAD_FORMAT;
		for (i = 0; i < sizeof(pad_modes) / sizeof(pad_modes[0]); i++) {
			if (strcmp(pad_modes[i].name, name) == 0) {
				*ret_mode = pad_modes[i].mode;
				return 0;
			}
		}
		return CS_ERR_BAD_FORMAT;
	}
	if (OSSL_PARAM_get_int(p, &mode) != 1)
		return CS_ERR_BAD_FORMAT;
	*ret_mode = mode;
	return 0;
}

int
cs_param_set_pad_mode(OSSL_PARAM *p, int mode)
{
	size_t i;

	if (p->data_type != OSSL_PARAM_UTF8_STRING)
		return OSSL_PARAM_set_int(p, mode) == 1 ? 0 : CS_ERR_BAD_FORMAT;
	for (i = 0; i < sizeof(pad_modes) / sizeof(pad_modes[0]); i++) {
		if (pad_modes[i].mode == mode)
			return OSSL_PARAM_set_utf8_string(p, pad_modes[i].name) == 1 ?
			               0 : CS_ERR_BAD_FORMAT;
	}
	return CS_ERR_INTERNAL;
}

int
cs_md_fetch(const struct cs_provctx *pc, const char *name, const char *props, EVP_MD **ret_md)
{
	EVP_MD *md;

	if (name == NULL || name[0] == '\0')
		return CS_ERR_INVALID_ARG;
	if ((md = EVP_MD_fetch(pc->libctx, name, props)) == NULL)
		return CS_ERR_MECHANISM;
	/* The backend is told digests by NID; one without is no use to it. */
	if (EVP_MD_get_type(md) == NID_undef) {
		EVP_MD_free(md);
		return CS_ERR_MECHANISM;
	}
	*ret_md = md;
	return 0;
}

int
cs_param_get_md(const struct cs_provctx *pc, const OSSL_PARAM *p, const OSSL_PARAM *props,
                EVP_MD **ret_md)
{
	const char *name, *propq = NULL;

	if (OSSL_PARAM_get_utf8_string_ptr(p, &name) != 1)
		return CS_ERR_BAD_FORMAT;
	if (props != NULL && OSSL_PARAM_get_utf8_string_ptr(props, &propq) != 1)
		return CS_ERR_BAD_FORMAT;
	return cs_md_fetch(pc, name, propq, ret_md);
}

int
cs_param_set_md(OSSL_PARAM *p, const EVP_MD *md)
{
	/* The short name: what EVP_get_digestbyname() in the ctrl layer knows. */
	const char *name = md != NULL ? OBJ_nid2sn(EVP_MD_get_type(md)) : "";

	return OSSL_PARAM_set_utf8_string(p, name) == 1 ? 0 : CS_ERR_BAD_FORMAT;
}
