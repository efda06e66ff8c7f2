/*
 * The building blocks of PROTECT without CMS: base64 and quoted-printable
 * encoders (against OpenSSL's EVP_EncodeBlock and a decoder written here),
 * the line reader, header parsing, and the canonicalizer on known inputs
 * with their exact expected output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64.h"
#include "cs_error.h"
#include "mime_canon.h"
#include "mime_header.h"
#include "mime_qp.h"
#include "mime_reader.h"
#include "protect_local.h"
#include "tap.h"

/* ------------------------------------------------------------ helpers */

struct bytes {
	uint8_t *p;
	size_t n;
	size_t cap;
};

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->p == NULL || b->n + n + 1 > b->cap) {
		/* Geometric growth: one realloc per append is quadratic under ASan. */
		b->cap = (b->n + n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void
bytes_str(struct bytes *b, const char *s)
{
	bytes_add(b, s, strlen(s));
}

static void
bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
	b->cap = 0;
}

static void
random_bytes(uint8_t *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1)
		abort();
}

/* Base64 the way MIME wants it, from OpenSSL's block encoder: 76 characters a line, CRLF between. */
static void
ref_b64(const uint8_t *p, size_t n, struct bytes *out)
{
	unsigned char line[80];
	size_t off = 0;
	int len;

	bytes_add(out, "", 0);
	while (off < n) {
		size_t chunk = n - off < 57 ? n - off : 57;

		if (off > 0)
			bytes_str(out, "\r\n");
		len = EVP_EncodeBlock(line, p + off, (int)chunk);
		bytes_add(out, line, (size_t)len);
		off += chunk;
	}
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A strict quoted-printable decoder: returns 0, or -1 on anything RFC 2045 forbids us to write. */
static int
qp_decode(const char *s, size_t n, struct bytes *out)
{
	size_t i = 0, col = 0;

	while (i < n) {
		char c = s[i];

		if (c == '\r') {
			if (i + 1 >= n || s[i + 1] != '\n')
				return -1;
			if (i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
				return -1;     /* whitespace at a line end must be encoded */
			bytes_str(out, "\r\n");
			i += 2;
			col = 0;
			continue;
		}
		if (++col > 76)
			return -1;
		if (c == '=') {
			if (i + 2 < n && s[i + 1] == '\r' && s[i + 2] == '\n') {
				i += 3;
				col = 0;
				continue;
			}
			if (i + 2 >= n || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return -1;
			uint8_t v = (uint8_t)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			bytes_add(out, &v, 1);
			i += 3;
			col += 2;
			continue;
		}
		if ((unsigned char)c < 32 && c != '\t')
			return -1;
		if ((unsigned char)c > 126)
			return -1;
		bytes_add(out, &c, 1);
		i++;
	}
	if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		return -1;
	return 0;
}

static void
b64_all(const uint8_t *p, size_t n, size_t chunk, int crlf_end, struct bytes *out)
{
	struct b64_enc e;
	char *buf = malloc(b64_enc_bound(chunk) + 16);
	size_t off = 0, k;

	b64_enc_init(&e);
	while (off < n) {
		size_t c = n - off < chunk ? n - off : chunk;

		k = b64_enc_update(&e, p + off, c, buf);
		bytes_add(out, buf, k);
		off += c;
	}
	k = b64_enc_final(&e, buf, crlf_end);
	bytes_add(out, buf, k);
	free(buf);
}

static void
qp_all(const uint8_t *p, size_t n, size_t chunk, struct bytes *out)
{
	struct qp_enc e;
	char *buf = malloc(qp_enc_bound(chunk) + 16);
	size_t off = 0, k;

	qp_enc_init(&e);
	while (off < n) {
		size_t c = n - off < chunk ? n - off : chunk;

		k = qp_enc_update(&e, p + off, c, buf);
		bytes_add(out, buf, k);
		off += c;
	}
	k = qp_enc_final(&e, buf);
	bytes_add(out, buf, k);
	free(buf);
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ base64 */

static void
test_b64_encode(void)
{
	static const size_t chunks[] = {1, 2, 3, 7, 56, 57, 58, 1000, 100000};
	uint8_t data[3000];
	struct bytes got = {0}, want = {0};
	size_t n, c;
	int bad = 0;

	random_bytes(data, sizeof(data));
	for (n = 0; n <= 300 && !bad; n++) {
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			b64_all(data, n, chunks[c], 0, &got);
			ref_b64(data, n, &want);
			if (got.n != want.n || memcmp(got.p, want.p, got.n) != 0) {
				printf("# length %zu, chunk %zu differs\n", n, chunks[c]);
				bad = 1;
			}
			bytes_free(&got);
			bytes_free(&want);
		}
	}
	CHECK(!bad, "base64 encoder equals EVP_EncodeBlock with 76-column CRLF lines (0..300 bytes, any chunking)");

	b64_all(data, sizeof(data), 1234, 0, &got);
	ref_b64(data, sizeof(data), &want);
	CHECK(got.n == want.n && memcmp(got.p, want.p, got.n) == 0, "3000 bytes in 1234-byte chunks");
	bytes_free(&got);
	bytes_free(&want);

	b64_all((const uint8_t *)"ab", 2, 1, 1, &got);
	CHECK(got.n == 6 && memcmp(got.p, "YWI=\r\n", 6) == 0, "final with crlf_end ends the last line");
	bytes_free(&got);
	b64_all(data, 57, 57, 1, &got);
	CHECK(got.n == 78 && memcmp(got.p + 76, "\r\n", 2) == 0, "one full line with crlf_end: one CRLF");
	bytes_free(&got);
	b64_all(data, 0, 1, 1, &got);
	CHECK(got.n == 0, "nothing in, nothing out, even with crlf_end");
	bytes_free(&got);
}

static void
test_b64_decode(void)
{
	uint8_t data[1000], out[2000];
	struct bytes enc = {0};
	struct b64_dec d;
	size_t n, tail;
	int r;

	random_bytes(data, sizeof(data));
	b64_all(data, sizeof(data), 100, 1, &enc);
	b64_dec_init(&d);
	r = b64_dec_update(&d, (const char *)enc.p, enc.n, out, &n);
	CHECK(r == 0 && b64_dec_final(&d, out + n, &tail) == 0 && n + tail == sizeof(data) &&
	      memcmp(out, data, sizeof(data)) == 0, "decoder round trip over CRLF lines");
	bytes_free(&enc);

	b64_dec_init(&d);
	r = b64_dec_update(&d, "YW", 2, out, &n);
	CHECK(r == 0 && n == 0, "half a group waits");
	r = b64_dec_update(&d, "I=\r\n  ", 6, out, &n);
	CHECK(r == 0 && n == 2 && memcmp(out, "ab", 2) == 0, "padding split across calls");
	CHECK(b64_dec_final(&d, out, &tail) == 0 && tail == 0, "final after padding");

	b64_dec_init(&d);
	r = b64_dec_update(&d, "YWI", 3, out, &n);
	CHECK(r == 0 && b64_dec_final(&d, out, &tail) == 0 && tail == 2 && memcmp(out, "ab", 2) == 0,
	      "unpadded last group accepted");
	b64_dec_init(&d);
	CHECK(b64_dec_update(&d, "YW*I", 4, out, &n) == CS_ERR_BAD_FORMAT, "a character outside the alphabet");
	b64_dec_init(&d);
	CHECK(b64_dec_update(&d, "YQ==YQ==", 8, out, &n) == CS_ERR_BAD_FORMAT, "data after padding");
	b64_dec_init(&d);
	CHECK(b64_dec_update(&d, "Y===", 4, out, &n) == CS_ERR_BAD_FORMAT, "padding after one sextet");
	b64_dec_init(&d);
	CHECK(b64_dec_update(&d, "Y", 1, out, &n) == 0 && b64_dec_final(&d, out, &tail) == CS_ERR_TRUNCATED,
	      "a lone sextet is truncated");
	b64_dec_init(&d);
	CHECK(b64_dec_update(&d, "YW=", 3, out, &n) == 0 && b64_dec_final(&d, out, &tail) == CS_ERR_TRUNCATED,
	      "half the padding is truncated");
}

static void
test_b64_bio(void)
{
	uint8_t data[10000];
	struct bytes want = {0};
	BIO *mem = BIO_new(BIO_s_mem()), *b64 = b64_bio_new();
	char *p;
	long n;
	size_t off = 0;

	random_bytes(data, sizeof(data));
	BIO_push(b64, mem);
	while (off < sizeof(data)) {
		size_t c = sizeof(data) - off < 333 ? sizeof(data) - off : 333;

		BIO_write(b64, data + off, (int)c);
		off += c;
	}
	CHECK(BIO_flush(b64) == 1, "flush goes through");
	CHECK(b64_bio_finish(b64, 1) == 0, "finish");
	ref_b64(data, sizeof(data), &want);
	bytes_str(&want, "\r\n");
	n = BIO_get_mem_data(mem, &p);
	CHECK(n == (long)want.n && memcmp(p, want.p, want.n) == 0,
	      "the filter BIO writes what the encoder does; flush did not end it early");
	CHECK(b64_bio_finish(mem, 0) == CS_ERR_INVALID_ARG, "finish refuses another BIO type");
	bytes_free(&want);
	BIO_free(b64);
	BIO_free(mem);
}

static void
bench_b64(void)
{
	size_t n = 64 * 1024 * 1024, i;
	uint8_t *data = malloc(n);
	char *out = malloc(b64_enc_bound(64 * 1024));
	struct b64_enc e;
	double t0, t;

	memset(data, 0x5a, n);
	b64_enc_init(&e);
	t0 = now();
	for (i = 0; i < n; i += 64 * 1024)
		b64_enc_update(&e, data + i, 64 * 1024, out);
	t = now() - t0;
	printf("# base64 encoder: %.0f MB/s\n", t > 0 ? (double)n / t / 1e6 : 0.0);
	free(out);
	free(data);
}

/* ---------------------------------------------------- quoted-printable */

static int
qp_is(const char *in, const char *want)
{
	struct bytes got = {0};
	int ok;

	qp_all((const uint8_t *)in, strlen(in), 3, &got);
	ok = got.n == strlen(want) && memcmp(got.p, want, got.n) == 0;
	if (!ok)
		printf("# qp of \"%s\": got \"%s\"\n", in, got.p);
	bytes_free(&got);
	return ok;
}

static void
test_qp(void)
{
	uint8_t data[20000];
	struct bytes enc = {0}, dec = {0};
	size_t i;
	int ok;

	CHECK(qp_is("plain text", "plain text"), "plain text stays");
	CHECK(qp_is("a=b", "a=3Db"), "'=' is encoded");
	CHECK(qp_is("x \r\ny\t\r\nz", "x=20\r\ny=09\r\nz"), "whitespace before a line end is encoded");
	CHECK(qp_is("end  ", "end =20"), "whitespace at the very end is encoded");
	CHECK(qp_is("a b", "a b"), "inner whitespace stays");
	CHECK(qp_is("From me\r\nFrom\r\nFrog\r\nA From x", "=46rom me\r\nFrom\r\nFrog\r\nA From x"),
	      "\"From \" at a line start is encoded, nothing else");
	CHECK(qp_is("Fro", "Fro"), "a held partial \"From\" is written at the end");
	CHECK(qp_is("a\rb\nc\r", "a=0Db=0Ac=0D"), "bare CR and LF are encoded");
	CHECK(qp_is("\xc3\xa4\x7f", "=C3=A4=7F"), "8-bit and DEL are encoded");
	qp_all((const uint8_t *)"a\0b", 3, 1, &enc);
	CHECK(enc.n == 5 && memcmp(enc.p, "a=00b", 5) == 0, "NUL is encoded");
	bytes_free(&enc);
	CHECK(qp_is("x\r\n\r\n", "x\r\n\r\n"), "empty lines stay");

	/* Long lines get soft breaks and no line passes 76 characters (qp_decode checks). */
	memset(data, 'a', 200);
	qp_all(data, 200, 7, &enc);
	ok = qp_decode((const char *)enc.p, enc.n, &dec) == 0 && dec.n == 200 &&
	     memcmp(dec.p, data, 200) == 0;
	CHECK(ok && enc.n == 200 + 2 * 3, "a 200-character line: two soft breaks, decodes back");
	bytes_free(&enc);
	bytes_free(&dec);

	random_bytes(data, sizeof(data));
	/* Sprinkle CRLFs, spaces and "From " so every rule is exercised. */
	for (i = 0; i + 8 < sizeof(data); i += 37) {
		if (data[i] < 64)
			memcpy(data + i, "\r\nFrom ", 7);
		else if (data[i] < 128)
			memcpy(data + i, " \r\n", 3);
	}
	for (i = 1; i < 5000; i = i * 3 + 1) {
		qp_all(data, sizeof(data), i, &enc);
		ok = qp_decode((const char *)enc.p, enc.n, &dec) == 0 && dec.n == sizeof(data) &&
		     memcmp(dec.p, data, sizeof(data)) == 0;
		bytes_free(&enc);
		bytes_free(&dec);
		if (!ok)
			break;
	}
	CHECK(ok, "random bytes round-trip in any chunking, lines within 76, no trailing whitespace");
}

/* ------------------------------------------------------------ reader */

static void
test_reader(void)
{
	size_t n = MIME_READER_BUF * 2 + 100, total = 0, segs = 0;
	uint8_t *data = malloc(n + 16);
	struct mime_reader r;
	struct mime_line ln;
	BIO *in;
	int rc, firsts = 0, ok = 1;

	memset(data, 'x', n);
	/* A CR as the last byte of a full buffer, its LF the first byte of the next fill. */
	data[MIME_READER_BUF - 1] = '\r';
	data[MIME_READER_BUF] = '\n';
	memcpy(data + n, "\r\nend", 5);
	in = BIO_new_mem_buf(data, (int)n + 5);
	mime_reader_init(&r, in, NULL, NULL);
	while ((rc = mime_reader_line(&r, &ln)) == 1) {
		segs++;
		total += ln.len;
		firsts += ln.first;
		if (segs == 1)
			ok &= ln.len == MIME_READER_BUF - 1 && ln.partial && ln.first;
		if (segs == 2)
			ok &= ln.len == 0 && ln.eol == MIME_EOL_CRLF && !ln.first && !ln.partial;
	}
	CHECK(rc == 0 && ok, "a CR at the end of a full buffer stays with its LF in the next segment");
	CHECK(firsts == 3 && total == n - 2 + 3, "lines longer than the buffer come in segments (%zu)",
	      segs);
	CHECK(r.consumed == n + 5, "consumed counts every byte");
	mime_reader_free(&r);
	BIO_free(in);
	free(data);
}

/* ------------------------------------------------------------ headers */

static void
test_ctype(void)
{
	struct mime_ctype ct;
	const char *v;

	v = " Multipart/Mixed; charset=x;\r\n\tBoundary=\"a b\\\"c\" (comment)";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == 0 &&
	      strcmp(ct.type, "multipart") == 0 && strcmp(ct.subtype, "mixed") == 0 &&
	      strcmp(ct.boundary, "a b\"c") == 0 && ct.boundary_len == 5,
	      "type lower-cased, folded and quoted boundary with a quoted-pair");
	v = "multipart/mixed; boundary=simple-123";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == 0 &&
	      strcmp(ct.boundary, "simple-123") == 0, "token boundary");
	v = "(lead) text / plain (x) ; format=flowed";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == 0 &&
	      strcmp(ct.type, "text") == 0 && strcmp(ct.subtype, "plain") == 0 && ct.boundary_len == 0,
	      "comments and spaces around the slash");
	v = "garbage";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == 0 && ct.type[0] == '\0',
	      "unreadable type left empty (the caller defaults to text/plain)");
	v = "multipart/mixed; boundary=\"\"";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == CS_ERR_BAD_FORMAT, "empty boundary");
	v = "multipart/mixed; boundary=\"a\x01\"";
	CHECK(mime_parse_ctype((const uint8_t *)v, strlen(v), &ct) == CS_ERR_BAD_FORMAT,
	      "control character in the boundary");
	CHECK(mime_parse_cte((const uint8_t *)" Base64 ", 8) == MIME_CTE_BASE64 &&
	      mime_parse_cte((const uint8_t *)"8BIT", 4) == MIME_CTE_8BIT &&
	      mime_parse_cte((const uint8_t *)"quoted-printable", 16) == MIME_CTE_QP &&
	      mime_parse_cte((const uint8_t *)"x-uuencode", 10) == MIME_CTE_OTHER,
	      "transfer encodings");
}

