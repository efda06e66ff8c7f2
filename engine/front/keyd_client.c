#include "keyd_client.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "cs_frame.h"
#include "cs_keyd_msg.h"

/* A request waiting for its reply. */
struct pending {
	uint32_t id;
	const struct keyd_op_context *ctx;
	int done;
	int result;                 /* 0 for CS_KMSG_OK, else the error */
	uint8_t type;
	struct cs_buf body;         /* the OK reply's body (wiped on clear: it may hold a key) */
	struct pending *next;
};

struct keyd_client {
	int fd;
	pid_t pid;
	pthread_mutex_t write_lock;     /* one frame at a time on fd */
	pthread_mutex_t lock;           /* protects what follows */
	pthread_cond_t replied;
	uint32_t next_id;
	struct pending *pending;
	int dead;                       /* keyd closed the socket or sent garbage */
	pthread_t reader;
	int reader_started;
	/*
	 * The identity cache (see keyd_client_list_identities_cached): keyd's
	 * last LIST_IDENTITIES reply and the token generation it was asked at.
	 * token_gen counts what may change the answer: TOKEN_CHANGED and
	 * READER_CHANGED events (on any request's stream, counted by the reader
	 * thread before anyone else hears of them), PFX imports, keyd's death.
	 * Under lock.
	 */
	unsigned long token_gen;
	struct cs_buf listing;
	int listing_valid;
	unsigned long listing_gen;
	struct timespec listing_time;   /* CLOCK_MONOTONIC */
	pthread_t watcher;              /* the cache's own WATCH_TOKENS stream */
	int watcher_started;
	int watching;                   /* its request is in flight: events reach us */
	volatile int watcher_stop;
};

/*
 * How long a cached identity listing may answer at most. Token events and
 * imports end it at once; this bounds what no event reports: objects another
 * process writes onto a token while keyd has it open (PKCS#11 says nothing).
 */
#define KEYD_LISTING_TTL_MS 2000

static _Thread_local const struct keyd_op_context *thread_ctx;
static _Thread_local int thread_error;       /* keyd's answer to the last failed request */

/* Variables a PKCS#11 module may need; nothing else of ours reaches keyd. */
static const char *const passed_env_prefixes[] = {
	"SOFTHSM2_CONF=", "P11_KIT_", "OPENSC_CONF=", "PCSCLITE_", "FAULTP11_", "HOME=", "LANG=",
	"TMPDIR=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
};

static void *reader_main(void *arg);

static char **
clean_environment(void)
{
	extern char **environ;
	size_t n = 0, i, j;
	char **env;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		return NULL;
	n = 0;
	env[n++] = "PATH=/usr/bin:/bin";
	for (i = 0; environ[i] != NULL; i++) {
		for (j = 0; j < sizeof(passed_env_prefixes) / sizeof(passed_env_prefixes[0]); j++) {
			if (strncmp(environ[i], passed_env_prefixes[j],
			            strlen(passed_env_prefixes[j])) == 0) {
				env[n++] = environ[i];
				break;
			}
		}
	}
	return env;
}

