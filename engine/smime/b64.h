/*
 * Base64 (RFC 2045 6.8) as MIME wants it: encoded lines of 76 characters
 * ending in CRLF, table-driven and streaming. OpenSSL's BIO_f_base64 writes
 * LF only and is several times slower, so S/MIME output and input go
 * through this codec instead.
 */
#ifndef CS_B64_H
#define CS_B64_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#define B64_LINE_CHARS 76

/* Encoder state; zero it (or call b64_enc_init) before the first update. */
struct b64_enc {
	uint8_t carry[3]; /* input bytes not yet making a full group */
	unsigned ncarry;
	unsigned col; /* characters already on the current output line */
};

void b64_enc_init(struct b64_enc *e);

/* The most b64_enc_update or b64_enc_final can write for len input bytes. */
size_t b64_enc_bound(size_t len);

/*
 * Encodes len bytes into out (room for b64_enc_bound(len)) and returns how
 * many characters were written. A line break is written only when more
 * characters follow it, so the output never ends in a dangling CRLF.
 */
size_t b64_enc_update(struct b64_enc *e, const uint8_t *in, size_t len, char *out);

/*
 * Writes the last group with its padding and, when crlf_end is set and the
 * current line is not empty, a final CRLF. Returns the characters written
 * (at most 6) and resets e for reuse.
 */
size_t b64_enc_final(struct b64_enc *e, char *out, int crlf_end);

/* Decoder state; zero it (or call b64_dec_init) before the first update. */
struct b64_dec {
	uint32_t acc; /* sextets of the current group */
	unsigned nacc;
	unsigned npad; /* '=' seen: only padding and whitespace may follow */
};

void b64_dec_init(struct b64_dec *d);

/*
 * Decodes len characters into out (room for 3 * len / 4 + 3 bytes), skipping
 * CR, LF, space and tab. Returns the bytes written, or a negative
 * CS_ERR_BAD_FORMAT for a character outside the alphabet or data after
 * padding; *ret_len receives the byte count.
 */
int b64_dec_update(struct b64_dec *d, const char *in, size_t len, uint8_t *out, size_t *ret_len);

/*
 * Ends decoding: 0 when the input ended on a group boundary (with or without
 * padding), CS_ERR_TRUNCATED when a group was cut short. Writes the bytes of
 * an unpadded last group to out (at most 2) and sets *ret_len.
 */
int b64_dec_final(struct b64_dec *d, uint8_t *out, size_t *ret_len);

/*
 * A filter BIO that base64-encodes what is written to it into the next BIO
 * in the chain. Flush is passed on but ends nothing: only b64_bio_finish
 * writes the last group, so a flush travelling down a chain cannot cut the
 * encoding short.
 */
const BIO_METHOD *b64_bio_method(void);

/* A new encoding filter (push it onto the next BIO), or NULL. */
BIO *b64_bio_new(void);

/*
 * Writes the last group (and a CRLF when crlf_end) to the next BIO.
 * Returns 0, CS_ERR_INVALID_ARG when b is not such a filter, or CS_ERR_IO.
 */
int b64_bio_finish(BIO *b, int crlf_end);

#endif
