/*
 * Canonical form of a MIME entity before signing (RFC 8551 3.1), streaming:
 * CRLF line ends everywhere, and every part whose content is not 7-bit safe
 * (8-bit bytes, NUL, bare CR or LF, lines over 998 characters) re-encoded:
 * quoted-printable for text, base64 for anything else. Parts already in
 * base64 or quoted-printable keep their encoding and only get CRLF line
 * ends (and base64 lines over 76 characters are cut to 76). Multiparts and
 * message/rfc822 are walked, never re-encoded.
 *
 * Memory is bounded whatever the input: a header block is capped at
 * MIME_HEADER_MAX, nesting at MIME_MAX_DEPTH multiparts, and a part that
 * might stay 7bit is held back at most MIME_LOOKAHEAD bytes to decide;
 * a longer one is encoded without looking further.
 */
#ifndef CS_MIME_CANON_H
#define CS_MIME_CANON_H

#include <openssl/bio.h>

#include "mime_header.h"
#include "mime_reader.h"

#define MIME_LOOKAHEAD (1024 * 1024)
#define MIME_MAX_DEPTH 32

/*
 * Writes to out the entity whose header block is hdr and whose body is the
 * rest of r: hdr's fields (Content-Transfer-Encoding rewritten where the
 * encoding changes), a blank line, then the canonical body. hdr is copied.
 * Preamble and epilogue lines that are not 7-bit safe are left out; a
 * multipart left open at the end of the input is closed.
 *
 * Returns 0; CS_ERR_BAD_FORMAT for malformed MIME (a header line without a
 * colon, a multipart without a usable boundary); CS_ERR_TOO_LARGE for a
 * header block over MIME_HEADER_MAX or nesting past MIME_MAX_DEPTH;
 * CS_ERR_IO when reading fails or writing fails without an OpenSSL error;
 * CS_ERR_INTERNAL when writing fails with one (left on the queue);
 * CS_ERR_NOMEM.
 */
int mime_canon_entity(struct mime_reader *r, const struct mime_header *hdr, BIO *out);

#endif