int
keyd_client_start(const struct keyd_client_options *o, struct keyd_client **ret_client)
{
	struct keyd_client *c;
	char fd_arg[16], ttl[16], timeout[16];
	char *argv[16];
	char **env = NULL;
	int sv[2] = { -1, -1 }, argc = 0, r = CS_ERR_IO;

	*ret_client = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CS_ERR_NOMEM;
	c->fd = -1;
	cs_buf_init(&c->listing, CS_KEYD_MAX_FRAME * 16);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->write_lock, NULL);
	pthread_cond_init(&c->replied, NULL);
	if ((env = clean_environment()) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		goto out;
	snprintf(fd_arg, sizeof(fd_arg), "%d", 3);
	snprintf(ttl, sizeof(ttl), "%u", o->cache_ttl);
	snprintf(timeout, sizeof(timeout), "%u", o->pin_timeout);
	argv[argc++] = (char *)o->keyd_path;
	argv[argc++] = "--fd";
	argv[argc++] = fd_arg;
	argv[argc++] = "--modules";
	argv[argc++] = (char *)(o->modules != NULL ? o->modules : "p11-kit");
	argv[argc++] = "--pinentry";
	argv[argc++] = (char *)(o->pinentry != NULL ? o->pinentry : "/usr/bin/pinentry");
	argv[argc++] = "--cache-ttl";
	argv[argc++] = ttl;
	argv[argc++] = "--pin-timeout";
	argv[argc++] = timeout;
	if (o->data_dir != NULL) {
		argv[argc++] = "--data-dir";
		argv[argc++] = (char *)o->data_dir;
	}
	if (o->confirm_signatures)
		argv[argc++] = "--confirm-signatures";
	argv[argc] = NULL;
	c->pid = fork();
	if (c->pid < 0)
		goto out;
	if (c->pid == 0) {
		/* Child: keyd's end on fd 3, stdin from /dev/null, stderr kept for its log. */
		int null = open("/dev/null", O_RDONLY);

		if (dup2(sv[1], 3) < 0 || (null >= 0 && dup2(null, 0) < 0))
			_exit(127);
		/* Nothing else of ours reaches keyd: not client sockets, not files. */
		close_range(4, ~0U, 0);
		execve(o->keyd_path, argv, env);
		_exit(127);
	}
	close(sv[1]);
	sv[1] = -1;
	c->fd = sv[0];
	sv[0] = -1;
	if (pthread_create(&c->reader, NULL, reader_main, c) != 0) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	c->reader_started = 1;
	*ret_client = c;
	c = NULL;
	r = 0;
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	free(env);
	keyd_client_free(c);
	return r;
}

/* Waits for keyd to exit; stops a stuck one. */
static void
reap_keyd(struct keyd_client *c)
{
	int status, i;

	if (c->pid <= 0)
		return;
	/* keyd closes its open dialogs first; that takes well under a second. */
	for (i = 0; i < 250 && waitpid(c->pid, &status, WNOHANG) == 0; i++)
		usleep(20000);
	if (i == 250) {
		/* A stuck keyd is stopped (it cancels its work on SIGTERM too). */
		kill(c->pid, SIGTERM);
		(void)waitpid(c->pid, &status, 0);
	}
	c->pid = 0;
}

void
keyd_client_stop(struct keyd_client *c)
{
	/* Closing our end makes keyd exit, which ends the reader with EOF. */
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	reap_keyd(c);
}

