/*
 * The DER AlgorithmIdentifier of a signature, which OpenSSL asks for as the
 * "algorithm-id" param: CMS copies it into the SignerInfo for RSASSA-PSS,
 * and X.509 signing uses it for every scheme.
 */
#include "cs_prov_local.h"
#include "cs_error.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

/*
 * A digest's AlgorithmIdentifier inside RSASSA-PSS-params: RFC 4055 (2.1)
 * defines sha256Identifier and its siblings with NULL parameters present,
 * and OpenSSL's own provider writes them so.
 */
static X509_ALGOR *
md_algor(int md_nid)
{
	X509_ALGOR *alg = X509_ALGOR_new();

	if (alg != NULL && X509_ALGOR_set0(alg, OBJ_nid2obj(md_nid), V_ASN1_NULL, NULL) != 1) {
		X509_ALGOR_free(alg);
		alg = NULL;
	}
	return alg;
}

/*
 * RSASSA-PSS-params (RFC 4055): fields equal to their defaults (SHA-1,
 * MGF1 with SHA-1, 20 bytes of salt, trailer 1) are left out, as DER requires.
 */
static int
pss_params_der(const struct cs_sign_params *sp, ASN1_STRING **ret_seq)
{
	RSA_PSS_PARAMS *pss;
	X509_ALGOR *mgf1_md = NULL;
	ASN1_STRING *seq = NULL;
	int r = CS_ERR_NOMEM;

	if ((pss = RSA_PSS_PARAMS_new()) == NULL)
		return CS_ERR_NOMEM;
	if (sp->md_nid != NID_sha1 && (pss->hashAlgorithm = md_algor(sp->md_nid)) == NULL)
		goto out;
	if (sp->mgf1_nid != NID_sha1) {
		if ((mgf1_md = md_algor(sp->mgf1_nid)) == NULL ||
		    (pss->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
		    ASN1_item_pack(mgf1_md, ASN1_ITEM_rptr(X509_ALGOR), &seq) == NULL)
			goto out;
		if (X509_ALGOR_set0(pss->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1), V_ASN1_SEQUENCE,
		                    seq) != 1)
			goto out;
		seq = NULL;
	}
	if (sp->salt_len != 20) {
		if ((pss->saltLength = ASN1_INTEGER_new()) == NULL ||
		    ASN1_INTEGER_set(pss->saltLength, sp->salt_len) != 1)
			goto out;
	}
	if (ASN1_item_pack(pss, ASN1_ITEM_rptr(RSA_PSS_PARAMS), ret_seq) == NULL)
		goto out;
	r = 0;
out:
	ASN1_STRING_free(seq);
	X509_ALGOR_free(mgf1_md);
	RSA_PSS_PARAMS_free(pss);
	return r;
}

int
cs_sig_algid(const struct cs_sign_params *sp, uint8_t **ret_der, size_t *ret_len)
{
	X509_ALGOR *alg;
	ASN1_STRING *params = NULL;
	unsigned char *der = NULL;
	int snid, len, r;

	if ((alg = X509_ALGOR_new()) == NULL)
		return CS_ERR_NOMEM;
	switch (sp->scheme) {
	case CS_SIG_RSA_PKCS1:
		/* sha256WithRSAEncryption and friends carry an explicit NULL (RFC 4055). */
		r = CS_ERR_MECHANISM;
		if (OBJ_find_sigid_by_algs(&snid, sp->md_nid, NID_rsaEncryption) != 1 ||
		    X509_ALGOR_set0(alg, OBJ_nid2obj(snid), V_ASN1_NULL, NULL) != 1)
			goto out;
		break;
	case CS_SIG_RSA_PSS:
		if ((r = pss_params_der(sp, &params)) != 0)
			goto out;
		r = CS_ERR_NOMEM;
		if (X509_ALGOR_set0(alg, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, params) != 1)
			goto out;
		params = NULL;
		break;
	case CS_SIG_ECDSA:
		/* ecdsa-with-SHA256 and friends have no parameters (RFC 5758). */
		r = CS_ERR_MECHANISM;
		if (OBJ_find_sigid_by_algs(&snid, sp->md_nid, NID_X9_62_id_ecPublicKey) != 1 ||
		    X509_ALGOR_set0(alg, OBJ_nid2obj(snid), V_ASN1_UNDEF, NULL) != 1)
			goto out;
		break;
	default:
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	r = CS_ERR_NOMEM;
	if ((len = i2d_X509_ALGOR(alg, &der)) <= 0)
		goto out;
	*ret_der = der;
	*ret_len = (size_t)len;
	r = 0;
out:
	ASN1_STRING_free(params);
	X509_ALGOR_free(alg);
	return r;
}
