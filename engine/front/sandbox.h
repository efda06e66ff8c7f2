/*
 * The front's confinement. cardseald parses attacker-written mail, so once its
 * start-up is done (socket bound, keyd started, store opened, configuration
 * and policy read) it gives up what it no longer needs: new privileges
 * (PR_SET_NO_NEW_PRIVS), being ptraced or dumped by other processes of the
 * user (PR_SET_DUMPABLE 0, RLIMIT_CORE 0; it holds plaintext), and a deny-list
 * of dangerous system calls (seccomp, sandbox.c says why each one).
 *
 * tests/engine/sandbox-probe.c links this file to check the filter.
 */
#ifndef CS_SANDBOX_H
#define CS_SANDBOX_H

/*
 * Confines the calling process, every thread of it, for good. Returns 0, or a
 * negative CS_ERR_* with *ret_step naming the step that failed (a static
 * string) and errno saying why. Built without libseccomp it sets only the process attributes and
 * returns 0; cs_sandbox_has_filter() says so.
 */
int cs_sandbox_apply(const char **ret_step);

/* 1 when this build has the seccomp filter (libseccomp), 0 when it does not. */
int cs_sandbox_has_filter(void);

/*
 * 1 when the filter denies ptrace. Sanitizer builds allow it: LeakSanitizer
 * stops the threads with ptrace to scan their memory.
 */
int cs_sandbox_denies_ptrace(void);

#endif
