/*
 * The progress bar on a terminal for large messages: the engine reports
 * bytes of input consumed (CS_EVENT_PROGRESS); the CLI knows the input's
 * size when it is a regular file and draws a bar, otherwise a byte count.
 */
#ifndef CS_CLI_PROGRESS_H
#define CS_CLI_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

/* The size of the input being sent (0 = unknown: standard input, a pipe). */
void progress_set_total(uint64_t total);

/* Draws the bar for done bytes on out (a terminal); returns whether it drew. */
int progress_draw(FILE *out, uint64_t done);

/* Ends the bar's line if one is shown. */
void progress_end(FILE *out);

#endif
