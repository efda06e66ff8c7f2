/* STATUS, CERTS_IMPORT and SUBSCRIBE: the engine's small requests. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "cs_proto.h"
#include "daemon.h"
#include "json.h"
#include "policy.h"

/* keyd's events, as the client's protocol names them. */
static void
forward_event(void *arg, int kind, const char *detail)
{
	struct request *rq = arg;
	int public_kind;

	switch (kind) {
	case CS_KEVENT_WAITING_FOR_PIN:
		public_kind = CS_EVENT_WAITING_FOR_PIN;
		break;
	case CS_KEVENT_INSERT_TOKEN:
		public_kind = CS_EVENT_INSERT_TOKEN;
		break;
	case CS_KEVENT_PIN_STATE:
		public_kind = CS_EVENT_PIN_STATE;
		break;
	case CS_KEVENT_TOKEN_CHANGED:
		public_kind = CS_EVENT_TOKEN_CHANGED;
		break;
	case CS_KEVENT_NOTICE:
		public_kind = CS_EVENT_NOTICE;
		break;
	case CS_KEVENT_READER_CHANGED:
		public_kind = CS_EVENT_READER_CHANGED;
		break;
	default:
		return;
	}
	(void)client_send_event(rq->cl, rq->id, public_kind, 0, detail);
}

void
request_set_keyd_context(struct request *rq, struct keyd_op_context *ctx, const char *summary)
{
	const struct hints *h = &rq->cl->hints;

	memset(ctx, 0, sizeof(*ctx));
	ctx->client_id = rq->cl->id;
	ctx->display = h->display;
	ctx->wayland_display = h->wayland_display;
	ctx->xauthority = h->xauthority;
	ctx->dbus_address = h->dbus_address;
	ctx->term = h->term;
	ctx->ttyname = h->ttyname;
	ctx->lc_ctype = h->lc_ctype;
	ctx->summary = summary;
	ctx->on_event = forward_event;
	ctx->event_arg = rq;
	ctx->cancel = &rq->cancel;
	keyd_client_set_thread_context(ctx);
}

static void
json_time(struct cs_json *j, const char *key, const ASN1_TIME *t)
{
	struct tm tm;
	char text[32];

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		cs_json_string(j, key, NULL);
		return;
	}
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cs_json_string(j, key, text);
}

/* A certificate's facts for STATUS: who, issued by whom, valid when, for what. */
static void
json_cert(struct cs_json *j, X509 *x)
{
	char name[512];
	STACK_OF(OPENSSL_STRING) *emails = cs_cert_emails(x);
	uint32_t ku = X509_get_key_usage(x);
	int valid_now = X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
	                X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	int i;

	X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
	cs_json_string(j, "subject", name);
	X509_NAME_oneline(X509_get_issuer_name(x), name, sizeof(name));
	cs_json_string(j, "issuer", name);
	cs_json_array_begin(j, "emails");
	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails); i++)
		cs_json_string(j, NULL, sk_OPENSSL_STRING_value(emails, i));
	cs_json_array_end(j);
	json_time(j, "not_before", X509_get0_notBefore(x));
	json_time(j, "not_after", X509_get0_notAfter(x));
	cs_json_bool(j, "valid_now", valid_now);
	cs_json_array_begin(j, "key_usage");
	if (ku != UINT32_MAX) {
		if (ku & KU_DIGITAL_SIGNATURE)
			cs_json_string(j, NULL, "digitalSignature");
		if (ku & KU_NON_REPUDIATION)
			cs_json_string(j, NULL, "nonRepudiation");
		if (ku & KU_KEY_ENCIPHERMENT)
			cs_json_string(j, NULL, "keyEncipherment");
		if (ku & KU_KEY_AGREEMENT)
			cs_json_string(j, NULL, "keyAgreement");
	}
	cs_json_array_end(j);
	X509_email_free(emails);
}

static void
json_token(struct cs_json *j, const struct keyd_token *t)
{
	cs_json_object_begin(j, NULL);
	cs_json_string(j, "label", t->label);
	cs_json_string(j, "serial", t->serial);
	cs_json_string(j, "manufacturer", t->manufacturer);
	cs_json_string(j, "model", t->model);
	cs_json_string(j, "module", t->module);
	cs_json_int(j, "slot", t->slot);
	cs_json_bool(j, "present", (t->flags & CS_KTOKEN_PRESENT) != 0);
	cs_json_bool(j, "removable", (t->flags & CS_KTOKEN_REMOVABLE) != 0);
	cs_json_bool(j, "hardware_slot", (t->flags & CS_KTOKEN_HW_SLOT) != 0);
	cs_json_bool(j, "pin_pad", (t->flags & CS_KTOKEN_PIN_PAD) != 0);
	cs_json_bool(j, "pin_count_low", (t->flags & CS_KTOKEN_PIN_COUNT_LOW) != 0);
	cs_json_bool(j, "pin_final_try", (t->flags & CS_KTOKEN_PIN_FINAL_TRY) != 0);
	cs_json_bool(j, "pin_locked", (t->flags & CS_KTOKEN_PIN_LOCKED) != 0);
	cs_json_bool(j, "logged_in", (t->flags & CS_KTOKEN_LOGGED_IN) != 0);
	cs_json_object_end(j);
}

