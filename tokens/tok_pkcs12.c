/*
 * PKCS#12 import: the file is opened and checked in software first (before
 * the token is locked or a PIN asked), then the key, its public key, the
 * certificate and new CA certificates are written in the token's logged-in
 * session; if any write fails, what this call wrote is destroyed again.
 *
 * Why the safe bags are walked here instead of calling PKCS12_parse():
 * Windows and older tools encrypt with RC2-40 or 3DES, and RC2 is only in
 * OpenSSL 3's "legacy" provider. OpenSSL 3.0 has no PKCS12_parse_ex(), and a
 * PKCS12 from d2i_PKCS12() is bound to the default library context, so
 * PKCS12_parse() would need "legacy" loaded process-wide, for every other
 * OpenSSL user in keyd too. The *_ex() functions below take a private context
 * with "default" and "legacy" instead, made and freed per import. Only the MAC
 * check runs in the default context; it needs HMAC and the PKCS#12 KDF, which
 * the default provider has.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <p11-kit/uri.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "tok_ecpoint.h"
#include "tok_keycache.h"
#include "tok_login.h"
#include "tok_pkcs12.h"

#define KEY_ID_LEN 20           /* SHA-1 */
#define MAX_CA_CERTS 16         /* a chain longer than this is not a user's export */
#define MAX_BAG_DEPTH 3         /* safeContentsBag nesting */
#define MAX_RSA_BITS 8192       /* what tok_ops.c can sign with */
#define MAX_ATTRS 24
#define CATEGORY_TOKEN_USER 1   /* CKA_CERTIFICATE_CATEGORY values (PKCS#11 2.40) */
#define CATEGORY_AUTHORITY 2

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* RSA components in the order both key templates take them; the public key takes the first two. */
#define N_RSA_PARTS 8
static const struct {
	CK_ATTRIBUTE_TYPE type;
	const char *param;
} rsa_parts[N_RSA_PARTS] = {
	{ CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N },
	{ CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E },
	{ CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D },
	{ CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1 },
	{ CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2 },
	{ CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1 },
	{ CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2 },
	{ CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
};

/* What the file held. */
struct p12_file {
	OSSL_LIB_CTX *libctx;
	OSSL_PROVIDER *providers[2];
	EVP_PKEY *key;
	STACK_OF(X509) *certs;      /* every certificate, the key's own included */
	X509 *cert;                 /* the key's, pointing into certs */
	int mac_present;
	int wrong_password;         /* the MAC refused the password */
	int decrypt_failed;         /* a safe or the key did not decrypt (no MAC: wrong password?) */
};

/* A certificate's DER and the fields PKCS#11 repeats as attributes (OPENSSL_malloc'd). */
struct cert_der {
	uint8_t *value, *subject, *issuer, *serial;
	int value_len, subject_len, issuer_len, serial_len;
};

/* Everything written for the identity, prepared before the token is locked. */
struct import {
	CK_KEY_TYPE key_type;
	uint8_t id[KEY_ID_LEN];
	char *label;
	CK_BBOOL sign, decrypt, derive;
	uint8_t *parts[N_RSA_PARTS];    /* RSA components, or [0] the EC scalar: wiped */
	size_t part_len[N_RSA_PARTS];
	uint8_t ec_params[16];
	size_t ec_params_len;
	uint8_t ec_point[TOK_EC_POINT_DER_MAX];
	size_t ec_point_len;
	struct cert_der cert;
	int n_ca;
};

/* An attribute template built up in place; pointers borrow from the caller. */
struct tmpl {
	CK_ATTRIBUTE a[MAX_ATTRS];
	CK_ULONG n;
	int overflow;
};

/* Objects this call created, destroyed again if a later write fails; why one failed. */
struct created {
	CK_OBJECT_HANDLE h[3 + MAX_CA_CERTS];
	size_t n;
	int ca_written;
	char *message;              /* the result's message buffer (MESSAGE_SIZE), or NULL */
};

#define MESSAGE_SIZE sizeof(((struct tok_import_result *)0)->message)

static int
p12_file_init(struct p12_file *f)
{
	memset(f, 0, sizeof(*f));
	if ((f->libctx = OSSL_LIB_CTX_new()) == NULL || (f->certs = sk_X509_new_null()) == NULL)
		return CS_ERR_NOMEM;
	if ((f->providers[0] = OSSL_PROVIDER_load(f->libctx, "default")) == NULL)
		return CS_ERR_INTERNAL;
	/* Without the legacy module installed, AES and 3DES files still load; RC2 ones do not. */
	f->providers[1] = OSSL_PROVIDER_load(f->libctx, "legacy");
	return 0;
}

static void
p12_file_clear(struct p12_file *f)
{
	size_t i;

	EVP_PKEY_free(f->key);  /* before its provider goes; OpenSSL clears its key data */
	sk_X509_pop_free(f->certs, X509_free);
	for (i = 0; i < 2; i++) {
		if (f->providers[i] != NULL)
			OSSL_PROVIDER_unload(f->providers[i]);
	}
	OSSL_LIB_CTX_free(f->libctx);
	memset(f, 0, sizeof(*f));
}

static int
add_key(struct p12_file *f, const PKCS8_PRIV_KEY_INFO *p8)
{
	/* Two keys: which one would the user mean? PKCS12_parse() silently takes the first. */
	if (p8 == NULL || f->key != NULL)
		return CS_ERR_PKCS12;
	if ((f->key = EVP_PKCS82PKEY_ex(p8, f->libctx, NULL)) == NULL)
		return CS_ERR_PKCS12;
	return 0;
}

static int
add_bags(struct p12_file *f, const STACK_OF(PKCS12_SAFEBAG) *bags, const char *pass,
         int passlen, int depth)
{
	PKCS8_PRIV_KEY_INFO *p8;
	X509 *x;
	int i, r = 0;

	if (depth > MAX_BAG_DEPTH)
		return CS_ERR_PKCS12;
	for (i = 0; i < sk_PKCS12_SAFEBAG_num(bags) && r == 0; i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_keyBag:
			r = add_key(f, PKCS12_SAFEBAG_get0_p8inf(bag));
			break;
		case NID_pkcs8ShroudedKeyBag:
			p8 = PKCS12_decrypt_skey_ex(bag, pass, passlen, f->libctx, NULL);
			/* Without a MAC this is where a wrong password shows. */
			f->decrypt_failed |= p8 == NULL;
			r = add_key(f, p8);
			PKCS8_PRIV_KEY_INFO_free(p8);   /* its ASN.1 free clears the key bytes */
			break;
		case NID_certBag:
			if (PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				break;  /* SDSI certificates: nothing a token stores */
			if ((x = PKCS12_SAFEBAG_get1_cert(bag)) == NULL) {
				r = CS_ERR_PKCS12;
			} else if (sk_X509_push(f->certs, x) <= 0) {
				X509_free(x);
				r = CS_ERR_NOMEM;
			}
			break;
		case NID_safeContentsBag:
			r = add_bags(f, PKCS12_SAFEBAG_get0_safes(bag), pass, passlen, depth + 1);
			break;
		default:
			break;  /* CRL and secret bags */
		}
	}
	return r;
}

static int
add_safe(struct p12_file *f, PKCS7 *p7, const char *pass, int passlen)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	PKCS7_ENC_CONTENT *enc;
	int r;

	switch (OBJ_obj2nid(p7->type)) {
	case NID_pkcs7_data:
		bags = PKCS12_unpack_p7data(p7);
		break;
	case NID_pkcs7_encrypted:
		/* PKCS12_unpack_p7encdata() in our context; the content is OPTIONAL in ASN.1. */
		enc = p7->d.encrypted != NULL ? p7->d.encrypted->enc_data : NULL;
		if (enc == NULL || enc->enc_data == NULL)
			break;
		bags = PKCS12_item_decrypt_d2i_ex(enc->algorithm, ASN1_ITEM_rptr(PKCS12_SAFEBAGS),
		                                  pass, passlen, enc->enc_data, 1, f->libctx, NULL);
		break;
	default:
		/* Public-key privacy (enveloped) safes need a key we do not have; a key
		 * inside one is missed and the import fails as having no key. */
		return 0;
	}
	if (bags == NULL) {
		f->decrypt_failed |= OBJ_obj2nid(p7->type) == NID_pkcs7_encrypted;
		return CS_ERR_PKCS12;
	}
	r = add_bags(f, bags, pass, passlen, 0);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	return r;
}

