/* Private to tokens/: the context, module and token structures. */
#ifndef TOK_INTERNAL_H
#define TOK_INTERNAL_H

#include <pthread.h>
#include <time.h>

#include "tok.h"

struct tok_module {
	char path[256];
	CK_FUNCTION_LIST *fn;
};

/* A private key found on a token: its handle and what operations need to know of it. */
struct tok_private_key {
	CK_OBJECT_HANDLE handle;
	CK_KEY_TYPE type;
	CK_BBOOL always_authenticate;
	CK_ULONG modulus_bytes;     /* RSA */
	unsigned modulus_bits;      /* RSA: exact, for the largest PSS salt */
	int curve_nid;              /* EC */
	int cached;                 /* came from the key cache (a stale handle is retried) */
};

/* Key handles by key URI, valid for one session of one token instance (tok_keycache.h). */
#define TOK_KEYCACHE_SIZE 8
struct tok_keycache {
	CK_SESSION_HANDLE session;
	char serial[17];
	unsigned long generation;
	size_t n, next;
	struct {
		char *uri;
		struct tok_private_key key;
	} entries[TOK_KEYCACHE_SIZE];
};

/* One slot of one module, kept for the life of the context (never freed on removal). */
struct tok_token {
	struct tok_module *module;
	CK_SLOT_ID slot;
	pthread_mutex_t lock;           /* serialises everything below and all calls on the session */
	CK_SESSION_HANDLE session;      /* CK_INVALID_HANDLE when none is open */
	time_t last_used;               /* for the login idle time */
	int previous_wrong;             /* the last PIN tried was wrong */
	int present;
	char label[33];
	char serial[17];
	struct tok_keycache keys;       /* guarded by lock */
	/*
	 * The identities and the CA certificates found the last time the token
	 * was free, for listings while it is busy (a PIN dialog may hold its lock
	 * for minutes; another thread's peek at the session for a moment). The
	 * _valid flags say a listing was made at all: before one, a busy token's
	 * listing is partial, and says so. Guarded by cache_lock, never by lock.
	 */
	pthread_mutex_t cache_lock;
	struct tok_identity *cached;
	size_t n_cached;
	char cached_serial[17];
	int cached_valid;
	struct tok_cert *cached_cas;
	size_t n_cached_cas;
	char cached_cas_serial[17];
	int cached_cas_valid;
};

struct tok_ctx {
	pthread_mutex_t lock;           /* protects the tokens array; taken before a token lock */
	struct tok_module *modules;
	size_t n_modules;
	CK_FUNCTION_LIST **p11kit_modules;  /* when loaded from the p11-kit registry */
	struct tok_token **tokens;
	size_t n_tokens;
	unsigned login_ttl;
	unsigned long generation;       /* bumped on token events and object writes (tok_keycache.h) */
};

/* Records rv as this thread's last CK_RV and maps it to a CS_ERR_*. */
int tok_map_rv(CK_RV rv);

/* Copies a blank-padded PKCS#11 string into a NUL-terminated one without the blanks. */
void tok_copy_padded(char *dst, size_t dst_size, const CK_UTF8CHAR *src, size_t src_len);

/*
 * A copy of the token pointer list (tokens are never freed while the context
 * lives), so callers can lock tokens without holding the context lock.
 * *ret_tokens is freed with free().
 */
int tok_ctx_tokens(struct tok_ctx *ctx, struct tok_token ***ret_tokens, size_t *ret_n);

/* Fills info from the module for token t (token lock not needed). */
int tok_token_read_info(struct tok_token *t, struct tok_token_info *info);

/*
 * Opens the token's session if none is open. Caller holds t->lock.
 * Returns 0, CS_ERR_NO_TOKEN or another CS_ERR_*.
 */
int tok_token_session(struct tok_token *t);

/* Forgets the session after the token went away or closed it. Caller holds t->lock. */
void tok_token_drop_session(struct tok_token *t);

/* Builds the pkcs11: URI of an object with this CKA_ID and class on token info. */
int tok_object_uri(const struct tok_token_info *info, const uint8_t *id, size_t id_len,
                   CK_OBJECT_CLASS klass, const char *label, char **ret_uri);

/*
 * Finds the token a URI names and returns it with its lock HELD (the caller
 * unlocks). CS_ERR_NO_TOKEN if no present token matches.
 */
int tok_lock_token_for_uri(struct tok_ctx *ctx, const char *uri, struct tok_token **ret_token);

/* The same, and the token's facts as read from the module on the way (its serial). */
int tok_lock_token_for_uri_info(struct tok_ctx *ctx, const char *uri, struct tok_token **ret_token,
                                struct tok_token_info *ret_info);

/* Reads a private key's type, CKA_ALWAYS_AUTHENTICATE, modulus size (RSA) or curve (EC). */
int tok_read_key_facts(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                       CK_KEY_TYPE *ret_type, CK_BBOOL *ret_always_auth,
                       CK_ULONG *ret_modulus_bytes, int *ret_curve_nid);

#endif
