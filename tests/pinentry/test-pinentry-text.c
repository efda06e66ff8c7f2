/* Unit tests for the dialog text: sanitizing untrusted strings and Assuan escaping. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "pinentry_text.h"
#include "tap.h"

static char *
clean(const char *in, size_t len, enum cs_pe_text_kind kind)
{
	char *out = NULL;

	if (cs_pe_sanitize(in, len, kind, &out) != 0)
		return NULL;
	return out;
}

/* Sanitizes a C string and compares; prints both on a mismatch. */
static void
check_clean(const char *in, enum cs_pe_text_kind kind, const char *want, const char *what)
{
	char *got = clean(in, strlen(in), kind);

	CHECK(got != NULL && strcmp(got, want) == 0, "%s", what);
	if (got == NULL || strcmp(got, want) != 0)
		printf("#   got \"%s\", want \"%s\"\n", got != NULL ? got : "(null)", want);
	free(got);
}

/* Number of characters in valid UTF-8. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/*
 * Checks what every output must be: valid UTF-8 without the characters the
 * sanitizer removes, and with no newline in a label.
 */
static int
output_is_safe(const char *s, enum cs_pe_text_kind kind)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t c;
	size_t n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			c = *p;
			n = 1;
		} else if ((*p & 0xe0) == 0xc0) {
			c = *p & 0x1f;
			n = 2;
		} else if ((*p & 0xf0) == 0xe0) {
			c = *p & 0x0f;
			n = 3;
		} else if ((*p & 0xf8) == 0xf0) {
			c = *p & 0x07;
			n = 4;
		} else {
			return 0;
		}
		for (i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
		    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		if (c == '\n' ? kind == CS_PE_TEXT_LABEL : c < 0x20)
			return 0;
		if (c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x061c || c == 0x200e ||
		    c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
		    c == 0x2028 || c == 0x2029)
			return 0;
		p += n;
	}
	return 1;
}

static void
test_controls(void)
{
	static const char nul_esc[] = "a\0b\x1b[31mc\x1b]0;title\x07!";
	char *got;

	check_clean("Alice Card", CS_PE_TEXT_LABEL, "Alice Card", "plain label unchanged");
	check_clean("  Alice   Card                    ", CS_PE_TEXT_LABEL, "Alice Card",
	            "label trimmed (PKCS#11 blank padding) and spaces collapsed");
	check_clean("Evil\nEnter the PIN\tnow", CS_PE_TEXT_LABEL, "Evil Enter the PIN now",
	            "label: newline and tab become one space");
	got = clean(nul_esc, sizeof(nul_esc) - 1, CS_PE_TEXT_SUMMARY);
	CHECK(got != NULL && strcmp(got, "ab[31mc]0;title!") == 0,
	      "embedded NUL, ESC and BEL removed (terminal sequences defused)");
	free(got);
	got = clean(nul_esc, sizeof(nul_esc) - 1, CS_PE_TEXT_LABEL);
	CHECK(got != NULL && strcmp(got, "ab[31mc]0;title!") == 0, "the same in a label");
	free(got);
	check_clean("x\xc2\x9b[2Jy\xc2\x85z", CS_PE_TEXT_SUMMARY, "x[2Jyz",
	            "C1 controls (CSI, NEL) removed");
	check_clean("de\x7fl", CS_PE_TEXT_SUMMARY, "del", "DEL removed");
	check_clean("a\tb", CS_PE_TEXT_SUMMARY, "a b", "tab in a summary becomes a space");
}

