/*
 * The signed attributes OpenSSL does not add by itself: SMIMECapabilities
 * (RFC 8551 2.5.2), SMIMEEncryptionKeyPreference (2.5.3) and
 * signingCertificateV2 (RFC 5035), which binds the signature to the
 * signer's certificate.
 */
#include "protect_local.h"

#include <stdlib.h>

#include <openssl/asn1.h>
#include <openssl/ess.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cs_error.h"

static X509_ALGOR *
algor_new(int nid, int ptype, void *pval)
{
	X509_ALGOR *a = X509_ALGOR_new();

	if (a != NULL && X509_ALGOR_set0(a, OBJ_nid2obj(nid), ptype, pval) != 1) {
		X509_ALGOR_free(a);
		a = NULL;
	}
	return a;
}

static int
push_cap(STACK_OF(X509_ALGOR) *caps, X509_ALGOR *a)
{
	if (a == NULL || sk_X509_ALGOR_push(caps, a) <= 0) {
		X509_ALGOR_free(a);
		return CS_ERR_INTERNAL;
	}
	return 0;
}

/* RSAES-OAEP with SHA-256 and MGF1-SHA-256, the parameters our recipients get. */
static X509_ALGOR *
oaep_sha256_cap(void)
{
	RSA_OAEP_PARAMS *p = RSA_OAEP_PARAMS_new();
	X509_ALGOR *mgf1_md = NULL, *a = NULL;
	ASN1_STRING *mgf1_seq = NULL, *seq = NULL;

	if (p == NULL || (p->hashFunc = algor_new(NID_sha256, V_ASN1_NULL, NULL)) == NULL ||
	    (mgf1_md = algor_new(NID_sha256, V_ASN1_NULL, NULL)) == NULL ||
	    ASN1_item_pack(mgf1_md, ASN1_ITEM_rptr(X509_ALGOR), &mgf1_seq) == NULL)
		goto out;
	if ((p->maskGenFunc = algor_new(NID_mgf1, V_ASN1_SEQUENCE, mgf1_seq)) == NULL)
		goto out;
	mgf1_seq = NULL;
	if (ASN1_item_pack(p, ASN1_ITEM_rptr(RSA_OAEP_PARAMS), &seq) == NULL)
		goto out;
	if ((a = algor_new(NID_rsaesOaep, V_ASN1_SEQUENCE, seq)) != NULL)
		seq = NULL;
out:
	ASN1_STRING_free(seq);
	ASN1_STRING_free(mgf1_seq);
	X509_ALGOR_free(mgf1_md);
	RSA_OAEP_PARAMS_free(p);
	return a;
}

/* ECDH with our KDF and key wrap (RFC 5753 7.2: the parameter names the wrap). */
static X509_ALGOR *
ecdh_cap(void)
{
	X509_ALGOR *wrap = algor_new(NID_id_aes256_wrap, V_ASN1_UNDEF, NULL), *a = NULL;
	ASN1_STRING *seq = NULL;

	if (wrap != NULL && ASN1_item_pack(wrap, ASN1_ITEM_rptr(X509_ALGOR), &seq) != NULL &&
	    (a = algor_new(NID_dhSinglePass_stdDH_sha256kdf_scheme, V_ASN1_SEQUENCE, seq)) != NULL)
		seq = NULL;
	ASN1_STRING_free(seq);
	X509_ALGOR_free(wrap);
	return a;
}

/* Strongest first: AEAD, then CBC for older readers, then the key management we use. */
static int
add_capabilities(CMS_SignerInfo *si)
{
	static const int ciphers[] = {NID_aes_256_gcm, NID_aes_128_gcm, NID_aes_256_cbc,
	                              NID_aes_128_cbc};
	STACK_OF(X509_ALGOR) *caps = sk_X509_ALGOR_new_null();
	size_t i;
	int r = CS_ERR_INTERNAL;

	if (caps == NULL)
		return CS_ERR_INTERNAL;
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
		if ((r = push_cap(caps, algor_new(ciphers[i], V_ASN1_UNDEF, NULL))) != 0)
			goto out;
	}
	if ((r = push_cap(caps, oaep_sha256_cap())) != 0 ||
	    (r = push_cap(caps, algor_new(NID_rsaEncryption, V_ASN1_NULL, NULL))) != 0 ||
	    (r = push_cap(caps, ecdh_cap())) != 0)
		goto out;
	r = CMS_add_smimecap(si, caps) == 1 ? 0 : CS_ERR_INTERNAL;
out:
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	return r;
}

/*
 * SMIMEEncryptionKeyPreference ::= CHOICE { issuerAndSerialNumber [0]
 * IssuerAndSerialNumber, ... } in a module with IMPLICIT TAGS: the
 * SEQUENCE's tag becomes [0] constructed.
 */
static int
add_enc_key_pref(CMS_SignerInfo *si, X509 *x)
{
	const X509_NAME *issuer = X509_get_issuer_name(x);
	const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
	unsigned char *der = NULL, *p;
	int nlen, slen, clen, total, r = CS_ERR_INTERNAL;

	if ((nlen = i2d_X509_NAME(issuer, NULL)) <= 0 ||
	    (slen = i2d_ASN1_INTEGER(serial, NULL)) <= 0)
		return CS_ERR_INTERNAL;
	clen = nlen + slen;
	if ((total = ASN1_object_size(1, clen, 0)) <= 0 || (der = malloc((size_t)total)) == NULL)
		return CS_ERR_INTERNAL;
	p = der;
	ASN1_put_object(&p, 1, clen, 0, V_ASN1_CONTEXT_SPECIFIC);
	if (i2d_X509_NAME(issuer, &p) != nlen || i2d_ASN1_INTEGER(serial, &p) != slen)
		goto out;
	/* An ASN.1 ANY of type SEQUENCE is written as the bytes given, tag included. */
	if (CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, V_ASN1_SEQUENCE, der,
	                                total) == 1)
		r = 0;
out:
	free(der);
	return r;
}

static int
add_signing_cert_v2(CMS_SignerInfo *si, X509 *cert)
{
	ESS_SIGNING_CERT_V2 *sc;
	unsigned char *der = NULL;
	int len, r = CS_ERR_INTERNAL;

	/* SHA-256 is ESSCertIDv2's default hash, so its identifier is left out. */
	if ((sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert, NULL, 1)) == NULL)
		return CS_ERR_INTERNAL;
	if ((len = i2d_ESS_SIGNING_CERT_V2(sc, &der)) > 0 &&
	    CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, V_ASN1_SEQUENCE,
	                                der, len) == 1)
		r = 0;
	OPENSSL_free(der);
	ESS_SIGNING_CERT_V2_free(sc);
	return r;
}

int
protect_attrs_add(CMS_SignerInfo *si, const struct cs_signer *s)
{
	X509 *enc = s->encryption_cert != NULL ? s->encryption_cert : s->cert;
	int r;

	if ((r = add_capabilities(si)) != 0 || (r = add_enc_key_pref(si, enc)) != 0 ||
	    (r = add_signing_cert_v2(si, s->cert)) != 0)
		return r;
	return 0;
}
