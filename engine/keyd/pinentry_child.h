/*
 * The pinentry process: started with an environment built only from the
 * display hints, watched by a thread that kills it when a deadline passes,
 * and reaped without a window in which its pid could be reused.
 *
 * We start it ourselves rather than through assuan_pipe_connect(): that one
 * hands out the pid only after the greeting has arrived (so a pinentry that
 * never greets could not be killed) and adds variables of its own to the
 * child's environment.
 */
#ifndef CS_PINENTRY_CHILD_H
#define CS_PINENTRY_CHILD_H

#include <pthread.h>
#include <sys/types.h>
#include <time.h>

#include "pinentry.h"

/* After SIGTERM, how long a pinentry has to restore the terminal and exit before SIGKILL. */
#define CS_PE_TERM_SECONDS 2
/* After BYE, how long a pinentry has to exit on its own before SIGTERM. */
#define CS_PE_EXIT_SECONDS 2

struct cs_pe_child {
	pid_t pid;
	int fd; /* our end of the socketpair; -1 once handed on */
	pthread_t watchdog;
	pthread_mutex_t lock; /* guards the fields below */
	pthread_cond_t cond;
	struct timespec deadline; /* CLOCK_MONOTONIC */
	int armed;
	int term_sent;
	int fired; /* the deadline passed and the child was signalled */
	int stop;
	const volatile int *cancel; /* another thread's "stop this dialog" flag, or NULL */
	int cancelled;              /* the child was signalled because of *cancel */
};

/*
 * Checks the hints (CS_ERR_INVALID_ARG: see struct cs_display_hints), then
 * starts program with stdin and stdout on a socketpair and stderr on
 * /dev/null, and a watchdog thread with no deadline yet. Returns 0 and fills
 * c (c->fd is ours to pass to libassuan), or CS_ERR_INVALID_ARG,
 * CS_ERR_NOMEM or CS_ERR_PINENTRY (socketpair, fork or thread failed). A
 * program that cannot be executed shows as the child exiting at once.
 */
int cs_pe_child_start(struct cs_pe_child *c, const char *program,
                      const struct cs_display_hints *hints);

/* Checks the hints alone: 0 or CS_ERR_INVALID_ARG. NULL hints are fine. */
int cs_pe_hints_check(const struct cs_display_hints *hints);

/*
 * Starts a thread with every signal blocked, so that our helper threads
 * never take a signal meant for keyd. Returns 0 or CS_ERR_PINENTRY.
 */
int cs_pe_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/*
 * Sets the deadline to seconds from now (0: at once), replacing any earlier
 * one. When it passes the child gets SIGTERM, and CS_PE_TERM_SECONDS later
 * SIGKILL. Without effect once the child has been signalled.
 */
void cs_pe_child_arm(struct cs_pe_child *c, unsigned seconds);

/*
 * Watches *cancel (checked every 100 ms): once it is non-zero the child is
 * ended as for a passed deadline and cs_pe_child_cancelled() says so.
 */
void cs_pe_child_set_cancel(struct cs_pe_child *c, const volatile int *cancel);

/* Whether the child was ended because of the cancel flag. */
int cs_pe_child_cancelled(struct cs_pe_child *c);

/* Removes the deadline: the child may take as long as it likes. */
void cs_pe_child_disarm(struct cs_pe_child *c);

/* Whether the deadline passed and the child was signalled. */
int cs_pe_child_fired(struct cs_pe_child *c);

/*
 * Waits for the child to exit (arming CS_PE_EXIT_SECONDS unless a deadline
 * has already fired), stops the watchdog and reaps the child. Call after the
 * connection has been closed, so a well-behaved pinentry has seen EOF or BYE.
 */
void cs_pe_child_finish(struct cs_pe_child *c);

#endif
