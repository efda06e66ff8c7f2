#include "headers.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "cs_error.h"

static void
field_clear(struct header_field *f)
{
	free(f->name);
	free(f->raw);
	free(f->value);
}

void
headers_clear(struct header_block *h)
{
	size_t i;

	for (i = 0; h->fields != NULL && i < h->n; i++)
		field_clear(&h->fields[i]);
	free(h->fields);
	cs_buf_clear(&h->raw);
	memset(h, 0, sizeof(*h));
}

/* Where the blank line ending the header block ends in p[0..n), or 0 if not there yet. */
static size_t
find_end(const uint8_t *p, size_t n, const char **ret_eol)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (p[i] != '\n')
			continue;
		if (p[i + 1] == '\n') {
			*ret_eol = "\n";
			return i + 2;
		}
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n') {
			*ret_eol = "\r\n";
			return i + 3;
		}
	}
	return 0;
}

static int
add_field(struct header_block *h, const char *start, size_t len)
{
	struct header_field *grown, *f;
	const char *colon = memchr(start, ':', len);
	size_t i, name_len;
	char *v;

	if (colon == NULL || colon == start)
		return CS_ERR_BAD_FORMAT;
	name_len = (size_t)(colon - start);
	for (i = 0; i < name_len; i++) {
		if (start[i] <= ' ' || start[i] > '~')
			return CS_ERR_BAD_FORMAT;
	}
	if ((grown = realloc(h->fields, (h->n + 1) * sizeof(*grown))) == NULL)
		return CS_ERR_NOMEM;
	h->fields = grown;
	f = &h->fields[h->n];
	memset(f, 0, sizeof(*f));
	f->name = strndup(start, name_len);
	f->raw = strndup(start, len);
	f->value = malloc(len + 1);
	if (f->name == NULL || f->raw == NULL || f->value == NULL) {
		field_clear(f);
		return CS_ERR_NOMEM;
	}
	h->n++;
	/* Unfold: line ends go, the blanks after them stay (RFC 5322 2.2.3). */
	v = f->value;
	for (i = name_len + 1; i < len; i++) {
		if (start[i] == '\r' || start[i] == '\n')
			continue;
		*v++ = start[i];
	}
	*v = '\0';
	v = f->value;
	while (*v == ' ' || *v == '\t')
		v++;
	memmove(f->value, v, strlen(v) + 1);
	return 0;
}

int
headers_read(BIO *in, struct header_block *h)
{
	uint8_t chunk[4096];
	size_t end = 0, line;
	int got, r;

	memset(h, 0, sizeof(*h));
	cs_buf_init(&h->raw, CS_HEADERS_MAX + sizeof(chunk));
	while (end == 0) {
		if (h->raw.len > CS_HEADERS_MAX)
			return CS_ERR_TOO_LARGE;
		/* Small reads keep the overshoot into the body small. */
		got = BIO_read(in, chunk, sizeof(chunk));
		if (got <= 0)
			return CS_ERR_BAD_FORMAT;   /* the input ended inside the header block */
		if ((r = cs_buf_put(&h->raw, chunk, (size_t)got)) != 0)
			return r;
		end = find_end(h->raw.data, h->raw.len, &h->eol);
	}
	/* Split into fields: a line starting with a blank continues the one before. */
	for (line = 0; line < end;) {
		size_t stop = line;

		while (stop < end) {
			const uint8_t *nl = memchr(h->raw.data + stop, '\n', end - stop);

			stop = nl != NULL ? (size_t)(nl - h->raw.data) + 1 : end;
			if (stop >= end || (h->raw.data[stop] != ' ' && h->raw.data[stop] != '\t'))
				break;
		}
		if (stop - line <= 2 && (h->raw.data[line] == '\n' || h->raw.data[line] == '\r'))
			break;          /* the blank line */
		if ((r = add_field(h, (const char *)h->raw.data + line, stop - line)) != 0)
			return r;
		line = stop;
	}
	/* What was read past the blank line is the body's start: keep only that in raw. */
	memmove(h->raw.data, h->raw.data + end, h->raw.len - end);
	h->raw.len -= end;
	return 0;
}

const char *
headers_get(const struct header_block *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		if (strcasecmp(h->fields[i].name, name) == 0)
			return h->fields[i].value;
	}
	return NULL;
}

static int
push_address(char ***list, size_t *n, const char *addr)
{
	char **grown, *copy, *p;

	if ((copy = strdup(addr)) == NULL)
		return CS_ERR_NOMEM;
	for (p = copy; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((grown = realloc(*list, (*n + 2) * sizeof(**list))) == NULL) {
		free(copy);
		return CS_ERR_NOMEM;
	}
	*list = grown;
	(*list)[(*n)++] = copy;
	(*list)[*n] = NULL;
	return 0;
}

static int
collect(InternetAddressList *l, char ***list, size_t *n)
{
	int i, r = 0;

	for (i = 0; l != NULL && i < internet_address_list_length(l) && r == 0; i++) {
		InternetAddress *ia = internet_address_list_get_address(l, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));

			if (addr != NULL && strchr(addr, '@') != NULL)
				r = push_address(list, n, addr);
		} else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			r = collect(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), list,
			            n);
		}
	}
	return r;
}

