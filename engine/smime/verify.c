#include "verify.h"

#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cs_error.h"

void
vfy_digests_init(struct vfy_digests *d, int canonical)
{
	memset(d, 0, sizeof(*d));
	d->canonical = canonical;
}

/* A BIO_f_md for md. Returns 0, CS_ERR_NOMEM, or CS_ERR_NOT_FOUND if no provider has md. */
static int
md_bio(const EVP_MD *md, BIO **ret)
{
	BIO *b;

	*ret = NULL;
	if ((b = BIO_new(BIO_f_md())) == NULL)
		return CS_ERR_NOMEM;
	if (BIO_set_md(b, md) != 1) {
		ERR_clear_error();
		BIO_free(b);
		return CS_ERR_NOT_FOUND;
	}
	*ret = b;
	return 0;
}

static EVP_MD_CTX *
bio_ctx(BIO *b)
{
	EVP_MD_CTX *ctx = NULL;

	BIO_get_md_ctx(b, &ctx);
	return ctx;
}

int
vfy_digests_add(struct vfy_digests *d, const EVP_MD *md)
{
	BIO *b;
	int i, r;

	if (md == NULL || d->n == VFY_MAX_DIGESTS || d->bytes > 0 || d->forked)
		return 0;
	for (i = 0; i < d->n; i++) {
		if (EVP_MD_get_type(d->md[i]) == EVP_MD_get_type(md))
			return 0;
	}
	/* A digest nobody implements (MD4 without the legacy provider) is left out. */
	if ((r = md_bio(md, &b)) != 0)
		return r == CS_ERR_NOT_FOUND ? 0 : r;
	/*
	 * CMS_SignerInfo_verify_content finds the digest by walking a BIO
	 * chain, so the digests of a variant are kept as one chain.
	 */
	d->chain[0] = d->chain[0] != NULL ? BIO_push(d->chain[0], b) : b;
	d->md[d->n++] = md;
	return 0;
}

int
vfy_digests_add_micalg(struct vfy_digests *d, const char *micalg)
{
	static const struct {
		const char *name;
		int nid;
	} names[] = {
	    {"sha-256", NID_sha256}, {"sha256", NID_sha256},  {"sha-1", NID_sha1},
	    {"sha1", NID_sha1},      {"sha-384", NID_sha384}, {"sha384", NID_sha384},
	    {"sha-512", NID_sha512}, {"sha512", NID_sha512},  {"sha-224", NID_sha224},
	    {"sha224", NID_sha224},  {"md5", NID_md5},
	};
	const char *p = micalg != NULL ? micalg : "";
	size_t len, i;
	int known = 0, r;

	while (*p != 0) {
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, ", \t");
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (strlen(names[i].name) == len &&
			    strncasecmp(p, names[i].name, len) == 0) {
				if ((r = vfy_digests_add(d, EVP_get_digestbynid(names[i].nid))) !=
				    0)
					return r;
				known = 1;
			}
		}
		p += len;
	}
	/* micalg is only a hint for one-pass processing; the SignerInfo decides. */
	if ((r = vfy_digests_add(d, EVP_sha256())) != 0)
		return r;
	if (!known) {
		if ((r = vfy_digests_add(d, EVP_sha1())) != 0 ||
		    (r = vfy_digests_add(d, EVP_sha384())) != 0 ||
		    (r = vfy_digests_add(d, EVP_sha512())) != 0)
			return r;
	}
	return 0;
}

static void
update_variant(struct vfy_digests *d, int v, const void *p, size_t n)
{
	BIO *b;

	if (n == 0)
		return;
	for (b = d->chain[v]; b != NULL; b = BIO_next(b)) {
		if (EVP_DigestUpdate(bio_ctx(b), p, n) != 1 && d->err == 0)
			d->err = CS_ERR_INTERNAL;
	}
}

