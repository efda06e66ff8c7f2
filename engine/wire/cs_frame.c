#include "cs_frame.h"
#include "cs_error.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
cs_frame_parse(const uint8_t *p, size_t n, size_t max, struct cs_frame_view *ret, size_t *ret_used)
{
	struct cs_reader r;
	uint32_t length;

	memset(ret, 0, sizeof(*ret));
	*ret_used = 0;
	if (n < CS_FRAME_LEN_SIZE)
		return CS_ERR_AGAIN;
	cs_reader_init(&r, p, n);
	length = cs_read_u32(&r);
	if (length > max)
		return CS_ERR_TOO_LARGE;
	if (length < CS_FRAME_MIN_LENGTH)
		return CS_ERR_BAD_FORMAT;
	*ret_used = CS_FRAME_LEN_SIZE + (size_t)length;
	if (n - CS_FRAME_LEN_SIZE < length)
		return CS_ERR_AGAIN;
	ret->type = cs_read_u8(&r);
	ret->id = cs_read_u32(&r);
	ret->body = p + CS_FRAME_HEADER_SIZE;
	ret->body_len = length - CS_FRAME_MIN_LENGTH;
	return 0;
}

int
cs_frame_append(struct cs_buf *out, uint8_t type, uint32_t id, const void *body, size_t body_len)
{
	int r;

	if (body_len > UINT32_MAX - CS_FRAME_MIN_LENGTH)
		return CS_ERR_TOO_LARGE;
	if ((r = cs_buf_put_u32(out, (uint32_t)(body_len + CS_FRAME_MIN_LENGTH))) != 0 ||
	    (r = cs_buf_put_u8(out, type)) != 0 || (r = cs_buf_put_u32(out, id)) != 0 ||
	    (r = cs_buf_put(out, body, body_len)) != 0)
		return r;
	return 0;
}

/* Reads exactly n bytes. Returns 0, CS_ERR_EOF if closed before any, CS_ERR_TRUNCATED, CS_ERR_IO. */
static int
read_exact(int fd, uint8_t *p, size_t n)
{
	size_t have = 0;
	ssize_t got;

	while (have < n) {
		got = read(fd, p + have, n - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return CS_ERR_IO;
		if (got == 0)
			return have == 0 ? CS_ERR_EOF : CS_ERR_TRUNCATED;
		have += (size_t)got;
	}
	return 0;
}

int
cs_frame_read(int fd, size_t max, struct cs_buf *storage, struct cs_frame_view *ret)
{
	uint8_t *p;
	size_t used;
	int r;

	memset(ret, 0, sizeof(*ret));
	cs_buf_reset(storage);
	if ((p = cs_buf_reserve(storage, CS_FRAME_LEN_SIZE)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = read_exact(fd, p, CS_FRAME_LEN_SIZE)) != 0)
		return r;
	/* Learn the size (and refuse an oversized one) before buffering the rest. */
	r = cs_frame_parse(storage->data, storage->len, max, ret, &used);
	if (r != CS_ERR_AGAIN)
		return r != 0 ? r : CS_ERR_INTERNAL;
	if ((p = cs_buf_reserve(storage, used - CS_FRAME_LEN_SIZE)) == NULL)
		return CS_ERR_NOMEM;
	r = read_exact(fd, p, used - CS_FRAME_LEN_SIZE);
	if (r != 0)
		return r == CS_ERR_EOF ? CS_ERR_TRUNCATED : r;
	return cs_frame_parse(storage->data, storage->len, max, ret, &used);
}

int
cs_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *q = p;
	ssize_t put;

	while (n > 0) {
		/* send() with MSG_NOSIGNAL on sockets: a vanished peer is an error, not SIGPIPE. */
		put = send(fd, q, n, MSG_NOSIGNAL);
		if (put < 0 && errno == ENOTSOCK)
			put = write(fd, q, n);
		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return errno == EPIPE || errno == ECONNRESET ? CS_ERR_EOF : CS_ERR_IO;
		q += put;
		n -= (size_t)put;
	}
	return 0;
}

int
cs_frame_write(int fd, uint8_t type, uint32_t id, const void *body, size_t body_len)
{
	struct cs_buf out;
	int r;

	if (body_len > UINT32_MAX - CS_FRAME_MIN_LENGTH)
		return CS_ERR_TOO_LARGE;
	cs_buf_init(&out, body_len + CS_FRAME_HEADER_SIZE);
	if ((r = cs_frame_append(&out, type, id, body, body_len)) == 0)
		r = cs_write_all(fd, out.data, out.len);
	cs_buf_clear(&out);
	return r;
}