/*
 * The MAC proves the password before anything is decrypted. An empty password
 * is ambiguous in PKCS#12 (none at all, or the empty string: they derive
 * different keys); as PKCS12_parse() does, the one the MAC accepts is kept.
 */
static int
check_mac(PKCS12 *p12, const char **pass, int *passlen)
{
	if (*passlen == 0) {
		if (!PKCS12_mac_present(p12) || PKCS12_verify_mac(p12, NULL, 0)) {
			*pass = NULL;
			return 0;
		}
		return PKCS12_verify_mac(p12, "", 0) ? 0 : CS_ERR_PKCS12;
	}
	/* Without a MAC, a wrong password shows when the decryption fails. */
	if (!PKCS12_mac_present(p12))
		return 0;
	return PKCS12_verify_mac(p12, *pass, *passlen) ? 0 : CS_ERR_PKCS12;
}

static int
parse_p12(struct p12_file *f, const uint8_t *der, size_t len, const struct cs_secret *password)
{
	const unsigned char *p = der;
	const char *pass = password != NULL ? cs_secret_str(password) : "";
	int passlen = password != NULL ? (int)cs_secret_len(password) : 0;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12 *p12;
	int i, r = CS_ERR_PKCS12;

	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL || p != der + len)
		goto out;
	f->mac_present = PKCS12_mac_present(p12);
	if ((r = check_mac(p12, &pass, &passlen)) != 0) {
		f->wrong_password = 1;
		goto out;
	}
	if ((safes = PKCS12_unpack_authsafes(p12)) == NULL) {
		r = CS_ERR_PKCS12;
		goto out;
	}
	for (i = 0; i < sk_PKCS7_num(safes) && r == 0; i++)
		r = add_safe(f, sk_PKCS7_value(safes, i), pass, passlen);
	if (r != 0)
		goto out;
	r = CS_ERR_PKCS12;
	for (i = 0; f->key != NULL && i < sk_X509_num(f->certs); i++) {
		if (X509_check_private_key(sk_X509_value(f->certs, i), f->key) == 1) {
			f->cert = sk_X509_value(f->certs, i);
			r = 0;
			break;
		}
	}
out:
	sk_PKCS7_pop_free(safes, PKCS7_free);
	PKCS12_free(p12);
	return r;
}

static int
cert_der_encode(X509 *x, struct cert_der *d)
{
	memset(d, 0, sizeof(*d));
	if ((d->value_len = i2d_X509(x, &d->value)) <= 0 ||
	    (d->subject_len = i2d_X509_NAME(X509_get_subject_name(x), &d->subject)) <= 0 ||
	    (d->issuer_len = i2d_X509_NAME(X509_get_issuer_name(x), &d->issuer)) <= 0 ||
	    (d->serial_len = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &d->serial)) <= 0)
		return CS_ERR_NOMEM;
	return 0;
}

static void
cert_der_clear(struct cert_der *d)
{
	OPENSSL_free(d->value);
	OPENSSL_free(d->subject);
	OPENSSL_free(d->issuer);
	OPENSSL_free(d->serial);
	memset(d, 0, sizeof(*d));
}

/* SHA-1 of the subjectPublicKey bits: RFC 5280's key identifier, what most tools use as CKA_ID. */
static int
key_id(OSSL_LIB_CTX *libctx, const X509 *x, uint8_t id[KEY_ID_LEN])
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	size_t n = 0;

	if (bits == NULL)
		return CS_ERR_PKCS12;
	if (EVP_Q_digest(libctx, "SHA1", NULL, ASN1_STRING_get0_data(bits),
	                 (size_t)ASN1_STRING_length(bits), id, &n) != 1 || n != KEY_ID_LEN)
		return CS_ERR_INTERNAL;
	return 0;
}

