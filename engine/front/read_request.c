/*
 * READ: decrypts with the user's identities (asking for the card when its
 * token is out), verifies against the configured anchors and CRLs, streams
 * the innermost message back and replies with the report as JSON.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "cs_smime.h"
#include "daemon.h"
#include "identities.h"
#include "harvest.h"
#include "json.h"
#include "read_request.h"
#include "settings.h"

#define INSERT_TOKEN_TIMEOUT 120

struct read_job {
	struct request *rq;
	struct front_identity *ids;
	size_t n_ids;
	int used_identity;          /* index into ids of the key that decrypted, or -1 */
};

struct key_arg {
	struct read_job *job;
	size_t index;
};

static int
get_key(void *arg, X509 *cert, EVP_PKEY **ret_key)
{
	struct key_arg *ka = arg;
	struct read_job *job = ka->job;

	(void)cert;
	job->used_identity = (int)ka->index;
	return front_identity_key(job->rq->cl->d, &job->ids[ka->index], INSERT_TOKEN_TIMEOUT, ret_key);
}

static void
on_progress(void *arg, uint64_t bytes)
{
	struct request *rq = arg;

	(void)client_send_event(rq->cl, rq->id, CS_EVENT_PROGRESS, bytes, "");
}

const char *
read_verdict_name(enum cs_verdict v)
{
	switch (v) {
	case CS_VERDICT_VALID:
		return "valid";
	case CS_VERDICT_INVALID:
		return "invalid";
	case CS_VERDICT_UNTRUSTED:
		return "untrusted";
	case CS_VERDICT_EXPIRED:
		return "expired";
	case CS_VERDICT_REVOKED:
		return "revoked";
	case CS_VERDICT_MISMATCH:
		return "mismatch";
	default:
		return "unsigned";
	}
}

void
read_json_reasons(struct cs_json *j, unsigned reasons)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ CS_REASON_EXPIRED, "expired" },
		{ CS_REASON_NOT_YET_VALID, "not-yet-valid" },
		{ CS_REASON_REVOKED, "revoked" },
		{ CS_REASON_REVOCATION_UNKNOWN, "revocation-unknown" },
		{ CS_REASON_UNTRUSTED_ROOT, "untrusted-root" },
		{ CS_REASON_KEY_USAGE, "key-usage" },
		{ CS_REASON_EKU, "extended-key-usage" },
		{ CS_REASON_ADDRESS_MISMATCH, "address-mismatch" },
		{ CS_REASON_WEAK_ALGORITHM, "weak-algorithm" },
		{ CS_REASON_WEAK_KEY, "weak-key" },
		{ CS_REASON_BAD_SIGNATURE, "bad-signature" },
	};
	size_t i;

	cs_json_array_begin(j, "reasons");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (reasons & names[i].bit)
			cs_json_string(j, NULL, names[i].name);
	}
	cs_json_array_end(j);
}

static void
json_cert_brief(struct cs_json *j, const char *key, X509 *x)
{
	char name[512];
	struct tm tm;
	char when[32];

	cs_json_object_begin(j, key);
	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	cs_json_string(j, "subject", name);
	X509_NAME_oneline(X509_get_issuer_name(x), name, sizeof(name));
	cs_json_string(j, "issuer", name);
	if (ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) == 1) {
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cs_json_string(j, "not_after", when);
	}
	cs_json_object_end(j);
}

static void
json_layer(struct cs_json *j, const struct read_job *job, const struct cs_layer *l)
{
	char when[32];
	struct tm tm;
	time_t t;
	int i;

	cs_json_object_begin(j, NULL);
	if (l->kind == CS_LAYER_ENCRYPTED) {
		cs_json_string(j, "type", "encrypted");
		cs_json_string(j, "cipher", l->cipher);
		cs_json_bool(j, "integrity_protected", l->integrity_protected);
		if (!l->integrity_protected)
			cs_json_string(j, "note", "encrypted without integrity protection");
		if (l->identity_index >= 0 && (size_t)l->identity_index < job->n_ids)
			cs_json_string(j, "decrypted_with", job->ids[l->identity_index].key_uri);
	} else {
		cs_json_string(j, "type", "signed");
		cs_json_bool(j, "opaque", l->opaque);
		cs_json_string(j, "verdict", read_verdict_name(l->verdict));
		read_json_reasons(j, l->reasons);
		cs_json_string(j, "revocation", l->revocation == CS_REVOCATION_GOOD      ? "good"
		                                : l->revocation == CS_REVOCATION_REVOKED ? "revoked"
		                                                                         : "unknown");
		cs_json_object_begin(j, "signer");
		cs_json_string(j, "email", l->signer_email);
		if (l->signer_cert != NULL) {
			char name[512];

			X509_NAME_oneline(X509_get_subject_name(l->signer_cert), name, sizeof(name));
			cs_json_string(j, "subject", name);
		}
		cs_json_object_end(j);
		cs_json_array_begin(j, "chain");
		for (i = 0; l->chain != NULL && i < sk_X509_num(l->chain); i++)
			json_cert_brief(j, NULL, sk_X509_value(l->chain, i));
		cs_json_array_end(j);
		cs_json_bool(j, "email_matches", l->email_matches);
		if (l->signing_time != 0) {
			t = (time_t)l->signing_time;
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cs_json_string(j, "signing_time", when);
		}
		cs_json_string(j, "digest", l->digest);
		cs_json_bool(j, "weak_algorithm", l->weak);
	}
	cs_json_object_end(j);
}

