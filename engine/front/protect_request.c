/*
 * PROTECT: the account (the From: address unless the request names one)
 * signs with its signing identity; the message is encrypted to the sender's
 * own encryption certificate and each recipient's. Recipients without a
 * usable certificate make an error naming them, unless the request drops
 * them (then they leave To/Cc and the reply names them). Each Bcc recipient
 * gets a copy of their own (stream 1, 2, ...), so nobody learns of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include <openssl/x509v3.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "cs_smime.h"
#include "daemon.h"
#include "headers.h"
#include "identities.h"
#include "json.h"
#include "negotiate.h"
#include "own_choice.h"
#include "policy.h"
#include "recipients.h"
#include "settings.h"
#include "spill.h"

#define INSERT_TOKEN_TIMEOUT 120

struct protect_job {
	struct request *rq;
	uint32_t flags;
	char *account;
	struct header_block headers;
	char **to;                  /* To and Cc */
	size_t n_to;
	char **bcc;
	size_t n_bcc;
	char **missing;
	size_t n_missing;
	struct front_identity *ids;
	size_t n_ids;
	EVP_PKEY *sign_key;
	X509 *sign_cert;            /* not owned: in ids */
	X509 *own_enc_cert;         /* not owned */
	STACK_OF(X509) *chain;
	STACK_OF(X509) *peer_certs; /* owned certificates the recipients use */
	char summary[1024];
	/* What was applied and why (the reply says so). */
	const char *sign_because, *encrypt_because, *cipher_because;
	char cipher_reason[CS_PROTO_MAX_STR + 128];
};

static void
on_progress(void *arg, uint64_t bytes)
{
	struct request *rq = arg;

	(void)client_send_event(rq->cl, rq->id, CS_EVENT_PROGRESS, bytes, "");
}

/* A recipient's encryption certificate (owned by job->peer_certs), or NULL. */
static X509 *
recipient_cert(struct protect_job *job, const char *addr)
{
	X509 *chosen = NULL;

	if (front_choose_recipient(job->rq->cl->d, job->ids, job->n_ids, addr, &chosen, NULL) != 0)
		return NULL;
	if (chosen != NULL && !sk_X509_push(job->peer_certs, chosen)) {
		X509_free(chosen);
		chosen = NULL;
	}
	return chosen;
}

static int
add_missing(struct protect_job *job, const char *addr)
{
	char **grown;

	if ((grown = realloc(job->missing, (job->n_missing + 2) * sizeof(*grown))) == NULL)
		return CS_ERR_NOMEM;
	job->missing = grown;
	if ((job->missing[job->n_missing] = strdup(addr)) == NULL)
		return CS_ERR_NOMEM;
	job->missing[++job->n_missing] = NULL;
	return 0;
}

static int
already_listed(const struct cs_recipient *list, size_t n, X509 *cert)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (X509_cmp(list[i].cert, cert) == 0)
			return 1;
	}
	return 0;
}

/* Appends the recipients for addrs to list (the certificates are not new references). */
static int
resolve(struct protect_job *job, char **addrs, size_t n, struct cs_recipient *list, size_t *count)
{
	size_t i;
	X509 *cert;
	int r;

	for (i = 0; i < n; i++) {
		if ((cert = recipient_cert(job, addrs[i])) == NULL) {
			if ((r = add_missing(job, addrs[i])) != 0)
				return r;
			continue;
		}
		if (already_listed(list, *count, cert))
			continue;       /* the sender in To:, or an address twice: one RecipientInfo */
		list[*count].cert = cert;
		list[*count].rsa_oaep = 0;
		(*count)++;
	}
	return 0;
}

static int
json_list(struct cs_json *j, const char *key, char **list, size_t n)
{
	size_t i;

	cs_json_array_begin(j, key);
	for (i = 0; i < n; i++)
		cs_json_string(j, NULL, list[i]);
	cs_json_array_end(j);
	return 0;
}

