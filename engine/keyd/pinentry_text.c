#include "pinentry_text.h"
#include "cs_error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * The cut mark is ASCII on purpose: pinentry-curses converts the text to the
 * terminal's charset and fails the whole dialog on a character it cannot
 * convert, so keyd's own text must never be the reason a dialog fails.
 */
#define CUT_MARK "..."
#define CUT_MARK_LEN 3

#define REPLACEMENT 0xfffdu

/* The output being built, with the state the caps need. */
struct text_out {
	char *buf;
	size_t len;
	size_t cap; /* bytes, excluding the NUL */
	enum cs_pe_text_kind kind;
	size_t chars;         /* characters in a label */
	size_t line_chars;    /* characters in the current summary line */
	int line_cut;         /* the rest of this line is dropped */
	int pending_newlines; /* summary: newlines not yet written (dropped if nothing follows) */
	int pending_space;    /* label: whitespace not yet written */
	int last_bad;         /* the last character written was U+FFFD for invalid input */
	int done;             /* a cap was reached; the rest is dropped */
};

/*
 * Decodes one character from p[0..n). Returns its length (>= 1); an invalid
 * sequence, an overlong form, a surrogate or a value past U+10FFFF yields
 * U+FFFD with *bad set and consumes one byte, so the next byte is tried again.
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp, int *bad)
{
	uint32_t c = p[0], min;
	size_t len, i;

	*bad = 0;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		c &= 0x1f;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		c &= 0x0f;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		goto bad;
	}
	if (n < len)
		goto bad;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			goto bad;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = REPLACEMENT;
	*bad = 1;
	return 1;
}

static size_t
utf8_encode(uint32_t c, char *p)
{
	if (c < 0x80) {
		p[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		p[0] = (char)(0xc0 | (c >> 6));
		p[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		p[0] = (char)(0xe0 | (c >> 12));
		p[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		p[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (c >> 18));
	p[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	p[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/* Where the character ending at len starts (text is valid UTF-8). */