/* The certificate's first e-mail address (if email_first), else its common name (new string). */
static int
cert_label(X509 *x, int email_first, const char *fallback, char **ret)
{
	STACK_OF(OPENSSL_STRING) *emails = email_first ? X509_get1_email(x) : NULL;
	const X509_NAME *name = X509_get_subject_name(x);
	const X509_NAME_ENTRY *e;
	unsigned char *utf8 = NULL;
	int i, n = 0;

	if (sk_OPENSSL_STRING_num(emails) > 0)
		*ret = strdup(sk_OPENSSL_STRING_value(emails, 0));
	else if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) >= 0 &&
	         (e = X509_NAME_get_entry(name, i)) != NULL &&
	         (n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e))) > 0 &&
	         memchr(utf8, 0, (size_t)n) == NULL)
		*ret = strndup((const char *)utf8, (size_t)n);
	else
		*ret = strdup(fallback);
	X509_email_free(emails);
	OPENSSL_free(utf8);
	return *ret != NULL ? 0 : CS_ERR_NOMEM;
}

/* A key parameter as big-endian bytes, left-padded to pad bytes if pad > 0, in a new buffer. */
static int
bn_part(const EVP_PKEY *k, const char *param, size_t pad, uint8_t **ret, size_t *ret_len)
{
	BIGNUM *bn = NULL;
	size_t n;
	int r = CS_ERR_PKCS12;

	if (EVP_PKEY_get_bn_param(k, param, &bn) != 1)
		goto out;
	n = (size_t)BN_num_bytes(bn);
	if (pad > 0 && n > pad)
		goto out;
	if (pad > 0)
		n = pad;
	if (n == 0)
		goto out;
	r = CS_ERR_NOMEM;
	if ((*ret = malloc(n)) == NULL)
		goto out;
	BN_bn2binpad(bn, *ret, (int)n);
	*ret_len = n;
	r = 0;
out:
	BN_clear_free(bn);
	return r;
}

static int
prepare_rsa(const struct p12_file *f, struct import *im)
{
	BIGNUM *extra = NULL;
	size_t i;
	int r;

	im->key_type = CKK_RSA;
	if (EVP_PKEY_get_bits(f->key) > MAX_RSA_BITS)
		return CS_ERR_MECHANISM;
	/* Multi-prime RSA has no PKCS#11 private key template. */
	if (EVP_PKEY_get_bn_param(f->key, OSSL_PKEY_PARAM_RSA_FACTOR3, &extra) == 1) {
		BN_clear_free(extra);
		return CS_ERR_MECHANISM;
	}
	for (i = 0; i < N_RSA_PARTS; i++) {
		r = bn_part(f->key, rsa_parts[i].param, 0, &im->parts[i], &im->part_len[i]);
		if (r != 0)
			return r;
	}
	return 0;
}

static int
prepare_ec(const struct p12_file *f, struct import *im)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(f->cert);
	uint8_t point[TOK_EC_POINT_MAX], *p = im->ec_params;
	char group[64];
	int nid, curve_nid, len, r;
	size_t point_len = 0, field_bytes;

	im->key_type = CKK_EC;
	if (EVP_PKEY_get_utf8_string_param(f->key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1)
		return CS_ERR_MECHANISM;    /* explicit curve parameters */
	if ((nid = OBJ_txt2nid(group)) == NID_undef)
		nid = EC_curve_nist2nid(group);
	/* CKA_EC_PARAMS is the curve's OID in DER; tokens/ knows P-256, P-384 and P-521. */
	if (nid == NID_undef)
		return CS_ERR_MECHANISM;
	len = i2d_ASN1_OBJECT(OBJ_nid2obj(nid), NULL);
	if (len <= 0 || (size_t)len > sizeof(im->ec_params))
		return CS_ERR_MECHANISM;
	im->ec_params_len = (size_t)i2d_ASN1_OBJECT(OBJ_nid2obj(nid), &p);
	if (tok_ec_curve_from_params(im->ec_params, im->ec_params_len, &curve_nid) != 0)
		return CS_ERR_MECHANISM;
	/* The token wants the scalar padded to the field size, whatever its leading zeros. */
	field_bytes = (size_t)(EVP_PKEY_get_bits(f->key) + 7) / 8;
	r = bn_part(f->key, OSSL_PKEY_PARAM_PRIV_KEY, field_bytes, &im->parts[0], &im->part_len[0]);
	if (r != 0)
		return r;
	/* The certificate's point may be compressed; CKA_EC_POINT is uncompressed, in DER. */
	if (bits == NULL ||
	    tok_ec_point_uncompressed(curve_nid, ASN1_STRING_get0_data(bits),
	                              (size_t)ASN1_STRING_length(bits), point, sizeof(point),
	                              &point_len) != 0)
		return CS_ERR_PKCS12;
	return tok_ec_point_to_der_octet_string(point, point_len, im->ec_point,
	                                        sizeof(im->ec_point), &im->ec_point_len);
}

static void
import_clear(struct import *im)
{
	size_t i;

	for (i = 0; i < N_RSA_PARTS; i++) {
		if (im->parts[i] != NULL)
			cs_wipe(im->parts[i], im->part_len[i]);
		free(im->parts[i]);
	}
	free(im->label);
	cert_der_clear(&im->cert);
	cs_wipe(im, sizeof(*im));
}

