/*
 * CS_KMSG_IMPORT_P12. The file's password is asked here, through pinentry,
 * when the front sends none (it never does: the public protocol carries no
 * password); a password in the request is read in place from the body (which
 * the request thread wipes when the handler returns) straight into a
 * cs_secret. Either way it exists only in a cs_secret, wiped when it has
 * been tried, and is never logged. tokens/ wipes everything it decrypts.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "keyd_import.h"
#include "pinentry.h"
#include "tok_pkcs12.h"

static const struct tok_key_policy import_policy = {
	KEYD_IMPORT_MIN_RSA_BITS,
	KEYD_IMPORT_MIN_EC_BITS,
	KEYD_IMPORT_REFUSE_WEAK_SIGNATURE,
};

/* The password field (a str on the wire) as a new secret; NULL when empty. */
static void
read_password(struct cs_reader *rd, struct cs_secret **ret)
{
	const uint8_t *p;
	size_t n;

	*ret = NULL;
	cs_read_bytes(rd, CS_SECRET_MAX, &p, &n);
	if (n == 0)
		return;
	/* A str may not hold NUL; OpenSSL would cut the password there. */
	if (memchr(p, 0, n) != NULL) {
		cs_reader_fail(rd, CS_ERR_BAD_FORMAT);
		return;
	}
	if ((*ret = cs_secret_from(p, n)) == NULL)
		cs_reader_fail(rd, CS_ERR_NOMEM);
}

/* The password dialog: the client's display, the file's name (the summary), the token. */
static int
password_callback(void *arg, const struct tok_password_prompt *prompt,
                  struct cs_secret **ret_password)
{
	const struct keyd_pin_arg *a = arg;
	const struct keyd_context *c = a->context;
	struct cs_display_hints hints;
	struct cs_pin_request req;

	*ret_password = NULL;
	if (a->cancel != NULL && *a->cancel)
		return CS_ERR_CANCELLED;
	memset(&hints, 0, sizeof(hints));
	hints.display = c->display;
	hints.wayland_display = c->wayland_display;
	hints.xauthority = c->xauthority;
	hints.dbus_session_bus_address = c->dbus_address;
	hints.term = c->term;
	hints.ttyname = c->ttyname;
	hints.lc_ctype = c->lc_ctype;
	memset(&req, 0, sizeof(req));
	req.pinentry_program = a->keyd->pinentry;
	req.hints = &hints;
	req.token_label = prompt->token_label;
	req.summary = c->summary;
	req.previous_wrong = prompt->previous_wrong;
	req.tries_left = prompt->tries - prompt->attempt + 1;
	req.timeout_seconds = a->keyd->pin_timeout;
	req.cancel = a->cancel;
	(void)keyd_send_event(a->keyd, a->request_id, CS_KEVENT_WAITING_FOR_PASSWORD,
	                      c->summary != NULL ? c->summary : "");
	return cs_pinentry_get_password(&req, ret_password);
}

/* ERROR with the import's own message rather than the code's generic one. */
static void
send_import_error(struct keyd *k, uint32_t id, int err, const char *message)
{
	struct cs_buf b;

	cs_buf_init(&b, 0);
	if (cs_buf_put_u32(&b, (uint32_t)-err) == 0 &&
	    cs_buf_put_str(&b, message[0] != '\0' ? message : cs_strerror(err)) == 0 &&
	    keyd_send(k, CS_KMSG_ERROR, id, &b) == 0) {
		cs_buf_clear(&b);
		return;
	}
	cs_buf_clear(&b);
	keyd_send_error(k, id, err);
}

void
keyd_handle_import_p12(struct keyd *k, uint32_t id, struct cs_reader *rd,
                       const volatile int *cancel)
{
	struct keyd_context ctx;
	struct keyd_pin_arg pin = { k, id, &ctx, "import", cancel, NULL };
	struct tok_import_request req;
	struct tok_import_result res;
	struct cs_secret *password = NULL;
	char *token_uri = NULL, *label = NULL;
	struct cs_buf b;
	int r;

	memset(&res, 0, sizeof(res));
	memset(&req, 0, sizeof(req));
	cs_buf_init(&b, 0);
	keyd_read_context(rd, &ctx);
	cs_read_str(rd, CS_KEYD_MAX_STR, &token_uri);
	cs_read_bytes(rd, TOK_PKCS12_MAX, &req.p12, &req.p12_len);
	read_password(rd, &password);
	cs_read_str(rd, CS_KEYD_MAX_STR, &label);
	if ((r = cs_reader_finish(rd)) != 0)
		goto out;
	req.token_uri = token_uri;
	req.password = password;
	req.password_cb = password == NULL ? password_callback : NULL;
	req.password_arg = &pin;
	req.label = label;
	req.policy = &import_policy;
	req.pin_cb = keyd_pin_callback;
	req.pin_arg = &pin;
	r = tok_import_pkcs12_ex(k->tokens, &req, &res);
	keyd_pin_done(&pin);
	/* A failed import has no key URI: the log names the token it was aimed at. */
	keyd_audit(k, &ctx, "import", res.key_uri != NULL ? res.key_uri : token_uri, r);
	if (r == 0 && (r = cs_buf_put_str(&b, res.key_uri)) == 0 &&
	    (r = cs_buf_put_str(&b, res.cert_uri)) == 0 &&
	    (r = cs_buf_put_str(&b, res.token_label)) == 0 &&
	    (r = cs_buf_put_str(&b, res.subject)) == 0 &&
	    (r = cs_buf_put_u32(&b, (uint32_t)res.chain)) == 0 &&
	    (r = cs_buf_put_u32(&b, (uint32_t)res.chain_written)) == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
out:
	if (r != 0)
		send_import_error(k, id, r, res.message);
	cs_secret_free(password);
	keyd_context_clear(&ctx);
	free(token_uri);
	free(label);
	tok_import_result_clear(&res);
	cs_buf_clear(&b);
}
