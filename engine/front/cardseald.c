/*
 * cardseald: the engine front. It listens on the user's socket, starts and
 * supervises cardseal-keyd, and serves clients, each on a thread of its own.
 * It parses everything that comes from outside and holds no key and no PIN.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "cs_error.h"
#include "cs_provider.h"
#include "daemon.h"
#include "identities.h"
#include "policy.h"
#include "sandbox.h"

static int stop_pipe[2] = { -1, -1 };

static void
on_stop_signal(int sig)
{
	int saved = errno;

	(void)sig;
	(void)!write(stop_pipe[1], "x", 1);
	errno = saved;
}

static void
usage(FILE *out)
{
	fprintf(out,
	        "Usage: cardseald [--config FILE] [--socket PATH] [--policy FILE] [--foreground]\n"
	        "                 [--no-sandbox]\n"
	        "\n"
	        "The Cardseal engine: S/MIME with keys on smartcards. Clients (cardseal,\n"
	        "cardseal-gtk) start it on demand; see cardseald(8) and cardseald.conf(5).\n"
	        "  --config FILE   configuration (default $XDG_CONFIG_HOME/cardseal/cardseald.conf\n"
	        "                  when it exists)\n"
	        "  --socket PATH   listen here instead of the configured socket\n"
	        "  --policy FILE   the admin policy instead of " CS_POLICY_DEFAULT_PATH ", for tests:\n"
	        "                  root's file, and refused while that one exists\n"
	        "  --foreground    stay attached; log to stderr instead of syslog\n"
	        "  --no-sandbox    for debugging only: no seccomp filter, no no_new_privs, and\n"
	        "                  dumpable (a debugger can attach)\n"
	        "  -h, --help      this text\n");
}

/* The keyd binary: the configured one, else the installed one, else the build tree's. */
static const char *
default_keyd(void)
{
	return access(CS_KEYD_INSTALLED, X_OK) == 0 ? CS_KEYD_INSTALLED : CS_KEYD_BUILD;
}

/* mkdir -p for the socket's directory, which must end up 0700 and ours. */
static int
prepare_socket_dir(const char *socket_path)
{
	char dir[PATH_MAX], *slash;
	struct stat st;

	if (strlen(socket_path) >= sizeof(dir))
		return CS_ERR_TOO_LARGE;
	strcpy(dir, socket_path);
	if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
		return CS_ERR_INVALID_ARG;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return CS_ERR_IO;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
		return CS_ERR_PERMISSION;
	if ((st.st_mode & 0077) != 0 && chmod(dir, 0700) != 0)
		return CS_ERR_PERMISSION;
	return 0;
}

/*
 * Binds the socket. A lock file beside it makes a second engine give up
 * instead of stealing the socket; a stale socket (no engine holds the lock)
 * is replaced. Returns the listening descriptor or a negative CS_ERR_*.
 */
static int
listen_on(const char *path, int *ret_lock_fd)
{
	struct sockaddr_un sa;
	char lock_path[PATH_MAX];
	int fd = -1, lock_fd = -1, r;

	if ((r = prepare_socket_dir(path)) != 0)
		return r;
	if (strlen(path) >= sizeof(sa.sun_path) ||
	    (size_t)snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >= sizeof(lock_path))
		return CS_ERR_TOO_LARGE;
	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock_fd < 0)
		return CS_ERR_IO;
	if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
		close(lock_fd);
		return CS_ERR_BUSY;     /* another engine serves this socket */
	}
	(void)unlink(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 16) != 0) {
		if (fd >= 0)
			close(fd);
		close(lock_fd);
		return CS_ERR_IO;
	}
	*ret_lock_fd = lock_fd;
	return fd;
}

/* Only processes of our own user may talk to us. */
static int
peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == getuid();
}

