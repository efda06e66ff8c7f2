/*
 * sandbox-probe: confines itself with the front's own sandbox
 * (engine/front/sandbox.c, the code cardseald runs) and checks what it
 * denies and what it leaves working. No test-only code is in the daemon.
 *
 * Each denied call gets arguments that would fail harmlessly, with another
 * error than EPERM, if the filter let it through (a path that does not
 * exist, a bad descriptor, invalid flags), so the probe is safe as root.
 *
 * Usage: sandbox-probe SCRATCH_DIR. Prints TAP.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/keyctl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

static int n, failed;
/* The Unix socket bound before the sandbox, and a client connected to it. */
static struct sockaddr_un listen_addr;
static int listen_fd = -1, client_fd = -1;

static void
ok(int cond, const char *what)
{
	n++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", n, what);
}

/* The call returned -1 with errno want (the filter's answer), else a diagnostic. */
#define FAILS_WITH(want, what, call)                                                     \
	do {                                                                             \
		long r_;                                                                 \
		errno = 0;                                                               \
		r_ = (long)(call);                                                       \
		if (r_ != -1 || errno != (want))                                         \
			printf("# %s: returned %ld, errno %d (%s)\n", what, r_, errno,   \
			       strerror(errno));                                         \
		ok(r_ == -1 && errno == (want), what);                                   \
	} while (0)
#define DENIED(what, call) FAILS_WITH(EPERM, what, call)

/* The value of a "Name:\tvalue" line of /proc/self/status (or a task's), or -1. */
static long
status_field(const char *path, const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long value = -1;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, name, len) == 0 && line[len] == ':')
			value = strtol(line + len + 1, NULL, 10);
	}
	fclose(f);
	return value;
}

/* A thread that runs from before the sandbox: the filter must reach it too (TSYNC). */
static pthread_mutex_t early_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t early_go = PTHREAD_COND_INITIALIZER;
static int early_may_run, early_exec_errno;
static long early_seccomp;

static void *
early_thread(void *arg)
{
	char path[64];
	char *argv[] = { "true", NULL };

	(void)arg;
	pthread_mutex_lock(&early_lock);
	while (!early_may_run)
		pthread_cond_wait(&early_go, &early_lock);
	pthread_mutex_unlock(&early_lock);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", (long)syscall(SYS_gettid));
	early_seccomp = status_field(path, "Seccomp");
	if (execve("/nonexistent/cardseal-probe", argv, argv + 1) != 0)
		early_exec_errno = errno;
	return NULL;
}

static void *
later_thread(void *arg)
{
	return arg;
}

/* A child that only waits to be killed: a target for cross-process calls. */
static pid_t
start_target(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	return pid;
}

