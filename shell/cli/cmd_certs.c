/*
 * cardseal certs: the certificate store. list/search, import (files, or
 * --from-message: the sender's certificate from a signed message), export,
 * remove. Human output is a few plain lines per certificate; --json prints
 * the engine's reply as it came.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "atomic_out.h"
#include "cli.h"
#include "cs_buf.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "output.h"

static const char certs_usage[] =
	"Usage: cardseal certs COMMAND [ARGS]\n"
	"\n"
	"The certificate store: your own identities and your correspondents'\n"
	"certificates, used to encrypt to them.\n"
	"\n"
	"Commands:\n"
	"  list [--json] [ADDR]            every certificate, or those for ADDR\n"
	"  search [--json] ADDR            the certificates for ADDR (list ADDR)\n"
	"  import FILE...                  add certificates (PEM, DER, PKCS#7)\n"
	"  import [--json] --from-message MSG\n"
	"                                  install the sender's encryption certificate\n"
	"                                  from a signed message whose signature is valid\n"
	"  export [--json] FINGERPRINT [OUT]\n"
	"                                  the certificate as PEM (to OUT or stdout)\n"
	"  remove [--json] FINGERPRINT     forget a correspondent's certificate\n"
	"\n"
	"FINGERPRINT is the SHA-256 fingerprint that list shows (colons allowed).\n"
	"Run 'cardseal certs COMMAND --help' for one command.\n";

/* Prints an engine failure with its details in words. */
static int
fail(struct cs_client *c, const char *what, int r)
{
	fprintf(stderr, "cardseal: %s: %s\n", what, cs_strerror(r));
	print_error_details(stderr, cs_client_error_details(c));
	return exit_for(r);
}

/* Options shared by the subcommands: --json and --help; leaves optind at the operands. */
static int
parse(int argc, char **argv, const char *help, int *ret_json, const char **ret_from)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "from-message", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*ret_json = 0;
	if (ret_from != NULL)
		*ret_from = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 'j':
			*ret_json = 1;
			break;
		case 'm':
			if (ret_from == NULL)
				goto usage;
			*ret_from = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			goto usage;
		}
	}
	return 0;
usage:
	fputs(help, stderr);
	return EXIT_USAGE;
}

/* A request whose body is one string, the reply JSON. */
static int
request_str(struct cs_client *c, uint8_t type, const char *arg, char **ret_json)
{
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	if ((r = cs_buf_put_str(&b, arg)) == 0)
		r = cs_client_request_json(c, type, &b, ret_json);
	cs_buf_clear(&b);
	return r;
}

static int
certs_list(int argc, char **argv, int search)
{
	static const char help_list[] =
		"Usage: cardseal certs list [--json] [ADDR]\n"
		"Lists your identities (source \"own\") and the stored certificates of\n"
		"your correspondents, or only those naming ADDR: fingerprint, subject,\n"
		"emails, validity, key, where it came from, the algorithms its owner's\n"
		"mail says they accept, and [used for encryption] on the one encryption\n"
		"to that address would use now.\n";
	static const char help_search[] =
		"Usage: cardseal certs search [--json] ADDR\n"
		"The certificates for ADDR, as 'cardseal certs list ADDR' shows them.\n";
	struct cs_client *c = NULL;
	char *json = NULL;
	int as_json, r;

	if ((r = parse(argc, argv, search ? help_search : help_list, &as_json, NULL)) != 0)
		return r < 0 ? 0 : r;
	if (argc - optind > 1 || (search && argc - optind != 1)) {
		fputs(search ? help_search : help_list, stderr);
		return EXIT_USAGE;
	}
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	r = request_str(c, CS_MSG_CERTS_LIST, optind < argc ? argv[optind] : "", &json);
	if (r != 0) {
		r = fail(c, "listing certificates", r);
	} else {
		if (as_json)
			printf("%s\n", json);
		else
			print_certs(stdout, json);
	}
	free(json);
	cs_client_close(c);
	return r;
}

static int
install_from_message(const char *path, int as_json)
{
	struct cs_client *c = NULL;
	char *json = NULL;
	int fd, r;

	if ((fd = open_input(path)) < 0)
		return EXIT_OTHER;
	if (connect_engine(&c) != 0) {
		if (fd > 0)
			close(fd);
		return EXIT_OTHER;
	}
	if ((r = cs_client_certs_install(c, 0, fd, &json)) != 0) {
		r = fail(c, path, r);
	} else if (as_json) {
		printf("%s\n", json);
	} else if (!cli_quiet) {
		print_install(stdout, json);
	}
	free(json);
	cs_client_close(c);
	if (fd > 0)
		close(fd);
	return r;
}