static void
send_missing_error(struct protect_job *job)
{
	struct cs_buf out;
	struct cs_json j;

	cs_buf_init(&out, 0);
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	json_list(&j, "missing", job->missing, job->n_missing);
	cs_json_object_end(&j);
	(void)client_send_error(job->rq->cl, job->rq->id, CS_ERR_NO_RECIPIENT_CERT,
	                        cs_json_finish(&j) == 0 ? (const char *)out.data : NULL);
	cs_buf_clear(&out);
}

/*
 * The request's output behind a 256 KiB buffer: the S/MIME code writes base64
 * lines, and a DATA frame per line would cost the client a read each.
 */
static BIO *
buffered_output(struct request *rq, uint32_t stream)
{
	BIO *sink = request_output_bio(rq, stream), *buf = BIO_new(BIO_f_buffer());

	if (sink == NULL || buf == NULL || BIO_set_write_buffer_size(buf, 256 * 1024) != 1) {
		BIO_free(sink);
		BIO_free(buf);
		return NULL;
	}
	return BIO_push(buf, sink);
}

/* One protected copy: headers (less what must go), the body from body_in, to stream. */
static int
protect_copy(struct protect_job *job, BIO *body_in, uint32_t stream,
             const struct cs_recipient *recips, size_t n_recips)
{
	static const char *const drop_fields[] = { "Bcc", NULL };
	struct cs_protect_opts opts;
	struct cs_signer signer;
	struct cs_buf head;
	BIO *in = NULL, *out = NULL;
	int r;

	memset(&opts, 0, sizeof(opts));
	memset(&signer, 0, sizeof(signer));
	cs_buf_init(&head, CS_HEADERS_MAX * 2);
	if ((r = headers_write(&job->headers, drop_fields, job->missing, job->n_missing, &head)) != 0)
		goto out;
	if ((in = concat_bio_new(&head, body_in)) == NULL ||
	    (out = buffered_output(job->rq, stream)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	opts.sign = (job->flags & CS_PROTECT_SIGN) != 0;
	opts.encrypt = (job->flags & CS_PROTECT_ENCRYPT) != 0;
	opts.opaque = (job->flags & CS_PROTECT_OPAQUE) != 0;
	opts.cipher = (job->flags & CS_PROTECT_CBC) ? CS_CIPHER_AES256_CBC : CS_CIPHER_AES256_GCM;
	opts.recipients = recips;
	opts.n_recipients = n_recips;
	opts.progress = on_progress;
	opts.progress_arg = job->rq;
	if (opts.sign) {
		signer.key = job->sign_key;
		signer.cert = job->sign_cert;
		signer.chain = job->chain;
		signer.encryption_cert = job->own_enc_cert;
		opts.signer = &signer;
	}
	r = cs_protect(in, out, &opts);
	if (r == 0 && BIO_flush(out) != 1)
		r = CS_ERR_IO;
	if (r == 0)
		r = request_end_stream(job->rq, stream);
out:
	BIO_free(in);
	BIO_free_all(out);
	cs_buf_clear(&head);
	return r;
}

static int
summarize(struct protect_job *job)
{
	const char *subject = headers_get(&job->headers, "Subject");
	size_t i, used;

	used = (size_t)snprintf(job->summary, sizeof(job->summary), "From: %s\nTo:", job->account);
	for (i = 0; i < job->n_to && used < sizeof(job->summary); i++)
		used += (size_t)snprintf(job->summary + used, sizeof(job->summary) - used, "%s %s",
		                         i > 0 ? "," : "", job->to[i]);
	if (used < sizeof(job->summary))
		snprintf(job->summary + used, sizeof(job->summary) - used, "\nSubject: %s",
		         subject != NULL ? subject : "");
	return 0;
}

/*
 * One per-message toggle. want: -1 (the account's default), 0 or 1 (the
 * request's). The policy may lock it at its required value, or require it
 * on; a request that asks otherwise is refused, never silently overridden.
 * Returns 0 with *ret_on and *ret_because, or the policy key that refuses.
 */
static const char *
toggle(int want, int account_default, int locked, int required, const char *require_key,
       const char *default_key, int *ret_on, const char **ret_because)
{
	if (locked) {
		*ret_on = required;
		*ret_because = "policy lock-toggles";
		return want != -1 && want != required ? "lock-toggles" : NULL;
	}
	if (want == -1) {
		*ret_on = account_default || required;
		*ret_because = account_default ? default_key : required ? require_key : default_key;
		return NULL;
	}
	*ret_on = want;
	*ret_because = "request";
	return required && !want ? require_key + strlen("policy ") : NULL;
}

/*
 * What this message gets: sign and encrypt from the request, or from the
 * account's defaults when the request gives neither; then the policy's
 * requirements and locks, and the content cipher it allows.
 */
static int
decide(struct protect_job *job, const struct account_settings *s)
{
	const struct cs_policy *p = policy_current();
	uint32_t f = job->flags;
	int is_explicit = (f & (CS_PROTECT_SIGN | CS_PROTECT_ENCRYPT)) != 0;
	int want_sign = is_explicit ? (f & CS_PROTECT_SIGN) != 0 : (f & CS_PROTECT_NO_SIGN) ? 0 : -1;
	int want_enc = is_explicit ? (f & CS_PROTECT_ENCRYPT) != 0
	                           : (f & CS_PROTECT_NO_ENCRYPT) ? 0 : -1;
	const char *refused;
	char message[256];
	int sign, enc;

	refused = toggle(want_sign, s->always_sign, p->lock_sign, p->require_signed,
	                 "policy require-signed", "account always-sign", &sign, &job->sign_because);
	if (refused == NULL)
		refused = toggle(want_enc, s->always_encrypt, p->lock_encrypt, p->require_encrypted,
		                 "policy require-encrypted", "account always-encrypt", &enc,
		                 &job->encrypt_because);
	if (refused != NULL) {
		snprintf(message, sizeof(message), "the admin policy (%s) requires this message to be %s",
		         refused,
		         strcmp(refused, "require-signed") == 0      ? "signed"
		         : strcmp(refused, "require-encrypted") == 0 ? "encrypted"
		                                                     : "protected as the policy locks it");
		policy_send_refusal(job->rq, refused, message);
		return 1;       /* answered */
	}
	if (!sign && !enc) {
		struct cs_buf out;
		struct cs_json j;

		/* Sending it unprotected is the client's business, not PROTECT's. */
		cs_buf_init(&out, 0);
		cs_json_init(&j, &out);
		cs_json_object_begin(&j, NULL);
		cs_json_string(&j, "message", "nothing to do: neither the request nor the account's "
		                              "defaults ask to sign or encrypt");
		cs_json_object_end(&j);
		(void)client_send_error(job->rq->cl, job->rq->id, CS_ERR_INVALID_ARG,
		                        cs_json_finish(&j) == 0 ? (const char *)out.data : NULL);
		cs_buf_clear(&out);
		return 1;
	}
	job->flags &= ~(uint32_t)(CS_PROTECT_SIGN | CS_PROTECT_ENCRYPT);
	job->flags |= (sign ? CS_PROTECT_SIGN : 0) | (enc ? CS_PROTECT_ENCRYPT : 0);
	job->cipher_because = "default";
	if (!enc)
		return 0;
	if (!(p->encryption_algs & POLICY_ENC_AES256_GCM)) {
		job->flags |= CS_PROTECT_CBC;   /* the only one the policy allows */
		job->cipher_because = "policy encryption-algorithms";
	} else if (f & CS_PROTECT_CBC) {
		/* CBC is asked for a peer that cannot read GCM: a negotiated, lower algorithm. */
		if (!policy_cipher_negotiable(p, POLICY_ENC_AES256_CBC, &refused)) {
			snprintf(message, sizeof(message),
			         "the admin policy (%s) does not let AES-256-CBC replace AES-256-GCM",
			         refused);
			policy_send_refusal(job->rq, refused, message);
			return 1;
		}
		job->cipher_because = "request";
	}
	return 0;
}

static int
prepare(struct protect_job *job)
{
	struct daemon *d = job->rq->cl->d;
	struct account_settings settings;
	struct own_choice choice;
	char **from = NULL;
	size_t n_from = 0;
	int r;

	if (job->account == NULL || job->account[0] == '\0') {
		free(job->account);
		job->account = NULL;
		if ((r = headers_addresses(&job->headers, "From", &from, &n_from)) != 0)
			return r;
		if (n_from == 0) {
			addresses_free(from, n_from);
			return CS_ERR_BAD_FORMAT;   /* no From: and no account */
		}
		job->account = strdup(from[0]);
		addresses_free(from, n_from);
		if (job->account == NULL)
			return CS_ERR_NOMEM;
	}
	if ((r = headers_addresses(&job->headers, "To", &job->to, &job->n_to)) != 0 ||
	    (r = headers_addresses(&job->headers, "Cc", &job->to, &job->n_to)) != 0 ||
	    (r = headers_addresses(&job->headers, "Bcc", &job->bcc, &job->n_bcc)) != 0)
		return r;
	summarize(job);
	if ((r = settings_get(d, job->account, &settings)) != 0)
		return r;
	r = decide(job, &settings);
	if (r == 0)
		r = front_identities(d, &job->ids, &job->n_ids);
	if (r == 0 && (job->flags & CS_PROTECT_SIGN)) {
		r = own_choose(d, job->ids, job->n_ids, job->account, CERT_FOR_SIGNING,
		               settings.sign_cert, &choice, NULL);
		if (r == 0 && choice.id == NULL) {
			own_choice_send_error(job->rq, &choice);
			r = 1;      /* answered */
		}
		if (r == 0) {
			job->sign_cert = choice.id->cert;
			r = front_identity_key(d, choice.id, INSERT_TOKEN_TIMEOUT, &job->sign_key);
		}
		if (r == 0)
			job->chain = front_chain(d, choice.id->cert);
	}
	/* Also when only signing: the signature names it (SMIMEEncryptionKeyPreference). */
	if (r == 0)
		r = own_choose(d, job->ids, job->n_ids, job->account, CERT_FOR_ENCRYPTION,
		               settings.encrypt_cert, &choice, NULL);
	if (r == 0) {
		job->own_enc_cert = choice.id != NULL ? choice.id->cert : NULL;
		/* The sender must be able to read it too. */
		if ((job->flags & CS_PROTECT_ENCRYPT) && choice.id == NULL) {
			own_choice_send_error(job->rq, &choice);
			r = 1;
		}
	}
	account_settings_clear(&settings);
	return r;
}

static void
send_reply(struct protect_job *job)
{
	struct cs_buf out;
	struct cs_json j;
	size_t i;

	cs_buf_init(&out, 0);
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_object_begin(&j, "applied");
	cs_json_bool(&j, "sign", (job->flags & CS_PROTECT_SIGN) != 0);
	cs_json_string(&j, "sign_because", job->sign_because);
	cs_json_bool(&j, "encrypt", (job->flags & CS_PROTECT_ENCRYPT) != 0);
	cs_json_string(&j, "encrypt_because", job->encrypt_because);
	if (job->flags & CS_PROTECT_ENCRYPT) {
		cs_json_string(&j, "cipher",
		               (job->flags & CS_PROTECT_CBC) ? "AES-256-CBC" : "AES-256-GCM");
		cs_json_string(&j, "cipher_because", job->cipher_because);
	}
	cs_json_string(&j, "account", job->account);
	cs_json_object_end(&j);
	json_list(&j, "dropped", job->missing, job->n_missing);
	cs_json_array_begin(&j, "outputs");
	cs_json_object_begin(&j, NULL);
	cs_json_int(&j, "stream", 0);
	json_list(&j, "recipients", job->to, job->n_to);
	cs_json_object_end(&j);
	for (i = 0; (job->flags & CS_PROTECT_ENCRYPT) && i < job->n_bcc; i++) {
		cs_json_object_begin(&j, NULL);
		cs_json_int(&j, "stream", (long long)i + 1);
		json_list(&j, "recipients", &job->bcc[i], 1);
		cs_json_object_end(&j);
	}
	cs_json_array_end(&j);
	cs_json_object_end(&j);
	if (cs_json_finish(&j) == 0)
		(void)client_send_ok_json(job->rq->cl, job->rq->id, &out);
	else
		client_send_error(job->rq->cl, job->rq->id, CS_ERR_NOMEM, NULL);
	cs_buf_clear(&out);
}

/* Reads the rest of the upload into an encrypted spill, for more than one pass. */
static int
spill_body(struct protect_job *job, BIO *in, struct spill **ret)
{
	uint8_t chunk[65536];
	struct spill *s = NULL;
	int got, r;

	*ret = NULL;
	if ((r = spill_open(NULL, &s)) != 0)
		return r;
	if ((r = spill_write(s, job->headers.raw.data, job->headers.raw.len)) != 0)
		goto fail;
	while ((got = BIO_read(in, chunk, sizeof(chunk))) > 0) {
		if ((r = spill_write(s, chunk, (size_t)got)) != 0)
			goto fail;
	}
	cs_wipe(chunk, sizeof(chunk));
	if (got < 0 || job->rq->cancel) {
		r = job->rq->cancel ? CS_ERR_CANCELLED : CS_ERR_IO;
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	spill_free(s);
	return r;
}

/*
 * RFC 8551 2.7.1: a recipient whose newest signed mail listed AES-CBC and no
 * AES-GCM among its capabilities gets CBC, when the admin policy lets the
 * engine negotiate; otherwise GCM stays and the reply says who may not read
 * it. One cipher serves every copy (Bcc copies included): the weakest reader
 * decides, as a reply to all would.
 */
static void
negotiate(struct protect_job *job)
{
	struct cs_store *store = job->rq->cl->d->store;
	const char *who = NULL, *refused = NULL;
	size_t i;

	if (job->flags & CS_PROTECT_CBC)
		return;         /* asked for, or the only cipher the policy allows */
	for (i = 0; i < job->n_to + job->n_bcc && who == NULL; i++) {
		const char *addr = i < job->n_to ? job->to[i] : job->bcc[i - job->n_to];
		X509 *cert = recipient_cert(job, addr);

		if (cert != NULL && peer_cipher(store, addr, cert) == PEER_CIPHER_CBC_ONLY)
			who = addr;
	}
	if (who == NULL)
		return;
	if (policy_cipher_negotiable(policy_current(), POLICY_ENC_AES256_CBC, &refused)) {
		job->flags |= CS_PROTECT_CBC;
		snprintf(job->cipher_reason, sizeof(job->cipher_reason),
		         "capabilities of %s (no AES-GCM)", who);
	} else {
		snprintf(job->cipher_reason, sizeof(job->cipher_reason),
		         "policy %s: AES-256-GCM kept, though %s lists no AES-GCM", refused, who);
	}
	job->cipher_because = job->cipher_reason;
}

static int
run(struct protect_job *job, BIO *upload)
{
	struct cs_recipient *recips = NULL, own[1];
	size_t n_recips = 0, i, n_main;
	struct spill *body = NULL;
	BIO *body_in = NULL;
	int r;

	if ((r = headers_read(upload, &job->headers)) != 0 || (r = prepare(job)) != 0)
		return r;
	if (job->flags & CS_PROTECT_ENCRYPT) {
		if ((recips = calloc(job->n_to + 2, sizeof(*recips))) == NULL)
			return CS_ERR_NOMEM;
		recips[n_recips].cert = job->own_enc_cert;
		n_recips++;
		if ((r = resolve(job, job->to, job->n_to, recips, &n_recips)) != 0)
			goto out;
		n_main = job->n_missing;
		for (i = 0; i < job->n_bcc; i++) {
			if (recipient_cert(job, job->bcc[i]) == NULL && (r = add_missing(job, job->bcc[i])) != 0)
				goto out;
		}
		if (job->n_missing > 0 && !(job->flags & CS_PROTECT_DROP_MISSING)) {
			send_missing_error(job);
			r = 1;              /* answered */
			goto out;
		}
		(void)n_main;
		negotiate(job);
	}
	if ((job->flags & CS_PROTECT_ENCRYPT) && job->n_bcc > 0) {
		/* Several copies: the body is kept (encrypted) to be read once per copy. */
		if ((r = spill_body(job, upload, &body)) != 0)
			goto out;
		for (i = 0; i <= job->n_bcc && r == 0; i++) {
			X509 *cert = i == 0 ? NULL : recipient_cert(job, job->bcc[i - 1]);

			if (i > 0 && cert == NULL)
				continue;       /* dropped */
			if ((r = spill_rewind(body)) != 0 || (body_in = spill_bio_new(body)) == NULL) {
				r = r != 0 ? r : CS_ERR_NOMEM;
				break;
			}
			if (i == 0) {
				r = protect_copy(job, body_in, 0, recips, n_recips);
			} else {
				own[0].cert = job->own_enc_cert;
				own[0].rsa_oaep = 0;
				recips[0] = own[0];
				recips[1].cert = cert;
				recips[1].rsa_oaep = 0;
				r = protect_copy(job, body_in, (uint32_t)i, recips, 2);
			}
			BIO_free(body_in);
			body_in = NULL;
		}
	} else {
		struct cs_buf start;

		/* One pass: the body bytes already read, then the rest of the upload. */
		cs_buf_init(&start, job->headers.raw.len + 1);
		if ((r = cs_buf_put(&start, job->headers.raw.data, job->headers.raw.len)) == 0 &&
		    (body_in = concat_bio_new(&start, upload)) == NULL)
			r = CS_ERR_NOMEM;
		cs_buf_clear(&start);
		if (r == 0)
			r = protect_copy(job, body_in, 0, recips, n_recips);
		BIO_free(body_in);
	}
out:
	spill_free(body);
	free(recips);
	return r;
}

void
handle_protect(struct request *rq)
{
	struct protect_job job;
	struct keyd_op_context ctx;
	struct cs_reader rd;
	BIO *upload = NULL;
	int r;

	memset(&job, 0, sizeof(job));
	job.rq = rq;
	cs_reader_init(&rd, rq->body, rq->body_len);
	job.flags = cs_read_u32(&rd);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &job.account);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	if ((job.peer_certs = sk_X509_new_null()) == NULL ||
	    (upload = request_input_bio(rq)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	request_set_keyd_context(rq, &ctx, job.summary);
	r = run(&job, upload);
out:
	/* A key operation that failed inside OpenSSL's CMS code: say what keyd said. */
	if (r == CS_ERR_INTERNAL && keyd_client_thread_error() != 0)
		r = keyd_client_thread_error();
	keyd_client_set_thread_context(NULL);
	if (r == 0)
		send_reply(&job);
	else if (r < 0)
		client_send_error(rq->cl, rq->id, r, NULL);
	if (r < 0 && r != CS_ERR_CANCELLED && r != CS_ERR_NO_RECIPIENT_CERT)
		cs_log(LOG_INFO, "client %u: PROTECT failed: %s", rq->cl->id, cs_strerror(r));
	BIO_free(upload);
	EVP_PKEY_free(job.sign_key);
	sk_X509_pop_free(job.chain, X509_free);
	sk_X509_pop_free(job.peer_certs, X509_free);
	front_identities_free(job.ids, job.n_ids);
	addresses_free(job.to, job.n_to);
	addresses_free(job.bcc, job.n_bcc);
	addresses_free(job.missing, job.n_missing);
	headers_clear(&job.headers);
	free(job.account);
}
