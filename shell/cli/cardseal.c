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
#include "atomic_out.h"
#include "cli.h"
#include "help.h"
#include "output.h"
#include "progress.h"

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal [--socket PATH] COMMAND [ARGS]\n"
	        "\n"
	        "S/MIME with keys on smartcards, through the Cardseal engine (started on demand).\n"
	        "\n"
	        "Commands (each takes --help):\n"
	        "  status [--json] [--watch]   tokens, their PIN state, your identities, the policy\n"
	        "  protect [--sign] [--encrypt] [--opaque] [--cbc] [--drop-missing]\n"
	        "          [--no-sign] [--no-encrypt] [--account ADDR] [IN [OUT]]\n"
	        "                              sign and/or encrypt an RFC 5322 message (neither\n"
	        "                              --sign nor --encrypt: the account's defaults)\n"
	        "  sign [IN [OUT]], encrypt [IN [OUT]]\n"
	        "                              protect --sign, protect --encrypt\n"
	        "  read [--report FILE] [IN [OUT]]\n"
	        "                              decrypt and verify; the innermost message to OUT\n"
	        "  certs list [--json] [ADDR]  your correspondents' certificates (and your own)\n"
	        "  certs import FILE...        add certificates (PEM, DER, PKCS#7)\n"
	        "  certs import --from-message MSG\n"
	        "                              install the sender's certificate from signed mail\n"
	        "  certs export FINGERPRINT [OUT], certs remove FINGERPRINT\n"
	        "  pfx import FILE.p12 [--token URI] [--label L]\n"
	        "                              a key and its certificates onto a token\n"
	        "  settings show [--account ADDR], settings set --account ADDR ...,\n"
	        "  settings choose --account ADDR [--to ADDR...]\n"
	        "                              per-account S/MIME settings and certificate choice\n"
	        "  policy show [--json]        the administrator's policy\n"
	        "  data sign|verify|encrypt|decrypt ...\n"
	        "                              CMS (DER) for scripts: SignedData, EnvelopedData\n"
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




static volatile int watch_stop;

static void
on_interrupt(int sig)
{
	(void)sig;
	watch_stop = 1;
}

int
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




/* Output files of PROTECT: OUT for stream 0, OUT.bcc1, OUT.bcc2 ... for Bcc copies. */
struct protect_outputs {
	const char *path;
	struct atomic_out files[16];
	int n;
};

static int
open_protect_output(void *arg, uint32_t stream)
{
	struct protect_outputs *po = arg;
	char name[PATH_MAX];
	int r;

	if (stream >= 16)
		return CS_ERR_TOO_LARGE;
	if (stream > 0 && (po->path == NULL || strcmp(po->path, "-") == 0)) {
		fprintf(stderr, "cardseal: the message has Bcc recipients: each gets its own copy, "
		                "so give an output file (copies go to OUT.bcc1, OUT.bcc2 ...)\n");
		return CS_ERR_INVALID_ARG;
	}
	if (stream == 0)
		snprintf(name, sizeof(name), "%s", po->path != NULL ? po->path : "-");
	else
		snprintf(name, sizeof(name), "%s.bcc%u", po->path, (unsigned)stream);
	if ((r = atomic_out_open(&po->files[stream], name)) != 0)
		return r;
	if ((int)stream + 1 > po->n)
		po->n = (int)stream + 1;
	return po->files[stream].fd;
}


/*
 * --json (the engine's JSON reply on standard output) needs the message
 * itself to go to a file, or the two would mix.
 */
static int
json_fits(const char *report, const char *out_path)
{
	if (report == NULL || strcmp(report, "-") != 0)
		return 1;
	if (out_path != NULL && strcmp(out_path, "-") != 0)
		return 1;
	fprintf(stderr, "cardseal: --json prints the report on standard output: give an OUT file "
	                "for the message\n");
	return 0;
}

