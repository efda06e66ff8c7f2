/*
 * The front's confinement (sandbox.h). The filter is a deny-list: every
 * system call is allowed except those below, which fail with EPERM (clone3
 * with ENOSYS). An allow-list would have to follow every path glibc, OpenSSL,
 * GMime, GLib and SQLite take on every machine, and a miss there breaks mail
 * for the user; a miss in a deny-list leaves one door open, and each entry
 * here closes a door a compromised front would use against the user: their
 * PIN (via keyd or pinentry), their other programs, or the kernel.
 *
 * Nothing the front does after start-up needs any of these: it never execs
 * (keyd is started once, before the filter; if keyd dies, the front stops and
 * the next client starts a fresh engine), it only accepts connections and
 * never makes one (its syslog socket is connected before), and it never
 * changes identity.
 */
#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "cs_error.h"

#ifdef CS_HAVE_SECCOMP
#include <seccomp.h>
#endif

/* Sanitizer builds: meson says so (b_sanitize), and so do the compilers. */
#if defined(__has_feature) && !defined(CS_SANITIZER_BUILD)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define CS_SANITIZER_BUILD 1
#endif
#endif
#if defined(CS_SANITIZER_BUILD) || defined(__SANITIZE_ADDRESS__)
#define DENY_PTRACE 0
#else
#define DENY_PTRACE 1
#endif

int
cs_sandbox_denies_ptrace(void)
{
	return DENY_PTRACE;
}

#ifdef CS_HAVE_SECCOMP

int
cs_sandbox_has_filter(void)
{
	return 1;
}

/* Denied whatever their arguments, with EPERM. */
static const char *const denied[] = {
	/*
	 * Running programs. A front that could exec could start a keyd of its
	 * own with a pinentry that captures the PIN, no confirmation and no
	 * audit log (threat model 3(c)), or run anything as the user.
	 */
	"execve", "execveat",
	/*
	 * Reading or steering other processes: keyd is not dumpable, but the
	 * user's pinentry (keyd's child, so our descendant) is an ordinary
	 * process that sees the PIN as it is typed. ptrace is added below,
	 * except in sanitizer builds.
	 */
	"process_vm_readv", "process_vm_writev",
	"pidfd_getfd",          /* copy a descriptor out of another process */
	"process_madvise",      /* another process's memory, with ptrace rights */
	"kcmp",                 /* probes other processes' kernel objects */
	/*
	 * Mounts and root changes: with a user namespace they would let the
	 * front rearrange the files it sees; without, they are root's.
	 */
	"mount", "umount2", "pivot_root", "chroot",
	"open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	/*
	 * New connections, even to Unix sockets: the user's session bus and
	 * systemd --user can start programs (an exec by proxy), the X server
	 * hands out keystrokes, agents hold keys. bind and listen: no socket of
	 * ours for others to find. The front only accepts, on the socket it
	 * bound at start.
	 */
	"connect", "bind", "listen",
	/* New namespaces (clone's namespace flags are denied below): kernel attack surface. */
	"unshare", "setns",
	/* Kernel code and kernel-side programs: the kernel is the next target after us. */
	"init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
	"bpf", "perf_event_open",
	/*
	 * The user's kernel keyrings may hold other programs' secrets
	 * (Kerberos tickets, fscrypt and ecryptfs keys).
	 */
	"keyctl", "add_key", "request_key",
	/* Identity: the front stays the user it started as and gains no capability. */
	"setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid",
	"setfsuid", "setfsgid", "setgroups", "capset",
	/*
	 * Favourite exploit helpers, unused by the front: userfaultfd pauses the
	 * kernel mid-copy; io_uring runs operations this filter never sees;
	 * personality changes the memory layout rules; modify_ldt is x86
	 * segment tables.
	 */
	"userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
	"personality", "modify_ldt",
	/*
	 * Privileged system administration. The front never needs it; denied
	 * in case the engine runs as root (system-wide mode, tests). "syslog"
	 * is the kernel's log (dmesg: kernel addresses), not syslog(3).
	 */
	"reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "vhangup",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "iopl", "ioperm",
	"open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "uselib",
};

/* clone flags that make a new namespace. */
static const unsigned long namespace_flags[] = {
	CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS,
	CLONE_NEWCGROUP,
};

/* clone's flags argument (s390 passes the stack first). */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* Adds one rule failing name with err; a name libseccomp does not know is skipped. */
static int
fail_with(scmp_filter_ctx ctx, int err, const char *name, unsigned n_args,
          const struct scmp_arg_cmp *args)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, n_args, args);
}

