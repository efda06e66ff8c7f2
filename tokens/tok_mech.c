/*
 * What a token offers: its mechanism list, read before an operation the
 * token may lack, so that keyd can say which mechanism is missing before any
 * PIN dialog. A remote token behind p11-kit 0.24's RPC, for one, lists no
 * ECDH (the RPC cannot carry its parameters), and C_DeriveKey would only
 * fail with an anonymous CKR_MECHANISM_INVALID after the PIN was asked.
 */
#include <stdlib.h>

#include "cs_error.h"
#include "tok_internal.h"

/* No real token lists more; a longer list is a module gone wrong. */
#define MAX_MECHANISMS 4096

/* 1 if t's slot lists mech, 0 if not, or CS_ERR_*. Caller holds t->lock. */
static int
slot_has_mechanism(struct tok_token *t, CK_MECHANISM_TYPE mech)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_MECHANISM_TYPE *list = NULL;
	CK_ULONG n = 0, i;
	CK_RV rv;
	int r = 0;

	if ((rv = fn->C_GetMechanismList(t->slot, NULL, &n)) != CKR_OK)
		return tok_map_rv(rv);
	if (n == 0)
		return 0;
	if (n > MAX_MECHANISMS)
		return CS_ERR_TOO_LARGE;
	/*
	 * One spare entry: p11-kit 0.24's client, dropping the mechanisms it
	 * cannot remote, moves the list down with a memmove that reads one entry
	 * past the end of the caller's array (AddressSanitizer caught it here).
	 */
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return CS_ERR_NOMEM;
	/* The list may shrink between the calls (a card swapped): n is updated. */
	if ((rv = fn->C_GetMechanismList(t->slot, list, &n)) != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	for (i = 0; i < n && r == 0; i++)
		r = list[i] == mech;
out:
	free(list);
	return r;
}

int
tok_mechanism_offered(struct tok_ctx *ctx, const char *key_uri, CK_MECHANISM_TYPE mech,
                      struct tok_token_info *ret_info)
{
	struct tok_token *t;
	int r;

	if (ctx == NULL || key_uri == NULL || ret_info == NULL)
		return CS_ERR_INVALID_ARG;
	if ((r = tok_lock_token_for_uri(ctx, key_uri, &t)) != 0)
		return r;
	if ((r = tok_token_read_info(t, ret_info)) == 0)
		r = slot_has_mechanism(t, mech);
	pthread_mutex_unlock(&t->lock);
	return r;
}
