#include "tok_readers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <winscard.h>

#include "cs_error.h"
#include "tok_watch.h"

#define MAX_READERS 16
#define CANCEL_EVERY_MS 50 /* stop repeats SCardCancel until the thread is out */
#define RETRY_MS 3000      /* while pcscd is not there */
#define PNP_NAME "\\\\?PnP?\\Notification"

struct reader_state {
	char name[MAX_READERNAME];
	DWORD state; /* what we last knew: SCARD_STATE_* and the event count */
};

struct tok_readers {
	struct tok_watch *watch;
	pthread_t thread;
	pthread_mutex_t lock; /* guards stopping, done, have_context and context */
	pthread_cond_t wake;  /* stop wakes the thread's pauses; the thread's end wakes stop */
	int stopping;
	int done;
	int have_context;
	SCARDCONTEXT context;
	struct reader_state readers[MAX_READERS];
	size_t n_readers;
};

static int
stopping(struct tok_readers *r)
{
	int s;

	pthread_mutex_lock(&r->lock);
	s = r->stopping;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* Waits ms, or less when stopping. */
static void
pause_ms(struct tok_readers *r, unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (!r->stopping && pthread_cond_timedwait(&r->wake, &r->lock, &t) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&r->lock);
}

static int
card_in(DWORD state)
{
	return (state & SCARD_STATE_PRESENT) != 0;
}

/* pcsclite counts card insertions and removals in the high 16 bits of a reader's state. */
static unsigned
event_count(DWORD state)
{
	return (unsigned)((state >> 16) & 0xffff);
}

/*
 * Reads pcscd's reader list into *ret_buf (NUL-separated, freed by the
 * caller) and names (at most MAX_READERS; more are not followed). Returns
 * how many, or -1.
 */
static int
list_readers(SCARDCONTEXT ctx, char **ret_buf, const char **names)
{
	DWORD len = 0;
	LONG rv;
	char *buf, *p;
	int n = 0;

	*ret_buf = NULL;
	rv = SCardListReaders(ctx, NULL, NULL, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return 0;
	if (rv != SCARD_S_SUCCESS || len == 0 || len > 65536 || (buf = malloc(len + 1)) == NULL)
		return -1;
	rv = SCardListReaders(ctx, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE) {
		free(buf);
		return 0;
	}
	if (rv != SCARD_S_SUCCESS) {
		free(buf);
		return -1; /* also a list that grew between the two calls: try again later */
	}
	buf[len] = '\0'; /* a multi-string ends with an empty string; make sure */
	for (p = buf; *p != '\0' && n < MAX_READERS; p += strlen(p) + 1)
		names[n++] = p;
	*ret_buf = buf;
	return n;
}

/*
 * Brings our reader list up to date with pcscd's: readers that went are
 * reported (and their cards), new ones are reported and start as UNAWARE, so
 * the next SCardGetStatusChange tells at once whether a card is in them.
 * With report 0 (the first look) nothing is published. Returns 0 or -1.
 */
static int
refresh_readers(struct tok_readers *r, int report)
{
	const char *names[MAX_READERS];
	struct reader_state next[MAX_READERS];
	size_t i, j, n_next = 0;
	char *buf;
	int n = list_readers(r->context, &buf, names);

	if (n < 0)
		return -1;
	for (i = 0; i < r->n_readers; i++) {
		for (j = 0; j < (size_t)n; j++) {
			if (strcmp(r->readers[i].name, names[j]) == 0)
				break;
		}
		if (j < (size_t)n) {
			next[n_next++] = r->readers[i];
			names[j] = NULL; /* known: not new */
		} else if (report) {
			if (card_in(r->readers[i].state))
				tok_watch_reader_event(r->watch, TOK_CARD_REMOVED,
				                       r->readers[i].name);
			tok_watch_reader_event(r->watch, TOK_READER_REMOVED, r->readers[i].name);
		}
	}
	for (j = 0; j < (size_t)n && n_next < MAX_READERS; j++) {
		if (names[j] == NULL || strlen(names[j]) >= MAX_READERNAME)
			continue;
		memset(&next[n_next], 0, sizeof(next[n_next]));
		memcpy(next[n_next].name, names[j], strlen(names[j]) + 1);
		next[n_next++].state = SCARD_STATE_UNAWARE;
		if (report)
			tok_watch_reader_event(r->watch, TOK_READER_ADDED, names[j]);
	}
	memcpy(r->readers, next, n_next * sizeof(next[0]));
	r->n_readers = n_next;
	free(buf);
	return 0;
}

/* Publishes what changed in reader i; returns 1 if the reader is gone. */
static int
reader_changed(struct tok_readers *r, size_t i, DWORD now, int report)
{
	struct reader_state *s = &r->readers[i];
	DWORD was = s->state;

	/* A reader that went keeps its last state: its card is reported gone with it. */
	if (now & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))
		return 1;
	s->state = now & ~(DWORD)SCARD_STATE_CHANGED;
	if (!report)
		return 0;
	if (card_in(was) && (!card_in(now) || event_count(was) != event_count(now)))
		tok_watch_reader_event(r->watch, TOK_CARD_REMOVED, s->name);
	if (card_in(now) && (!card_in(was) || event_count(was) != event_count(now)))
		tok_watch_reader_event(r->watch, TOK_CARD_INSERTED, s->name);
	return 0;
}

/*
 * Follows pcscd until it goes away, an error, or stop. The first look sets
 * the baseline: readers and cards already there are events only with
 * announce (pcscd came back: its readers are news).
 */
static void
follow(struct tok_readers *r, int announce)
{
	SCARD_READERSTATE st[MAX_READERS + 1];
	size_t i, n;
	int first = 1, relist = 1;
	LONG rv;

	memset(st, 0, sizeof(st));
	st[0].szReader = PNP_NAME;
	st[0].dwCurrentState = SCARD_STATE_UNAWARE;
	while (!stopping(r)) {
		if (relist && refresh_readers(r, !first || announce) != 0)
			return;
		relist = 0;
		n = r->n_readers;
		for (i = 0; i < n; i++) {
			st[i + 1].szReader = r->readers[i].name;
			st[i + 1].dwCurrentState = r->readers[i].state;
			st[i + 1].dwEventState = 0;
		}
		/*
		 * The first look, and new readers (UNAWARE), come back at once; the
		 * rest waits for pcscd to see a change, or for SCardCancel.
		 */
		rv = SCardGetStatusChange(r->context, first ? 0 : INFINITE, st, (DWORD)n + 1);
		if (rv == SCARD_E_CANCELLED)
			return;
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			return; /* pcscd stopped, or the context is no good: start over */
		for (i = 0; i < n; i++) {
			if ((st[i + 1].dwEventState & SCARD_STATE_CHANGED) || first)
				relist |= reader_changed(r, i, st[i + 1].dwEventState,
				                         !first || announce);
		}
		if ((st[0].dwEventState & SCARD_STATE_CHANGED) || first) {
			/* A reader came or went. */
			if (!first)
				relist = 1;
			st[0].dwCurrentState = st[0].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		}
		first = 0;
	}
}

/* Tells the user that every reader went with pcscd. */
static void
forget_readers(struct tok_readers *r)
{
	size_t i;

	for (i = 0; i < r->n_readers; i++) {
		if (card_in(r->readers[i].state))
			tok_watch_reader_event(r->watch, TOK_CARD_REMOVED, r->readers[i].name);
		tok_watch_reader_event(r->watch, TOK_READER_REMOVED, r->readers[i].name);
	}
	r->n_readers = 0;
}

static void *
readers_main(void *arg)
{
	struct tok_readers *r = arg;
	SCARDCONTEXT ctx;
	int first = 1;

	while (!stopping(r)) {
		if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) !=
		    SCARD_S_SUCCESS) {
			pause_ms(r, RETRY_MS);
			continue;
		}
		pthread_mutex_lock(&r->lock);
		r->context = ctx;
		r->have_context = !r->stopping;
		pthread_mutex_unlock(&r->lock);
		if (r->have_context) {
			follow(r, !first);
			first = 0;
		}
		pthread_mutex_lock(&r->lock);
		r->have_context = 0;
		pthread_mutex_unlock(&r->lock);
		(void)SCardReleaseContext(ctx);
		if (!stopping(r)) {
			forget_readers(r);
			pause_ms(r, RETRY_MS);
		}
	}
	pthread_mutex_lock(&r->lock);
	r->done = 1;
	pthread_cond_broadcast(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int
tok_readers_start(struct tok_watch *w, struct tok_readers **ret)
{
	struct tok_readers *r;
	pthread_condattr_t ca;

	*ret = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CS_ERR_NOMEM;
	r->watch = w;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, readers_main, r) != 0) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		free(r);
		return CS_ERR_NOMEM;
	}
	*ret = r;
	return 0;
}

void
tok_readers_stop(struct tok_readers *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	/*
	 * SCardCancel ends a wait in progress at once, but pcsclite forgets a
	 * cancel that comes before the wait starts: repeat it until the thread
	 * is out. have_context is cleared (under the lock) before the context is
	 * released, so a cancel never meets a released context.
	 */
	while (!r->done) {
		struct timespec t;

		if (r->have_context)
			(void)SCardCancel(r->context);
		pthread_cond_broadcast(&r->wake);
		clock_gettime(CLOCK_MONOTONIC, &t);
		t.tv_nsec += CANCEL_EVERY_MS * 1000000L;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&r->wake, &r->lock, &t);
	}
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
