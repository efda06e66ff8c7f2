/*
 * cardseal: the command-line shell. Every cryptographic decision is the
 * engine's; this program parses options, streams files to and from the
 * engine, and writes output through a temporary file renamed into place, so
 * a failure never leaves a partial file.
 *
 * Exit codes: 0 success; 1 anything else; 2 usage; 3 a signature not valid;
 * 4 recipients without certificates; 5 cancelled by the user; 6 no usable
 * key or token.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_client.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "output.h"

enum {
	EXIT_OTHER = 1,
	EXIT_USAGE = 2,
	EXIT_INVALID_SIGNATURE = 3,
	EXIT_NO_RECIPIENT_CERT = 4,
	EXIT_CANCELLED = 5,
	EXIT_NO_KEY = 6,
};

static const char *socket_path;
static int quiet;

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal [--socket PATH] COMMAND [ARGS]\n"
	        "\n"
	        "S/MIME with keys on smartcards, through the Cardseal engine (started on demand).\n"
	        "\n"
	        "Commands:\n"
	        "  status [--json] [--watch]   tokens, their PIN state, and your identities\n"
	        "  certs import FILE...        add correspondents' certificates (PEM, DER, PKCS#7)\n"
	        "\n"
	        "Options:\n"
	        "  --socket PATH   the engine's socket (default $CARDSEAL_SOCKET, then\n"
	        "                  $XDG_RUNTIME_DIR/cardseal/socket)\n"
	        "  -q, --quiet     no progress or notices on stderr\n"
	        "  -h, --help      this text\n"
	        "\n"
	        "Exit status: 0 success, 1 error, 2 usage, 3 a signature not valid, 4 recipients\n"
	        "without certificates, 5 cancelled, 6 no usable key or token. See cardseal(1).\n");
}

/* The exit status for an engine error. */
static int
exit_for(int err)
{
	switch (err) {
	case CS_ERR_NO_RECIPIENT_CERT:
		return EXIT_NO_RECIPIENT_CERT;
	case CS_ERR_CANCELLED:
		return EXIT_CANCELLED;
	case CS_ERR_NO_KEY:
	case CS_ERR_NO_TOKEN:
	case CS_ERR_PIN_LOCKED:
	case CS_ERR_NOT_FOUND:
		return EXIT_NO_KEY;
	default:
		return EXIT_OTHER;
	}
}

static void
on_event(void *arg, int kind, uint64_t value, const char *detail)
{
	(void)arg;
	if (quiet)
		return;
	switch (kind) {
	case CS_EVENT_INSERT_TOKEN:
		fprintf(stderr, "cardseal: insert your smartcard \"%s\"\n", detail);
		break;
	case CS_EVENT_WAITING_FOR_PIN:
		fprintf(stderr, "cardseal: waiting for the PIN of \"%s\"\n", detail);
		break;
	case CS_EVENT_PIN_STATE:
		fprintf(stderr, "cardseal: PIN state: %s\n", detail);
		break;
	case CS_EVENT_TOKEN_CHANGED:
		printf("%s\n", detail);
		fflush(stdout);
		break;
	case CS_EVENT_PROGRESS:
		fprintf(stderr, "\rcardseal: %llu MiB", (unsigned long long)(value >> 20));
		break;
	default:
		break;
	}
}

static int
connect_engine(struct cs_client **ret)
{
	int r = cs_client_connect(socket_path, 1, ret);

	if (r != 0)
		fprintf(stderr, "cardseal: cannot reach the engine: %s\n", cs_strerror(r));
	else
		cs_client_set_event_cb(*ret, on_event, NULL);
	return r;
}

static volatile int watch_stop;

static void
on_interrupt(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static int
cmd_status(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct cs_client *c = NULL;
	char *json = NULL;
	int ch, as_json = 0, watch = 0, r, status = EXIT_OTHER;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (ch == 'j')
			as_json = 1;
		else if (ch == 'w')
			watch = 1;
		else
			return EXIT_USAGE;
	}
	if (optind != argc)
		return EXIT_USAGE;
	if (connect_engine(&c) != 0)
		return EXIT_OTHER;
	if ((r = cs_client_status(c, &json)) != 0) {
		fprintf(stderr, "cardseal: status: %s\n", cs_strerror(r));
		status = exit_for(r);
		goto out;
	}
	if (as_json)
		printf("%s\n", json);
	else
		print_status(stdout, json);
	fflush(stdout);
	status = 0;
	if (watch) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_interrupt;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		/* Token events print as "present LABEL" / "absent LABEL" until interrupted. */
		if ((r = cs_client_subscribe(c, &watch_stop)) != 0) {
			fprintf(stderr, "cardseal: watch: %s\n", cs_strerror(r));
			status = EXIT_OTHER;
		}
	}
out:
	free(json);
	cs_client_close(c);
	return status;
}

/* Reads a whole (small) file; certificates are capped at 1 MiB. */
static int
read_small_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL)
		return CS_ERR_IO;
	buf = malloc(1024 * 1024 + 1);
	n = buf != NULL ? fread(buf, 1, 1024 * 1024 + 1, f) : 0;
	fclose(f);
	if (buf == NULL)
		return CS_ERR_NOMEM;
	if (n > 1024 * 1024) {
		free(buf);
		return CS_ERR_TOO_LARGE;
	}
	*ret = buf;
	*ret_len = n;
	return 0;
}

static int
cmd_certs(int argc, char **argv)
{
	struct cs_client *c = NULL;
	uint8_t *data = NULL;
	size_t len;
	char *json = NULL;
	int i, r, status = 0;

	if (argc < 3 || strcmp(argv[1], "import") != 0) {
		usage(stderr);
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
		} else if (!quiet) {
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

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	/* Options before the command only; the command parses the rest. */
	while ((ch = getopt_long(argc, argv, "+qh", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			socket_path = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[0], "status") == 0)
		r = cmd_status(argc, argv);
	else if (strcmp(argv[0], "certs") == 0)
		r = cmd_certs(argc, argv);
	else {
		fprintf(stderr, "cardseal: unknown command '%s'\n", argv[0]);
		usage(stderr);
		r = EXIT_USAGE;
	}
	if (r == EXIT_USAGE && strcmp(argv[0], "certs") != 0)
		fprintf(stderr, "cardseal: see 'cardseal --help'\n");
	return r;
}