/* What READ recorded from the message (harvest), or why it did not. */
static void
json_harvest(struct cs_json *j, int enabled, const struct harvest_result *h)
{
	size_t i;

	cs_json_bool(j, "harvest", enabled);
	cs_json_array_begin(j, "harvested");
	for (i = 0; h != NULL && i < h->n; i++) {
		if (h->items[i].outcome != CS_RECORD_RECORDED)
			continue;
		cs_json_object_begin(j, NULL);
		cs_json_string(j, "address", h->items[i].address);
		cs_json_string(j, "fingerprint",
		               h->items[i].fingerprint[0] != '\0' ? h->items[i].fingerprint : NULL);
		cs_json_string(j, "signer_fingerprint", h->items[i].signer_fingerprint);
		cs_json_object_end(j);
	}
	cs_json_array_end(j);
	cs_json_array_begin(j, "not_harvested");
	for (i = 0; h != NULL && i < h->n; i++) {
		if (h->items[i].outcome == CS_RECORD_RECORDED)
			continue;
		cs_json_object_begin(j, NULL);
		cs_json_string(j, "address", h->items[i].address);
		cs_json_string(j, "signer_fingerprint", h->items[i].signer_fingerprint);
		cs_json_string(j, "reason", harvest_outcome_reason(h->items[i].outcome));
		cs_json_object_end(j);
	}
	cs_json_array_end(j);
}

static int
report_json(const struct read_job *job, const struct cs_read_report *rep, int harvest,
            const struct harvest_result *h, struct cs_buf *out)
{
	struct cs_json j;
	size_t i;

	cs_json_init(&j, out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "verdict", read_verdict_name(rep->verdict));
	cs_json_string(&j, "from", rep->from);
	if (rep->sender[0] != '\0')
		cs_json_string(&j, "sender", rep->sender);
	cs_json_int(&j, "unprotected_parts", rep->unprotected_parts);
	cs_json_array_begin(&j, "layers");
	for (i = 0; i < rep->n_layers; i++)
		json_layer(&j, job, &rep->layers[i]);
	cs_json_array_end(&j);
	if (harvest >= 0)
		json_harvest(&j, harvest, h);
	cs_json_object_end(&j);
	return cs_json_finish(&j);
}

/*
 * VERIFY_DATA and DECRYPT_DATA want the content itself; READ writes it as a message
 * whose only header is "MIME-Version: 1.0". This filter drops exactly that
 * leading header block (and nothing if the output does not start with it).
 */
static const char mime_version_head[] = "MIME-Version: 1.0\r\n\r\n";

struct strip_state {
	size_t matched;         /* bytes of the head seen so far */
	int done;               /* decided: passing everything through */
};

static int
strip_write(BIO *bio, const char *data, int size)
{
	struct strip_state *st = BIO_get_data(bio);
	BIO *next = BIO_next(bio);
	size_t head = sizeof(mime_version_head) - 1, i = 0;
	int put;

	if (size <= 0)
		return 0;
	while (!st->done && i < (size_t)size) {
		if (data[i] != mime_version_head[st->matched]) {
			/* Not the head after all: release what was held back, then go on. */
			st->done = 1;
			if (st->matched > 0 && BIO_write(next, mime_version_head, (int)st->matched) !=
			                           (int)st->matched)
				return -1;
			break;
		}
		st->matched++;
		i++;
		if (st->matched == head)
			st->done = 1;
	}
	if (i == (size_t)size)
		return size;
	put = BIO_write(next, data + i, size - (int)i);
	return put < 0 ? put : (int)i + put;
}

