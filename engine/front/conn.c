/*
 * One client connection: its thread reads frames, answers HELLO and CANCEL
 * itself, feeds DATA and WINDOW to the requests they belong to, and starts a
 * worker thread per request. When the connection closes, every request is
 * cancelled (an open PIN dialog in keyd closes) and the thread waits for the
 * workers before freeing the client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_frame.h"
#include "cs_proto.h"
#include "daemon.h"

int
client_send(struct client *cl, uint8_t type, uint32_t id, const struct cs_buf *body)
{
	int r;

	pthread_mutex_lock(&cl->write_lock);
	r = cs_frame_write(cl->fd, type, id, body != NULL ? body->data : NULL,
	                   body != NULL ? body->len : 0);
	pthread_mutex_unlock(&cl->write_lock);
	return r;
}

int
client_send_error(struct client *cl, uint32_t id, int err, const char *details_json)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u32(&b, (uint32_t)-err)) == 0 &&
	    (r = cs_buf_put_str(&b, cs_strerror(err))) == 0 &&
	    (r = cs_buf_put_str(&b, details_json != NULL ? details_json : "")) == 0)
		r = client_send(cl, CS_MSG_ERROR, id, &b);
	cs_buf_clear(&b);
	return r;
}

int
client_send_ok_json(struct client *cl, uint32_t id, const struct cs_buf *json)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, json->len + 64);
	if ((r = cs_buf_put_bytes(&b, json->data, json->len)) == 0)
		r = client_send(cl, CS_MSG_OK, id, &b);
	cs_buf_clear(&b);
	return r;
}

int
client_send_event(struct client *cl, uint32_t id, int kind, uint64_t value, const char *detail)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u8(&b, (uint8_t)kind)) == 0 && (r = cs_buf_put_u64(&b, value)) == 0 &&
	    (r = cs_buf_put_str(&b, detail)) == 0)
		r = client_send(cl, CS_MSG_EVENT, id, &b);
	cs_buf_clear(&b);
	return r;
}

static void
hints_clear(struct hints *h)
{
	free(h->display);
	free(h->wayland_display);
	free(h->xauthority);
	free(h->dbus_address);
	free(h->term);
	free(h->ttyname);
	free(h->lc_ctype);
	memset(h, 0, sizeof(*h));
}

static void
handle_hello(struct client *cl, uint32_t id, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	struct cs_buf b;
	uint32_t version;
	int r;

	cs_reader_init(&rd, body, len);
	version = cs_read_u32(&rd);
	hints_clear(&cl->hints);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.display);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.wayland_display);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.xauthority);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.dbus_address);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.term);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.ttyname);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &cl->hints.lc_ctype);
	if ((r = cs_reader_finish(&rd)) != 0 || (r = version == 0 ? CS_ERR_BAD_FORMAT : 0) != 0) {
		client_send_error(cl, id, r, NULL);
		return;
	}
	cl->hello_done = 1;
	cs_buf_init(&b, 0);
	if (cs_buf_put_u32(&b, CS_PROTO_VERSION) == 0 && cs_buf_put_str(&b, PACKAGE_VERSION) == 0)
		(void)client_send(cl, CS_MSG_OK, id, &b);
	cs_buf_clear(&b);
}

/* Caller holds cl->lock. */
static struct request *
find_request(struct client *cl, uint32_t id)
{
	struct request *rq;

	for (rq = cl->requests; rq != NULL; rq = rq->next) {
		if (rq->id == id)
			return rq;
	}
	return NULL;
}

static void
handle_cancel(struct client *cl, uint32_t id, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	struct request *rq;
	uint32_t target;
	int r;

	cs_reader_init(&rd, body, len);
	target = cs_read_u32(&rd);
	if ((r = cs_reader_finish(&rd)) == 0) {
		pthread_mutex_lock(&cl->lock);
		if ((rq = find_request(cl, target)) != NULL) {
			rq->cancel = 1;
			pthread_cond_broadcast(&cl->changed);
		} else {
			r = CS_ERR_NOT_FOUND;
		}
		pthread_mutex_unlock(&cl->lock);
	}
	if (r == 0)
		(void)client_send(cl, CS_MSG_OK, id, NULL);
	else
		client_send_error(cl, id, r, NULL);
}

/*
 * DATA for a request's upload. Returns 0, or an error that ends the
 * connection: a client sending past its window is not following the protocol.
 */
