/*
 * The quoted-printable encoder of mime_qp.h. Encoded lines are at most 76
 * characters: 75 of text and the '=' of a soft line break.
 */
#include "mime_qp.h"

#include <string.h>

#define QP_TEXT_MAX 75

static const char qp_hex[16] = "0123456789ABCDEF";
static const char qp_from[5] = "From ";

void
qp_enc_init(struct qp_enc *e)
{
	memset(e, 0, sizeof(*e));
}

size_t
qp_enc_bound(size_t len)
{
	/* Each byte up to "=XX", a soft break per 25 of those, plus what is held back. */
	size_t chars = 3 * (len + 8);

	return chars + (chars / 24 + 2) * 3;
}

/* Puts a token of n characters (1 or 3) on the line, after a soft break if it would not fit. */
static inline char *
put_token(struct qp_enc *e, char *o, const char *tok, unsigned n)
{
	if (e->col + n > QP_TEXT_MAX) {
		*o++ = '=';
		*o++ = '\r';
		*o++ = '\n';
		e->col = 0;
	}
	memcpy(o, tok, n);
	e->col += n;
	return o + n;
}

static inline char *
put_encoded(struct qp_enc *e, char *o, uint8_t c)
{
	char tok[3] = {'=', qp_hex[c >> 4], qp_hex[c & 15]};

	return put_token(e, o, tok, 3);
}

static inline char *
put_literal(struct qp_enc *e, char *o, uint8_t c)
{
	char tok = (char)c;

	return put_token(e, o, &tok, 1);
}

/* Writes a held space or tab: literally when text follows it, encoded at a line end. */
static char *
release_ws(struct qp_enc *e, char *o, int at_line_end)
{
	if (e->held_ws != 0) {
		o = at_line_end ? put_encoded(e, o, (uint8_t)e->held_ws)
		                : put_literal(e, o, (uint8_t)e->held_ws);
		e->held_ws = 0;
	}
	return o;
}

/* Writes held bytes of an incomplete "From " match as the plain letters they are. */
static char *
release_from(struct qp_enc *e, char *o)
{
	unsigned i;

	for (i = 0; i < e->from_len; i++)
		o = put_literal(e, o, (uint8_t)qp_from[i]);
	e->from_len = 0;
	return o;
}

/* A byte that is neither CR nor part of a held "From ". */
static char *
put_byte(struct qp_enc *e, char *o, uint8_t c)
{
	o = release_ws(e, o, 0);
	e->mid_line = 1;
	if (c == ' ' || c == '\t')
		e->held_ws = c;
	else if (c >= 33 && c <= 126 && c != '=')
		o = put_literal(e, o, c);
	else
		o = put_encoded(e, o, c);
	return o;
}

static char *
hard_break(struct qp_enc *e, char *o)
{
	o = release_from(e, o);
	o = release_ws(e, o, 1);
	*o++ = '\r';
	*o++ = '\n';
	e->col = 0;
	e->mid_line = 0;
	return o;
}

size_t
qp_enc_update(struct qp_enc *e, const uint8_t *in, size_t len, char *out)
{
	char *o = out;
	size_t i;

	for (i = 0; i < len; i++) {
		uint8_t c = in[i];

		if (e->pending_cr) {
			e->pending_cr = 0;
			if (c == '\n') {
				o = hard_break(e, o);
				continue;
			}
			o = release_from(e, o);
			o = put_byte(e, o, '\r');
		}
		if (c == '\r') {
			e->pending_cr = 1;
			continue;
		}
		if (!e->mid_line && e->from_len < sizeof(qp_from) &&
		    c == (uint8_t)qp_from[e->from_len]) {
			if (++e->from_len < sizeof(qp_from))
				continue;
			/* A whole "From ": encode the F, the rest goes on as usual. */
			e->from_len = 0;
			e->mid_line = 1;
			o = put_encoded(e, o, 'F');
			o = put_literal(e, o, 'r');
			o = put_literal(e, o, 'o');
			o = put_literal(e, o, 'm');
			o = put_byte(e, o, ' ');
			continue;
		}
		o = release_from(e, o);
		o = put_byte(e, o, c);
	}
	return (size_t)(o - out);
}

size_t
qp_enc_final(struct qp_enc *e, char *out)
{
	char *o = out;

	o = release_from(e, o);
	if (e->pending_cr) {
		o = put_byte(e, o, '\r');
		e->pending_cr = 0;
	}
	o = release_ws(e, o, 1);
	qp_enc_init(e);
	return (size_t)(o - out);
}
