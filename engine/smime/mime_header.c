/*
 * Header blocks of mime_header.h. Values are parsed in place: the block is
 * at most MIME_HEADER_MAX bytes and nothing here allocates.
 */
#include "mime_header.h"

#include <string.h>

#include "cs_error.h"

void
mime_header_init(struct mime_header *h)
{
	cs_buf_init(&h->buf, MIME_HEADER_MAX);
	h->open_line = 0;
}

void
mime_header_clear(struct mime_header *h)
{
	cs_buf_clear(&h->buf);
	h->open_line = 0;
}

void
mime_header_reset(struct mime_header *h)
{
	/* Headers are not secret, but cs_buf wipes anyway; the cost is one block. */
	cs_buf_reset(&h->buf);
	h->open_line = 0;
}

int
mime_header_add(struct mime_header *h, const uint8_t *p, size_t len, int end)
{
	int r;

	if (len > 0 && (r = cs_buf_put(&h->buf, p, len)) != 0)
		return r;
	h->open_line = !end;
	return end ? cs_buf_put(&h->buf, "\r\n", 2) : 0;
}

static int
is_wsp(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* The end of the line at p (just after its CRLF); the block always ends with one. */
static size_t
line_end(const uint8_t *d, size_t len, size_t p)
{
	while (p + 1 < len && !(d[p] == '\r' && d[p + 1] == '\n'))
		p++;
	return p + 2 <= len ? p + 2 : len;
}

int
mime_header_check(const struct mime_header *h)
{
	const uint8_t *d = h->buf.data;
	size_t len = h->buf.len, p = 0, q;

	while (p < len) {
		if (is_wsp(d[p])) {
			if (p == 0)
				return CS_ERR_BAD_FORMAT; /* a continuation of nothing */
		} else {
			for (q = p; q < len && d[q] > 32 && d[q] < 127 && d[q] != ':'; q++)
				;
			if (q == p)
				return CS_ERR_BAD_FORMAT;
			while (q < len &&
			       is_wsp(d[q])) /* obsolete syntax: space before the colon */
				q++;
			if (q >= len || d[q] != ':')
				return CS_ERR_BAD_FORMAT;
		}
		p = line_end(d, len, p);
	}
	return 0;
}

int
mime_header_next(const struct mime_header *h, size_t *pos, struct mime_field *f)
{
	const uint8_t *d = h->buf.data;
	size_t len = h->buf.len, p = *pos, end, colon;

	if (p >= len)
		return 0;
	end = line_end(d, len, p);
	while (end < len && is_wsp(d[end]))
		end = line_end(d, len, end);
	for (colon = p; colon < end && d[colon] != ':'; colon++)
		;
	f->raw = d + p;
	f->raw_len = end - p;
	f->name = d + p;
	f->name_len = colon - p;
	while (f->name_len > 0 && is_wsp(f->name[f->name_len - 1]))
		f->name_len--;
	if (colon < end) {
		f->value = d + colon + 1;
		f->value_len = end - colon - 1;
		if (f->value_len >= 2 && f->value[f->value_len - 2] == '\r')
			f->value_len -= 2;
	} else {
		f->value = d + end;
		f->value_len = 0;
	}
	*pos = end;
	return 1;
}

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
span_eq_nocase(const uint8_t *p, size_t len, const char *s)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || ascii_lower(p[i]) != ascii_lower((unsigned char)s[i]))
			return 0;
	}
	return s[len] == '\0';
}

int
mime_field_is(const struct mime_field *f, const char *name)
{
	return span_eq_nocase(f->name, f->name_len, name);
}

int
mime_field_has_prefix(const struct mime_field *f, const char *prefix)
{
	size_t n = strlen(prefix);

	return f->name_len >= n && span_eq_nocase(f->name, n, prefix);
}

/* ------------------------------------------------ structured field values */

struct cursor {
	const uint8_t *p;
	size_t left;
};

