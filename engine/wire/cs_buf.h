/*
 * Checked byte buffers: a growable writer and a bounds-checked reader.
 *
 * All integers are big-endian. A byte string is a u32 length followed by the
 * bytes. A buffer may hold secrets (a PIN on its way to pinentry, a content
 * key), so every free and reset wipes the memory first.
 */
#ifndef CS_BUF_H
#define CS_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A growable buffer that never grows past its limit. */
struct cs_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;     /* hard limit on len; appends past it fail with CS_ERR_TOO_LARGE */
};

/* Default limit for a buffer whose owner did not choose one (16 MiB). */
#define CS_BUF_DEFAULT_MAX (16u * 1024 * 1024)

/* Initialises an empty buffer with limit max (0 means CS_BUF_DEFAULT_MAX). */
void cs_buf_init(struct cs_buf *b, size_t max);

/* Wipes and frees the contents; the buffer is empty and reusable afterwards. */
void cs_buf_clear(struct cs_buf *b);

/* Wipes the contents but keeps the allocation; len becomes 0. */
void cs_buf_reset(struct cs_buf *b);

/* Each append returns 0, CS_ERR_TOO_LARGE past the limit or CS_ERR_NOMEM. */
int cs_buf_put(struct cs_buf *b, const void *p, size_t n);
int cs_buf_put_u8(struct cs_buf *b, uint8_t v);
int cs_buf_put_u32(struct cs_buf *b, uint32_t v);
int cs_buf_put_u64(struct cs_buf *b, uint64_t v);
/* A byte string: u32 length, then the bytes. */
int cs_buf_put_bytes(struct cs_buf *b, const void *p, size_t n);
/* A text string as a byte string without the terminating NUL; NULL is "". */
int cs_buf_put_str(struct cs_buf *b, const char *s);

/* Reserves n bytes at the end and returns where they start (or NULL on failure). */
uint8_t *cs_buf_reserve(struct cs_buf *b, size_t n);

/*
 * A read cursor over borrowed memory. Reads past the end set `failed`
 * instead of returning an error each, so a message is read field by field and
 * checked once with cs_reader_finish(). A failed read yields zero or empty.
 */
struct cs_reader {
	const uint8_t *p;
	size_t left;
	int failed;     /* 0, or the first error met */
};

void cs_reader_init(struct cs_reader *r, const void *p, size_t n);

uint8_t cs_read_u8(struct cs_reader *r);
uint32_t cs_read_u32(struct cs_reader *r);
uint64_t cs_read_u64(struct cs_reader *r);

/*
 * A byte string of at most max bytes: *ret_p points into the reader's memory,
 * valid as long as that memory is. On failure *ret_p is NULL and *ret_n 0.
 */
void cs_read_bytes(struct cs_reader *r, size_t max, const uint8_t **ret_p, size_t *ret_n);

/*
 * A text string of at most max bytes, copied into a new NUL-terminated string
 * the caller frees. Embedded NUL bytes make the read fail (CS_ERR_BAD_FORMAT).
 * On failure *ret is NULL.
 */
void cs_read_str(struct cs_reader *r, size_t max, char **ret);

/* Marks the reader failed with err (first error wins), e.g. for a bad value. */
void cs_reader_fail(struct cs_reader *r, int err);

/* Returns the first error met, CS_ERR_TRAILING if bytes are left, or 0. */
int cs_reader_finish(const struct cs_reader *r);

/* Overwrites n bytes at p with zeros in a way the compiler keeps. */
void cs_wipe(void *p, size_t n);

#endif
