#include "harvest.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "cs_error.h"

const char *
harvest_account(const struct cs_read_report *rep, const struct front_identity *ids, size_t n_ids)
{
	size_t i, k;

	for (i = 0; i < rep->n_recipients; i++) {
		for (k = 0; k < n_ids; k++) {
			if (ids[k].cert != NULL && cert_has_email(ids[k].cert, rep->recipients[i]))
				return rep->recipients[i];
		}
	}
	return NULL;
}

const char *
harvest_outcome_reason(enum cs_record_outcome o)
{
	switch (o) {
	case CS_RECORD_FUTURE:
		return "signing-time-in-future";
	case CS_RECORD_OLDER:
		return "older-than-record";
	default:
		return NULL;
	}
}

static int
is_own(X509 *cert, const struct front_identity *ids, size_t n_ids)
{
	size_t i;

	for (i = 0; i < n_ids; i++) {
		if (ids[i].cert != NULL && X509_cmp(ids[i].cert, cert) == 0)
			return 1;
	}
	return 0;
}

/* The chain's intermediates: not the signer (first) nor a self-signed anchor (last). */
static STACK_OF(X509) *
intermediates(STACK_OF(X509) *chain)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	int i, n = sk_X509_num(chain);
	X509 *x;

	for (i = 1; out != NULL && i < n; i++) {
		x = sk_X509_value(chain, i);
		if (i == n - 1 && (X509_get_extension_flags(x) & EXFLAG_SS) != 0)
			break;
		if (X509_up_ref(x) == 1 && !sk_X509_push(out, x))
			X509_free(x);
	}
	return out;
}

int
harvest_layers(struct daemon *d, const struct cs_read_report *rep,
               const struct front_identity *ids, size_t n_ids, enum cs_cert_source source,
               struct harvest_result *res)
{
	struct cs_store_signer h;
	struct harvest_item *it;
	X509 *named;
	size_t i;
	int r = 0;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < rep->n_layers && r == 0; i++) {
		const struct cs_layer *l = &rep->layers[i];

		if (l->kind != CS_LAYER_SIGNED || l->verdict != CS_VERDICT_VALID ||
		    l->signer_cert == NULL || is_own(l->signer_cert, ids, n_ids) ||
		    res->n == HARVEST_MAX)
			continue;
		memset(&h, 0, sizeof(h));
		h.signer = l->signer_cert;
		h.encryption_cert = l->encryption_cert;
		h.chain = intermediates(l->chain);
		h.address = l->signer_email;
		h.capabilities = l->capabilities;
		h.capabilities_len = l->capabilities_len;
		h.signing_time = l->signing_time;
		h.source = source;
		it = &res->items[res->n++];
		snprintf(it->address, sizeof(it->address), "%s", l->signer_email);
		(void)cs_cert_fingerprint(l->signer_cert, it->signer_fingerprint);
		named = l->encryption_cert != NULL ? l->encryption_cert : l->signer_cert;
		if (l->encryption_cert != NULL)
			(void)cs_cert_fingerprint(l->encryption_cert, it->fingerprint);
		X509_NAME_oneline(X509_get_subject_name(named), it->subject, sizeof(it->subject));
		it->usable = l->encryption_cert != NULL &&
		             cert_usable(l->encryption_cert, l->signer_email, CERT_FOR_ENCRYPTION);
		r = cs_store_record_signer(d->store, &h, (int64_t)time(NULL), &it->outcome);
		sk_X509_pop_free(h.chain, X509_free);
	}
	return r;
}
