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
 *
 * Beside the slot threads, a reader thread (tok_readers.c) follows PC/SC
 * readers and the cards in them through pcscd. Why both: PKCS#11 cannot
 * say "a reader was plugged in" or "a card nobody can use was inserted",
 * and it has no blocking wait that can be ended (C_WaitForSlotEvent can
 * only be left by C_Finalize); pcsclite's SCardGetStatusChange blocks until
 * pcscd sees a change and SCardCancel ends it at once, but it knows nothing
 * of tokens, labels or modules that are not smartcards (SoftHSM, HSMs,
 * p11-kit remotes). So the reader thread reports readers and cards as the
 * user sees them and, on each change, makes the slot threads poll at once,
 * which rescans the slot list (OpenSC needs that before a re-inserted card
 * works); the slot threads stay the authority on tokens.
 */
#ifndef TOK_WATCH_H
#define TOK_WATCH_H

#include <stdint.h>

#include "tok.h"

struct tok_watch;

enum tok_event_kind {
	TOK_EVENT_TOKEN = 0,        /* a PKCS#11 token arrived or went: present, label... */
	TOK_EVENT_READER = 1,       /* a PC/SC reader or the card in it: change, reader */
};

enum tok_reader_change {
	TOK_READER_ADDED = 1,
	TOK_READER_REMOVED = 2,
	TOK_CARD_INSERTED = 3,
	TOK_CARD_REMOVED = 4,
};

struct tok_event {
	uint64_t seq;               /* 1, 2, ... in the order events happened */
	int kind;                   /* TOK_EVENT_* */
	int present;                /* TOKEN: the token arrived (1) or went away (0) */
	char label[33];
	char serial[17];
	char module_path[256];
	CK_SLOT_ID slot_id;
	int change;                 /* READER: TOK_READER_* / TOK_CARD_* */
	char reader[128];           /* READER: the PC/SC reader name (pcsclite's MAX_READERNAME) */
};

/* "reader-added", "reader-removed", "card-inserted", "card-removed", or "unknown". */
const char *tok_reader_change_name(int change);

/*
 * Starts one polling thread per module of ctx, and the reader thread (which
 * waits quietly while pcscd is not running). Returns 0 and *ret_watch.
 */
int tok_watch_start(struct tok_ctx *ctx, unsigned interval_ms, struct tok_watch **ret_watch);

/* Stops and joins the threads; NULL is fine. */
void tok_watch_stop(struct tok_watch *w);

/*
 * For the reader thread: publishes a reader or card change (reader is
 * copied, control characters replaced) and makes every slot thread poll
 * and rescan now rather than at its next interval.
 */
void tok_watch_reader_event(struct tok_watch *w, int change, const char *reader);

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