static int
handle_data(struct client *cl, uint32_t id, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	struct request *rq;
	const uint8_t *chunk;
	size_t n;
	uint32_t stream;
	int r = 0;

	cs_reader_init(&rd, body, len);
	stream = cs_read_u32(&rd);
	cs_read_bytes(&rd, CS_PROTO_MAX_CHUNK, &chunk, &n);
	if ((r = cs_reader_finish(&rd)) != 0)
		return r;
	pthread_mutex_lock(&cl->lock);
	rq = find_request(cl, id);
	if (rq == NULL || stream != 0 || rq->in_eof) {
		/* Data for a request that already ended (e.g. failed early) is dropped. */
		r = rq == NULL ? 0 : CS_ERR_PROTOCOL;
	} else if (n == 0) {
		rq->in_eof = 1;
	} else if (n > rq->granted) {
		r = CS_ERR_BUSY;
	} else {
		/* Compact what the worker consumed before growing the buffer. */
		if (rq->in_pos > 0) {
			memmove(rq->in.data, rq->in.data + rq->in_pos, rq->in.len - rq->in_pos);
			rq->in.len -= rq->in_pos;
			rq->in_pos = 0;
		}
		if ((r = cs_buf_put(&rq->in, chunk, n)) == 0)
			rq->granted -= n;
	}
	pthread_cond_broadcast(&cl->changed);
	pthread_mutex_unlock(&cl->lock);
	return r;
}

static int
handle_window(struct client *cl, uint32_t id, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	struct request *rq;
	uint64_t more;
	int r;

	cs_reader_init(&rd, body, len);
	more = cs_read_u64(&rd);
	if ((r = cs_reader_finish(&rd)) != 0)
		return r;
	pthread_mutex_lock(&cl->lock);
	if ((rq = find_request(cl, id)) != NULL && more <= UINT64_MAX - rq->out_window)
		rq->out_window += more;
	pthread_cond_broadcast(&cl->changed);
	pthread_mutex_unlock(&cl->lock);
	return 0;
}

static void *
request_main(void *arg)
{
	struct request *rq = arg;
	struct client *cl = rq->cl;
	struct request **link;

	switch (rq->type) {
	case CS_MSG_STATUS:
		handle_status(rq);
		break;
	case CS_MSG_CERTS_IMPORT:
		handle_certs_import(rq);
		break;
	case CS_MSG_SUBSCRIBE:
		handle_subscribe(rq);
		break;
	case CS_MSG_PROTECT:
		handle_protect(rq);
		break;
	case CS_MSG_READ:
		handle_read(rq);
		break;
	case CS_MSG_SIGN_DATA:
		handle_sign_data(rq);
		break;
	case CS_MSG_VERIFY_DATA:
		handle_verify_data(rq);
		break;
	case CS_MSG_ENCRYPT_DATA:
		handle_encrypt_data(rq);
		break;
	case CS_MSG_DECRYPT_DATA:
		handle_decrypt_data(rq);
		break;
	case CS_MSG_CERTS_LIST:
		handle_certs_list(rq);
		break;
	case CS_MSG_CERTS_EXPORT:
		handle_certs_export(rq);
		break;
	case CS_MSG_CERTS_REMOVE:
		handle_certs_remove(rq);
		break;
	case CS_MSG_CERTS_INSTALL:
		handle_certs_install(rq);
		break;
	case CS_MSG_CERTS_CHOOSE:
		handle_certs_choose(rq);
		break;
	case CS_MSG_SETTINGS_GET:
		handle_settings_get(rq);
		break;
	case CS_MSG_SETTINGS_SET:
		handle_settings_set(rq);
		break;
	case CS_MSG_POLICY_GET:
		handle_policy_get(rq);
		break;
	case CS_MSG_PFX_IMPORT:
		handle_pfx_import(rq);
		break;
	default:
		client_send_error(cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
		break;
	}
	pthread_mutex_lock(&cl->lock);
	for (link = &cl->requests; *link != NULL; link = &(*link)->next) {
		if (*link == rq) {
			*link = rq->next;
			break;
		}
	}
	cl->n_requests--;
	pthread_cond_broadcast(&cl->changed);
	pthread_mutex_unlock(&cl->lock);
	cs_buf_clear(&rq->in);      /* wipes: it may hold message plaintext */
	free(rq->body);
	free(rq);
	return NULL;
}

static int
known_request(uint8_t type)
{
	return (type >= CS_MSG_STATUS && type <= CS_MSG_SUBSCRIBE) ||
	       (type >= CS_MSG_SIGN_DATA && type <= CS_MSG_PFX_IMPORT);
}

static void
start_request(struct client *cl, uint8_t type, uint32_t id, const uint8_t *body, size_t len)
{
	struct request *rq;
	pthread_attr_t attr;
	pthread_t thread;
	int r = 0;

	pthread_mutex_lock(&cl->lock);
	if (cl->n_requests >= CS_PROTO_MAX_IN_FLIGHT)
		r = CS_ERR_BUSY;
	else if (find_request(cl, id) != NULL)
		r = CS_ERR_PROTOCOL;      /* an id still in use */
	pthread_mutex_unlock(&cl->lock);
	if (r != 0) {
		client_send_error(cl, id, r, NULL);
		return;
	}
	if ((rq = calloc(1, sizeof(*rq))) == NULL || (rq->body = malloc(len + 1)) == NULL) {
		free(rq);
		client_send_error(cl, id, CS_ERR_NOMEM, NULL);
		return;
	}
	rq->cl = cl;
	rq->id = id;
	rq->type = type;
	memcpy(rq->body, body, len);
	rq->body_len = len;
	cs_buf_init(&rq->in, CS_PROTO_WINDOW + CS_PROTO_MAX_CHUNK);
	/* Requests with content get their first window when the handler opens the input. */
	rq->granted = 0;
	pthread_mutex_lock(&cl->lock);
	rq->next = cl->requests;
	cl->requests = rq;
	cl->n_requests++;
	pthread_mutex_unlock(&cl->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, request_main, rq) != 0) {
		/* request_main unlinks and frees; run it inline to answer with the error. */
		rq->type = 0;
		request_main(rq);
	}
	pthread_attr_destroy(&attr);
}

