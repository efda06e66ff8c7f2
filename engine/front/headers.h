/*
 * The outer header block of a message the engine is asked to protect: read
 * (bounded) from the start of the stream, so that the account, the
 * recipients and the summary for the PIN dialog are known before the body
 * streams through; and rewritten when recipients are dropped or Bcc copies
 * are made. Addresses are parsed by GMime.
 */
#ifndef CS_HEADERS_H
#define CS_HEADERS_H

#include <stddef.h>

#include <openssl/bio.h>

#include "cs_buf.h"

#define CS_HEADERS_MAX (256 * 1024)

struct header_field {
	char *name;                 /* as written */
	char *raw;                  /* the whole field, folded lines included, with its line end */
	char *value;                /* unfolded value */
};

struct header_block {
	struct header_field *fields;
	size_t n;
	struct cs_buf raw;          /* after headers_read: the body bytes read past the blank line */
	const char *eol;            /* "\r\n" or "\n", as the message writes lines */
};

/* Reads the header block from in. CS_ERR_TOO_LARGE past CS_HEADERS_MAX, CS_ERR_BAD_FORMAT without a blank line. */
int headers_read(BIO *in, struct header_block *h);
void headers_clear(struct header_block *h);

/* The first field named name (case-insensitive), or NULL. */
const char *headers_get(const struct header_block *h, const char *name);

/* Addresses (lowercase) of every field named name, appended to list (a NULL-terminated array grown). */
int headers_addresses(const struct header_block *h, const char *name, char ***list, size_t *n);

void addresses_free(char **list, size_t n);

/*
 * Writes the header block to out without the fields named in drop_fields
 * (NULL-terminated) and, for To and Cc, without the addresses in
 * drop_addresses; ends with the blank line.
 */
int headers_write(const struct header_block *h, const char *const *drop_fields,
                  char *const *drop_addresses, size_t n_drop, struct cs_buf *out);

/* A BIO reading prefix first, then from next (which it does not own). */
BIO *concat_bio_new(const struct cs_buf *prefix, BIO *next);

#endif
