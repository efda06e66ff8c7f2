/* Private to tokens/: logging in around an operation. Caller holds t->lock. */
#ifndef TOK_LOGIN_H
#define TOK_LOGIN_H

#include "tok_internal.h"

/*
 * Opens the session and logs in as user if needed (PIN dialogs through cb),
 * after logging out if the token sat idle past the login time.
 */
int tok_token_prepare(struct tok_ctx *ctx, struct tok_token *t, tok_pin_cb cb, void *arg);

/* The context-specific login a CKA_ALWAYS_AUTHENTICATE key needs after *Init. */
int tok_token_context_login(struct tok_token *t, tok_pin_cb cb, void *arg);

/* Ends an operation with this result: drops a dead session, or logs out when the TTL is 0. */
void tok_token_finish(struct tok_ctx *ctx, struct tok_token *t, int result);

#endif
