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

struct keyd_client {
	int fd;
	pid_t pid;
	pthread_mutex_t lock;       /* one request at a time */
	uint32_t next_id;
	struct keyd_op_context ctx;
	keyd_event_cb event_cb;
	void *event_arg;
	struct cs_buf in;
};

/* Variables a PKCS#11 module may need; nothing else of ours reaches keyd. */
static const char *const passed_env_prefixes[] = {
	"SOFTHSM2_CONF=", "P11_KIT_", "OPENSC_CONF=", "PCSCLITE_", "FAULTP11_", "HOME=", "LANG=",
	"TMPDIR=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
};

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
	pthread_mutex_init(&c->lock, NULL);
	cs_buf_init(&c->in, CS_KEYD_MAX_FRAME * 16 + CS_FRAME_LEN_SIZE);
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
	argv[argc] = NULL;
	c->pid = fork();
	if (c->pid < 0)
		goto out;
	if (c->pid == 0) {
		/* Child: keyd's end on fd 3, stdin from /dev/null, stderr kept for its log. */
		int null = open("/dev/null", O_RDONLY);

		if (dup2(sv[1], 3) < 0 || (null >= 0 && dup2(null, 0) < 0))
			_exit(127);
		execve(o->keyd_path, argv, env);
		_exit(127);
	}
	close(sv[1]);
	sv[1] = -1;
	c->fd = sv[0];
	sv[0] = -1;
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

void
keyd_client_free(struct keyd_client *c)
{
	int status;

	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	if (c->pid > 0) {
		/* keyd exits when its socket closes; a stuck one is stopped. */
		int i;

		for (i = 0; i < 50 && waitpid(c->pid, &status, WNOHANG) == 0; i++)
			usleep(20000);
		if (i == 50) {
			kill(c->pid, SIGTERM);
			(void)waitpid(c->pid, &status, 0);
		}
	}
	cs_buf_clear(&c->in);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

pid_t
keyd_client_pid(const struct keyd_client *c)
{
	return c->pid;
}

void
keyd_client_set_context(struct keyd_client *c, const struct keyd_op_context *ctx)
{
	c->ctx = *ctx;
}

void
keyd_client_set_event_cb(struct keyd_client *c, keyd_event_cb cb, void *arg)
{
	c->event_cb = cb;
	c->event_arg = arg;
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

/*
 * Sends a request and waits for its reply; events for it go to the callback.
 * On CS_KMSG_OK the reply body is left in c->in and ret_body, ret_len point
 * at it (valid until the next call). Caller holds c->lock.
 */
static int
transact(struct keyd_client *c, uint8_t type, const struct cs_buf *body, const uint8_t **ret_body,
         size_t *ret_len, uint8_t *ret_type)
{
	struct cs_frame_view f;
	struct cs_reader rd;
	uint32_t id = ++c->next_id;
	int r;

	if ((r = cs_frame_write(c->fd, type, id, body->data, body->len)) != 0)
		return r;
	for (;;) {
		if ((r = cs_frame_read(c->fd, CS_KEYD_MAX_FRAME * 16, &c->in, &f)) != 0)
			return r == CS_ERR_EOF ? CS_ERR_INTERNAL : r;   /* keyd died */
		if (f.id != id)
			return CS_ERR_PROTOCOL;
		if (ret_type != NULL)
			*ret_type = f.type;
		if (f.type == CS_KMSG_EVENT) {
			uint8_t kind;
			char *detail = NULL;

			cs_reader_init(&rd, f.body, f.body_len);
			kind = cs_read_u8(&rd);
			cs_read_str(&rd, CS_KEYD_MAX_STR, &detail);
			if (cs_reader_finish(&rd) == 0 && c->event_cb != NULL)
				c->event_cb(c->event_arg, kind, detail);
			free(detail);
			continue;
		}
		if (f.type == CS_KMSG_ERROR) {
			uint32_t code;

			cs_reader_init(&rd, f.body, f.body_len);
			code = cs_read_u32(&rd);
			return code > 0 && code < 1000 ? -(int)code : CS_ERR_PROTOCOL;
		}
		if (f.type != CS_KMSG_OK)
			return CS_ERR_PROTOCOL;
		*ret_body = f.body;
		*ret_len = f.body_len;
		return 0;
	}
}

int
keyd_client_raw(struct keyd_client *c, uint8_t type, const void *body, size_t len,
                uint8_t *ret_type)
{
	struct cs_buf b;
	const uint8_t *p;
	size_t n;
	int r;

	cs_buf_init(&b, 0);
	pthread_mutex_lock(&c->lock);
	if ((r = cs_buf_put(&b, body, len)) == 0)
		r = transact(c, type, &b, &p, &n, ret_type);
	pthread_mutex_unlock(&c->lock);
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
	}
	free(ids);
}

int
keyd_client_list_identities(struct keyd_client *c, struct keyd_identity **ret_ids, size_t *ret_n)
{
	struct keyd_identity *ids = NULL;
	struct cs_buf b;
	struct cs_reader rd;
	const uint8_t *p, *der;
	size_t len, n = 0, i, der_len;
	uint32_t count;
	int r;

	*ret_ids = NULL;
	*ret_n = 0;
	cs_buf_init(&b, 0);
	pthread_mutex_lock(&c->lock);
	if ((r = transact(c, CS_KMSG_LIST_IDENTITIES, &b, &p, &len, NULL)) != 0)
		goto out;
	cs_reader_init(&rd, p, len);
	count = cs_read_u32(&rd);
	if (count > 4096 || (ids = calloc(count + 1, sizeof(*ids))) == NULL) {
		r = count > 4096 ? CS_ERR_TOO_LARGE : CS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < count && rd.failed == 0; i++, n++) {
		struct keyd_identity *id = &ids[i];

		cs_read_str(&rd, CS_KEYD_MAX_STR, &id->key_uri);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &id->cert_uri);
		cs_read_bytes(&rd, 64 * 1024, &der, &der_len);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &id->label);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &id->token_label);
		cs_read_str(&rd, CS_KEYD_MAX_STR, &id->token_serial);
		id->key_type = cs_read_u8(&rd);
		id->flags = cs_read_u8(&rd);
		if (rd.failed == 0 && (id->cert_der = malloc(der_len + 1)) != NULL) {
			memcpy(id->cert_der, der, der_len);
			id->cert_len = der_len;
		}
	}
	r = cs_reader_finish(&rd);
