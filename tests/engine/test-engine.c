/*
 * cardseald and its public protocol, through a real engine on fixture cards
 * (behind the fault-injecting module): every message type, malformed frames
 * (before HELLO, unknown type, trailing bytes, truncated body, oversized),
 * a client that vanishes mid-stream, another user refused, SIGTERM.
 *
 * Usage: test-engine CARDSEALD FAULT_MODULE FAKE_PINENTRY
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_client.h"
#include "cs_error.h"
#include "cs_frame.h"
#include "cs_proto.h"
#include "fixture.h"
#include "tap.h"

static struct fixture fx;
static char socket_path[100], control[600];
static pid_t engine;

static int
raw_connect(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Sends a frame and reads frames until one for id; returns its type (or a negative CS_ERR_*). */
static int
exchange(int fd, uint8_t type, uint32_t id, const void *body, size_t len, uint32_t *ret_code)
{
	struct cs_buf in;
	struct cs_frame_view f;
	struct cs_reader rd;
	int r;

	*ret_code = 0;
	if ((r = cs_frame_write(fd, type, id, body, len)) != 0)
		return r;
	cs_buf_init(&in, CS_PROTO_MAX_FRAME + 8);
	while ((r = cs_frame_read(fd, CS_PROTO_MAX_FRAME, &in, &f)) == 0) {
		if (f.id != id || f.type == CS_MSG_EVENT || f.type == CS_MSG_WINDOW)
			continue;
		if (f.type == CS_MSG_ERROR) {
			cs_reader_init(&rd, f.body, f.body_len);
			*ret_code = cs_read_u32(&rd);
		}
		r = f.type;
		break;
	}
	cs_buf_clear(&in);
	return r;
}

static int
hello(int fd)
{
	struct cs_buf b;
	uint32_t code;
	int i, r;

	cs_buf_init(&b, 0);
	cs_buf_put_u32(&b, CS_PROTO_VERSION);
	for (i = 0; i < 7; i++)
		cs_buf_put_str(&b, "");
	r = exchange(fd, CS_MSG_HELLO, 1, b.data, b.len, &code);
	cs_buf_clear(&b);
	return r;
}