static void
accept_client(struct daemon *d)
{
	struct client *cl;
	pthread_attr_t attr;
	pthread_t thread;
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (!peer_allowed(fd)) {
		cs_log(LOG_WARNING, "refused a connection from another user");
		close(fd);
		return;
	}
	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		close(fd);
		return;
	}
	cl->d = d;
	cl->fd = fd;
	pthread_mutex_init(&cl->write_lock, NULL);
	pthread_mutex_init(&cl->lock, NULL);
	pthread_cond_init(&cl->changed, NULL);
	pthread_mutex_lock(&d->lock);
	cl->id = ++d->next_client_id;
	d->n_clients++;
	pthread_mutex_unlock(&d->lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, client_main, cl) != 0) {
		cs_log(LOG_ERR, "cannot start a client thread");
		pthread_mutex_lock(&d->lock);
		d->n_clients--;
		pthread_mutex_unlock(&d->lock);
		close(fd);
		free(cl);
	}
	pthread_attr_destroy(&attr);
}

static int
start_keyd(struct daemon *d)
{
	struct keyd_client_options o = { 0 };
	int r;

	o.keyd_path = d->cfg.keyd;
	o.modules = d->cfg.modules;
	o.pinentry = d->cfg.pinentry;
	o.cache_ttl = d->cfg.cache_ttl;
	o.pin_timeout = d->cfg.pin_timeout;
	o.data_dir = d->cfg.store;
	/* The user may ask for confirmations; the policy may insist on them. */
	o.confirm_signatures = d->cfg.confirm_signatures || policy_current()->confirm_signatures;
	if ((r = keyd_client_start(&o, &d->keyd)) != 0)
		return r;
	keyd_client_backend(d->keyd, &d->backend);
	return cs_provider_context_new(&d->backend, &d->provider);
}

/*
 * Serves until a stop signal, or until keyd exits (keyd_fd, a pidfd, becomes
 * readable). The engine does not start another keyd: that needs exec, which
 * the sandbox denies, since a front that can exec can start a weaker keyd.
 * It stops instead, and the next client starts a fresh engine.
 */
