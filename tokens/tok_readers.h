/*
 * The reader watcher: one thread follows PC/SC readers and the cards in
 * them through pcscd (pcsclite's SCardGetStatusChange, with the
 * "\\?PnP?\Notification" pseudo-reader for readers coming and going) and
 * hands each change to the slot watcher with tok_watch_reader_event().
 * tok_watch.h says why there are two watchers. Started and stopped by
 * tok_watch_start/stop; built without pcsclite it does nothing.
 */
#ifndef TOK_READERS_H
#define TOK_READERS_H

struct tok_watch;
struct tok_readers;

/*
 * Starts the thread. While pcscd is not running it tries again every few
 * seconds. Returns 0 and *ret (NULL when built without pcsclite), or
 * CS_ERR_NOMEM.
 */
int tok_readers_start(struct tok_watch *w, struct tok_readers **ret);

/* Stops the thread (SCardCancel ends its wait at once) and joins it. NULL is fine. */
void tok_readers_stop(struct tok_readers *r);

#endif