static long
strip_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	return BIO_ctrl(BIO_next(bio), cmd, num, ptr);
}

static int
strip_destroy(BIO *bio)
{
	struct strip_state *st = BIO_get_data(bio);

	/* Content that was only the start of the head: it was content after all. */
	if (st != NULL && !st->done && st->matched > 0 && BIO_next(bio) != NULL)
		(void)BIO_write(BIO_next(bio), mime_version_head, (int)st->matched);
	free(st);
	BIO_set_data(bio, NULL);
	return 1;
}

static BIO_METHOD *strip_method;
static pthread_once_t strip_once = PTHREAD_ONCE_INIT;

static void
make_strip_method(void)
{
	strip_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "cardseal-strip-head");
	if (strip_method != NULL) {
		BIO_meth_set_write(strip_method, strip_write);
		BIO_meth_set_ctrl(strip_method, strip_ctrl);
		BIO_meth_set_destroy(strip_method, strip_destroy);
	}
}

/* Pushes the filter in front of out; returns the chain, or NULL (out freed). */
static BIO *
strip_mime_version(BIO *out)
{
	struct strip_state *st;
	BIO *filter;

	pthread_once(&strip_once, make_strip_method);
	if (strip_method == NULL || (st = calloc(1, sizeof(*st))) == NULL ||
	    (filter = BIO_new(strip_method)) == NULL) {
		BIO_free(out);
		return NULL;
	}
	BIO_set_data(filter, st);
	BIO_set_init(filter, 1);
	return BIO_push(filter, out);
}

/* Data modes: with no From: to compare, an address mismatch alone is no fault. */
static void
forgive_address(struct cs_read_report *rep)
{
	size_t i;
	enum cs_verdict worst = CS_VERDICT_UNSIGNED;

	for (i = 0; i < rep->n_layers; i++) {
		struct cs_layer *l = &rep->layers[i];

		if (l->kind != CS_LAYER_SIGNED)
			continue;
		l->reasons &= ~CS_REASON_ADDRESS_MISMATCH;
		if (l->verdict == CS_VERDICT_MISMATCH)
			l->verdict = CS_VERDICT_VALID;
		/* Worst first: invalid, revoked, expired, untrusted, then valid. */
		if (worst == CS_VERDICT_UNSIGNED || l->verdict != CS_VERDICT_VALID)
			worst = l->verdict;
	}
	rep->verdict = worst;
}

void
handle_read(struct request *rq)
{
	BIO *in;
	struct cs_reader rd;
	int r;

	cs_reader_init(&rd, rq->body, rq->body_len);
	(void)cs_read_u32(&rd);         /* flags: none defined yet */
	if ((r = cs_reader_finish(&rd)) != 0) {
		client_send_error(rq->cl, rq->id, r, NULL);
		return;
	}
	if ((in = request_input_bio(rq)) == NULL) {
		client_send_error(rq->cl, rq->id, CS_ERR_NOMEM, NULL);
		return;
	}
	read_request_run(rq, in, READ_MAIL);
	BIO_free(in);
}

/*
 * Reads in to out with the user's identities (job->ids, listed here) and
 * the engine's trust. The caller sets the keyd context.
 */
static int
read_core(struct request *rq, BIO *in, BIO *out, struct read_job *job, struct cs_read_report *rep)
{
	struct daemon *d = rq->cl->d;
	struct cs_read_opts opts;
	struct cs_identity *idents = NULL;
	struct key_arg *args = NULL;
	STACK_OF(X509) *intermediates = NULL;
	size_t i;
	int r;

	memset(&opts, 0, sizeof(opts));
	job->rq = rq;
	job->used_identity = -1;
	if ((r = front_identities(d, &job->ids, &job->n_ids)) != 0)
		goto out;
	idents = calloc(job->n_ids + 1, sizeof(*idents));
	args = calloc(job->n_ids + 1, sizeof(*args));
	if (idents == NULL || args == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < job->n_ids; i++) {
		args[i].job = job;
		args[i].index = i;
		idents[i].cert = job->ids[i].cert;
		idents[i].get_key = get_key;
		idents[i].arg = &args[i];
	}
	(void)cs_store_all_certs(d->store, &intermediates);
	opts.identities = idents;
	opts.n_identities = job->n_ids;
	opts.trust = d->trust;
	opts.have_crls = d->have_crls;
	opts.intermediates = intermediates;
	opts.progress = on_progress;
	opts.progress_arg = rq;
	r = cs_read(in, out, &opts, rep);
out:
	sk_X509_pop_free(intermediates, X509_free);
	free(idents);
	free(args);
	return r;
}

