/*
 * Quoted-printable encoding (RFC 2045 6.7) of canonical text, streaming:
 * CRLF in the input is a line break, every other byte that is not printable
 * ASCII (bare CR and LF included) is encoded, lines stay within 76
 * characters, whitespace before a line end is encoded, and "From " at the
 * start of a line becomes "=46rom " so that mbox storage cannot alter a
 * signed line.
 */
#ifndef CS_MIME_QP_H
#define CS_MIME_QP_H

#include <stddef.h>
#include <stdint.h>

/* Encoder state; zero it (or call qp_enc_init) before the first update. */
struct qp_enc {
	unsigned col;      /* characters on the current output line */
	unsigned from_len; /* bytes of "From " held at the start of a line */
	int mid_line;      /* a byte of this input line has been seen */
	int pending_cr;    /* a CR that may start a CRLF */
	int held_ws;       /* a space or tab whose encoding depends on what follows; 0 if none */
};

void qp_enc_init(struct qp_enc *e);

/* The most qp_enc_update or qp_enc_final can write for len input bytes. */
size_t qp_enc_bound(size_t len);

/* Encodes len bytes into out (room for qp_enc_bound(len)); returns the characters written. */
size_t qp_enc_update(struct qp_enc *e, const uint8_t *in, size_t len, char *out);

/*
 * Ends the text: what was held back is written as at the end of a line, with
 * no line break after it. Returns the characters written; resets e.
 */
size_t qp_enc_final(struct qp_enc *e, char *out);

#endif