static void
check_denied(void)
{
	char *argv[] = { "true", NULL };
	char buf[16], c = 'x';
	struct iovec local = { buf, sizeof(buf) }, remote = { buf, sizeof(buf) };
	int pipefd[2];
	pid_t target = start_target();

	DENIED("execve", execve("/nonexistent/cardseal-probe", argv, argv + 1));
	DENIED("execveat", syscall(SYS_execveat, AT_FDCWD, "/nonexistent/cardseal-probe", argv,
	                           argv + 1, 0));
	if (cs_sandbox_denies_ptrace())
		DENIED("ptrace(PTRACE_ATTACH) of our own child",
		       ptrace(PTRACE_ATTACH, target, NULL, NULL));
	else
		printf("ok %d - ptrace # SKIP sanitizer build: LeakSanitizer needs ptrace\n", ++n);
	DENIED("process_vm_readv of our own child",
	       process_vm_readv(target, &local, 1, &remote, 1, 0));
	DENIED("process_vm_writev of our own child",
	       process_vm_writev(target, &local, 1, &remote, 1, 0));
	DENIED("pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0));
	kill(target, SIGKILL);
	waitpid(target, NULL, 0);

	DENIED("socket(AF_INET)", socket(AF_INET, SOCK_STREAM, 0));
	DENIED("socket(AF_INET6)", socket(AF_INET6, SOCK_DGRAM, 0));
	DENIED("socket(AF_NETLINK)", socket(AF_NETLINK, SOCK_RAW, 0));
	DENIED("socket(AF_PACKET)", socket(AF_PACKET, SOCK_RAW, 0));
	DENIED("socketpair(AF_INET)", socketpair(AF_INET, SOCK_STREAM, 0, pipefd));
	{
		/* A Unix socket may be made, but it cannot reach or offer anything. */
		int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_un other = listen_addr;

		other.sun_path[strlen(other.sun_path) - 1] = 'x';
		DENIED("connect to a Unix socket (session bus, X server, agents)",
		       connect(fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)));
		DENIED("sendto a Unix socket address", sendto(fd, "x", 1, 0,
		       (struct sockaddr *)&listen_addr, sizeof(listen_addr)));
		DENIED("bind", bind(fd, (struct sockaddr *)&other, sizeof(other)));
		DENIED("listen", listen(fd, 1));
		if (fd >= 0)
			close(fd);
	}

	DENIED("mount", mount("none", "/nonexistent/cardseal-probe", "tmpfs", 0, NULL));
	DENIED("umount2", umount2("/nonexistent/cardseal-probe", 0));
	DENIED("pivot_root", syscall(SYS_pivot_root, "/nonexistent/a", "/nonexistent/b"));
	DENIED("chroot", chroot("/nonexistent/cardseal-probe"));
	DENIED("open_tree (new mount API)", syscall(SYS_open_tree, -1, "/nonexistent", 0));
	DENIED("unshare(CLONE_NEWUSER)", unshare(CLONE_NEWUSER));
	DENIED("unshare(CLONE_NEWNS)", unshare(CLONE_NEWNS));
	DENIED("setns", setns(-1, 0));
	{
		/* If the filter let these through, the child ends at once. */
		long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0);

		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		ok(r == -1 && errno == EPERM, "clone(CLONE_NEWUSER)");
		r = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, NULL, NULL, NULL, 0);
		if (r == 0)
			_exit(0);
		if (r > 0)
			waitpid((pid_t)r, NULL, 0);
		ok(r == -1 && errno == EPERM, "clone(CLONE_NEWNET)");
	}
	FAILS_WITH(ENOSYS, "clone3: ENOSYS (glibc falls back to clone)",
	           syscall(SYS_clone3, NULL, 0));

	DENIED("init_module", syscall(SYS_init_module, NULL, 0, ""));
	DENIED("finit_module", syscall(SYS_finit_module, -1, "", 0));
	DENIED("delete_module", syscall(SYS_delete_module, "cardseal_probe_none", O_NONBLOCK));
	DENIED("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL));
	DENIED("bpf", syscall(SYS_bpf, -1, NULL, 0));
	DENIED("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	DENIED("keyctl", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	DENIED("add_key", syscall(SYS_add_key, "user", "cardseal-probe", "x", 1,
	                          KEY_SPEC_PROCESS_KEYRING));
	DENIED("request_key", syscall(SYS_request_key, "user", "cardseal-probe", NULL,
	                              KEY_SPEC_PROCESS_KEYRING));

	/* Raw system calls: glibc's wrappers would repeat them on every thread. */
	DENIED("setuid (even to ourselves)", syscall(SYS_setuid, getuid()));
	DENIED("setgid", syscall(SYS_setgid, getgid()));
	DENIED("setresuid", syscall(SYS_setresuid, -1, -1, -1));
	DENIED("setgroups", syscall(SYS_setgroups, 0, NULL));
	DENIED("capset", syscall(SYS_capset, NULL, NULL));

	DENIED("personality", syscall(SYS_personality, 0x0400000 /* READ_IMPLIES_EXEC */));
	DENIED("userfaultfd", syscall(SYS_userfaultfd, 0));
	DENIED("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
	if (pipe(pipefd) == 0) {
		DENIED("ioctl(TIOCSTI)", ioctl(pipefd[0], TIOCSTI, &c));
		DENIED("ioctl(TIOCLINUX)", ioctl(pipefd[0], TIOCLINUX, &c));
		close(pipefd[0]);
		close(pipefd[1]);
	}
}

/*
 * Unix sockets as the front uses them: bound and listening before the
 * sandbox (so is a client's connection, queued); accepted, checked with
 * SO_PEERCRED and spoken to after it.
 */
static int
listen_before(const char *dir)
{
	listen_addr.sun_family = AF_UNIX;
	snprintf(listen_addr.sun_path, sizeof(listen_addr.sun_path), "%s/probe.sock", dir);
	(void)unlink(listen_addr.sun_path);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) != 0 ||
	    listen(listen_fd, 4) != 0 ||
	    (client_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(client_fd, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) != 0)
		return -1;
	return 0;
}

