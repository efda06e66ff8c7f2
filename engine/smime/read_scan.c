/*
 * Unprotected messages: copied byte for byte, and, when the message is a
 * multipart, scanned for protected parts beside unprotected ones. Only the
 * top-level entity counts as protected (DESIGN.md, EFAIL and the MIME
 * wrapping spoofs): a signed or encrypted part inside a multipart/mixed is
 * neither decrypted nor verified here, the message stays UNSIGNED with no
 * layer, and report->unprotected_parts says how many unprotected parts sit
 * beside the protected one(s).
 */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "read_priv.h"

/* Buffer per nesting level of the scan: only header blocks are looked at. */
#define SCAN_BUF (8u * 1024)

/* Everything read through it is copied to the sink. */
struct tee_src {
	struct rd_src src;
	struct rd_in *in;
	struct rd_sink *sink;
};

static int
tee_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct tee_src *t = (struct tee_src *)src;
	int r;

	if ((r = rd_in_read(t->in, buf, cap, ret_n)) != 0)
		return r;
	return *ret_n > 0 ? rd_sink_write(t->sink, buf, *ret_n) : 0;
}

static int
drain_src(struct rd_src *src)
{
	uint8_t buf[512];
	size_t n;
	int r;

	do {
		if ((r = src->read(src, buf, sizeof(buf), &n)) != 0)
			return r;
	} while (n > 0);
	return 0;
}

/* Walks the parts of a multipart; counts unprotected leaves and notes protected parts. */
static int
scan_multipart(struct rd_in *in, const char *boundary, int depth, int *found, size_t *count)
{
	struct rd_part p;
	struct rd_headers h;
	struct rd_ctype ct;
	struct rd_in pin;
	char *v = NULL;
	int r;

	memset(&pin, 0, sizeof(pin));
	rd_headers_init(&h);
	rd_part_init(&p, in, boundary);
	if ((r = drain_src(&p.src)) != 0)
		goto out;
	while (!p.closed && !p.eof) {
		if ((r = rd_part_next(&p)) != 0 || (r = rd_in_init(&pin, &p.src, SCAN_BUF)) != 0 ||
		    (r = rd_headers_read(&pin, &h)) != 0 ||
		    (r = rd_header_get(&h, "Content-Type", &v)) != 0)
			goto out;
		rd_ctype_parse(v, &ct);
		if (rd_ctype_protected(&ct))
			*found = 1;
		else if (strcmp(ct.type, "multipart") == 0 && ct.boundary[0] != 0 &&
		         depth < RD_MAX_SCAN_DEPTH)
			r = scan_multipart(&pin, ct.boundary, depth + 1, found, count);
		else
			(*count)++;
		if (r != 0 || (r = rd_in_drain(&pin)) != 0)
			goto out;
		free(v);
		v = NULL;
		rd_in_free(&pin);
		rd_headers_free(&h);
		rd_headers_init(&h);
	}
out:
	free(v);
	rd_in_free(&pin);
	rd_headers_free(&h);
	return r;
}

int
rd_copy_unprotected(struct rd_ctx *c, struct rd_in *in, const struct rd_headers *h,
                    const struct rd_ctype *ct)
{
	struct tee_src tee = {.src.read = tee_read, .in = in, .sink = &c->sink};
	struct rd_in t;
	size_t count = 0;
	int found = 0, r;

	memset(&t, 0, sizeof(t));
	if ((r = rd_sink_write(&c->sink, h->raw.data, h->raw.len)) != 0 ||
	    (r = rd_sink_write(&c->sink, h->end, h->end_len)) != 0)
		return r;
	if (strcmp(ct->type, "multipart") != 0 || ct->boundary[0] == 0) {
		for (;;) {
			if ((r = rd_in_fill(in, 1)) != 0 || rd_in_avail(in) == 0)
				return r;
			if ((r = rd_sink_write(&c->sink, rd_in_ptr(in), rd_in_avail(in))) != 0)
				return r;
			rd_in_consume(in, rd_in_avail(in));
		}
	}
	if ((r = rd_in_init(&t, &tee.src, 0)) != 0)
		return r;
	r = scan_multipart(&t, ct->boundary, 1, &found, &count);
	/* A malformed structure only ends the scan; the copy goes on. */
	if (r == CS_ERR_BAD_FORMAT || r == CS_ERR_TOO_LARGE || r == CS_ERR_TRUNCATED)
		r = 0;
	if (r == 0)
		r = rd_in_drain(&t);
	if (r == 0 && found)
		c->report->unprotected_parts = (int)count;
	rd_in_free(&t);
	return r;
}