static int
serve(struct daemon *d, int keyd_fd)
{
	struct pollfd fds[3];

	fds[0].fd = d->listen_fd;
	fds[0].events = POLLIN;
	fds[1].fd = stop_pipe[0];
	fds[1].events = POLLIN;
	fds[2].fd = keyd_fd;            /* poll skips it when negative */
	fds[2].events = POLLIN;
	while (!d->stopping) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return CS_ERR_IO;
		}
		if (fds[2].revents != 0) {
			cs_log(LOG_ERR, "cardseal-keyd exited; stopping (the next client starts a "
			       "fresh engine)");
			return CS_ERR_IO;
		}
		if (fds[1].revents != 0)
			d->stopping = 1;
		else if (fds[0].revents & POLLIN)
			accept_client(d);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "policy", required_argument, NULL, 'p' },
		{ "no-sandbox", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon d;
	const char *config = NULL, *socket_path = NULL, *policy_path = NULL;
	struct cs_policy policy;
	char err[PATH_MAX + 512], default_config[PATH_MAX];
	struct sigaction sa;
	const char *step;
	int c, r, lock_fd = -1, keyd_fd = -1, status = 1, sandbox = 1;

	memset(&d, 0, sizeof(d));
	d.listen_fd = -1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'f':
			d.foreground = 1;
			break;
		case 'p':
			policy_path = optarg;
			break;
		case 'n':
			sandbox = 0;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	cs_log_init(d.foreground);
	if (cs_config_defaults(&d.cfg, default_keyd()) != 0)
		return 1;
	if (config == NULL) {
		const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");

		if (xdg != NULL && xdg[0] == '/')
			snprintf(default_config, sizeof(default_config), "%s/cardseal/cardseald.conf", xdg);
		else
			snprintf(default_config, sizeof(default_config), "%s/.config/cardseal/cardseald.conf",
			         home != NULL ? home : "/nonexistent");
		if (access(default_config, R_OK) == 0)
			config = default_config;
	}
	if (config != NULL && (r = cs_config_load(&d.cfg, config, err, sizeof(err))) != 0) {
		cs_log(LOG_ERR, "%s", err);
		goto out;
	}
	/*
	 * An admin policy that cannot be trusted (not root's, writable by others)
	 * or read (malformed) stops the engine: running without it would ignore
	 * the administrator, and guessing a stricter one would fail in ways
	 * nobody could explain. The log says why.
	 */
	if ((r = cs_policy_load(policy_path, &policy, err, sizeof(err))) != 0) {
		cs_log(LOG_ERR, "admin policy: %s: refusing to start", err);
		goto out;
	}
	if (policy.source[0] != '\0')
		cs_log(LOG_INFO, "admin policy from %s", policy.source);
	policy_install(&policy);
	if (socket_path != NULL) {
		free(d.cfg.socket);
		if ((d.cfg.socket = strdup(socket_path)) == NULL)
			goto out;
	}
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.idle, NULL);
	if (pipe2(stop_pipe, O_CLOEXEC) != 0)
		goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	g_mime_init();
	if ((r = cs_store_open(d.cfg.store, &d.store)) != 0) {
		cs_log(LOG_ERR, "cannot open the store in %s: %s", d.cfg.store, cs_strerror(r));
		goto out;
	}
	if ((r = front_trust_store(&d.cfg, &d.trust, &d.have_crls)) != 0) {
		cs_log(LOG_ERR, "cannot read the trust anchors '%s': %s", d.cfg.anchors, cs_strerror(r));
		goto out;
	}
	if ((r = start_keyd(&d)) != 0) {
		cs_log(LOG_ERR, "cannot start %s: %s", d.cfg.keyd, cs_strerror(r));
		goto out;
	}
	keyd_fd = pidfd_open(keyd_client_pid(d.keyd), 0);
	if ((d.listen_fd = listen_on(d.cfg.socket, &lock_fd)) < 0) {
		r = d.listen_fd;
		cs_log(LOG_ERR, "cannot listen on %s: %s", d.cfg.socket,
		       r == CS_ERR_BUSY ? "another engine serves it" : cs_strerror(r));
		status = r == CS_ERR_BUSY ? 3 : 1;
		goto out;
	}
	/* Start-up is done: from here on the front only serves (sandbox.c). */
	if (!d.foreground)
		openlog("cardseald", LOG_PID | LOG_NDELAY, LOG_DAEMON);     /* connect() is denied */
	if (!sandbox) {
		cs_log(LOG_WARNING, "sandbox off (--no-sandbox): a compromised engine could run programs");
	} else if ((r = cs_sandbox_apply(&step)) != 0) {
		cs_log(LOG_ERR, "cannot confine the engine (%s: %m); refusing to serve "
		       "(--no-sandbox runs it unconfined, for debugging)", step);
		goto out;
	} else if (!cs_sandbox_has_filter()) {
		cs_log(LOG_WARNING, "sandbox: no new privileges, not dumpable; built without "
		       "libseccomp, so no system call filter");
	} else {
		cs_log(LOG_INFO, "sandbox: no new privileges, not dumpable, system call filter");
	}
	cs_log(LOG_INFO, "listening on %s", d.cfg.socket);
	if (serve(&d, keyd_fd) == 0)
		status = 0;
	cs_log(LOG_INFO, "shutting down");
out:
	if (d.listen_fd >= 0) {
		close(d.listen_fd);
		(void)unlink(d.cfg.socket);
	}
	/*
	 * keyd is told to go (its requests are cancelled, dialogs closed) and
	 * reaped; client threads still waiting on it get errors. Nothing is freed:
	 * those threads may still run until the process exits.
	 */
	if (d.keyd != NULL)
		keyd_client_stop(d.keyd);
	if (lock_fd >= 0)
		close(lock_fd);
	if (keyd_fd >= 0)
		close(keyd_fd);
	/* Client threads may still be ending; the process exit reclaims them. */
	_exit(status);
}
