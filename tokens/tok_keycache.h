/*
 * The private keys keyd found on a token, by key URI: the object handle and
 * the facts an operation needs (type, CKA_ALWAYS_AUTHENTICATE, modulus size,
 * curve), so that a signature does not search the token's objects again.
 * SoftHSM's file store re-reads every object file on each C_FindObjects
 * (about 240 opens per signature measured); a card reads its files.
 *
 * A handle is only meaningful for the token instance and the session it was
 * found in, so an entry is used only while all of these still hold:
 *  - the same open session (t->session): a card pulled out, or a session the
 *    module closed, ends the session (every PKCS#11 module closes a removed
 *    token's sessions), and tok_token_drop_session() empties the cache;
 *  - the same token serial as read from the module for this operation (another
 *    card, or a re-initialised token with a new serial, in the same slot);
 *  - the same login period: tok_token_prepare() empties the cache whenever it
 *    finds the session logged out (our idle logout, or a card reset we did
 *    not see), since some modules renumber private objects across logins;
 *  - the same context generation: bumped by every slot-watch event (token or
 *    reader, any slot), by a rescan that finds a token changed, and after a
 *    PKCS#12 import writes objects (tok_pkcs12.c, which also empties the
 *    token's cache).
 * And a handle the module calls invalid (CKR_OBJECT_HANDLE_INVALID,
 * CKR_KEY_HANDLE_INVALID) empties the cache and the key is looked up again,
 * once. All of it is guarded by the token's lock (t->lock).
 */
#ifndef TOK_KEYCACHE_H
#define TOK_KEYCACHE_H

#include "tok_internal.h"

/*
 * The cached key for uri on t (caller holds t->lock, the session is open),
 * or 0 if there is none valid for (session, serial, generation).
 */
int tok_keycache_get(struct tok_token *t, const char *serial, unsigned long generation,
                     const char *uri, struct tok_private_key *ret_key);

/* Remembers key for uri (caller holds t->lock); a failure only means no caching. */
void tok_keycache_put(struct tok_token *t, const char *serial, unsigned long generation,
                      const char *uri, const struct tok_private_key *key);

/* Forgets every key of t (caller holds t->lock). */
void tok_keycache_clear(struct tok_token *t);

/* The context's generation (see above) now; and a bump of it. */
unsigned long tok_ctx_generation(struct tok_ctx *ctx);
void tok_ctx_bump_generation(struct tok_ctx *ctx);

/* Whether rv says an object handle no longer names an object. */
int tok_stale_handle(CK_RV rv);

#endif
