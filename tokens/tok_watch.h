/*
 * The slot watcher: one thread per module notices tokens coming and going.
 *
 * SoftHSM and the p11-kit proxy have no blocking C_WaitForSlotEvent, and a
 * blocked call could only be ended by C_Finalize, so each thread polls: it
 * drains C_WaitForSlotEvent(CKF_DONT_BLOCK) where the module has it, and
 * compares a snapshot of its slots (presence, label, serial) with the last
 * one, which also covers modules without slot events. After any change it
 * rescans the slot list (OpenSC needs that before a re-inserted card works)
 * and publishes an event. Waiters take events in order by sequence number,
 * with a timeout and a cancel flag.
 */
#ifndef TOK_WATCH_H
#define TOK_WATCH_H

#include <stdint.h>

#include "tok.h"

struct tok_watch;

struct tok_event {
	uint64_t seq;               /* 1, 2, ... in the order events happened */
	int present;                /* the token arrived (1) or went away (0) */
	char label[33];
	char serial[17];
	char module_path[256];
	CK_SLOT_ID slot_id;
};

/* Starts one polling thread per module of ctx. Returns 0 and *ret_watch. */
int tok_watch_start(struct tok_ctx *ctx, unsigned interval_ms, struct tok_watch **ret_watch);

/* Stops and joins the threads; NULL is fine. */
void tok_watch_stop(struct tok_watch *w);

/* The sequence number of the newest event (0 before the first). */
uint64_t tok_watch_last_seq(struct tok_watch *w);

/*
 * The first event after sequence number `after`. Waits up to timeout_ms
 * (0: do not wait). Returns 0 with *ret_event, CS_ERR_TIMEOUT, or
 * CS_ERR_CANCELLED once *cancel is non-zero (checked at least every 100 ms).
 * Events older than the last 64 are dropped: a slow waiter skips ahead.
 */
int tok_watch_next(struct tok_watch *w, uint64_t after, unsigned timeout_ms,
                   const volatile int *cancel, struct tok_event *ret_event);

/*
 * Waits until a present token matches the pkcs11: URI (its token part).
 * Returns 0 at once if it is there, CS_ERR_TIMEOUT, CS_ERR_CANCELLED, or
 * CS_ERR_BAD_FORMAT for a malformed URI.
 */
int tok_watch_wait_token(struct tok_watch *w, const char *uri, unsigned timeout_ms,
                         const volatile int *cancel);

#endif
