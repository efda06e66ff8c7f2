/*
 * Request handlers: each reads its body completely (trailing bytes are an
 * error), runs the token operation and replies once. No raw RSA result and
 * no PIN ever goes into a reply; decryption errors are all CS_ERR_DECRYPT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "cs_error.h"
#include "cs_frame.h"
#include "cs_keyd_msg.h"
#include "keyd.h"
#include "keyd_import.h"
#include "pinentry_text.h"

int
keyd_send(struct keyd *k, uint8_t type, uint32_t id, const struct cs_buf *body)
{
	int r;

	pthread_mutex_lock(&k->write_lock);
	r = cs_frame_write(k->fd, type, id, body != NULL ? body->data : NULL,
	                   body != NULL ? body->len : 0);
	pthread_mutex_unlock(&k->write_lock);
	return r;
}

int
keyd_send_error(struct keyd *k, uint32_t id, int err)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u32(&b, (uint32_t)-err)) == 0 &&
	    (r = cs_buf_put_str(&b, cs_strerror(err))) == 0)
		r = keyd_send(k, CS_KMSG_ERROR, id, &b);
	cs_buf_clear(&b);
	return r;
}

int
keyd_send_event(struct keyd *k, uint32_t id, int kind, const char *detail)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u8(&b, (uint8_t)kind)) == 0 && (r = cs_buf_put_str(&b, detail)) == 0)
		r = keyd_send(k, CS_KMSG_EVENT, id, &b);
	cs_buf_clear(&b);
	return r;
}

static int
put_identity(struct cs_buf *b, const struct tok_identity *id)
{
	uint8_t flags = (id->always_authenticate ? CS_KID_ALWAYS_AUTH : 0) |
	                (id->local ? CS_KID_LOCAL : 0) | (id->can_sign ? CS_KID_SIGN : 0) |
	                (id->can_decrypt ? CS_KID_DECRYPT : 0) | (id->can_derive ? CS_KID_DERIVE : 0);
	int r;

	if ((r = cs_buf_put_str(b, id->key_uri)) != 0 || (r = cs_buf_put_str(b, id->cert_uri)) != 0 ||
	    (r = cs_buf_put_bytes(b, id->cert_der, id->cert_len)) != 0 ||
	    (r = cs_buf_put_str(b, id->label)) != 0 ||
	    (r = cs_buf_put_str(b, id->token.label)) != 0 ||
	    (r = cs_buf_put_str(b, id->token.serial)) != 0 ||
	    (r = cs_buf_put_u8(b, (uint8_t)id->key_type)) != 0 || (r = cs_buf_put_u8(b, flags)) != 0 ||
	    (r = cs_buf_put_str(b, id->token.module_path)) != 0)
		return r;
	return 0;
}

static void
handle_list_identities(struct keyd *k, uint32_t id, struct cs_reader *rd)
{
	struct tok_identity *ids = NULL;
	struct tok_cert *cas = NULL;
	struct cs_buf b;
	size_t n = 0, n_cas = 0, i;
	int r, partial = 0;

	cs_buf_init(&b, CS_KEYD_MAX_FRAME * 16);
	if ((r = cs_reader_finish(rd)) != 0 ||
	    (r = tok_list_identities_partial(k->tokens, &ids, &n, &partial)) != 0)
		goto out;
	r = cs_buf_put_u32(&b, (uint32_t)n);
	for (i = 0; i < n && r == 0; i++)
		r = put_identity(&b, &ids[i]);
	/* Then the CA certificates the cards carry: the front completes chains with them. */
	if (r == 0)
		r = tok_list_ca_certs_partial(k->tokens, &cas, &n_cas, &partial);
	if (r == 0)
		r = cs_buf_put_u32(&b, (uint32_t)n_cas);
	for (i = 0; i < n_cas && r == 0; i++)
		r = cs_buf_put_bytes(&b, cas[i].der, cas[i].len);
	/* Whether a busy token's contents are missing: the front must not cache such an answer. */
	if (r == 0)
		r = cs_buf_put_u32(&b, partial ? CS_KLIST_PARTIAL : 0);
out:
	if (r == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
	else
		keyd_send_error(k, id, r);
	tok_identities_free(ids, n);
	tok_certs_free(cas, n_cas);
	cs_buf_clear(&b);
}

