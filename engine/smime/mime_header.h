/*
 * MIME header blocks: collected line by line with a size cap (a huge header
 * is refused before anything parses it), walked field by field, and the two
 * fields the canonicalizer needs parsed: Content-Type (type, subtype,
 * boundary) and Content-Transfer-Encoding.
 */
#ifndef CS_MIME_HEADER_H
#define CS_MIME_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"

#define MIME_HEADER_MAX (64 * 1024) /* bytes per header block, CRLFs included */
#define MIME_BOUNDARY_MAX 200       /* RFC 2046 allows 70; be lenient, but bounded */
#define MIME_TOKEN_MAX 64

/* A header block, each line stored with a CRLF end; the blank line is not stored. */
struct mime_header {
	struct cs_buf buf;
	int open_line; /* the last line was stored without its end yet (a long line) */
};

void mime_header_init(struct mime_header *h);
void mime_header_clear(struct mime_header *h);
void mime_header_reset(struct mime_header *h);

/*
 * Appends a line segment; end says whether the line ends with it. Returns 0,
 * CS_ERR_TOO_LARGE past MIME_HEADER_MAX or CS_ERR_NOMEM.
 */
int mime_header_add(struct mime_header *h, const uint8_t *p, size_t len, int end);

/*
 * Checks the syntax: every field is a name of printable ASCII other than
 * ':' and space, then ':'; continuation lines start with a space or a tab
 * and never come first. Returns 0 or CS_ERR_BAD_FORMAT.
 */
int mime_header_check(const struct mime_header *h);

/* One field: name, value (after the colon, folds kept) and the raw lines (CRLFs included). */
struct mime_field {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
	const uint8_t *raw;
	size_t raw_len;
};

/* The field at *pos (start with 0): returns 1 and advances *pos, or 0 at the end. */
int mime_header_next(const struct mime_header *h, size_t *pos, struct mime_field *f);

/* Whether the field's name is name (ASCII, case-insensitive). */
int mime_field_is(const struct mime_field *f, const char *name);

/* Whether the field's name starts with prefix (ASCII, case-insensitive). */
int mime_field_has_prefix(const struct mime_field *f, const char *prefix);

struct mime_ctype {
	char type[MIME_TOKEN_MAX]; /* lower case; "" when the field is absent or unreadable */
	char subtype[MIME_TOKEN_MAX];
	char boundary[MIME_BOUNDARY_MAX + 1];
	size_t boundary_len; /* 0: no boundary parameter */
};

/*
 * Parses a Content-Type value (comments and folds allowed; RFC 2231
 * continuations are not). An unreadable type leaves type and subtype empty;
 * returns CS_ERR_BAD_FORMAT only for a boundary that is empty, too long or
 * has characters RFC 2046 does not allow.
 */
int mime_parse_ctype(const uint8_t *v, size_t len, struct mime_ctype *ct);

enum mime_cte {
	MIME_CTE_NONE = 0, /* absent: 7bit */
	MIME_CTE_7BIT,
	MIME_CTE_8BIT,
	MIME_CTE_BINARY,
	MIME_CTE_BASE64,
	MIME_CTE_QP,
	MIME_CTE_OTHER, /* an x-token or something unreadable */
};

enum mime_cte mime_parse_cte(const uint8_t *v, size_t len);

#endif