void
keyd_client_free(struct keyd_client *c)
{
	if (c == NULL)
		return;
	c->watcher_stop = 1;
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->reader_started)
		pthread_join(c->reader, NULL);
	/* The reader is gone, so the watcher's request has failed or ends within 100 ms. */
	if (c->watcher_started)
		pthread_join(c->watcher, NULL);
	cs_buf_clear(&c->listing);
	if (c->fd >= 0)
		close(c->fd);
	reap_keyd(c);
	pthread_cond_destroy(&c->replied);
	pthread_mutex_destroy(&c->write_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

pid_t
keyd_client_pid(const struct keyd_client *c)
{
	return c->pid;
}

void
keyd_client_set_thread_context(const struct keyd_op_context *ctx)
{
	thread_ctx = ctx;
	thread_error = 0;
}

static struct pending *
find_pending(struct keyd_client *c, uint32_t id)
{
	struct pending *p;

	for (p = c->pending; p != NULL; p = p->next) {
		if (p->id == id)
			return p;
	}
	return NULL;
}

/* An event for a pending request: to its context's callback, outside the lock. */
static void
deliver_event(struct keyd_client *c, const struct cs_frame_view *f)
{
	const struct keyd_op_context *ctx = NULL;
	struct cs_reader rd;
	struct pending *p;
	char *detail = NULL;
	uint8_t kind;

	cs_reader_init(&rd, f->body, f->body_len);
	kind = cs_read_u8(&rd);
	pthread_mutex_lock(&c->lock);
	if ((p = find_pending(c, f->id)) != NULL)
		ctx = p->ctx;
	/* Counted before the event is handed on: whoever hears of it finds the cache stale. */
	if (kind == CS_KEVENT_TOKEN_CHANGED || kind == CS_KEVENT_READER_CHANGED)
		c->token_gen++;
	pthread_mutex_unlock(&c->lock);
	cs_read_str(&rd, CS_KEYD_MAX_STR, &detail);
	/* The waiting thread keeps its context alive until its reply arrives. */
	if (cs_reader_finish(&rd) == 0 && ctx != NULL && ctx->on_event != NULL)
		ctx->on_event(ctx->event_arg, kind, detail);
	free(detail);
}

static void
deliver_reply(struct keyd_client *c, const struct cs_frame_view *f)
{
	struct cs_reader rd;
	struct pending *p;
	uint32_t code;

	pthread_mutex_lock(&c->lock);
	if ((p = find_pending(c, f->id)) != NULL && !p->done) {
		p->type = f->type;
		if (f->type == CS_KMSG_OK) {
			p->result = cs_buf_put(&p->body, f->body, f->body_len);
		} else if (f->type == CS_KMSG_ERROR) {
			/* Kept for callers that show keyd's message (transact_msg). */
			(void)cs_buf_put(&p->body, f->body, f->body_len);
			cs_reader_init(&rd, f->body, f->body_len);
			code = cs_read_u32(&rd);
			p->result = code > 0 && code < 1000 ? -(int)code : CS_ERR_PROTOCOL;
		} else {
			p->result = CS_ERR_PROTOCOL;
		}
		p->done = 1;
		pthread_cond_broadcast(&c->replied);
	}
	pthread_mutex_unlock(&c->lock);
}

/* Reads keyd's frames and hands them to the waiting threads until keyd goes away. */
static void *
reader_main(void *arg)
{
	struct keyd_client *c = arg;
	struct cs_frame_view f;
	struct cs_buf in;
	int r;

	cs_buf_init(&in, CS_KEYD_MAX_FRAME * 16 + CS_FRAME_LEN_SIZE);
	while ((r = cs_frame_read(c->fd, CS_KEYD_MAX_FRAME * 16, &in, &f)) == 0) {
		if (f.type == CS_KMSG_EVENT)
			deliver_event(c, &f);
		else
			deliver_reply(c, &f);
	}
	cs_buf_clear(&in);
	pthread_mutex_lock(&c->lock);
	c->dead = 1;
	c->token_gen++;
	pthread_cond_broadcast(&c->replied);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static int
put_context(struct cs_buf *b, const struct keyd_op_context *x)
{
	int r;

	if ((r = cs_buf_put_u32(b, x->client_id)) != 0 || (r = cs_buf_put_str(b, x->display)) != 0 ||
	    (r = cs_buf_put_str(b, x->wayland_display)) != 0 ||
	    (r = cs_buf_put_str(b, x->xauthority)) != 0 ||
	    (r = cs_buf_put_str(b, x->dbus_address)) != 0 || (r = cs_buf_put_str(b, x->term)) != 0 ||
	    (r = cs_buf_put_str(b, x->ttyname)) != 0 || (r = cs_buf_put_str(b, x->lc_ctype)) != 0 ||
	    (r = cs_buf_put_str(b, x->summary)) != 0)
		return r;
	return 0;
}

static int
send_frame(struct keyd_client *c, uint8_t type, uint32_t id, const void *body, size_t len)
{
	int r;

	pthread_mutex_lock(&c->write_lock);
	r = cs_frame_write(c->fd, type, id, body, len);
	pthread_mutex_unlock(&c->write_lock);
	return r;
}

/* The message of an ERROR body (u32 code, str message) as a new string, or NULL. */
static void
read_error_message(const struct cs_buf *body, char **ret_message)
{
	struct cs_reader rd;

	*ret_message = NULL;
	cs_reader_init(&rd, body->data, body->len);
	(void)cs_read_u32(&rd);
	cs_read_str(&rd, CS_KEYD_MAX_STR, ret_message);
	if (cs_reader_finish(&rd) != 0) {
		free(*ret_message);
		*ret_message = NULL;
	}
}

/*
 * Sends a request and waits for its reply. On CS_KMSG_OK the reply's body
 * is left in *reply (the caller clears it, which wipes it). Events for the
 * request go to this thread's context. When the context's cancel flag is
 * set, CANCEL is sent once and the wait goes on for keyd's final answer.
 */
static int
transact_msg(struct keyd_client *c, uint8_t type, const struct cs_buf *body, struct cs_buf *reply,
             uint8_t *ret_type, char **ret_message)
{
	struct pending p;
	struct pending **link;
	struct timespec slice;
	uint8_t cancel_body[4];
	uint32_t cancel_id;
	int r, cancel_sent = 0;

	memset(&p, 0, sizeof(p));
	p.ctx = thread_ctx;
	/* Cancelled before it started: keyd never hears of it. */
	if (p.ctx != NULL && p.ctx->cancel != NULL && *p.ctx->cancel) {
		thread_error = CS_ERR_CANCELLED;
		return CS_ERR_CANCELLED;
	}
	cs_buf_init(&p.body, CS_KEYD_MAX_FRAME * 16);
	pthread_mutex_lock(&c->lock);
	if (c->dead) {
		pthread_mutex_unlock(&c->lock);
		cs_buf_clear(&p.body);
		return CS_ERR_INTERNAL;
	}
	p.id = ++c->next_id;
	p.next = c->pending;
	c->pending = &p;
	pthread_mutex_unlock(&c->lock);

	r = send_frame(c, type, p.id, body->data, body->len);
	pthread_mutex_lock(&c->lock);
	while (r == 0 && !p.done && !c->dead) {
		if (!cancel_sent && p.ctx != NULL && p.ctx->cancel != NULL && *p.ctx->cancel) {
			cancel_sent = 1;
			cancel_body[0] = (uint8_t)(p.id >> 24);
			cancel_body[1] = (uint8_t)(p.id >> 16);
			cancel_body[2] = (uint8_t)(p.id >> 8);
			cancel_body[3] = (uint8_t)p.id;
			cancel_id = ++c->next_id;
			pthread_mutex_unlock(&c->lock);
			/* CANCEL has an id of its own; its reply finds no waiter and is dropped. */
			(void)send_frame(c, CS_KMSG_CANCEL, cancel_id, cancel_body, 4);
			pthread_mutex_lock(&c->lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &slice);
		slice.tv_nsec += 100 * 1000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&c->replied, &c->lock, &slice);
	}
	if (r == 0)
		r = p.done ? p.result : CS_ERR_INTERNAL;   /* keyd died */
	for (link = &c->pending; *link != NULL; link = &(*link)->next) {
		if (*link == &p) {
			*link = p.next;
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (ret_type != NULL)
		*ret_type = p.type;
	if (r == 0 && reply != NULL)
		r = cs_buf_put(reply, p.body.data, p.body.len);
	if (r != 0 && ret_message != NULL && p.type == CS_KMSG_ERROR)
		read_error_message(&p.body, ret_message);
	cs_buf_clear(&p.body);
	if (r < 0)
		thread_error = r;
	return r;
}

static int
transact(struct keyd_client *c, uint8_t type, const struct cs_buf *body, struct cs_buf *reply,
         uint8_t *ret_type)
{
	return transact_msg(c, type, body, reply, ret_type, NULL);
}

int
keyd_client_thread_error(void)
{
	return thread_error;
}

int
keyd_client_raw(struct keyd_client *c, uint8_t type, const void *body, size_t len,
                uint8_t *ret_type)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put(&b, body, len)) == 0)
		r = transact(c, type, &b, NULL, ret_type);
	cs_buf_clear(&b);
	return r;
}

void
keyd_identities_free(struct keyd_identity *ids, size_t n)
{
	size_t i;

	for (i = 0; ids != NULL && i < n; i++) {
		free(ids[i].key_uri);
		free(ids[i].cert_uri);
		free(ids[i].label);
		free(ids[i].token_label);
		free(ids[i].token_serial);
		free(ids[i].cert_der);
		free(ids[i].module);
	}
	free(ids);
}

static int
read_identity(struct cs_reader *rd, struct keyd_identity *id)
{
	const uint8_t *der;
	size_t der_len;

	cs_read_str(rd, CS_KEYD_MAX_STR, &id->key_uri);
	cs_read_str(rd, CS_KEYD_MAX_STR, &id->cert_uri);
	cs_read_bytes(rd, 64 * 1024, &der, &der_len);
	cs_read_str(rd, CS_KEYD_MAX_STR, &id->label);
	cs_read_str(rd, CS_KEYD_MAX_STR, &id->token_label);
	cs_read_str(rd, CS_KEYD_MAX_STR, &id->token_serial);
	id->key_type = cs_read_u8(rd);
	id->flags = cs_read_u8(rd);
	cs_read_str(rd, CS_KEYD_MAX_STR, &id->module);
	if (rd->failed != 0)
		return rd->failed;
	if ((id->cert_der = malloc(der_len + 1)) == NULL)
		return CS_ERR_NOMEM;
	memcpy(id->cert_der, der, der_len);
	id->cert_len = der_len;
	return 0;
}

int
keyd_client_list_identities(struct keyd_client *c, struct keyd_identity **ret_ids, size_t *ret_n)
{
	return keyd_client_list_identities_cas(c, ret_ids, ret_n, NULL);
}

/* Reads a LIST_IDENTITIES reply; ret_cas as for keyd_client_list_identities_cas. */
static int
parse_identities(const struct cs_buf *reply, struct keyd_identity **ret_ids, size_t *ret_n,
                 STACK_OF(X509) **ret_cas, uint32_t *ret_flags)
{
	struct keyd_identity *ids = NULL;
	struct cs_reader rd;
	size_t n = 0;
	uint32_t count, flags = 0;
	int r;

	*ret_ids = NULL;
	*ret_n = 0;
	if (ret_cas != NULL)
		*ret_cas = NULL;
	cs_reader_init(&rd, reply->data, reply->len);
	count = cs_read_u32(&rd);
	if (count > 4096) {
		r = CS_ERR_TOO_LARGE;
		goto out;
	}
	if ((ids = calloc(count + 1, sizeof(*ids))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	for (r = 0; n < count && r == 0; n++)
		r = read_identity(&rd, &ids[n]);
	if (r == 0) {
		uint32_t m = cs_read_u32(&rd), i;

		if (ret_cas != NULL && (*ret_cas = sk_X509_new_null()) == NULL)
			r = CS_ERR_NOMEM;
		for (i = 0; i < m && rd.failed == 0 && r == 0; i++) {
			const uint8_t *der;
			size_t der_len;
			X509 *x;

			cs_read_bytes(&rd, 64 * 1024, &der, &der_len);
			if (rd.failed != 0 || ret_cas == NULL)
				continue;
			if ((x = d2i_X509(NULL, &der, (long)der_len)) != NULL && !sk_X509_push(*ret_cas, x))
				X509_free(x);
		}
	}
	if (r == 0) {
		flags = cs_read_u32(&rd);
		r = cs_reader_finish(&rd);
	}
	if (r == 0 && ret_flags != NULL)
		*ret_flags = flags;
	if (r != 0 && ret_cas != NULL) {
		sk_X509_pop_free(*ret_cas, X509_free);
		*ret_cas = NULL;
	}
out:
	if (r != 0) {
		keyd_identities_free(ids, n);
		return r;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

/* LIST_IDENTITIES now; *ret_gen is the token generation from before the question. */
static int
list_now(struct keyd_client *c, struct cs_buf *reply, unsigned long *ret_gen)
{
	struct cs_buf b;
	int r;

	pthread_mutex_lock(&c->lock);
	*ret_gen = c->token_gen;
	pthread_mutex_unlock(&c->lock);
	cs_buf_init(&b, 0);
	r = transact(c, CS_KMSG_LIST_IDENTITIES, &b, reply, NULL);
	cs_buf_clear(&b);
	return r;
}

int
keyd_client_list_identities_cas(struct keyd_client *c, struct keyd_identity **ret_ids,
                                size_t *ret_n, STACK_OF(X509) **ret_cas)
{
	struct cs_buf reply;
	unsigned long gen;
	int r;

	*ret_ids = NULL;
	*ret_n = 0;
	if (ret_cas != NULL)
		*ret_cas = NULL;
	cs_buf_init(&reply, CS_KEYD_MAX_FRAME * 16);
	if ((r = list_now(c, &reply, &gen)) == 0)
		r = parse_identities(&reply, ret_ids, ret_n, ret_cas, NULL);
	cs_buf_clear(&reply);
	return r;
}

/* The cache's watch: keyd's token and reader events, from keyd's start, until stopped. */
static void *
watcher_main(void *arg)
{
	struct keyd_client *c = arg;
	struct keyd_op_context ctx;
	struct cs_buf b;

	memset(&ctx, 0, sizeof(ctx));
	ctx.cancel = &c->watcher_stop;
	keyd_client_set_thread_context(&ctx);
	cs_buf_init(&b, 0);
	/* from_start: the events keyd saw before this request arrived count too. */
	if (cs_buf_put_u8(&b, 1) == 0)
		(void)transact(c, CS_KMSG_WATCH_TOKENS, &b, NULL, NULL);
	cs_buf_clear(&b);
	/* Ended (keyd gone, or stopping): without a watch nothing is served from the cache. */
	pthread_mutex_lock(&c->lock);
	c->watching = 0;
	c->token_gen++;
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Whether the cached listing may answer now (caller holds c->lock). */
static int
listing_fresh(const struct keyd_client *c)
{
	struct timespec now;
	long ms;

	if (!c->listing_valid || !c->watching || c->dead || c->listing_gen != c->token_gen)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - c->listing_time.tv_sec) * 1000 +
	     (now.tv_nsec - c->listing_time.tv_nsec) / 1000000;
	return ms >= 0 && ms < KEYD_LISTING_TTL_MS;
}

int
keyd_client_list_identities_cached(struct keyd_client *c, struct keyd_identity **ret_ids,
                                   size_t *ret_n, STACK_OF(X509) **ret_cas)
{
	struct cs_buf reply;
	unsigned long gen;
	uint32_t flags = 0;
	int r, cached = 0;

	*ret_ids = NULL;
	*ret_n = 0;
	*ret_cas = NULL;
	cs_buf_init(&reply, CS_KEYD_MAX_FRAME * 16);
	pthread_mutex_lock(&c->lock);
	/* The watch starts with the first listing; it is what makes a cached answer safe. */
	if (!c->watcher_started && !c->dead) {
		c->watching = 1;
		if (pthread_create(&c->watcher, NULL, watcher_main, c) == 0)
			c->watcher_started = 1;
		else
			c->watching = 0;
	}
	if (listing_fresh(c)) {
		r = cs_buf_put(&reply, c->listing.data, c->listing.len);
		cached = r == 0;
	}
	pthread_mutex_unlock(&c->lock);
	if (cached)
		r = parse_identities(&reply, ret_ids, ret_n, NULL, NULL);
	else if ((r = list_now(c, &reply, &gen)) == 0 &&
	         (r = parse_identities(&reply, ret_ids, ret_n, ret_cas, &flags)) == 0 &&
	         !(flags & CS_KLIST_PARTIAL)) {
		/*
		 * Only a complete answer is kept: a partial one (a busy token keyd had
		 * never listed) lacks that token's identities and CA certificates, and
		 * serving it for the TTL made the user's own certificates vanish or
		 * stop chaining. A partial answer is returned as it is, and the next
		 * question asks keyd again.
		 */
		pthread_mutex_lock(&c->lock);
		cs_buf_reset(&c->listing);
		c->listing_valid = cs_buf_put(&c->listing, reply.data, reply.len) == 0;
		c->listing_gen = gen;
		clock_gettime(CLOCK_MONOTONIC, &c->listing_time);
		pthread_mutex_unlock(&c->lock);
	}
	cs_buf_clear(&reply);
	return r;
}

/* The context block of this thread's requests (an empty one when none is set). */
static int
put_thread_context(struct cs_buf *b)
{
	static const struct keyd_op_context empty;
	const struct keyd_op_context *x = thread_ctx != NULL ? thread_ctx : &empty;

	return put_context(b, x);
}

static int
backend_sign(void *arg, const char *key_uri, const struct cs_sign_params *p, const uint8_t *digest,
             size_t digest_len, uint8_t *sig, size_t *sig_len)
{
	struct keyd_client *c = arg;
	struct cs_buf b, reply;
	struct cs_reader rd;
	const uint8_t *s;
	size_t s_len;
	int r;

	cs_buf_init(&b, 0);
	cs_buf_init(&reply, 0);
	if ((r = put_thread_context(&b)) != 0 || (r = cs_buf_put_str(&b, key_uri)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)p->scheme)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->md_nid))) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->mgf1_nid))) != 0 ||
	    (r = cs_buf_put_u32(&b, (uint32_t)p->salt_len)) != 0 ||
	    (r = cs_buf_put_bytes(&b, digest, digest_len)) != 0)
		goto out;
	if ((r = transact(c, CS_KMSG_SIGN, &b, &reply, NULL)) != 0)
		goto out;
	cs_reader_init(&rd, reply.data, reply.len);
	cs_read_bytes(&rd, *sig_len, &s, &s_len);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	memcpy(sig, s, s_len);
	*sig_len = s_len;
