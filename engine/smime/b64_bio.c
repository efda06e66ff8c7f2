/*
 * The base64 encoding filter BIO of b64.h. Encoded output is written to the
 * next BIO as it is produced; only the last partial group waits for
 * b64_bio_finish.
 */
#include "b64.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "cs_error.h"

#define B64_BIO_CHUNK (48 * 1024) /* input bytes encoded per round */

struct b64_bio {
	struct b64_enc enc;
	char out[B64_BIO_CHUNK / 3 * 4 + B64_BIO_CHUNK / 57 * 2 + 64];
};

static BIO_METHOD *b64_method;
static int b64_type;
static CRYPTO_ONCE b64_method_once = CRYPTO_ONCE_STATIC_INIT;

/* Writes all of p to next; a short write on a blocking chain is an error. */
static int
write_next(BIO *next, const char *p, size_t n)
{
	while (n > 0) {
		int w = BIO_write(next, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
b64_bio_write(BIO *b, const char *in, int inl)
{
	struct b64_bio *st = BIO_get_data(b);
	BIO *next = BIO_next(b);
	size_t left = inl > 0 ? (size_t)inl : 0;

	BIO_clear_retry_flags(b);
	if (st == NULL || next == NULL)
		return -1;
	while (left > 0) {
		size_t n = left < B64_BIO_CHUNK ? left : B64_BIO_CHUNK;
		size_t olen = b64_enc_update(&st->enc, (const uint8_t *)in, n, st->out);

		if (write_next(next, st->out, olen) != 0)
			return -1;
		in += n;
		left -= n;
	}
	return inl;
}

static int
b64_bio_puts(BIO *b, const char *s)
{
	size_t n = strlen(s);

	return n > INT32_MAX ? -1 : b64_bio_write(b, s, (int)n);
}

static long
b64_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	BIO *next = BIO_next(b);

	/* Everything, flush included, goes on: ending the encoding is b64_bio_finish's job. */
	return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static long
b64_bio_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp)
{
	BIO *next = BIO_next(b);

	return next != NULL ? BIO_callback_ctrl(next, cmd, fp) : 0;
}

static int
b64_bio_create(BIO *b)
{
	struct b64_bio *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return 0;
	BIO_set_data(b, st);
	BIO_set_init(b, 1);
	return 1;
}

static int
b64_bio_destroy(BIO *b)
{
	free(BIO_get_data(b));
	BIO_set_data(b, NULL);
	BIO_set_init(b, 0);
	return 1;
}

static void
b64_method_make(void)
{
	int type = BIO_get_new_index();
	BIO_METHOD *m;

	if (type == -1)
		return;
	type |= BIO_TYPE_FILTER;
	if ((m = BIO_meth_new(type, "cardseal base64")) == NULL)
		return;
	if (BIO_meth_set_write(m, b64_bio_write) != 1 || BIO_meth_set_puts(m, b64_bio_puts) != 1 ||
	    BIO_meth_set_ctrl(m, b64_bio_ctrl) != 1 ||
	    BIO_meth_set_callback_ctrl(m, b64_bio_callback_ctrl) != 1 ||
	    BIO_meth_set_create(m, b64_bio_create) != 1 ||
	    BIO_meth_set_destroy(m, b64_bio_destroy) != 1) {
		BIO_meth_free(m);
		return;
	}
	b64_type = type;
	b64_method = m;
}

const BIO_METHOD *
b64_bio_method(void)
{
	if (!CRYPTO_THREAD_run_once(&b64_method_once, b64_method_make))
		return NULL;
	return b64_method;
}

BIO *
b64_bio_new(void)
{
	const BIO_METHOD *m = b64_bio_method();

	return m != NULL ? BIO_new(m) : NULL;
}

int
b64_bio_finish(BIO *b, int crlf_end)
{
	const BIO_METHOD *m = b64_bio_method();
	struct b64_bio *st;
	size_t olen;

	if (b == NULL || m == NULL || BIO_method_type(b) != b64_type)
		return CS_ERR_INVALID_ARG;
	st = BIO_get_data(b);
	olen = b64_enc_final(&st->enc, st->out, crlf_end);
	if (BIO_next(b) == NULL || write_next(BIO_next(b), st->out, olen) != 0)
		return CS_ERR_IO;
	return 0;
}