int
read_request_report(struct request *rq, BIO *in, BIO *out, struct cs_read_report *rep,
                    struct front_identity **ret_ids, size_t *ret_n)
{
	struct keyd_op_context ctx;
	struct read_job job;
	int r;

	memset(&job, 0, sizeof(job));
	memset(rep, 0, sizeof(*rep));
	request_set_keyd_context(rq, &ctx, "Decrypt a message you received");
	r = read_core(rq, in, out, &job, rep);
	keyd_client_set_thread_context(NULL);
	*ret_ids = job.ids;
	*ret_n = job.n_ids;
	return r;
}

/*
 * Harvest after READ, when the account the message was sent to says so.
 * Its failures are logged, never READ's: the message was read.
 */
static int
harvest_after_read(struct request *rq, const struct read_job *job,
                   const struct cs_read_report *rep, struct harvest_result *h)
{
	struct account_settings s;
	size_t i;
	int any = 0, enabled, r;

	for (i = 0; i < rep->n_layers; i++)
		any |= rep->layers[i].kind == CS_LAYER_SIGNED &&
		       rep->layers[i].verdict == CS_VERDICT_VALID;
	if (!any)
		return -1;
	if ((r = settings_get(rq->cl->d, harvest_account(rep, job->ids, job->n_ids), &s)) != 0) {
		cs_log(LOG_WARNING, "client %u: READ: settings unreadable, nothing harvested: %s",
		       rq->cl->id, cs_strerror(r));
		return 0;
	}
	enabled = s.harvest != 0;
	account_settings_clear(&s);
	if (enabled &&
	    (r = harvest_layers(rq->cl->d, rep, job->ids, job->n_ids, CS_SOURCE_HARVESTED, h)) != 0)
		cs_log(LOG_WARNING, "client %u: READ: harvesting failed: %s", rq->cl->id,
		       cs_strerror(r));
	return enabled;
}

void
read_request_run(struct request *rq, BIO *in, enum read_mode mode)
{
	struct read_job job;
	struct cs_read_report rep;
	struct harvest_result harvested;
	struct keyd_op_context ctx;
	struct cs_buf json;
	BIO *out = NULL;
	int harvest = -1, r;

	memset(&job, 0, sizeof(job));
	memset(&rep, 0, sizeof(rep));
	memset(&harvested, 0, sizeof(harvested));
	cs_buf_init(&json, CS_PROTO_MAX_FRAME - 64);
	request_set_keyd_context(rq, &ctx, "Decrypt a message you received");
	/* The data modes return the content itself, as it was signed or encrypted. */
	if ((out = request_output_bio(rq, 0)) == NULL ||
	    (mode != READ_MAIL && (out = strip_mime_version(out)) == NULL)) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if ((r = read_core(rq, in, out, &job, &rep)) != 0)
		goto out;
	if (mode != READ_MAIL)
		forgive_address(&rep);
	if (mode == READ_DECRYPT_DATA &&
	    (rep.n_layers == 0 || rep.layers[0].kind != CS_LAYER_ENCRYPTED)) {
		r = CS_ERR_BAD_FORMAT;          /* not encrypted data */
		goto out;
	}
	/* Only mail has a sender whose address the signer matched. */
	if (mode == READ_MAIL)
		harvest = harvest_after_read(rq, &job, &rep, &harvested);
	if ((r = request_end_stream(rq, 0)) != 0 ||
	    (r = report_json(&job, &rep, harvest, &harvested, &json)) != 0)
		goto out;
out:
	keyd_client_set_thread_context(NULL);
	/* RFC 3218: for scripts, every decryption failure looks the same. */
	if (mode == READ_DECRYPT_DATA && r != 0 && r != CS_ERR_CANCELLED && r != CS_ERR_NO_TOKEN &&
	    r != CS_ERR_NO_KEY && r != CS_ERR_NOT_FOUND)
		r = CS_ERR_DECRYPT;
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &json);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	if (r != 0 && r != CS_ERR_CANCELLED)
		cs_log(LOG_INFO, "client %u: READ failed: %s", rq->cl->id, cs_strerror(r));
	BIO_free_all(out);
	cs_read_report_clear(&rep);
	front_identities_free(job.ids, job.n_ids);
	cs_buf_clear(&json);
}