static int
accept_works(void)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int afd, good = 0;
	char b = 0;

	if ((afd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return 0;
	if (getsockopt(afd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.pid == getpid() &&
	    write(client_fd, "y", 1) == 1 && read(afd, &b, 1) == 1 && b == 'y' &&
	    write(afd, "z", 1) == 1 && read(client_fd, &b, 1) == 1 && b == 'z')
		good = 1;
	close(afd);
	return good;
}

/* Files as the store uses them: create, write, fsync, locks, rename, read back, unlink. */
static int
files_work(const char *dir)
{
	char path[4096], moved[4096], b[6] = { 0 };
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd, good;

	snprintf(path, sizeof(path), "%s/probe.db", dir);
	snprintf(moved, sizeof(moved), "%s/probe.db.new", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return 0;
	good = write(fd, "hello", 5) == 5 && fsync(fd) == 0 && fdatasync(fd) == 0 &&
	       fcntl(fd, F_SETLK, &lk) == 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	       pread(fd, b, 5, 0) == 5 && strcmp(b, "hello") == 0 && ftruncate(fd, 1) == 0;
	close(fd);
	good = good && rename(path, moved) == 0 && unlink(moved) == 0;
	return good;
}

static void
check_allowed(const char *dir)
{
	pthread_t t;
	void *res = NULL;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char rnd[16];
	char *m;
	int pipefd[2], avail = -1;
	pid_t child;

	ok(files_work(dir), "files: open, write, fsync, fcntl and flock locks, rename, unlink");
	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok(m != MAP_FAILED && mprotect(m, page, PROT_READ) == 0 &&
	   madvise(m, page, MADV_DONTDUMP) == 0 && mlock(m, page) == 0 && munmap(m, page) == 0,
	   "memory: mmap, mprotect, madvise, mlock, munmap");
	ok(accept_works(), "Unix sockets: accept on the socket bound before, SO_PEERCRED, read, write");
	ok(pthread_create(&t, NULL, later_thread, (void *)dir) == 0 && pthread_join(t, &res) == 0 &&
	   res == dir, "threads start and join (clone)");
	ok(getrandom(rnd, sizeof(rnd), 0) == (ssize_t)sizeof(rnd), "getrandom (OpenSSL's seed)");
	ok(pipe2(pipefd, O_CLOEXEC) == 0 && write(pipefd[1], "z", 1) == 1 &&
	   ioctl(pipefd[0], FIONREAD, &avail) == 0 && avail == 1,
	   "pipes and other ioctls (FIONREAD)");
	close(pipefd[0]);
	close(pipefd[1]);
	/* keyd_client_stop: SIGTERM to a stuck keyd, then waitpid. */
	child = start_target();
	ok(child > 0 && kill(child, SIGTERM) == 0 && waitpid(child, NULL, 0) == child,
	   "kill and waitpid a child (stopping keyd)");
}

int
main(int argc, char **argv)
{
	const char *step = NULL;
	pthread_t early;
	struct rlimit core;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: sandbox-probe SCRATCH_DIR\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	if (!cs_sandbox_has_filter()) {
		printf("1..0 # SKIP built without libseccomp: no system call filter to probe "
		       "(install libseccomp-dev and reconfigure)\n");
		return 0;
	}
	if (pthread_create(&early, NULL, early_thread, NULL) != 0 || listen_before(argv[1]) != 0) {
		printf("Bail out! setting up: %s\n", strerror(errno));
		return 1;
	}
	r = cs_sandbox_apply(&step);
	if (r != 0)
		printf("# cs_sandbox_apply failed at %s: %s\n", step, strerror(errno));
	ok(r == 0, "the front's sandbox applies");
	ok(status_field("/proc/self/status", "Seccomp") == 2, "Seccomp: 2 (filter mode)");
	ok(status_field("/proc/self/status", "NoNewPrivs") == 1, "NoNewPrivs: 1");
	ok(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0, "not dumpable");
	ok(getrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_cur == 0 && core.rlim_max == 0,
	   "no core dumps (RLIMIT_CORE 0)");

	pthread_mutex_lock(&early_lock);
	early_may_run = 1;
	pthread_cond_signal(&early_go);
	pthread_mutex_unlock(&early_lock);
	pthread_join(early, NULL);
	ok(early_seccomp == 2 && early_exec_errno == EPERM,
	   "a thread started before the sandbox is filtered too");

	check_denied();
	check_allowed(argv[1]);
	(void)unlink(listen_addr.sun_path);
	printf("1..%d\n", n);
	return failed != 0;
}