static int
deny(scmp_filter_ctx ctx, const char *name, unsigned n_args, const struct scmp_arg_cmp *args)
{
	return fail_with(ctx, EPERM, name, n_args, args);
}

static int
add_rules(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp cmp;
	size_t i;
	int r;

	for (i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		if ((r = deny(ctx, denied[i], 0, NULL)) != 0)
			return r;
	}
	if (DENY_PTRACE && (r = deny(ctx, "ptrace", 0, NULL)) != 0)
		return r;
	/*
	 * Network: Unix sockets only, and with connect denied, no new
	 * connection anywhere: nowhere to send plaintext. No netlink or packet
	 * sockets (kernel attack surface).
	 */
	cmp = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
	if ((r = deny(ctx, "socket", 1, &cmp)) != 0 || (r = deny(ctx, "socketpair", 1, &cmp)) != 0)
		return r;
	/*
	 * A datagram to an address is a connection in one call. send() passes
	 * none. (sendmsg's address is in memory, out of the filter's sight:
	 * only datagram Unix sockets could take one.)
	 */
	cmp = SCMP_A4(SCMP_CMP_NE, 0);
	if ((r = deny(ctx, "sendto", 1, &cmp)) != 0)
		return r;
	/* Threads, yes; a new namespace, no (see unshare). */
	for (i = 0; i < sizeof(namespace_flags) / sizeof(namespace_flags[0]); i++) {
		cmp = (struct scmp_arg_cmp){ CLONE_FLAGS_ARG, SCMP_CMP_MASKED_EQ, namespace_flags[i],
		                             namespace_flags[i] };
		if ((r = deny(ctx, "clone", 1, &cmp)) != 0)
			return r;
	}
	/*
	 * clone3 passes its flags in memory, which the filter cannot read.
	 * ENOSYS, not EPERM: glibc then falls back to clone, checked above.
	 */
	if ((r = fail_with(ctx, ENOSYS, "clone3", 0, NULL)) != 0)
		return r;
	/*
	 * Typing into the terminal the engine was started from (TIOCSTI) or
	 * the console (TIOCLINUX): commands in the user's shell. The kernel
	 * reads the request as 32 bits.
	 */
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCSTI);
	if ((r = deny(ctx, "ioctl", 1, &cmp)) != 0)
		return r;
	cmp = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffu, TIOCLINUX);
	return deny(ctx, "ioctl", 1, &cmp);
}

/* Builds and loads the filter on every thread. */
static int
load_filter(const char **ret_step)
{
	scmp_filter_ctx ctx;
	int r;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL) {
		*ret_step = "seccomp_init";
		return CS_ERR_NOMEM;
	}
	/*
	 * The rules name this architecture's numbers. The front never makes
	 * system calls of another ABI (int 0x80 on x86-64, x32); a process
	 * that does is running an attacker's code, and is ended.
	 */
	if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)) != 0 ||
	    /* Threads already running (keyd's reader, GLib's) get the filter too. */
	    (r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) != 0) {
		*ret_step = "seccomp_attr_set";
		goto out;
	}
	if ((r = add_rules(ctx)) != 0) {
		*ret_step = "seccomp_rule_add";
		goto out;
	}
	if ((r = seccomp_load(ctx)) != 0)
		*ret_step = "seccomp_load";
out:
	seccomp_release(ctx);
	if (r == 0)
		return 0;
	errno = -r;     /* libseccomp returns a negative errno; the caller logs it */
	return CS_ERR_PERMISSION;
}

#else /* !CS_HAVE_SECCOMP */

int
cs_sandbox_has_filter(void)
{
	return 0;
}

static int
load_filter(const char **ret_step)
{
	(void)ret_step;
	return 0;
}

#endif

int
cs_sandbox_apply(const char **ret_step)
{
	static const struct rlimit no_core = { 0, 0 };

	*ret_step = NULL;
	/*
	 * No setuid or file-capability program can give us (or a child) more
	 * than we have; the kernel also requires it for an unprivileged filter.
	 */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		*ret_step = "PR_SET_NO_NEW_PRIVS";
		return CS_ERR_PERMISSION;
	}
	/*
	 * The front holds plaintext and content keys: no other process of the
	 * user may ptrace it or read /proc/PID/mem, and no core dump is written
	 * (as keyd does).
	 */
	if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
		*ret_step = "RLIMIT_CORE";
		return CS_ERR_PERMISSION;
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		*ret_step = "PR_SET_DUMPABLE";
		return CS_ERR_PERMISSION;
	}
	return load_filter(ret_step);
}
