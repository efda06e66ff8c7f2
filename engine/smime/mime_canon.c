/*
 * The canonicalizer of mime_canon.h: a line-driven state machine.
 *
 * In a body, the line break before a boundary delimiter belongs to the
 * delimiter (RFC 2046 5.1.1), so each line's break is held back ("pending")
 * and written only when another line of the same body follows; a delimiter
 * drops it and writes its own CRLF, the end of the input writes it.
 */
#include "mime_canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "b64.h"
#include "cs_error.h"
#include "mime_qp.h"

#define CANON_OUT_SIZE (128 * 1024)
#define CANON_QP_CHUNK (16 * 1024)
#define CANON_B64_CHUNK (48 * 1024)
#define MIME_LINE_MAX 998 /* RFC 5322 2.1.1, without the CRLF */

enum canon_state {
	ST_HEADER, /* collecting an entity's header block */
	ST_BODY,   /* in a leaf body */
	ST_TEXT,   /* in a multipart's preamble or epilogue */
};

enum leaf_mode {
	LEAF_PASS,   /* already base64 or quoted-printable: line ends only */
	LEAF_BUFFER, /* might be 7bit: held back to decide */
	LEAF_7BIT,   /* decided: 7-bit safe as it is */
	LEAF_QP,
	LEAF_B64,
};

struct frame {
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t blen;
	int digest;     /* multipart/digest: parts default to message/rfc822 */
	int keep;       /* in a multipart/signed: parts pass as they are */
	int parts;      /* delimiters written */
	int closed;     /* the close delimiter was seen: in the epilogue */
	int wrote_text; /* preamble lines were written */
};

struct canon {
	struct mime_reader *r;
	BIO *out;
	uint8_t *obuf;
	size_t olen;

	struct frame frames[MIME_MAX_DEPTH];
	unsigned nframes;

	enum canon_state state;
	struct mime_header hdr;
	int default_message; /* the entity being collected defaults to message/rfc822 */

	/* the current body, preamble or epilogue */
	int started;           /* a line was written (or held back) */
	enum mime_eol pending; /* that line's break, not yet written */
	int dropping;          /* preamble or epilogue: the current line is left out */

	/* the current leaf */
	enum leaf_mode mode;
	enum mime_cte cte;
	int text;   /* a text type: line ends are CRLF, encoding is quoted-printable */
	int raw;    /* binary non-text: line ends are kept as they are */
	size_t col; /* base64 kept as it is: characters on the current line */
	int keep;   /* in a multipart/signed: not a byte changes but line ends */
	uint8_t *look;
	size_t look_len;
	struct qp_enc qp;
	struct b64_enc b64;
};

static int
write_error(void)
{
	return ERR_peek_error() != 0 ? CS_ERR_INTERNAL : CS_ERR_IO;
}

static int
out_flush(struct canon *c)
{
	size_t off = 0;
	int w;

	while (off < c->olen) {
		w = BIO_write(c->out, c->obuf + off, (int)(c->olen - off));
		if (w <= 0)
			return write_error();
		off += (size_t)w;
	}
	c->olen = 0;
	return 0;
}

static int
out_put(struct canon *c, const void *p, size_t n)
{
	int r;

	if (c->olen + n > CANON_OUT_SIZE && (r = out_flush(c)) != 0)
		return r;
	while (n > CANON_OUT_SIZE) {
		memcpy(c->obuf, p, CANON_OUT_SIZE);
		c->olen = CANON_OUT_SIZE;
		if ((r = out_flush(c)) != 0)
			return r;
		p = (const uint8_t *)p + CANON_OUT_SIZE;
		n -= CANON_OUT_SIZE;
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
	return 0;
}

static int
out_str(struct canon *c, const char *s)
{
	return out_put(c, s, strlen(s));
}

static int
out_delimiter(struct canon *c, const struct frame *f, int leading_crlf, int close)
{
	int r;

	if ((leading_crlf && (r = out_put(c, "\r\n", 2)) != 0) || (r = out_put(c, "--", 2)) != 0 ||
	    (r = out_put(c, f->boundary, f->blen)) != 0)
		return r;
	return out_str(c, close ? "--" : "\r\n");
}

/* ------------------------------------------------------------- the leaf */

static int
is_7bit_safe(const uint8_t *p, size_t n)
{
	size_t i, col = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == 0 || p[i] >= 0x80 || p[i] == '\n')
			return 0;
		if (p[i] == '\r') {
			if (i + 1 >= n || p[i + 1] != '\n')
				return 0;
			i++;
			col = 0;
		} else if (++col > MIME_LINE_MAX) {
			return 0;
		}
	}
	return 1;
}

