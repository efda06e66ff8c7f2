/*
 * Fuzz target: keyd's request parsers, as keyd meets the front's frames.
 * The input is a stream of frames; each body goes to the parser its type
 * names (sign, decrypt, derive), and every parsed field is touched so the
 * sanitizers see any read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_buf.h"
#include "cs_frame.h"
#include "cs_keyd_msg.h"
#include "keyd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint8_t sink;

static void
touch(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; p != NULL && i < n; i++)
		sink ^= p[i];
}

static void
parse_body(uint8_t type, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	struct keyd_context ctx;
	struct tok_sign_request sreq;
	struct tok_decrypt_request dreq;
	const uint8_t *peer = NULL;
	size_t peer_len = 0;
	char *key_uri = NULL;

	memset(&ctx, 0, sizeof(ctx));
	cs_reader_init(&rd, body, len);
	/* The real types, and every other type mapped onto one of them for coverage. */
	switch (type == CS_KMSG_SIGN ? 0 : type == CS_KMSG_DECRYPT ? 1 : type == CS_KMSG_DERIVE ? 2 : type % 3) {
	case 0:
		if (keyd_parse_sign(&rd, &ctx, &key_uri, &sreq) == 0)
			touch(sreq.digest, sreq.digest_len);
		break;
	case 1:
		if (keyd_parse_decrypt(&rd, &ctx, &key_uri, &dreq) == 0) {
			touch(dreq.in, dreq.in_len);
			touch(dreq.label, dreq.label_len);
		}
		break;
	default:
		if (keyd_parse_derive(&rd, &ctx, &key_uri, &peer, &peer_len) == 0)
			touch(peer, peer_len);
		break;
	}
	if (ctx.summary != NULL)
		touch((const uint8_t *)ctx.summary, strlen(ctx.summary));
	keyd_context_clear(&ctx);
	free(key_uri);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_frame_view f;
	size_t used;

	while (cs_frame_parse(data, size, CS_KEYD_MAX_FRAME, &f, &used) == 0) {
		parse_body(f.type, f.body, f.body_len);
		data += used;
		size -= used;
	}
	return 0;
}
