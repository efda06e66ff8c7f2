#include "read_io.h"

#include <stdlib.h>
#include <string.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "spill.h"

/* Progress is reported this often: often enough for a bar, rarely enough to cost nothing. */
#define PROGRESS_STEP (4u * 1024 * 1024)

int
rd_in_init(struct rd_in *in, struct rd_src *src, size_t cap)
{
	memset(in, 0, sizeof(*in));
	in->src = src;
	in->cap = cap != 0 ? cap : RD_BUF_SIZE;
	if ((in->buf = malloc(in->cap)) == NULL)
		return CS_ERR_NOMEM;
	return 0;
}

void
rd_in_free(struct rd_in *in)
{
	if (in->buf != NULL) {
		/* Decrypted content passes through these buffers. */
		cs_wipe(in->buf, in->cap);
		free(in->buf);
	}
	memset(in, 0, sizeof(*in));
}

int
rd_in_fill(struct rd_in *in, size_t want)
{
	size_t n;
	int r;

	if (want > in->cap)
		want = in->cap;
	while (rd_in_avail(in) < want) {
		if (in->err != 0)
			return in->err;
		if (in->eof)
			return 0;
		/* Compact when the free tail is too small for the request or for a good read. */
		if (in->pos > 0 && (in->cap - in->len < want - rd_in_avail(in) ||
		                    in->cap - in->len < in->cap / 4)) {
			memmove(in->buf, in->buf + in->pos, rd_in_avail(in));
			in->len -= in->pos;
			in->pos = 0;
		}
		if ((r = in->src->read(in->src, in->buf + in->len, in->cap - in->len, &n)) != 0) {
			in->err = r;
			return r;
		}
		if (n == 0)
			in->eof = 1;
		in->len += n;
	}
	return 0;
}

void
rd_in_consume(struct rd_in *in, size_t n)
{
	if (n > rd_in_avail(in))
		n = rd_in_avail(in);
	in->pos += n;
	in->total += n;
	if (in->pos == in->len)
		in->pos = in->len = 0;
}

int
rd_in_read(struct rd_in *in, uint8_t *buf, size_t cap, size_t *ret_n)
{
	size_t n;
	int r;

	*ret_n = 0;
	if (cap == 0)
		return 0;
	/* A large read with nothing buffered goes straight to the source: one copy fewer. */
	if (rd_in_avail(in) == 0 && cap >= in->cap / 2 && in->err == 0 && !in->eof) {
		if ((r = in->src->read(in->src, buf, cap, &n)) != 0) {
			in->err = r;
			return r;
		}
		if (n == 0)
			in->eof = 1;
		in->total += n;
		*ret_n = n;
		return 0;
	}
	if ((r = rd_in_fill(in, 1)) != 0)
		return r;
	n = rd_in_avail(in) < cap ? rd_in_avail(in) : cap;
	memcpy(buf, rd_in_ptr(in), n);
	rd_in_consume(in, n);
	*ret_n = n;
	return 0;
}

int
rd_in_read_exact(struct rd_in *in, uint8_t *buf, size_t n)
{
	size_t got;
	int r;

	while (n > 0) {
		if ((r = rd_in_read(in, buf, n, &got)) != 0)
			return r;
		if (got == 0)
			return CS_ERR_TRUNCATED;
		buf += got;
		n -= got;
	}
	return 0;
}

int
rd_in_skip(struct rd_in *in, uint64_t n)
{
	size_t k;
	int r;

	while (n > 0) {
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		if (rd_in_avail(in) == 0)
			return CS_ERR_TRUNCATED;
		k = rd_in_avail(in);
		if ((uint64_t)k > n)
			k = (size_t)n;
		rd_in_consume(in, k);
		n -= k;
	}
	return 0;
}

int
rd_in_drain(struct rd_in *in)
{
	int r;

	for (;;) {
		rd_in_consume(in, rd_in_avail(in));
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		if (rd_in_avail(in) == 0)
			return 0;
	}
}

void
rd_in_rearm(struct rd_in *in)
{
	in->pos = in->len = 0;
	in->eof = 0;
}

static int
in_src_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_in_src *s = (struct rd_in_src *)src;

	return rd_in_read(s->in, buf, cap, ret_n);
}

void
rd_in_src_init(struct rd_in_src *s, struct rd_in *in)
{
	s->src.read = in_src_read;
	s->in = in;
}

static int
bio_src_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_bio_src *s = (struct rd_bio_src *)src;
	int n;

	*ret_n = 0;
	if (cap > INT_MAX)
		cap = INT_MAX;
	n = BIO_read(s->bio, buf, (int)cap);
	if (n < 0 || (n == 0 && BIO_should_retry(s->bio)))
		return CS_ERR_IO;
	*ret_n = (size_t)n;
	s->done += (size_t)n;
	if (s->progress != NULL && (s->done - s->reported >= PROGRESS_STEP || n == 0)) {
		s->reported = s->done;
		s->progress(s->progress_arg, s->done);
	}
	return 0;
}

void
rd_bio_src_init(struct rd_bio_src *s, BIO *bio, cs_progress_cb progress, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->src.read = bio_src_read;
	s->bio = bio;
	s->progress = progress;
	s->progress_arg = arg;
}

static int
mem_src_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_mem_src *s = (struct rd_mem_src *)src;
	size_t n = s->left < cap ? s->left : cap;

	if (n > 0)
		memcpy(buf, s->p, n);
	s->p += n;
	s->left -= n;
	*ret_n = n;
	return 0;
}

