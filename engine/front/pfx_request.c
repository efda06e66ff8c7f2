/*
 * PFX_IMPORT: a PKCS#12 file onto a token, through keyd. The front never
 * sees the file's password or the token's PIN: keyd asks both through
 * pinentry. The front checks sizes, names the file for the password dialog
 * (as the keyd context's summary, which keyd sanitizes) and turns keyd's
 * answer into JSON, or its explanation into the error's details.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "cs_proto.h"
#include "daemon.h"
#include "json.h"

/*
 * The largest file passed on: keyd's whole frame is CS_KEYD_MAX_FRAME (64 KiB)
 * and tokens/ takes files up to TOK_PKCS12_MAX (60 KiB). Real exports are a
 * few KiB; the public limit (1 MiB frames) is only the protocol's.
 */
#define PFX_MAX_FILE (60u * 1024)
#define PFX_MAX_NAME 255

/* keyd's events as the public protocol names them, the password's included. */
static void
pfx_event(void *arg, int kind, const char *detail)
{
	struct request *rq = arg;
	int public_kind;

	switch (kind) {
	case CS_KEVENT_WAITING_FOR_PASSWORD:
		public_kind = CS_EVENT_WAITING_FOR_PASSWORD;
		break;
	case CS_KEVENT_WAITING_FOR_PIN:
		public_kind = CS_EVENT_WAITING_FOR_PIN;
		break;
	case CS_KEVENT_INSERT_TOKEN:
		public_kind = CS_EVENT_INSERT_TOKEN;
		break;
	case CS_KEVENT_PIN_STATE:
		public_kind = CS_EVENT_PIN_STATE;
		break;
	default:
		return;
	}
	(void)client_send_event(rq->cl, rq->id, public_kind, 0, detail);
}

/* ERROR with keyd's explanation as the message and in the details: {"message": ...}. */
static void
send_pfx_error(struct request *rq, int err, const char *message)
{
	struct cs_buf details, b;
	struct cs_json j;
	const char *text = message != NULL && message[0] != '\0' ? message : cs_strerror(err);

	cs_buf_init(&details, 0);
	cs_buf_init(&b, 0);
	cs_json_init(&j, &details);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "message", text);
	cs_json_object_end(&j);
	if (cs_json_finish(&j) == 0 && cs_buf_put_u32(&b, (uint32_t)-err) == 0 &&
	    cs_buf_put_str(&b, text) == 0 && cs_buf_put_bytes(&b, details.data, details.len) == 0)
		(void)client_send(rq->cl, CS_MSG_ERROR, rq->id, &b);
	else
		(void)client_send_error(rq->cl, rq->id, err, NULL);
	cs_buf_clear(&details);
	cs_buf_clear(&b);
}

static int
result_json(const struct keyd_import_result *res, struct cs_buf *out)
{
	struct cs_json j;

	cs_json_init(&j, out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "key_uri", res->key_uri);
	cs_json_string(&j, "cert_uri", res->cert_uri);
	cs_json_string(&j, "token", res->token_label);
	cs_json_string(&j, "subject", res->subject);
	cs_json_int(&j, "chain", res->chain);
	cs_json_int(&j, "chain_written", res->chain_written);
	cs_json_object_end(&j);
	return cs_json_finish(&j);
}

void
handle_pfx_import(struct request *rq)
{
	struct keyd_op_context ctx;
	struct keyd_import_result res;
	struct cs_reader rd;
	struct cs_buf out;
	char *token_uri = NULL, *label = NULL, *file_name = NULL, *message = NULL;
	const char *shown;
	const uint8_t *p12;
	size_t p12_len;
	int r;

	memset(&res, 0, sizeof(res));
	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &token_uri);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &label);
	cs_read_bytes(&rd, CS_PROTO_MAX_FRAME, &p12, &p12_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &file_name);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	if (p12_len == 0) {
		r = CS_ERR_BAD_FORMAT;
		message = strdup("the file is empty");
		goto out;
	}
	if (p12_len > PFX_MAX_FILE) {
		r = CS_ERR_TOO_LARGE;
		message = strdup("the file is over 60 KiB: not a certificate export");
		goto out;
	}
	/* The dialog shows the name without its directories; keyd sanitizes it. */
	shown = strrchr(file_name, '/') != NULL ? strrchr(file_name, '/') + 1 : file_name;
	if (strlen(shown) > PFX_MAX_NAME)
		file_name[shown - file_name + PFX_MAX_NAME] = '\0';
	request_set_keyd_context(rq, &ctx, shown);
	ctx.on_event = pfx_event;
	r = keyd_client_import_p12_ask(rq->cl->d->keyd, token_uri, p12, p12_len, label, &res,
	                               &message);
	keyd_client_set_thread_context(NULL);
	if (r == 0)
		r = result_json(&res, &out);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		send_pfx_error(rq, r, message);
	keyd_import_result_clear(&res);
	free(token_uri);
	free(label);
	free(file_name);
	free(message);
	cs_buf_clear(&out);
}
