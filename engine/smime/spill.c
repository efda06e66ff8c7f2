#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cs_buf.h"
#include "cs_error.h"

#define SPILL_BUF (64u * 1024)

struct spill {
	int fd;
	uint8_t key[32];
	uint8_t iv[16];
	EVP_CIPHER_CTX *ctx;
	uint8_t *buf; /* ciphertext on its way to the file */
	uint64_t size;
	int reading;
};

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CS_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A file nobody else can open: O_TMPFILE where the file system has it, else mkstemp + unlink. */
static int
open_anonymous(const char *dir)
{
	char path[PATH_MAX];
	int fd;

	fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if ((size_t)snprintf(path, sizeof(path), "%s/cardseal-spill-XXXXXX", dir) >= sizeof(path))
		return -1;
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (unlink(path) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
spill_open(const char *dir, struct spill **ret)
{
	struct spill *s = NULL;
	int r = CS_ERR_INTERNAL;

	*ret = NULL;
	if (dir == NULL && (dir = getenv("TMPDIR")) == NULL)
		dir = "/tmp";
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	s->fd = -1;
	if ((s->buf = malloc(SPILL_BUF)) == NULL || (s->ctx = EVP_CIPHER_CTX_new()) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if (RAND_priv_bytes(s->key, sizeof(s->key)) != 1 || RAND_bytes(s->iv, sizeof(s->iv)) != 1)
		goto out;
	if (EVP_EncryptInit_ex(s->ctx, EVP_aes_256_ctr(), NULL, s->key, s->iv) != 1)
		goto out;
	if ((s->fd = open_anonymous(dir)) < 0) {
		r = CS_ERR_IO;
		goto out;
	}
	*ret = s;
	s = NULL;
	r = 0;
out:
	spill_free(s);
	return r;
}

int
spill_write(struct spill *s, const void *p, size_t n)
{
	const uint8_t *q = p;
	size_t k;
	int outl, r;

	if (s->reading)
		return CS_ERR_INTERNAL;
	while (n > 0) {
		k = n < SPILL_BUF ? n : SPILL_BUF;
		if (EVP_EncryptUpdate(s->ctx, s->buf, &outl, q, (int)k) != 1 || (size_t)outl != k)
			return CS_ERR_INTERNAL;
		if ((r = write_all(s->fd, s->buf, k)) != 0)
			return r;
		s->size += k;
		q += k;
		n -= k;
	}
	return 0;
}

int
spill_rewind(struct spill *s)
{
	if (lseek(s->fd, 0, SEEK_SET) != 0)
		return CS_ERR_IO;
	/* CTR from the same counter: decryption is the same keystream again. */
	if (EVP_DecryptInit_ex(s->ctx, EVP_aes_256_ctr(), NULL, s->key, s->iv) != 1)
		return CS_ERR_INTERNAL;
	s->reading = 1;
	return 0;
}

int
spill_read(struct spill *s, void *buf, size_t cap, size_t *ret_n)
{
	ssize_t n;
	int outl;

	*ret_n = 0;
	if (!s->reading)
		return CS_ERR_INTERNAL;
	if (cap > INT_MAX)
		cap = INT_MAX;
	do
		n = read(s->fd, buf, cap);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return CS_ERR_IO;
	if (n == 0)
		return 0;
	/* CTR decrypts in place. */
	if (EVP_DecryptUpdate(s->ctx, buf, &outl, buf, (int)n) != 1 || outl != (int)n)
		return CS_ERR_INTERNAL;
	*ret_n = (size_t)n;
	return 0;
}

uint64_t
spill_size(const struct spill *s)
{
	return s->size;
}

void
spill_free(struct spill *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0)
		close(s->fd);
	EVP_CIPHER_CTX_free(s->ctx);
	if (s->buf != NULL) {
		cs_wipe(s->buf, SPILL_BUF);
		free(s->buf);
	}
	cs_wipe(s->key, sizeof(s->key));
	free(s);
}

/* ---------------------------------------------------------- as a BIO */

struct spill_reader {
	struct spill *s;
};

static int
spill_bio_read(BIO *bio, char *out, int size)
{
	struct spill_reader *sr = BIO_get_data(bio);
	size_t n = 0;

	if (size <= 0)
		return 0;
	if (spill_read(sr->s, out, (size_t)size, &n) != 0)
		return -1;
	return (int)n;
}

static long
spill_bio_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	(void)bio;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
spill_bio_destroy(BIO *bio)
{
	free(BIO_get_data(bio));
	BIO_set_data(bio, NULL);
	return 1;
}

static BIO_METHOD *spill_method;
static pthread_once_t spill_once = PTHREAD_ONCE_INIT;

static void
make_spill_method(void)
{
	spill_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cardseal-spill");
	if (spill_method != NULL) {
		BIO_meth_set_read(spill_method, spill_bio_read);
		BIO_meth_set_ctrl(spill_method, spill_bio_ctrl);
		BIO_meth_set_destroy(spill_method, spill_bio_destroy);
	}
}

BIO *
spill_bio_new(struct spill *s)
{
	struct spill_reader *sr;
	BIO *bio;

	pthread_once(&spill_once, make_spill_method);
	if (spill_method == NULL || (sr = calloc(1, sizeof(*sr))) == NULL)
		return NULL;
	if ((bio = BIO_new(spill_method)) == NULL) {
		free(sr);
		return NULL;
	}
	sr->s = s;
	BIO_set_data(bio, sr);
	BIO_set_init(bio, 1);
	return bio;
}
