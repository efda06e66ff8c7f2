/*
 * CERTS_LIST, CERTS_EXPORT, CERTS_REMOVE, CERTS_INSTALL: the certificate
 * store for clients (layouts in cs_proto.h, docs/protocol.md).
 *
 * CERTS_INSTALL takes the sender's encryption certificate from a signed
 * message only when a signature in it is `valid` (it verifies, chains to a
 * configured anchor, is not revoked, and its signer is the From address),
 * as Windows Mail does. An untrusted-root signature is refused with the
 * verdict and its reasons: installing it would let anyone who can send mail
 * choose the key the user encrypts to; the user who trusts that certificate
 * anyway can import it explicitly (certs import).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "daemon.h"
#include "harvest.h"
#include "json.h"
#include "read_request.h"
#include "recipients.h"
#include "store.h"

static void
json_time(struct cs_json *j, const char *key, const ASN1_TIME *t)
{
	struct tm tm;
	char when[32];

	if (ASN1_TIME_to_tm(t, &tm) == 1 && strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		cs_json_string(j, key, when);
}

static void
json_epoch(struct cs_json *j, const char *key, int64_t when)
{
	struct tm tm;
	time_t t = (time_t)when;
	char text[32];

	if (gmtime_r(&t, &tm) != NULL && strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
		cs_json_string(j, key, text);
}

static void
json_key(struct cs_json *j, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	char group[64];

	if (pk == NULL)
		return;
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS")) {
		cs_json_string(j, "key_type", "RSA");
	} else if (EVP_PKEY_is_a(pk, "EC")) {
		cs_json_string(j, "key_type", "EC");
		if (EVP_PKEY_get_utf8_string_param(pk, "group", group, sizeof(group), NULL) == 1)
			cs_json_string(j, "curve", group);
	} else {
		cs_json_string(j, "key_type", OBJ_nid2sn(EVP_PKEY_get_base_id(pk)));
	}
	cs_json_int(j, "key_bits", EVP_PKEY_get_bits(pk));
}

static void
json_usage(struct cs_json *j, X509 *x)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} ku_names[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" }, { KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },   { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },         { KU_KEY_CERT_SIGN, "keyCertSign" },
		{ KU_CRL_SIGN, "cRLSign" },
	};
	uint32_t ku = X509_get_key_usage(x);
	EXTENDED_KEY_USAGE *eku;
	char name[80];
	size_t i;
	int k;

	/* No keyUsage extension: every use is allowed, shown as null. */
	if (ku == UINT32_MAX) {
		cs_json_string(j, "key_usage", NULL);
	} else {
		cs_json_array_begin(j, "key_usage");
		for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++) {
			if (ku & ku_names[i].bit)
				cs_json_string(j, NULL, ku_names[i].name);
		}
		cs_json_array_end(j);
	}
	if ((eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL)) == NULL) {
		cs_json_string(j, "extended_key_usage", NULL);
		return;
	}
	cs_json_array_begin(j, "extended_key_usage");
	for (k = 0; k < sk_ASN1_OBJECT_num(eku); k++) {
		if (OBJ_obj2txt(name, sizeof(name), sk_ASN1_OBJECT_value(eku, k), 0) > 0)
			cs_json_string(j, NULL, name);
	}
	cs_json_array_end(j);
	EXTENDED_KEY_USAGE_free(eku);
}

/* The algorithms of an SMIMECapabilities value, by name, in the sender's order of preference. */
static void
json_capabilities(struct cs_json *j, const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	X509_ALGORS *algs;
	char name[80];
	int i;

	if (der == NULL || len == 0 || len > LONG_MAX ||
	    (algs = d2i_X509_ALGORS(NULL, &p, (long)len)) == NULL) {
		cs_json_string(j, "capabilities", NULL);
		return;
	}
	cs_json_array_begin(j, "capabilities");
	for (i = 0; i < sk_X509_ALGOR_num(algs); i++) {
		const ASN1_OBJECT *obj;

		X509_ALGOR_get0(&obj, NULL, NULL, sk_X509_ALGOR_value(algs, i));
		if (OBJ_obj2txt(name, sizeof(name), obj, 0) > 0)
			cs_json_string(j, NULL, name);
	}
	cs_json_array_end(j);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
}

/* The certificate's own facts, shared by every listing. */
static void
json_cert_facts(struct cs_json *j, X509 *x, const char *fingerprint)
{
	STACK_OF(OPENSSL_STRING) *emails = cs_cert_emails(x);
	char name[512];
	int i;

	cs_json_string(j, "fingerprint", fingerprint);
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	cs_json_string(j, "subject", name);
	X509_NAME_oneline(X509_get_issuer_name(x), name, sizeof(name));
	cs_json_string(j, "issuer", name);
	cs_json_array_begin(j, "emails");
	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails); i++)
		cs_json_string(j, NULL, sk_OPENSSL_STRING_value(emails, i));
	cs_json_array_end(j);
	X509_email_free(emails);
	json_time(j, "not_before", X509_get0_notBefore(x));
	json_time(j, "not_after", X509_get0_notAfter(x));
	cs_json_bool(j, "ca", X509_check_ca(x) != 0);
	json_key(j, x);
	json_usage(j, x);
}

