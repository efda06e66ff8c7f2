/*
 * A recipient's encryption certificate: the user's own identities for their
 * own addresses, then the store. Every candidate is judged now: validity
 * dates, key usage (and EKU), revocation from the configured CRLs, whether
 * it chains to a trust anchor. Among the usable ones the order is: the
 * user's own, the one the sender's newest signed mail prefers (RFC 8551
 * 2.7.1, SMIMEEncryptionKeyPreference), one that chains to an anchor, then
 * the newest (notBefore). A revoked certificate is never chosen; unknown
 * revocation (no CRL for it) and an unknown root are allowed and reported:
 * the store only holds certificates the user imported or installed, or that
 * came with valid signed mail.
 */
#include "recipients.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cs_error.h"
#include "verify.h"

struct candidate {
	X509 *cert;                 /* not owned */
	char fingerprint[65];
	const char *source;         /* "own", "imported", "harvested", "installed" */
	unsigned reasons;           /* REJECT_* and the path's CS_REASON_* bits */
	enum cs_revocation revocation;
	int preferred;              /* named by the newest signer record for the address */
	int usable;
};

/* Rejections of our own beside the path's CS_REASON_* bits (high bits, no overlap). */
enum {
	REJECT_ADDRESS = 1u << 24,
	REJECT_SUPERSEDED = 1u << 25,
};

static const struct {
	unsigned bit;
	const char *name;
} reason_names[] = {
	{ CS_REASON_EXPIRED, "expired" },
	{ CS_REASON_NOT_YET_VALID, "not-yet-valid" },
	{ CS_REASON_REVOKED, "revoked" },
	{ CS_REASON_KEY_USAGE, "key-usage" },
	{ CS_REASON_EKU, "extended-key-usage" },
	{ REJECT_ADDRESS, "address-mismatch" },
	{ REJECT_SUPERSEDED, "superseded" },
};

/* What makes a certificate unusable for encrypting to addr (the path aside). */
static unsigned
static_problems(X509 *cert, const char *addr)
{
	uint32_t ku = X509_get_key_usage(cert);
	unsigned reasons = 0;

	if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		reasons |= CS_REASON_EXPIRED;
	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0)
		reasons |= CS_REASON_NOT_YET_VALID;
	/* UINT32_MAX: no keyUsage extension, any use allowed. */
	if (ku != UINT32_MAX && (ku & (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT)) == 0)
		reasons |= CS_REASON_KEY_USAGE;
	if ((X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) != 0 &&
	    (X509_get_extended_key_usage(cert) & (XKU_SMIME | XKU_ANYEKU)) == 0)
		reasons |= CS_REASON_EKU;
	if (!cert_has_email(cert, addr))
		reasons |= REJECT_ADDRESS;
	return reasons;
}

static int
judge(struct daemon *d, STACK_OF(X509) *untrusted, const char *addr, struct candidate *c)
{
	unsigned path = 0;
	int r;

	if ((r = cs_cert_fingerprint(c->cert, c->fingerprint)) != 0)
		return r;
	c->reasons = static_problems(c->cert, addr);
	if ((r = vfy_cert_status(d->trust, d->have_crls, untrusted, c->cert, &path,
	                         &c->revocation)) != 0)
		return r;
	/* Dates were judged above; the path adds trust and revocation. */
	c->reasons |= path & (CS_REASON_REVOKED | CS_REASON_REVOCATION_UNKNOWN |
	                      CS_REASON_UNTRUSTED_ROOT);
	c->usable = (c->reasons & (CS_REASON_EXPIRED | CS_REASON_NOT_YET_VALID | CS_REASON_REVOKED |
	                           CS_REASON_KEY_USAGE | CS_REASON_EKU | REJECT_ADDRESS)) == 0;
	return 0;
}

/* Whether a ranks before b among usable candidates (see the top of this file). */
static int
better(const struct candidate *a, const struct candidate *b)
{
	int a_own = strcmp(a->source, "own") == 0, b_own = strcmp(b->source, "own") == 0;
	int a_trusted = !(a->reasons & CS_REASON_UNTRUSTED_ROOT);
	int b_trusted = !(b->reasons & CS_REASON_UNTRUSTED_ROOT);

	if (a_own != b_own)
		return a_own;
	if (a->preferred != b->preferred)
		return a->preferred;
	if (a_trusted != b_trusted)
		return a_trusted;
	return ASN1_TIME_compare(X509_get0_notBefore(a->cert), X509_get0_notBefore(b->cert)) > 0;
}

