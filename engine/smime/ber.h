/*
 * A pull-based BER walker (X.690) over an rd_in, for CMS structures that may
 * be gigabytes long: indefinite lengths, constructed (chunked) OCTET STRINGs
 * of any depth up to BER_MAX_DEPTH. It never buffers a value unless asked to
 * capture it, and then only up to the caller's cs_buf limit. It checks that
 * every element fits the container around it and that containers end where
 * their length says.
 *
 * Also a minimal DER writer, to build content-free CMS structures from
 * captured parts.
 */
#ifndef CS_BER_H
#define CS_BER_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"
#include "read_io.h"

#define BER_MAX_DEPTH 32
/* Longest definite length accepted; far above any message, far below overflow. */
#define BER_MAX_LEN ((uint64_t)1 << 48)

/* First identifier octets met in CMS (universal class, and context-specific [n]). */
#define BER_INTEGER 0x02
#define BER_OCTETS 0x04
#define BER_OID 0x06
#define BER_SEQ 0x30
#define BER_SET 0x31
#define BER_CTX(n) (0x80 | (n))      /* [n] primitive */
#define BER_CTX_CONS(n) (0xa0 | (n)) /* [n] constructed */
#define BER_CONS_BIT 0x20

struct ber_tlv {
	uint8_t id;      /* first identifier octet (low bits 0x1f for tag numbers >= 31) */
	uint32_t tag;    /* tag number */
	int cons;        /* constructed */
	int indef;       /* indefinite length (constructed only) */
	uint64_t len;    /* content length, when definite */
	uint8_t hdr[16]; /* identifier and length octets as read */
	size_t hdr_len;
};

struct ber {
	struct rd_in *in;
	int depth; /* open containers */
	struct {
		int indef;
		uint64_t end; /* offset (in->total) of the end, when definite */
	} st[BER_MAX_DEPTH];
};

void ber_init(struct ber *b, struct rd_in *in);

/*
 * Sets *ret_end when the open container has no further element (at depth 0:
 * the input has ended). The end-of-contents octets of an indefinite
 * container are left for ber_leave. Returns 0 or an error.
 */
int ber_at_end(struct ber *b, int *ret_end);

/*
 * Reads the identifier and length of the next element of the open container.
 * Returns 0, CS_ERR_TRUNCATED, CS_ERR_TOO_LARGE (length over BER_MAX_LEN) or
 * CS_ERR_BAD_FORMAT (an element that would overrun its container, an
 * end-of-contents where an element must be, an indefinite primitive).
 */
int ber_next(struct ber *b, struct ber_tlv *t);

/* ber_next, then CS_ERR_BAD_FORMAT unless the identifier octet is id. */
int ber_expect(struct ber *b, uint8_t id, struct ber_tlv *t);

/* The identifier octet of the next element without consuming it; 0 if the container ended. */
int ber_peek(struct ber *b, uint8_t *ret_id);

/* Opens the constructed element t (just read); CS_ERR_TOO_LARGE past BER_MAX_DEPTH. */
int ber_enter(struct ber *b, const struct ber_tlv *t);

/* Closes the open container, which must be at its end (CS_ERR_BAD_FORMAT otherwise). */
int ber_leave(struct ber *b);

/* Skips the value of t (just read), whatever it holds. */
int ber_skip(struct ber *b, const struct ber_tlv *t);

/* Skips the remaining elements of the open container, without closing it. */
int ber_skip_rest(struct ber *b);

/*
 * Appends t (just read) to out: its header and its whole value as received,
 * nested indefinite lengths included. CS_ERR_TOO_LARGE past out's limit.
 */
int ber_capture(struct ber *b, const struct ber_tlv *t, struct cs_buf *out);

/* Reads the value of the primitive t into buf; CS_ERR_TOO_LARGE if over cap. */
int ber_read_prim(struct ber *b, const struct ber_tlv *t, uint8_t *buf, size_t cap, size_t *ret_n);

/*
 * The content octets of an OCTET STRING (or an implicitly tagged one) as a
 * source: primitive, or constructed of nested OCTET STRINGs (as many levels
 * as BER_MAX_DEPTH allows). At the end the walker stands after the element.
 */
struct ber_octets {
	struct rd_src src;
	struct ber *b;
	int base_depth;
	uint64_t left; /* bytes left in the current primitive segment */
	int done;
};
int ber_octets_init(struct ber_octets *o, struct ber *b, const struct ber_tlv *t);

/* DER: appends an identifier octet and a definite length. Returns 0 or a cs_buf error. */
int der_put_hdr(struct cs_buf *b, uint8_t id, size_t len);

/* DER: appends id, length and the n bytes at p. */
int der_put(struct cs_buf *b, uint8_t id, const void *p, size_t n);

/* DER: length of the identifier and length octets for a content of len bytes. */
size_t der_hdr_len(size_t len);

/*
 * DER: appends ContentInfo ::= SEQUENCE { oid, [0] EXPLICIT SEQUENCE { parts } }
 * where parts are n elements already encoded (an empty one is left out).
 */
int der_content_info(struct cs_buf *out, const uint8_t *oid, size_t oid_len,
                     const struct cs_buf *const *parts, size_t n);

#endif