/* ------------------------------------------------------- canonicalizer */

/*
 * Runs a whole message through the PROTECT header split and the
 * canonicalizer. Returns the error, the outer header in *outer and the
 * canonical entity in *entity.
 */
static int
canon_msg(const void *msg, size_t len, struct bytes *outer, struct bytes *entity)
{
	BIO *in = BIO_new_mem_buf(msg, (int)len), *hout = BIO_new(BIO_s_mem()),
	    *eout = BIO_new(BIO_s_mem());
	struct mime_header h, content;
	struct mime_reader r;
	char *p;
	long n;
	int rc;

	mime_header_init(&h);
	mime_header_init(&content);
	mime_reader_init(&r, in, NULL, NULL);
	if ((rc = protect_headers_read(&r, &h)) == 0 &&
	    (rc = protect_headers_split(&h, hout, &content)) == 0)
		rc = mime_canon_entity(&r, &content, eout);
	if (outer != NULL) {
		n = BIO_get_mem_data(hout, &p);
		bytes_add(outer, p, (size_t)n);
	}
	if (entity != NULL) {
		n = BIO_get_mem_data(eout, &p);
		bytes_add(entity, p, (size_t)n);
	}
	mime_reader_free(&r);
	mime_header_clear(&h);
	mime_header_clear(&content);
	BIO_free(in);
	BIO_free(hout);
	BIO_free(eout);
	return rc;
}