static uint32_t
token_flags(const struct tok_token_info *t)
{
	return (t->present ? CS_KTOKEN_PRESENT : 0) | (t->removable ? CS_KTOKEN_REMOVABLE : 0) |
	       (t->hardware_slot ? CS_KTOKEN_HW_SLOT : 0) |
	       (t->login_required ? CS_KTOKEN_LOGIN_REQUIRED : 0) |
	       (t->protected_auth_path ? CS_KTOKEN_PIN_PAD : 0) |
	       (t->pin_count_low ? CS_KTOKEN_PIN_COUNT_LOW : 0) |
	       (t->pin_final_try ? CS_KTOKEN_PIN_FINAL_TRY : 0) |
	       (t->pin_locked ? CS_KTOKEN_PIN_LOCKED : 0) | (t->logged_in ? CS_KTOKEN_LOGGED_IN : 0);
}

static void
handle_list_tokens(struct keyd *k, uint32_t id, struct cs_reader *rd)
{
	struct tok_token_info *list = NULL;
	struct cs_buf b;
	size_t n = 0, i;
	int r;

	cs_buf_init(&b, CS_KEYD_MAX_FRAME);
	if ((r = cs_reader_finish(rd)) != 0 || (r = tok_rescan(k->tokens)) != 0 ||
	    (r = tok_list_tokens(k->tokens, &list, &n)) != 0)
		goto out;
	r = cs_buf_put_u32(&b, (uint32_t)n);
	for (i = 0; i < n && r == 0; i++) {
		const struct tok_token_info *t = &list[i];

		if ((r = cs_buf_put_str(&b, t->module_path)) != 0 ||
		    (r = cs_buf_put_u32(&b, (uint32_t)t->slot_id)) != 0 ||
		    (r = cs_buf_put_str(&b, t->label)) != 0 ||
		    (r = cs_buf_put_str(&b, t->serial)) != 0 ||
		    (r = cs_buf_put_str(&b, t->manufacturer)) != 0 ||
		    (r = cs_buf_put_str(&b, t->model)) != 0)
			break;
		r = cs_buf_put_u32(&b, token_flags(t));
	}
out:
	if (r == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
	else
		keyd_send_error(k, id, r);
	free(list);
	cs_buf_clear(&b);
}

static void
handle_sign(struct keyd *k, uint32_t id, struct cs_reader *rd, const volatile int *cancel)
{
	struct keyd_context ctx;
	struct tok_sign_request req;
	struct keyd_pin_arg pin = { k, id, &ctx, "sign", cancel, NULL };
	char *key_uri = NULL;
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig);
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = keyd_parse_sign(rd, &ctx, &key_uri, &req)) != 0)
		goto out;
	/* Policy or settings may want the user to see and confirm every signature. */
	if (k->confirm_signatures && (r = keyd_confirm_signature(&pin)) != 0) {
		keyd_audit(k, &ctx, "sign-refused", key_uri, r);
		goto out;
	}
	r = tok_sign(k->tokens, &req, keyd_pin_callback, &pin, sig, &sig_len);
	keyd_pin_done(&pin);
	keyd_audit(k, &ctx, "sign", key_uri, r);
	if (r == 0 && (r = cs_buf_put_bytes(&b, sig, sig_len)) == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
out:
	if (r != 0)
		keyd_send_error(k, id, r);
	keyd_context_clear(&ctx);
	free(key_uri);
	cs_buf_clear(&b);
}

static void
handle_decrypt(struct keyd *k, uint32_t id, struct cs_reader *rd, const volatile int *cancel)
{
	struct keyd_context ctx;
	struct tok_decrypt_request req;
	struct keyd_pin_arg pin = { k, id, &ctx, "decrypt", cancel, NULL };
	struct cs_secret *key = NULL;
	char *key_uri = NULL;
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = keyd_parse_decrypt(rd, &ctx, &key_uri, &req)) != 0)
		goto out;
	r = tok_decrypt(k->tokens, &req, keyd_pin_callback, &pin, &key);
	keyd_pin_done(&pin);
	keyd_audit(k, &ctx, "decrypt", key_uri, r);
	if (r == 0 && (r = cs_buf_put_bytes(&b, cs_secret_data(key), cs_secret_len(key))) == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
out:
	if (r != 0)
		keyd_send_error(k, id, r);
	cs_secret_free(key);
	keyd_context_clear(&ctx);
	free(key_uri);
	cs_buf_clear(&b);   /* wipes the copy of the content key */
}

