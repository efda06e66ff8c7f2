#include "cs_secret.h"
#include "cs_buf.h"
#include "cs_error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct cs_secret {
	uint8_t *data;     /* mapping of map_len bytes; data[len] is always NUL */
	size_t len;
	size_t cap;        /* usable bytes, excluding the NUL */
	size_t map_len;
	int locked;
};

struct cs_secret *
cs_secret_new(size_t cap)
{
	struct cs_secret *s;
	long page = sysconf(_SC_PAGESIZE);

	if (cap > CS_SECRET_MAX || page <= 0)
		return NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	/* Whole pages of our own: nothing else shares them, so locking is exact. */
	s->map_len = ((cap + 1 + (size_t)page - 1) / (size_t)page) * (size_t)page;
	s->data = mmap(NULL, s->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
	               0);
	if (s->data == MAP_FAILED) {
		free(s);
		return NULL;
	}
	s->cap = cap;
	s->locked = mlock(s->data, s->map_len) == 0;
	(void)madvise(s->data, s->map_len, MADV_DONTDUMP);
	return s;
}

struct cs_secret *
cs_secret_from(const void *p, size_t n)
{
	struct cs_secret *s = cs_secret_new(n);

	if (s != NULL && cs_secret_append(s, p, n) != 0) {
		cs_secret_free(s);
		s = NULL;
	}
	return s;
}

void
cs_secret_free(struct cs_secret *s)
{
	if (s == NULL)
		return;
	cs_wipe(s->data, s->map_len);
	if (s->locked)
		(void)munlock(s->data, s->map_len);
	(void)munmap(s->data, s->map_len);
	free(s);
}

int
cs_secret_append(struct cs_secret *s, const void *p, size_t n)
{
	if (n > s->cap - s->len)
		return CS_ERR_TOO_LARGE;
	if (n > 0)
		memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
	return 0;
}

void
cs_secret_clear(struct cs_secret *s)
{
	cs_wipe(s->data, s->len);
	s->len = 0;
}

const uint8_t *
cs_secret_data(const struct cs_secret *s)
{
	return s->data;
}

const char *
cs_secret_str(const struct cs_secret *s)
{
	return (const char *)s->data;
}

size_t
cs_secret_len(const struct cs_secret *s)
{
	return s->len;
}

int
cs_secret_is_locked(const struct cs_secret *s)
{
	return s->locked;
}

int
cs_secret_equal(const struct cs_secret *s, const void *p, size_t n)
{
	const uint8_t *q = p;
	uint8_t diff = 0;
	size_t i;

	if (n != s->len)
		return 0;
	for (i = 0; i < n; i++)
		diff |= (uint8_t)(s->data[i] ^ q[i]);
	return diff == 0;
}