/* Starts the canonical variant as a copy of the digests so far. */
static int
fork_canonical(struct vfy_digests *d)
{
	BIO *a, *b;
	int r;

	for (a = d->chain[0]; a != NULL; a = BIO_next(a)) {
		if ((r = md_bio(EVP_MD_CTX_get0_md(bio_ctx(a)), &b)) != 0)
			return r;
		d->chain[1] = d->chain[1] != NULL ? BIO_push(d->chain[1], b) : b;
		if (EVP_MD_CTX_copy_ex(bio_ctx(b), bio_ctx(a)) != 1)
			return CS_ERR_INTERNAL;
	}
	d->forked = 1;
	return 0;
}

/* Feeds the canonical variant: every LF not preceded by CR becomes CRLF. */
static void
update_canonical(struct vfy_digests *d, const uint8_t *p, size_t n, uint8_t prev)
{
	static const uint8_t crlf[2] = {'\r', '\n'};
	const uint8_t *nl, *seg = p, *end = p + n;

	while ((nl = memchr(seg, '\n', (size_t)(end - seg))) != NULL) {
		if ((nl > p ? nl[-1] : prev) != '\r') {
			update_variant(d, 1, seg, (size_t)(nl - seg));
			update_variant(d, 1, crlf, 2);
		} else {
			update_variant(d, 1, seg, (size_t)(nl + 1 - seg));
		}
		seg = nl + 1;
	}
	update_variant(d, 1, seg, (size_t)(end - seg));
}

void
vfy_digests_update(void *arg, const uint8_t *p, size_t n)
{
	struct vfy_digests *d = arg;
	const uint8_t *nl, *seg = p, *end = p + n;
	size_t i = n;
	int r;

	if (n == 0 || d->err != 0)
		return;
	if (d->canonical && !d->forked) {
		/* Up to the first bare LF both variants are the same bytes: one set will do. */
		while ((nl = memchr(seg, '\n', (size_t)(end - seg))) != NULL) {
			if ((nl > p ? nl[-1] : d->last) != '\r') {
				i = (size_t)(nl - p);
				break;
			}
			seg = nl + 1;
		}
		if (i < n) {
			update_variant(d, 0, p, i);
			if ((r = fork_canonical(d)) != 0) {
				d->err = r;
				return;
			}
			update_variant(d, 0, p + i, n - i);
			update_canonical(d, p + i, n - i, i > 0 ? p[i - 1] : d->last);
		} else {
			update_variant(d, 0, p, n);
		}
	} else {
		update_variant(d, 0, p, n);
		if (d->forked)
			update_canonical(d, p, n, d->last);
	}
	d->bytes += n;
	d->last = p[n - 1];
}

void
vfy_digests_free(struct vfy_digests *d)
{
	BIO_free_all(d->chain[0]);
	BIO_free_all(d->chain[1]);
	memset(d, 0, sizeof(*d));
}
int
vfy_verdict_rank(enum cs_verdict v)
{
	switch (v) {
	case CS_VERDICT_UNSIGNED:
		return 0;
	case CS_VERDICT_VALID:
		return 1;
	case CS_VERDICT_MISMATCH:
		return 2;
	case CS_VERDICT_UNTRUSTED:
		return 3;
	case CS_VERDICT_EXPIRED:
		return 4;
	case CS_VERDICT_REVOKED:
		return 5;
	case CS_VERDICT_INVALID:
	default:
		return 6;
	}
}

/* What the certificate-path callback collects. */
struct path_state {
	unsigned reasons;
	int revoked;
	int revocation_unknown;
};

