#include "cs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "cs_frame.h"
#include "cs_proto.h"

struct cs_client {
	int fd;
	uint32_t next_id;
	struct cs_buf in;
	char *error_details;
	cs_client_event_cb event_cb;
	void *event_arg;
};

void
cs_client_socket_path(const char *path, char *out, size_t size)
{
	const char *env = getenv("CARDSEAL_SOCKET"), *runtime = getenv("XDG_RUNTIME_DIR");

	if (path != NULL && path[0] != '\0')
		snprintf(out, size, "%s", path);
	else if (env != NULL && env[0] != '\0')
		snprintf(out, size, "%s", env);
	else if (runtime != NULL && runtime[0] == '/')
		snprintf(out, size, "%s/cardseal/socket", runtime);
	else
		snprintf(out, size, "/tmp/cardseal-%u/socket", (unsigned)getuid());
}

static int
try_connect(const char *path, int *ret_fd)
{
	struct sockaddr_un sa;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return CS_ERR_TOO_LARGE;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return CS_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return errno == ENOENT || errno == ECONNREFUSED ? CS_ERR_NOT_FOUND : CS_ERR_IO;
	}
	*ret_fd = fd;
	return 0;
}

/* Variables the engine (and through it keyd and PKCS#11 modules) may need. */
static const char *const engine_env[] = {
	"HOME=", "USER=", "LANG=", "LC_ALL=", "XDG_RUNTIME_DIR=", "XDG_DATA_HOME=",
	"XDG_CONFIG_HOME=", "SOFTHSM2_CONF=", "P11_KIT_", "OPENSC_CONF=", "PCSCLITE_",
	"FAULTP11_", "TMPDIR=", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
};

/* The engine binary: $CARDSEALD, else the installed one, else the build tree's. */
static const char *
engine_path(void)
{
	const char *env = getenv("CARDSEALD");

	if (env != NULL && env[0] == '/')
		return env;
	return access(CS_ENGINE_INSTALLED, X_OK) == 0 ? CS_ENGINE_INSTALLED : CS_ENGINE_BUILD;
}

/* Starts cardseald detached, with a clean environment, serving path. */
static int
spawn_engine(const char *path)
{
	extern char **environ;
	const char *engine = engine_path();
	char *env[64], *argv[5];
	size_t n = 0, i, j;
	pid_t pid;
	int status;

	env[n++] = "PATH=/usr/bin:/bin";
	for (i = 0; environ[i] != NULL && n < 63; i++) {
		for (j = 0; j < sizeof(engine_env) / sizeof(engine_env[0]); j++) {
			if (strncmp(environ[i], engine_env[j], strlen(engine_env[j])) == 0) {
				env[n++] = environ[i];
				break;
			}
		}
	}
	env[n] = NULL;
	argv[0] = (char *)engine;
	argv[1] = "--socket";
	argv[2] = (char *)path;
	argv[3] = NULL;
	pid = fork();
	if (pid < 0)
		return CS_ERR_IO;
	if (pid == 0) {
		/* Double fork: the engine is nobody's child and outlives us. */
		int null = open("/dev/null", O_RDWR);

		setsid();
		if (fork() != 0)
			_exit(0);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			if (getenv("CARDSEAL_ENGINE_LOG") == NULL)
				dup2(null, 2);
		}
		close_range(3, ~0U, 0);
		execve(engine, argv, env);
		_exit(127);
	}
	(void)waitpid(pid, &status, 0);
	return 0;
}