/*
 * Which certificate front_choose_recipient picks for each address met
 * while listing: asked once per address.
 */
struct choice_cache {
	char (*addr)[256];
	char (*fp)[65];
	size_t n;
};

static int
chosen_for(struct daemon *d, const struct front_identity *ids, size_t n_ids,
           struct choice_cache *cache, const char *addr, const char **ret_fp)
{
	void *grown;
	X509 *x = NULL;
	size_t i;
	int r;

	*ret_fp = "";
	for (i = 0; i < cache->n; i++) {
		if (strcasecmp(cache->addr[i], addr) == 0) {
			*ret_fp = cache->fp[i];
			return 0;
		}
	}
	if (strlen(addr) >= sizeof(cache->addr[0]))
		return 0;
	if ((grown = realloc(cache->addr, (cache->n + 1) * sizeof(cache->addr[0]))) == NULL)
		return CS_ERR_NOMEM;
	cache->addr = grown;
	if ((grown = realloc(cache->fp, (cache->n + 1) * sizeof(cache->fp[0]))) == NULL)
		return CS_ERR_NOMEM;
	cache->fp = grown;
	if ((r = front_choose_recipient(d, ids, n_ids, addr, &x, NULL)) != 0)
		return r;
	snprintf(cache->addr[cache->n], sizeof(cache->addr[0]), "%s", addr);
	cache->fp[cache->n][0] = '\0';
	if (x != NULL)
		(void)cs_cert_fingerprint(x, cache->fp[cache->n]);
	X509_free(x);
	*ret_fp = cache->fp[cache->n++];
	return 0;
}

/* "preferred_for": the addresses for which this certificate is the one encryption would use. */
static int
json_preferred(struct cs_json *j, struct daemon *d, const struct front_identity *ids, size_t n_ids,
               struct choice_cache *cache, X509 *x, const char *fingerprint)
{
	STACK_OF(OPENSSL_STRING) *emails = cs_cert_emails(x);
	const char *fp;
	int i, any = 0, r = 0;

	cs_json_array_begin(j, "preferred_for");
	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails) && r == 0; i++) {
		if ((r = chosen_for(d, ids, n_ids, cache, sk_OPENSSL_STRING_value(emails, i), &fp)) ==
		        0 &&
		    strcmp(fp, fingerprint) == 0) {
			cs_json_string(j, NULL, sk_OPENSSL_STRING_value(emails, i));
			any = 1;
		}
	}
	cs_json_array_end(j);
	cs_json_bool(j, "preferred", any);
	X509_email_free(emails);
	return r;
}

/* The remembered identities as front_identity (for the choice), their certificates taken over. */
static int
own_identities(struct daemon *d, struct cs_store_identity **ret_kept, size_t *ret_n,
               struct front_identity **ret_ids)
{
	struct front_identity *ids;
	size_t i;
	int r;

	*ret_ids = NULL;
	if ((r = cs_store_identities(d->store, ret_kept, ret_n)) != 0)
		return r;
	if ((ids = calloc(*ret_n + 1, sizeof(*ids))) == NULL)
		return CS_ERR_NOMEM;
	/* Borrowed pointers: the store's list owns them. */
	for (i = 0; i < *ret_n; i++) {
		ids[i].key_uri = (*ret_kept)[i].key_uri;
		ids[i].token_label = (*ret_kept)[i].token_label;
		ids[i].token_serial = (*ret_kept)[i].token_serial;
		ids[i].cert = (*ret_kept)[i].cert;
	}
	*ret_ids = ids;
	return 0;
}