/* Records every error of the signer's path and carries on, so that one run shows all of them. */
static int
path_cb(int ok, X509_STORE_CTX *ctx)
{
	struct path_state *st = X509_STORE_CTX_get_app_data(ctx);

	/*
	 * A CRL issuer's own path is checked in a context of its own, without
	 * our state: there OpenSSL's decision stands, so a bad CRL path makes
	 * that CRL unusable instead of being waved through.
	 */
	if (ok || st == NULL)
		return ok;
	switch (X509_STORE_CTX_get_error(ctx)) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		st->reasons |= CS_REASON_EXPIRED;
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		st->reasons |= CS_REASON_NOT_YET_VALID;
		break;
	case X509_V_ERR_CERT_REVOKED:
		st->revoked = 1;
		break;
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
		/* A CA certificate whose key usage forbids signing certificates. */
		st->reasons |= CS_REASON_KEY_USAGE;
		break;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
	case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
	case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
	case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
	case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
		/* No usable CRL (none, stale, broken): the status is unknown, not bad. */
		st->revocation_unknown = 1;
		break;
	default:
		st->reasons |= CS_REASON_UNTRUSTED_ROOT;
		break;
	}
	return 1;
}

/* Result of one SignerInfo. */
struct signer_eval {
	enum cs_verdict verdict;
	unsigned reasons;
	enum cs_revocation revocation;
	X509 *cert;
	STACK_OF(X509) *chain;
	char email[256];
	int email_matches;
	int64_t signing_time;
	char digest[32];
	int weak;
	X509 *enc_cert;
	enum cs_key_pref pref;
	uint8_t *caps;
	size_t caps_len;
};

static void
signer_eval_free(struct signer_eval *e)
{
	X509_free(e->cert);
	sk_X509_pop_free(e->chain, X509_free);
	X509_free(e->enc_cert);
	OPENSSL_free(e->caps);
	memset(e, 0, sizeof(*e));
}

/* Flags SHA-1, MD5, DSA and RSA keys under 2048 bits. */
static unsigned
weak_key(EVP_PKEY *pk)
{
	if (pk == NULL)
		return 0;
	if (EVP_PKEY_is_a(pk, "DSA"))
		return CS_REASON_WEAK_ALGORITHM;
	if ((EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) &&
	    EVP_PKEY_get_bits(pk) < 2048)
		return CS_REASON_WEAK_KEY;
	return 0;
}

static int
weak_digest_nid(int nid)
{
	return nid == NID_sha1 || nid == NID_md5 || nid == NID_md4 || nid == NID_md2;
}

/* Weak keys and signature digests met along the path (the anchor's self-signature aside). */
static unsigned
weak_chain(STACK_OF(X509) *chain)
{
	unsigned reasons = 0;
	int i, n = sk_X509_num(chain), mdnid = NID_undef;
	X509 *x;

	for (i = 0; i < n; i++) {
		x = sk_X509_value(chain, i);
		reasons |= weak_key(X509_get0_pubkey(x));
		if (i == n - 1 && (X509_get_extension_flags(x) & EXFLAG_SS) != 0)
			continue;
		if (X509_get_signature_info(x, &mdnid, NULL, NULL, NULL) == 1 &&
		    weak_digest_nid(mdnid))
			reasons |= CS_REASON_WEAK_ALGORITHM;
	}
	return reasons;
}