/* Connects, starting the engine under a lock if none answers. */
static int
connect_or_start(const char *path, int autostart, int *ret_fd)
{
	char lock_path[4200], dir[4096], *slash;
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int r, lock_fd, i;

	r = try_connect(path, ret_fd);
	if (r != CS_ERR_NOT_FOUND || !autostart)
		return r;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir)
		*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return CS_ERR_IO;
	snprintf(lock_path, sizeof(lock_path), "%s.start-lock", path);
	if ((lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return CS_ERR_IO;
	/* One client starts the engine; the others wait here, then connect to it. */
	if (flock(lock_fd, LOCK_EX) != 0) {
		close(lock_fd);
		return CS_ERR_IO;
	}
	r = try_connect(path, ret_fd);
	if (r == CS_ERR_NOT_FOUND && (r = spawn_engine(path)) == 0) {
		r = CS_ERR_NOT_FOUND;
		for (i = 0; i < 300 && r == CS_ERR_NOT_FOUND; i++) {
			nanosleep(&pause, NULL);
			r = try_connect(path, ret_fd);
		}
		if (r == CS_ERR_NOT_FOUND)
			r = CS_ERR_TIMEOUT;
	}
	close(lock_fd);
	return r;
}

static void
set_details(struct cs_client *c, const char *text)
{
	free(c->error_details);
	c->error_details = strdup(text != NULL ? text : "");
}

const char *
cs_client_error_details(const struct cs_client *c)
{
	return c->error_details != NULL ? c->error_details : "";
}

void
cs_client_set_event_cb(struct cs_client *c, cs_client_event_cb cb, void *arg)
{
	c->event_cb = cb;
	c->event_arg = arg;
}

/* Reads an ERROR body into a CS_ERR_* and the details. */
static int
read_error(struct cs_client *c, const struct cs_frame_view *f)
{
	struct cs_reader rd;
	uint32_t code;
	char *message = NULL, *details = NULL;

	cs_reader_init(&rd, f->body, f->body_len);
	code = cs_read_u32(&rd);
	cs_read_str(&rd, CS_PROTO_MAX_FRAME, &message);
	cs_read_str(&rd, CS_PROTO_MAX_FRAME, &details);
	set_details(c, cs_reader_finish(&rd) == 0 ? details : "");
	free(message);
	free(details);
	return code > 0 && code < 1000 ? -(int)code : CS_ERR_PROTOCOL;
}

static void
deliver_event(struct cs_client *c, const struct cs_frame_view *f)
{
	struct cs_reader rd;
	uint8_t kind;
	uint64_t value;
	char *detail = NULL;

	cs_reader_init(&rd, f->body, f->body_len);
	kind = cs_read_u8(&rd);
	value = cs_read_u64(&rd);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &detail);
	if (cs_reader_finish(&rd) == 0 && c->event_cb != NULL)
		c->event_cb(c->event_arg, kind, value, detail);
	free(detail);
}

static int
send_window(struct cs_client *c, uint32_t id, uint64_t bytes)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u64(&b, bytes)) == 0)
		r = cs_frame_write(c->fd, CS_MSG_WINDOW, id, b.data, b.len);
	cs_buf_clear(&b);
	return r;
}

/* Sends a request and reads frames until its OK (body kept in *reply) or ERROR. */
static int
simple_request(struct cs_client *c, uint8_t type, const struct cs_buf *body, struct cs_buf *reply)
{
	struct cs_frame_view f;
	uint32_t id = ++c->next_id;
	int r;

	if ((r = cs_frame_write(c->fd, type, id, body->data, body->len)) != 0)
		return r;
	for (;;) {
		if ((r = cs_frame_read(c->fd, CS_PROTO_MAX_FRAME, &c->in, &f)) != 0)
			return r == CS_ERR_EOF ? CS_ERR_IO : r;
		if (f.id != id)
			continue;
		if (f.type == CS_MSG_EVENT) {
			deliver_event(c, &f);
			continue;
		}
		if (f.type == CS_MSG_ERROR)
			return read_error(c, &f);
		if (f.type != CS_MSG_OK)
			return CS_ERR_PROTOCOL;
		return reply != NULL ? cs_buf_put(reply, f.body, f.body_len) : 0;
	}
}

