#include "pinentry_child.h"
#include "cs_error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* PATH and one variable for each hint. */
#define ENV_MAX 10

/* Longest a deadline may be, so that time arithmetic cannot overflow. */
#define DEADLINE_MAX_SECONDS (7u * 24 * 3600)

static int
hint_ok(const char *v)
{
	size_t n, i;

	if (v == NULL)
		return 1;
	n = strnlen(v, CS_PINENTRY_HINT_MAX + 1);
	if (n > CS_PINENTRY_HINT_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return 0;
	}
	return 1;
}

int
cs_pe_hints_check(const struct cs_display_hints *h)
{
	if (h == NULL)
		return 0;
	if (!hint_ok(h->display) || !hint_ok(h->wayland_display) || !hint_ok(h->xdg_runtime_dir) ||
	    !hint_ok(h->xauthority) || !hint_ok(h->dbus_session_bus_address) || !hint_ok(h->term) ||
	    !hint_ok(h->ttyname) || !hint_ok(h->lc_ctype) || !hint_ok(h->lc_messages))
		return CS_ERR_INVALID_ARG;
	/* pinentry opens this path and draws on it: only a device will do. */
	if (h->ttyname != NULL && h->ttyname[0] != '\0' && strncmp(h->ttyname, "/dev/", 5) != 0)
		return CS_ERR_INVALID_ARG;
	return 0;
}

static int
env_add(char **envp, size_t *n, const char *name, const char *value)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	if (asprintf(&envp[*n], "%s=%s", name, value) < 0) {
		envp[*n] = NULL;
		return CS_ERR_NOMEM;
	}
	(*n)++;
	return 0;
}

/* The whole environment of the pinentry; envp has ENV_MAX + 1 slots, all NULL. */
static int
env_build(char **envp, const struct cs_display_hints *h)
{
	size_t n = 0;
	int r;

	if ((r = env_add(envp, &n, "PATH", "/usr/bin:/bin")) != 0 || h == NULL)
		return r;
	if ((r = env_add(envp, &n, "DISPLAY", h->display)) != 0 ||
	    (r = env_add(envp, &n, "WAYLAND_DISPLAY", h->wayland_display)) != 0 ||
	    (r = env_add(envp, &n, "XDG_RUNTIME_DIR", h->xdg_runtime_dir)) != 0 ||
	    (r = env_add(envp, &n, "XAUTHORITY", h->xauthority)) != 0 ||
	    (r = env_add(envp, &n, "DBUS_SESSION_BUS_ADDRESS", h->dbus_session_bus_address)) != 0 ||
	    (r = env_add(envp, &n, "TERM", h->term)) != 0 ||
	    (r = env_add(envp, &n, "GPG_TTY", h->ttyname)) != 0 ||
	    (r = env_add(envp, &n, "LC_CTYPE", h->lc_ctype)) != 0 ||
	    (r = env_add(envp, &n, "LC_MESSAGES", h->lc_messages)) != 0)
		return r;
	return 0;
}

static void
env_free(char **envp)
{
	size_t i;

	for (i = 0; i < ENV_MAX && envp[i] != NULL; i++)
		free(envp[i]);
}

/*
 * Moves fd above 0-2: if keyd runs with a standard descriptor closed, a new
 * descriptor can land there, and dup2() onto itself would keep its
 * close-on-exec flag and lose it in the child.
 */
