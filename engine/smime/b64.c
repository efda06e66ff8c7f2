/*
 * The base64 codec behind b64.h: plain table lookups, a fast path for whole
 * 57-byte input lines, CRLF line ends.
 */
#include "b64.h"

#include <string.h>

#include "cs_error.h"

#define B64_LINE_BYTES 57 /* input bytes per full output line */

static const char b64_alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * Decoding table: 1 + the sextet for the alphabet, so that the zero every
 * other entry gets means "not base64"; whitespace and padding are marked.
 */
#define B64_BAD 0
#define B64_SKIP 0xfe
#define B64_PAD 0xfd

/* clang-format off */
static const uint8_t b64_values[256] = {
	['\r'] = B64_SKIP, ['\n'] = B64_SKIP, [' '] = B64_SKIP, ['\t'] = B64_SKIP,
	['='] = B64_PAD,
	['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7,
	['H'] = 8, ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
	['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
	['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
	['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
	['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
	['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
	['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
	['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
	['/'] = 64,
};
/* clang-format on */

void
b64_enc_init(struct b64_enc *e)
{
	memset(e, 0, sizeof(*e));
}

size_t
b64_enc_bound(size_t len)
{
	size_t chars = (len + 2 + 3) / 3 * 4; /* plus one carried group */

	return chars + (chars / B64_LINE_CHARS + 2) * 2;
}

static inline char *
put_group(const uint8_t *p, char *o)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

	o[0] = b64_alphabet[v >> 18];
	o[1] = b64_alphabet[(v >> 12) & 63];
	o[2] = b64_alphabet[(v >> 6) & 63];
	o[3] = b64_alphabet[v & 63];
	return o + 4;
}

/* One group at the current column, breaking the line first when it is full. */
static inline char *
put_group_at_col(struct b64_enc *e, const uint8_t *p, char *o)
{
	if (e->col == B64_LINE_CHARS) {
		*o++ = '\r';
		*o++ = '\n';
		e->col = 0;
	}
	e->col += 4;
	return put_group(p, o);
}

size_t
b64_enc_update(struct b64_enc *e, const uint8_t *in, size_t len, char *out)
{
	char *o = out;
	int i;

	while (e->ncarry > 0 && len > 0) {
		e->carry[e->ncarry++] = *in++;
		len--;
		if (e->ncarry == 3) {
			o = put_group_at_col(e, e->carry, o);
			e->ncarry = 0;
		}
	}
	while (len >= 3) {
		if (e->col == B64_LINE_CHARS) {
			*o++ = '\r';
			*o++ = '\n';
			e->col = 0;
		}
		if (e->col == 0 && len >= B64_LINE_BYTES) {
			for (i = 0; i < B64_LINE_BYTES / 3; i++)
				o = put_group(in + 3 * i, o);
			in += B64_LINE_BYTES;
			len -= B64_LINE_BYTES;
			e->col = B64_LINE_CHARS;
			continue;
		}
		o = put_group_at_col(e, in, o);
		in += 3;
		len -= 3;
	}
	while (len > 0) {
		e->carry[e->ncarry++] = *in++;
		len--;
	}
	return (size_t)(o - out);
}

size_t
b64_enc_final(struct b64_enc *e, char *out, int crlf_end)
{
	char *o = out;

	if (e->ncarry > 0) {
		uint8_t last[3] = {e->carry[0], e->ncarry > 1 ? e->carry[1] : 0, 0};

		o = put_group_at_col(e, last, o);
		o[-1] = '=';
		if (e->ncarry == 1)
			o[-2] = '=';
	}
	if (crlf_end && e->col > 0) {
		*o++ = '\r';
		*o++ = '\n';
	}
	b64_enc_init(e);
	return (size_t)(o - out);
}

void
b64_dec_init(struct b64_dec *d)
{
	memset(d, 0, sizeof(*d));
}

int
b64_dec_update(struct b64_dec *d, const char *in, size_t len, uint8_t *out, size_t *ret_len)
{
	uint8_t *o = out;
	size_t i;

	*ret_len = 0;
	for (i = 0; i < len; i++) {
		uint8_t v = b64_values[(unsigned char)in[i]];

		if (v == B64_SKIP)
			continue;
		if (v == B64_BAD)
			return CS_ERR_BAD_FORMAT;
		if (v == B64_PAD) {
			/* Padding completes a group of two or three sextets, at most twice. */
			if (d->nacc + d->npad < 2 || d->nacc + d->npad >= 4)
				return CS_ERR_BAD_FORMAT;
			d->npad++;
			if (d->nacc + d->npad == 4) {
				if (d->nacc == 2) {
					*o++ = (uint8_t)(d->acc >> 4);
				} else {
					*o++ = (uint8_t)(d->acc >> 10);
					*o++ = (uint8_t)(d->acc >> 2);
				}
				d->acc = 0;
				d->nacc = 0;
				d->npad = 4; /* closed: only whitespace may follow */
			}
			continue;
		}
		if (d->npad > 0)
			return CS_ERR_BAD_FORMAT;
		d->acc = d->acc << 6 | (uint32_t)(v - 1);
		if (++d->nacc == 4) {
			*o++ = (uint8_t)(d->acc >> 16);
			*o++ = (uint8_t)(d->acc >> 8);
			*o++ = (uint8_t)d->acc;
			d->acc = 0;
			d->nacc = 0;
		}
	}
	*ret_len = (size_t)(o - out);
	return 0;
}

int
b64_dec_final(struct b64_dec *d, uint8_t *out, size_t *ret_len)
{
	int r = 0;

	*ret_len = 0;
	if (d->npad > 0 && d->npad < 4) {
		r = CS_ERR_TRUNCATED;
	} else if (d->nacc == 1) {
		r = CS_ERR_TRUNCATED;
	} else if (d->nacc == 2) {
		out[0] = (uint8_t)(d->acc >> 4);
		*ret_len = 1;
	} else if (d->nacc == 3) {
		out[0] = (uint8_t)(d->acc >> 10);
		out[1] = (uint8_t)(d->acc >> 2);
		*ret_len = 2;
	}
	b64_dec_init(d);
	return r;
}