static int
hello(struct cs_client *c)
{
	static const char *const vars[] = { "DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY",
		                            "DBUS_SESSION_BUS_ADDRESS", "TERM" };
	struct cs_buf b;
	const char *tty = ttyname(0);
	const char *lc = getenv("LC_ALL") != NULL ? getenv("LC_ALL") : getenv("LC_CTYPE");
	size_t i;
	int r;

	if (lc == NULL)
		lc = getenv("LANG");
	cs_buf_init(&b, 0);
	r = cs_buf_put_u32(&b, CS_PROTO_VERSION);
	for (i = 0; r == 0 && i < sizeof(vars) / sizeof(vars[0]); i++)
		r = cs_buf_put_str(&b, getenv(vars[i]));
	if (r == 0 && (r = cs_buf_put_str(&b, tty)) == 0 && (r = cs_buf_put_str(&b, lc)) == 0)
		r = simple_request(c, CS_MSG_HELLO, &b, NULL);
	cs_buf_clear(&b);
	return r;
}

int
cs_client_connect(const char *socket_path, int autostart, struct cs_client **ret_client)
{
	struct cs_client *c;
	char path[4096];
	int r;

	*ret_client = NULL;
	cs_client_socket_path(socket_path, path, sizeof(path));
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CS_ERR_NOMEM;
	c->fd = -1;
	cs_buf_init(&c->in, CS_PROTO_MAX_FRAME + CS_FRAME_LEN_SIZE);
	if ((r = connect_or_start(path, autostart, &c->fd)) == 0 && (r = hello(c)) == 0) {
		*ret_client = c;
		return 0;
	}
	cs_client_close(c);
	return r;
}

void
cs_client_close(struct cs_client *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	cs_buf_clear(&c->in);
	free(c->error_details);
	free(c);
}

/* An OK body holding one JSON string, as a new C string. */
static int
json_reply(const struct cs_buf *reply, char **ret_json)
{
	struct cs_reader rd;
	int r;

	cs_reader_init(&rd, reply->data, reply->len);
	cs_read_str(&rd, CS_PROTO_MAX_FRAME, ret_json);
	if ((r = cs_reader_finish(&rd)) != 0) {
		free(*ret_json);
		*ret_json = NULL;
	}
	return r;
}

