/*
 * A buffered line reader over a BIO for the MIME code: hands out lines
 * without their terminator (LF or CRLF), in segments when a line is longer
 * than the buffer, counts the bytes consumed and reports progress.
 */
#ifndef CS_MIME_READER_H
#define CS_MIME_READER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>

#include "cs_smime.h"

#define MIME_READER_BUF (256 * 1024)
#define MIME_PROGRESS_STEP (4u * 1024 * 1024) /* report every 4 MiB */

enum mime_eol {
	MIME_EOL_NONE = 0, /* the input ended without a line break, or the line continues */
	MIME_EOL_LF,
	MIME_EOL_CRLF,
};

/* One segment of a line; valid until the next call. */
struct mime_line {
	const uint8_t *data;
	size_t len;
	enum mime_eol eol;
	int first;   /* the segment starts a line */
	int partial; /* the line continues in the next segment */
};

struct mime_reader {
	BIO *in;
	uint8_t *buf;
	size_t pos, end;
	int eof;
	int continues;     /* the previous segment was partial */
	uint64_t consumed; /* bytes read from in */
	uint64_t next_report;
	cs_progress_cb progress;
	void *progress_arg;
};

/* Returns 0 or CS_ERR_NOMEM. progress may be NULL. */
int mime_reader_init(struct mime_reader *r, BIO *in, cs_progress_cb progress, void *arg);

/* Frees the buffer (safe on a zeroed or failed reader). */
void mime_reader_free(struct mime_reader *r);

/*
 * The next line segment: returns 1 and fills *ln, 0 at the end of the input,
 * or CS_ERR_IO when reading fails. A line is split only when it is longer
 * than MIME_READER_BUF; a CR that may start a CRLF is never split from it.
 */
int mime_reader_line(struct mime_reader *r, struct mime_line *ln);

/* Reports the final count to the progress callback. */
void mime_reader_report(struct mime_reader *r);

#endif
