#include "json.h"

#include <stdio.h>
#include <string.h>

#include "cs_error.h"

void
cs_json_init(struct cs_json *j, struct cs_buf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void
put(struct cs_json *j, const char *s, size_t n)
{
	if (j->error == 0)
		j->error = cs_buf_put(j->out, s, n);
}

static void
put_s(struct cs_json *j, const char *s)
{
	put(j, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, size_t left)
{
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

static void
put_quoted(struct cs_json *j, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), n;
	char esc[8];

	put(j, "\"", 1);
	while (left > 0) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(j, esc, 2);
			n = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			put(j, esc, 6);
			n = 1;
		} else if ((n = utf8_len(p, left)) == 0) {
			put_s(j, "\\ufffd");        /* not UTF-8: replaced, never passed on */
			n = 1;
		} else {
			put(j, (const char *)p, n);
		}
		p += n;
		left -= n;
	}
	put(j, "\"", 1);
}

static void
begin_value(struct cs_json *j, const char *key)
{
	if (j->depth > 0 && j->need_comma[j->depth - 1])
		put(j, ",", 1);
	if (j->depth > 0)
		j->need_comma[j->depth - 1] = 1;
	if (key != NULL) {
		put_quoted(j, key);
		put(j, ":", 1);
	}
}

static void
open_nested(struct cs_json *j, const char *key, const char *bracket)
{
	begin_value(j, key);
	if (j->depth >= CS_JSON_MAX_DEPTH) {
		if (j->error == 0)
			j->error = CS_ERR_TOO_LARGE;
		return;
	}
	put_s(j, bracket);
	j->need_comma[j->depth++] = 0;
}

void
cs_json_object_begin(struct cs_json *j, const char *key)
{
	open_nested(j, key, "{");
}

void
cs_json_array_begin(struct cs_json *j, const char *key)
{
	open_nested(j, key, "[");
}

static void
close_nested(struct cs_json *j, const char *bracket)
{
	if (j->depth == 0) {
		if (j->error == 0)
			j->error = CS_ERR_INTERNAL;
		return;
	}
	j->depth--;
	put_s(j, bracket);
}

void
cs_json_object_end(struct cs_json *j)
{
	close_nested(j, "}");
}

void
cs_json_array_end(struct cs_json *j)
{
	close_nested(j, "]");
}

void
cs_json_string(struct cs_json *j, const char *key, const char *value)
{
	begin_value(j, key);
	if (value == NULL)
		put_s(j, "null");
	else
		put_quoted(j, value);
}

void
cs_json_int(struct cs_json *j, const char *key, long long value)
{
	char num[32];

	begin_value(j, key);
	snprintf(num, sizeof(num), "%lld", value);
	put_s(j, num);
}

void
cs_json_bool(struct cs_json *j, const char *key, int value)
{
	begin_value(j, key);
	put_s(j, value ? "true" : "false");
}

int
cs_json_finish(struct cs_json *j)
{
	if (j->error == 0 && j->depth != 0)
		j->error = CS_ERR_INTERNAL;
	if (j->error == 0 && (j->error = cs_buf_put_u8(j->out, 0)) == 0)
		j->out->len--;
	return j->error;
}
