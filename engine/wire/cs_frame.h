/*
 * Framing shared by the public protocol (clients <-> cardseald) and the
 * internal one (cardseald <-> cardseal-keyd):
 *
 *   u32 length   big-endian, counts the bytes after itself (type + id + body)
 *   u8  type     message type
 *   u32 id       request id; a reply or event echoes the request's id
 *   ...          the typed body
 *
 * The length is checked against the receiver's limit as soon as its four
 * bytes are in, before anything else is buffered.
 */
#ifndef CS_FRAME_H
#define CS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"

#define CS_FRAME_LEN_SIZE 4
#define CS_FRAME_HEADER_SIZE 9                 /* length + type + id */
#define CS_FRAME_MIN_LENGTH 5                  /* type + id, empty body */
#define CS_FRAME_DEFAULT_MAX (1024u * 1024)    /* limit on the length field */

/* One frame, its body borrowed from the bytes it was parsed from. */
struct cs_frame_view {
	uint8_t type;
	uint32_t id;
	const uint8_t *body;
	size_t body_len;
};

/*
 * Parses the frame at the start of p[0..n). Returns 0 with *ret filled and
 * *ret_used set to the frame's total size; CS_ERR_AGAIN when more bytes are
 * needed (*ret_used is then the total size needed, or 0 while the length is
 * incomplete); CS_ERR_TOO_LARGE when the length is over max; CS_ERR_BAD_FORMAT
 * when it is under the minimum. Nothing is allocated.
 */
int cs_frame_parse(const uint8_t *p, size_t n, size_t max, struct cs_frame_view *ret,
                   size_t *ret_used);

/* Appends a whole frame to out. Returns 0, CS_ERR_TOO_LARGE or CS_ERR_NOMEM. */
int cs_frame_append(struct cs_buf *out, uint8_t type, uint32_t id, const void *body,
                    size_t body_len);

/*
 * Blocking I/O on a descriptor (the keyd socketpair, a simple client).
 * cs_frame_read() reads exactly one frame into `storage` (reset first) and
 * points *ret into it. Returns 0, CS_ERR_EOF on a clean close before the first
 * byte, CS_ERR_TRUNCATED on a close inside a frame, CS_ERR_TOO_LARGE,
 * CS_ERR_BAD_FORMAT or CS_ERR_IO.
 */
int cs_frame_read(int fd, size_t max, struct cs_buf *storage, struct cs_frame_view *ret);

/* Writes one frame completely. Returns 0, CS_ERR_IO or CS_ERR_EOF (peer gone). */
int cs_frame_write(int fd, uint8_t type, uint32_t id, const void *body, size_t body_len);

/* Writes n bytes completely, retrying on EINTR and short writes; no SIGPIPE. */
int cs_write_all(int fd, const void *p, size_t n);

#endif
