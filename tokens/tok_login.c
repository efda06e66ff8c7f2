/*
 * Login: the PIN comes from a callback (keyd's pinentry driver), is used for
 * exactly one C_Login and wiped. A wrong PIN is never sent again: the next
 * dialog says it was wrong, and the user decides. What is cached is the
 * token's login state for login_ttl seconds of idleness, never a PIN.
 */
#include <string.h>
#include <time.h>

#include "cs_error.h"
#include "tok_keycache.h"
#include "tok_login.h"

/* At most this many PIN dialogs for one operation, each after a wrong PIN. */
#define MAX_PIN_DIALOGS 3

static int
session_logged_in(struct tok_token *t, int *ret_logged_in)
{
	CK_SESSION_INFO si;
	CK_RV rv;

	*ret_logged_in = 0;
	rv = t->module->fn->C_GetSessionInfo(t->session, &si);
	if (rv != CKR_OK)
		return tok_map_rv(rv);
	*ret_logged_in = si.state == CKS_RO_USER_FUNCTIONS || si.state == CKS_RW_USER_FUNCTIONS;
	return 0;
}

static int
read_pin_flags(struct tok_token *t, struct tok_pin_prompt *p, int *ret_locked)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;

	if ((rv = t->module->fn->C_GetTokenInfo(t->slot, &ti)) != CKR_OK)
		return tok_map_rv(rv);
	p->count_low = (ti.flags & CKF_USER_PIN_COUNT_LOW) != 0;
	p->final_try = (ti.flags & CKF_USER_PIN_FINAL_TRY) != 0;
	p->keypad = (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	*ret_locked = (ti.flags & CKF_USER_PIN_LOCKED) != 0;
	return 0;
}

/* One dialog and one C_Login of user_type. Returns 0 or CS_ERR_*. */
static int
login_once(struct tok_token *t, CK_USER_TYPE user_type, tok_pin_cb cb, void *arg)
{
	struct tok_pin_prompt prompt;
	struct cs_secret *pin = NULL;
	int r, locked = 0;
	CK_RV rv;

	memset(&prompt, 0, sizeof(prompt));
	prompt.token_label = t->label;
	prompt.previous_wrong = t->previous_wrong;
	prompt.context_specific = user_type == CKU_CONTEXT_SPECIFIC;
	if ((r = read_pin_flags(t, &prompt, &locked)) != 0)
		return r;
	if (locked)
		return tok_map_rv(CKR_PIN_LOCKED);
	if ((r = cb(arg, &prompt, &pin)) != 0)
		goto out;
	if (prompt.keypad) {
		/* The reader asks for the PIN on its own keypad: no PIN passes through us. */
		rv = t->module->fn->C_Login(t->session, user_type, NULL, 0);
	} else if (pin == NULL) {
		r = CS_ERR_PINENTRY;
		goto out;
	} else {
		rv = t->module->fn->C_Login(t->session, user_type,
		                            (CK_UTF8CHAR_PTR)cs_secret_data(pin),
		                            (CK_ULONG)cs_secret_len(pin));
	}
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	t->previous_wrong = rv == CKR_PIN_INCORRECT;
	r = tok_map_rv(rv);
out:
	cs_secret_free(pin);
	return r;
}

static int
login_with_dialogs(struct tok_token *t, CK_USER_TYPE user_type, tok_pin_cb cb, void *arg)
{
	int i, r = CS_ERR_PIN_INCORRECT;

	for (i = 0; i < MAX_PIN_DIALOGS; i++) {
		r = login_once(t, user_type, cb, arg);
		if (r != CS_ERR_PIN_INCORRECT)
			break;
	}
	return r;
}

int
tok_token_prepare(struct tok_ctx *ctx, struct tok_token *t, tok_pin_cb cb, void *arg)
{
	int r, logged_in = 0;
	time_t now = time(NULL);

	if ((r = tok_token_session(t)) != 0)
		return r;
	r = session_logged_in(t, &logged_in);
	if (r == CS_ERR_TOKEN_REMOVED) {
		/* The session died with an earlier removal; the token is back: start afresh. */
		tok_token_drop_session(t);
		if ((r = tok_token_session(t)) != 0 || (r = session_logged_in(t, &logged_in)) != 0)
			return r;
	} else if (r != 0) {
		return r;
	}
	if (logged_in && ctx->login_ttl > 0 && now - t->last_used > (time_t)ctx->login_ttl) {
		(void)t->module->fn->C_Logout(t->session);
		logged_in = 0;
	}
	if (!logged_in) {
		/*
		 * A new login period: handles of private objects found in an earlier
		 * one are not relied on (some modules renumber them after a logout,
		 * and a logout we did not make may mean the card was reset).
		 */
		tok_keycache_clear(t);
		if ((r = login_with_dialogs(t, CKU_USER, cb, arg)) != 0)
			return r;
	}
	t->last_used = now;
	return 0;
}

int
tok_token_context_login(struct tok_token *t, tok_pin_cb cb, void *arg)
{
	/* Always a fresh dialog: a per-operation login must never come from a cache. */
	return login_with_dialogs(t, CKU_CONTEXT_SPECIFIC, cb, arg);
}

void
tok_token_finish(struct tok_ctx *ctx, struct tok_token *t, int result)
{
	if (result == CS_ERR_TOKEN_REMOVED || result == CS_ERR_NO_TOKEN) {
		tok_token_drop_session(t);
		return;
	}
	t->last_used = time(NULL);
	if (ctx->login_ttl == 0 && t->session != CK_INVALID_HANDLE)
		(void)t->module->fn->C_Logout(t->session);
}