static int64_t
signing_time(CMS_SignerInfo *si)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	struct tm tm;
	int idx;

	if ((idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)) < 0 ||
	    (a = CMS_signed_get_attr(si, idx)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL)
		return 0;
	if (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (ASN1_TIME_to_tm(t->value.asn1_string, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

/* Adds one certificate address to e (first one kept for the report) and checks it. */
static void
check_address(const struct vfy_ctx *v, struct signer_eval *e, const ASN1_STRING *s)
{
	const unsigned char *p = ASN1_STRING_get0_data(s);
	int len = ASN1_STRING_length(s);
	char addr[RD_MAX_ADDR];
	size_t i;

	if (len <= 0 || (size_t)len >= sizeof(addr) || memchr(p, 0, (size_t)len) != NULL)
		return;
	memcpy(addr, p, (size_t)len);
	addr[len] = 0;
	if (e->email[0] == 0)
		snprintf(e->email, sizeof(e->email), "%s", addr);
	for (i = 0; i < v->n_addrs && !e->email_matches; i++) {
		if (rd_addr_equal(addr, v->addrs[i])) {
			e->email_matches = 1;
			snprintf(e->email, sizeof(e->email), "%s", addr);
		}
	}
}

/* RFC 8550 3.1.2: the SAN rfc822Names, or else the subject's emailAddress. */
static void
check_addresses(const struct vfy_ctx *v, struct signer_eval *e, X509 *cert)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *g;
	X509_NAME *subj;
	X509_NAME_ENTRY *ne;
	int i, any = 0;

	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_EMAIL) {
			check_address(v, e, g->d.rfc822Name);
			any = 1;
		}
	}
	GENERAL_NAMES_free(gens);
	if (any)
		return;
	subj = X509_get_subject_name(cert);
	for (i = -1; (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0;) {
		ne = X509_NAME_get_entry(subj, i);
		check_address(v, e, X509_NAME_ENTRY_get_data(ne));
	}
}

/* The signature itself: signed attributes, content type, and the digest of the content. */
static int
signature_ok(CMS_ContentInfo *cms, CMS_SignerInfo *si, struct vfy_digests *d)
{
	const ASN1_OBJECT *ct;

	if (d->err != 0)
		return 0;
	if (CMS_signed_get_attr_count(si) >= 0) {
		if (CMS_SignerInfo_verify(si) != 1)
			return 0;
		/* RFC 5652 11.1: the contentType attribute must name the content's type. */
		ct = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3,
		                                 V_ASN1_OBJECT);
		if (ct == NULL || OBJ_cmp(ct, CMS_get0_eContentType(cms)) != 0)
			return 0;
	}
	if (d->chain[0] != NULL && CMS_SignerInfo_verify_content(si, d->chain[0]) == 1)
		return 1;
	ERR_clear_error();
	return d->chain[1] != NULL && CMS_SignerInfo_verify_content(si, d->chain[1]) == 1;
}

/* Every CRL of the store and of the message (new references), or NULL. */
static STACK_OF(X509_CRL) *
all_crls(X509_STORE *store, CMS_ContentInfo *cms)
{
	STACK_OF(X509_CRL) *crls = cms != NULL ? CMS_get1_crls(cms) : NULL;
	STACK_OF(X509_OBJECT) *objs;
	int i;

	if (crls == NULL && (crls = sk_X509_CRL_new_null()) == NULL)
		return NULL;
	if (!X509_STORE_lock(store))
		return crls;
	objs = X509_STORE_get0_objects(store);
	for (i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));

		if (crl != NULL && X509_CRL_up_ref(crl) == 1 && !sk_X509_CRL_push(crls, crl))
			X509_CRL_free(crl);
	}
	X509_STORE_unlock(store);
	return crls;
}

/*
 * The path of cert now: anchors and (with have_crls) CRLs from trust, the
 * message's certificates and CRLs when cms is not NULL, and extra untrusted
 * certificates. Problems go to st; *ret_chain is the chain as built.
 */