out:
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

/* Sends a request whose reply is one secret byte string; *ret_secret is new. */
static int
secret_request(struct keyd_client *c, uint8_t type, const struct cs_buf *b,
               struct cs_secret **ret_secret)
{
	struct cs_buf reply;
	struct cs_reader rd;
	const uint8_t *s;
	size_t s_len;
	int r;

	cs_buf_init(&reply, 0);
	if ((r = transact(c, type, b, &reply, NULL)) != 0)
		goto out;
	cs_reader_init(&rd, reply.data, reply.len);
	cs_read_bytes(&rd, CS_SECRET_MAX, &s, &s_len);
	if ((r = cs_reader_finish(&rd)) == 0 && (*ret_secret = cs_secret_from(s, s_len)) == NULL)
		r = CS_ERR_NOMEM;
out:
	cs_buf_clear(&reply);       /* wipes the copy of the secret */
	return r;
}

static int
backend_decrypt(void *arg, const char *key_uri, const struct cs_decrypt_params *p,
                const uint8_t *in, size_t in_len, struct cs_secret **ret_key)
{
	struct keyd_client *c = arg;
	struct cs_buf b;
	int r;

	*ret_key = NULL;
	cs_buf_init(&b, 0);
	if ((r = put_thread_context(&b)) == 0 && (r = cs_buf_put_str(&b, key_uri)) == 0 &&
	    (r = cs_buf_put_u8(&b, (uint8_t)p->padding)) == 0 &&
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->md_nid))) == 0 &&
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->mgf1_nid))) == 0 &&
	    (r = cs_buf_put_bytes(&b, p->label, p->label_len)) == 0 &&
	    (r = cs_buf_put_bytes(&b, in, in_len)) == 0)
		r = secret_request(c, CS_KMSG_DECRYPT, &b, ret_key);
	cs_buf_clear(&b);
	return r;
}