static size_t
utf8_prev(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	len--;
	while (len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	return len;
}

/* Characters that change how the rest of the text is read, or are invisible. */
static int
is_dropped(uint32_t c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
		return 1; /* C0, DEL, C1 */
	if (c == 0x061c || c == 0x200e || c == 0x200f)
		return 1; /* ALM, LRM, RLM */
	if (c >= 0x202a && c <= 0x202e)
		return 1; /* LRE RLE PDF LRO RLO */
	if (c >= 0x2066 && c <= 0x2069)
		return 1; /* LRI RLI FSI PDI */
	if (c == 0x200b || c == 0x2060 || c == 0xfeff)
		return 1; /* zero-width space, word joiner, BOM */
	if (c >= 0xfff9 && c <= 0xfffb)
		return 1; /* interlinear annotation */
	if (c >= 0xe0000 && c <= 0xe007f)
		return 1; /* tags: invisible "ASCII smuggling" */
	return 0;
}

static void
out_put(struct text_out *o, const char *p, size_t n)
{
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

/* Ends the text with the cut mark, dropping characters until it fits the cap. */
static void
out_cut(struct text_out *o)
{
	while (o->len > 0 && o->len + CUT_MARK_LEN > o->cap)
		o->len = utf8_prev(o->buf, o->len);
	out_put(o, CUT_MARK, CUT_MARK_LEN);
	o->done = 1;
}

static void
label_char(struct text_out *o, const char *enc, size_t n)
{
	size_t space = o->pending_space && o->len > 0 ? 1 : 0;

	o->pending_space = 0;
	if (o->chars + space + 1 > CS_PE_LABEL_MAX_CHARS) {
		/* The mark takes the place of the last characters, so the cap holds. */
		while (o->chars > CS_PE_LABEL_MAX_CHARS - CUT_MARK_LEN) {
			o->len = utf8_prev(o->buf, o->len);
			o->chars--;
		}
		out_put(o, CUT_MARK, CUT_MARK_LEN);
		o->done = 1;
		return;
	}
	if (o->len + space + n > o->cap) {
		out_cut(o);
		return;
	}
	if (space)
		out_put(o, " ", 1);
	out_put(o, enc, n);
	o->chars += space + 1;
}

static void
summary_char(struct text_out *o, const char *enc, size_t n)
{
	size_t nl = 0;

	if (o->pending_newlines > 0 && o->len > 0)
		nl = o->pending_newlines > 2 ? 2 : (size_t)o->pending_newlines;
	o->pending_newlines = 0;
	if (o->len + nl + n > o->cap) {
		out_cut(o);
		return;
	}
	if (nl > 0) {
		out_put(o, "\n\n", nl);
		o->line_chars = 0;
		o->line_cut = 0;
	}
	if (o->line_cut)
		return;
	if (o->line_chars + 1 > CS_PE_LINE_MAX_CHARS) {
		while (o->line_chars > CS_PE_LINE_MAX_CHARS - CUT_MARK_LEN) {
			o->len = utf8_prev(o->buf, o->len);
			o->line_chars--;
		}
		out_put(o, CUT_MARK, CUT_MARK_LEN);
		o->line_chars += CUT_MARK_LEN;
		o->line_cut = 1;
		return;
	}
	out_put(o, enc, n);
	o->line_chars++;
}

/* Takes one decoded character through the rules of its kind of text. */
static void
take_char(struct text_out *o, uint32_t c, int bad)
{
	char enc[4];
	size_t n;

	if (c == '\n' || c == 0x2028 || c == 0x2029) {
		if (o->kind == CS_PE_TEXT_SUMMARY) {
			o->pending_newlines++;
			o->line_chars = 0;
			o->line_cut = 0;
		} else {
			o->pending_space = 1;
		}
		o->last_bad = 0;
		return;
	}
	if (c == '\t' || (c == ' ' && o->kind == CS_PE_TEXT_LABEL)) {
		if (o->kind == CS_PE_TEXT_LABEL) {
			o->pending_space = 1;
			o->last_bad = 0;
			return;
		}
		c = ' ';
	}
	if (is_dropped(c))
		return;
	if (bad && o->last_bad)
		return;
	n = utf8_encode(c, enc);
	if (o->kind == CS_PE_TEXT_LABEL)
		label_char(o, enc, n);
	else
		summary_char(o, enc, n);
	o->last_bad = bad;
}

int
cs_pe_sanitize(const char *in, size_t len, enum cs_pe_text_kind kind, char **ret_text)
{
	const unsigned char *p = (const unsigned char *)in;
	struct text_out o;
	size_t i, n;
	uint32_t c;
	int bad;

	if (in == NULL && len > 0)
		return CS_ERR_INVALID_ARG;
	memset(&o, 0, sizeof(o));
	o.kind = kind;
	o.cap = kind == CS_PE_TEXT_LABEL ? CS_PE_LABEL_MAX_CHARS * 4 : CS_PE_SUMMARY_MAX;
	if ((o.buf = malloc(o.cap + 1)) == NULL)
		return CS_ERR_NOMEM;
	for (i = 0; i < len && !o.done; i += n) {
		n = utf8_decode(p + i, len - i, &c, &bad);
		take_char(&o, c, bad);
	}
	o.buf[o.len] = '\0';
	*ret_text = o.buf;
	return 0;
}

/* Whether byte b must travel as %XX on an Assuan line. */
static int
needs_escape(unsigned char b)
{
	return b < 0x20 || b == '%' || b == '\\' || b == 0x7f;
}

/*
 * Where the escaped character ending at len starts. Only ASCII is ever
 * escaped and a literal '%' never stays literal, so "%XX" is unambiguous.
 */
static size_t
escaped_prev(const char *line, size_t len, size_t floor)
{
	if (len >= floor + 3 && line[len - 3] == '%')
		return len - 3;
	len = utf8_prev(line, len);
	return len < floor ? floor : len;
}

int
cs_pe_command_line(char *line, size_t size, const char *cmd, const char *text)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)(text != NULL ? text : "");
	size_t cmd_len = strlen(cmd);
	size_t limit, len, clen, need, i;

	if (size == 0)
		return CS_ERR_TOO_LARGE;
	limit = size - 1 < CS_PE_LINE_MAX ? size - 1 : CS_PE_LINE_MAX;
	if (cmd_len + 1 + CUT_MARK_LEN > limit)
		return CS_ERR_TOO_LARGE;
	memcpy(line, cmd, cmd_len);
	len = cmd_len;
	if (*s != '\0')
		line[len++] = ' ';
	while (*s != '\0') {
		/* A whole character at a time, so a cut never splits one. */
		clen = 1;
		while (clen < 4 && (s[clen] & 0xc0) == 0x80)
			clen++;
		for (need = 0, i = 0; i < clen; i++)
			need += needs_escape(s[i]) ? 3 : 1;
		if (len + need > limit) {
			while (len + CUT_MARK_LEN > limit)
				len = escaped_prev(line, len, cmd_len + 1);
			memcpy(line + len, CUT_MARK, CUT_MARK_LEN);
			len += CUT_MARK_LEN;
			break;
		}
		for (i = 0; i < clen; i++) {
			if (needs_escape(s[i])) {
				line[len++] = '%';
				line[len++] = hex[s[i] >> 4];
				line[len++] = hex[s[i] & 0xf];
			} else {
				line[len++] = (char)s[i];
			}
		}
		s += clen;
	}
	line[len] = '\0';
	return 0;
}

int
cs_pe_button_text(char *dst, size_t size, const char *text)
{
	size_t len = 0, clen;
	int r = 0;

	if (size == 0)
		return CS_ERR_TOO_LARGE;
	for (; *text != '\0'; text += clen) {
		clen = 1;
		while (clen < 4 && ((unsigned char)text[clen] & 0xc0) == 0x80)
			clen++;
		if (len + clen + (*text == '_') >= size) {
			r = CS_ERR_TOO_LARGE;
			break;
		}
		if (*text == '_')
			dst[len++] = '_';
		memcpy(dst + len, text, clen);
		len += clen;
	}
	dst[len] = '\0';
	return r;
}
