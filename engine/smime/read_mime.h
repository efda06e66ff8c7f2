/*
 * The little MIME the READ path needs, streaming and bounded: header blocks
 * kept as received (for output and for the signed range), Content-Type
 * parameters, mailbox addresses, and the body parts of a multipart entity
 * as sources whose bytes are exactly those between the delimiters (RFC 2046
 * 5.1.1: the line end before a delimiter belongs to the delimiter).
 *
 * Written here rather than through GMime because the reader is a chain of
 * pull streams (a decrypted or signed content is parsed while it is being
 * produced, never stored) and needs exact byte ranges; GMime's parser wants a
 * seekable stream of the whole entity.
 */
#ifndef CS_READ_MIME_H
#define CS_READ_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"
#include "read_io.h"

#define RD_MAX_HEADER_BLOCK (512u * 1024) /* all fields of one entity */
#define RD_MAX_FIELD (128u * 1024)        /* one field, folded lines included */
#define RD_MAX_FIELDS 1000
#define RD_MAX_BOUNDARY 200 /* RFC 2046 says 70; some senders exceed it */
#define RD_MAX_ADDR 256

struct rd_field {
	size_t off; /* where the field starts in raw */
	size_t len; /* its bytes, line ends included */
	size_t name_len;
	size_t value_off; /* where the value starts, after the colon (from off) */
};

/* A header block as received. */
struct rd_headers {
	struct cs_buf raw; /* the fields, byte for byte */
	struct rd_field *f;
	size_t n, cap;
	uint8_t end[2]; /* the empty line that ended the block ("\r\n" or "\n") */
	size_t end_len; /* 0: the block ended at the input's end or at a line that is no field */
	int crlf;       /* the first field ended with CRLF */
};

void rd_headers_init(struct rd_headers *h);
void rd_headers_free(struct rd_headers *h);

/*
 * Reads a header block. A first line that is not a field (no "name:")
 * means the entity has no header: nothing of it is consumed. Returns 0,
 * CS_ERR_TOO_LARGE past the limits above, or the input's error.
 */
int rd_headers_read(struct rd_in *in, struct rd_headers *h);

/* Nonzero if field i is named name (case-insensitive). */
int rd_field_is(const struct rd_headers *h, size_t i, const char *name);

/* Nonzero if field i is a Content-* field (they describe the entity, not the message). */
int rd_field_is_content(const struct rd_headers *h, size_t i);

/*
 * The unfolded value of the first field named name into a new string the
 * caller frees; *ret NULL when absent. Returns 0 or CS_ERR_NOMEM.
 */
int rd_header_get(const struct rd_headers *h, const char *name, char **ret);

struct rd_ctype {
	char type[32]; /* lower case; "text" when absent (RFC 2045 5.2) */
	char subtype[64];
	char boundary[RD_MAX_BOUNDARY + 1]; /* as given; "" when absent or unusable */
	char protocol[80];                  /* lower case */
	char micalg[128];                   /* lower case */
	char smime_type[32];                /* lower case */
	char name[256];                     /* name parameter, lower case */
};

/* Parses a Content-Type value (NULL: text/plain). Unknown parameters are ignored. */
void rd_ctype_parse(const char *value, struct rd_ctype *ct);

/*
 * Nonzero for an S/MIME protected entity: multipart/signed with a PKCS #7
 * protocol, application/(x-)pkcs7-mime, or an octet-stream named *.p7m.
 */
int rd_ctype_protected(const struct rd_ctype *ct);

/* Lower-cased Content-Transfer-Encoding token into out ("" when absent). */
void rd_cte_parse(const char *value, char *out, size_t size);

/*
 * The addr-specs of an address-list header value (display names, comments,
 * groups and routes removed), at most max of them. Returns how many.
 */
size_t rd_addr_list(const char *value, char (*out)[RD_MAX_ADDR], size_t max);

/* Same mailbox: local parts equal, domains equal ignoring case. */
int rd_addr_equal(const char *a, const char *b);

/*
 * One body part (or the preamble) of a multipart entity as a source. Its
 * bytes are those of the part exactly; tap, when set, sees each of them
 * once, in order (it hashes the signed part of a multipart/signed).
 */
struct rd_part {
	struct rd_src src;
	struct rd_in *in;
	char boundary[RD_MAX_BOUNDARY + 1];
	size_t blen;
	char pattern[RD_MAX_BOUNDARY + 3]; /* "\n--" boundary: where a delimiter may start */
	int at_line_start;
	uint8_t held[2]; /* a line end not yet given out: it may belong to a delimiter */
	size_t held_len;
	int ended;  /* this part met its delimiter or the input's end */
	int closed; /* ... and it was the close delimiter */
	int eof;    /* ... and it was the input's end */
	void (*tap)(void *arg, const uint8_t *p, size_t n);
	void *tap_arg;
};

/* Starts at the preamble; boundary must be 1..RD_MAX_BOUNDARY bytes. */
void rd_part_init(struct rd_part *p, struct rd_in *in, const char *boundary);

/* After a part ended at a delimiter: starts the next part. CS_ERR_BAD_FORMAT otherwise. */
int rd_part_next(struct rd_part *p);

#endif
