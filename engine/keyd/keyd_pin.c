/*
 * The bridge from tokens/' PIN callback to the pinentry driver: tells the
 * front a PIN is awaited (so the client can say so), then runs the dialog
 * with the client's display hints and a text keyd writes itself.
 */
#include <stdio.h>
#include <string.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "keyd.h"
#include "pinentry.h"

/*
 * What the dialog says the PIN is for. The dialog reads "<this> using the
 * token "<label>"", so it is a short verb phrase; a key that needs its PIN
 * every time gets the same words (the dialog simply appears every time).
 */
static const char *
operation_text(const char *op)
{
	if (strcmp(op, "sign") == 0)
		return "Sign";
	if (strcmp(op, "import") == 0)
		return "Import a certificate and its key";
	return "Decrypt";
}

/* The dialog request's common part: the client's display hints, the summary, the limits. */
static void
base_request(const struct keyd_pin_arg *a, struct cs_display_hints *hints,
             struct cs_pin_request *req)
{
	const struct keyd_context *c = a->context;

	memset(hints, 0, sizeof(*hints));
	hints->display = c->display;
	hints->wayland_display = c->wayland_display;
	hints->xauthority = c->xauthority;
	hints->dbus_session_bus_address = c->dbus_address;
	hints->term = c->term;
	hints->ttyname = c->ttyname;
	hints->lc_ctype = c->lc_ctype;
	memset(req, 0, sizeof(*req));
	req->pinentry_program = a->keyd->pinentry;
	req->hints = hints;
	req->summary = c->summary;
	req->timeout_seconds = a->keyd->pin_timeout;
	req->cancel = a->cancel;
}

int
keyd_pin_callback(void *arg, const struct tok_pin_prompt *prompt, struct cs_secret **ret_pin)
{
	struct keyd_pin_arg *a = arg;
	struct cs_display_hints hints;
	struct cs_pin_request req;
	int pin_state = 0;

	*ret_pin = NULL;
	if (a->cancel != NULL && *a->cancel)
		return CS_ERR_CANCELLED;
	if (prompt->count_low)
		pin_state |= CS_PIN_STATE_COUNT_LOW;
	if (prompt->final_try)
		pin_state |= CS_PIN_STATE_FINAL_TRY;
	base_request(a, &hints, &req);
	req.token_label = prompt->token_label;
	req.operation = operation_text(a->operation);
	req.pin_state = pin_state;
	req.previous_wrong = prompt->previous_wrong;
	req.keypad = prompt->keypad;
	if (prompt->count_low || prompt->final_try)
		(void)keyd_send_event(a->keyd, a->request_id, CS_KEVENT_PIN_STATE,
		                      prompt->final_try ? "final-try" : "count-low");
	(void)keyd_send_event(a->keyd, a->request_id, CS_KEVENT_WAITING_FOR_PIN,
	                      prompt->token_label);
	if (prompt->keypad) {
		/* After WAITING_FOR_PIN, which names the token: the client says where to type. */
		(void)keyd_send_event(a->keyd, a->request_id, CS_KEVENT_PIN_STATE, "keypad");
		/*
		 * "Use the reader's keypad" stays up while the reader takes the PIN and
		 * until the operation that needed the login ends (keyd_pin_done): tokens/
		 * has no call for "the login returned", and the operation is one token
		 * call after it. A new dialog for the same operation closes it first.
		 */
		keyd_pin_done(a);
		return cs_pinentry_message_open(&req, &a->keypad_message);
	}
	return cs_pinentry_get_pin(&req, ret_pin);
}

void
keyd_pin_done(struct keyd_pin_arg *a)
{
	if (a->keypad_message != NULL)
		(void)cs_pinentry_message_close(a->keypad_message);
	a->keypad_message = NULL;
}

int
keyd_confirm_signature(struct keyd_pin_arg *a)
{
	struct cs_display_hints hints;
	struct cs_pin_request req;

	if (a->cancel != NULL && *a->cancel)
		return CS_ERR_CANCELLED;
	base_request(a, &hints, &req);
	req.operation = "Confirm this signature";
	return cs_pinentry_confirm(&req);
}
