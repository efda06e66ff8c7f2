/*
 * The signature layer: a SignedData with one SignerInfo, set up for
 * streaming. RSA PKCS#1 v1.5 or RSASSA-PSS (salt as long as the digest,
 * MGF1 with the same digest: what gpgsm and SoftHSM accept), or ECDSA.
 */
#include "protect_local.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "cs_error.h"

static const EVP_MD *
signer_md(const struct cs_signer *s)
{
	return s->md != NULL ? s->md : EVP_sha256();
}

const char *
protect_micalg(const struct cs_signer *s)
{
	switch (EVP_MD_get_type(signer_md(s))) {
	case NID_sha224:
		return "sha-224";
	case NID_sha256:
		return "sha-256";
	case NID_sha384:
		return "sha-384";
	case NID_sha512:
		return "sha-512";
	}
	return NULL;
}

int
protect_signer_check(const struct cs_signer *s)
{
	EVP_PKEY *pub;

	if (s == NULL || s->key == NULL || s->cert == NULL)
		return CS_ERR_INVALID_ARG;
	/* SHA-2 only: RFC 8551 2.1 has no other digest an S/MIME agent must read. */
	if (protect_micalg(s) == NULL)
		return CS_ERR_INVALID_ARG;
	if ((pub = X509_get0_pubkey(s->cert)) == NULL || EVP_PKEY_eq(pub, s->key) != 1)
		return CS_ERR_INVALID_ARG;
	if (EVP_PKEY_is_a(s->key, "RSA") || (EVP_PKEY_is_a(s->key, "EC") && !s->rsa_pss))
		return 0;
	return CS_ERR_INVALID_ARG;
}

static int
set_pss(CMS_SignerInfo *si, const EVP_MD *md)
{
	EVP_PKEY_CTX *pctx = CMS_SignerInfo_get0_pkey_ctx(si);

	if (pctx == NULL || EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) <= 0)
		return CS_ERR_INTERNAL;
	return 0;
}

static int
is_self_signed(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

/* Adds x unless it is already in (added keeps borrowed pointers). */
static int
add_cert_once(CMS_ContentInfo *cms, STACK_OF(X509) *added, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(added); i++) {
		if (X509_cmp(sk_X509_value(added, i), x) == 0)
			return 0;
	}
	if (CMS_add1_cert(cms, x) != 1 || sk_X509_push(added, x) <= 0)
		return CS_ERR_INTERNAL;
	return 0;
}

static int
add_certs(CMS_ContentInfo *cms, const struct cs_signer *s)
{
	STACK_OF(X509) *added;
	X509 *x;
	int i, r = CS_ERR_INTERNAL;

	/* CMS_add1_signer put the signer's certificate in already. */
	if ((added = sk_X509_new_null()) == NULL || sk_X509_push(added, s->cert) <= 0)
		goto out;
	for (i = 0; i < sk_X509_num(s->chain); i++) {
		x = sk_X509_value(s->chain, i);
		/* The root is the reader's anchor; sending it only invites trusting it blindly. */
		if (is_self_signed(x))
			continue;
		if ((r = add_cert_once(cms, added, x)) != 0)
			goto out;
	}
	/* The certificate SMIMEEncryptionKeyPreference names, so that a correspondent can install
	 * it. */
	if (s->encryption_cert != NULL && (r = add_cert_once(cms, added, s->encryption_cert)) != 0)
		goto out;
	r = 0;
out:
	sk_X509_free(added);
	return r;
}

int
protect_signed_new(const struct cs_signer *s, int detached, CMS_ContentInfo **ret_cms)
{
	const EVP_MD *md = signer_md(s);
	unsigned flags = CMS_PARTIAL | CMS_STREAM | CMS_BINARY;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	int r = CS_ERR_INTERNAL;

	*ret_cms = NULL;
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, flags | (detached ? CMS_DETACHED : 0))) == NULL)
		return CS_ERR_INTERNAL;
	/*
	 * Our own SMIMECapabilities replace OpenSSL's default list (which offers
	 * RC2 and DES); CMS_KEY_PARAM opens the key's context now so PSS can be set.
	 */
	si = CMS_add1_signer(cms, s->cert, s->key, md,
	                     CMS_BINARY | CMS_NOSMIMECAP | (s->rsa_pss ? CMS_KEY_PARAM : 0));
	if (si == NULL)
		goto out;
	if (s->rsa_pss && (r = set_pss(si, md)) != 0)
		goto out;
	if ((r = protect_attrs_add(si, s)) != 0 || (r = add_certs(cms, s)) != 0)
		goto out;
	*ret_cms = cms;
	cms = NULL;
	r = 0;
out:
	CMS_ContentInfo_free(cms);
	return r;
}