/* The header block with its Content-Transfer-Encoding set to cte (NULL: unchanged). */
static int
out_headers(struct canon *c, const char *cte)
{
	struct mime_field f;
	size_t pos = 0;
	int r, done = 0;

	while (mime_header_next(&c->hdr, &pos, &f)) {
		if (cte != NULL && mime_field_is(&f, "Content-Transfer-Encoding")) {
			if (done)
				continue;
			done = 1;
			if ((r = out_str(c, "Content-Transfer-Encoding: ")) != 0 ||
			    (r = out_str(c, cte)) != 0 || (r = out_put(c, "\r\n", 2)) != 0)
				return r;
			continue;
		}
		if ((r = out_put(c, f.raw, f.raw_len)) != 0)
			return r;
	}
	if (cte != NULL && !done) {
		if ((r = out_str(c, "Content-Transfer-Encoding: ")) != 0 ||
		    (r = out_str(c, cte)) != 0 || (r = out_put(c, "\r\n", 2)) != 0)
			return r;
	}
	return out_put(c, "\r\n", 2);
}

/* An 8bit or binary label on something now 7-bit safe becomes 7bit; others stay. */
static const char *
cte_if_7bit(enum mime_cte cte)
{
	return cte == MIME_CTE_8BIT || cte == MIME_CTE_BINARY ? "7bit" : NULL;
}

