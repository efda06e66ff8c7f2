/*
 * A reply to a message the reader shows: whom it goes to, from which
 * account, its subject, the quoted text, the threading fields, and whether
 * to encrypt it by default (the original was, as the engine's report says).
 * The composer takes it as the starting point; the settings and the policy
 * still apply to Sign and Encrypt.
 */
#ifndef CSG_REPLY_H
#define CSG_REPLY_H

#include <glib.h>

#include "engine_json.h"
#include "mail.h"

struct reply {
	char *account;     /* the account the message was sent to, or NULL (the default) */
	char *to;          /* Reply-To if the message has one, else From */
	char *subject;     /* "Re: ..." (never "Re: Re: ...") */
	char *body;        /* the attribution line and the text/plain body as "> " lines */
	char *in_reply_to; /* "<id>", or NULL when the message has no Message-ID */
	char *references;  /* its References and its Message-ID, or NULL */
	gboolean encrypt;  /* the original had an encrypted layer */
};

/* A new reply to v (report: READ's, NULL allowed; accounts: struct account *). */
struct reply *reply_new(const struct mail_view *v, const struct ej_report *report,
                        const GPtrArray *accounts);
void reply_free(struct reply *r);

/* "Re: " before subject unless it starts with "Re:" already (any case). */
char *reply_subject(const char *subject);

/* text as "> " lines (">" for an empty one), without its trailing empty lines. */
char *reply_quote(const char *text);

#endif