void
handle_certs_list(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct cs_store_cert *certs = NULL;
	struct cs_store_identity *kept = NULL;
	struct front_identity *ids = NULL;
	struct choice_cache cache = { NULL, NULL, 0 };
	size_t n = 0, n_kept = 0, i;
	struct cs_reader rd;
	struct cs_json j;
	struct cs_buf out;
	char *addr = NULL, fp[65];
	int r;

	cs_buf_init(&out, CS_PROTO_MAX_FRAME - 64);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &addr);
	if ((r = cs_reader_finish(&rd)) != 0 ||
	    (r = cs_store_list(d->store, addr, &certs, &n)) != 0 ||
	    (r = own_identities(d, &kept, &n_kept, &ids)) != 0)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	if (addr[0] != '\0') {
		X509 *x = NULL;

		/* For one address: which certificate encryption would use now, and why. */
		cs_json_object_begin(&j, "choice");
		r = front_choose_recipient(d, ids, n_kept, addr, &x, &j);
		cs_json_object_end(&j);
		X509_free(x);
		if (r != 0)
			goto out;
	}
	cs_json_array_begin(&j, "certs");
	/* The user's own identities first, marked "own"; then correspondents'. */
	for (i = 0; i < n_kept && r == 0; i++) {
		if (addr[0] != '\0' && !cert_has_email(kept[i].cert, addr))
			continue;
		if ((r = cs_cert_fingerprint(kept[i].cert, fp)) != 0)
			break;
		cs_json_object_begin(&j, NULL);
		json_cert_facts(&j, kept[i].cert, fp);
		cs_json_string(&j, "source", "own");
		cs_json_bool(&j, "own", 1);
		cs_json_string(&j, "token_label", kept[i].token_label);
		cs_json_string(&j, "key_uri", kept[i].key_uri);
		json_epoch(&j, "last_seen", kept[i].last_seen);
		r = json_preferred(&j, d, ids, n_kept, &cache, kept[i].cert, fp);
		cs_json_object_end(&j);
	}
	for (i = 0; i < n && r == 0; i++) {
		cs_json_object_begin(&j, NULL);
		json_cert_facts(&j, certs[i].cert, certs[i].fingerprint);
		cs_json_string(&j, "source", certs[i].source);
		cs_json_bool(&j, "own", 0);
		json_epoch(&j, "added", certs[i].added);
		if (certs[i].has_record && certs[i].signing_time != 0)
			json_epoch(&j, "signing_time", certs[i].signing_time);
		json_capabilities(&j, certs[i].capabilities, certs[i].capabilities_len);
		r = json_preferred(&j, d, ids, n_kept, &cache, certs[i].cert, certs[i].fingerprint);
		cs_json_object_end(&j);
	}
	cs_json_array_end(&j);
	cs_json_object_end(&j);
	if (r == 0)
		r = cs_json_finish(&j);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	free(cache.addr);
	free(cache.fp);
	free(ids);
	cs_store_identities_free(kept, n_kept);
	cs_store_certs_free(certs, n);
	free(addr);
	cs_buf_clear(&out);
}

void
handle_certs_export(struct request *rq)
{
	struct cs_reader rd;
	struct cs_json j;
	struct cs_buf out;
	BIO *mem = NULL;
	X509 *x = NULL;
	char *fp = NULL, *pem = NULL, hex[65];
	long len;
	int r;

	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &fp);
	if ((r = cs_reader_finish(&rd)) != 0 || (r = cs_store_get(rq->cl->d->store, fp, &x)) != 0 ||
	    (r = cs_cert_fingerprint(x, hex)) != 0)
		goto out;
	r = CS_ERR_NOMEM;
	if ((mem = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(mem, x) != 1 ||
	    (len = BIO_get_mem_data(mem, &pem)) <= 0 || (pem = strndup(pem, (size_t)len)) == NULL)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "fingerprint", hex);
	cs_json_string(&j, "pem", pem);
	cs_json_object_end(&j);
	r = cs_json_finish(&j);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	free(pem);
	BIO_free(mem);
	X509_free(x);
	free(fp);
	cs_buf_clear(&out);
}

void
handle_certs_remove(struct request *rq)
{
	struct cs_reader rd;
	struct cs_json j;
	struct cs_buf out;
	char *fp = NULL;
	int r;

	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &fp);
	if ((r = cs_reader_finish(&rd)) == 0 && (r = cs_store_remove(rq->cl->d->store, fp)) == 0) {
		cs_json_init(&j, &out);
		cs_json_object_begin(&j, NULL);
		cs_json_string(&j, "removed", fp);
		cs_json_object_end(&j);
		r = cs_json_finish(&j);
	}
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else if (r == CS_ERR_PERMISSION)
		client_send_error(rq->cl, rq->id, r,
		                  "{\"error\":\"one of your own identities: it stays remembered so that"
		                  " old mail stays readable\"}");
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	free(fp);
	cs_buf_clear(&out);
}

/* An install refused: the error's details say why in words and in the verdict's terms. */
static int
refusal(struct cs_buf *details, const char *why, const struct cs_layer *l)
{
	struct cs_json j;

	cs_buf_reset(details);
	cs_json_init(&j, details);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "error", why);
	if (l != NULL) {
		cs_json_string(&j, "verdict", read_verdict_name(l->verdict));
		read_json_reasons(&j, l->reasons);
		cs_json_string(&j, "signer", l->signer_email);
	}
	cs_json_object_end(&j);
	return cs_json_finish(&j);
}

/*
 * Whether the message offers something to install: a valid signed layer
 * whose encryption certificate may encrypt to the signer's address now,
 * signed no more than a day ahead. Otherwise details explains the best
 * reason and the return is the error code.
 */