static int
prepare_import(struct p12_file *f, const char *label, struct import *im)
{
	uint32_t ku;
	int i, r;

	memset(im, 0, sizeof(*im));
	if (EVP_PKEY_is_a(f->key, "RSA"))
		r = prepare_rsa(f, im);
	else if (EVP_PKEY_is_a(f->key, "EC"))
		r = prepare_ec(f, im);
	else
		r = CS_ERR_MECHANISM;   /* DSA, RSA-PSS-only, EdDSA: nothing tokens/ signs with */
	if (r != 0)
		return r;
	for (i = 0; i < sk_X509_num(f->certs); i++)
		im->n_ca += sk_X509_value(f->certs, i) != f->cert &&
		            X509_check_ca(sk_X509_value(f->certs, i)) != 0;
	if (im->n_ca > MAX_CA_CERTS)
		return CS_ERR_TOO_LARGE;
	if (label != NULL && label[0] != '\0')
		im->label = strdup(label);
	else if ((r = cert_label(f->cert, 1, "Imported key", &im->label)) != 0)
		return r;
	if (im->label == NULL)
		return CS_ERR_NOMEM;
	/* Usage follows keyUsage; without the extension (UINT32_MAX) the key may do all it can. */
	if (X509_check_purpose(f->cert, -1, 0) != 1)
		return CS_ERR_PKCS12;   /* extensions OpenSSL cannot parse */
	ku = X509_get_key_usage(f->cert);
	im->sign = (ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION | KU_KEY_CERT_SIGN |
	                  KU_CRL_SIGN)) != 0;
	im->decrypt = im->key_type == CKK_RSA &&
	              (ku & (KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT)) != 0;
	im->derive = im->key_type == CKK_EC && (ku & KU_KEY_AGREEMENT) != 0;
	/* A key its certificate allows nothing tokens/ can do would only clutter the card. */
	if (!im->sign && !im->decrypt && !im->derive)
		return CS_ERR_MECHANISM;
	if ((r = key_id(f->libctx, f->cert, im->id)) != 0)
		return r;
	return cert_der_encode(f->cert, &im->cert);
}

static void
tmpl_add(struct tmpl *t, CK_ATTRIBUTE_TYPE type, const void *p, size_t len)
{
	if (t->n == MAX_ATTRS) {
		t->overflow = 1;
		return;
	}
	t->a[t->n++] = (CK_ATTRIBUTE){ type, (void *)p, (CK_ULONG)len };
}

static int
create(struct tok_token *t, const struct tmpl *tp, struct created *c)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	if (tp->overflow || c->n == sizeof(c->h) / sizeof(c->h[0]))
		return CS_ERR_INTERNAL;
	rv = t->module->fn->C_CreateObject(t->session, (CK_ATTRIBUTE_PTR)tp->a, tp->n, &h);
	if (rv != CKR_OK) {
		/* The two a user can do something about get their own words. */
		if (c->message != NULL && rv == CKR_DEVICE_MEMORY)
			snprintf(c->message, MESSAGE_SIZE, "the token is full: remove objects from it "
			         "or use another token");
		else if (c->message != NULL && rv == CKR_TOKEN_WRITE_PROTECTED)
			snprintf(c->message, MESSAGE_SIZE, "the token is write-protected");
		else if (c->message != NULL)
			snprintf(c->message, MESSAGE_SIZE, "the token refused to store the object "
			         "(CK_RV 0x%lx)", (unsigned long)rv);
		return tok_map_rv(rv);
	}
	c->h[c->n++] = h;
	return 0;
}

static void
destroy_created(struct tok_token *t, struct created *c)
{
	/* Best effort: a token pulled mid-import keeps what it had already stored. */
	while (c->n > 0)
		(void)t->module->fn->C_DestroyObject(t->session, c->h[--c->n]);
}

/* The attributes both halves of the key pair share. */
static void
add_key_common(struct tmpl *tp, const CK_OBJECT_CLASS *klass, const struct import *im)
{
	tmpl_add(tp, CKA_CLASS, klass, sizeof(*klass));
	tmpl_add(tp, CKA_KEY_TYPE, &im->key_type, sizeof(im->key_type));
	tmpl_add(tp, CKA_TOKEN, &yes, sizeof(yes));
	tmpl_add(tp, CKA_ID, im->id, sizeof(im->id));
	tmpl_add(tp, CKA_LABEL, im->label, strlen(im->label));
	tmpl_add(tp, CKA_SUBJECT, im->cert.subject, (size_t)im->cert.subject_len);
	tmpl_add(tp, CKA_DERIVE, &im->derive, sizeof(im->derive));
	if (im->key_type == CKK_EC)
		tmpl_add(tp, CKA_EC_PARAMS, im->ec_params, im->ec_params_len);
}

static int
write_private_key(struct tok_token *t, const struct import *im, struct created *c)
{
	static const CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	struct tmpl tp = { .n = 0 };
	size_t i;

	add_key_common(&tp, &klass, im);
	tmpl_add(&tp, CKA_PRIVATE, &yes, sizeof(yes));
	tmpl_add(&tp, CKA_SENSITIVE, &yes, sizeof(yes));
	tmpl_add(&tp, CKA_EXTRACTABLE, &no, sizeof(no));
	/* Every usage stated: token defaults differ (SoftHSM allows unwrap and sign-recover). */
	tmpl_add(&tp, CKA_SIGN, &im->sign, sizeof(im->sign));
	tmpl_add(&tp, CKA_SIGN_RECOVER, &no, sizeof(no));
	tmpl_add(&tp, CKA_DECRYPT, &im->decrypt, sizeof(im->decrypt));
	tmpl_add(&tp, CKA_UNWRAP, &no, sizeof(no));
	if (im->key_type == CKK_RSA) {
		for (i = 0; i < N_RSA_PARTS; i++)
			tmpl_add(&tp, rsa_parts[i].type, im->parts[i], im->part_len[i]);
	} else {
		tmpl_add(&tp, CKA_VALUE, im->parts[0], im->part_len[0]);
	}
	return create(t, &tp, c);
}

