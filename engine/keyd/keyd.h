/* cardseal-keyd internals shared by its files. */
#ifndef KEYD_H
#define KEYD_H

#include <pthread.h>
#include <stdint.h>

#include "cs_buf.h"
#include "tok.h"
#include "tok_watch.h"

struct keyd {
	int fd;                         /* the socketpair to the front */
	pthread_mutex_t write_lock;     /* one frame at a time on fd */
	struct tok_ctx *tokens;
	const char *pinentry;           /* program path */
	unsigned pin_timeout;           /* seconds a PIN dialog may stay open */
	int audit_fd;                   /* append-only audit log, or -1 */
	int confirm_signatures;         /* a confirmation dialog before every signature */
	struct tok_watch *watch;        /* the slot watcher */
	pthread_mutex_t requests_lock;
	struct keyd_active *active;     /* requests in progress, for CANCEL */
};

/* A request in progress; CANCEL sets its flag, long waits and dialogs watch it. */
struct keyd_active {
	uint32_t id;
	volatile int cancel;
	struct keyd_active *next;
};

/* Registers request id as active; returns its record (NULL if out of memory). */
struct keyd_active *keyd_request_begin(struct keyd *k, uint32_t id);

/* Forgets the record. */
void keyd_request_end(struct keyd *k, struct keyd_active *a);

/* Sets the cancel flag of request id; returns 0 or CS_ERR_NOT_FOUND. */
int keyd_request_cancel(struct keyd *k, uint32_t id);

/*
 * Cancels every request (open PIN dialogs close) and waits up to wait_ms for
 * them to end. Returns how many are still running (0 or 1: "some").
 */
int keyd_requests_cancel_all(struct keyd *k, unsigned wait_ms);

/* Handlers that live outside keyd_handlers.c. */
void keyd_handle_watch_tokens(struct keyd *k, uint32_t id, struct cs_reader *rd,
                              const volatile int *cancel);
void keyd_handle_wait_token(struct keyd *k, uint32_t id, struct cs_reader *rd,
                            const volatile int *cancel);

/* What the front says about the client an operation is for. */
struct keyd_context {
	uint32_t client_id;
	char *display, *wayland_display, *xauthority, *dbus_address, *term, *ttyname, *lc_ctype;
	char *summary;
};

void keyd_context_clear(struct keyd_context *c);

/* Reads a context block; errors are left in the reader. */
void keyd_read_context(struct cs_reader *r, struct keyd_context *c);

/*
 * Request parsers (keyd_parse.c). Each reads the whole body; on success the
 * request's pointers point into the reader's memory and *ret_key_uri (freed
 * by the caller, also on failure, as is ctx with keyd_context_clear).
 */
int keyd_parse_sign(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                    struct tok_sign_request *req);
int keyd_parse_decrypt(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                       struct tok_decrypt_request *req);
int keyd_parse_derive(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                      const uint8_t **ret_peer, size_t *ret_peer_len);

/* Sends one frame to the front (thread-safe). Returns 0 or CS_ERR_*. */
int keyd_send(struct keyd *k, uint8_t type, uint32_t id, const struct cs_buf *body);

/* Sends CS_KMSG_ERROR for request id. */
int keyd_send_error(struct keyd *k, uint32_t id, int err);

/* Sends CS_KMSG_EVENT for request id. */
int keyd_send_event(struct keyd *k, uint32_t id, int kind, const char *detail);

/*
 * Handles one request; replies exactly once. body is owned by the caller;
 * cancel is the request's flag (set by a CANCEL from the front).
 */
void keyd_dispatch(struct keyd *k, uint8_t type, uint32_t id, const uint8_t *body, size_t len,
                   const volatile int *cancel);

/* Appends one line to the audit log: who used which key for what. */
void keyd_audit(struct keyd *k, const struct keyd_context *c, const char *op, const char *key_uri,
                int result);

/* The PIN callback handed to tokens/: a pinentry dialog for this request. */
struct cs_pinentry_message;
struct keyd_pin_arg {
	struct keyd *keyd;
	uint32_t request_id;
	const struct keyd_context *context;
	const char *operation;
	const volatile int *cancel;
	struct cs_pinentry_message *keypad_message;   /* open while the reader's keypad is in use */
};
int keyd_pin_callback(void *arg, const struct tok_pin_prompt *prompt, struct cs_secret **ret_pin);

/* The confirmation dialog before a signature: 0 when the user agrees, else CS_ERR_*. */
int keyd_confirm_signature(struct keyd_pin_arg *arg);

/* Closes what the callback left open (the keypad message) once the operation ended. */
void keyd_pin_done(struct keyd_pin_arg *arg);

#endif
