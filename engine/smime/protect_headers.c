/*
 * The outer header block of a message to protect: read with the size cap,
 * then split between the outside (addressing, subject, threading) and the
 * protected entity (its Content-* fields).
 */
#include "protect_local.h"

#include "cs_error.h"

int
protect_headers_read(struct mime_reader *r, struct mime_header *h)
{
	struct mime_line ln;
	int rc;

	while ((rc = mime_reader_line(r, &ln)) == 1) {
		if (ln.first && !ln.partial && ln.len == 0) {
			/* The separator: a message has at least one field before it. */
			if (h->buf.len == 0)
				return CS_ERR_BAD_FORMAT;
			return mime_header_check(h);
		}
		if ((rc = mime_header_add(h, ln.data, ln.len, !ln.partial)) != 0)
			return rc;
	}
	/* Empty input, or no blank line between header and body: not a message. */
	return rc < 0 ? rc : CS_ERR_BAD_FORMAT;
}

static int
stays_outside(const struct mime_field *f)
{
	return !mime_field_is(f, "Bcc") && !mime_field_is(f, "Resent-Bcc") &&
	       !mime_field_is(f, "MIME-Version") && !mime_field_has_prefix(f, "Content-");
}

int
protect_headers_split(const struct mime_header *h, BIO *out, struct mime_header *content)
{
	struct mime_field f;
	size_t pos = 0;
	int r;

	while (mime_header_next(h, &pos, &f)) {
		if (stays_outside(&f)) {
			if ((r = protect_write(out, f.raw, f.raw_len)) != 0)
				return r;
		} else if (mime_field_has_prefix(&f, "Content-")) {
			if ((r = cs_buf_put(&content->buf, f.raw, f.raw_len)) != 0)
				return r;
		}
	}
	return 0;
}
