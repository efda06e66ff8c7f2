/*
 * What the cardseal CLI's command files share: exit codes, global options,
 * reaching the engine, and small file helpers. Each command lives in its own
 * file (cmd_*.c); cardseal.c parses the global options and dispatches.
 */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cs_client.h"

enum {
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_INVALID_SIGNATURE = 3,
	EXIT_NO_RECIPIENT_CERT = 4,
	EXIT_CANCELLED = 5,
	EXIT_NO_KEY = 6,
};

extern const char *cli_socket_path;    /* --socket */
extern int cli_quiet;                  /* --quiet */

/* The exit status for an engine error. */
int exit_for(int err);

/* Connects (starting the engine if needed) with the CLI's event printer; prints failures. */
int connect_engine(struct cs_client **ret);

/* Reads a whole (small) file; capped at 1 MiB (CS_ERR_TOO_LARGE). */
int read_small_file(const char *path, uint8_t **ret, size_t *ret_len);

/* Opens IN (or standard input for NULL or "-"); prints failures and returns -1. */
int open_input(const char *path);

/* Names the recipients of a CS_ERR_NO_RECIPIENT_CERT error's details on stderr. */
void print_missing(const char *details);

/*
 * Prints an engine error for what: the details' message (naming the policy
 * that refused, and the valid choices, when the details say so), else the
 * error's description. cmd_settings.c.
 */
void print_engine_error(const char *what, int err, const char *details);

/* After PROTECT without --sign/--encrypt: what the defaults and the policy applied. */
/*
 * PROTECT's reply for people: who was left out, and (always when defaults
 * decided, else only when the cipher was negotiated or chosen by policy)
 * what was applied and why.
 */
void print_protect_applied(const char *json, int defaults_decided);

/* Writes json (and a newline) to path through a temporary file and rename. */
int write_report(const char *path, const char *json);

/* Commands. */
int cmd_status(int argc, char **argv);
int cmd_protect(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_certs(int argc, char **argv);       /* cmd_certs.c */
int cmd_settings(int argc, char **argv);    /* cmd_settings.c */
int cmd_policy(int argc, char **argv);      /* cmd_settings.c */
int cmd_pfx(int argc, char **argv);         /* cmd_pfx.c */

#endif