static void
start_engine(const char *cardseald, const char *module, const char *pinentry)
{
	char conf[700], cmd[3 * PATH_MAX + 1024];
	FILE *f;
	int i;

	snprintf(conf, sizeof(conf), "%s/cardseald.conf", fx.work);
	/* A Unix socket path must fit in 108 bytes: scratch directories under /tmp do. */
	snprintf(socket_path, sizeof(socket_path), "%.88s/run/socket", fx.work);
	snprintf(control, sizeof(control), "%s/fault-control", fx.work);
	if ((f = fopen(control, "w")) != NULL)
		fclose(f);
	setenv("FAULTP11_CONTROL", control, 1);
	snprintf(cmd, sizeof(cmd), "ln -sf '%s' '%s/pinentry' && . '%s/env' && "
	         "printf 'FAKE_PINENTRY_ACTION=pin:%%s\\n' \"$CS_USER_PIN\" > '%s/pinentry.env'",
	         pinentry, fx.work, fx.dir, fx.work);
	(void)!system(cmd);
	if ((f = fopen(conf, "w")) == NULL)
		return;
	fprintf(f, "# test engine\n[engine]\nstore = %s/data\n[tokens]\nmodules = %s\n"
	           "[pin]\npinentry = %s/pinentry\ncache-ttl = 300\n",
	        fx.work, module, fx.work);
	fclose(f);
	engine = fork();
	if (engine == 0) {
		execl(cardseald, cardseald, "--foreground", "--config", conf, "--socket", socket_path,
		      (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 100; i++) {
		int fd = raw_connect();

		if (fd >= 0) {
			close(fd);
			break;
		}
		usleep(50 * 1000);
	}
}

static void
test_frames(void)
{
	static const uint8_t oversized[] = { 0x7f, 0xff, 0xff, 0xff, 0x11 };
	uint32_t code;
	int fd = raw_connect(), fd2, r;
	char buf[16];

	CHECK(fd >= 0, "connected to the engine");
	r = exchange(fd, CS_MSG_STATUS, 9, NULL, 0, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_PROTOCOL,
	      "a request before HELLO: protocol error");
	CHECK_EQ_INT(hello(fd), CS_MSG_OK, "HELLO answered");
	r = exchange(fd, 0x6f, 2, NULL, 0, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_UNKNOWN_TYPE, "unknown type refused");
	r = exchange(fd, CS_MSG_STATUS, 3, "x", 1, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_TRAILING, "trailing bytes refused");
	r = exchange(fd, CS_MSG_CERTS_IMPORT, 4, "\0\0\1\0ab", 6, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_TRUNCATED, "a truncated body refused");
	r = exchange(fd, CS_MSG_CANCEL, 5, "\0\0\0\x63", 4, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_NOT_FOUND,
	      "CANCEL of no such request: not found");
	CHECK(write(fd, oversized, sizeof(oversized)) == (ssize_t)sizeof(oversized),
	      "an oversized frame header sent");
	/* 0 or a reset: the engine shut the connection with our byte unread. */
	CHECK(read(fd, buf, sizeof(buf)) <= 0, "the engine closes a connection that sent it");
	close(fd);
	fd2 = raw_connect();
	CHECK(fd2 >= 0 && hello(fd2) == CS_MSG_OK, "and keeps serving other clients");
	if (fd2 >= 0)
		close(fd2);
}

/*
 * A client may have CS_PROTO_MAX_IN_FLIGHT requests at once: SUBSCRIBE stays
 * open until cancelled, so eight of them fill the slots, the ninth request
 * is BUSY, and cancelling one frees a slot.
 */
static void
test_in_flight(void)
{
	uint8_t cancel_body[4];
	uint32_t code, id;
	int fd = raw_connect(), r, sent = 1;

	CHECK(fd >= 0 && hello(fd) == CS_MSG_OK, "in flight: connected");
	for (id = 100; id < 100 + CS_PROTO_MAX_IN_FLIGHT; id++)
		sent = sent && cs_frame_write(fd, CS_MSG_SUBSCRIBE, id, NULL, 0) == 0;
	CHECK(sent, "in flight: %d SUBSCRIBE requests sent", CS_PROTO_MAX_IN_FLIGHT);
	r = exchange(fd, CS_MSG_STATUS, 200, NULL, 0, &code);
	CHECK(r == CS_MSG_ERROR && code == (uint32_t)-CS_ERR_BUSY,
	      "in flight: one more request is BUSY (type %d, code %u)", r, code);
	cancel_body[0] = 0;
	cancel_body[1] = 0;
	cancel_body[2] = 0;
	cancel_body[3] = 100;
	r = exchange(fd, CS_MSG_CANCEL, 201, cancel_body, sizeof(cancel_body), &code);
	CHECK_EQ_INT(r, CS_MSG_OK, "in flight: CANCEL of one SUBSCRIBE answered");
	/* The cancelled request leaves when its thread ends: poll for the free slot. */
	for (id = 202; id < 302; id++) {
		if ((r = exchange(fd, CS_MSG_STATUS, id, NULL, 0, &code)) != CS_MSG_ERROR ||
		    code != (uint32_t)-CS_ERR_BUSY)
			break;
		usleep(20 * 1000);
	}
	CHECK_EQ_INT(r, CS_MSG_OK, "in flight: with a slot free, STATUS is answered");
	if (fd >= 0)
		close(fd);
}

static void
test_client_library(void)
{
	struct cs_client *c = NULL;
	char *json = NULL, path[PATH_MAX + 32];
	FILE *f;
	uint8_t data[8192];
	size_t n = 0;
	int r;

	r = cs_client_connect(socket_path, 0, &c);
	CHECK(r == 0, "the client library connects (%s)", cs_strerror(r));
	if (r != 0)
		return;
	r = cs_client_status(c, &json);
	CHECK(r == 0 && json != NULL && strstr(json, "\"label\":\"bob-card\"") != NULL &&
	          strstr(json, "\"key_uri\":\"pkcs11:") != NULL &&
	          strstr(json, "bob@example.org") != NULL,
	      "STATUS lists bob's card and identities");
	free(json);
	json = NULL;
	snprintf(path, sizeof(path), "%s/pki/chain.pem", fx.dir);
	if ((f = fopen(path, "rb")) != NULL) {
		n = fread(data, 1, sizeof(data), f);
		fclose(f);
	}
	r = cs_client_certs_import(c, data, n, &json);
	CHECK(r == 0 && json != NULL && strstr(json, "\"certificates\":2") != NULL &&
	          strstr(json, "\"added\":2") != NULL,
	      "CERTS_IMPORT of a two-certificate PEM file: 2 added");
	free(json);
	json = NULL;
	r = cs_client_certs_import(c, data, n, &json);
	CHECK(r == 0 && json != NULL && strstr(json, "\"added\":0") != NULL,
	      "importing it again adds nothing");
	free(json);
	json = NULL;
	CHECK_EQ_INT(cs_client_certs_import(c, (const uint8_t *)"no certificate", 14, &json),
	             CS_ERR_BAD_FORMAT, "a file without a certificate is refused");
	cs_client_close(c);
}

struct sub_state {
	int changes;
	char last[64];
};

static void
on_event(void *arg, int kind, uint64_t value, const char *detail)
{
	struct sub_state *s = arg;

	(void)value;
	if (kind == CS_EVENT_TOKEN_CHANGED) {
		s->changes++;
		snprintf(s->last, sizeof(s->last), "%s", detail);
	}
}

static volatile int sub_stop;
static struct sub_state sub;

static void *
subscriber(void *arg)
{
	struct cs_client *c = arg;
	int *result = malloc(sizeof(int));

	*result = cs_client_subscribe(c, &sub_stop);
	return result;
}

static void
set_control(const char *text)
{
	char tmp[700];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", control);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, control);
}

static void
test_subscribe(void)
{
	struct cs_client *c = NULL;
	pthread_t th;
	void *result = NULL;
	int i;

	if (cs_client_connect(socket_path, 0, &c) != 0)
		return;
	cs_client_set_event_cb(c, on_event, &sub);
	pthread_create(&th, NULL, subscriber, c);
	usleep(300 * 1000);
	set_control("hide alice-card\n");
	for (i = 0; i < 50 && sub.changes < 1; i++)
		usleep(100 * 1000);
	CHECK(sub.changes >= 1 && strcmp(sub.last, "absent alice-card") == 0,
	      "SUBSCRIBE: 'absent alice-card' when the card is pulled");
	set_control("");
	for (i = 0; i < 50 && sub.changes < 2; i++)
		usleep(100 * 1000);
	CHECK(sub.changes >= 2 && strcmp(sub.last, "present alice-card") == 0,
	      "and 'present alice-card' when it is back");
	sub_stop = 1;
	pthread_join(th, &result);
	CHECK(result != NULL && *(int *)result == 0, "CANCEL ends the subscription cleanly");
	free(result);
	cs_client_close(c);
}

static void
test_other_user(void)
{
	pid_t child = fork();
	int status = 0;

	if (child == 0) {
		char buf[8];
		int fd;

		/* As nobody: the engine must hang up without answering. */
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		if ((fd = raw_connect()) < 0)
			_exit(0);       /* refused outright (directory 0700): also fine */
		(void)hello(fd);
		_exit(read(fd, buf, sizeof(buf)) <= 0 ? 0 : 1);
	}
	waitpid(child, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 3)
		CHECK(1, "another user # SKIP cannot switch to uid 65534 here");
	else
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "a process of another user gets no answer");
}

static void
test_sigterm(void)
{
	int status = 0, i;

	kill(engine, SIGTERM);
	for (i = 0; i < 100 && waitpid(engine, &status, WNOHANG) == 0; i++)
		usleep(50 * 1000);
	CHECK(i < 100 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "SIGTERM: the engine exits cleanly");
	CHECK(access(socket_path, F_OK) != 0, "and removes its socket");
	engine = 0;
}

int
main(int argc, char **argv)
{
	char module[PATH_MAX], pinentry[PATH_MAX];

	if (argc != 4 || realpath(argv[2], module) == NULL || realpath(argv[3], pinentry) == NULL) {
		fprintf(stderr, "usage: test-engine CARDSEALD FAULT_MODULE FAKE_PINENTRY\n");
		return 2;
	}
	if (fixture_setup(&fx) != 0)
		return 99;
	start_engine(argv[1], module, pinentry);
	test_frames();
	test_in_flight();
	test_client_library();
	test_subscribe();
	test_other_user();
	test_sigterm();
	if (engine > 0)
		kill(engine, SIGKILL);
	fixture_teardown(&fx);
	return tap_done();
}