static int
write_public_key(struct tok_token *t, const struct import *im, struct created *c)
{
	static const CK_OBJECT_CLASS klass = CKO_PUBLIC_KEY;
	struct tmpl tp = { .n = 0 };

	add_key_common(&tp, &klass, im);
	tmpl_add(&tp, CKA_PRIVATE, &no, sizeof(no));
	tmpl_add(&tp, CKA_VERIFY, &im->sign, sizeof(im->sign));
	tmpl_add(&tp, CKA_VERIFY_RECOVER, &no, sizeof(no));
	tmpl_add(&tp, CKA_ENCRYPT, &im->decrypt, sizeof(im->decrypt));
	tmpl_add(&tp, CKA_WRAP, &no, sizeof(no));
	if (im->key_type == CKK_RSA) {
		tmpl_add(&tp, CKA_MODULUS, im->parts[0], im->part_len[0]);
		tmpl_add(&tp, CKA_PUBLIC_EXPONENT, im->parts[1], im->part_len[1]);
	} else {
		tmpl_add(&tp, CKA_EC_POINT, im->ec_point, im->ec_point_len);
	}
	return create(t, &tp, c);
}

static int
write_cert(struct tok_token *t, const struct cert_der *d, const uint8_t *id, const char *label,
           CK_ULONG category, struct created *c)
{
	static const CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	static const CK_CERTIFICATE_TYPE type = CKC_X_509;
	struct tmpl tp = { .n = 0 };

	tmpl_add(&tp, CKA_CLASS, &klass, sizeof(klass));
	tmpl_add(&tp, CKA_CERTIFICATE_TYPE, &type, sizeof(type));
	tmpl_add(&tp, CKA_TOKEN, &yes, sizeof(yes));
	tmpl_add(&tp, CKA_PRIVATE, &no, sizeof(no));
	tmpl_add(&tp, CKA_ID, id, KEY_ID_LEN);
	tmpl_add(&tp, CKA_LABEL, label, strlen(label));
	tmpl_add(&tp, CKA_CERTIFICATE_CATEGORY, &category, sizeof(category));
	tmpl_add(&tp, CKA_SUBJECT, d->subject, (size_t)d->subject_len);
	tmpl_add(&tp, CKA_ISSUER, d->issuer, (size_t)d->issuer_len);
	tmpl_add(&tp, CKA_SERIAL_NUMBER, d->serial, (size_t)d->serial_len);
	tmpl_add(&tp, CKA_VALUE, d->value, (size_t)d->value_len);
	return create(t, &tp, c);
}

/* Whether the token holds an object matching tmpl (on t's logged-in session); its handle. */
static int
token_find(struct tok_token *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, int *ret_found,
           CK_OBJECT_HANDLE *ret_obj)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_OBJECT_HANDLE o = CK_INVALID_HANDLE;
	CK_ULONG found = 0;
	CK_RV rv;

	*ret_found = 0;
	if ((rv = fn->C_FindObjectsInit(t->session, tmpl, n)) != CKR_OK)
		return tok_map_rv(rv);
	rv = fn->C_FindObjects(t->session, &o, 1, &found);
	(void)fn->C_FindObjectsFinal(t->session);
	*ret_found = found > 0;
	if (ret_obj != NULL)
		*ret_obj = o;
	return tok_map_rv(rv);
}

static int
token_has(struct tok_token *t, CK_ATTRIBUTE *tmpl, CK_ULONG n, int *ret_found)
{
	return token_find(t, tmpl, n, ret_found, NULL);
}