static int
check_path(X509_STORE *trust, int have_crls, CMS_ContentInfo *cms, STACK_OF(X509) *extra,
           X509 *cert, struct path_state *st, STACK_OF(X509) **ret_chain)
{
	X509_STORE *store = trust, *empty = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *untrusted = NULL;
	unsigned long crl_flags = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL |
	                          X509_V_FLAG_EXTENDED_CRL_SUPPORT | X509_V_FLAG_USE_DELTAS;
	ASN1_OBJECT *any = NULL;
	STACK_OF(X509_CRL) *crls = NULL;
	int r = CS_ERR_NOMEM;

	*ret_chain = NULL;
	if (store == NULL && (store = empty = X509_STORE_new()) == NULL)
		goto out;
	if ((cms == NULL || (untrusted = CMS_get1_certs(cms)) == NULL) &&
	    (untrusted = sk_X509_new_null()) == NULL)
		goto out;
	if (extra != NULL &&
	    !X509_add_certs(untrusted, extra, X509_ADD_FLAG_UP_REF | X509_ADD_FLAG_NO_DUP))
		goto out;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    !X509_STORE_CTX_init(ctx, store, cert, untrusted))
		goto out;
	/*
	 * RFC 5280 policy processing (any policy acceptable, none required):
	 * it changes nothing for certificates without policies and rejects
	 * paths whose policy mappings are invalid.
	 */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_POLICY_CHECK);
	/* The initial policy set any-policy: without it OpenSSL demands an explicit policy. */
	if ((any = OBJ_nid2obj(NID_any_policy)) == NULL || (any = OBJ_dup(any)) == NULL ||
	    X509_VERIFY_PARAM_add0_policy(X509_STORE_CTX_get0_param(ctx), any) != 1) {
		ASN1_OBJECT_free(any);
		goto out;
	}
	/* The caller's store may carry CRL flags or not; have_crls decides. */
	if (have_crls) {
		X509_STORE_CTX_set_flags(ctx, crl_flags);
		/*
		 * OpenSSL's store lookup finds CRLs by the certificate's issuer name
		 * only; an indirect CRL (issued by a separate cRLIssuer) is found
		 * only when handed over directly. So every CRL goes in as well.
		 */
		if ((crls = all_crls(store, cms)) != NULL)
			X509_STORE_CTX_set0_crls(ctx, crls);
	} else
		X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(ctx), crl_flags);
	X509_STORE_CTX_set_app_data(ctx, st);
	X509_STORE_CTX_set_verify_cb(ctx, path_cb);
	if (X509_verify_cert(ctx) < 0)
		st->reasons |= CS_REASON_UNTRUSTED_ROOT;
	*ret_chain = X509_STORE_CTX_get1_chain(ctx);
	r = 0;
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_free(empty);
	return r;
}

static int
eval_path(const struct vfy_ctx *v, CMS_ContentInfo *cms, X509 *signer, struct signer_eval *e,
          struct path_state *st)
{
	return check_path(v->opts->trust, v->opts->have_crls, cms, v->opts->intermediates, signer,
	                  st, &e->chain);
}

int
vfy_cert_status(X509_STORE *trust, int have_crls, STACK_OF(X509) *untrusted, X509 *cert,
                unsigned *ret_reasons, enum cs_revocation *ret_revocation)
{
	struct path_state st;
	STACK_OF(X509) *chain = NULL;
	int r;

	memset(&st, 0, sizeof(st));
	*ret_reasons = 0;
	*ret_revocation = CS_REVOCATION_UNKNOWN;
	if ((r = check_path(trust, have_crls, NULL, untrusted, cert, &st, &chain)) != 0)
		return r;
	sk_X509_pop_free(chain, X509_free);
	*ret_reasons = st.reasons;
	if (st.revoked) {
		*ret_reasons |= CS_REASON_REVOKED;
		*ret_revocation = CS_REVOCATION_REVOKED;
	} else if (have_crls && !st.revocation_unknown &&
	           !(st.reasons & CS_REASON_UNTRUSTED_ROOT)) {
		*ret_revocation = CS_REVOCATION_GOOD;
	} else {
		*ret_reasons |= CS_REASON_REVOCATION_UNKNOWN;
	}
	return 0;
}

/* The SMIMECapabilities attribute's value as DER (*ret NULL when absent). */
static int
smime_caps(CMS_SignerInfo *si, uint8_t **ret, size_t *ret_len)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	unsigned char *der = NULL;
	int idx, len;

	*ret = NULL;
	*ret_len = 0;
	if ((idx = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1)) < 0 ||
	    (a = CMS_signed_get_attr(si, idx)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL || t->type != V_ASN1_SEQUENCE)
		return 0;
	if ((len = i2d_ASN1_TYPE(t, &der)) <= 0)
		return CS_ERR_NOMEM;
	*ret = der;
	*ret_len = (size_t)len;
	return 0;
}

