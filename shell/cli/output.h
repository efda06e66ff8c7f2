/* Human-readable output of the engine's JSON replies (json-c reads them). */
#ifndef CS_CLI_OUTPUT_H
#define CS_CLI_OUTPUT_H

#include <stdio.h>

/* STATUS: tokens with their PIN state, then identities with validity and usage. */
void print_status(FILE *out, const char *json);

/* CERTS_IMPORT: how many certificates a file held and how many were new. */
void print_import(FILE *out, const char *file, const char *json);

/* READ: one line per layer, in plain words, and what is wrong when something is. */
void print_report(FILE *out, const char *json);

/* CERTS_LIST: each certificate in a few plain lines. */
void print_certs(FILE *out, const char *json);

/* CERTS_INSTALL: what was installed, for whom. */
void print_install(FILE *out, const char *json);

/* An error's JSON details ({"error":..., "verdict":..., "reasons":[...]}) in words; nothing if none. */
void print_error_details(FILE *out, const char *details);

/* Whether the report's overall verdict is "valid" or "unsigned". */
int report_signatures_ok(const char *json);

#endif