static int
backend_derive(void *arg, const char *key_uri, const uint8_t *peer, size_t peer_len,
               struct cs_secret **ret_secret)
{
	struct keyd_client *c = arg;
	struct cs_buf b;
	int r;

	*ret_secret = NULL;
	cs_buf_init(&b, 0);
	if ((r = put_thread_context(&b)) == 0 && (r = cs_buf_put_str(&b, key_uri)) == 0 &&
	    (r = cs_buf_put_bytes(&b, peer, peer_len)) == 0)
		r = secret_request(c, CS_KMSG_DERIVE, &b, ret_secret);
	cs_buf_clear(&b);
	return r;
}

void
keyd_client_backend(struct keyd_client *c, struct cs_key_backend *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->arg = c;
	ret->sign = backend_sign;
	ret->decrypt = backend_decrypt;
	ret->derive = backend_derive;
}

int
keyd_client_wait_token(struct keyd_client *c, const char *key_uri, unsigned timeout_seconds)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_str(&b, key_uri)) == 0 && (r = cs_buf_put_u32(&b, timeout_seconds)) == 0)
		r = transact(c, CS_KMSG_WAIT_TOKEN, &b, NULL, NULL);
	cs_buf_clear(&b);
	return r;
}

int
keyd_client_watch_tokens(struct keyd_client *c)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	r = transact(c, CS_KMSG_WATCH_TOKENS, &b, NULL, NULL);
	cs_buf_clear(&b);
	return r;
}