/* "already on the token: the key "LABEL" (id 0a1b...)" for an object found by id or value. */
static void
say_duplicate(struct tok_token *t, CK_OBJECT_HANDLE o, const char *what, const uint8_t *id,
              char *message)
{
	char label[65] = "", hex[2 * KEY_ID_LEN + 1];
	CK_ATTRIBUTE a = { CKA_LABEL, label, sizeof(label) - 1 };
	size_t i;

	if (t->module->fn->C_GetAttributeValue(t->session, o, &a, 1) != CKR_OK ||
	    a.ulValueLen >= sizeof(label))
		a.ulValueLen = 0;
	label[a.ulValueLen] = '\0';
	for (i = 0; i < KEY_ID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	snprintf(message, MESSAGE_SIZE, "already on the token: %s \"%s\" (id %s)", what, label,
	         hex);
}

static int
write_ca_cert(struct tok_token *t, struct p12_file *f, X509 *x, struct created *c)
{
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_ATTRIBUTE same[2] = { { CKA_CLASS, &klass, sizeof(klass) }, { CKA_VALUE, NULL, 0 } };
	struct cert_der d;
	uint8_t id[KEY_ID_LEN];
	char *label = NULL;
	int r, found;

	if ((r = cert_der_encode(x, &d)) != 0)
		goto out;
	same[1].pValue = d.value;
	same[1].ulValueLen = (CK_ULONG)d.value_len;
	/* Already there, from another import or the card's issuer: one copy is enough. */
	if ((r = token_has(t, same, 2, &found)) != 0 || found)
		goto out;
	if ((r = key_id(f->libctx, x, id)) != 0 ||
	    (r = cert_label(x, 0, "CA certificate", &label)) != 0)
		goto out;
	if ((r = write_cert(t, &d, id, label, CATEGORY_AUTHORITY, c)) == 0)
		c->ca_written++;
out:
	free(label);
	cert_der_clear(&d);
	return r;
}

static int
write_objects(struct tok_token *t, struct p12_file *f, const struct import *im,
              struct tok_import_result *res)
{
	CK_OBJECT_CLASS cert_class = CKO_CERTIFICATE;
	CK_ATTRIBUTE by_id = { CKA_ID, (void *)im->id, sizeof(im->id) };
	CK_ATTRIBUTE same_cert[2] = { { CKA_CLASS, &cert_class, sizeof(cert_class) },
		                      { CKA_VALUE, im->cert.value, (CK_ULONG)im->cert.value_len } };
	struct created c = { .n = 0, .message = res != NULL ? res->message : NULL };
	CK_OBJECT_HANDLE o;
	CK_SESSION_INFO si;
	CK_RV rv;
	int i, r, found;

	if ((rv = t->module->fn->C_GetSessionInfo(t->session, &si)) != CKR_OK)
		return tok_map_rv(rv);
	if (!(si.flags & CKF_RW_SESSION)) {
		if (res != NULL)
			snprintf(res->message, MESSAGE_SIZE, "the token is write-protected");
		return tok_map_rv(CKR_TOKEN_WRITE_PROTECTED);
	}
	/* Logged in, so private keys are visible too: two keys under one id would be ambiguous. */
	if ((r = token_find(t, &by_id, 1, &found, &o)) != 0)
		return r;
	if (found && res != NULL)
		say_duplicate(t, o, "an object with this key's id", im->id, res->message);
	if (found)
		return CS_ERR_INVALID_ARG;
	/* The same certificate under another id (another tool's import): one copy is enough. */
	if ((r = token_find(t, same_cert, 2, &found, &o)) != 0)
		return r;
	if (found && res != NULL)
		say_duplicate(t, o, "this certificate", im->id, res->message);
	if (found)
		return CS_ERR_INVALID_ARG;
	if ((r = write_private_key(t, im, &c)) != 0 || (r = write_public_key(t, im, &c)) != 0 ||
	    (r = write_cert(t, &im->cert, im->id, im->label, CATEGORY_TOKEN_USER, &c)) != 0)
		goto out;
	for (i = 0; i < sk_X509_num(f->certs) && r == 0; i++) {
		X509 *x = sk_X509_value(f->certs, i);

		if (x != f->cert && X509_check_ca(x) != 0)
			r = write_ca_cert(t, f, x, &c);
	}
out:
	if (r != 0)
		destroy_created(t, &c);
	else if (res != NULL)
		res->chain_written = c.ca_written;
	return r;
}

/* A CK_TOKEN_INFO from our copy, for p11-kit's matching (as tok_object.c does). */
static void
fill_token_info(const struct tok_token_info *info, CK_TOKEN_INFO *ti)
{
	memset(ti, ' ', sizeof(*ti));
	memcpy(ti->label, info->label, strlen(info->label));
	memcpy(ti->serialNumber, info->serial, strlen(info->serial));
	memcpy(ti->manufacturerID, info->manufacturer, strlen(info->manufacturer));
	memcpy(ti->model, info->model, strlen(info->model));
	ti->flags = 0;
}

/*
 * A private key is written to the token the user named, never to the first
 * that happens to match: the URI must give a label or serial, and exactly one
 * present token may fit it.
 */
static int
check_token_uri(struct tok_ctx *ctx, const char *token_uri, struct tok_import_result *res)
{
	struct tok_token_info *list = NULL;
	CK_TOKEN_INFO *want, ti;
	P11KitUri *uri;
	size_t n = 0, i, matches = 0;
	char wanted[33];
	int r = CS_ERR_BAD_FORMAT;

	if ((uri = p11_kit_uri_new()) == NULL)
		return CS_ERR_NOMEM;
	if (p11_kit_uri_parse(token_uri, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK ||
	    p11_kit_uri_any_unrecognized(uri))
		goto out;
	want = p11_kit_uri_get_token_info(uri);
	r = CS_ERR_INVALID_ARG;
	if (want->label[0] == 0 && want->serialNumber[0] == 0)
		goto out;   /* p11-kit leaves unset fields zeroed */
	if ((r = tok_list_tokens(ctx, &list, &n)) != 0)
		goto out;
	for (i = 0; i < n; i++) {
		if (!list[i].present)
			continue;
		fill_token_info(&list[i], &ti);
		if (p11_kit_uri_match_token_info(uri, &ti) == 0)
			continue;
		if (res != NULL && matches == 0)
			snprintf(res->token_label, sizeof(res->token_label), "%s", list[i].label);
		matches++;
	}
	r = matches == 1 ? 0 : matches == 0 ? CS_ERR_NO_TOKEN : CS_ERR_INVALID_ARG;
	if (res != NULL && matches == 0) {
		tok_copy_padded(wanted, sizeof(wanted), want->label[0] != 0 ? want->label
		                : want->serialNumber, want->label[0] != 0 ? sizeof(want->label)
		                : sizeof(want->serialNumber));
		snprintf(res->message, MESSAGE_SIZE, "insert the token \"%s\"", wanted);
	} else if (res != NULL && matches > 1) {
		snprintf(res->message, MESSAGE_SIZE, "%zu tokens match %s: name one by its serial",
		         matches, token_uri);
	}
out:
	free(list);
	p11_kit_uri_free(uri);
	return r;
}

/* Logs in, builds the URIs and writes; caller holds t->lock. */
static int
import_locked(struct tok_ctx *ctx, struct tok_token *t, struct p12_file *f,
              const struct import *im, tok_pin_cb pin_cb, void *pin_arg, char **ret_key_uri,
              char **ret_cert_uri, struct tok_import_result *res)
{
	struct tok_token_info info;
	int r;

	/* The URIs first: once the objects are written, nothing may fail. */
	if ((r = tok_token_prepare(ctx, t, pin_cb, pin_arg)) != 0 ||
	    (r = tok_token_read_info(t, &info)) != 0 ||
	    (r = tok_object_uri(&info, im->id, sizeof(im->id), CKO_PRIVATE_KEY, NULL,
	                        ret_key_uri)) != 0 ||
	    (r = tok_object_uri(&info, im->id, sizeof(im->id), CKO_CERTIFICATE, NULL,
	                        ret_cert_uri)) != 0)
		return r;
	r = write_objects(t, f, im, res);
	/* New objects (or some, on failure): no key handle found before is trusted after. */
	tok_keycache_clear(t);
	tok_ctx_bump_generation(ctx);
	return r;
}

int
tok_import_pkcs12(struct tok_ctx *ctx, const char *token_uri, const uint8_t *p12, size_t p12_len,
                  const struct cs_secret *password, const char *label, tok_pin_cb pin_cb,
                  void *pin_arg, char **ret_key_uri, char **ret_cert_uri)
{
	struct p12_file f;
	struct import im;
	struct tok_token *t;
	char *key_uri = NULL, *cert_uri = NULL;
	int r;

	if (ctx == NULL || token_uri == NULL || p12 == NULL || pin_cb == NULL ||
	    ret_key_uri == NULL || ret_cert_uri == NULL)
		return CS_ERR_INVALID_ARG;
	if (p12_len > TOK_PKCS12_MAX)
		return CS_ERR_TOO_LARGE;
	memset(&im, 0, sizeof(im));
	/* Our result says what failed: OpenSSL's errors from here on are not left to the caller. */
	ERR_set_mark();
	/* The file first: a wrong password must not cost a PIN dialog. */
	if ((r = p12_file_init(&f)) != 0 || (r = parse_p12(&f, p12, p12_len, password)) != 0 ||
	    (r = prepare_import(&f, label, &im)) != 0 ||
	    (r = check_token_uri(ctx, token_uri, NULL)) != 0 ||
	    (r = tok_lock_token_for_uri(ctx, token_uri, &t)) != 0)
		goto out;
	r = import_locked(ctx, t, &f, &im, pin_cb, pin_arg, &key_uri, &cert_uri, NULL);
	tok_token_finish(ctx, t, r);
	pthread_mutex_unlock(&t->lock);
	if (r != 0)
		goto out;
	*ret_key_uri = key_uri;
	*ret_cert_uri = cert_uri;
	key_uri = cert_uri = NULL;
out:
	free(key_uri);
	free(cert_uri);
	import_clear(&im);
	p12_file_clear(&f);
	ERR_pop_to_mark();
	return r;
}

void
tok_import_result_clear(struct tok_import_result *res)
{
	free(res->key_uri);
	free(res->cert_uri);
	free(res->subject);
	memset(res, 0, sizeof(*res));
}

/* A pkcs11: URI naming the token by label and serial (new string). */
static int
token_uri_for(const struct tok_token_info *info, char **ret_uri)
{
	P11KitUri *uri;
	CK_TOKEN_INFO *ti;
	int r = CS_ERR_NOMEM;

	if ((uri = p11_kit_uri_new()) == NULL)
		return r;
	/* Blank-padded as PKCS#11 has them; the fields left zero are not part of the URI. */
	ti = p11_kit_uri_get_token_info(uri);
	memset(ti->label, ' ', sizeof(ti->label));
	memcpy(ti->label, info->label, strlen(info->label));
	memset(ti->serialNumber, ' ', sizeof(ti->serialNumber));
	memcpy(ti->serialNumber, info->serial, strlen(info->serial));
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_TOKEN, ret_uri) == P11_KIT_URI_OK)
		r = 0;
	p11_kit_uri_free(uri);
	return r;
}