/* Skips whitespace, folds and (nested) comments. */
static void
skip_cfws(struct cursor *c)
{
	int depth = 0;

	while (c->left > 0) {
		uint8_t ch = *c->p;

		if (depth > 0 && ch == '\\' && c->left > 1) {
			c->p += 2;
			c->left -= 2;
			continue;
		}
		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && !(ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n'))
			return;
		c->p++;
		c->left--;
	}
}

static int
is_tspecial(uint8_t ch)
{
	return strchr("()<>@,;:\\\"/[]?=", ch) != NULL;
}

static int
is_token_char(uint8_t ch)
{
	return ch > 32 && ch < 127 && !is_tspecial(ch);
}

/* A token, lower-cased into out (size n); 0, or -1 when absent or too long. */
static int
get_token(struct cursor *c, char *out, size_t n)
{
	size_t i = 0;

	while (c->left > 0 && is_token_char(*c->p)) {
		if (i + 1 >= n)
			return -1;
		out[i++] = (char)ascii_lower(*c->p);
		c->p++;
		c->left--;
	}
	out[i] = '\0';
	return i > 0 ? 0 : -1;
}

/*
 * A parameter value (token or quoted-string) into out when out is not NULL.
 * Returns its length, or -1 when malformed or longer than n - 1.
 */
static long
get_value(struct cursor *c, char *out, size_t n)
{
	size_t i = 0;

	if (c->left > 0 && *c->p == '"') {
		c->p++;
		c->left--;
		while (c->left > 0 && *c->p != '"') {
			uint8_t ch = *c->p;

			if (ch == '\\' && c->left > 1) {
				c->p++;
				c->left--;
				ch = *c->p;
			}
			if (ch == '\r' || ch == '\n') { /* a fold inside the quotes */
				c->p++;
				c->left--;
				continue;
			}
			if (out != NULL) {
				if (i + 1 >= n)
					return -1;
				out[i] = (char)ch;
			}
			i++;
			c->p++;
			c->left--;
		}
		if (c->left == 0)
			return -1;
		c->p++;
		c->left--;
	} else {
		while (c->left > 0 && is_token_char(*c->p)) {
			if (out != NULL) {
				if (i + 1 >= n)
					return -1;
				out[i] = (char)*c->p;
			}
			i++;
			c->p++;
			c->left--;
		}
		if (i == 0)
			return -1;
	}
	if (out != NULL)
		out[i] = '\0';
	return (long)i;
}

static int
boundary_ok(const char *b, size_t len)
{
	size_t i;

	if (len == 0 || len > MIME_BOUNDARY_MAX || b[len - 1] == ' ')
		return 0;
	for (i = 0; i < len; i++) {
		if ((unsigned char)b[i] < 32 || (unsigned char)b[i] > 126)
			return 0;
	}
	return 1;
}

int
mime_parse_ctype(const uint8_t *v, size_t len, struct mime_ctype *ct)
{
	struct cursor c = {v, len};
	char name[MIME_TOKEN_MAX];
	long n;

	memset(ct, 0, sizeof(*ct));
	skip_cfws(&c);
	if (get_token(&c, ct->type, sizeof(ct->type)) != 0)
		goto unreadable;
	skip_cfws(&c);
	if (c.left == 0 || *c.p != '/')
		goto unreadable;
	c.p++;
	c.left--;
	skip_cfws(&c);
	if (get_token(&c, ct->subtype, sizeof(ct->subtype)) != 0)
		goto unreadable;
	for (;;) {
		skip_cfws(&c);
		if (c.left == 0 || *c.p != ';')
			return 0; /* the end, or junk that hides no parameter we need */
		c.p++;
		c.left--;
		skip_cfws(&c);
		if (c.left == 0)
			return 0;
		if (get_token(&c, name, sizeof(name)) != 0)
			return 0;
		skip_cfws(&c);
		if (c.left == 0 || *c.p != '=')
			return 0;
		c.p++;
		c.left--;
		skip_cfws(&c);
		if (strcmp(name, "boundary") == 0 && ct->boundary_len == 0) {
			n = get_value(&c, ct->boundary, sizeof(ct->boundary));
			if (n < 0 || !boundary_ok(ct->boundary, (size_t)n))
				return CS_ERR_BAD_FORMAT;
			ct->boundary_len = (size_t)n;
		} else if (get_value(&c, NULL, 0) < 0) {
			return 0;
		}
	}
unreadable:
	/* RFC 2045 5.2: an invalid Content-Type is taken as the default, text/plain. */
	memset(ct, 0, sizeof(*ct));
	return 0;
}

enum mime_cte
mime_parse_cte(const uint8_t *v, size_t len)
{
	struct cursor c = {v, len};
	char tok[MIME_TOKEN_MAX];

	skip_cfws(&c);
	if (get_token(&c, tok, sizeof(tok)) != 0)
		return MIME_CTE_OTHER;
	if (strcmp(tok, "7bit") == 0)
		return MIME_CTE_7BIT;
	if (strcmp(tok, "8bit") == 0)
		return MIME_CTE_8BIT;
	if (strcmp(tok, "binary") == 0)
		return MIME_CTE_BINARY;
	if (strcmp(tok, "base64") == 0)
		return MIME_CTE_BASE64;
	if (strcmp(tok, "quoted-printable") == 0)
		return MIME_CTE_QP;
	return MIME_CTE_OTHER;
}