static int
canon_is(const char *msg, const char *want)
{
	struct bytes got = {0};
	int rc = canon_msg(msg, strlen(msg), NULL, &got), ok;

	ok = rc == 0 && got.n == strlen(want) && memcmp(got.p, want, got.n) == 0;
	if (!ok)
		printf("# rc %d, got:\n# [%s]\n", rc, got.p != NULL ? (char *)got.p : "");
	bytes_free(&got);
	return ok;
}

/* The same message with every LF made CRLF. */
static char *
to_crlf(const char *s)
{
	char *out = malloc(strlen(s) * 2 + 1), *o = out;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			*o++ = '\r';
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static const char msg_8bit[] =
	"From: Alice <alice@example.org>\n"
	"To: Bob <bob@example.org>\n"
	"Bcc: hidden@example.org\n"
	"Resent-Bcc: hidden2@example.org\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: 8bit\n"
	"X-Mailer: test\n"
	"\n"
	"Gr\xc3\xbc\xc3\x9f" "e\n"
	"From the start  \n"
	"a = b\n";

static void
test_canon_text(void)
{
	struct bytes outer = {0}, ent = {0};
	char *crlf;
	int rc;

	rc = canon_msg(msg_8bit, strlen(msg_8bit), &outer, &ent);
	CHECK(rc == 0, "8-bit message canonicalized");
	CHECK(strcmp((char *)outer.p, "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\n"
	                              "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nX-Mailer: test\r\n") == 0,
	      "outer header: Bcc, Resent-Bcc, MIME-Version and Content-* left out, CRLF ends");
	CHECK(strcmp((char *)ent.p, "Content-Type: text/plain; charset=utf-8\r\n"
	                            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                            "Gr=C3=BC=C3=9Fe\r\n=46rom the start =20\r\na =3D b\r\n") == 0,
	      "8bit text becomes quoted-printable in place of the 8bit label");
	bytes_free(&outer);
	bytes_free(&ent);

	crlf = to_crlf(msg_8bit);
	rc = canon_msg(crlf, strlen(crlf), NULL, &ent);
	CHECK(rc == 0 && strcmp((char *)ent.p, "Content-Type: text/plain; charset=utf-8\r\n"
	                                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                                       "Gr=C3=BC=C3=9Fe\r\n=46rom the start =20\r\na =3D b\r\n") == 0,
	      "CRLF input gives the same entity");
	bytes_free(&ent);
	free(crlf);

	CHECK(canon_is("From: a@x\nContent-Type: text/plain\n\nHello\nworld\n",
	               "Content-Type: text/plain\r\n\r\nHello\r\nworld\r\n"),
	      "7-bit text only gets CRLF; no encoding header added");
	CHECK(canon_is("From: a@x\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nplain\n",
	               "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n\r\nplain\r\n"),
	      "an 8bit label on 7-bit text becomes 7bit");
	CHECK(canon_is("From: a@x\nSubject: s\n\nK\xc3\xb6ln\n",
	               "Content-Transfer-Encoding: quoted-printable\r\n\r\nK=C3=B6ln\r\n"),
	      "no Content-* at all, 8-bit body: an encoding header is added");
	CHECK(canon_is("From: a@x\n\nno newline at end", "\r\nno newline at end"),
	      "a body without a final line break keeps none");
	CHECK(canon_is("From: a@x\nContent-Type: text/plain\n\nbare\rCR\n",
	               "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	               "bare=0DCR\r\n"),
	      "a bare CR is not 7-bit safe");
	CHECK(canon_is("From: a@x\nContent-Type: text/plain\nContent-Type: text/html\n\nx\n",
	               "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nx\r\n"),
	      "fields are copied as they are, duplicates included");
	CHECK(canon_is("From: a@x\nContent-Type: text/plain;\n charset=us-ascii\n\nx\n",
	               "Content-Type: text/plain;\r\n charset=us-ascii\r\n\r\nx\r\n"),
	      "folded fields keep their folding");
}

static void
test_canon_long_lines(void)
{
	struct bytes msg = {0}, ent = {0}, dec = {0};
	const char *hdr = "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
	char line[1200];
	int rc;

	memset(line, 'y', sizeof(line));
	bytes_str(&msg, "From: a@x\nContent-Type: text/plain\n\n");
	bytes_add(&msg, line, sizeof(line));
	bytes_str(&msg, "\n");
	rc = canon_msg(msg.p, msg.n, NULL, &ent);
	CHECK(rc == 0 && ent.n > strlen(hdr) && memcmp(ent.p, hdr, strlen(hdr)) == 0,
	      "a 1200-character 7bit line is re-encoded");
	CHECK(qp_decode((char *)ent.p + strlen(hdr), ent.n - strlen(hdr), &dec) == 0 &&
	      dec.n == sizeof(line) + 2 && memcmp(dec.p, line, sizeof(line)) == 0,
	      "and decodes back to the line");
	bytes_free(&msg);
	bytes_free(&ent);
	bytes_free(&dec);
}

static void
test_canon_multipart(void)
{
	uint8_t bin[300];
	struct bytes msg = {0}, want = {0}, ent = {0};
	size_t i;
	int rc;

	random_bytes(bin, sizeof(bin));
	bin[0] = 0;
	bin[1] = '\n';
	bin[2] = '\r';
	bin[sizeof(bin) - 1] = '\n';     /* the last byte before the delimiter's own line break */
	for (i = 3; i + 1 < sizeof(bin); i++) {
		if (bin[i] == '-')
			bin[i] = '+';   /* no accidental delimiter */
	}
	bytes_str(&msg, "From: a@x\n"
	                "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
	                "Content-Transfer-Encoding: 8bit\n"
	                "\n"
	                "This is MIME.\n"
	                "Pr\xc3\xa4" "ambel\n"
	                "--XYZ\n"
	                "Content-Type: text/plain; charset=utf-8\n"
	                "Content-Transfer-Encoding: 8bit\n"
	                "\n"
	                "\xc3\xa4\n"
	                "\n"
	                "--XYZ   \n"
	                "Content-Type: application/octet-stream\n"
	                "Content-Transfer-Encoding: binary\n"
	                "\n");
	bytes_add(&msg, bin, sizeof(bin));
	bytes_str(&msg, "\n--XYZ\n"
	                "Content-Type: application/pdf\n"
	                "Content-Transfer-Encoding: base64\n"
	                "\n"
	                "QUJD\n"
	                "REVG\n"
	                "--XYZ\n"
	                "Content-Type: multipart/alternative; boundary=inner\n"
	                "\n"
	                "--inner\n"
	                "Content-Type: text/plain\n"
	                "\n"
	                "--XYZabc is not a delimiter\n"
	                "--inner\n"
	                "Content-Type: text/html\n"
	                "\n"
	                "<p>\xe2\x82\xac</p>\n"
	                "--inner--\n"
	                "inner epilogue\n"
	                "--XYZ\n"
	                "Content-Type: message/rfc822\n"
	                "Content-Transfer-Encoding: 8bit\n"
	                "\n"
	                "From: c@x\n"
	                "Subject: inner\n"
	                "\n"
	                "Inner \xc3\xbc\n"
	                "--XYZ--\n"
	                "epilogue\n");

	bytes_str(&want, "Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n"
	                 "Content-Transfer-Encoding: 7bit\r\n"
	                 "\r\n"
	                 "This is MIME.\r\n"
	                 "--XYZ\r\n"
	                 "Content-Type: text/plain; charset=utf-8\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\r\n"
	                 "\r\n"
	                 "=C3=A4\r\n"
	                 "\r\n"
	                 "--XYZ\r\n"
	                 "Content-Type: application/octet-stream\r\n"
	                 "Content-Transfer-Encoding: base64\r\n"
	                 "\r\n");
	ref_b64(bin, sizeof(bin), &want);
	bytes_str(&want, "\r\n--XYZ\r\n"
	                 "Content-Type: application/pdf\r\n"
	                 "Content-Transfer-Encoding: base64\r\n"
	                 "\r\n"
	                 "QUJD\r\n"
	                 "REVG\r\n"
	                 "--XYZ\r\n"
	                 "Content-Type: multipart/alternative; boundary=inner\r\n"
	                 "\r\n"
	                 "--inner\r\n"
	                 "Content-Type: text/plain\r\n"
	                 "\r\n"
	                 "--XYZabc is not a delimiter\r\n"
	                 "--inner\r\n"
	                 "Content-Type: text/html\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\r\n"
	                 "\r\n"
	                 "<p>=E2=82=AC</p>\r\n"
	                 "--inner--\r\n"
	                 "inner epilogue\r\n"
	                 "--XYZ\r\n"
	                 "Content-Type: message/rfc822\r\n"
	                 "Content-Transfer-Encoding: 7bit\r\n"
	                 "\r\n"
	                 "From: c@x\r\n"
	                 "Subject: inner\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\r\n"
	                 "\r\n"
	                 "Inner =C3=BC\r\n"
	                 "--XYZ--\r\n"
	                 "epilogue\r\n");
	rc = canon_msg(msg.p, msg.n, NULL, &ent);
	CHECK(rc == 0, "multipart message canonicalized");
	CHECK(ent.n == want.n && memcmp(ent.p, want.p, want.n) == 0,
	      "parts re-encoded where needed, binary to base64 (final LF kept as content), "
	      "8-bit preamble line left out, nested multipart and message/rfc822 walked");
	if (ent.n != want.n || memcmp(ent.p, want.p, want.n) != 0)
		printf("# got:\n%s\n# want:\n%s\n", (char *)ent.p, (char *)want.p);
	bytes_free(&msg);
	bytes_free(&want);
	bytes_free(&ent);

	{
		char in[512], expect[512], line[201];

		memset(line, 'Q', 200);
		line[200] = '\0';
		snprintf(in, sizeof(in), "From: a@x\nContent-Type: image/png\n"
		                         "Content-Transfer-Encoding: base64\n\n%s\nQUJD\n", line);
		snprintf(expect, sizeof(expect), "Content-Type: image/png\r\nContent-Transfer-Encoding: base64"
		                             "\r\n\r\n%.76s\r\n%.76s\r\n%.48s\r\nQUJD\r\n", line, line,
		         line);
		CHECK(canon_is(in, expect), "a 200-character base64 line is cut at 76, other lines stay");
	}
	CHECK(canon_is("From: a@x\nContent-Type: multipart/mixed; boundary=M\n\n--M\n"
	               "Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n\xc3\xa4\n--M\n"
	               "Content-Type: multipart/signed; boundary=S; protocol=\"application/pkcs7-signature\"\n"
	               "Content-Transfer-Encoding: 8bit\n\n\xc3\xa4 preamble\n--S\n"
	               "Content-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\nsigned \xc3\xa4\n--S\n"
	               "Content-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\n"
	               "MIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIB\n"
	               "--S--\n--M--\n",
	               "Content-Type: multipart/mixed; boundary=M\r\n\r\n--M\r\n"
	               "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=C3=A4\r\n--M\r\n"
	               "Content-Type: multipart/signed; boundary=S; protocol=\"application/pkcs7-signature\"\r\n"
	               "Content-Transfer-Encoding: 8bit\r\n\r\n\xc3\xa4 preamble\r\n--S\r\n"
	               "Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\nsigned \xc3\xa4\r\n--S\r\n"
	               "Content-Type: application/pkcs7-signature\r\nContent-Transfer-Encoding: base64\r\n\r\n"
	               "MIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIBMIIB\r\n"
	               "--S--\r\n--M--\r\n"),
	      "inside an attached multipart/signed nothing is re-encoded (its signature stays valid)");
	CHECK(canon_is("From: a@x\nContent-Type: multipart/mixed; boundary=B\n\n--B\n\nx\n--B\n",
	               "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\nx\r\n--B\r\n\r\n\r\n--B--"),
	      "a multipart left open is closed; an empty last part gets an empty header");
	CHECK(canon_is("From: a@x\nContent-Type: multipart/mixed; boundary=A\n\n--A\n"
	               "Content-Type: multipart/mixed; boundary=B\n\n--B\n\ninner\n--A--\n",
	               "Content-Type: multipart/mixed; boundary=A\r\n\r\n--A\r\n"
	               "Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n\r\ninner\r\n--B--"
	               "\r\n--A--\r\n"),
	      "an outer delimiter closes the inner multipart");
	CHECK(canon_is("From: a@x\nContent-Type: multipart/digest; boundary=D\n\n--D\n\n"
	               "Subject: digest\n\n\xc3\xa4\n--D--\n",
	               "Content-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n\r\n"
	               "Subject: digest\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	               "=C3=A4\r\n--D--\r\n"),
	      "multipart/digest parts default to message/rfc822 and are walked");
}

static void
test_canon_large_parts(void)
{
	size_t big = MIME_LOOKAHEAD + 4096, i;
	uint8_t *bin = malloc(big);
	struct bytes msg = {0}, ent = {0}, want = {0}, dec = {0};
	const char *text_hdr = "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";
	int rc;

	random_bytes(bin, big);
	bytes_str(&msg, "From: a@x\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n");
	bytes_add(&msg, bin, big);
	rc = canon_msg(msg.p, msg.n, NULL, &ent);
	bytes_str(&want, "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	ref_b64(bin, big, &want);
	CHECK(rc == 0 && ent.n == want.n && memcmp(ent.p, want.p, want.n) == 0,
	      "binary part past the look-ahead: base64 of the exact bytes");
	bytes_free(&msg);
	bytes_free(&ent);
	bytes_free(&want);

	/* Clean 7-bit text, but longer than the look-ahead: encoded without looking further. */
	for (i = 0; i < big; i++)
		bin[i] = i % 70 == 69 ? '\n' : (uint8_t)('a' + i % 26);
	bytes_str(&msg, "From: a@x\nContent-Type: text/plain\n\n");
	bytes_add(&msg, bin, big);
	rc = canon_msg(msg.p, msg.n, NULL, &ent);
	CHECK(rc == 0 && ent.n > strlen(text_hdr) && memcmp(ent.p, text_hdr, strlen(text_hdr)) == 0,
	      "7-bit text past the look-ahead becomes quoted-printable");
	rc = qp_decode((char *)ent.p + strlen(text_hdr), ent.n - strlen(text_hdr), &dec);
	for (i = 0; i < big; i++)
		if (bin[i] == '\n')
			break;
	CHECK(rc == 0 && dec.n > big && memcmp(dec.p, bin, i) == 0 && memcmp(dec.p + i, "\r\n", 2) == 0,
	      "and decodes to the text with CRLF line ends");
	bytes_free(&msg);
	bytes_free(&ent);
	bytes_free(&dec);
	free(bin);
}

static int
canon_err(const char *msg)
{
	return canon_msg(msg, strlen(msg), NULL, NULL);
}

static void
test_canon_errors(void)
{
	struct bytes msg = {0};
	char *big;
	int i;

	CHECK_EQ_INT(canon_err(""), CS_ERR_BAD_FORMAT, "empty input");
	CHECK_EQ_INT(canon_err("From: a@x\nSubject: no body separator\n"), CS_ERR_BAD_FORMAT,
	             "header without the blank line");
	CHECK_EQ_INT(canon_err("\nbody only\n"), CS_ERR_BAD_FORMAT, "no header field at all");
	CHECK_EQ_INT(canon_err("From a@x Mon Jan 1 00:00:00 2024\nFrom: a@x\n\nx\n"), CS_ERR_BAD_FORMAT,
	             "an mbox From_ line is not a field");
	CHECK_EQ_INT(canon_err(" folded: first\n\nx\n"), CS_ERR_BAD_FORMAT, "a continuation first");
	CHECK_EQ_INT(canon_err("From: a@x\nContent-Type: multipart/mixed\n\nx\n"), CS_ERR_BAD_FORMAT,
	             "multipart without a boundary");
	CHECK_EQ_INT(canon_err("From: a@x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nno colon\n\nx\n"),
	             CS_ERR_BAD_FORMAT, "a part header line without a colon");

	big = malloc(1024 * 1024 + 64);
	memset(big, 'a', 1024 * 1024 + 64);
	memcpy(big, "X-Big: ", 7);
	memcpy(big + 1024 * 1024, "\nFrom: a@x\n\nx\n", 15);
	CHECK_EQ_INT(canon_err(big), CS_ERR_TOO_LARGE, "a 1 MiB header field");
	bytes_str(&msg, "From: a@x\nContent-Type: multipart/mixed; boundary=B\n\n--B\nX-Big: ");
	bytes_add(&msg, big + 7, MIME_HEADER_MAX);
	bytes_str(&msg, "\n\nx\n--B--\n");
	CHECK_EQ_INT(canon_msg(msg.p, msg.n, NULL, NULL), CS_ERR_TOO_LARGE, "a 64 KiB part header");
	bytes_free(&msg);
	free(big);

	bytes_str(&msg, "From: a@x\n");
	for (i = 0; i <= MIME_MAX_DEPTH; i++) {
		char line[128];

		snprintf(line, sizeof(line), "Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n", i, i);
		bytes_str(&msg, line);
	}
	bytes_str(&msg, "\nx\n");
	CHECK_EQ_INT(canon_msg(msg.p, msg.n, NULL, NULL), CS_ERR_TOO_LARGE, "nesting past %d multiparts",
	             MIME_MAX_DEPTH);
	bytes_free(&msg);

	bytes_str(&msg, "From: a@x\nContent-Type: multipart/mixed; boundary=\"");
	for (i = 0; i < MIME_BOUNDARY_MAX + 1; i++)
		bytes_str(&msg, "b");
	bytes_str(&msg, "\"\n\nx\n");
	CHECK_EQ_INT(canon_msg(msg.p, msg.n, NULL, NULL), CS_ERR_BAD_FORMAT, "a boundary too long");
	bytes_free(&msg);
}

int
main(void)
{
	test_b64_encode();
	test_b64_decode();
	test_b64_bio();
	bench_b64();
	test_qp();
	test_reader();
	test_ctype();
	test_canon_text();
	test_canon_long_lines();
	test_canon_multipart();
	test_canon_large_parts();
	test_canon_errors();
	return tap_done();
}
