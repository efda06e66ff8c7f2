#include "ber.h"

#include <string.h>

#include "cs_error.h"

void
ber_init(struct ber *b, struct rd_in *in)
{
	memset(b, 0, sizeof(*b));
	b->in = in;
}

/* Offset of the end of the innermost definite container, or UINT64_MAX. */
static uint64_t
limit(const struct ber *b)
{
	int i;

	for (i = b->depth - 1; i >= 0; i--) {
		if (!b->st[i].indef)
			return b->st[i].end;
	}
	return UINT64_MAX;
}

int
ber_at_end(struct ber *b, int *ret_end)
{
	struct rd_in *in = b->in;
	int r;

	*ret_end = 0;
	if (b->depth == 0) {
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		*ret_end = rd_in_avail(in) == 0;
		return 0;
	}
	if (!b->st[b->depth - 1].indef) {
		if (in->total > b->st[b->depth - 1].end)
			return CS_ERR_BAD_FORMAT;
		*ret_end = in->total == b->st[b->depth - 1].end;
		return 0;
	}
	if ((r = rd_in_fill(in, 2)) != 0)
		return r;
	if (rd_in_avail(in) < 2)
		return CS_ERR_TRUNCATED;
	*ret_end = rd_in_ptr(in)[0] == 0 && rd_in_ptr(in)[1] == 0;
	return 0;
}

int
ber_next(struct ber *b, struct ber_tlv *t)
{
	struct rd_in *in = b->in;
	const uint8_t *p;
	size_t avail, i = 0, k, n;
	uint64_t len = 0, lim;
	int r;

	memset(t, 0, sizeof(*t));
	/* 1 + 5 identifier octets + 9 length octets is the longest header accepted. */
	if ((r = rd_in_fill(in, sizeof(t->hdr))) != 0)
		return r;
	avail = rd_in_avail(in);
	p = rd_in_ptr(in);
	lim = limit(b);
	if (avail < 2 || (lim != UINT64_MAX && lim - in->total < 2))
		return avail < 2 ? CS_ERR_TRUNCATED : CS_ERR_BAD_FORMAT;
	t->id = p[i++];
	t->cons = (t->id & BER_CONS_BIT) != 0;
	if (t->id == 0)
		return CS_ERR_BAD_FORMAT; /* end-of-contents where an element must be */
	if ((t->id & 0x1f) != 0x1f) {
		t->tag = t->id & 0x1f;
	} else {
		for (k = 0;; k++) {
			if (i >= avail)
				return CS_ERR_TRUNCATED;
			if (k == 4 || (k == 0 && p[i] == 0x80))
				return CS_ERR_BAD_FORMAT;
			t->tag = (t->tag << 7) | (p[i] & 0x7f);
			if ((p[i++] & 0x80) == 0)
				break;
		}
	}
	if (i >= avail)
		return CS_ERR_TRUNCATED;
	if (p[i] < 0x80) {
		len = p[i++];
	} else if (p[i] == 0x80) {
		i++;
		if (!t->cons)
			return CS_ERR_BAD_FORMAT;
		t->indef = 1;
	} else {
		n = p[i++] & 0x7f;
		if (n > 8 || n == 0x7f)
			return n == 0x7f ? CS_ERR_BAD_FORMAT : CS_ERR_TOO_LARGE;
		if (avail - i < n)
			return CS_ERR_TRUNCATED;
		for (k = 0; k < n; k++) {
			if (len > BER_MAX_LEN >> 8)
				return CS_ERR_TOO_LARGE;
			len = (len << 8) | p[i++];
		}
	}
	if (len > BER_MAX_LEN)
		return CS_ERR_TOO_LARGE;
	t->len = len;
	t->hdr_len = i;
	memcpy(t->hdr, p, i);
	if (lim != UINT64_MAX && (lim - in->total < i || lim - in->total - i < len))
		return CS_ERR_BAD_FORMAT;
	rd_in_consume(in, i);
	return 0;
}

int
ber_expect(struct ber *b, uint8_t id, struct ber_tlv *t)
{
	int r;

	if ((r = ber_next(b, t)) != 0)
		return r;
	return t->id == id ? 0 : CS_ERR_BAD_FORMAT;
}

int
ber_peek(struct ber *b, uint8_t *ret_id)
{
	int end, r;

	*ret_id = 0;
	if ((r = ber_at_end(b, &end)) != 0)
		return r;
	if (end)
		return 0;
	if ((r = rd_in_fill(b->in, 1)) != 0)
		return r;
	if (rd_in_avail(b->in) == 0)
		return CS_ERR_TRUNCATED;
	*ret_id = rd_in_ptr(b->in)[0];
	return 0;
}

int
ber_enter(struct ber *b, const struct ber_tlv *t)
{
	if (!t->cons)
		return CS_ERR_BAD_FORMAT;
	if (b->depth == BER_MAX_DEPTH)
		return CS_ERR_TOO_LARGE;
	b->st[b->depth].indef = t->indef;
	b->st[b->depth].end = t->indef ? 0 : b->in->total + t->len;
	b->depth++;
	return 0;
}

int
ber_leave(struct ber *b)
{
	int end, r;

	if (b->depth == 0)
		return CS_ERR_INTERNAL;
	if ((r = ber_at_end(b, &end)) != 0)
		return r;
	if (!end)
		return CS_ERR_BAD_FORMAT;
	if (b->st[b->depth - 1].indef)
		rd_in_consume(b->in, 2);
	b->depth--;
	/* An indefinite element inside a definite one may have run past its parent. */
	if (b->in->total > limit(b))
		return CS_ERR_BAD_FORMAT;
	return 0;
}