static int
fd_above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
child_exec(const char *program, char *const argv[], char *const envp[], int sock, int devnull,
           int max_fd)
{
	struct sigaction sa;
	sigset_t none;
	int i;

	if (dup2(sock, STDIN_FILENO) < 0 || dup2(sock, STDOUT_FILENO) < 0 ||
	    dup2(devnull, STDERR_FILENO) < 0)
		_exit(127);
	if (close_range(3, ~0u, 0) != 0) {
		for (i = 3; i < max_fd; i++)
			close(i);
	}
	/* Ignored signals stay ignored across exec; pinentry must die of SIGTERM. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 1; i < NSIG; i++)
		(void)sigaction(i, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(program, argv, envp);
	_exit(127);
}

static void
ts_add(struct timespec *t, unsigned seconds)
{
	if (seconds > DEADLINE_MAX_SECONDS)
		seconds = DEADLINE_MAX_SECONDS;
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += (time_t)seconds;
}

static int
ts_reached(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void *
watchdog_main(void *arg)
{
	struct cs_pe_child *c = arg;

	struct timespec wake;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (c->cancel != NULL && *c->cancel && !c->term_sent) {
			/* Cancelled by keyd (the client went away): end it as at a deadline. */
			c->cancelled = 1;
			c->armed = 1;
			clock_gettime(CLOCK_MONOTONIC, &c->deadline);
		}
		if (!c->armed && c->cancel == NULL) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		/* With a cancel flag to watch, wake at least every 100 ms. */
		clock_gettime(CLOCK_MONOTONIC, &wake);
		wake.tv_nsec += 100 * 1000000L;
		if (wake.tv_nsec >= 1000000000L) {
			wake.tv_sec++;
			wake.tv_nsec -= 1000000000L;
		}
		if (c->armed && (c->cancel == NULL || wake.tv_sec > c->deadline.tv_sec ||
		                 (wake.tv_sec == c->deadline.tv_sec &&
		                  wake.tv_nsec > c->deadline.tv_nsec)))
			wake = c->deadline;
		pthread_cond_timedwait(&c->cond, &c->lock, &wake);
		if (c->stop || !c->armed || !ts_reached(&c->deadline))
			continue;
		/*
		 * The pid cannot have been reused: the child is reaped only
		 * after this thread has been joined.
		 */
		if (!c->term_sent) {
			/* SIGTERM first: curses pinentries restore the terminal on it. */
			kill(c->pid, SIGTERM);
			c->term_sent = 1;
			c->fired = 1;
			ts_add(&c->deadline, CS_PE_TERM_SECONDS);
		} else {
			kill(c->pid, SIGKILL);
			c->armed = 0;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int
cs_pe_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	/* Our threads take no signals: keyd decides which of its threads handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(thread, NULL, fn, arg) == 0 ? 0 : CS_ERR_PINENTRY;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}

static int
sync_init(struct cs_pe_child *c)
{
	pthread_condattr_t attr;
	int ok;

	if (pthread_condattr_init(&attr) != 0)
		return CS_ERR_NOMEM;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&c->cond, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (!ok)
		return CS_ERR_NOMEM;
	if (pthread_mutex_init(&c->lock, NULL) != 0) {
		pthread_cond_destroy(&c->cond);
		return CS_ERR_NOMEM;
	}
	return 0;
}

static void
sync_destroy(struct cs_pe_child *c)
{
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

static void
reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int
cs_pe_child_start(struct cs_pe_child *c, const char *program, const struct cs_display_hints *hints)
{
	char *envp[ENV_MAX + 1] = {NULL};
	char *argv[2];
	const char *base;
	int sv[2] = {-1, -1};
	int devnull = -1, synced = 0, max_fd, r;
	long open_max = sysconf(_SC_OPEN_MAX);
	sigset_t all, old;
	pid_t pid;

	memset(c, 0, sizeof(*c));
	c->pid = -1;
	c->fd = -1;
	if ((r = cs_pe_hints_check(hints)) != 0 || (r = env_build(envp, hints)) != 0)
		goto out;
	/* argv[0] is the bare name, as gpg-agent passes it. */
	base = strrchr(program, '/');
	argv[0] = (char *)(base != NULL ? base + 1 : program);
	argv[1] = NULL;
	max_fd = open_max > 0 && open_max < 65536 ? (int)open_max : 65536;

	r = CS_ERR_PINENTRY;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		goto out;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	sv[0] = fd_above_stdio(sv[0]);
	sv[1] = fd_above_stdio(sv[1]);
	devnull = fd_above_stdio(devnull);
	if (sv[0] < 0 || sv[1] < 0 || devnull < 0)
		goto out;
	if ((r = sync_init(c)) != 0)
		goto out;
	synced = 1;

	/* No handler of keyd's may run in the child before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(program, argv, envp, sv[1], devnull, max_fd);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		r = CS_ERR_PINENTRY;
		goto out;
	}
	c->pid = pid;
	if ((r = cs_pe_thread_start(&c->watchdog, watchdog_main, c)) != 0) {
		kill(pid, SIGKILL);
		reap(pid);
		c->pid = -1;
		goto out;
	}
	c->fd = sv[0];
	sv[0] = -1;
	r = 0;
out:
	if (r != 0 && synced)
		sync_destroy(c);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (devnull >= 0)
		close(devnull);
	env_free(envp);
	return r;
}

void
cs_pe_child_arm(struct cs_pe_child *c, unsigned seconds)
{
	pthread_mutex_lock(&c->lock);
	if (!c->term_sent) {
		ts_add(&c->deadline, seconds);
		c->armed = 1;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

void
cs_pe_child_disarm(struct cs_pe_child *c)
{
	pthread_mutex_lock(&c->lock);
	if (!c->term_sent) {
		c->armed = 0;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);
}

int
cs_pe_child_fired(struct cs_pe_child *c)
{
	int fired;

	pthread_mutex_lock(&c->lock);
	fired = c->fired;
	pthread_mutex_unlock(&c->lock);
	return fired;
}

void
cs_pe_child_finish(struct cs_pe_child *c)
{
	siginfo_t info;

	if (c->pid <= 0)
		return;
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	pthread_mutex_lock(&c->lock);
	if (!c->term_sent) {
		ts_add(&c->deadline, CS_PE_EXIT_SECONDS);
		c->armed = 1;
		pthread_cond_signal(&c->cond);
	}
	pthread_mutex_unlock(&c->lock);

	/* WNOWAIT: the pid stays ours until the watchdog can no longer signal it. */
	memset(&info, 0, sizeof(info));
	while (waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&c->lock);
	c->stop = 1;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->watchdog, NULL);
	sync_destroy(c);
	reap(c->pid);
	c->pid = -1;
}

void
cs_pe_child_set_cancel(struct cs_pe_child *c, const volatile int *cancel)
{
	pthread_mutex_lock(&c->lock);
	c->cancel = cancel;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int
cs_pe_child_cancelled(struct cs_pe_child *c)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = c->cancelled;
	pthread_mutex_unlock(&c->lock);
	return r;
}