/*
 * Fails with CS_ERR_MECHANISM, before any PIN dialog, when the key's token
 * does not list mech, and tells the client why in words (a NOTICE event:
 * the error code alone cannot say which token lacks what). Errors in asking
 * return 0: the operation itself then reports what is wrong.
 */
static int
require_mechanism(struct keyd *k, uint32_t id, const char *key_uri, CK_MECHANISM_TYPE mech,
                  const char *name)
{
	struct tok_token_info info;
	char *label = NULL, text[256];
	const char *why = "";

	if (tok_mechanism_offered(k->tokens, key_uri, mech, &info) != 0)
		return 0;
	/* p11-kit 0.24's RPC hides the mechanisms whose parameters it cannot carry. */
	if (strstr(info.module_path, "p11-kit-client") != NULL)
		why = " (p11-kit remoting in 0.24 hides it)";
	/* The label comes from the token: no control or bidi characters reach a terminal. */
	if (cs_pe_sanitize(info.label, strlen(info.label), CS_PE_TEXT_LABEL, &label) != 0)
		label = NULL;
	snprintf(text, sizeof(text), "token %s does not offer %s%s", label != NULL ? label : "?",
	         name, why);
	fprintf(stderr, "cardseal-keyd: %s\n", text);
	(void)keyd_send_event(k, id, CS_KEVENT_NOTICE, text);
	free(label);
	return CS_ERR_MECHANISM;
}

static void
handle_derive(struct keyd *k, uint32_t id, struct cs_reader *rd, const volatile int *cancel)
{
	struct keyd_context ctx;
	struct keyd_pin_arg pin = { k, id, &ctx, "decrypt", cancel, NULL };
	struct cs_secret *secret = NULL;
	const uint8_t *peer;
	size_t peer_len;
	char *key_uri = NULL;
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = keyd_parse_derive(rd, &ctx, &key_uri, &peer, &peer_len)) != 0)
		goto out;
	r = require_mechanism(k, id, key_uri, CKM_ECDH1_DERIVE, "ECDH");
	if (r == 0)
		r = tok_derive(k->tokens, key_uri, peer, peer_len, keyd_pin_callback, &pin, &secret);
	keyd_pin_done(&pin);
	keyd_audit(k, &ctx, "derive", key_uri, r);
	if (r == 0 &&
	    (r = cs_buf_put_bytes(&b, cs_secret_data(secret), cs_secret_len(secret))) == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
out:
	if (r != 0)
		keyd_send_error(k, id, r);
	cs_secret_free(secret);
	keyd_context_clear(&ctx);
	free(key_uri);
	cs_buf_clear(&b);
}

void
keyd_dispatch(struct keyd *k, uint8_t type, uint32_t id, const uint8_t *body, size_t len,
              const volatile int *cancel)
{
	struct cs_reader rd;

	cs_reader_init(&rd, body, len);
	switch (type) {
	case CS_KMSG_LIST_IDENTITIES:
		handle_list_identities(k, id, &rd);
		break;
	case CS_KMSG_LIST_TOKENS:
		handle_list_tokens(k, id, &rd);
		break;
	case CS_KMSG_SIGN:
		handle_sign(k, id, &rd, cancel);
		break;
	case CS_KMSG_DECRYPT:
		handle_decrypt(k, id, &rd, cancel);
		break;
	case CS_KMSG_DERIVE:
		handle_derive(k, id, &rd, cancel);
		break;
	case CS_KMSG_IMPORT_P12:
		keyd_handle_import_p12(k, id, &rd, cancel);
		break;
	case CS_KMSG_WATCH_TOKENS:
		keyd_handle_watch_tokens(k, id, &rd, cancel);
		break;
	case CS_KMSG_WAIT_TOKEN:
		keyd_handle_wait_token(k, id, &rd, cancel);
		break;
	default:
		keyd_send_error(k, id, CS_ERR_UNKNOWN_TYPE);
		break;
	}
}