void
keyd_import_result_clear(struct keyd_import_result *res)
{
	free(res->key_uri);
	free(res->cert_uri);
	free(res->token_label);
	free(res->subject);
	memset(res, 0, sizeof(*res));
}

/* IMPORT_P12 with or without a password (NULL: keyd asks for it). */
static int
import_request(struct keyd_client *c, const char *token_uri, const uint8_t *p12, size_t p12_len,
               const struct cs_secret *password, const char *label,
               struct keyd_import_result *res, char **ret_message)
{
	struct cs_buf b, reply;
	struct cs_reader rd;
	int r;

	memset(res, 0, sizeof(*res));
	cs_buf_init(&b, CS_KEYD_MAX_FRAME);
	cs_buf_init(&reply, 0);
	if ((r = put_thread_context(&b)) != 0 || (r = cs_buf_put_str(&b, token_uri)) != 0 ||
	    (r = cs_buf_put_bytes(&b, p12, p12_len)) != 0 ||
	    (r = cs_buf_put_bytes(&b, password != NULL ? cs_secret_data(password)
	                                               : (const void *)"",
	                          password != NULL ? cs_secret_len(password) : 0)) != 0 ||
	    (r = cs_buf_put_str(&b, label)) != 0)
		goto out;
	/* keyd drops a connection that sends a frame over its limit: refuse it here. */
	if (b.len + 5 > CS_KEYD_MAX_FRAME) {
		r = CS_ERR_TOO_LARGE;
		goto out;
	}
	r = transact_msg(c, CS_KMSG_IMPORT_P12, &b, &reply, NULL, ret_message);
	/* The token may hold new objects now (even after a failure part-way): list afresh. */
	pthread_mutex_lock(&c->lock);
	c->token_gen++;
	pthread_mutex_unlock(&c->lock);
	if (r != 0)
		goto out;
	cs_reader_init(&rd, reply.data, reply.len);
	cs_read_str(&rd, CS_KEYD_MAX_STR, &res->key_uri);
	cs_read_str(&rd, CS_KEYD_MAX_STR, &res->cert_uri);
	cs_read_str(&rd, CS_KEYD_MAX_STR, &res->token_label);
	cs_read_str(&rd, CS_KEYD_MAX_STR, &res->subject);
	res->chain = cs_read_u32(&rd);
	res->chain_written = cs_read_u32(&rd);
	if ((r = cs_reader_finish(&rd)) != 0)
		keyd_import_result_clear(res);
out:
	cs_buf_clear(&b);       /* wipes the copy of the password */
	cs_buf_clear(&reply);
	return r;
}

