#include "read_mime.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cs_error.h"

/* Longest field name looked at when deciding whether a line is a field at all. */
#define MAX_NAME 200

void
rd_headers_init(struct rd_headers *h)
{
	memset(h, 0, sizeof(*h));
	cs_buf_init(&h->raw, RD_MAX_HEADER_BLOCK);
}

void
rd_headers_free(struct rd_headers *h)
{
	cs_buf_clear(&h->raw);
	free(h->f);
	memset(h, 0, sizeof(*h));
}

/* Appends one line (through its LF, or to the input's end) to the block. */
static int
append_line(struct rd_in *in, struct rd_headers *h, size_t field_start)
{
	const uint8_t *p, *nl;
	size_t k;
	int r;

	for (;;) {
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		if (rd_in_avail(in) == 0)
			return 0;
		p = rd_in_ptr(in);
		nl = memchr(p, '\n', rd_in_avail(in));
		k = nl != NULL ? (size_t)(nl - p) + 1 : rd_in_avail(in);
		if (h->raw.len + k - field_start > RD_MAX_FIELD)
			return CS_ERR_TOO_LARGE;
		if ((r = cs_buf_put(&h->raw, p, k)) != 0)
			return r;
		rd_in_consume(in, k);
		if (nl != NULL)
			return 0;
	}
}

/*
 * Length of a field name at p followed by ':' (white space before the colon
 * allowed, RFC 5322 4.5.3), or 0 if the line is no field. *ret_value is
 * where the value starts, after the colon.
 */