out:
	pthread_mutex_unlock(&c->lock);
	cs_buf_clear(&b);
	if (r != 0) {
		keyd_identities_free(ids, n);
		return r;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

static int
backend_sign(void *arg, const char *key_uri, const struct cs_sign_params *p, const uint8_t *digest,
             size_t digest_len, uint8_t *sig, size_t *sig_len)
{
	struct keyd_client *c = arg;
	struct cs_buf b;
	struct cs_reader rd;
	const uint8_t *body, *s;
	size_t len, s_len;
	int r;

	cs_buf_init(&b, 0);
	pthread_mutex_lock(&c->lock);
	if ((r = put_context(&b, &c->ctx)) != 0 || (r = cs_buf_put_str(&b, key_uri)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)p->scheme)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->md_nid))) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->mgf1_nid))) != 0 ||
	    (r = cs_buf_put_u32(&b, (uint32_t)p->salt_len)) != 0 ||
	    (r = cs_buf_put_bytes(&b, digest, digest_len)) != 0)
		goto out;
	if ((r = transact(c, CS_KMSG_SIGN, &b, &body, &len, NULL)) != 0)
		goto out;
	cs_reader_init(&rd, body, len);
	cs_read_bytes(&rd, *sig_len, &s, &s_len);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	memcpy(sig, s, s_len);
	*sig_len = s_len;
out:
	pthread_mutex_unlock(&c->lock);
	cs_buf_clear(&b);
	return r;
}

/* Reads a reply holding one secret byte string into a new cs_secret, wiping the frame. */
static int
read_secret_reply(struct keyd_client *c, const uint8_t *body, size_t len,
                  struct cs_secret **ret_secret)
{
	struct cs_reader rd;
	const uint8_t *s;
	size_t s_len;
	int r;

	cs_reader_init(&rd, body, len);
	cs_read_bytes(&rd, CS_SECRET_MAX, &s, &s_len);
	if ((r = cs_reader_finish(&rd)) == 0 && (*ret_secret = cs_secret_from(s, s_len)) == NULL)
		r = CS_ERR_NOMEM;
	cs_buf_reset(&c->in);
	return r;
}

static int
backend_decrypt(void *arg, const char *key_uri, const struct cs_decrypt_params *p,
                const uint8_t *in, size_t in_len, struct cs_secret **ret_key)
{
	struct keyd_client *c = arg;
	struct cs_buf b;
	const uint8_t *body;
	size_t len;
	int r;

	*ret_key = NULL;
	cs_buf_init(&b, 0);
	pthread_mutex_lock(&c->lock);
	if ((r = put_context(&b, &c->ctx)) != 0 || (r = cs_buf_put_str(&b, key_uri)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)p->padding)) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->md_nid))) != 0 ||
	    (r = cs_buf_put_u8(&b, (uint8_t)cs_wire_md_from_nid(p->mgf1_nid))) != 0 ||
	    (r = cs_buf_put_bytes(&b, p->label, p->label_len)) != 0 ||
	    (r = cs_buf_put_bytes(&b, in, in_len)) != 0)
		goto out;
	if ((r = transact(c, CS_KMSG_DECRYPT, &b, &body, &len, NULL)) == 0)
		r = read_secret_reply(c, body, len, ret_key);
out:
	pthread_mutex_unlock(&c->lock);
	cs_buf_clear(&b);
	return r;
}

static int
backend_derive(void *arg, const char *key_uri, const uint8_t *peer, size_t peer_len,
               struct cs_secret **ret_secret)
{
	struct keyd_client *c = arg;
	struct cs_buf b;
	const uint8_t *body;
	size_t len;
	int r;

	*ret_secret = NULL;
	cs_buf_init(&b, 0);
	pthread_mutex_lock(&c->lock);
	if ((r = put_context(&b, &c->ctx)) != 0 || (r = cs_buf_put_str(&b, key_uri)) != 0 ||
	    (r = cs_buf_put_bytes(&b, peer, peer_len)) != 0)
		goto out;
	if ((r = transact(c, CS_KMSG_DERIVE, &b, &body, &len, NULL)) == 0)
		r = read_secret_reply(c, body, len, ret_secret);
out:
	pthread_mutex_unlock(&c->lock);
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
