/*
 * The front's side of the keyd protocol: starts cardseal-keyd (fork and exec
 * with a socketpair) and sends it requests. Paired with engine/keyd/: the
 * same message layouts, read there and written here (cs_keyd_msg.h).
 *
 * Many threads may have requests in flight at once: a reader thread hands
 * each reply to the thread waiting for its id. A thread states whom its
 * requests are for with keyd_client_set_thread_context(); events keyd sends
 * while one runs ("waiting for PIN", "insert token") go to that context's
 * callback, on the reader thread (so the callback must not call this client).
 * A context's cancel flag, once set, sends CANCEL for the request in flight.
 */
#ifndef KEYD_CLIENT_H
#define KEYD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/x509.h>

#include "cs_provider.h"
#include "cs_secret.h"

struct keyd_client;

struct keyd_client_options {
	const char *keyd_path;      /* the cardseal-keyd binary */
	const char *modules;        /* "p11-kit" or ';'-separated module paths */
	const char *pinentry;       /* the PIN dialog program */
	unsigned cache_ttl;         /* seconds */
	unsigned pin_timeout;       /* seconds */
	const char *data_dir;       /* audit log directory, or NULL */
	int confirm_signatures;     /* keyd asks the user to confirm each signature */
};

/* Display hints and the operation summary that requests carry to keyd's dialogs. */
typedef void (*keyd_event_cb)(void *arg, int kind, const char *detail);

struct keyd_op_context {
	uint32_t client_id;
	const char *display, *wayland_display, *xauthority, *dbus_address, *term, *ttyname,
		*lc_ctype;
	const char *summary;
	keyd_event_cb on_event;         /* may be NULL */
	void *event_arg;
	const volatile int *cancel;     /* may be NULL */
};

/* An identity as keyd reports it. */
struct keyd_identity {
	char *key_uri, *cert_uri, *label, *token_label, *token_serial;
	uint8_t *cert_der;
	size_t cert_len;
	int key_type;               /* 1 RSA, 2 EC */
	unsigned flags;             /* CS_KID_* */
	char *module;               /* the PKCS#11 module's path, as keyd loaded it */
};

void keyd_identities_free(struct keyd_identity *ids, size_t n);

/* A token as keyd reports it. */
struct keyd_token {
	char *module, *label, *serial, *manufacturer, *model;
	uint32_t slot;
	unsigned flags;             /* CS_KTOKEN_* */
};

void keyd_tokens_free(struct keyd_token *tokens, size_t n);

/* All slots and tokens keyd sees (rescanned first). */
int keyd_client_list_tokens(struct keyd_client *c, struct keyd_token **ret_tokens, size_t *ret_n);

/*
 * Starts keyd. Its environment is a clean one: only the variables PKCS#11
 * modules need (SOFTHSM2_CONF, P11_KIT_*, OPENSC_CONF, PCSCLITE_*, FAULTP11_*)
 * pass from ours. Returns 0 and *ret_client, or a negative CS_ERR_*.
 */
int keyd_client_start(const struct keyd_client_options *opts, struct keyd_client **ret_client);

/* Closes the socket (keyd exits on its own) and reaps it. NULL is fine. */
void keyd_client_free(struct keyd_client *c);

pid_t keyd_client_pid(const struct keyd_client *c);

/*
 * Closes the connection and reaps keyd without freeing the client: requests
 * in flight on other threads fail instead of touching freed memory.
 */
void keyd_client_stop(struct keyd_client *c);

/*
 * The context of this thread's next requests (NULL: an empty one); it must
 * outlive them. Thread-local, so concurrent clients of the front each have
 * their own display, summary, events and cancellation.
 */
void keyd_client_set_thread_context(const struct keyd_op_context *ctx);

/*
 * keyd's error for this thread's last failed request since its context was
 * set, or 0. OpenSSL's CMS code turns a failed key operation into a bare
 * failure; with this the front can still tell the client "cancelled" or
 * "PIN locked" instead of "internal error".
 */
int keyd_client_thread_error(void);

/*
 * Waits until the token of key_uri is present: keyd sends an INSERT_TOKEN
 * event (to the context's callback) if it is not. Returns 0, CS_ERR_TIMEOUT,
 * CS_ERR_CANCELLED or another CS_ERR_*.
 */
int keyd_client_wait_token(struct keyd_client *c, const char *key_uri, unsigned timeout_seconds);

/*
 * Streams token events (CS_KEVENT_TOKEN_CHANGED) to the context's callback
 * until the context's cancel flag is set. Returns 0 once cancelled.
 */
int keyd_client_watch_tokens(struct keyd_client *c);

/*
 * The identities on present tokens; when ret_cas is not NULL also the CA
 * certificates the tokens carry (a new stack the caller frees).
 */
int keyd_client_list_identities(struct keyd_client *c, struct keyd_identity **ret_ids,
                                size_t *ret_n);
int keyd_client_list_identities_cas(struct keyd_client *c, struct keyd_identity **ret_ids,
                                    size_t *ret_n, STACK_OF(X509) **ret_cas);

/*
 * The same from a cache when nothing may have changed: keyd walks every
 * token's objects for a listing (on SoftHSM, re-reading every object file),
 * and the front lists identities on every PROTECT and READ. The first call
 * starts a WATCH_TOKENS stream of the client's own (from keyd's start); a
 * cached answer is given only while that stream is open, no TOKEN_CHANGED or
 * READER_CHANGED event and no PFX import came since the listing, and the
 * listing is under 2 s old (what no event reports: objects another process
 * writes while keyd runs). Token removal is seen by keyd's poll (every
 * 500 ms), so a cached `present` may be late by that much: a key is only
 * used after keyd_client_wait_token, which asks the token itself.
 * *ret_cas is set only by a fresh listing (NULL from the cache: the CA
 * certificates were handed out when it was made).
 */
int keyd_client_list_identities_cached(struct keyd_client *c, struct keyd_identity **ret_ids,
                                       size_t *ret_n, STACK_OF(X509) **ret_cas);

/*
 * Imports a PKCS#12 file onto the token token_uri names (keyd asks for the
 * token's PIN). *ret_key_uri and *ret_cert_uri are new strings.
 */
int keyd_client_import_p12(struct keyd_client *c, const char *token_uri, const uint8_t *p12,
                           size_t p12_len, const struct cs_secret *password, const char *label,
                           char **ret_key_uri, char **ret_cert_uri);

/* What IMPORT_P12 reports (new strings; keyd_import_result_clear() frees them). */
struct keyd_import_result {
	char *key_uri, *cert_uri, *token_label, *subject;
	uint32_t chain;             /* CA certificates in the file */
	uint32_t chain_written;     /* of those, new on the token */
};

void keyd_import_result_clear(struct keyd_import_result *res);

/*
 * PFX_IMPORT's way: keyd asks for the file's password (the context's summary
 * names the file in the dialog) and the token's PIN. token_uri "" is the
 * only writable token. On failure *ret_message is keyd's explanation for the
 * user (a new string, or NULL), e.g. "wrong password" or "the token is full".
 */
int keyd_client_import_p12_ask(struct keyd_client *c, const char *token_uri, const uint8_t *p12,
                               size_t p12_len, const char *label,
                               struct keyd_import_result *res, char **ret_message);

/* The key backend for the provider, sending its operations to this keyd. */
void keyd_client_backend(struct keyd_client *c, struct cs_key_backend *ret_backend);

/* Sends a raw frame and waits for the reply (tests of keyd's frame handling). */
int keyd_client_raw(struct keyd_client *c, uint8_t type, const void *body, size_t len,
                    uint8_t *ret_type);

#endif