void *
client_main(void *arg)
{
	struct client *cl = arg;
	struct daemon *d = cl->d;
	struct cs_buf in;
	struct cs_frame_view f;
	struct request *rq;
	int r;

	cs_buf_init(&in, CS_PROTO_MAX_FRAME + CS_FRAME_LEN_SIZE);
	while ((r = cs_frame_read(cl->fd, CS_PROTO_MAX_FRAME, &in, &f)) == 0) {
		if (!cl->hello_done && f.type != CS_MSG_HELLO) {
			client_send_error(cl, f.id, CS_ERR_PROTOCOL, NULL);
			continue;
		}
		switch (f.type) {
		case CS_MSG_HELLO:
			handle_hello(cl, f.id, f.body, f.body_len);
			break;
		case CS_MSG_CANCEL:
			handle_cancel(cl, f.id, f.body, f.body_len);
			break;
		case CS_MSG_DATA:
			r = handle_data(cl, f.id, f.body, f.body_len);
			break;
		case CS_MSG_WINDOW:
			r = handle_window(cl, f.id, f.body, f.body_len);
			break;
		default:
			if (known_request(f.type))
				start_request(cl, f.type, f.id, f.body, f.body_len);
			else
				client_send_error(cl, f.id, CS_ERR_UNKNOWN_TYPE, NULL);
			break;
		}
		if (r != 0)
			break;
	}
	if (r != CS_ERR_EOF)
		cs_log(LOG_NOTICE, "client %u: closing the connection: %s", cl->id, cs_strerror(r));
	cs_buf_clear(&in);
	/* The client is gone: its requests have nobody to answer to. */
	shutdown(cl->fd, SHUT_RDWR);
	pthread_mutex_lock(&cl->lock);
	cl->gone = 1;
	for (rq = cl->requests; rq != NULL; rq = rq->next)
		rq->cancel = 1;
	pthread_cond_broadcast(&cl->changed);
	while (cl->n_requests > 0)
		pthread_cond_wait(&cl->changed, &cl->lock);
	pthread_mutex_unlock(&cl->lock);
	close(cl->fd);
	hints_clear(&cl->hints);
	pthread_mutex_destroy(&cl->write_lock);
	pthread_mutex_destroy(&cl->lock);
	pthread_cond_destroy(&cl->changed);
	free(cl);
	pthread_mutex_lock(&d->lock);
	d->n_clients--;
	pthread_cond_broadcast(&d->idle);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}