static int
certs_import(int argc, char **argv)
{
	static const char help[] =
		"Usage: cardseal certs import FILE...\n"
		"       cardseal certs import [--json] --from-message MSG\n"
		"The first form adds the certificates in each FILE (PEM, one or more;\n"
		"DER; PKCS#7 bundles). The second installs the sender's encryption\n"
		"certificate from a signed message (MSG, or - for standard input; it may\n"
		"be encrypted to you): only when its signature is valid, that is it\n"
		"verifies, chains to a trusted authority, is not revoked and was made by\n"
		"the From: address. Otherwise nothing is installed and the verdict and\n"
		"its reasons are shown.\n";
	struct cs_client *c = NULL;
	const char *from = NULL;
	uint8_t *data = NULL;
	size_t len;
	char *json = NULL;
	int as_json, i, r, status = 0;

	if ((r = parse(argc, argv, help, &as_json, &from)) != 0)
		return r < 0 ? 0 : r;
	if (from != NULL) {
		if (optind != argc) {
			fputs(help, stderr);
			return EXIT_USAGE;
		}
		return install_from_message(from, as_json);
	}
	if (optind >= argc) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	for (i = optind; i < argc; i++) {
		if ((r = read_small_file(argv[i], &data, &len)) == 0)
			r = cs_client_certs_import(c, data, len, &json);
		if (r != 0) {
			fprintf(stderr, "cardseal: %s: %s\n", argv[i],
			        r == CS_ERR_BAD_FORMAT ? "no certificate in this file" : cs_strerror(r));
			status = EXIT_OTHER;
		} else if (as_json) {
			printf("%s\n", json);
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

/* The "pem" member of the export reply, to path (atomically) or standard output. */
static int
write_pem(const char *json, const char *path)
{
	json_object *root = json_tokener_parse(json), *v;
	struct atomic_out o;
	const char *pem;
	size_t n;
	int r = CS_ERR_BAD_FORMAT;

	if (root == NULL || !json_object_object_get_ex(root, "pem", &v) ||
	    json_object_get_type(v) != json_type_string)
		goto out;
	pem = json_object_get_string(v);
	n = strlen(pem);
	if ((r = atomic_out_open(&o, path)) != 0)
		goto out;
	if (write(o.fd, pem, n) != (ssize_t)n) {
		atomic_out_abort(&o);
		r = CS_ERR_IO;
		goto out;
	}
	r = atomic_out_commit(&o);
out:
	json_object_put(root);
	return r;
}

static int
certs_export(int argc, char **argv)
{
	static const char help[] =
		"Usage: cardseal certs export [--json] FINGERPRINT [OUT]\n"
		"Writes the certificate (yours or a correspondent's) as PEM to OUT, which\n"
		"appears whole or not at all, or to standard output.\n";
	struct cs_client *c = NULL;
	char *json = NULL;
	int as_json, r;

	if ((r = parse(argc, argv, help, &as_json, NULL)) != 0)
		return r < 0 ? 0 : r;
	if (argc - optind < 1 || argc - optind > 2) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	r = request_str(c, CS_MSG_CERTS_EXPORT, argv[optind], &json);
	if (r != 0) {
		r = fail(c, argv[optind], r);
	} else if (as_json) {
		printf("%s\n", json);
	} else if ((r = write_pem(json, optind + 1 < argc ? argv[optind + 1] : NULL)) != 0) {
		fprintf(stderr, "cardseal: cannot write the certificate: %s\n", cs_strerror(r));
		r = EXIT_OTHER;
	}
	free(json);
	cs_client_close(c);
	return r;
}

static int
certs_remove(int argc, char **argv)
{
	static const char help[] =
		"Usage: cardseal certs remove [--json] FINGERPRINT\n"
		"Forgets a correspondent's certificate and what their mail said about\n"
		"it. Your own identities cannot be removed: they stay remembered so\n"
		"that old mail stays readable.\n";
	struct cs_client *c = NULL;
	char *json = NULL;
	int as_json, r;

	if ((r = parse(argc, argv, help, &as_json, NULL)) != 0)
		return r < 0 ? 0 : r;
	if (argc - optind != 1) {
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	r = request_str(c, CS_MSG_CERTS_REMOVE, argv[optind], &json);
	if (r != 0)
		r = fail(c, argv[optind], r);
	else if (as_json)
		printf("%s\n", json);
	else if (!cli_quiet)
		printf("removed %s\n", argv[optind]);
	free(json);
	cs_client_close(c);
	return r;
}

int
cmd_certs(int argc, char **argv)
{
	if (argc < 2) {
		fputs(certs_usage, stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(certs_usage, stdout);
		return 0;
	}
	/* Each subcommand parses its own options from its name on. */
	if (strcmp(argv[1], "list") == 0)
		return certs_list(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "search") == 0)
		return certs_list(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "import") == 0)
		return certs_import(argc - 1, argv + 1);
	if (strcmp(argv[1], "export") == 0)
		return certs_export(argc - 1, argv + 1);
	if (strcmp(argv[1], "remove") == 0)
		return certs_remove(argc - 1, argv + 1);
	fprintf(stderr, "cardseal: unknown certs command '%s'\n", argv[1]);
	fputs(certs_usage, stderr);
	return EXIT_USAGE;
}
