/*
 * The line reader of mime_reader.h. Lines are found with memchr in a fixed
 * buffer; the unread tail moves to the front before each refill, which costs
 * at most one line per refill.
 */
#include "mime_reader.h"

#include <stdlib.h>
#include <string.h>

#include "cs_error.h"

int
mime_reader_init(struct mime_reader *r, BIO *in, cs_progress_cb progress, void *arg)
{
	memset(r, 0, sizeof(*r));
	if ((r->buf = malloc(MIME_READER_BUF)) == NULL)
		return CS_ERR_NOMEM;
	r->in = in;
	r->progress = progress;
	r->progress_arg = arg;
	r->next_report = MIME_PROGRESS_STEP;
	return 0;
}

void
mime_reader_free(struct mime_reader *r)
{
	free(r->buf);
	r->buf = NULL;
}

void
mime_reader_report(struct mime_reader *r)
{
	if (r->progress != NULL)
		r->progress(r->progress_arg, r->consumed);
}

/* Moves the unread bytes to the front and reads more; sets eof at the end. */
static int
fill(struct mime_reader *r)
{
	int n;

	if (r->pos > 0) {
		memmove(r->buf, r->buf + r->pos, r->end - r->pos);
		r->end -= r->pos;
		r->pos = 0;
	}
	while (r->end < MIME_READER_BUF) {
		n = BIO_read(r->in, r->buf + r->end, (int)(MIME_READER_BUF - r->end));
		if (n == 0) {
			r->eof = 1;
			return 0;
		}
		if (n < 0) {
			/* A memory BIO reports its end as a retry unless told otherwise. */
			if (BIO_eof(r->in) == 1) {
				r->eof = 1;
				return 0;
			}
			return CS_ERR_IO;
		}
		r->end += (size_t)n;
		r->consumed += (uint64_t)n;
		if (r->progress != NULL && r->consumed >= r->next_report) {
			r->progress(r->progress_arg, r->consumed);
			r->next_report = r->consumed + MIME_PROGRESS_STEP;
		}
		/* One read per fill keeps latency low; the caller asks again if no line is found.
		 */
		return 0;
	}
	return 0;
}

int
mime_reader_line(struct mime_reader *r, struct mime_line *ln)
{
	const uint8_t *start, *lf;
	size_t avail;
	int rc;

	for (;;) {
		start = r->buf + r->pos;
		avail = r->end - r->pos;
		lf = avail > 0 ? memchr(start, '\n', avail) : NULL;
		if (lf != NULL) {
			ln->data = start;
			ln->len = (size_t)(lf - start);
			ln->eol = MIME_EOL_LF;
			if (ln->len > 0 && start[ln->len - 1] == '\r') {
				ln->len--;
				ln->eol = MIME_EOL_CRLF;
			}
			r->pos += (size_t)(lf - start) + 1;
			break;
		}
		if (r->eof) {
			if (avail == 0)
				return 0;
			ln->data = start;
			ln->len = avail;
			ln->eol = MIME_EOL_NONE;
			r->pos = r->end;
			break;
		}
		if (avail == MIME_READER_BUF) {
			/* A line longer than the buffer: hand out all but a trailing CR. */
			ln->data = start;
			ln->len = start[avail - 1] == '\r' ? avail - 1 : avail;
			ln->eol = MIME_EOL_NONE;
			r->pos += ln->len;
			ln->first = !r->continues;
			ln->partial = 1;
			r->continues = 1;
			return 1;
		}
		if ((rc = fill(r)) != 0)
			return rc;
	}
	ln->first = !r->continues;
	ln->partial = 0;
	r->continues = 0;
	return 1;
}