static size_t
field_name_len(const uint8_t *p, size_t n, size_t *ret_value)
{
	size_t i, k;

	for (i = 0; i < n && i <= MAX_NAME && p[i] > 32 && p[i] < 127 && p[i] != ':'; i++)
		;
	for (k = i; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
		;
	if (i == 0 || k == n || p[k] != ':')
		return 0;
	*ret_value = k + 1;
	return i;
}

static int
add_field(struct rd_headers *h, size_t off, size_t name_len, size_t value_off)
{
	struct rd_field *f;
	size_t cap;

	if (h->n == RD_MAX_FIELDS)
		return CS_ERR_TOO_LARGE;
	if (h->n == h->cap) {
		cap = h->cap != 0 ? h->cap * 2 : 16;
		if ((f = realloc(h->f, cap * sizeof(*f))) == NULL)
			return CS_ERR_NOMEM;
		h->f = f;
		h->cap = cap;
	}
	h->f[h->n].off = off;
	h->f[h->n].name_len = name_len;
	h->f[h->n].value_off = value_off;
	h->f[h->n].len = 0;
	h->n++;
	return 0;
}

int
rd_headers_read(struct rd_in *in, struct rd_headers *h)
{
	const uint8_t *p;
	size_t avail, name_len, value_off = 0, start;
	int r;

	for (;;) {
		if ((r = rd_in_fill(in, 2 * MAX_NAME)) != 0)
			return r;
		avail = rd_in_avail(in);
		p = rd_in_ptr(in);
		if (avail == 0)
			return 0;
		if (p[0] == '\n' || (p[0] == '\r' && avail >= 2 && p[1] == '\n')) {
			h->end_len = p[0] == '\n' ? 1 : 2;
			memcpy(h->end, p, h->end_len);
			rd_in_consume(in, h->end_len);
			return 0;
		}
		if ((name_len = field_name_len(p, avail, &value_off)) == 0)
			return 0; /* not a field: the body starts here */
		start = h->raw.len;
		if ((r = add_field(h, start, name_len, value_off)) != 0)
			return r;
		/* The field, then its continuation lines (those starting with white space). */
		do {
			if ((r = append_line(in, h, start)) != 0)
				return r;
			if ((r = rd_in_fill(in, 1)) != 0)
				return r;
		} while (rd_in_avail(in) > 0 &&
		         (rd_in_ptr(in)[0] == ' ' || rd_in_ptr(in)[0] == '\t'));
		h->f[h->n - 1].len = h->raw.len - start;
		if (h->n == 1)
			h->crlf = h->raw.len >= 2 && h->raw.data[h->raw.len - 2] == '\r';
	}
}

int
rd_field_is(const struct rd_headers *h, size_t i, const char *name)
{
	const struct rd_field *f = &h->f[i];

	return strlen(name) == f->name_len &&
	       strncasecmp((const char *)h->raw.data + f->off, name, f->name_len) == 0;
}

int
rd_field_is_content(const struct rd_headers *h, size_t i)
{
	const struct rd_field *f = &h->f[i];

	return f->name_len >= 8 &&
	       strncasecmp((const char *)h->raw.data + f->off, "content-", 8) == 0;
}

int
rd_header_get(const struct rd_headers *h, const char *name, char **ret)
{
	const struct rd_field *f;
	const uint8_t *p;
	size_t i, k, n, len;
	char *s;

	*ret = NULL;
	for (i = 0; i < h->n; i++) {
		if (rd_field_is(h, i, name))
			break;
	}
	if (i == h->n)
		return 0;
	f = &h->f[i];
	p = h->raw.data + f->off + f->value_off;
	len = f->len - f->value_off;
	if ((s = malloc(len + 1)) == NULL)
		return CS_ERR_NOMEM;
	/* Unfolding drops the line ends; a NUL would cut the value short, so it becomes a space. */
	for (k = 0, n = 0; k < len; k++) {
		if (p[k] == '\r' || p[k] == '\n')
			continue;
		s[n++] = p[k] == 0 ? ' ' : (char)p[k];
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	s[n] = 0;
	for (k = 0; s[k] == ' ' || s[k] == '\t'; k++)
		;
	memmove(s, s + k, n - k + 1);
	*ret = s;
	return 0;
}

/* Skips white space and (nested) comments. */
static const char *
skip_cfws(const char *p)
{
	int depth = 0;

	for (; *p != 0; p++) {
		if (depth > 0) {
			if (*p == '\\' && p[1] != 0)
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
		} else if (*p == '(') {
			depth++;
		} else if (*p != ' ' && *p != '\t') {
			break;
		}
	}
	return p;
}

static int
is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* A token into out (lower-cased when lower); too long: out is "" and the token skipped. */
static const char *
get_token(const char *p, char *out, size_t size, int lower)
{
	size_t n = 0;
	int over = 0;

	while (*p != 0 && (unsigned char)*p > 32 && (unsigned char)*p < 127 && !is_tspecial(*p)) {
		if (n + 1 < size)
			out[n++] = lower ? (char)tolower((unsigned char)*p) : *p;
		else
			over = 1;
		p++;
	}
	out[over ? 0 : n] = 0;
	return p;
}

/* A quoted string's content (escapes removed) into out; "" if too long. */
static const char *
get_quoted(const char *p, char *out, size_t size)
{
	size_t n = 0;
	int over = 0;

	for (p++; *p != 0 && *p != '"'; p++) {
		if (*p == '\\' && p[1] != 0)
			p++;
		if (n + 1 < size)
			out[n++] = *p;
		else
			over = 1;
	}
	if (*p == '"')
		p++;
	out[over ? 0 : n] = 0;
	return p;
}

static void
lower(char *s)
{
	for (; *s != 0; s++)
		*s = (char)tolower((unsigned char)*s);
}

void
rd_ctype_parse(const char *value, struct rd_ctype *ct)
{
	char attr[64], val[512];
	const char *p;

	memset(ct, 0, sizeof(*ct));
	strcpy(ct->type, "text");
	strcpy(ct->subtype, "plain");
	if (value == NULL)
		return;
	p = skip_cfws(value);
	p = get_token(p, ct->type, sizeof(ct->type), 1);
	p = skip_cfws(p);
	if (*p != '/' || ct->type[0] == 0) {
		/* Unparseable: RFC 2045 5.2 says treat it as text/plain. */
		strcpy(ct->type, "text");
		strcpy(ct->subtype, "plain");
		return;
	}
	p = get_token(skip_cfws(p + 1), ct->subtype, sizeof(ct->subtype), 1);
	for (;;) {
		p = skip_cfws(p);
		if (*p != ';')
			break;
		p = get_token(skip_cfws(p + 1), attr, sizeof(attr), 1);
		p = skip_cfws(p);
		if (*p != '=')
			continue;
		p = skip_cfws(p + 1);
		if (*p == '"')
			p = get_quoted(p, val, sizeof(val));
		else
			p = get_token(p, val, sizeof(val), 0);
		if (strcmp(attr, "boundary") == 0 && strlen(val) <= RD_MAX_BOUNDARY) {
			strcpy(ct->boundary, val);
		} else if (strcmp(attr, "protocol") == 0 && strlen(val) < sizeof(ct->protocol)) {
			strcpy(ct->protocol, val);
			lower(ct->protocol);
		} else if (strcmp(attr, "micalg") == 0 && strlen(val) < sizeof(ct->micalg)) {
			strcpy(ct->micalg, val);
			lower(ct->micalg);
		} else if (strcmp(attr, "smime-type") == 0 &&
		           strlen(val) < sizeof(ct->smime_type)) {
			strcpy(ct->smime_type, val);
			lower(ct->smime_type);
		} else if (strcmp(attr, "name") == 0 && strlen(val) < sizeof(ct->name)) {
			strcpy(ct->name, val);
			lower(ct->name);
		}
	}
	/* A boundary ending in a space is not allowed and would never match a trimmed line. */
	if (ct->boundary[0] != 0 && ct->boundary[strlen(ct->boundary) - 1] == ' ')
		ct->boundary[0] = 0;
}

int
rd_ctype_protected(const struct rd_ctype *ct)
{
	size_t n;

	if (strcmp(ct->type, "multipart") == 0)
		return strcmp(ct->subtype, "signed") == 0 &&
		       (strcmp(ct->protocol, "application/pkcs7-signature") == 0 ||
		        strcmp(ct->protocol, "application/x-pkcs7-signature") == 0);
	if (strcmp(ct->type, "application") != 0)
		return 0;
	if (strcmp(ct->subtype, "pkcs7-mime") == 0 || strcmp(ct->subtype, "x-pkcs7-mime") == 0)
		return 1;
	/* Old clients label the CMS blob as an attachment named smime.p7m. */
	n = strnlen(ct->name, sizeof(ct->name));
	return strcmp(ct->subtype, "octet-stream") == 0 && n > 4 &&
	       memcmp(ct->name + (n - 4), ".p7m", 4) == 0;
}

void
rd_cte_parse(const char *value, char *out, size_t size)
{
	out[0] = 0;
	if (value != NULL)
		(void)get_token(skip_cfws(value), out, size, 1);
}

/* Copies one mailbox's addr-spec (text between start and end) into out, or returns 0. */
static int
take_addr(const char *start, const char *end, char *out)
{
	const char *lt = NULL, *gt = NULL, *p, *colon;
	size_t n = 0;
	int q = 0;

	for (p = start; p < end; p++) {
		if (*p == '\\' && q && p + 1 < end)
			p++;
		else if (*p == '"')
			q = !q;
		else if (!q && *p == '<' && lt == NULL)
			lt = p;
		else if (!q && *p == '>' && lt != NULL && gt == NULL)
			gt = p;
	}
	if (lt != NULL) {
		start = lt + 1;
		end = gt != NULL ? gt : end;
		/* An obsolete route "@a,@b:" before the address. */
		if ((colon = memchr(start, ':', (size_t)(end - start))) != NULL && *start == '@')
			start = colon + 1;
	}
	q = 0;
	for (p = start; p < end; p++) {
		if (*p == '"')
			q = !q;
		if (!q && (*p == ' ' || *p == '\t'))
			continue;
		if (n + 1 >= RD_MAX_ADDR)
			return 0;
		out[n++] = *p;
	}
	out[n] = 0;
	return n > 0 && strchr(out, '@') != NULL;
}

size_t
rd_addr_list(const char *value, char (*out)[RD_MAX_ADDR], size_t max)
{
	char *s, *w;
	const char *p, *start;
	size_t count = 0;
	int q = 0, angle = 0, depth = 0;

	if (value == NULL || max == 0 || (s = malloc(strlen(value) + 1)) == NULL)
		return 0;
	/* Comments go first (outside quoted strings): their commas and colons do not count. */
	for (p = value, w = s; *p != 0; p++) {
		if (depth == 0 && *p == '"')
			q = !q;
		if (!q && *p == '(') {
			depth++;
			continue;
		}
		if (depth > 0) {
			if (*p == '\\' && p[1] != 0)
				p++;
			else if (*p == ')')
				depth--;
			continue;
		}
		if (q && *p == '\\' && p[1] != 0)
			*w++ = *p++;
		*w++ = *p;
	}
	*w = 0;
	q = 0;
	/* Mailboxes end at ',' ';' and a group's display name at ':', outside quotes and <>. */
	for (p = start = s;; p++) {
		if (*p == '\\' && q && p[1] != 0) {
			p++;
			continue;
		}
		if (*p == '"')
			q = !q;
		else if (!q && *p == '<')
			angle = 1;
		else if (!q && *p == '>')
			angle = 0;
		if (*p == 0 || (!q && !angle && (*p == ',' || *p == ';' || *p == ':'))) {
			if (*p != ':' && count < max && take_addr(start, p, out[count]))
				count++;
			if (*p == 0)
				break;
			start = p + 1;
		}
	}
	free(s);
	return count;
}

int
rd_addr_equal(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');

	if (at_a == NULL || at_b == NULL || at_a - a != at_b - b)
		return 0;
	/* RFC 5280 7.5: the local part is compared exactly, the host ignoring case. */
	return strncmp(a, b, (size_t)(at_a - a)) == 0 && strcasecmp(at_a, at_b) == 0;
}

/* Gives out n bytes at q through the tap. */
static void
emit(struct rd_part *p, uint8_t *buf, size_t *n, const uint8_t *q, size_t k)
{
	memcpy(buf + *n, q, k);
	if (p->tap != NULL && k > 0)
		p->tap(p->tap_arg, buf + *n, k);
	*n += k;
}

/* Consumes up to and including the next LF (or to the end). */
static int
skip_line(struct rd_in *in)
{
	const uint8_t *nl;
	int r;

	for (;;) {
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		if (rd_in_avail(in) == 0)
			return 0;
		nl = memchr(rd_in_ptr(in), '\n', rd_in_avail(in));
		if (nl != NULL) {
			rd_in_consume(in, (size_t)(nl - rd_in_ptr(in)) + 1);
			return 0;
		}
		rd_in_consume(in, rd_in_avail(in));
	}
}

/*
 * At the start of a line: is it a delimiter ("--" boundary, optional white
 * space, line end) or the close delimiter ("--" boundary "--")? Consumes it
 * if so.
 */
static int
check_delimiter(struct rd_part *p, int *ret_is)
{
	struct rd_in *in = p->in;
	const uint8_t *s;
	size_t avail, k;
	int r;

	*ret_is = 0;
	if ((r = rd_in_fill(in, 2 + p->blen + 2 + 128)) != 0)
		return r;
	avail = rd_in_avail(in);
	s = rd_in_ptr(in);
	if (avail < 2 + p->blen || s[0] != '-' || s[1] != '-' ||
	    memcmp(s + 2, p->boundary, p->blen) != 0)
		return 0;
	k = 2 + p->blen;
	if (avail - k >= 2 && s[k] == '-' && s[k + 1] == '-') {
		/* Whatever follows on the close delimiter's line is epilogue. */
		*ret_is = 1;
		p->closed = 1;
		rd_in_consume(in, k + 2);
		return skip_line(in);
	}
	while (k < avail && (s[k] == ' ' || s[k] == '\t'))
		k++;
	if (k == avail) {
		if (!in->eof)
			return 0;
	} else if (s[k] == '\n') {
		k++;
	} else if (s[k] == '\r' && k + 1 < avail && s[k + 1] == '\n') {
		k += 2;
	} else {
		return 0;
	}
	*ret_is = 1;
	rd_in_consume(in, k);
	return 0;
}

static int
part_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct rd_part *p = (struct rd_part *)src;
	struct rd_in *in = p->in;
	const uint8_t *s, *nl;
	size_t n = 0, avail, m, j, k;
	int is, r;

	*ret_n = 0;
	while (n < cap && !p->ended) {
		if (p->at_line_start) {
			if ((r = check_delimiter(p, &is)) != 0)
				return r;
			if (is) {
				/* The line end before the delimiter is the delimiter's. */
				p->held_len = 0;
				p->ended = 1;
				break;
			}
			p->at_line_start = 0;
		}
		if (p->held_len > 0) {
			k = p->held_len < cap - n ? p->held_len : cap - n;
			emit(p, buf, &n, p->held, k);
			memmove(p->held, p->held + k, p->held_len - k);
			p->held_len -= k;
			continue;
		}
		if ((r = rd_in_fill(in, p->blen + 5)) != 0)
			return r;
		avail = rd_in_avail(in);
		s = rd_in_ptr(in);
		if (avail == 0) {
			p->ended = 1;
			p->eof = 1;
			break;
		}
		m = avail < cap - n ? avail : cap - n;
		/*
		 * Only a line end followed by "--" boundary can end the part:
		 * look for that, and give out everything before it in one go.
		 * A candidate may straddle the end of what is buffered, so
		 * the last blen + 4 bytes wait unless the input ended.
		 */
		nl = memmem(s, avail < m + p->blen + 3 ? avail : m + p->blen + 3, p->pattern,
		            p->blen + 3);
		if (nl != NULL && (size_t)(nl - s) <= m) {
			j = (size_t)(nl - s);
			k = j > 0 && s[j - 1] == '\r' ? j - 1 : j;
			emit(p, buf, &n, s, k);
			p->held_len = j + 1 - k;
			memcpy(p->held, s + k, p->held_len);
			rd_in_consume(in, j + 1);
			p->at_line_start = 1;
			continue;
		}
		if (!in->eof) {
			if (avail <= p->blen + 4) {
				/* Too little to decide: make the buffer show more. */
				if ((r = rd_in_fill(in, avail + 1)) != 0)
					return r;
				continue;
			}
			if (m > avail - (p->blen + 4))
				m = avail - (p->blen + 4);
		}
		emit(p, buf, &n, s, m);
		rd_in_consume(in, m);
	}
	*ret_n = n;
	return 0;
}

void
rd_part_init(struct rd_part *p, struct rd_in *in, const char *boundary)
{
	memset(p, 0, sizeof(*p));
	p->src.read = part_read;
	p->in = in;
	p->blen = strlen(boundary);
	memcpy(p->boundary, boundary, p->blen + 1);
	p->pattern[0] = '\n';
	p->pattern[1] = p->pattern[2] = '-';
	memcpy(p->pattern + 3, boundary, p->blen);
	p->at_line_start = 1;
}

int
rd_part_next(struct rd_part *p)
{
	if (!p->ended || p->closed || p->eof)
		return CS_ERR_BAD_FORMAT;
	p->ended = 0;
	p->held_len = 0;
	p->at_line_start = 1;
	return 0;
}
