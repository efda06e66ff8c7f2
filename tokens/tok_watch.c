#include "tok_watch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_error.h"
#include "tok_internal.h"
#include "tok_keycache.h"
#include "tok_readers.h"

#define RING_SIZE 64
#define MAX_SLOTS 64
#define CANCEL_CHECK_MS 100

/* What a module's slots looked like at the last poll. */
struct slot_state {
	CK_SLOT_ID slot;
	int present;
	char label[33];
	char serial[17];
};

struct module_watcher {
	struct tok_watch *watch;
	struct tok_module *module;
	pthread_t thread;
	int started;
	struct slot_state slots[MAX_SLOTS];
	size_t n_slots;
};

struct tok_watch {
	struct tok_ctx *ctx;
	unsigned interval_ms;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	int stopping;
	uint64_t seq;
	uint64_t kicks;                 /* bumped by reader events: slot threads poll at once */
	struct tok_event ring[RING_SIZE];
	struct module_watcher *watchers;
	size_t n_watchers;
	struct tok_readers *readers;
};

static void
deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static int
passed(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

/* Reads the module's slots now. */
static size_t
snapshot(struct tok_module *m, struct slot_state *out)
{
	CK_SLOT_ID ids[MAX_SLOTS];
	CK_ULONG n = MAX_SLOTS, i;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;

	if (m->fn->C_GetSlotList(CK_FALSE, ids, &n) != CKR_OK)
		return 0;
	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].slot = ids[i];
		if (m->fn->C_GetSlotInfo(ids[i], &si) != CKR_OK || !(si.flags & CKF_TOKEN_PRESENT) ||
		    m->fn->C_GetTokenInfo(ids[i], &ti) != CKR_OK)
			continue;
		out[i].present = 1;
		tok_copy_padded(out[i].label, sizeof(out[i].label), ti.label, sizeof(ti.label));
		tok_copy_padded(out[i].serial, sizeof(out[i].serial), ti.serialNumber,
		                sizeof(ti.serialNumber));
	}
	return n;
}

static const struct slot_state *
find_slot(const struct slot_state *list, size_t n, CK_SLOT_ID slot)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (list[i].slot == slot)
			return &list[i];
	}
	return NULL;
}

/* The next ring entry, zeroed and numbered. Caller holds w->lock. */
static struct tok_event *
next_event(struct tok_watch *w)
{
	struct tok_event *e = &w->ring[w->seq % RING_SIZE];

	memset(e, 0, sizeof(*e));
	e->seq = ++w->seq;
	/* Any token or reader change: key handles cached before it are not trusted after. */
	tok_ctx_bump_generation(w->ctx);
	return e;
}

/* Caller holds w->lock. */
static void
publish(struct tok_watch *w, struct tok_module *m, const struct slot_state *s, int present)
{
	struct tok_event *e = next_event(w);

	e->kind = TOK_EVENT_TOKEN;
	e->present = present;
	e->slot_id = s->slot;
	snprintf(e->label, sizeof(e->label), "%s", s->label);
	snprintf(e->serial, sizeof(e->serial), "%s", s->serial);
	snprintf(e->module_path, sizeof(e->module_path), "%s", m->path);
}

static int
same_token(const struct slot_state *a, const struct slot_state *b)
{
	return a->present == b->present && strcmp(a->label, b->label) == 0 &&
	       strcmp(a->serial, b->serial) == 0;
}

/* Compares a new snapshot with the last and publishes what changed. Returns how many. */
static int
diff_and_publish(struct module_watcher *mw, const struct slot_state *now, size_t n_now)
{
	struct tok_watch *w = mw->watch;
	size_t i;
	int events = 0;

	pthread_mutex_lock(&w->lock);
	for (i = 0; i < mw->n_slots; i++) {
		const struct slot_state *old = &mw->slots[i];
		const struct slot_state *cur = find_slot(now, n_now, old->slot);

		if (old->present && (cur == NULL || !same_token(old, cur))) {
			publish(w, mw->module, old, 0);
			events++;
		}
	}
	for (i = 0; i < n_now; i++) {
		const struct slot_state *cur = &now[i];
		const struct slot_state *old = find_slot(mw->slots, mw->n_slots, cur->slot);

		if (cur->present && (old == NULL || !same_token(old, cur))) {
			publish(w, mw->module, cur, 1);
			events++;
		}
	}
	memcpy(mw->slots, now, n_now * sizeof(*now));
	mw->n_slots = n_now;
	if (events > 0)
		pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	return events;
}

static void *
watch_module(void *arg)
{
	struct module_watcher *mw = arg;
	struct tok_watch *w = mw->watch;
	struct slot_state now[MAX_SLOTS];
	struct timespec next;
	CK_SLOT_ID slot;
	uint64_t kicks, seen = 0;
	size_t n;
	int stop;

	for (;;) {
		/* Note the kicks first: one that comes during this poll makes another. */
		pthread_mutex_lock(&w->lock);
		kicks = w->kicks;
		pthread_mutex_unlock(&w->lock);
		/* Drain slot events the module reports; the snapshot below decides what changed. */
		while (mw->module->fn->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL) == CKR_OK)
			;
		n = snapshot(mw->module, now);
		/* After any slot or reader event the slot list is read again (OpenSC needs it). */
		if (diff_and_publish(mw, now, n) > 0 || kicks != seen)
			(void)tok_rescan(w->ctx);
		seen = kicks;
		pthread_mutex_lock(&w->lock);
		deadline_after(&next, w->interval_ms);
		while (!w->stopping && w->kicks == seen &&
		       pthread_cond_timedwait(&w->changed, &w->lock, &next) != ETIMEDOUT)
			;
		stop = w->stopping;
		pthread_mutex_unlock(&w->lock);
		if (stop)
			break;
	}
	return NULL;
}