/*
 * With no URI, the only token present that could take the file: initialised
 * (SoftHSM always shows an empty slot) and not write-protected. None or
 * several: an error that says so, naming them.
 */
static int
only_writable_token(struct tok_ctx *ctx, struct tok_import_result *res, char **ret_uri)
{
	struct tok_token **tokens = NULL;
	struct tok_token_info info, chosen;
	CK_TOKEN_INFO ti;
	size_t n = 0, i, found = 0, len = 0;
	char names[sizeof(res->message) - 80] = "";
	int r;

	if ((r = tok_ctx_tokens(ctx, &tokens, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if (tok_token_read_info(tokens[i], &info) != 0 || !info.present ||
		    tokens[i]->module->fn->C_GetTokenInfo(tokens[i]->slot, &ti) != CKR_OK ||
		    !(ti.flags & CKF_TOKEN_INITIALIZED) || (ti.flags & CKF_WRITE_PROTECTED))
			continue;
		if (found++ == 0)
			chosen = info;
		if (len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s\"%s\"",
			                        len > 0 ? ", " : "", info.label);
	}
	free(tokens);
	if (found == 0) {
		snprintf(res->message, MESSAGE_SIZE, "no writable token: insert one");
		return CS_ERR_NO_TOKEN;
	}
	if (found > 1) {
		snprintf(res->message, MESSAGE_SIZE, "%zu writable tokens (%s): say which with --token",
		         found, names);
		return CS_ERR_INVALID_ARG;
	}
	snprintf(res->token_label, sizeof(res->token_label), "%s", chosen.label);
	return token_uri_for(&chosen, ret_uri);
}

/* The token to write to, as a URI naming one present token (new string). */
static int
choose_token(struct tok_ctx *ctx, const char *token_uri, struct tok_import_result *res,
             char **ret_uri)
{
	int r;

	if (token_uri == NULL || token_uri[0] == '\0')
		return only_writable_token(ctx, res, ret_uri);
	if ((r = check_token_uri(ctx, token_uri, res)) != 0) {
		if (r == CS_ERR_BAD_FORMAT)
			snprintf(res->message, MESSAGE_SIZE, "not a pkcs11: token URI: %s", token_uri);
		else if (r == CS_ERR_INVALID_ARG && res->message[0] == '\0')
			snprintf(res->message, MESSAGE_SIZE, "the URI must name the token by its "
			         "label or serial");
		return r;
	}
	return (*ret_uri = strdup(token_uri)) != NULL ? 0 : CS_ERR_NOMEM;
}

/* One try of the file with one password: 0, or CS_ERR_PKCS12 with *wrong for a wrong password. */
static int
try_password(struct p12_file *f, const struct tok_import_request *req,
             const struct cs_secret *password, int *wrong)
{
	int r;

	p12_file_clear(f);
	*wrong = 0;
	if ((r = p12_file_init(f)) != 0)
		return r;
	r = parse_p12(f, req->p12, req->p12_len, password);
	/* Without a MAC, a safe that fails to decrypt is the only sign of a wrong password. */
	*wrong = r == CS_ERR_PKCS12 && (f->wrong_password || (!f->mac_present && f->decrypt_failed));
	return r;
}

/*
 * Opens the file: with the password given, or without one if it opens so,
 * or with what the callback asks, up to TOK_PKCS12_PASSWORD_TRIES times.
 * Every password asked is wiped as soon as it has been tried.
 */
static int
open_file(struct p12_file *f, const struct tok_import_request *req,
          struct tok_import_result *res)
{
	struct tok_password_prompt prompt;
	struct cs_secret *asked = NULL;
	int r, wrong = 0, attempt;

	r = try_password(f, req, req->password, &wrong);
	if (r != 0 && wrong && req->password == NULL && req->password_cb != NULL) {
		for (attempt = 1; attempt <= TOK_PKCS12_PASSWORD_TRIES; attempt++) {
			prompt.token_label = res->token_label;
			prompt.attempt = attempt;
			prompt.tries = TOK_PKCS12_PASSWORD_TRIES;
			prompt.previous_wrong = attempt > 1;
			if ((r = req->password_cb(req->password_arg, &prompt, &asked)) != 0)
				return r;
			r = try_password(f, req, asked, &wrong);
			cs_secret_free(asked);
			asked = NULL;
			if (r == 0 || !wrong)
				break;
		}
	}
	if (r == CS_ERR_PKCS12 && wrong)
		snprintf(res->message, MESSAGE_SIZE, "wrong password");
	else if (r == CS_ERR_PKCS12)
		snprintf(res->message, MESSAGE_SIZE, "not a usable PKCS#12 file: it is damaged, or "
		         "has no private key, or none of its certificates matches the key");
	return r;
}

/* Digests too weak to trust a certificate's signature with. */
static int
weak_signature_digest(int md_nid)
{
	return md_nid == NID_md2 || md_nid == NID_md4 || md_nid == NID_md5 ||
	       md_nid == NID_sha1 || md_nid == NID_md5_sha1 || md_nid == NID_mdc2;
}

/* The key and the certificate's signature against the policy's minimums. */
static int
check_policy(const struct p12_file *f, const struct tok_key_policy *p,
             struct tok_import_result *res)
{
	int bits = EVP_PKEY_get_bits(f->key), md_nid = NID_undef;

	if (p == NULL)
		return 0;
	if (EVP_PKEY_is_a(f->key, "RSA") && bits < (int)p->min_rsa_bits) {
		snprintf(res->message, MESSAGE_SIZE, "the key is too weak for policy (RSA %d < %u)",
		         bits, p->min_rsa_bits);
		return CS_ERR_PERMISSION;
	}
	if (EVP_PKEY_is_a(f->key, "EC") && bits < (int)p->min_ec_bits) {
		snprintf(res->message, MESSAGE_SIZE, "the key is too weak for policy (EC %d < %u)",
		         bits, p->min_ec_bits);
		return CS_ERR_PERMISSION;
	}
	/* md_nid is the hash actually used, also inside RSASSA-PSS parameters. */
	if (p->refuse_weak_signature &&
	    (X509_get_signature_info(f->cert, &md_nid, NULL, NULL, NULL) != 1 ||
	     weak_signature_digest(md_nid))) {
		snprintf(res->message, MESSAGE_SIZE, "the certificate's signature is too weak for "
		         "policy (%s)", md_nid != NID_undef ? OBJ_nid2sn(md_nid) : "unknown digest");
		return CS_ERR_PERMISSION;
	}
	return 0;
}

/* The certificate's subject on one line (RFC 2253), for the caller to show. */
static int
subject_text(X509 *x, char **ret)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int r = CS_ERR_NOMEM;

	if (b == NULL)
		return r;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	                       XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(b, &p)) >= 0 && (*ret = strndup(p, (size_t)n)) != NULL)
		r = 0;
	BIO_free(b);
	return r;
}

