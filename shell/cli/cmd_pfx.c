/*
 * cardseal pfx import: a PKCS#12 file onto a token, through the engine and
 * keyd. The CLI never asks for the file's password or the token's PIN: keyd
 * shows both dialogs (pinentry) on the user's display or terminal; the CLI
 * only says it is waiting for them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "cs_buf.h"
#include "cs_error.h"
#include "cs_proto.h"

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal pfx import [--token URI] [--label LABEL] [--json] FILE.p12\n"
	        "\n"
	        "Writes the key, certificate and CA chain of a PKCS#12 (PFX) file onto a token.\n"
	        "The key lands sensitive and not extractable. The file's password and the\n"
	        "token's PIN are asked in PIN dialogs (pinentry), never on the command line.\n"
	        "\n"
	        "  --token URI    the token, as a pkcs11: URI (e.g. pkcs11:token=My%%20Card);\n"
	        "                 default: the only writable token present\n"
	        "  --label LABEL  the label of the key and certificate on the token;\n"
	        "                 default: the certificate's e-mail address, else its name\n"
	        "  --json         print the engine's JSON reply\n"
	        "\n"
	        "Exit status: 0 imported, 1 error (wrong password, duplicate, token full, key too\n"
	        "weak for policy ...), 2 usage, 5 cancelled, 6 no token.\n");
}

/*
 * Text from the engine that names things on the token (labels, subjects)
 * comes from the token or the file: its control characters become '?', so
 * it cannot drive the terminal.
 */
static void
put_text(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

static void
on_event(void *arg, int kind, uint64_t value, const char *detail)
{
	(void)arg;
	(void)value;
	if (cli_quiet)
		return;
	switch (kind) {
	case CS_EVENT_WAITING_FOR_PASSWORD:
		fprintf(stderr, "cardseal: waiting for the password of \"");
		break;
	case CS_EVENT_WAITING_FOR_PIN:
		fprintf(stderr, "cardseal: waiting for the PIN of \"");
		break;
	case CS_EVENT_INSERT_TOKEN:
		fprintf(stderr, "cardseal: insert your smartcard \"");
		break;
	case CS_EVENT_PIN_STATE:
		fprintf(stderr, "cardseal: PIN state: \"");
		break;
	default:
		return;
	}
	put_text(stderr, detail);
	fprintf(stderr, "\"\n");
}

/* The engine's explanation from the error's details ({"message": ...}), else the code's. */
static void
print_error(const char *file, int err, const char *details)
{
	json_object *o = details != NULL && details[0] != '\0' ? json_tokener_parse(details) : NULL;
	json_object *m;
	const char *text = cs_strerror(err);

	if (o != NULL && json_object_object_get_ex(o, "message", &m) &&
	    json_object_get_type(m) == json_type_string)
		text = json_object_get_string(m);
	fprintf(stderr, "cardseal: pfx import %s: ", file);
	put_text(stderr, text);
	fputc('\n', stderr);
	json_object_put(o);
}

static const char *
field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_string)
		return "";
	return json_object_get_string(v);
}

static int
number(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int(v) : 0;
}

static void
print_result(FILE *out, const char *json)
{
	json_object *o = json_tokener_parse(json);

	if (o == NULL) {
		fprintf(out, "%s\n", json);
		return;
	}
	fprintf(out, "imported onto token \"");
	put_text(out, field(o, "token"));
	fprintf(out, "\": ");
	put_text(out, field(o, "subject"));
	/* URIs are percent-encoded: nothing to clean. */
	fprintf(out, "\n  key          %s\n", field(o, "key_uri"));
	fprintf(out, "  certificate  %s\n", field(o, "cert_uri"));
	fprintf(out, "  chain        %d CA certificate%s in the file, %d new on the token\n",
	        number(o, "chain"), number(o, "chain") == 1 ? "" : "s", number(o, "chain_written"));
	json_object_put(o);
}

static int
pfx_import(const char *file, const char *token_uri, const char *label, int as_json)
{
	struct cs_client *c = NULL;
	struct cs_buf b;
	uint8_t *data = NULL;
	size_t len = 0;
	char *json = NULL;
	int r, status = EXIT_OTHER;

	cs_buf_init(&b, CS_PROTO_MAX_FRAME);
	if ((r = read_small_file(file, &data, &len)) != 0) {
		fprintf(stderr, "cardseal: pfx import %s: %s\n", file,
		        r == CS_ERR_TOO_LARGE ? "the file is over 1 MiB" : "cannot read the file");
		goto out;
	}
	if (connect_engine(&c) != 0)
		goto out;
	cs_client_set_event_cb(c, on_event, NULL);
	if ((r = cs_buf_put_str(&b, token_uri)) != 0 || (r = cs_buf_put_str(&b, label)) != 0 ||
	    (r = cs_buf_put_bytes(&b, data, len)) != 0 || (r = cs_buf_put_str(&b, file)) != 0 ||
	    (r = cs_client_request_json(c, CS_MSG_PFX_IMPORT, &b, &json)) != 0) {
		print_error(file, r, cs_client_error_details(c));
		status = exit_for(r);
		goto out;
	}
	if (as_json)
		printf("%s\n", json);
	else if (!cli_quiet)
		print_result(stdout, json);
	status = 0;
out:
	free(data);
	free(json);
	cs_buf_clear(&b);
	cs_client_close(c);
	return status;
}

int
cmd_pfx(int argc, char **argv)
{
	static const struct option options[] = {
		{ "token", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *token_uri = "", *label = "";
	int ch, as_json = 0;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "import") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (ch) {
		case 't':
			token_uri = optarg;
			break;
		case 'l':
			label = optarg;
			break;
		case 'j':
			as_json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	return pfx_import(argv[optind], token_uri, label, as_json);
}