static void
test_bidi(void)
{
	static const char *const controls[] = {
	    "\u061C", "\u200E", "\u200F",                     /* ALM LRM RLM */
	    "\u202A", "\u202B", "\u202C", "\u202D", "\u202E", /* LRE RLE PDF LRO RLO */
	    "\u2066", "\u2067", "\u2068", "\u2069",           /* LRI RLI FSI PDI */
	};
	char in[64], *got;
	size_t i, removed = 0;

	/* Shown as "invoiceexe.jpg" by a bidi-aware renderer; it is an .exe. */
	check_clean("invoice\u202Egpj.exe", CS_PE_TEXT_SUMMARY, "invoicegpj.exe",
	            "right-to-left override filename trick defused (summary)");
	check_clean("invoice\u202Egpj.exe", CS_PE_TEXT_LABEL, "invoicegpj.exe",
	            "right-to-left override defused (label)");
	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		snprintf(in, sizeof(in), "a%sb", controls[i]);
		got = clean(in, strlen(in), CS_PE_TEXT_SUMMARY);
		removed += got != NULL && strcmp(got, "ab") == 0;
		free(got);
	}
	CHECK(removed == sizeof(controls) / sizeof(controls[0]), "every bidi control removed (%zu)",
	      removed);
	check_clean("a\u200Bb\uFEFFc\U000E0041d\u2060e", CS_PE_TEXT_SUMMARY, "abcde",
	            "zero-width space, BOM, tag and word joiner removed");
	check_clean("\u05E9\u05DC\u05D5\u05DD abc", CS_PE_TEXT_SUMMARY,
	            "\u05E9\u05DC\u05D5\u05DD abc", "right-to-left letters themselves are kept");
}

static void
test_utf8(void)
{
	check_clean("Gr\u00FC\u00DFe \u65E5\u672C \U0001F600", CS_PE_TEXT_SUMMARY,
	            "Gr\u00FC\u00DFe \u65E5\u672C \U0001F600", "valid UTF-8 kept");
	check_clean("a\xff-b", CS_PE_TEXT_SUMMARY, "a\uFFFD-b", "stray byte becomes U+FFFD");
	check_clean("a\xc0\xaf-b", CS_PE_TEXT_SUMMARY, "a\uFFFD-b",
	            "overlong '/' becomes one U+FFFD");
	check_clean("a\xed\xa0\x80-b", CS_PE_TEXT_SUMMARY, "a\uFFFD-b",
	            "UTF-8 surrogate becomes U+FFFD");
	check_clean("a\xf4\x90\x80\x80-b", CS_PE_TEXT_SUMMARY, "a\uFFFD-b",
	            "past U+10FFFF becomes U+FFFD");
	check_clean("ab\xe2\x82", CS_PE_TEXT_SUMMARY, "ab\uFFFD", "truncated sequence at the end");
	check_clean("\xe2\x82-c", CS_PE_TEXT_SUMMARY, "\uFFFD-c",
	            "truncated sequence before ASCII keeps the ASCII");
	check_clean("\xc3\x28", CS_PE_TEXT_LABEL, "\uFFFD(", "bad continuation byte");
}