/* Whether x's key may encrypt (keyEncipherment or keyAgreement, or no keyUsage at all). */
static int
ku_allows_encryption(X509 *x)
{
	uint32_t ku = X509_get_key_usage(x);

	return ku == UINT32_MAX || (ku & (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT)) != 0;
}

/* The first certificate of a, then b, that issuer/serial or key id name (a new reference). */
static X509 *
find_named(STACK_OF(X509) *a, STACK_OF(X509) *b, const X509_NAME *issuer,
           const ASN1_INTEGER *serial, const unsigned char *kid, int kid_len)
{
	STACK_OF(X509) *lists[2] = {a, b};
	const ASN1_OCTET_STRING *ski;
	X509 *x;
	int l, i;

	for (l = 0; l < 2; l++) {
		for (i = 0; lists[l] != NULL && i < sk_X509_num(lists[l]); i++) {
			x = sk_X509_value(lists[l], i);
			if (issuer != NULL) {
				if (X509_NAME_cmp(X509_get_issuer_name(x), issuer) != 0 ||
				    ASN1_INTEGER_cmp(X509_get0_serialNumber(x), serial) != 0)
					continue;
			} else {
				ski = X509_get0_subject_key_id(x);
				if (ski == NULL || ASN1_STRING_length(ski) != kid_len ||
				    memcmp(ASN1_STRING_get0_data(ski), kid, (size_t)kid_len) != 0)
					continue;
			}
			return X509_up_ref(x) == 1 ? x : NULL;
		}
	}
	return NULL;
}

/*
 * SMIMEEncryptionKeyPreference (RFC 8551 2.5.3), from a module with
 * IMPLICIT TAGS: [0] constructed holding an IssuerAndSerialNumber's
 * fields, [1] constructed holding a RecipientKeyIdentifier's (the key id
 * first), or [2] primitive holding the key id's octets. The certificate it
 * names is looked up among the message's certificates, then the caller's.
 */
static void
encryption_pref(const struct vfy_ctx *v, CMS_SignerInfo *si, STACK_OF(X509) *certs,
                struct signer_eval *e)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	unsigned char *der = NULL;
	const unsigned char *p, *end;
	X509_NAME *issuer = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_OCTET_STRING *kid = NULL;
	long len;
	int idx, der_len, tag, cls, ret;

	if ((idx = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, -1)) < 0) {
		e->pref = CS_KEY_PREF_NONE;
		/* No preference: the signer's own certificate, if it may encrypt. */
		if (e->cert != NULL && ku_allows_encryption(e->cert) && X509_up_ref(e->cert) == 1)
			e->enc_cert = e->cert;
		return;
	}
	e->pref = CS_KEY_PREF_UNREADABLE;
	if ((a = CMS_signed_get_attr(si, idx)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL || (der_len = i2d_ASN1_TYPE(t, &der)) <= 0)
		goto out;
	p = der;
	ret = ASN1_get_object(&p, &len, &tag, &cls, der_len);
	if ((ret & 0x80) != 0 || cls != V_ASN1_CONTEXT_SPECIFIC)
		goto out;
	end = p + len;
	switch (tag) {
	case 0:
		if ((ret & V_ASN1_CONSTRUCTED) == 0 ||
		    (issuer = d2i_X509_NAME(NULL, &p, end - p)) == NULL ||
		    (serial = d2i_ASN1_INTEGER(NULL, &p, end - p)) == NULL)
			goto out;
		e->pref = CS_KEY_PREF_ISSUER_SERIAL;
		e->enc_cert = find_named(certs, v->opts->intermediates, issuer, serial, NULL, 0);
		break;
	case 1:
		if ((ret & V_ASN1_CONSTRUCTED) == 0 ||
		    (kid = d2i_ASN1_OCTET_STRING(NULL, &p, end - p)) == NULL)
			goto out;
		e->pref = CS_KEY_PREF_RKEYID;
		e->enc_cert = find_named(certs, v->opts->intermediates, NULL, NULL,
		                         ASN1_STRING_get0_data(kid), ASN1_STRING_length(kid));
		break;
	case 2:
		if ((ret & V_ASN1_CONSTRUCTED) != 0 || len <= 0 || len > 64)
			goto out;
		e->pref = CS_KEY_PREF_SKI;
		e->enc_cert = find_named(certs, v->opts->intermediates, NULL, NULL, p, (int)len);
		break;
	default:
		break;
	}
out:
	ERR_clear_error();
	X509_NAME_free(issuer);
	ASN1_INTEGER_free(serial);
	ASN1_OCTET_STRING_free(kid);
	OPENSSL_free(der);
}

