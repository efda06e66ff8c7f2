/*
 * Token presence for the front: a stream of token, reader and card events
 * (for status views) and a wait for the card a key lives on ("insert token
 * <label>").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "keyd.h"

/* The token label a URI names, for the "insert token" message; "" if it names none. */
static void
uri_token_label(const char *text, char *out, size_t size)
{
	P11KitUri *uri = p11_kit_uri_new();
	CK_TOKEN_INFO *ti;
	size_t n;

	out[0] = '\0';
	if (uri == NULL)
		return;
	if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri) == P11_KIT_URI_OK) {
		ti = p11_kit_uri_get_token_info(uri);
		n = sizeof(ti->label);
		/* p11-kit pads a given label with blanks and leaves an absent one zeroed. */
		while (n > 0 && (ti->label[n - 1] == ' ' || ti->label[n - 1] == '\0'))
			n--;
		if (n >= size)
			n = size - 1;
		memcpy(out, ti->label, n);
		out[n] = '\0';
	}
	p11_kit_uri_free(uri);
}

void
keyd_handle_watch_tokens(struct keyd *k, uint32_t id, struct cs_reader *rd,
                         const volatile int *cancel)
{
	struct tok_event e;
	uint64_t seq;
	char detail[192];
	int kind, r, from_start = 0;

	/*
	 * An optional u8: non-zero asks for every event since keyd started (those
	 * still in the ring), not only those from now on. The front's identity
	 * cache watches this way, so that no change between keyd's start and
	 * this request's arrival can go unreported to it.
	 */
	if (rd->left > 0)
		from_start = cs_read_u8(rd) != 0;
	if ((r = cs_reader_finish(rd)) != 0) {
		keyd_send_error(k, id, r);
		return;
	}
	seq = from_start ? 0 : tok_watch_last_seq(k->watch);
	for (;;) {
		r = tok_watch_next(k->watch, seq, 60 * 1000, cancel, &e);
		if (r == CS_ERR_TIMEOUT)
			continue;
		if (r != 0)
			break;
		seq = e.seq;
		if (e.kind == TOK_EVENT_READER) {
			kind = CS_KEVENT_READER_CHANGED;
			snprintf(detail, sizeof(detail), "%s %s", tok_reader_change_name(e.change),
			         e.reader);
		} else {
			kind = CS_KEVENT_TOKEN_CHANGED;
			snprintf(detail, sizeof(detail), "%s %s", e.present ? "present" : "absent",
			         e.label);
		}
		if (keyd_send_event(k, id, kind, detail) != 0)
			return;         /* the front is gone */
	}
	/* The stream ends when the front cancels it. */
	if (r == CS_ERR_CANCELLED)
		(void)keyd_send(k, CS_KMSG_OK, id, NULL);
	else
		keyd_send_error(k, id, r);
}

void
keyd_handle_wait_token(struct keyd *k, uint32_t id, struct cs_reader *rd,
                       const volatile int *cancel)
{
	char *key_uri = NULL, label[33];
	uint32_t timeout;
	int r;

	cs_read_str(rd, CS_KEYD_MAX_STR, &key_uri);
	timeout = cs_read_u32(rd);
	if ((r = cs_reader_finish(rd)) != 0)
		goto out;
	if (timeout > 24 * 3600)
		timeout = 24 * 3600;
	r = tok_watch_wait_token(k->watch, key_uri, 0, cancel);
	if (r == CS_ERR_TIMEOUT) {
		uri_token_label(key_uri, label, sizeof(label));
		(void)keyd_send_event(k, id, CS_KEVENT_INSERT_TOKEN, label);
		r = tok_watch_wait_token(k->watch, key_uri, timeout * 1000, cancel);
	}
out:
	if (r == 0)
		(void)keyd_send(k, CS_KMSG_OK, id, NULL);
	else
		keyd_send_error(k, id, r);
	free(key_uri);
}