void
rd_mem_src_init(struct rd_mem_src *s, const void *p, size_t n)
{
	s->src.read = mem_src_read;
	s->p = p;
	s->left = n;
}

static int
tap_src_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_tap_src *s = (struct rd_tap_src *)src;
	int r;

	if ((r = s->inner->read(s->inner, buf, cap, ret_n)) != 0)
		return r;
	if (*ret_n > 0)
		s->tap(s->tap_arg, buf, *ret_n);
	return 0;
}

void
rd_tap_src_init(struct rd_tap_src *s, struct rd_src *inner,
                void (*tap)(void *arg, const uint8_t *p, size_t n), void *arg)
{
	s->src.read = tap_src_read;
	s->inner = inner;
	s->tap = tap;
	s->tap_arg = arg;
}

/* 0..63: value; 64: skipped white space; 65: padding; 66: not allowed. */
enum { B64_SKIP = 64, B64_PAD = 65, B64_BAD = 66 };

/*
 * Constant, so that concurrent readers share it without initialisation
 * (RFC 2045 alphabet; space, tab, CR, LF skipped; '=' padding).
 */
static const uint8_t b64_table[256] = {
    66, 66, 66, 66, 66, 66, 66, 66, 66, 64, 64, 66, 66, 64, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 64, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 62, 66, 66, 66, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 66, 66, 65, 66, 66, 66, 0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 66, 66, 66, 66, 66,
    66, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
    66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66,
};

/* Hands out decoded bytes, keeping what does not fit for the next call. */
static void
b64_emit(struct rd_b64_src *s, const uint8_t *q, unsigned k, uint8_t *buf, size_t cap, size_t *n)
{
	unsigned i;

	for (i = 0; i < k; i++) {
		if (*n < cap)
			buf[(*n)++] = q[i];
		else
			s->stash[s->nstash++] = q[i];
	}
}

static int
b64_src_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_b64_src *s = (struct rd_b64_src *)src;
	const uint8_t *p;
	size_t n = 0, i, avail;
	uint8_t v, q[3];
	int r;

	*ret_n = 0;
	while (n < cap && s->stash_pos < s->nstash)
		buf[n++] = s->stash[s->stash_pos++];
	if (s->stash_pos == s->nstash)
		s->stash_pos = s->nstash = 0;
	while (n < cap && s->nstash == 0 && !s->done) {
		if ((r = rd_in_fill(s->in, 1)) != 0)
			return r;
		avail = rd_in_avail(s->in);
		if (avail == 0) {
			/* The end: a final short quantum, padded or not. */
			s->done = 1;
			if (s->npad > 0 && s->nacc + s->npad != 4)
				return CS_ERR_BAD_FORMAT;
			if (s->nacc == 1)
				return CS_ERR_BAD_FORMAT;
			q[0] = (uint8_t)(s->nacc == 2 ? s->acc >> 4 : s->acc >> 10);
			q[1] = (uint8_t)(s->acc >> 2);
			if (s->nacc >= 2)
				b64_emit(s, q, s->nacc - 1, buf, cap, &n);
			s->nacc = 0;
			break;
		}
		p = rd_in_ptr(s->in);
		for (i = 0; i < avail && n < cap && s->nstash == 0; i++) {
			/* Whole quanta of alphabet characters (most of a body), four at a time. */
			while (s->nacc == 0 && s->npad == 0 && avail - i >= 4 && cap - n >= 3) {
				uint32_t a = b64_table[p[i]], b = b64_table[p[i + 1]];
				uint32_t c = b64_table[p[i + 2]], d = b64_table[p[i + 3]];

				if ((a | b | c | d) >= 64)
					break;
				a = a << 18 | b << 12 | c << 6 | d;
				buf[n] = (uint8_t)(a >> 16);
				buf[n + 1] = (uint8_t)(a >> 8);
				buf[n + 2] = (uint8_t)a;
				n += 3;
				i += 4;
			}
			if (i == avail || n == cap)
				break;
			v = b64_table[p[i]];
			if (v < 64) {
				if (s->npad > 0)
					return CS_ERR_BAD_FORMAT;
				s->acc = (s->acc << 6) | v;
				if (++s->nacc == 4) {
					q[0] = (uint8_t)(s->acc >> 16);
					q[1] = (uint8_t)(s->acc >> 8);
					q[2] = (uint8_t)s->acc;
					b64_emit(s, q, 3, buf, cap, &n);
					s->acc = 0;
					s->nacc = 0;
				}
			} else if (v == B64_PAD) {
				/* "xx==" or "xxx=": the padding completes the quantum. */
				if (s->nacc + s->npad < 2 || s->nacc + s->npad >= 4)
					return CS_ERR_BAD_FORMAT;
				s->npad++;
			} else if (v == B64_BAD) {
				return CS_ERR_BAD_FORMAT;
			}
		}
		rd_in_consume(s->in, i);
	}
	*ret_n = n;
	return 0;
}

void
rd_b64_src_init(struct rd_b64_src *s, struct rd_in *in)
{
	memset(s, 0, sizeof(*s));
	s->src.read = b64_src_read;
	s->in = in;
}

int
rd_sink_write(struct rd_sink *k, const void *p, size_t n)
{
	const uint8_t *q = p;
	int w;

	if (k->spill != NULL)
		return spill_write(k->spill, p, n);
	while (n > 0) {
		w = BIO_write(k->out, q, n > INT_MAX ? INT_MAX : (int)n);
		if (w <= 0)
			return CS_ERR_IO;
		q += w;
		n -= (size_t)w;
	}
	return 0;
}
