/* cardseald internals shared by its files. */
#ifndef CS_DAEMON_H
#define CS_DAEMON_H

#include <pthread.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "config.h"
#include "cs_buf.h"
#include "keyd_client.h"
#include "store.h"

struct daemon {
	struct cs_config cfg;
	struct keyd_client *keyd;
	struct cs_key_backend backend;
	OSSL_LIB_CTX *provider;
	struct cs_store *store;
	X509_STORE *trust;              /* [trust] anchors and CRLs */
	int have_crls;
	int listen_fd;
	int foreground;
	pthread_mutex_t lock;           /* protects n_clients and next_client_id */
	pthread_cond_t idle;            /* signalled when a client leaves */
	unsigned n_clients;
	uint32_t next_client_id;
	volatile int stopping;
};

/* Display hints from the client's HELLO. */
struct hints {
	char *display, *wayland_display, *xauthority, *dbus_address, *term, *ttyname, *lc_ctype;
};

struct request;

struct client {
	struct daemon *d;
	int fd;
	uint32_t id;
	pthread_mutex_t write_lock;     /* one frame at a time */
	pthread_mutex_t lock;           /* the request list and streams */
	pthread_cond_t changed;         /* data, windows, cancels, request ends */
	struct request *requests;
	unsigned n_requests;
	int hello_done;
	int gone;                       /* the connection closed */
	struct hints hints;
};

struct request {
	struct client *cl;
	uint32_t id;
	uint8_t type;
	uint8_t *body;
	size_t body_len;
	volatile int cancel;
	/* upload (client -> engine), guarded by cl->lock */
	struct cs_buf in;               /* received, not yet consumed */
	size_t in_pos;
	int in_eof;
	uint64_t granted;               /* upload bytes the client may still send */
	uint64_t consumed_since_grant;
	/* download (engine -> client) */
	uint64_t out_window;
	struct request *next;
};

/* Logs once, where the daemon decides: stderr in the foreground, syslog otherwise. */
void cs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cs_log_init(int foreground);

/* Sends one frame to the client (thread-safe). */
int client_send(struct client *cl, uint8_t type, uint32_t id, const struct cs_buf *body);
int client_send_error(struct client *cl, uint32_t id, int err, const char *details_json);
int client_send_ok_json(struct client *cl, uint32_t id, const struct cs_buf *json);
int client_send_event(struct client *cl, uint32_t id, int kind, uint64_t value, const char *detail);

/* The client's connection thread (takes ownership of cl). */
void *client_main(void *arg);

/*
 * Streams of a request as OpenSSL BIOs: reading blocks until the client sent
 * more (granting it windows as data is consumed), writing sends DATA frames
 * within the client's window. Both fail once the request is cancelled.
 */
BIO *request_input_bio(struct request *rq);
BIO *request_output_bio(struct request *rq, uint32_t stream);
/* Ends an output stream (the empty DATA chunk). */
int request_end_stream(struct request *rq, uint32_t stream);

/* Handlers, each replying exactly once. */
void handle_status(struct request *rq);
void handle_certs_import(struct request *rq);
void handle_subscribe(struct request *rq);
void handle_protect(struct request *rq);
void handle_read(struct request *rq);
void handle_sign_data(struct request *rq);
void handle_verify_data(struct request *rq);
void handle_encrypt_data(struct request *rq);
void handle_decrypt_data(struct request *rq);
void handle_certs_list(struct request *rq);        /* certs_requests.c */
void handle_certs_export(struct request *rq);
void handle_certs_remove(struct request *rq);
void handle_certs_install(struct request *rq);
void handle_certs_choose(struct request *rq);
void handle_settings_get(struct request *rq);      /* settings_requests.c */
void handle_settings_set(struct request *rq);
void handle_policy_get(struct request *rq);
void handle_pfx_import(struct request *rq);        /* pfx_request.c */

/*
 * The READ machinery on an input BIO. READ_MAIL: a message. The data modes
 * take a bare CMS entity: no sender address to compare (an address mismatch
 * alone is no fault there), and DECRYPT_DATA reports every failure as the
 * same CS_ERR_DECRYPT.
 */
enum read_mode { READ_MAIL, READ_VERIFY_DATA, READ_DECRYPT_DATA };
void read_request_run(struct request *rq, BIO *in, enum read_mode mode);

/*
 * Makes ctx the keyd context of this thread: the client's display hints, the
 * summary, the request's cancel flag, and keyd's events forwarded to the
 * client as EVENT frames of this request. ctx must outlive the keyd calls.
 */
void request_set_keyd_context(struct request *rq, struct keyd_op_context *ctx, const char *summary);

#endif