int
tok_watch_start(struct tok_ctx *ctx, unsigned interval_ms, struct tok_watch **ret_watch)
{
	struct tok_watch *w;
	pthread_condattr_t ca;
	size_t i;

	*ret_watch = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return CS_ERR_NOMEM;
	w->ctx = ctx;
	w->interval_ms = interval_ms > 0 ? interval_ms : 500;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->changed, &ca);
	pthread_condattr_destroy(&ca);
	if ((w->watchers = calloc(ctx->n_modules, sizeof(*w->watchers))) == NULL) {
		tok_watch_stop(w);
		return CS_ERR_NOMEM;
	}
	w->n_watchers = ctx->n_modules;
	for (i = 0; i < w->n_watchers; i++) {
		struct module_watcher *mw = &w->watchers[i];

		mw->watch = w;
		mw->module = &ctx->modules[i];
		/* The first snapshot is the baseline: tokens already there are not events. */
		mw->n_slots = snapshot(mw->module, mw->slots);
		if (pthread_create(&mw->thread, NULL, watch_module, mw) != 0) {
			tok_watch_stop(w);
			return CS_ERR_NOMEM;
		}
		mw->started = 1;
	}
	if (tok_readers_start(w, &w->readers) != 0) {
		tok_watch_stop(w);
		return CS_ERR_NOMEM;
	}
	*ret_watch = w;
	return 0;
}

void
tok_watch_stop(struct tok_watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	/* First: the reader thread publishes into w. */
	tok_readers_stop(w->readers);
	w->readers = NULL;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->n_watchers; i++) {
		if (w->watchers[i].started)
			pthread_join(w->watchers[i].thread, NULL);
	}
	free(w->watchers);
	pthread_cond_destroy(&w->changed);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

const char *
tok_reader_change_name(int change)
{
	switch (change) {
	case TOK_READER_ADDED:
		return "reader-added";
	case TOK_READER_REMOVED:
		return "reader-removed";
	case TOK_CARD_INSERTED:
		return "card-inserted";
	case TOK_CARD_REMOVED:
		return "card-removed";
	default:
		return "unknown";
	}
}

void
tok_watch_reader_event(struct tok_watch *w, int change, const char *reader)
{
	struct tok_event *e;
	size_t i;

	pthread_mutex_lock(&w->lock);
	e = next_event(w);
	e->kind = TOK_EVENT_READER;
	e->change = change;
	snprintf(e->reader, sizeof(e->reader), "%s", reader);
	/* Reader names come from drivers: no control characters reach a terminal. */
	for (i = 0; e->reader[i] != '\0'; i++) {
		if ((unsigned char)e->reader[i] < 0x20 || e->reader[i] == 0x7f)
			e->reader[i] = '?';
	}
	w->kicks++;
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->lock);
}

uint64_t
tok_watch_last_seq(struct tok_watch *w)
{
	uint64_t seq;

	pthread_mutex_lock(&w->lock);
	seq = w->seq;
	pthread_mutex_unlock(&w->lock);
	return seq;
}

int
tok_watch_next(struct tok_watch *w, uint64_t after, unsigned timeout_ms, const volatile int *cancel,
               struct tok_event *ret_event)
{
	struct timespec deadline, slice;
	int r = CS_ERR_TIMEOUT;

	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		if (w->seq > after) {
			uint64_t want = after + 1;

			/* Skip what the ring no longer holds. */
			if (w->seq - want >= RING_SIZE)
				want = w->seq - RING_SIZE + 1;
			*ret_event = w->ring[(want - 1) % RING_SIZE];
			r = 0;
			break;
		}
		if (cancel != NULL && *cancel) {
			r = CS_ERR_CANCELLED;
			break;
		}
		if (w->stopping || passed(&deadline))
			break;
		deadline_after(&slice, CANCEL_CHECK_MS);
		if (slice.tv_sec > deadline.tv_sec ||
		    (slice.tv_sec == deadline.tv_sec && slice.tv_nsec > deadline.tv_nsec))
			slice = deadline;
		(void)pthread_cond_timedwait(&w->changed, &w->lock, &slice);
	}
	pthread_mutex_unlock(&w->lock);
	return r;
}

int
tok_watch_wait_token(struct tok_watch *w, const char *uri, unsigned timeout_ms,
                     const volatile int *cancel)
{
	struct timespec deadline;
	struct tok_event e;
	struct tok_token *t;
	uint64_t seq;
	unsigned left;
	int r;

	deadline_after(&deadline, timeout_ms);
	for (;;) {
		/* Note the sequence first, so an arrival between the check and the wait is seen. */
		seq = tok_watch_last_seq(w);
		r = tok_lock_token_for_uri(w->ctx, uri, &t);
		if (r == 0) {
			pthread_mutex_unlock(&t->lock);
			return 0;
		}
		if (r != CS_ERR_NO_TOKEN)
			return r;
		if (passed(&deadline))
			return CS_ERR_TIMEOUT;
		{
			struct timespec now;
			long ms;

			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (deadline.tv_sec - now.tv_sec) * 1000 +
			     (deadline.tv_nsec - now.tv_nsec) / 1000000;
			left = ms > 0 ? (unsigned)ms : 0;
		}
		/*
		 * Wait for an event, but never longer than one poll interval: a card
		 * pulled and put back between two polls makes no event at all, and
		 * the token must be found all the same.
		 */
		if (left > w->interval_ms)
			left = w->interval_ms;
		r = tok_watch_next(w, seq, left, cancel, &e);
		if (r == CS_ERR_CANCELLED)
			return r;
		/* An event or a timeout: check the token again (and the deadline). */
	}
}