static void
json_identity(struct cs_json *j, const struct keyd_identity *id)
{
	const unsigned char *p = id->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)id->cert_len);

	cs_json_object_begin(j, NULL);
	cs_json_string(j, "label", id->label);
	cs_json_string(j, "key_uri", id->key_uri);
	cs_json_string(j, "cert_uri", id->cert_uri);
	cs_json_string(j, "token", id->token_label);
	cs_json_string(j, "token_serial", id->token_serial);
	cs_json_string(j, "key_type", id->key_type == 1 ? "RSA" : "EC");
	cs_json_bool(j, "generated_on_token", (id->flags & CS_KID_LOCAL) != 0);
	cs_json_bool(j, "can_sign", (id->flags & CS_KID_SIGN) != 0);
	cs_json_bool(j, "can_decrypt", (id->flags & (CS_KID_DECRYPT | CS_KID_DERIVE)) != 0);
	if (x != NULL)
		json_cert(j, x);
	cs_json_object_end(j);
	X509_free(x);
}

void
handle_status(struct request *rq)
{
	struct keyd_token *tokens = NULL;
	struct keyd_identity *ids = NULL;
	size_t n_tokens = 0, n_ids = 0, i;
	struct keyd_op_context ctx;
	struct cs_json j;
	struct cs_buf out;
	int r;

	cs_buf_init(&out, 0);
	request_set_keyd_context(rq, &ctx, NULL);
	if ((r = rq->body_len == 0 ? 0 : CS_ERR_TRAILING) != 0 ||
	    (r = keyd_client_list_tokens(rq->cl->d->keyd, &tokens, &n_tokens)) != 0 ||
	    (r = keyd_client_list_identities(rq->cl->d->keyd, &ids, &n_ids)) != 0)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "engine", PACKAGE_VERSION);
	cs_json_array_begin(&j, "tokens");
	for (i = 0; i < n_tokens; i++) {
		/* An empty, uninitialised slot (SoftHSM always offers one) is not a token. */
		if ((tokens[i].flags & CS_KTOKEN_PRESENT) && tokens[i].label[0] == '\0')
			continue;
		json_token(&j, &tokens[i]);
	}
	cs_json_array_end(&j);
	cs_json_array_begin(&j, "identities");
	for (i = 0; i < n_ids; i++) {
		const unsigned char *p = ids[i].cert_der;
		X509 *x = d2i_X509(NULL, &p, (long)ids[i].cert_len);

		/* Remembered, so a later READ can name this card when it is out. */
		if (x != NULL)
			(void)cs_store_remember_identity(rq->cl->d->store, ids[i].key_uri,
			                                 ids[i].token_label, ids[i].token_serial, x);
		X509_free(x);
		json_identity(&j, &ids[i]);
	}
	cs_json_array_end(&j);
	/* The shells lock their Sign and Encrypt toggles from this. */
	cs_json_object_begin(&j, "policy");
	policy_json(policy_current(), &j);
	cs_json_object_end(&j);
	cs_json_object_end(&j);
	r = cs_json_finish(&j);
out:
	keyd_client_set_thread_context(NULL);
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	keyd_tokens_free(tokens, n_tokens);
	keyd_identities_free(ids, n_ids);
	cs_buf_clear(&out);
}

void
handle_certs_import(struct request *rq)
{
	struct cs_reader rd;
	const uint8_t *file;
	size_t len;
	struct cs_buf out;
	struct cs_json j;
	int added = 0, seen = 0, r;

	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_bytes(&rd, CS_PROTO_MAX_FRAME, &file, &len);
	if ((r = cs_reader_finish(&rd)) == 0)
		r = cs_store_import(rq->cl->d->store, file, len, &added, &seen);
	if (r == 0) {
		cs_json_init(&j, &out);
		cs_json_object_begin(&j, NULL);
		cs_json_int(&j, "certificates", seen);
		cs_json_int(&j, "added", added);
		cs_json_object_end(&j);
		r = cs_json_finish(&j);
	}
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	cs_buf_clear(&out);
}

void
handle_subscribe(struct request *rq)
{
	struct keyd_op_context ctx;
	int r;

	if (rq->body_len != 0) {
		client_send_error(rq->cl, rq->id, CS_ERR_TRAILING, NULL);
		return;
	}
	request_set_keyd_context(rq, &ctx, NULL);
	/* Streams until the client cancels (or goes away): then an empty OK. */
	r = keyd_client_watch_tokens(rq->cl->d->keyd);
	keyd_client_set_thread_context(NULL);
	if (r == 0 || r == CS_ERR_CANCELLED)
		(void)client_send(rq->cl, CS_MSG_OK, rq->id, NULL);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
}
