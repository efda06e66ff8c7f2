/* cardseal certs: the certificate store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cs_error.h"
#include "output.h"

int
cmd_certs(int argc, char **argv)
{
	struct cs_client *c = NULL;
	uint8_t *data = NULL;
	size_t len;
	char *json = NULL;
	int i, r, status = 0;

	if (argc < 3 || strcmp(argv[1], "import") != 0) {
		fprintf(stderr, "Usage: cardseal certs import FILE...\n");
		return EXIT_USAGE;
	}
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	for (i = 2; i < argc; i++) {
		if ((r = read_small_file(argv[i], &data, &len)) == 0)
			r = cs_client_certs_import(c, data, len, &json);
		if (r != 0) {
			fprintf(stderr, "cardseal: %s: %s\n", argv[i],
			        r == CS_ERR_BAD_FORMAT ? "no certificate in this file" : cs_strerror(r));
			status = EXIT_OTHER;
		} else if (!cli_quiet) {
			print_import(stdout, argv[i], json);
		}
		free(data);
		free(json);
		data = NULL;
		json = NULL;
	}
	cs_client_close(c);
	return status;
}