static int
eval_signer(const struct vfy_ctx *v, CMS_ContentInfo *cms, CMS_SignerInfo *si,
            struct vfy_digests *d, struct signer_eval *e)
{
	struct path_state st;
	EVP_PKEY *pk = NULL;
	X509 *signer = NULL;
	X509_ALGOR *dig = NULL, *sig = NULL;
	uint32_t ku;
	int nid, sig_ok, r;

	memset(&st, 0, sizeof(st));
	CMS_SignerInfo_get0_algs(si, &pk, &signer, &dig, &sig);
	nid = dig != NULL ? OBJ_obj2nid(dig->algorithm) : NID_undef;
	snprintf(e->digest, sizeof(e->digest), "%s",
	         nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
	if (weak_digest_nid(nid))
		e->reasons |= CS_REASON_WEAK_ALGORITHM;
	e->signing_time = signing_time(si);
	if (signer == NULL) {
		/* Nothing to check the signature with: we cannot tell who signed. */
		e->reasons |= CS_REASON_UNTRUSTED_ROOT;
		e->verdict = CS_VERDICT_UNTRUSTED;
		e->revocation = CS_REVOCATION_UNKNOWN;
		e->reasons |= CS_REASON_REVOCATION_UNKNOWN;
		goto done;
	}
	X509_up_ref(signer);
	e->cert = signer;
	if ((r = smime_caps(si, &e->caps, &e->caps_len)) != 0)
		return r;
	{
		STACK_OF(X509) *certs = CMS_get1_certs(cms);

		encryption_pref(v, si, certs, e);
		sk_X509_pop_free(certs, X509_free);
	}
	/*
	 * A signer certificate whose key OpenSSL cannot decode (DSA parameters
	 * inherited from the issuer, RFC 3279 2.3.2, for one) leaves the
	 * signature unchecked: that is "cannot tell", not "the content was
	 * changed".
	 */
	sig_ok = pk != NULL ? signature_ok(cms, si, d) : -1;
	ERR_clear_error();
	e->reasons |= weak_key(pk);
	if ((r = eval_path(v, cms, signer, e, &st)) != 0)
		return r;
	e->reasons |= st.reasons | weak_chain(e->chain);
	ku = X509_get_key_usage(signer);
	if ((ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)) == 0)
		e->reasons |= CS_REASON_KEY_USAGE;
	if ((X509_get_extension_flags(signer) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(signer) & (XKU_SMIME | XKU_ANYEKU)) == 0)
		e->reasons |= CS_REASON_EKU;
	if ((X509_get_extension_flags(signer) & EXFLAG_INVALID) != 0)
		e->reasons |= CS_REASON_UNTRUSTED_ROOT;
	if (st.revoked) {
		e->revocation = CS_REVOCATION_REVOKED;
		e->reasons |= CS_REASON_REVOKED;
	} else if (v->opts->have_crls && !st.revocation_unknown) {
		e->revocation = CS_REVOCATION_GOOD;
	} else {
		e->revocation = CS_REVOCATION_UNKNOWN;
		e->reasons |= CS_REASON_REVOCATION_UNKNOWN;
	}
	check_addresses(v, e, signer);
	if (!e->email_matches)
		e->reasons |= CS_REASON_ADDRESS_MISMATCH;
	if (sig_ok < 0)
		e->reasons |= CS_REASON_UNTRUSTED_ROOT;
	if (sig_ok == 0) {
		e->reasons |= CS_REASON_BAD_SIGNATURE;
		e->verdict = CS_VERDICT_INVALID;
	} else if (st.revoked) {
		e->verdict = CS_VERDICT_REVOKED;
	} else if (e->reasons & (CS_REASON_EXPIRED | CS_REASON_NOT_YET_VALID)) {
		e->verdict = CS_VERDICT_EXPIRED;
	} else if (e->reasons & (CS_REASON_UNTRUSTED_ROOT | CS_REASON_KEY_USAGE | CS_REASON_EKU)) {
		e->verdict = CS_VERDICT_UNTRUSTED;
	} else if (!e->email_matches) {
		e->verdict = CS_VERDICT_MISMATCH;
	} else {
		e->verdict = CS_VERDICT_VALID;
	}
done:
	e->weak = (e->reasons & (CS_REASON_WEAK_ALGORITHM | CS_REASON_WEAK_KEY)) != 0;
	return 0;
}