int
headers_addresses(const struct header_block *h, const char *name, char ***list, size_t *n)
{
	size_t i;
	int r = 0;

	for (i = 0; i < h->n && r == 0; i++) {
		InternetAddressList *l;

		if (strcasecmp(h->fields[i].name, name) != 0)
			continue;
		l = internet_address_list_parse(NULL, h->fields[i].value);
		r = collect(l, list, n);
		if (l != NULL)
			g_object_unref(l);
	}
	return r;
}

void
addresses_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; list != NULL && i < n; i++)
		free(list[i]);
	free(list);
}

static int
in_list(const char *addr, char *const *list, size_t n)
{
	size_t i;

	for (i = 0; addr != NULL && i < n; i++) {
		if (strcasecmp(addr, list[i]) == 0)
			return 1;
	}
	return 0;
}

/* Removes dropped mailboxes (also inside groups); returns how many are left. */
static int
prune(InternetAddressList *l, char *const *drop, size_t n_drop)
{
	int i, left = 0;

	for (i = internet_address_list_length(l) - 1; i >= 0; i--) {
		InternetAddress *ia = internet_address_list_get_address(l, i);

		if (INTERNET_ADDRESS_IS_MAILBOX(ia)) {
			if (in_list(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)), drop,
			            n_drop))
				internet_address_list_remove_at(l, i);
			else
				left++;
		} else if (INTERNET_ADDRESS_IS_GROUP(ia)) {
			left += prune(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), drop,
			              n_drop);
		}
	}
	return left;
}

int
headers_write(const struct header_block *h, const char *const *drop_fields,
              char *const *drop_addresses, size_t n_drop, struct cs_buf *out)
{
	size_t i, j;
	int r = 0, skip;

	for (i = 0; i < h->n && r == 0; i++) {
		const struct header_field *f = &h->fields[i];

		skip = 0;
		for (j = 0; drop_fields != NULL && drop_fields[j] != NULL; j++)
			skip |= strcasecmp(f->name, drop_fields[j]) == 0;
		if (skip)
			continue;
		if (n_drop > 0 && (strcasecmp(f->name, "To") == 0 || strcasecmp(f->name, "Cc") == 0)) {
			InternetAddressList *l = internet_address_list_parse(NULL, f->value);
			char *text;

			if (l == NULL)
				continue;
			if (prune(l, drop_addresses, n_drop) > 0) {
				text = internet_address_list_to_string(l, NULL, TRUE);
				if ((r = cs_buf_put(out, f->name, strlen(f->name))) == 0 &&
				    (r = cs_buf_put(out, ": ", 2)) == 0 &&
				    (r = cs_buf_put(out, text, strlen(text))) == 0)
					r = cs_buf_put(out, h->eol, strlen(h->eol));
				g_free(text);
			}
			g_object_unref(l);
			continue;
		}
		r = cs_buf_put(out, f->raw, strlen(f->raw));
	}
	if (r == 0)
		r = cs_buf_put(out, h->eol, strlen(h->eol));
	return r;
}

/* The concatenating BIO: prefix bytes, then the next BIO. */
struct concat {
	struct cs_buf prefix;
	size_t pos;
	BIO *next;
};

static int
concat_read(BIO *bio, char *out, int size)
{
	struct concat *c = BIO_get_data(bio);
	size_t n;

	if (size <= 0)
		return 0;
	if (c->pos < c->prefix.len) {
		n = c->prefix.len - c->pos;
		if (n > (size_t)size)
			n = (size_t)size;
		memcpy(out, c->prefix.data + c->pos, n);
		c->pos += n;
		return (int)n;
	}
	return BIO_read(c->next, out, size);
}

static long
concat_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	struct concat *c = BIO_get_data(bio);

	if (cmd == BIO_CTRL_EOF)
		return c->pos >= c->prefix.len && BIO_ctrl(c->next, cmd, num, ptr);
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
concat_destroy(BIO *bio)
{
	struct concat *c = BIO_get_data(bio);

	if (c != NULL) {
		cs_buf_clear(&c->prefix);
		free(c);
	}
	BIO_set_data(bio, NULL);
	return 1;
}

static BIO_METHOD *concat_method;

static void
make_concat_method(void)
{
	concat_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "cardseal-concat");
	if (concat_method != NULL) {
		BIO_meth_set_read(concat_method, concat_read);
		BIO_meth_set_ctrl(concat_method, concat_ctrl);
		BIO_meth_set_destroy(concat_method, concat_destroy);
	}
}

BIO *
concat_bio_new(const struct cs_buf *prefix, BIO *next)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct concat *c;
	BIO *bio;

	pthread_once(&once, make_concat_method);
	if (concat_method == NULL || (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	cs_buf_init(&c->prefix, prefix->len + 1);
	if (cs_buf_put(&c->prefix, prefix->data, prefix->len) != 0 ||
	    (bio = BIO_new(concat_method)) == NULL) {
		cs_buf_clear(&c->prefix);
		free(c);
		return NULL;
	}
	c->next = next;
	BIO_set_data(bio, c);
	BIO_set_init(bio, 1);
	return bio;
}
