/*
 * The encryption layer: AuthEnvelopedData with AES-GCM, or EnvelopedData
 * with AES-CBC for readers without GCM, and a RecipientInfo per recipient.
 */
#include "protect_local.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "cs_error.h"

static const EVP_CIPHER *
content_cipher(enum cs_content_cipher c)
{
	switch (c) {
	case CS_CIPHER_AES256_GCM:
		return EVP_aes_256_gcm();
	case CS_CIPHER_AES256_CBC:
		return EVP_aes_256_cbc();
	case CS_CIPHER_AES128_GCM:
		return EVP_aes_128_gcm();
	case CS_CIPHER_AES128_CBC:
		return EVP_aes_128_cbc();
	}
	return NULL;
}

const char *
protect_smime_type(enum cs_content_cipher c)
{
	return c == CS_CIPHER_AES256_GCM || c == CS_CIPHER_AES128_GCM ? "authEnveloped-data"
	                                                              : "enveloped-data";
}

int
protect_recipients_check(const struct cs_protect_opts *o)
{
	EVP_PKEY *pk;
	size_t i;

	if (content_cipher(o->cipher) == NULL || o->recipients == NULL || o->n_recipients == 0)
		return CS_ERR_INVALID_ARG;
	for (i = 0; i < o->n_recipients; i++) {
		if (o->recipients[i].cert == NULL ||
		    (pk = X509_get0_pubkey(o->recipients[i].cert)) == NULL)
			return CS_ERR_INVALID_ARG;
		if (EVP_PKEY_is_a(pk, "RSA"))
			continue;
		if (EVP_PKEY_is_a(pk, "EC") && !o->recipients[i].rsa_oaep)
			continue;
		return CS_ERR_INVALID_ARG;
	}
	return 0;
}

static int
set_oaep(CMS_RecipientInfo *ri)
{
	EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);

	if (pctx == NULL || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0)
		return CS_ERR_INTERNAL;
	return 0;
}

/* OpenSSL's KDF default for ECDH is SHA-1; RFC 5753 pairs P-256 with SHA-256. */
static int
set_ecdh_kdf(CMS_RecipientInfo *ri)
{
	EVP_PKEY_CTX *pctx = CMS_RecipientInfo_get0_pkey_ctx(ri);

	if (pctx == NULL || EVP_PKEY_CTX_set_ecdh_kdf_md(pctx, EVP_sha256()) <= 0)
		return CS_ERR_INTERNAL;
	return 0;
}

int
protect_envelope_new(const struct cs_protect_opts *o, CMS_ContentInfo **ret_cms)
{
	const struct cs_recipient *rc;
	CMS_ContentInfo *cms;
	CMS_RecipientInfo *ri;
	size_t i;
	int r = CS_ERR_INTERNAL;

	*ret_cms = NULL;
	/* An AEAD cipher makes OpenSSL build AuthEnvelopedData, any other EnvelopedData. */
	cms = CMS_encrypt(NULL, NULL, content_cipher(o->cipher),
	                  CMS_PARTIAL | CMS_STREAM | CMS_BINARY);
	if (cms == NULL)
		return CS_ERR_INTERNAL;
	for (i = 0; i < o->n_recipients; i++) {
		rc = &o->recipients[i];
		/* CMS_KEY_PARAM opens the key transport context now, so OAEP can be set on it. */
		ri = CMS_add1_recipient_cert(cms, rc->cert, rc->rsa_oaep ? CMS_KEY_PARAM : 0);
		if (ri == NULL) {
			r = CS_ERR_INTERNAL;
			goto out;
		}
		if (CMS_RecipientInfo_type(ri) == CMS_RECIPINFO_AGREE)
			r = set_ecdh_kdf(ri);
		else
			r = rc->rsa_oaep ? set_oaep(ri) : 0;
		if (r != 0)
			goto out;
	}
	*ret_cms = cms;
	cms = NULL;
	r = 0;
out:
	CMS_ContentInfo_free(cms);
	return r;
}