int
ber_skip_rest(struct ber *b)
{
	struct ber_tlv t;
	int end, r;

	for (;;) {
		if ((r = ber_at_end(b, &end)) != 0)
			return r;
		if (end)
			return 0;
		if ((r = ber_next(b, &t)) != 0 || (r = ber_skip(b, &t)) != 0)
			return r;
	}
}

int
ber_skip(struct ber *b, const struct ber_tlv *t)
{
	int r;

	if (!t->indef)
		return rd_in_skip(b->in, t->len);
	if ((r = ber_enter(b, t)) != 0 || (r = ber_skip_rest(b)) != 0)
		return r;
	return ber_leave(b);
}

int
ber_capture(struct ber *b, const struct ber_tlv *t, struct cs_buf *out)
{
	static const uint8_t eoc[2] = {0, 0};
	struct ber_tlv c;
	uint8_t *p;
	int end, r;

	if ((r = cs_buf_put(out, t->hdr, t->hdr_len)) != 0)
		return r;
	if (!t->indef) {
		if (t->len > out->max - out->len)
			return CS_ERR_TOO_LARGE;
		if ((p = cs_buf_reserve(out, (size_t)t->len)) == NULL)
			return CS_ERR_NOMEM;
		return rd_in_read_exact(b->in, p, (size_t)t->len);
	}
	if ((r = ber_enter(b, t)) != 0)
		return r;
	for (;;) {
		if ((r = ber_at_end(b, &end)) != 0)
			return r;
		if (end)
			break;
		if ((r = ber_next(b, &c)) != 0 || (r = ber_capture(b, &c, out)) != 0)
			return r;
	}
	if ((r = ber_leave(b)) != 0)
		return r;
	return cs_buf_put(out, eoc, sizeof(eoc));
}

int
ber_read_prim(struct ber *b, const struct ber_tlv *t, uint8_t *buf, size_t cap, size_t *ret_n)
{
	int r;

	*ret_n = 0;
	if (t->cons)
		return CS_ERR_BAD_FORMAT;
	if (t->len > cap)
		return CS_ERR_TOO_LARGE;
	if ((r = rd_in_read_exact(b->in, buf, (size_t)t->len)) != 0)
		return r;
	*ret_n = (size_t)t->len;
	return 0;
}

static int
octets_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct ber_octets *o = (struct ber_octets *)src;
	struct ber *b = o->b;
	struct ber_tlv t;
	size_t n;
	int end, r;

	*ret_n = 0;
	while (!o->done) {
		if (o->left > 0) {
			if (cap > o->left)
				cap = (size_t)o->left;
			if ((r = rd_in_read(b->in, buf, cap, &n)) != 0)
				return r;
			if (n == 0)
				return CS_ERR_TRUNCATED;
			o->left -= n;
			*ret_n = n;
			return 0;
		}
		if (b->depth == o->base_depth) {
			o->done = 1;
			break;
		}
		if ((r = ber_at_end(b, &end)) != 0)
			return r;
		if (end) {
			if ((r = ber_leave(b)) != 0)
				return r;
			continue;
		}
		/* The segments of a constructed OCTET STRING are OCTET STRINGs themselves. */
		if ((r = ber_next(b, &t)) != 0)
			return r;
		if ((t.id & ~BER_CONS_BIT) != BER_OCTETS)
			return CS_ERR_BAD_FORMAT;
		if (t.cons) {
			if ((r = ber_enter(b, &t)) != 0)
				return r;
		} else {
			o->left = t.len;
		}
	}
	return 0;
}

int
ber_octets_init(struct ber_octets *o, struct ber *b, const struct ber_tlv *t)
{
	memset(o, 0, sizeof(*o));
	o->src.read = octets_read;
	o->b = b;
	o->base_depth = b->depth;
	if (!t->cons) {
		o->left = t->len;
		/* A primitive string: done once its bytes are out. */
		o->base_depth = b->depth;
		return 0;
	}
	return ber_enter(b, t);
}

int
der_put_hdr(struct cs_buf *b, uint8_t id, size_t len)
{
	uint8_t h[2 + sizeof(size_t)];
	size_t n = 0, k;
	int i;

	h[n++] = id;
	if (len < 0x80) {
		h[n++] = (uint8_t)len;
	} else {
		for (k = len, i = 0; k > 0; k >>= 8)
			i++;
		h[n++] = (uint8_t)(0x80 | i);
		while (i-- > 0)
			h[n++] = (uint8_t)(len >> (8 * i));
	}
	return cs_buf_put(b, h, n);
}

int
der_put(struct cs_buf *b, uint8_t id, const void *p, size_t n)
{
	int r;

	if ((r = der_put_hdr(b, id, n)) != 0)
		return r;
	return cs_buf_put(b, p, n);
}

size_t
der_hdr_len(size_t len)
{
	size_t n = 2;

	if (len >= 0x80) {
		for (; len > 0; len >>= 8)
			n++;
	}
	return n;
}

int
der_content_info(struct cs_buf *out, const uint8_t *oid, size_t oid_len,
                 const struct cs_buf *const *parts, size_t n)
{
	size_t i, seq = 0, ctx, all;
	int r;

	for (i = 0; i < n; i++)
		seq += parts[i]->len;
	ctx = der_hdr_len(seq) + seq;
	all = der_hdr_len(oid_len) + oid_len + der_hdr_len(ctx) + ctx;
	if ((r = der_put_hdr(out, BER_SEQ, all)) != 0 ||
	    (r = der_put(out, BER_OID, oid, oid_len)) != 0 ||
	    (r = der_put_hdr(out, BER_CTX_CONS(0), ctx)) != 0 ||
	    (r = der_put_hdr(out, BER_SEQ, seq)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		if ((r = cs_buf_put(out, parts[i]->data, parts[i]->len)) != 0)
			return r;
	}
	return 0;
}