static void
test_lines(void)
{
	char in[4096], want[4096], *got;
	size_t i;

	check_clean("\n\nFrom: a\r\n\n\n\nSubject: b\n\n\n", CS_PE_TEXT_SUMMARY,
	            "From: a\n\nSubject: b",
	            "summary: CRLF to LF, blank lines trimmed and collapsed to one");
	check_clean("one\u2028two\u2029three", CS_PE_TEXT_SUMMARY, "one\ntwo\nthree",
	            "line and paragraph separators become newlines in a summary");
	check_clean("one\u2028two", CS_PE_TEXT_LABEL, "one two", "and a space in a label");

	memset(in, 'x', 300);
	strcpy(in + 300, "\nnext line");
	memset(want, 'x', CS_PE_LINE_MAX_CHARS - 3);
	strcpy(want + CS_PE_LINE_MAX_CHARS - 3, "...\nnext line");
	check_clean(in, CS_PE_TEXT_SUMMARY, want,
	            "long line cut at 200 characters, next line kept");

	memset(in, 'y', CS_PE_LINE_MAX_CHARS);
	in[CS_PE_LINE_MAX_CHARS] = '\0';
	check_clean(in, CS_PE_TEXT_SUMMARY, in, "a line of exactly 200 characters is whole");

	for (i = 0; i < 250; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[500] = '\0';
	got = clean(in, 500, CS_PE_TEXT_SUMMARY);
	CHECK(got != NULL && utf8_chars(got) == CS_PE_LINE_MAX_CHARS &&
	          output_is_safe(got, CS_PE_TEXT_SUMMARY) &&
	          strcmp(got + strlen(got) - 3, "...") == 0,
	      "line cap counts characters, not bytes");
	free(got);
}

static void
test_caps(void)
{
	char in[8192], *got;
	size_t i;

	memset(in, 'a', 100);
	in[100] = '\0';
	got = clean(in, 100, CS_PE_TEXT_LABEL);
	CHECK(got != NULL && utf8_chars(got) == CS_PE_LABEL_MAX_CHARS &&
	          strncmp(got + CS_PE_LABEL_MAX_CHARS - 3, "...", 3) == 0,
	      "label capped at 64 characters, cut marked");
	free(got);
	in[CS_PE_LABEL_MAX_CHARS] = '\0';
	check_clean(in, CS_PE_TEXT_LABEL, in, "label of exactly 64 characters is whole");
	for (i = 0; i < 70; i++)
		memcpy(in + 4 * i, "\xf0\x9f\x98\x80", 4);
	got = clean(in, 280, CS_PE_TEXT_LABEL);
	CHECK(got != NULL && utf8_chars(got) == CS_PE_LABEL_MAX_CHARS &&
	          output_is_safe(got, CS_PE_TEXT_LABEL),
	      "label cap with 4-byte characters keeps whole characters");
	free(got);

	/* 26 lines of 100 "€": 7.8 KB, far over the summary cap. */
	{
		size_t n = 0, line, k;

		for (line = 0; line < 26 && n + 302 < sizeof(in); line++) {
			for (k = 0; k < 100; k++) {
				memcpy(in + n, "\xe2\x82\xac", 3);
				n += 3;
			}
			in[n++] = '\n';
		}
		got = clean(in, n, CS_PE_TEXT_SUMMARY);
		CHECK(got != NULL && strlen(got) <= CS_PE_SUMMARY_MAX &&
		          output_is_safe(got, CS_PE_TEXT_SUMMARY) &&
		          strcmp(got + strlen(got) - 3, "...") == 0,
		      "summary capped at 1000 bytes, on a character boundary, cut marked (%zu)",
		      got != NULL ? strlen(got) : 0);
		free(got);
	}
	got = clean(NULL, 0, CS_PE_TEXT_SUMMARY);
	CHECK(got != NULL && got[0] == '\0', "NULL and empty is the empty string");
	free(got);
	CHECK_EQ_INT(cs_pe_sanitize(NULL, 3, CS_PE_TEXT_SUMMARY, &got), CS_ERR_INVALID_ARG,
	             "NULL with a length refused");
}

/* Random bytes, biased towards the interesting ones: every output is safe and capped. */
static void
test_random(void)
{
	static const unsigned char pool[] = {0x00, 0x0a, 0x0d, 0x1b, 0x7f, 0x80, 0x9b, 0xc2,
	                                     0xc3, 0xe2, 0x80, 0xae, 0xa8, 0xf0, 0xf4, 0xff,
	                                     'a',  ' ',  '%',  '\\', 0xd8, 0x9c, 0xed, 0xa0};
	unsigned char in[3000];
	size_t i, len, bad = 0, capped = 0, idem = 0, round;
	uint32_t seed = 12345;
	char *a, *b;
	int kind;

	for (round = 0; round < 4000; round++) {
		kind = round & 1;
		len = (seed = seed * 1103515245u + 12345u) % sizeof(in);
		for (i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = (seed >> 16) % 3 == 0 ? (unsigned char)(seed >> 8)
			                              : pool[(seed >> 16) % sizeof(pool)];
		}
		a = clean((const char *)in, len, (enum cs_pe_text_kind)kind);
		if (a == NULL || !output_is_safe(a, (enum cs_pe_text_kind)kind)) {
			bad++;
		} else if (kind == CS_PE_TEXT_LABEL ? utf8_chars(a) > CS_PE_LABEL_MAX_CHARS
		                                    : strlen(a) > CS_PE_SUMMARY_MAX) {
			capped++;
		} else {
			/* Sanitized text is its own sanitized form (unless a cut mark moves). */
			b = clean(a, strlen(a), (enum cs_pe_text_kind)kind);
			if (b == NULL || (strcmp(a, b) != 0 && strstr(a, "...") == NULL))
				idem++;
			free(b);
		}
		free(a);
	}
	CHECK(bad == 0, "random input: output always valid UTF-8 without controls (%zu bad)", bad);
	CHECK(capped == 0, "random input: caps always hold (%zu over)", capped);
	CHECK(idem == 0, "random input: sanitizing twice changes nothing (%zu differ)", idem);
}

static void
test_command_line(void)
{
	char line[CS_PE_LINE_MAX + 1], text[4096], small[20];
	size_t i, len;
	int r;

	r = cs_pe_command_line(line, sizeof(line), "SETDESC", "a%b\nc\rd\\e\001f \u00E9");
	CHECK(r == 0 && strcmp(line, "SETDESC a%25b%0Ac%0Dd%5Ce%01f \u00E9") == 0,
	      "%%, LF, CR, backslash and C0 escaped; UTF-8 and space as they are");
	CHECK(cs_pe_command_line(line, sizeof(line), "SETDESC", NULL) == 0 &&
	          strcmp(line, "SETDESC") == 0,
	      "no text: the command alone");

	memset(text, 'a', 2000);
	text[2000] = '\0';
	r = cs_pe_command_line(line, sizeof(line), "SETDESC", text);
	len = strlen(line);
	CHECK(r == 0 && len == CS_PE_LINE_MAX && strcmp(line + len - 3, "...") == 0,
	      "long text cut to exactly one Assuan line, marked");

	memset(text, '%', 600);
	text[600] = '\0';
	r = cs_pe_command_line(line, sizeof(line), "SETDESC", text);
	len = strlen(line);
	CHECK(r == 0 && len <= CS_PE_LINE_MAX && (len - 8 - 3) % 3 == 0 &&
	          strcmp(line + len - 6, "%25...") == 0,
	      "cut never splits an escape");

	for (i = 0; i < 600; i++)
		memcpy(text + 2 * i, "\xc3\xa9", 2);
	text[1200] = '\0';
	r = cs_pe_command_line(line, sizeof(line), "SETDESC", text);
	len = strlen(line);
	CHECK(r == 0 && len <= CS_PE_LINE_MAX && (len - 8 - 3) % 2 == 0 &&
	          output_is_safe(line, CS_PE_TEXT_LABEL),
	      "cut never splits a UTF-8 character");

	r = cs_pe_command_line(small, sizeof(small), "SETDESC", "0123456789abcdef");
	CHECK(r == 0 && strlen(small) <= sizeof(small) - 1 &&
	          strcmp(small, "SETDESC 01234567...") == 0,
	      "cut to a small buffer");
	CHECK_EQ_INT(cs_pe_command_line(small, sizeof(small), "A_VERY_LONG_COMMAND", "x"),
	             CS_ERR_TOO_LARGE, "command that cannot fit refused");
}

static void
test_buttons(void)
{
	char buf[8];

	CHECK(cs_pe_button_text(buf, sizeof(buf), "Sign_it") == CS_ERR_TOO_LARGE &&
	          strcmp(buf, "Sign__i") == 0,
	      "button: underscore doubled, cut when too long");
	CHECK(cs_pe_button_text(buf, sizeof(buf), "Sign") == 0 && strcmp(buf, "Sign") == 0,
	      "button: plain text unchanged");
	CHECK(cs_pe_button_text(buf, 4, "\xc3\xa9\xc3\xa9") == CS_ERR_TOO_LARGE &&
	          strcmp(buf, "\xc3\xa9") == 0,
	      "button: cut on a character boundary");
}

int
main(void)
{
	test_controls();
	test_bidi();
	test_utf8();
	test_lines();
	test_caps();
	test_random();
	test_command_line();
	test_buttons();
	return tap_done();
}