int
vfy_signed(const struct vfy_ctx *v, CMS_ContentInfo *cms, struct vfy_digests *d,
           struct cs_layer *layer)
{
	STACK_OF(CMS_SignerInfo) *sis;
	struct signer_eval best, cur;
	int i, have = 0, r = 0;

	memset(&best, 0, sizeof(best));
	memset(&cur, 0, sizeof(cur));
	/*
	 * Signer certificates from the message first, then (for a message that
	 * carries none) from the caller's store. The store now holds harvested
	 * certificates too: one with the same issuer and serial but another key
	 * (a reissued certificate) must not make the sender's own signature look
	 * changed. Signers already resolved are left alone by the second call.
	 */
	(void)CMS_set1_signers_certs(cms, NULL, 0);
	(void)CMS_set1_signers_certs(cms, v->opts->intermediates, CMS_NOINTERN);
	ERR_clear_error();
	sis = CMS_get0_SignerInfos(cms);
	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		if ((r = eval_signer(v, cms, sk_CMS_SignerInfo_value(sis, i), d, &cur)) != 0)
			goto out;
		if (!have || vfy_verdict_rank(cur.verdict) < vfy_verdict_rank(best.verdict)) {
			signer_eval_free(&best);
			best = cur;
			memset(&cur, 0, sizeof(cur));
			have = 1;
		} else {
			signer_eval_free(&cur);
		}
	}
	if (!have) {
		/* A SignedData that nobody signed protects nothing. */
		best.verdict = CS_VERDICT_INVALID;
		best.reasons = CS_REASON_BAD_SIGNATURE | CS_REASON_REVOCATION_UNKNOWN;
		snprintf(best.digest, sizeof(best.digest), "none");
	}
	layer->verdict = best.verdict;
	layer->reasons = best.reasons;
	layer->revocation = best.revocation;
	layer->signer_cert = best.cert;
	layer->chain = best.chain;
	best.cert = NULL;
	best.chain = NULL;
	memcpy(layer->signer_email, best.email, sizeof(layer->signer_email));
	layer->email_matches = best.email_matches;
	layer->signing_time = best.signing_time;
	memcpy(layer->digest, best.digest, sizeof(layer->digest));
	layer->weak = best.weak;
	layer->encryption_cert = best.enc_cert;
	layer->encryption_pref = best.pref;
	layer->capabilities = best.caps;
	layer->capabilities_len = best.caps_len;
	best.enc_cert = NULL;
	best.caps = NULL;
	if ((layer->certs = CMS_get1_certs(cms)) == NULL)
		layer->certs = sk_X509_new_null();
	if (layer->certs == NULL)
		r = CS_ERR_NOMEM;
out:
	ERR_clear_error();
	signer_eval_free(&cur);
	signer_eval_free(&best);
	return r;
}
