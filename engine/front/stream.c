/*
 * A request's content streams as BIOs, so OpenSSL and the S/MIME code read
 * and write the socket in bounded pieces. Input: the worker consumes what
 * the connection thread queued and grants the client a new window each time
 * half of the last one is consumed, so at most one window is ever buffered.
 * Output: DATA frames no larger than a chunk and never beyond the window the
 * client granted. Both end with an error once the request is cancelled or
 * the client is gone.
 */
#include <string.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "daemon.h"

struct out_state {
	struct request *rq;
	uint32_t stream;
};

static int
send_window(struct request *rq, uint64_t bytes)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u64(&b, bytes)) == 0)
		r = client_send(rq->cl, CS_MSG_WINDOW, rq->id, &b);
	cs_buf_clear(&b);
	return r;
}

static int
in_read(BIO *bio, char *out, int size)
{
	struct request *rq = BIO_get_data(bio);
	struct client *cl = rq->cl;
	uint64_t grant = 0;
	size_t avail, n;
	int r = -1;

	if (size <= 0)
		return 0;
	BIO_clear_retry_flags(bio);
	pthread_mutex_lock(&cl->lock);
	while ((avail = rq->in.len - rq->in_pos) == 0 && !rq->in_eof && !rq->cancel && !cl->gone)
		pthread_cond_wait(&cl->changed, &cl->lock);
	if (rq->cancel || cl->gone) {
		r = -1;
	} else if (avail == 0) {
		r = 0;                  /* end of the upload */
	} else {
		n = avail < (size_t)size ? avail : (size_t)size;
		memcpy(out, rq->in.data + rq->in_pos, n);
		cs_wipe(rq->in.data + rq->in_pos, n);
		rq->in_pos += n;
		rq->consumed_since_grant += n;
		if (rq->consumed_since_grant >= CS_PROTO_WINDOW / 2) {
			grant = rq->consumed_since_grant;
			rq->consumed_since_grant = 0;
			rq->granted += grant;
		}
		r = (int)n;
	}
	pthread_mutex_unlock(&cl->lock);
	if (grant > 0 && send_window(rq, grant) != 0)
		return -1;
	return r;
}

static long
in_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct request *rq = BIO_get_data(bio);
	long r = 0;

	(void)num;
	(void)ptr;
	switch (cmd) {
	case BIO_CTRL_EOF:
		pthread_mutex_lock(&rq->cl->lock);
		r = rq->in_eof && rq->in.len == rq->in_pos;
		pthread_mutex_unlock(&rq->cl->lock);
		break;
	case BIO_CTRL_FLUSH:
		r = 1;
		break;
	default:
		break;
	}
	return r;
}

static int
out_write(BIO *bio, const char *data, int size)
{
	struct out_state *st = BIO_get_data(bio);
	struct request *rq = st->rq;
	struct client *cl = rq->cl;
	struct cs_buf b;
	size_t n;
	int r;

	if (size <= 0)
		return 0;
	BIO_clear_retry_flags(bio);
	pthread_mutex_lock(&cl->lock);
	while (rq->out_window == 0 && !rq->cancel && !cl->gone)
		pthread_cond_wait(&cl->changed, &cl->lock);
	if (rq->cancel || cl->gone) {
		pthread_mutex_unlock(&cl->lock);
		return -1;
	}
	n = (size_t)size;
	if (n > CS_PROTO_MAX_CHUNK)
		n = CS_PROTO_MAX_CHUNK;
	if (n > rq->out_window)
		n = (size_t)rq->out_window;
	rq->out_window -= n;
	pthread_mutex_unlock(&cl->lock);
	cs_buf_init(&b, CS_PROTO_MAX_CHUNK + 16);
	if ((r = cs_buf_put_u32(&b, st->stream)) == 0 && (r = cs_buf_put_bytes(&b, data, n)) == 0)
		r = client_send(cl, CS_MSG_DATA, rq->id, &b);
	cs_buf_clear(&b);           /* wipes: it held plaintext on READ */
	return r == 0 ? (int)n : -1;
}

static int
out_puts(BIO *bio, const char *s)
{
	return out_write(bio, s, (int)strlen(s));
}

static long
out_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	(void)bio;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
out_destroy(BIO *bio)
{
	OPENSSL_free(BIO_get_data(bio));
	BIO_set_data(bio, NULL);
	return 1;
}

static BIO_METHOD *in_method, *out_method;
static pthread_once_t methods_once = PTHREAD_ONCE_INIT;

static void
make_methods(void)
{
	in_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cardseal-request-in");
	if (in_method != NULL) {
		BIO_meth_set_read(in_method, in_read);
		BIO_meth_set_ctrl(in_method, in_ctrl);
	}
	out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cardseal-request-out");
	if (out_method != NULL) {
		BIO_meth_set_write(out_method, out_write);
		BIO_meth_set_puts(out_method, out_puts);
		BIO_meth_set_ctrl(out_method, out_ctrl);
		BIO_meth_set_destroy(out_method, out_destroy);
	}
}

BIO *
request_input_bio(struct request *rq)
{
	BIO *bio;

	pthread_once(&methods_once, make_methods);
	if (in_method == NULL || (bio = BIO_new(in_method)) == NULL)
		return NULL;
	BIO_set_data(bio, rq);
	BIO_set_init(bio, 1);
	/* The first window: the client may send this much before we ask for more. */
	pthread_mutex_lock(&rq->cl->lock);
	rq->granted += CS_PROTO_WINDOW;
	pthread_mutex_unlock(&rq->cl->lock);
	if (send_window(rq, CS_PROTO_WINDOW) != 0) {
		BIO_free(bio);
		return NULL;
	}
	return bio;
}

BIO *
request_output_bio(struct request *rq, uint32_t stream)
{
	struct out_state *st;
	BIO *bio;

	pthread_once(&methods_once, make_methods);
	if (out_method == NULL || (st = OPENSSL_zalloc(sizeof(*st))) == NULL)
		return NULL;
	if ((bio = BIO_new(out_method)) == NULL) {
		OPENSSL_free(st);
		return NULL;
	}
	st->rq = rq;
	st->stream = stream;
	BIO_set_data(bio, st);
	BIO_set_init(bio, 1);
	return bio;
}

int
request_end_stream(struct request *rq, uint32_t stream)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_u32(&b, stream)) == 0 && (r = cs_buf_put_bytes(&b, NULL, 0)) == 0)
		r = client_send(rq->cl, CS_MSG_DATA, rq->id, &b);
	cs_buf_clear(&b);
	return r;
}
