/*
 * Sending from the composer, in a worker thread: the draft is written as a
 * message, PROTECTed by the engine (sign and/or encrypt), and each output
 * (one, plus one per Bcc recipient) goes to the account's send command on
 * its standard input or into its outbox Maildir.
 */
#ifndef CSG_SEND_H
#define CSG_SEND_H

#include <gio/gio.h>

#include "accounts.h"
#include "engine_task.h"
#include "mail.h"

/* A synthetic event (beside CS_EVENT_*): value is the message's size in bytes. */
#define SEND_EVENT_TOTAL 1000

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
};

void send_job_free(struct send_job *j);
void send_run(struct send_job *j, GAsyncReadyCallback done, gpointer data);
struct send_job *send_run_finish(GAsyncResult *res);

#endif
