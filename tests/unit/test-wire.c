/* Unit tests for the wire library: buffers, readers, frames, error names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "cs_frame.h"
#include "tap.h"

static void
test_round_trip(void)
{
	struct cs_buf b;
	struct cs_reader r;
	const uint8_t *p;
	size_t n;
	char *s;

	cs_buf_init(&b, 0);
	CHECK(cs_buf_put_u8(&b, 0xab) == 0 && cs_buf_put_u32(&b, 0xdeadbeef) == 0 &&
	          cs_buf_put_u64(&b, 0x0102030405060708ull) == 0 &&
	          cs_buf_put_bytes(&b, "xyz", 3) == 0 && cs_buf_put_str(&b, "hello") == 0 &&
	          cs_buf_put_str(&b, NULL) == 0,
	      "writer accepts every field type");
	CHECK_EQ_INT(b.len, 1 + 4 + 8 + 7 + 9 + 4, "encoded length");
	CHECK(memcmp(b.data, "\xab\xde\xad\xbe\xef", 5) == 0, "integers are big-endian");

	cs_reader_init(&r, b.data, b.len);
	CHECK_EQ_INT(cs_read_u8(&r), 0xab, "u8 read back");
	CHECK(cs_read_u32(&r) == 0xdeadbeef, "u32 read back");
	CHECK(cs_read_u64(&r) == 0x0102030405060708ull, "u64 read back");
	cs_read_bytes(&r, 16, &p, &n);
	CHECK(n == 3 && memcmp(p, "xyz", 3) == 0, "bytes read back");
	cs_read_str(&r, 16, &s);
	CHECK(s != NULL && strcmp(s, "hello") == 0, "string read back");
	free(s);
	cs_read_str(&r, 16, &s);
	CHECK(s != NULL && s[0] == '\0', "empty string read back");
	free(s);
	CHECK_EQ_INT(cs_reader_finish(&r), 0, "nothing left over");
	cs_buf_clear(&b);
}

static void
test_reader_errors(void)
{
	static const uint8_t trunc_u32[] = { 1, 2, 3 };
	static const uint8_t long_str[] = { 0, 0, 0, 9, 'a', 'b' };
	static const uint8_t nul_str[] = { 0, 0, 0, 3, 'a', 0, 'b' };
	static const uint8_t over_max[] = { 0, 0, 0, 5, 'a', 'b', 'c', 'd', 'e' };
	static const uint8_t trailing[] = { 7, 8 };
	struct cs_reader r;
	const uint8_t *p;
	size_t n;
	char *s;

	cs_reader_init(&r, trunc_u32, sizeof(trunc_u32));
	CHECK(cs_read_u32(&r) == 0 && cs_reader_finish(&r) == CS_ERR_TRUNCATED,
	      "truncated u32 fails with CS_ERR_TRUNCATED and yields 0");
	CHECK(cs_read_u8(&r) == 0 && cs_reader_finish(&r) == CS_ERR_TRUNCATED,
	      "reads after a failure keep the first error");

	cs_reader_init(&r, long_str, sizeof(long_str));
	cs_read_bytes(&r, 100, &p, &n);
	CHECK(p == NULL && n == 0 && cs_reader_finish(&r) == CS_ERR_TRUNCATED,
	      "a length beyond the input is truncation, output zeroed");

	cs_reader_init(&r, over_max, sizeof(over_max));
	cs_read_bytes(&r, 4, &p, &n);
	CHECK(p == NULL && cs_reader_finish(&r) == CS_ERR_TOO_LARGE,
	      "a string over the caller's limit is refused");

	cs_reader_init(&r, nul_str, sizeof(nul_str));
	cs_read_str(&r, 100, &s);
	CHECK(s == NULL && cs_reader_finish(&r) == CS_ERR_BAD_FORMAT,
	      "embedded NUL in a text string is refused");

	cs_reader_init(&r, trailing, sizeof(trailing));
	(void)cs_read_u8(&r);
	CHECK_EQ_INT(cs_reader_finish(&r), CS_ERR_TRAILING, "trailing bytes are an error");
}

static void
test_buffer_limit(void)
{
	struct cs_buf b;
	uint8_t big[40];

	memset(big, 'x', sizeof(big));
	cs_buf_init(&b, 32);
	CHECK(cs_buf_put(&b, big, 32) == 0, "a buffer fills up to its limit");
	CHECK_EQ_INT(cs_buf_put_u8(&b, 1), CS_ERR_TOO_LARGE, "one byte more is refused");
	CHECK_EQ_INT(b.len, 32, "a refused append changes nothing");
	CHECK(cs_buf_reserve(&b, 1) == NULL, "reserve past the limit is refused");
	cs_buf_reset(&b);
	CHECK(b.len == 0 && b.data[0] == 0, "reset wipes the contents");
	cs_buf_clear(&b);
	CHECK(b.data == NULL && b.max == 32, "clear frees and keeps the limit");
}

static void
test_frame_parse(void)
{
	struct cs_buf b;
	struct cs_frame_view f;
	size_t used;
	uint8_t tiny[] = { 0, 0, 0, 4, 1, 0, 0, 0 };
	uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff };

	cs_buf_init(&b, 0);
	CHECK(cs_frame_append(&b, 42, 7, "body", 4) == 0, "frame built");
	CHECK_EQ_INT(b.len, CS_FRAME_HEADER_SIZE + 4, "frame size is header + body");
	CHECK(cs_frame_parse(b.data, b.len, CS_FRAME_DEFAULT_MAX, &f, &used) == 0 &&
	          f.type == 42 && f.id == 7 && f.body_len == 4 && memcmp(f.body, "body", 4) == 0 &&
	          used == b.len,
	      "frame parsed back");
	CHECK(cs_frame_parse(b.data, 3, CS_FRAME_DEFAULT_MAX, &f, &used) == CS_ERR_AGAIN &&
	          used == 0,
	      "three bytes: more needed, size unknown");
	CHECK(cs_frame_parse(b.data, b.len - 1, CS_FRAME_DEFAULT_MAX, &f, &used) ==
	              CS_ERR_AGAIN &&
	          used == b.len,
	      "one byte short: more needed, size known");
	CHECK_EQ_INT(cs_frame_parse(huge, sizeof(huge), CS_FRAME_DEFAULT_MAX, &f, &used),
	             CS_ERR_TOO_LARGE, "oversized length refused from its 4 bytes alone");
	CHECK_EQ_INT(cs_frame_parse(tiny, sizeof(tiny), CS_FRAME_DEFAULT_MAX, &f, &used),
	             CS_ERR_BAD_FORMAT, "length below type + id refused");
	cs_buf_clear(&b);
}

static void
test_frame_io(void)
{
	int sv[2];
	struct cs_buf storage;
	struct cs_frame_view f;
	static const uint8_t partial[] = { 0, 0, 0, 20, 1, 2 };
	static const uint8_t oversized[] = { 0, 0x10, 0, 0 };

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
	cs_buf_init(&storage, 0);
	CHECK(cs_frame_write(sv[0], 3, 99, "abc", 3) == 0, "frame written");
	CHECK(cs_frame_read(sv[1], 64, &storage, &f) == 0 && f.type == 3 && f.id == 99 &&
	          f.body_len == 3 && memcmp(f.body, "abc", 3) == 0,
	      "frame read back over a socket");
	CHECK(cs_write_all(sv[0], oversized, sizeof(oversized)) == 0, "oversized header sent");
	CHECK_EQ_INT(cs_frame_read(sv[1], 64, &storage, &f), CS_ERR_TOO_LARGE,
	             "reader refuses an oversized frame before buffering it");
	CHECK(storage.len == CS_FRAME_LEN_SIZE, "only the length was buffered");
	CHECK(cs_write_all(sv[0], partial, sizeof(partial)) == 0, "partial frame sent");
	close(sv[0]);
	CHECK_EQ_INT(cs_frame_read(sv[1], 64, &storage, &f), CS_ERR_TRUNCATED,
	             "close inside a frame is truncation");
	CHECK_EQ_INT(cs_frame_read(sv[1], 64, &storage, &f), CS_ERR_EOF,
	             "close between frames is end of file");
	close(sv[1]);
	cs_buf_clear(&storage);
}

static void
test_error_names(void)
{
	CHECK(strcmp(cs_error_name(CS_ERR_NO_TOKEN), "CS_ERR_NO_TOKEN") == 0, "error name");
	CHECK(strcmp(cs_strerror(CS_ERR_DECRYPT), "decryption failed") == 0, "error text");
	CHECK(strcmp(cs_strerror(-9999), "unknown error") == 0, "unknown error has a text");
}

int
main(void)
{
	test_round_trip();
	test_reader_errors();
	test_buffer_limit();
	test_frame_parse();
	test_frame_io();
	test_error_names();
	return tap_done();
}
