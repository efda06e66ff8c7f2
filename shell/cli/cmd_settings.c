/* cardseal settings and cardseal policy: per-account S/MIME settings and the admin policy. */
#include <stdio.h>

#include "cli.h"

int
cmd_settings(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cardseal: settings: not written yet\n");
	return EXIT_OTHER;
}

int
cmd_policy(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cardseal: policy: not written yet\n");
	return EXIT_OTHER;
}
