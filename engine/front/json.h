/*
 * A small JSON writer for replies (STATUS, reports). It appends to a cs_buf
 * and tracks commas itself; strings are escaped (control characters as
 * \u00XX, invalid UTF-8 replaced), so attacker-controlled text (subjects,
 * addresses from messages) cannot break the structure.
 */
#ifndef CS_JSON_H
#define CS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cs_buf.h"

#define CS_JSON_MAX_DEPTH 16

struct cs_json {
	struct cs_buf *out;
	int depth;
	int need_comma[CS_JSON_MAX_DEPTH];
	int error;              /* first error; later calls do nothing */
};

void cs_json_init(struct cs_json *j, struct cs_buf *out);
void cs_json_object_begin(struct cs_json *j, const char *key);  /* key NULL inside arrays/top */
void cs_json_object_end(struct cs_json *j);
void cs_json_array_begin(struct cs_json *j, const char *key);
void cs_json_array_end(struct cs_json *j);
void cs_json_string(struct cs_json *j, const char *key, const char *value);  /* NULL: null */
void cs_json_int(struct cs_json *j, const char *key, long long value);
void cs_json_bool(struct cs_json *j, const char *key, int value);
/* Ends the document (a NUL is appended but not counted). Returns 0 or the first error. */
int cs_json_finish(struct cs_json *j);

#endif
