/*
 * Dialog text for pinentry: making untrusted strings safe to show, and
 * percent-escaping text onto one Assuan command line.
 *
 * The token label comes from the token and the summary from a message an
 * attacker may have written. Both could try to pass for something else: a
 * right-to-left override turning "invoice\u202Egpj.exe" into what reads as
 * "invoiceexe.jpg", terminal escape sequences for pinentry-curses, a label
 * with embedded line breaks that imitate keyd's own sentences, or text long
 * enough to push the real request out of the window. These functions keep
 * only what is shown as it is.
 */
#ifndef CS_PINENTRY_TEXT_H
#define CS_PINENTRY_TEXT_H

#include <stddef.h>

enum cs_pe_text_kind {
	CS_PE_TEXT_LABEL,   /* one line, at most CS_PE_LABEL_MAX_CHARS characters, trimmed */
	CS_PE_TEXT_SUMMARY, /* lines, each at most CS_PE_LINE_MAX_CHARS, in all CS_PE_SUMMARY_MAX
	                       bytes */
};

#define CS_PE_LABEL_MAX_CHARS 64
#define CS_PE_LINE_MAX_CHARS 200
#define CS_PE_SUMMARY_MAX 1000

/* Longest Assuan command line without its LF (ASSUAN_LINELENGTH - 2). */
#define CS_PE_LINE_MAX 1000

/*
 * Sanitizes in[0..len) (which may hold NUL bytes) into a new NUL-terminated
 * UTF-8 string in *ret_text, owned by the caller (free()). Removes C0
 * controls (a tab becomes a space; in a summary a newline stays and CR is
 * dropped), DEL, C1 controls, the bidirectional controls U+061C, U+200E,
 * U+200F, U+202A-U+202E and U+2066-U+2069, and the invisible U+200B,
 * U+2060, U+FEFF, U+FFF9-U+FFFB and tag characters U+E0000-U+E007F.
 * U+2028/U+2029 become a newline in a summary and a space in a label.
 * Invalid UTF-8 (also overlong forms and surrogates) becomes one U+FFFD per
 * bad run. A label is one trimmed line; a summary loses leading and trailing
 * blank lines and keeps at most one empty line in a row. Text cut by a cap
 * ends in "…" (U+2026), within the cap.
 * Returns 0, CS_ERR_INVALID_ARG (in NULL with len > 0) or CS_ERR_NOMEM.
 */
int cs_pe_sanitize(const char *in, size_t len, enum cs_pe_text_kind kind, char **ret_text);

/*
 * Writes "CMD text" into line[0..size) as one Assuan command line, text
 * percent-escaped (%, CR, LF, backslash and every byte below 0x20), and cut
 * at a character boundary with "…" if the line would exceed CS_PE_LINE_MAX
 * bytes or size - 1. text is UTF-8 (sanitized or keyd's own), NULL for none.
 * Returns 0, or CS_ERR_TOO_LARGE if not even the command fits.
 */
int cs_pe_command_line(char *line, size_t size, const char *cmd, const char *text);

/*
 * Copies button text for SETOK/SETCANCEL into dst[0..size), doubling each
 * underscore (pinentry reads "_" as an accelerator mark) and cutting at a
 * character boundary. Returns 0 or CS_ERR_TOO_LARGE (dst holds the cut text).
 */
int cs_pe_button_text(char *dst, size_t size, const char *text);

#endif
