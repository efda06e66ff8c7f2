/*
 * Fuzz target: the frame parser and the field reader, as a server meets them.
 * Parses every frame in the input, then reads each body as a sequence of
 * fields chosen by the body's own bytes, so every getter meets hostile data.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "cs_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
read_fields(const uint8_t *body, size_t n)
{
	struct cs_reader r;
	const uint8_t *p;
	size_t len;
	char *s;

	cs_reader_init(&r, body, n);
	while (r.left > 0 && r.failed == 0) {
		switch (cs_read_u8(&r) % 5) {
		case 0:
			(void)cs_read_u32(&r);
			break;
		case 1:
			(void)cs_read_u64(&r);
			break;
		case 2:
			cs_read_bytes(&r, 4096, &p, &len);
			break;
		case 3:
			cs_read_str(&r, 256, &s);
			free(s);
			break;
		default:
			(void)cs_read_u8(&r);
			break;
		}
	}
	(void)cs_reader_finish(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_frame_view f;
	size_t used;

	while (cs_frame_parse(data, size, 64 * 1024, &f, &used) == 0) {
		read_fields(f.body, f.body_len);
		data += used;
		size -= used;
	}
	return 0;
}
