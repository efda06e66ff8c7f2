#include "cs_buf.h"
#include "cs_error.h"

#include <stdlib.h>
#include <string.h>

void
cs_wipe(void *p, size_t n)
{
	/* explicit_bzero is in glibc >= 2.25 and is not removed by the optimiser. */
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
cs_buf_init(struct cs_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max != 0 ? max : CS_BUF_DEFAULT_MAX;
}

void
cs_buf_clear(struct cs_buf *b)
{
	size_t max = b->max;

	cs_wipe(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
cs_buf_reset(struct cs_buf *b)
{
	cs_wipe(b->data, b->len);
	b->len = 0;
}

/*
 * Grows by doubling. The old allocation is wiped before it is freed, which is
 * why this does not use realloc (that could leave a copy of a secret behind).
 */
static int
buf_grow(struct cs_buf *b, size_t need)
{
	size_t cap;
	uint8_t *data;

	if (need > b->max)
		return CS_ERR_TOO_LARGE;
	if (need <= b->cap)
		return 0;
	cap = b->cap != 0 ? b->cap : 256;
	while (cap < need)
		cap = cap > b->max / 2 ? b->max : cap * 2;
	data = malloc(cap);
	if (data == NULL)
		return CS_ERR_NOMEM;
	if (b->len > 0)
		memcpy(data, b->data, b->len);
	cs_wipe(b->data, b->cap);
	free(b->data);
	b->data = data;
	b->cap = cap;
	return 0;
}

uint8_t *
cs_buf_reserve(struct cs_buf *b, size_t n)
{
	uint8_t *p;

	if (n > b->max - b->len || buf_grow(b, b->len + n) != 0)
		return NULL;
	p = b->data + b->len;
	b->len += n;
	return p;
}

int
cs_buf_put(struct cs_buf *b, const void *p, size_t n)
{
	int r;

	if (n > b->max - b->len)
		return CS_ERR_TOO_LARGE;
	if ((r = buf_grow(b, b->len + n)) != 0)
		return r;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
cs_buf_put_u8(struct cs_buf *b, uint8_t v)
{
	return cs_buf_put(b, &v, 1);
}

int
cs_buf_put_u32(struct cs_buf *b, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

	return cs_buf_put(b, be, sizeof(be));
}

int
cs_buf_put_u64(struct cs_buf *b, uint64_t v)
{
	int r;

	if ((r = cs_buf_put_u32(b, (uint32_t)(v >> 32))) != 0 ||
	    (r = cs_buf_put_u32(b, (uint32_t)v)) != 0)
		return r;
	return 0;
}

int
cs_buf_put_bytes(struct cs_buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX)
		return CS_ERR_TOO_LARGE;
	if ((r = cs_buf_put_u32(b, (uint32_t)n)) != 0 || (r = cs_buf_put(b, p, n)) != 0)
		return r;
	return 0;
}

int
cs_buf_put_str(struct cs_buf *b, const char *s)
{
	return cs_buf_put_bytes(b, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
cs_reader_init(struct cs_reader *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->failed = 0;
}

void
cs_reader_fail(struct cs_reader *r, int err)
{
	if (r->failed == 0)
		r->failed = err;
	r->left = 0;
}

/* Returns a pointer to the next n bytes and consumes them, or NULL (reader failed). */
static const uint8_t *
read_raw(struct cs_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->failed != 0)
		return NULL;
	if (n > r->left) {
		cs_reader_fail(r, CS_ERR_TRUNCATED);
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
cs_read_u8(struct cs_reader *r)
{
	const uint8_t *p = read_raw(r, 1);

	return p != NULL ? p[0] : 0;
}

uint32_t
cs_read_u32(struct cs_reader *r)
{
	const uint8_t *p = read_raw(r, 4);

	if (p == NULL)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t
cs_read_u64(struct cs_reader *r)
{
	uint64_t hi = cs_read_u32(r);
	uint64_t lo = cs_read_u32(r);

	return r->failed != 0 ? 0 : hi << 32 | lo;
}

void
cs_read_bytes(struct cs_reader *r, size_t max, const uint8_t **ret_p, size_t *ret_n)
{
	uint32_t n = cs_read_u32(r);
	const uint8_t *p;

	*ret_p = NULL;
	*ret_n = 0;
	if (r->failed != 0)
		return;
	if (n > max) {
		cs_reader_fail(r, CS_ERR_TOO_LARGE);
		return;
	}
	if ((p = read_raw(r, n)) == NULL)
		return;
	*ret_p = p;
	*ret_n = n;
}

void
cs_read_str(struct cs_reader *r, size_t max, char **ret)
{
	const uint8_t *p;
	size_t n;
	char *s;

	*ret = NULL;
	cs_read_bytes(r, max, &p, &n);
	if (r->failed != 0)
		return;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		cs_reader_fail(r, CS_ERR_BAD_FORMAT);
		return;
	}
	if ((s = malloc(n + 1)) == NULL) {
		cs_reader_fail(r, CS_ERR_NOMEM);
		return;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	*ret = s;
}

int
cs_reader_finish(const struct cs_reader *r)
{
	if (r->failed != 0)
		return r->failed;
	return r->left != 0 ? CS_ERR_TRAILING : 0;
}