int
keyd_client_import_p12(struct keyd_client *c, const char *token_uri, const uint8_t *p12,
                       size_t p12_len, const struct cs_secret *password, const char *label,
                       char **ret_key_uri, char **ret_cert_uri)
{
	struct keyd_import_result res;
	int r;

	*ret_key_uri = NULL;
	*ret_cert_uri = NULL;
	if ((r = import_request(c, token_uri, p12, p12_len, password, label, &res, NULL)) != 0)
		return r;
	*ret_key_uri = res.key_uri;
	*ret_cert_uri = res.cert_uri;
	res.key_uri = res.cert_uri = NULL;
	keyd_import_result_clear(&res);
	return 0;
}

int
keyd_client_import_p12_ask(struct keyd_client *c, const char *token_uri, const uint8_t *p12,
                           size_t p12_len, const char *label, struct keyd_import_result *res,
                           char **ret_message)
{
	*ret_message = NULL;
	return import_request(c, token_uri, p12, p12_len, NULL, label, res, ret_message);
}

void
keyd_tokens_free(struct keyd_token *t, size_t n)
{
	size_t i;

	for (i = 0; t != NULL && i < n; i++) {
		free(t[i].module);
		free(t[i].label);
		free(t[i].serial);
		free(t[i].manufacturer);
		free(t[i].model);
	}
	free(t);
}