int
tok_import_pkcs12_ex(struct tok_ctx *ctx, const struct tok_import_request *req,
                     struct tok_import_result *res)
{
	struct p12_file f;
	struct import im;
	struct tok_token *t;
	char *token_uri = NULL, *key_uri = NULL, *cert_uri = NULL, *subject = NULL;
	int r;

	memset(res, 0, sizeof(*res));
	memset(&f, 0, sizeof(f));
	memset(&im, 0, sizeof(im));
	if (ctx == NULL || req == NULL || req->p12 == NULL || req->pin_cb == NULL)
		return CS_ERR_INVALID_ARG;
	if (req->p12_len > TOK_PKCS12_MAX) {
		snprintf(res->message, MESSAGE_SIZE, "the file is over %u KiB", TOK_PKCS12_MAX / 1024);
		return CS_ERR_TOO_LARGE;
	}
	ERR_set_mark();
	/* The token first, so the password dialog can name it and an absent one costs none. */
	if ((r = choose_token(ctx, req->token_uri, res, &token_uri)) != 0 ||
	    (r = open_file(&f, req, res)) != 0 || (r = check_policy(&f, req->policy, res)) != 0)
		goto out;
	if ((r = prepare_import(&f, req->label, &im)) != 0) {
		snprintf(res->message, MESSAGE_SIZE, "%s", r == CS_ERR_MECHANISM
		         ? "a key tokens cannot use here (type, curve or size), or a certificate "
		           "that allows it nothing"
		         : r == CS_ERR_TOO_LARGE ? "too many CA certificates in the file"
		                                 : "the certificate's extensions do not parse");
		goto out;
	}
	if ((r = subject_text(f.cert, &subject)) != 0 ||
	    (r = tok_lock_token_for_uri(ctx, token_uri, &t)) != 0)
		goto out;
	r = import_locked(ctx, t, &f, &im, req->pin_cb, req->pin_arg, &key_uri, &cert_uri, res);
	tok_token_finish(ctx, t, r);
	pthread_mutex_unlock(&t->lock);
	if (r != 0)
		goto out;
	res->chain = im.n_ca;
	res->key_uri = key_uri;
	res->cert_uri = cert_uri;
	res->subject = subject;
	key_uri = cert_uri = subject = NULL;
out:
	if (r != 0 && res->message[0] == '\0')
		snprintf(res->message, MESSAGE_SIZE, "%s", cs_strerror(r));
	if (r != 0)
		res->chain_written = 0;
	free(token_uri);
	free(key_uri);
	free(cert_uri);
	free(subject);
	import_clear(&im);
	p12_file_clear(&f);
	ERR_pop_to_mark();
	return r;
}
