/*
 * cardseal-keyd: the only process that loads PKCS#11 modules, logs in to
 * tokens and talks to pinentry. Started by cardseald with one end of a
 * socketpair as a descriptor; exits when the front goes away.
 *
 * Each request runs in its own thread so that a PIN dialog open for one
 * token does not hold up work on another; tokens/ serialises per token and
 * the pinentry driver allows one dialog at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_frame.h"
#include "cs_keyd_msg.h"
#include "keyd.h"

struct request_job {
	struct keyd *keyd;
	uint8_t type;
	uint32_t id;
	size_t len;
	uint8_t body[];
};

static void *
run_job(void *arg)
{
	struct request_job *job = arg;
	struct keyd_active *active = keyd_request_begin(job->keyd, job->id);

	if (active == NULL)
		keyd_send_error(job->keyd, job->id, CS_ERR_NOMEM);
	else
		keyd_dispatch(job->keyd, job->type, job->id, job->body, job->len, &active->cancel);
	keyd_request_end(job->keyd, active);
	cs_wipe(job->body, job->len);
	free(job);
	return NULL;
}

/*
 * SIGTERM and SIGINT end keyd the way a closed socket does: the reading loop
 * sees end-of-file, requests are cancelled and open dialogs closed. A thread
 * of its own takes the signals (all others have them blocked).
 */
static void *
signal_thread(void *arg)
{
	struct keyd *k = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigwait(&set, &sig) == 0)
		shutdown(k->fd, SHUT_RD);
	return NULL;
}

static int
start_signal_thread(struct keyd *k)
{
	sigset_t set;
	pthread_t thread;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	if (pthread_create(&thread, NULL, signal_thread, k) != 0)
		return -1;
	pthread_detach(thread);
	return 0;
}

/* CANCEL is answered on the reading thread at once: the request it names is busy. */
static void
handle_cancel(struct keyd *k, uint32_t id, const uint8_t *body, size_t len)
{
	struct cs_reader rd;
	uint32_t target;
	int r;

	cs_reader_init(&rd, body, len);
	target = cs_read_u32(&rd);
	if ((r = cs_reader_finish(&rd)) == 0)
		r = keyd_request_cancel(k, target);
	if (r == 0)
		(void)keyd_send(k, CS_KMSG_OK, id, NULL);
	else
		keyd_send_error(k, id, r);
}

/*
 * Hardening, in this order: no core dumps and no ptrace by other processes
 * of the same user (PR_SET_DUMPABLE 0 does both), die with the front, then
 * lock future secret pages (cs_secret does it per allocation).
 */
static int
harden(void)
{
	struct rlimit no_core = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &no_core) != 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/*
 * OpenSC caches PINs and shares logins unless told not to: keyd runs it with
 * a configuration of its own, written next to the audit log.
 */
static void
configure_opensc(const char *dir)
{
	char path[4096];
	FILE *f;

	if (dir == NULL || getenv("OPENSC_CONF") != NULL)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s/opensc-keyd.conf", dir) >= sizeof(path))
		return;
	if ((f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "app default {\n"
	           "\tframework pkcs15 {\n\t\tuse_pin_caching = false;\n\t}\n"
	           "\treader_driver pcsc {\n\t}\n"
	           "}\n"
	           "app opensc-pkcs11 {\n"
	           "\tpkcs11 {\n\t\tlock_login = true;\n\t\tatomic = true;\n\t}\n"
	           "}\n");
	fclose(f);
	setenv("OPENSC_CONF", path, 1);
}

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseal-keyd --fd N [--modules SPEC] [--pinentry PROGRAM]\n"
	        "                     [--cache-ttl SECONDS] [--pin-timeout SECONDS] [--data-dir DIR]\n"
	        "\n"
	        "The Cardseal key process. cardseald starts it; it is not run by hand.\n"
	        "  --fd N             the socketpair descriptor shared with cardseald\n"
	        "  --modules SPEC     'p11-kit' (registered modules) or ';'-separated module paths\n"
	        "  --pinentry PROG    the PIN dialog program (default /usr/bin/pinentry)\n"
	        "  --cache-ttl S      keep a token logged in for S idle seconds (default 300, 0: never)\n"
	        "  --pin-timeout S    close an unanswered PIN dialog after S seconds (default 120)\n"
	        "  --data-dir DIR     where the audit log (keyd-audit.log) is appended\n"
	        "  --confirm-signatures  ask the user to confirm every signature, showing its summary\n");
}