int
keyd_client_list_tokens(struct keyd_client *c, struct keyd_token **ret_tokens, size_t *ret_n)
{
	struct keyd_token *t = NULL;
	struct cs_buf b, reply;
	struct cs_reader rd;
	uint32_t count, i;
	size_t n = 0;
	int r;

	*ret_tokens = NULL;
	*ret_n = 0;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, 0);
	if ((r = transact(c, CS_KMSG_LIST_TOKENS, &b, &reply, NULL)) != 0)
		goto out;
	cs_reader_init(&rd, reply.data, reply.len);
	count = cs_read_u32(&rd);
	if (count > 1024) {
		r = CS_ERR_TOO_LARGE;
		goto out;
	}
	if ((t = calloc(count + 1, sizeof(*t))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count && rd.failed == 0; i++, n++) {
		cs_read_str(&rd, CS_KEYD_MAX_STR, &t[i].module);
		t[i].slot = cs_read_u32(&rd);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &t[i].label);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &t[i].serial);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &t[i].manufacturer);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &t[i].model);
		t[i].flags = cs_read_u32(&rd);
	}
	r = cs_reader_finish(&rd);
out:
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	if (r != 0) {
		keyd_tokens_free(t, n);
		return r;
	}
	*ret_tokens = t;
	*ret_n = n;
	return 0;
}
