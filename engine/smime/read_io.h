/*
 * Pull streams for the READ path. Every stage of cs_read (the input BIO, a
 * base64 body, one part of a multipart, the octets of a CMS OCTET STRING, a
 * decrypted content) is a source that hands out bytes on request; a stage
 * reads the stage below it through a bounded buffer (struct rd_in). Nothing
 * holds more than one buffer of a message, whatever its size.
 */
#ifndef CS_READ_IO_H
#define CS_READ_IO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#include "cs_smime.h"

/* Buffer of each rd_in; big enough that per-call overhead disappears at GB/s. */
#define RD_BUF_SIZE (64u * 1024)

/*
 * A source: fills buf with up to cap (> 0) bytes and sets *ret_n; *ret_n == 0
 * means the end. Returns 0 or a negative CS_ERR_*. After an error or the end,
 * further calls repeat it.
 */
struct rd_src {
	int (*read)(struct rd_src *s, uint8_t *buf, size_t cap, size_t *ret_n);
};

/* A buffered reader over a source, with look-ahead. */
struct rd_in {
	struct rd_src *src;
	uint8_t *buf;
	size_t cap;
	size_t pos;     /* next unread byte */
	size_t len;     /* end of valid bytes */
	int eof;        /* the source has ended */
	int err;        /* first error of the source, sticky */
	uint64_t total; /* bytes consumed so far (offset of buf[pos]) */
};

/* Returns 0 or CS_ERR_NOMEM; cap 0 means RD_BUF_SIZE. */
int rd_in_init(struct rd_in *in, struct rd_src *src, size_t cap);
void rd_in_free(struct rd_in *in);

/*
 * Makes at least want (<= cap) bytes readable at rd_in_ptr(), fewer only when
 * the source ends first. Returns 0 or the source's error.
 */
int rd_in_fill(struct rd_in *in, size_t want);

static inline size_t
rd_in_avail(const struct rd_in *in)
{
	return in->len - in->pos;
}

static inline const uint8_t *
rd_in_ptr(const struct rd_in *in)
{
	return in->buf + in->pos;
}

/* Consumes n <= rd_in_avail() bytes. */
void rd_in_consume(struct rd_in *in, size_t n);

/* Copies up to cap bytes out; *ret_n 0 only at the end. Returns 0 or an error. */
int rd_in_read(struct rd_in *in, uint8_t *buf, size_t cap, size_t *ret_n);

/* Exactly n bytes, or CS_ERR_TRUNCATED. */
int rd_in_read_exact(struct rd_in *in, uint8_t *buf, size_t n);

/* Skips n bytes, or CS_ERR_TRUNCATED. */
int rd_in_skip(struct rd_in *in, uint64_t n);

/* Reads and drops everything up to the end. Returns 0 or an error. */
int rd_in_drain(struct rd_in *in);

/*
 * After the end (rd_in_drain), reads on from a source that has more to give
 * (the next part of a multipart). An error stays.
 */
void rd_in_rearm(struct rd_in *in);

/* An rd_in seen as a source (what is left of it). */
struct rd_in_src {
	struct rd_src src;
	struct rd_in *in;
};
void rd_in_src_init(struct rd_in_src *s, struct rd_in *in);

/* A BIO as a source, reporting progress every few MiB. */
struct rd_bio_src {
	struct rd_src src;
	BIO *bio;
	uint64_t done;
	uint64_t reported;
	cs_progress_cb progress;
	void *progress_arg;
};
void rd_bio_src_init(struct rd_bio_src *s, BIO *bio, cs_progress_cb progress, void *arg);

/* Borrowed memory as a source. */
struct rd_mem_src {
	struct rd_src src;
	const uint8_t *p;
	size_t left;
};
void rd_mem_src_init(struct rd_mem_src *s, const void *p, size_t n);

/* A source that shows every byte it passes on to tap (to hash a signed content). */
struct rd_tap_src {
	struct rd_src src;
	struct rd_src *inner;
	void (*tap)(void *arg, const uint8_t *p, size_t n);
	void *tap_arg;
};
void rd_tap_src_init(struct rd_tap_src *s, struct rd_src *inner,
                     void (*tap)(void *arg, const uint8_t *p, size_t n), void *arg);

/*
 * Base64 (RFC 2045) decoder over an rd_in that holds the encoded body. CR,
 * LF, space and tab are skipped; any other byte outside the alphabet, data
 * after the padding, or a dangling quantum is CS_ERR_BAD_FORMAT.
 */
struct rd_b64_src {
	struct rd_src src;
	struct rd_in *in;
	uint32_t acc;     /* bits of the quantum being collected */
	unsigned nacc;    /* sextets in acc */
	unsigned npad;    /* '=' seen */
	uint8_t stash[3]; /* decoded bytes that did not fit the caller's buffer */
	unsigned nstash, stash_pos;
	int done;
};
void rd_b64_src_init(struct rd_b64_src *s, struct rd_in *in);

/*
 * Where output goes: straight to a BIO, or (while any layer is encrypted) to
 * a spill file that is copied to the BIO only once everything verified.
 */
struct spill;
struct rd_sink {
	BIO *out;
	struct spill *spill;
};

/* Returns 0, CS_ERR_IO or the spill's error. */
int rd_sink_write(struct rd_sink *k, const void *p, size_t n);

#endif