static void
json_time(struct cs_json *j, const char *key, const ASN1_TIME *t)
{
	struct tm tm;
	char when[32];

	if (ASN1_TIME_to_tm(t, &tm) == 1 && strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		cs_json_string(j, key, when);
}

static void
json_candidate(struct cs_json *j, const char *key, const struct candidate *c)
{
	char name[512];
	size_t i;

	cs_json_object_begin(j, key);
	cs_json_string(j, "fingerprint", c->fingerprint);
	X509_NAME_oneline(X509_get_subject_name(c->cert), name, sizeof(name));
	cs_json_string(j, "subject", name);
	json_time(j, "not_after", X509_get0_notAfter(c->cert));
	cs_json_string(j, "source", c->source);
	cs_json_bool(j, "preferred", c->preferred);
	cs_json_string(j, "trust", c->reasons & CS_REASON_UNTRUSTED_ROOT ? "untrusted" : "trusted");
	cs_json_string(j, "revocation", c->revocation == CS_REVOCATION_GOOD      ? "good"
	                                : c->revocation == CS_REVOCATION_REVOKED ? "revoked"
	                                                                         : "unknown");
	cs_json_array_begin(j, "reasons");
	for (i = 0; i < sizeof(reason_names) / sizeof(reason_names[0]); i++) {
		if (c->reasons & reason_names[i].bit)
			cs_json_string(j, NULL, reason_names[i].name);
	}
	cs_json_array_end(j);
	cs_json_object_end(j);
}

int
front_choose_recipient(struct daemon *d, const struct front_identity *ids, size_t n_ids,
                       const char *addr, X509 **ret_cert, struct cs_json *why)
{
	struct cs_store_cert *stored = NULL;
	struct candidate *cands = NULL;
	STACK_OF(X509) *untrusted = NULL;
	char preferred[65];
	size_t n_stored = 0, n = 0, i, best = 0;
	int have_best = 0, r;

	*ret_cert = NULL;
	if ((r = cs_store_list(d->store, addr, &stored, &n_stored)) != 0 ||
	    (r = cs_store_preferred(d->store, addr, preferred)) != 0 ||
	    (r = cs_store_all_certs(d->store, &untrusted)) != 0)
		goto out;
	if ((cands = calloc(n_ids + n_stored + 1, sizeof(*cands))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	/* Only the identities for this address: the others are no candidates at all. */
	for (i = 0; i < n_ids; i++) {
		if (ids[i].cert == NULL || !cert_has_email(ids[i].cert, addr))
			continue;
		cands[n].cert = ids[i].cert;
		cands[n++].source = "own";
	}
	for (i = 0; i < n_stored; i++) {
		cands[n].cert = stored[i].cert;
		cands[n++].source = stored[i].source;
	}
	for (i = 0; i < n; i++) {
		if ((r = judge(d, untrusted, addr, &cands[i])) != 0)
			goto out;
		cands[i].preferred = preferred[0] != '\0' &&
		                     strcmp(cands[i].fingerprint, preferred) == 0;
		/* A certificate the user holds twice (own and stored) counts once. */
		if (i > 0 && strcmp(cands[i].source, "own") != 0) {
			size_t k;

			for (k = 0; k < i; k++) {
				if (strcmp(cands[k].fingerprint, cands[i].fingerprint) == 0) {
					cands[i].usable = 0;
					cands[i].reasons |= REJECT_SUPERSEDED;
				}
			}
		}
		if (cands[i].usable && (!have_best || better(&cands[i], &cands[best]))) {
			best = i;
			have_best = 1;
		}
	}
	for (i = 0; i < n; i++) {
		if (cands[i].usable && (!have_best || i != best))
			cands[i].reasons |= REJECT_SUPERSEDED;
	}
	if (have_best && X509_up_ref(cands[best].cert) == 1)
		*ret_cert = cands[best].cert;
	if (why != NULL) {
		cs_json_string(why, "address", addr);
		cs_json_bool(why, "found", *ret_cert != NULL);
		if (*ret_cert != NULL)
			json_candidate(why, "chosen", &cands[best]);
		cs_json_array_begin(why, "rejected");
		for (i = 0; i < n; i++) {
			if (!have_best || i != best)
				json_candidate(why, NULL, &cands[i]);
		}
		cs_json_array_end(why);
	}
	r = 0;
out:
	ERR_clear_error();
	free(cands);
	cs_store_certs_free(stored, n_stored);
	sk_X509_pop_free(untrusted, X509_free);
	return r;
}
