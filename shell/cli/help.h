/* Per-command --help texts of the commands cardseal.c runs itself. */
#ifndef CS_CLI_HELP_H
#define CS_CLI_HELP_H

#include <stdio.h>

/* Prints cmd's help to out; returns 0, or -1 when cmd has no text here. */
int help_for(const char *cmd, FILE *out);

/* Whether argv (a command's arguments) asks for help: -h or --help before "--". */
int wants_help(int argc, char **argv);

#endif
