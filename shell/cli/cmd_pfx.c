/* cardseal pfx import: a PKCS#12 file onto a token, through keyd. */
#include <stdio.h>

#include "cli.h"

int
cmd_pfx(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "cardseal: pfx: not written yet\n");
	return EXIT_OTHER;
}