static int
put_qp(struct canon *c, const uint8_t *p, size_t n)
{
	size_t chunk;
	int r;

	while (n > 0) {
		chunk = n < CANON_QP_CHUNK ? n : CANON_QP_CHUNK;
		if (c->olen + qp_enc_bound(chunk) > CANON_OUT_SIZE && (r = out_flush(c)) != 0)
			return r;
		c->olen += qp_enc_update(&c->qp, p, chunk, (char *)c->obuf + c->olen);
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static int
put_b64(struct canon *c, const uint8_t *p, size_t n)
{
	size_t chunk;
	int r;

	while (n > 0) {
		chunk = n < CANON_B64_CHUNK ? n : CANON_B64_CHUNK;
		if (c->olen + b64_enc_bound(chunk) > CANON_OUT_SIZE && (r = out_flush(c)) != 0)
			return r;
		c->olen += b64_enc_update(&c->b64, p, chunk, (char *)c->obuf + c->olen);
		p += chunk;
		n -= chunk;
	}
	return 0;
}

static int leaf_put(struct canon *c, const uint8_t *p, size_t n);

/*
 * Chooses the encoding of a held-back leaf: as it is when it ended within
 * the look-ahead and is 7-bit safe, else quoted-printable or base64. Then
 * writes the headers and what was held back.
 */
static int
leaf_decide(struct canon *c, int ended)
{
	const char *cte;
	int r;

	if (ended && is_7bit_safe(c->look, c->look_len)) {
		c->mode = LEAF_7BIT;
		cte = cte_if_7bit(c->cte);
	} else if (c->text) {
		c->mode = LEAF_QP;
		qp_enc_init(&c->qp);
		cte = "quoted-printable";
	} else {
		c->mode = LEAF_B64;
		b64_enc_init(&c->b64);
		cte = "base64";
	}
	if ((r = out_headers(c, cte)) != 0)
		return r;
	r = leaf_put(c, c->look, c->look_len);
	c->look_len = 0;
	return r;
}

static int
leaf_put(struct canon *c, const uint8_t *p, size_t n)
{
	int r;

	switch (c->mode) {
	case LEAF_BUFFER:
		if (MIME_LOOKAHEAD - c->look_len >= n) {
			memcpy(c->look + c->look_len, p, n);
			c->look_len += n;
			return 0;
		}
		if ((r = leaf_decide(c, 0)) != 0)
			return r;
		return leaf_put(c, p, n);
	case LEAF_QP:
		return put_qp(c, p, n);
	case LEAF_B64:
		return put_b64(c, p, n);
	case LEAF_PASS:
	case LEAF_7BIT:
		return out_put(c, p, n);
	}
	return CS_ERR_INTERNAL;
}

/* The held-back break of the previous line: into the leaf's encoder, or straight out. */
static int
put_eol(struct canon *c, enum mime_eol eol, int to_leaf)
{
	const uint8_t *p = (const uint8_t *)"\r\n";
	size_t n = 2;

	if (eol == MIME_EOL_NONE)
		return 0;
	if (to_leaf && c->raw && eol == MIME_EOL_LF) {
		p = (const uint8_t *)"\n";
		n = 1;
	}
	return to_leaf ? leaf_put(c, p, n) : out_put(c, p, n);
}

/*
 * Base64 kept as it is, but a line longer than RFC 2045's 76 characters is
 * cut into lines of 76: decoders ignore line breaks, and a transport may
 * break a line over 998 characters where the signature does not expect it.
 */
static int
put_b64_wrapped(struct canon *c, const uint8_t *p, size_t n)
{
	size_t k;
	int r;

	while (n > 0) {
		if (c->col == B64_LINE_CHARS) {
			if ((r = out_put(c, "\r\n", 2)) != 0)
				return r;
			c->col = 0;
		}
		k = B64_LINE_CHARS - c->col < n ? B64_LINE_CHARS - c->col : n;
		if ((r = out_put(c, p, k)) != 0)
			return r;
		c->col += k;
		p += k;
		n -= k;
	}
	return 0;
}

static int
body_line(struct canon *c, const struct mime_line *ln)
{
	int r;

	if (ln->first && c->started && (r = put_eol(c, c->pending, 1)) != 0)
		return r;
	if (ln->first)
		c->col = 0;
	c->started = 1;
	if (ln->len > 0) {
		if (c->mode == LEAF_PASS && c->cte == MIME_CTE_BASE64 && !c->keep)
			r = put_b64_wrapped(c, ln->data, ln->len);
		else
			r = leaf_put(c, ln->data, ln->len);
		if (r != 0)
			return r;
	}
	if (!ln->partial)
		c->pending = ln->eol;
	return 0;
}

/*
 * Ends the leaf: at a delimiter the last line break is the delimiter's, at
 * the end of the input it is content.
 */
static int
body_end(struct canon *c, int at_delimiter)
{
	char tail[16];
	int r;

	if (!at_delimiter && c->started && (r = put_eol(c, c->pending, 1)) != 0)
		return r;
	if (c->mode == LEAF_BUFFER && (r = leaf_decide(c, 1)) != 0)
		return r;
	if (c->mode == LEAF_QP && (r = out_put(c, tail, qp_enc_final(&c->qp, tail))) != 0)
		return r;
	if (c->mode == LEAF_B64 && (r = out_put(c, tail, b64_enc_final(&c->b64, tail, 0))) != 0)
		return r;
	c->started = 0;
	c->pending = MIME_EOL_NONE;
	return 0;
}

/* ------------------------------------------------------- entity structure */

static int
type_is(const struct mime_ctype *ct, const char *type, const char *subtype)
{
	return strcmp(ct->type, type) == 0 &&
	       (subtype == NULL || strcmp(ct->subtype, subtype) == 0);
}

static int
identity_cte(enum mime_cte cte)
{
	return cte == MIME_CTE_NONE || cte == MIME_CTE_7BIT || cte == MIME_CTE_8BIT ||
	       cte == MIME_CTE_BINARY;
}

/* The header block of an entity is complete: decide what its body is and start it. */
static int
entity_start(struct canon *c)
{
	struct mime_ctype ct;
	struct mime_field f;
	struct frame *fr;
	size_t pos = 0;
	int r, have_ctype = 0;
	/*
	 * Inside a multipart/signed (a signed message forwarded or attached)
	 * nothing is re-encoded: that would break its signature.
	 */
	int keep = c->nframes > 0 && c->frames[c->nframes - 1].keep;

	if ((r = mime_header_check(&c->hdr)) != 0)
		return r;
	memset(&ct, 0, sizeof(ct));
	c->cte = MIME_CTE_NONE;
	while (mime_header_next(&c->hdr, &pos, &f)) {
		if (!have_ctype && mime_field_is(&f, "Content-Type")) {
			have_ctype = 1;
			if ((r = mime_parse_ctype(f.value, f.value_len, &ct)) != 0)
				return r;
		} else if (c->cte == MIME_CTE_NONE &&
		           mime_field_is(&f, "Content-Transfer-Encoding")) {
			c->cte = mime_parse_cte(f.value, f.value_len);
		}
	}
	if (ct.type[0] == '\0') {
		/* Absent: the default of the context (RFC 2046 5.1.5); unreadable: text/plain. */
		snprintf(ct.type, sizeof(ct.type), "%s",
		         !have_ctype && c->default_message ? "message" : "text");
		snprintf(ct.subtype, sizeof(ct.subtype), "%s",
		         !have_ctype && c->default_message ? "rfc822" : "plain");
	}
	c->started = 0;
	c->pending = MIME_EOL_NONE;
	c->dropping = 0;

	if (type_is(&ct, "multipart", NULL) && identity_cte(c->cte)) {
		if (ct.boundary_len == 0)
			return CS_ERR_BAD_FORMAT;
		if (c->nframes == MIME_MAX_DEPTH)
			return CS_ERR_TOO_LARGE;
		fr = &c->frames[c->nframes];
		memset(fr, 0, sizeof(*fr));
		fr->keep = keep || type_is(&ct, "multipart", "signed");
		if ((r = out_headers(c, fr->keep ? NULL : cte_if_7bit(c->cte))) != 0)
			return r;
		c->nframes++;
		memcpy(fr->boundary, ct.boundary, ct.boundary_len);
		fr->blen = ct.boundary_len;
		fr->digest = type_is(&ct, "multipart", "digest");
		c->state = ST_TEXT;
		return 0;
	}
	if (type_is(&ct, "message", "rfc822") && identity_cte(c->cte)) {
		/* The body is a message of its own: walk its parts, never encode it whole. */
		if ((r = out_headers(c, keep ? NULL : cte_if_7bit(c->cte))) != 0)
			return r;
		mime_header_reset(&c->hdr);
		c->default_message = 0;
		c->state = ST_HEADER;
		return 0;
	}
	c->state = ST_BODY;
	c->keep = keep;
	c->text = type_is(&ct, "text", NULL);
	c->raw = !c->text && c->cte == MIME_CTE_BINARY;
	c->look_len = 0;
	if (identity_cte(c->cte) && !keep) {
		c->mode = LEAF_BUFFER;
		return 0;
	}
	/* base64, quoted-printable, an encoding nobody defined, or signed: keep it. */
	c->mode = LEAF_PASS;
	if (!keep)
		c->raw = 0;
	return out_headers(c, NULL);
}

/* Ends whatever is open at the innermost level, before a delimiter (or at the end of input). */
static int
innermost_end(struct canon *c, int at_delimiter)
{
	int r;

	/* A header block cut short is an entity without a body; a message/rfc822 nests again. */
	while (c->state == ST_HEADER) {
		if ((r = entity_start(c)) != 0)
			return r;
	}
	if (c->state == ST_BODY) {
		if ((r = body_end(c, at_delimiter)) != 0)
			return r;
		c->state = ST_TEXT; /* what follows belongs to the enclosing multipart */
		c->started = 0;
		return 0;
	}
	/* Preamble or epilogue: the last kept line's break is content at the end of input. */
	if (!at_delimiter && c->started)
		return put_eol(c, c->pending, 0);
	return 0;
}

/* Closes frames above index keep, writing the close delimiters they lack. */
static int
close_frames_above(struct canon *c, unsigned keep)
{
	struct frame *f;
	int r;

	while (c->nframes > keep + 1) {
		f = &c->frames[c->nframes - 1];
		if (!f->closed && (r = out_delimiter(c, f, f->parts > 0 || f->wrote_text, 1)) != 0)
			return r;
		c->nframes--;
	}
	return 0;
}

/* The index of the frame whose delimiter ln is (innermost first), or -1. */
static int
match_delimiter(const struct canon *c, const struct mime_line *ln, int *ret_close)
{
	const uint8_t *rest;
	size_t i, rlen;
	unsigned k;

	if (!ln->first || ln->partial || ln->len < 3 || ln->data[0] != '-' || ln->data[1] != '-')
		return -1;
	for (k = c->nframes; k-- > 0;) {
		const struct frame *f = &c->frames[k];

		if (ln->len < 2 + f->blen || memcmp(ln->data + 2, f->boundary, f->blen) != 0)
			continue;
		rest = ln->data + 2 + f->blen;
		rlen = ln->len - 2 - f->blen;
		*ret_close = rlen >= 2 && rest[0] == '-' && rest[1] == '-';
		i = *ret_close ? 2 : 0;
		while (i < rlen && (rest[i] == ' ' || rest[i] == '\t'))
			i++;
		if (i == rlen)
			return (int)k;
	}
	return -1;
}

static int
on_delimiter(struct canon *c, unsigned k, int close, enum mime_eol eol)
{
	struct frame *f;
	int r;

	if ((r = innermost_end(c, 1)) != 0 || (r = close_frames_above(c, k)) != 0)
		return r;
	f = &c->frames[k];
	if (f->closed) {
		/* A delimiter after the close delimiter is epilogue text: dropped. */
		c->state = ST_TEXT;
		return 0;
	}
	if ((r = out_delimiter(c, f, f->parts > 0 || f->wrote_text, close)) != 0)
		return r;
	if (close) {
		f->closed = 1;
		c->state = ST_TEXT;
		c->started = 1; /* the close delimiter's line break starts the epilogue */
		c->pending = eol;
		c->dropping = 0;
		return 0;
	}
	f->parts++;
	mime_header_reset(&c->hdr);
	c->default_message = f->digest;
	c->state = ST_HEADER;
	return 0;
}

/*
 * A line of a preamble or epilogue: kept when 7-bit safe, else left out;
 * inside a multipart/signed every line is kept, the signature covers them.
 */
static int
text_line(struct canon *c, const struct mime_line *ln)
{
	int r, keep = c->nframes > 0 && c->frames[c->nframes - 1].keep;

	if (!ln->first) {
		if (c->dropping)
			return 0;
		if (!ln->partial)
			c->pending = ln->eol;
		return out_put(c, ln->data, ln->len);
	}
	c->dropping =
	    !keep && (ln->partial || ln->len > MIME_LINE_MAX || !is_7bit_safe(ln->data, ln->len));
	if (c->dropping)
		return 0;
	if (c->started && (r = put_eol(c, c->pending, 0)) != 0)
		return r;
	if (c->nframes > 0 && !c->frames[c->nframes - 1].closed)
		c->frames[c->nframes - 1].wrote_text = 1;
	c->started = 1;
	c->pending = ln->partial ? MIME_EOL_NONE : ln->eol;
	return out_put(c, ln->data, ln->len);
}

static int
header_line(struct canon *c, const struct mime_line *ln)
{
	if (ln->first && !ln->partial && ln->len == 0)
		return entity_start(c);
	return mime_header_add(&c->hdr, ln->data, ln->len, !ln->partial);
}

static int
canon_run(struct canon *c)
{
	struct mime_line ln;
	int r, k, close;

	if ((r = entity_start(c)) != 0)
		return r;
	while ((r = mime_reader_line(c->r, &ln)) == 1) {
		if ((k = match_delimiter(c, &ln, &close)) >= 0) {
			r = on_delimiter(c, (unsigned)k, close, ln.eol);
		} else if (c->state == ST_HEADER) {
			r = header_line(c, &ln);
		} else if (c->state == ST_BODY) {
			r = body_line(c, &ln);
		} else {
			r = text_line(c, &ln);
		}
		if (r != 0)
			return r;
	}
	if (r < 0)
		return r;
	if ((r = innermost_end(c, 0)) != 0)
		return r;
	if (c->nframes > 0) {
		if ((r = close_frames_above(c, 0)) != 0)
			return r;
		if (!c->frames[0].closed &&
		    (r = out_delimiter(c, &c->frames[0],
		                       c->frames[0].parts > 0 || c->frames[0].wrote_text, 1)) != 0)
			return r;
	}
	return out_flush(c);
}

int
mime_canon_entity(struct mime_reader *r, const struct mime_header *hdr, BIO *out)
{
	struct canon *c;
	int rc = CS_ERR_NOMEM;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CS_ERR_NOMEM;
	c->r = r;
	c->out = out;
	mime_header_init(&c->hdr);
	if ((c->obuf = malloc(CANON_OUT_SIZE)) == NULL ||
	    (c->look = malloc(MIME_LOOKAHEAD)) == NULL)
		goto out;
	if ((rc = cs_buf_put(&c->hdr.buf, hdr->buf.data, hdr->buf.len)) != 0)
		goto out;
	rc = canon_run(c);
out:
	mime_header_clear(&c->hdr);
	free(c->look);
	free(c->obuf);
	free(c);
	return rc;
}