int
cs_client_status(struct cs_client *c, char **ret_json)
{
	struct cs_buf b, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, CS_PROTO_MAX_FRAME);
	if ((r = simple_request(c, CS_MSG_STATUS, &b, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

int
cs_client_request_json(struct cs_client *c, uint8_t type, const struct cs_buf *body,
                       char **ret_json)
{
	struct cs_buf empty, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&empty, 0);
	cs_buf_init(&reply, 0);
	if ((r = simple_request(c, type, body != NULL ? body : &empty, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&reply);
	return r;
}

int
cs_client_certs_import(struct cs_client *c, const uint8_t *data, size_t len, char **ret_json)
{
	struct cs_buf b, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, CS_PROTO_MAX_FRAME);
	cs_buf_init(&reply, 0);
	if ((r = cs_buf_put_bytes(&b, data, len)) == 0 &&
	    (r = simple_request(c, CS_MSG_CERTS_IMPORT, &b, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

static int
write_all_fd(int fd, const uint8_t *p, size_t n)
{
	ssize_t put;

	while (n > 0) {
		put = write(fd, p, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return CS_ERR_IO;
		p += put;
		n -= (size_t)put;
	}
	return 0;
}

/* Sends up to *window bytes of input as DATA; sets *in_done at end of input. */
static int
upload(struct cs_client *c, uint32_t id, int in_fd, uint64_t *window, int *in_done)
{
	static uint8_t chunk[CS_PROTO_MAX_CHUNK];
	struct cs_buf b;
	size_t want;
	ssize_t got;
	int r = 0;

	cs_buf_init(&b, CS_PROTO_MAX_CHUNK + 16);
	while (*window > 0 && !*in_done && r == 0) {
		want = *window < sizeof(chunk) ? (size_t)*window : sizeof(chunk);
		got = read(in_fd, chunk, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = CS_ERR_IO;
			break;
		}
		cs_buf_reset(&b);
		if ((r = cs_buf_put_u32(&b, 0)) == 0 && (r = cs_buf_put_bytes(&b, chunk, (size_t)got)) == 0)
			r = cs_frame_write(c->fd, CS_MSG_DATA, id, b.data, b.len);
		if (got == 0)
			*in_done = 1;
		else
			*window -= (uint64_t)got;
	}
	cs_buf_clear(&b);
	return r;
}

#define MAX_STREAMS 64

/*
 * The streaming half of PROTECT and READ: uploads in_fd within the engine's
 * windows, writes DATA to the output descriptors, grants windows, delivers
 * events, until the OK (kept in *reply) or ERROR.
 */
static int
stream_request(struct cs_client *c, uint8_t type, const struct cs_buf *body, int in_fd,
               const struct cs_client_outputs *outputs, struct cs_buf *reply)
{
	struct cs_frame_view f;
	struct cs_reader rd;
	uint32_t id = ++c->next_id, stream;
	uint64_t window = 0, received = 0;
	const uint8_t *chunk;
	int fds[MAX_STREAMS];
	size_t n, i;
	int r, in_done = 0;

	for (i = 0; i < MAX_STREAMS; i++)
		fds[i] = -1;
	if ((r = cs_frame_write(c->fd, type, id, body->data, body->len)) != 0 ||
	    (r = send_window(c, id, CS_PROTO_WINDOW)) != 0)
		return r;
	for (;;) {
		if ((r = upload(c, id, in_fd, &window, &in_done)) != 0)
			return r;
		if ((r = cs_frame_read(c->fd, CS_PROTO_MAX_FRAME, &c->in, &f)) != 0)
			return r == CS_ERR_EOF ? CS_ERR_IO : r;
		if (f.id != id)
			continue;
		switch (f.type) {
		case CS_MSG_WINDOW:
			cs_reader_init(&rd, f.body, f.body_len);
			window += cs_read_u64(&rd);
			if ((r = cs_reader_finish(&rd)) != 0)
				return r;
			break;
		case CS_MSG_DATA:
			cs_reader_init(&rd, f.body, f.body_len);
			stream = cs_read_u32(&rd);
			cs_read_bytes(&rd, CS_PROTO_MAX_CHUNK, &chunk, &n);
			if ((r = cs_reader_finish(&rd)) != 0)
				return r;
			if (stream >= MAX_STREAMS)
				return CS_ERR_PROTOCOL;
			if (fds[stream] < 0 && (fds[stream] = outputs->open(outputs->arg, stream)) < 0)
				return fds[stream];
			if ((r = write_all_fd(fds[stream], chunk, n)) != 0)
				return r;
			received += n;
			if (received >= CS_PROTO_WINDOW / 2) {
				if ((r = send_window(c, id, received)) != 0)
					return r;
				received = 0;
			}
			break;
		case CS_MSG_EVENT:
			deliver_event(c, &f);
			break;
		case CS_MSG_ERROR:
			return read_error(c, &f);
		case CS_MSG_OK:
			return cs_buf_put(reply, f.body, f.body_len);
		default:
			return CS_ERR_PROTOCOL;
		}
	}
}

int
cs_client_protect(struct cs_client *c, uint32_t flags, const char *account, int in_fd,
                  const struct cs_client_outputs *outputs, char **ret_json)
{
	struct cs_buf b, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, CS_PROTO_MAX_FRAME);
	if ((r = cs_buf_put_u32(&b, flags)) == 0 && (r = cs_buf_put_str(&b, account)) == 0 &&
	    (r = stream_request(c, CS_MSG_PROTECT, &b, in_fd, outputs, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

static int
single_output(void *arg, uint32_t stream)
{
	return stream == 0 ? *(int *)arg : CS_ERR_PROTOCOL;
}

int
cs_client_read(struct cs_client *c, uint32_t flags, int in_fd, int out_fd, char **ret_json)
{
	struct cs_client_outputs outputs = { single_output, &out_fd };
	struct cs_buf b, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, CS_PROTO_MAX_FRAME);
	if ((r = cs_buf_put_u32(&b, flags)) == 0 &&
	    (r = stream_request(c, CS_MSG_READ, &b, in_fd, &outputs, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

int
cs_client_data(struct cs_client *c, uint8_t type, uint32_t flags, const char *account,
               const char *const *recipients, int in_fd, int out_fd, char **ret_json)
{
	struct cs_client_outputs outputs = { single_output, &out_fd };
	struct cs_buf b, reply;
	uint32_t n = 0;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, CS_PROTO_MAX_FRAME);
	r = cs_buf_put_u32(&b, flags);
	if (r == 0 && (type == CS_MSG_SIGN_DATA || type == CS_MSG_ENCRYPT_DATA))
		r = cs_buf_put_str(&b, account);
	if (r == 0 && type == CS_MSG_ENCRYPT_DATA) {
		while (recipients != NULL && recipients[n] != NULL)
			n++;
		r = cs_buf_put_u32(&b, n);
		for (n = 0; r == 0 && recipients != NULL && recipients[n] != NULL; n++)
			r = cs_buf_put_str(&b, recipients[n]);
	}
	if (r == 0 && (r = stream_request(c, type, &b, in_fd, &outputs, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}

int
cs_client_subscribe(struct cs_client *c, const volatile int *stop)
{
	struct cs_frame_view f;
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	uint32_t id = ++c->next_id, cancel_id = 0;
	uint8_t target[4];
	int r;

	if ((r = cs_frame_write(c->fd, CS_MSG_SUBSCRIBE, id, NULL, 0)) != 0)
		return r;
	for (;;) {
		if (*stop && cancel_id == 0) {
			cancel_id = ++c->next_id;
			target[0] = (uint8_t)(id >> 24);
			target[1] = (uint8_t)(id >> 16);
			target[2] = (uint8_t)(id >> 8);
			target[3] = (uint8_t)id;
			if ((r = cs_frame_write(c->fd, CS_MSG_CANCEL, cancel_id, target, 4)) != 0)
				return r;
		}
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((r = cs_frame_read(c->fd, CS_PROTO_MAX_FRAME, &c->in, &f)) != 0)
			return r == CS_ERR_EOF ? CS_ERR_IO : r;
		if (f.id != id)
			continue;       /* the CANCEL's own OK */
		if (f.type == CS_MSG_EVENT)
			deliver_event(c, &f);
		else if (f.type == CS_MSG_ERROR)
			return read_error(c, &f);
		else if (f.type == CS_MSG_OK)
			break;
	}
	return 0;
}

/* CERTS_INSTALL sends no content back: any DATA is a protocol error. */
static int
no_output(void *arg, uint32_t stream)
{
	(void)arg;
	(void)stream;
	return CS_ERR_PROTOCOL;
}

int
cs_client_certs_install(struct cs_client *c, uint32_t flags, int in_fd, char **ret_json)
{
	struct cs_client_outputs outputs = { no_output, NULL };
	struct cs_buf b, reply;
	int r;

	*ret_json = NULL;
	cs_buf_init(&b, 0);
	cs_buf_init(&reply, CS_PROTO_MAX_FRAME);
	if ((r = cs_buf_put_u32(&b, flags)) == 0 &&
	    (r = stream_request(c, CS_MSG_CERTS_INSTALL, &b, in_fd, &outputs, &reply)) == 0)
		r = json_reply(&reply, ret_json);
	cs_buf_clear(&b);
	cs_buf_clear(&reply);
	return r;
}