int
cmd_protect(int argc, char **argv)
{
	static const struct option options[] = {
		{ "sign", no_argument, NULL, 's' },
		{ "encrypt", no_argument, NULL, 'e' },
		{ "opaque", no_argument, NULL, 'o' },
		{ "cbc", no_argument, NULL, 'c' },
		{ "drop-missing", no_argument, NULL, 'd' },
		{ "account", required_argument, NULL, 'a' },
		{ "no-sign", no_argument, NULL, 'S' },
		{ "no-encrypt", no_argument, NULL, 'E' },
		{ "report", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct protect_outputs po;
	struct cs_client_outputs outputs = { open_protect_output, &po };
	struct cs_client *c = NULL;
	const char *account = NULL, *in_path = NULL, *report = NULL;
	char *json = NULL;
	uint32_t flags = 0;
	int ch, in_fd = -1, r, i, status = EXIT_OTHER;

	memset(&po, 0, sizeof(po));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (ch) {
		case 's':
			flags |= CS_PROTECT_SIGN;
			break;
		case 'e':
			flags |= CS_PROTECT_ENCRYPT;
			break;
		case 'o':
			flags |= CS_PROTECT_OPAQUE;
			break;
		case 'c':
			flags |= CS_PROTECT_CBC;
			break;
		case 'd':
			flags |= CS_PROTECT_DROP_MISSING;
			break;
		case 'a':
			account = optarg;
			break;
		case 'S':
			flags |= CS_PROTECT_NO_SIGN;
			break;
		case 'E':
			flags |= CS_PROTECT_NO_ENCRYPT;
			break;
		case 'r':
			report = optarg;
			break;
		case 'j':
			report = "-";
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind > 2 || !json_fits(report, optind + 1 < argc ? argv[optind + 1] : NULL))
		return EXIT_USAGE;
	/*
	 * Neither --sign nor --encrypt: the account's defaults (always sign,
	 * always encrypt) and the admin policy decide, less what --no-sign and
	 * --no-encrypt turn off. Either one: the command line says both.
	 */
	if (((flags & CS_PROTECT_SIGN) && (flags & CS_PROTECT_NO_SIGN)) ||
	    ((flags & CS_PROTECT_ENCRYPT) && (flags & CS_PROTECT_NO_ENCRYPT))) {
		fprintf(stderr, "cardseal: protect: --sign with --no-sign, or --encrypt with "
		                "--no-encrypt\n");
		return EXIT_USAGE;
	}
	if (flags & (CS_PROTECT_SIGN | CS_PROTECT_ENCRYPT))
		flags &= ~(uint32_t)(CS_PROTECT_NO_SIGN | CS_PROTECT_NO_ENCRYPT);
	in_path = optind < argc ? argv[optind] : NULL;
	po.path = optind + 1 < argc ? argv[optind + 1] : NULL;
	if ((in_fd = open_input(in_path)) < 0)
		return EXIT_OTHER;
	if (connect_engine(&c) != 0)
		goto out;
	r = cs_client_protect(c, flags, account, in_fd, &outputs, &json);
	if (r == 0) {
		for (i = 0; i < po.n && r == 0; i++)
			r = atomic_out_commit(&po.files[i]);
	}
	if (r == 0 && report != NULL)
		r = write_report(report, json);
	if (r != 0) {
		for (i = 0; i < po.n; i++)
			atomic_out_abort(&po.files[i]);
		if (r == CS_ERR_NO_RECIPIENT_CERT)
			print_missing(cs_client_error_details(c));
		else
			print_engine_error("protect", r, cs_client_error_details(c));
		status = exit_for(r);
		goto out;
	}
	if (!cli_quiet)
		print_protect_applied(json, !(flags & (CS_PROTECT_SIGN | CS_PROTECT_ENCRYPT)));
	status = 0;
out:
	free(json);
	cs_client_close(c);
	if (in_fd > 0)
		close(in_fd);
	return status;
}


/* A request that streams IN to the engine and its result to OUT (READ and the data requests). */
struct streamed {
	uint8_t type;               /* CS_MSG_READ or a CS_MSG_*_DATA */
	uint32_t flags;
	const char *account;
	const char *const *recipients;
	const char *what;           /* "read", "data sign", ... for messages */
	int verdict_decides;        /* the report's verdict gives the exit status */
};

/*
 * Runs it: OUT appears only when everything succeeded (temporary file and
 * rename), the JSON reply goes to report when asked for. Returns the exit status.
 */
static int
run_streamed(const struct streamed *s, const char *in_path, const char *out_path,
             const char *report)
{
	struct atomic_out out;
	struct cs_client *c = NULL;
	char *json = NULL;
	int in_fd, r, status = EXIT_OTHER, opened = 0;

	if ((in_fd = open_input(in_path)) < 0)
		return EXIT_OTHER;
	if ((r = atomic_out_open(&out, out_path)) != 0) {
		fprintf(stderr, "cardseal: cannot write the output: %s\n", cs_strerror(r));
		goto out;
	}
	opened = 1;
	if (connect_engine(&c) != 0)
		goto out;
	r = cs_client_data(c, s->type, s->flags, s->account, s->recipients, in_fd, out.fd, &json);
	if (r == 0)
		r = atomic_out_commit(&out);
	opened = r != 0;
	if (r == 0 && report != NULL)
		r = write_report(report, json);
	if (r != 0) {
		if (r == CS_ERR_NO_RECIPIENT_CERT)
			print_missing(cs_client_error_details(c));
		else
			print_engine_error(s->what, r, c != NULL ? cs_client_error_details(c) : "");
		status = exit_for(r);
		goto out;
	}
	status = 0;
	if (s->verdict_decides) {
		if (!cli_quiet)
			print_report(stderr, json);
		/* 0 when every signature is valid or there is none; 3 otherwise. */
		status = report_signatures_ok(json) ? 0 : EXIT_INVALID_SIGNATURE;
	}
out:
	if (opened)
		atomic_out_abort(&out);
	free(json);
	cs_client_close(c);
	if (in_fd > 0)
		close(in_fd);
	return status;
}

int
cmd_read(int argc, char **argv)
{
	static const struct option options[] = {
		{ "report", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct streamed req = { CS_MSG_READ, 0, NULL, NULL, "read", 1 };
	const char *report = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		if (ch == 'r')
			report = optarg;
		else if (ch == 'j')
			report = "-";
		else
			return EXIT_USAGE;
	}
	if (argc - optind > 2 || !json_fits(report, optind + 1 < argc ? argv[optind + 1] : NULL))
		return EXIT_USAGE;
	return run_streamed(&req, optind < argc ? argv[optind] : NULL,
	                    optind + 1 < argc ? argv[optind + 1] : NULL, report);
}

/* data sign|verify|encrypt|decrypt: CMS DER for scripts. */
int
cmd_data(int argc, char **argv)
{
	static const struct option options[] = {
		{ "detached", no_argument, NULL, 'd' },
		{ "cbc", no_argument, NULL, 'c' },
		{ "account", required_argument, NULL, 'a' },
		{ "to", required_argument, NULL, 't' },
		{ "report", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *recipients[65], *account = "", *report = NULL, *what;
	struct streamed req;
	char label[32];
	uint32_t flags = 0;
	uint8_t type;
	int ch, n_to = 0;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	what = argv[1];
	if (strcmp(what, "sign") == 0)
		type = CS_MSG_SIGN_DATA;
	else if (strcmp(what, "verify") == 0)
		type = CS_MSG_VERIFY_DATA;
	else if (strcmp(what, "encrypt") == 0)
		type = CS_MSG_ENCRYPT_DATA;
	else if (strcmp(what, "decrypt") == 0)
		type = CS_MSG_DECRYPT_DATA;
	else {
		usage(stderr);
		return EXIT_USAGE;
	}
	argc--;
	argv++;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (ch) {
		case 'd':
			flags |= CS_DATA_DETACHED;
			break;
		case 'c':
			flags |= CS_DATA_CBC;
			break;
		case 'a':
			account = optarg;
			break;
		case 't':
			if (n_to == 64)
				return EXIT_USAGE;
			recipients[n_to++] = optarg;
			break;
		case 'r':
			report = optarg;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	recipients[n_to] = NULL;
	if (argc - optind > 2 || (type == CS_MSG_ENCRYPT_DATA && n_to == 0 && account[0] == '\0'))
		return EXIT_USAGE;
	snprintf(label, sizeof(label), "data %s", what);
	req.type = type;
	req.flags = flags;
	req.account = account;
	req.recipients = recipients;
	req.what = label;
	req.verdict_decides = type == CS_MSG_VERIFY_DATA;
	return run_streamed(&req, optind < argc ? argv[optind] : NULL,
	                    optind + 1 < argc ? argv[optind + 1] : NULL, report);
}

/* sign and encrypt: protect with that one flag ("cardseal sign msg.eml out.eml"). */
static int
cmd_sign_or_encrypt(int argc, char **argv)
{
	char *args[64];
	int i;

	if (argc + 1 > (int)(sizeof(args) / sizeof(args[0])) - 1) {
		fprintf(stderr, "cardseal: %s: too many arguments\n", argv[0]);
		return EXIT_USAGE;
	}
	args[0] = "protect";
	args[1] = strcmp(argv[0], "sign") == 0 ? "--sign" : "--encrypt";
	for (i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	return cmd_protect(argc + 1, args);
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
			cli_socket_path = optarg;
			break;
		case 'q':
			cli_quiet = 1;
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
	/* The commands run here take --help from help.c; the others answer it themselves. */
	if (wants_help(argc, argv) && help_for(argv[0], stdout) == 0)
		return 0;
	if (strcmp(argv[0], "status") == 0)
		r = cmd_status(argc, argv);
	else if (strcmp(argv[0], "certs") == 0)
		r = cmd_certs(argc, argv);
	else if (strcmp(argv[0], "protect") == 0)
		r = cmd_protect(argc, argv);
	else if (strcmp(argv[0], "sign") == 0 || strcmp(argv[0], "encrypt") == 0)
		r = cmd_sign_or_encrypt(argc, argv);
	else if (strcmp(argv[0], "read") == 0)
		r = cmd_read(argc, argv);
	else if (strcmp(argv[0], "data") == 0)
		r = cmd_data(argc, argv);
	else if (strcmp(argv[0], "settings") == 0)
		r = cmd_settings(argc, argv);
	else if (strcmp(argv[0], "policy") == 0)
		r = cmd_policy(argc, argv);
	else if (strcmp(argv[0], "pfx") == 0)
		r = cmd_pfx(argc, argv);
	else {
		fprintf(stderr, "cardseal: unknown command '%s'\n", argv[0]);
		usage(stderr);
		r = EXIT_USAGE;
	}
	progress_end(stderr);
	if (r == EXIT_USAGE && strcmp(argv[0], "certs") != 0)
		fprintf(stderr, "cardseal: see 'cardseal --help'\n");
	return r;
}
