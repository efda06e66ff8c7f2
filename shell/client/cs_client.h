/*
 * The client library of the public protocol (docs/protocol.md), linked by
 * the cardseal CLI and cardseal-gtk. It finds the engine's socket, starts
 * the engine when none answers, says HELLO with the session's display
 * hints, and runs requests, streaming content from and to descriptors with
 * the protocol's flow control. Functions return 0 or a negative CS_ERR_*.
 */
#ifndef CS_CLIENT_H
#define CS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct cs_client;

/* Engine events during a request (CS_EVENT_* of cs_proto.h). */
typedef void (*cs_client_event_cb)(void *arg, int kind, uint64_t value, const char *detail);

/*
 * The socket: path if given, else $CARDSEAL_SOCKET, else
 * $XDG_RUNTIME_DIR/cardseal/socket. Writes it into out.
 */
void cs_client_socket_path(const char *path, char *out, size_t size);

/*
 * Connects and says HELLO. With autostart, an engine is started when none
 * answers (a clean environment, a lock against two clients starting two).
 */
int cs_client_connect(const char *socket_path, int autostart, struct cs_client **ret_client);
void cs_client_close(struct cs_client *c);

/* The last error's details from the engine (JSON, may be ""); valid until the next call. */
const char *cs_client_error_details(const struct cs_client *c);

void cs_client_set_event_cb(struct cs_client *c, cs_client_event_cb cb, void *arg);

/* STATUS: *ret_json is a new string. */
int cs_client_status(struct cs_client *c, char **ret_json);

/*
 * A one-frame request (type, a CS_MSG_*, with body as cs_proto.h lays it
 * out) whose reply is OK with a JSON string: *ret_json is a new string.
 * The small requests (CERTS_LIST, SETTINGS_GET, POLICY_GET ...) use it.
 */
struct cs_buf;
int cs_client_request_json(struct cs_client *c, uint8_t type, const struct cs_buf *body,
                           char **ret_json);

/* CERTS_IMPORT of a file's bytes: *ret_json is a new string. */
int cs_client_certs_import(struct cs_client *c, const uint8_t *data, size_t len, char **ret_json);

/*
 * Where output streams go: stream 0 is the message; PROTECT's Bcc copies are
 * streams 1, 2, ... open() is called the first time a stream has data and
 * returns a descriptor (the library never closes it) or a negative CS_ERR_*.
 */
struct cs_client_outputs {
	int (*open)(void *arg, uint32_t stream);
	void *arg;
};

/* PROTECT: the message from in_fd, the protected message(s) to outputs; *ret_json: the reply. */
int cs_client_protect(struct cs_client *c, uint32_t flags, const char *account, int in_fd,
                      const struct cs_client_outputs *outputs, char **ret_json);

/* READ: the message from in_fd, the innermost message to out_fd, *ret_json the report. */
int cs_client_read(struct cs_client *c, uint32_t flags, int in_fd, int out_fd, char **ret_json);

/*
 * SIGN_DATA, VERIFY_DATA, ENCRYPT_DATA or DECRYPT_DATA (type, a CS_MSG_*):
 * CMS DER for scripts, content from in_fd, the result to out_fd. account
 * and the recipients (NULL-terminated) matter to SIGN_DATA / ENCRYPT_DATA.
 */
int cs_client_data(struct cs_client *c, uint8_t type, uint32_t flags, const char *account,
                   const char *const *recipients, int in_fd, int out_fd, char **ret_json);

/*
 * CERTS_INSTALL: a signed message from in_fd (uploaded like READ; nothing
 * comes back but the reply); the engine installs the sender's encryption
 * certificate if a signature is valid. *ret_json: the reply.
 */
int cs_client_certs_install(struct cs_client *c, uint32_t flags, int in_fd, char **ret_json);

/* SUBSCRIBE: token events to the callback until *stop is set (checked every 200 ms). */
int cs_client_subscribe(struct cs_client *c, const volatile int *stop);

#endif