static int
parse_uint(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 86400 * 365)
		return -1;
	*ret = (unsigned)v;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "fd", required_argument, NULL, 'f' },
		{ "modules", required_argument, NULL, 'm' },
		{ "pinentry", required_argument, NULL, 'p' },
		{ "cache-ttl", required_argument, NULL, 't' },
		{ "pin-timeout", required_argument, NULL, 'T' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "confirm-signatures", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct keyd k;
	const char *modules = "p11-kit", *data_dir = NULL;
	unsigned ttl = 300, fd = 0;
	struct cs_buf in;
	struct cs_frame_view f;
	pthread_attr_t attr;
	int c, r, have_fd = 0;

	memset(&k, 0, sizeof(k));
	k.pinentry = "/usr/bin/pinentry";
	k.pin_timeout = 120;
	k.audit_fd = -1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'f':
			have_fd = parse_uint(optarg, &fd) == 0;
			break;
		case 'm':
			modules = optarg;
			break;
		case 'p':
			k.pinentry = optarg;
			break;
		case 't':
			if (parse_uint(optarg, &ttl) != 0) {
				fprintf(stderr, "cardseal-keyd: bad --cache-ttl '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T':
			if (parse_uint(optarg, &k.pin_timeout) != 0) {
				fprintf(stderr, "cardseal-keyd: bad --pin-timeout '%s'\n", optarg);
				return 2;
			}
			break;
		case 'd':
			data_dir = optarg;
			break;
		case 'c':
			k.confirm_signatures = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!have_fd || optind != argc) {
		usage(stderr);
		return 2;
	}
	k.fd = (int)fd;
	if (harden() != 0) {
		fprintf(stderr, "cardseal-keyd: cannot disable core dumps: %s\n", strerror(errno));
		return 1;
	}
	if (data_dir != NULL) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/keyd-audit.log", data_dir);
		k.audit_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (k.audit_fd < 0) {
			fprintf(stderr, "cardseal-keyd: cannot open audit log %s: %s\n", path,
			        strerror(errno));
			return 1;
		}
		configure_opensc(data_dir);
	}
	pthread_mutex_init(&k.write_lock, NULL);
	pthread_mutex_init(&k.requests_lock, NULL);
	/* Before any other thread exists, so that all of them inherit the blocked mask. */
	if (start_signal_thread(&k) != 0) {
		fprintf(stderr, "cardseal-keyd: cannot set up signal handling\n");
		return 1;
	}
	if ((r = tok_ctx_new(modules, &k.tokens)) != 0) {
		fprintf(stderr, "cardseal-keyd: cannot load PKCS#11 modules '%s': %s\n", modules,
		        cs_strerror(r));
		return 1;
	}
	tok_set_login_ttl(k.tokens, ttl);
	if ((r = tok_watch_start(k.tokens, 500, &k.watch)) != 0) {
		fprintf(stderr, "cardseal-keyd: cannot start the slot watcher: %s\n", cs_strerror(r));
		return 1;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	cs_buf_init(&in, CS_KEYD_MAX_FRAME + CS_FRAME_LEN_SIZE);
	for (;;) {
		struct request_job *job;
		pthread_t thread;

		r = cs_frame_read(k.fd, CS_KEYD_MAX_FRAME, &in, &f);
		if (r == CS_ERR_EOF)
			break;          /* the front went away: so do we */
		if (r != 0) {
			/* A malformed or oversized frame: the stream cannot be trusted to resync. */
			fprintf(stderr, "cardseal-keyd: bad frame from the front: %s\n",
			        cs_strerror(r));
			break;
		}
		if (f.type == CS_KMSG_CANCEL) {
			handle_cancel(&k, f.id, f.body, f.body_len);
			continue;
		}
		if ((job = malloc(sizeof(*job) + f.body_len)) == NULL) {
			keyd_send_error(&k, f.id, CS_ERR_NOMEM);
			continue;
		}
		job->keyd = &k;
		job->type = f.type;
		job->id = f.id;
		job->len = f.body_len;
		memcpy(job->body, f.body, f.body_len);
		if (pthread_create(&thread, &attr, run_job, job) != 0) {
			keyd_send_error(&k, f.id, CS_ERR_BUSY);
			free(job);
		}
	}
	cs_buf_clear(&in);
	/*
	 * The front is gone (or unreadable): its requests have nobody to answer
	 * to. Cancel them so open PIN dialogs close and no pinentry is left behind.
	 */
	(void)keyd_requests_cancel_all(&k, 5000);
	/* Threads may still run: leave without tearing down what they use. */
	tok_logout_all(k.tokens);
	_exit(r == CS_ERR_EOF ? 0 : 1);
}
