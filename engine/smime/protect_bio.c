/*
 * BIO helpers of the protect code: the flush-swallowing filter and checked
 * writes.
 */
#include "protect_local.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "cs_error.h"

static BIO_METHOD *swallow_method;
static CRYPTO_ONCE swallow_once = CRYPTO_ONCE_STATIC_INIT;

static int
swallow_write(BIO *b, const char *in, int inl)
{
	BIO *next = BIO_next(b);
	int w;

	BIO_clear_retry_flags(b);
	if (next == NULL)
		return -1;
	w = BIO_write(next, in, inl);
	BIO_copy_next_retry(b);
	return w;
}

static int
swallow_puts(BIO *b, const char *s)
{
	size_t n = strlen(s);

	return n > INT32_MAX ? -1 : swallow_write(b, s, (int)n);
}

static long
swallow_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	BIO *next = BIO_next(b);

	if (cmd == BIO_CTRL_FLUSH)
		return 1;
	return next != NULL ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static long
swallow_callback_ctrl(BIO *b, int cmd, BIO_info_cb *fp)
{
	BIO *next = BIO_next(b);

	return next != NULL ? BIO_callback_ctrl(next, cmd, fp) : 0;
}

static int
swallow_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static void
swallow_make(void)
{
	int type = BIO_get_new_index();
	BIO_METHOD *m;

	if (type == -1 || (m = BIO_meth_new(type | BIO_TYPE_FILTER, "cardseal flush stop")) == NULL)
		return;
	if (BIO_meth_set_write(m, swallow_write) != 1 || BIO_meth_set_puts(m, swallow_puts) != 1 ||
	    BIO_meth_set_ctrl(m, swallow_ctrl) != 1 ||
	    BIO_meth_set_callback_ctrl(m, swallow_callback_ctrl) != 1 ||
	    BIO_meth_set_create(m, swallow_create) != 1) {
		BIO_meth_free(m);
		return;
	}
	swallow_method = m;
}

BIO *
protect_swallow_new(void)
{
	if (!CRYPTO_THREAD_run_once(&swallow_once, swallow_make) || swallow_method == NULL)
		return NULL;
	return BIO_new(swallow_method);
}

int
protect_write_error(void)
{
	return ERR_peek_error() != 0 ? CS_ERR_INTERNAL : CS_ERR_IO;
}

int
protect_write(BIO *b, const void *p, size_t n)
{
	const char *c = p;
	int w;

	while (n > 0) {
		w = BIO_write(b, c, n > INT32_MAX ? INT32_MAX : (int)n);
		if (w <= 0)
			return protect_write_error();
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
protect_puts(BIO *b, const char *s)
{
	return protect_write(b, s, strlen(s));
}

void
protect_chain_free(BIO *top, BIO *stop)
{
	BIO *next;

	while (top != NULL && top != stop) {
		next = BIO_pop(top);
		BIO_free(top);
		top = next;
	}
}