static int
installable(const struct cs_read_report *rep, struct cs_buf *details)
{
	const struct cs_layer *l, *first_signed = NULL, *first_valid = NULL;
	int64_t now = (int64_t)time(NULL);
	size_t i;

	for (i = 0; i < rep->n_layers; i++) {
		l = &rep->layers[i];
		if (l->kind != CS_LAYER_SIGNED)
			continue;
		if (first_signed == NULL)
			first_signed = l;
		if (l->verdict != CS_VERDICT_VALID)
			continue;
		if (first_valid == NULL)
			first_valid = l;
		if (l->signing_time <= now + CS_STORE_MAX_FUTURE && l->encryption_cert != NULL &&
		    cert_usable(l->encryption_cert, l->signer_email, CERT_FOR_ENCRYPTION))
			return 0;
	}
	if (first_signed == NULL) {
		(void)refusal(details, "the message is not signed", NULL);
		return CS_ERR_INVALID_ARG;
	}
	if (first_valid == NULL) {
		/* The worst verdict is the message's; name the layer that has it. */
		for (i = 0; i < rep->n_layers; i++) {
			if (rep->layers[i].kind == CS_LAYER_SIGNED &&
			    rep->layers[i].verdict == rep->verdict)
				first_signed = &rep->layers[i];
		}
		(void)refusal(details, "the signature is not valid: nothing installed", first_signed);
		return CS_ERR_PERMISSION;
	}
	if (first_valid->signing_time > now + CS_STORE_MAX_FUTURE) {
		(void)refusal(details, "signed more than a day in the future: nothing installed",
		              first_valid);
		return CS_ERR_PERMISSION;
	}
	(void)refusal(details,
	              first_valid->encryption_cert == NULL
	                  ? "the message carries no encryption certificate for its sender"
	                  : "the sender's encryption certificate cannot encrypt to the sender's"
	                    " address now (validity, key usage or address)",
	              first_valid);
	return CS_ERR_NO_RECIPIENT_CERT;
}

static int
install_json(const struct cs_read_report *rep, const struct harvest_result *h, struct cs_buf *out)
{
	struct cs_json j;
	size_t i;

	cs_json_init(&j, out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "verdict", read_verdict_name(rep->verdict));
	cs_json_array_begin(&j, "installed");
	for (i = 0; i < h->n; i++) {
		const struct harvest_item *it = &h->items[i];

		if (!it->usable || it->outcome == CS_RECORD_FUTURE)
			continue;
		cs_json_object_begin(&j, NULL);
		cs_json_string(&j, "address", it->address);
		cs_json_string(&j, "fingerprint", it->fingerprint);
		cs_json_string(&j, "subject", it->subject);
		cs_json_string(&j, "signer_fingerprint", it->signer_fingerprint);
		/* An older message than one on record: its certificate is in, the newer record stands. */
		cs_json_bool(&j, "newest", it->outcome == CS_RECORD_RECORDED);
		cs_json_object_end(&j);
	}
	cs_json_array_end(&j);
	cs_json_object_end(&j);
	return cs_json_finish(&j);
}

void
handle_certs_install(struct request *rq)
{
	struct cs_read_report rep;
	struct harvest_result h;
	struct front_identity *ids = NULL;
	size_t n_ids = 0;
	struct cs_reader rd;
	struct cs_buf out, details;
	BIO *in = NULL, *sink = NULL;
	int r;

	memset(&rep, 0, sizeof(rep));
	cs_buf_init(&out, CS_PROTO_MAX_FRAME - 64);
	cs_buf_init(&details, 64 * 1024);
	cs_reader_init(&rd, rq->body, rq->body_len);
	(void)cs_read_u32(&rd);         /* flags: none defined yet */
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	/* The plaintext is not wanted here: only the signatures and their certificates. */
	if ((in = request_input_bio(rq)) == NULL || (sink = BIO_new(BIO_s_null())) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if ((r = read_request_report(rq, in, sink, &rep, &ids, &n_ids)) != 0 ||
	    (r = installable(&rep, &details)) != 0 ||
	    (r = harvest_layers(rq->cl->d, &rep, ids, n_ids, CS_SOURCE_INSTALLED, &h)) != 0 ||
	    (r = install_json(&rep, &h, &out)) != 0)
		goto out;
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r,
		                  details.len > 0 ? (const char *)details.data : NULL);
	if (r != 0 && r != CS_ERR_CANCELLED)
		cs_log(LOG_INFO, "client %u: CERTS_INSTALL refused: %s", rq->cl->id, cs_strerror(r));
	BIO_free(sink);
	BIO_free(in);
	cs_read_report_clear(&rep);
	front_identities_free(ids, n_ids);
	cs_buf_clear(&details);
	cs_buf_clear(&out);
}
