/*
 * Sending from the composer, in a worker thread: the draft is written as a
 * message, PROTECTed by the engine (sign and/or encrypt), and each copy goes
 * to the account's send command on its standard input or into its outbox
 * Maildir. The copy for To and Cc is sent by its headers (sendmail -t); a
 * Bcc recipient's copy has the same To and Cc headers, so it is sent to its
 * address alone: the send command without -t, with "-- ADDRESS" appended, or
 * in the outbox with an X-Cardseal-Envelope-To: field naming the address.
 * Encrypted, each Bcc recipient has a copy of their own (PROTECT's streams
 * 1, 2 ...); otherwise they get the To/Cc copy, whose Bcc field is gone.
 */
#ifndef CSG_SEND_H
#define CSG_SEND_H

#include <gio/gio.h>

#include "accounts.h"
#include "engine_task.h"
#include "mail.h"

/* Synthetic events (beside CS_EVENT_*). */
#define SEND_EVENT_TOTAL 1000     /* value: the bytes PROTECT reads, all copies together */
#define SEND_EVENT_DELIVERING 1001 /* the copies are made (PROTECT done); value: how many */

/* The field that names a Bcc copy's envelope recipient in the outbox. */
#define SEND_ENVELOPE_FIELD "X-Cardseal-Envelope-To"

struct send_job {
	struct mail_draft *draft; /* owned */
	struct account *account;  /* a copy, owned */
	guint32 flags;            /* CS_PROTECT_* (0: send as it is) */
	engine_event_fn on_event;
	GObject *event_target;
	/* Results. */
	int err;              /* a CS_ERR_* from the engine, or 0 */
	char *error_details;  /* the engine's details (the missing recipients) */
	char *message;        /* what went wrong otherwise, or NULL */
	GStrv dropped;        /* recipients the engine dropped */
	GPtrArray *delivered; /* char *: outbox files written */
	guint planned;        /* copies to deliver */
	guint copies;         /* copies handed to the send command or the outbox */
};

void send_job_free(struct send_job *j);
void send_run(struct send_job *j, GAsyncReadyCallback done, gpointer data);
struct send_job *send_run_finish(GAsyncResult *res);

#endif
