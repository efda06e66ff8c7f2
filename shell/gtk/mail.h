/*
 * Messages as the shell shows and builds them (GMime): the innermost message
 * READ returns, split into headers, the text/plain body and attachments; a
 * Maildir folder's list with signed/encrypted marks taken from the outer
 * Content-Type (a display hint: the engine's READ is what decides); and the
 * composer's plain message before PROTECT.
 */
#ifndef CSG_MAIL_H
#define CSG_MAIL_H

#include <gio/gio.h>
#include <glib.h>

struct mail_attachment {
	char *filename;
	char *content_type;
	gint64 size;   /* decoded size when known, else -1 */
	gpointer part; /* GMimePart (owned by the view's message) */
};

struct mail_view {
	gpointer message; /* GMimeMessage */
	char *from, *to, *cc, *subject, *date;
	char *reply_to;         /* "" when absent */
	char *message_id;       /* without its angle brackets; "" when absent */
	char *references;       /* "<a> <b>" as the message has them, or "" */
	char *body;             /* the first text/plain body in UTF-8, or NULL */
	gboolean html_only;     /* no text/plain, but an HTML body */
	gpointer html_part;     /* GMimePart of that HTML body */
	GPtrArray *attachments; /* struct mail_attachment * */
};

void mail_init(void);

/* Parses the message in path; NULL and *error when it is not one. */
struct mail_view *mail_view_load(const char *path, GError **error);
void mail_view_free(struct mail_view *v);

/* Writes a part's decoded content to path. Returns TRUE, or FALSE and *error. */
gboolean mail_save_part(gpointer part, const char *path, GError **error);

/* One entry of a folder listing. */
struct mail_entry {
	char *path;
	char *from, *subject, *date;
	gint64 time; /* for sorting, 0 when unknown */
	gboolean signed_mark, encrypted_mark;
};

/* The messages of a Maildir (cur/ and new/; or every file of a plain directory), newest first. */
GPtrArray *mail_folder_list(const char *dir, GError **error);
void mail_entry_free(struct mail_entry *e);

/* The message the composer hands to PROTECT. */
struct mail_draft {
	char *from;          /* "Name <address>" */
	char *domain;        /* for the Message-ID: the sender's domain */
	char *to, *cc, *bcc; /* address lists as typed */
	char *subject;
	char *body;
	GPtrArray *attachments; /* char * paths */
	char *in_reply_to;      /* a reply's In-Reply-To ("<id>"), or NULL */
	char *references;       /* a reply's References ("<a> <b>"), or NULL */
};

void mail_draft_free(struct mail_draft *d);

/*
 * Writes the draft as an RFC 5322 message to path (attachments streamed from
 * their files); the Bcc field only with with_bcc (PROTECT reads it and takes
 * it out; a message sent as it is must not carry it).
 */
gboolean mail_draft_write(const struct mail_draft *d, gboolean with_bcc, const char *path,
                          GError **error);

/* The address list text without the addresses in remove (case-insensitive). */
char *mail_list_without(const char *list, const char *const *remove);

/* The addr-specs of an address list. */
GStrv mail_list_addresses(const char *list);

/*
 * Copies src into the Maildir dir (tmp/ then new/), after the header lines in
 * prefix (NULL: none); the new file's path in *ret_path.
 */
gboolean mail_maildir_deliver(const char *dir, const char *src, const char *prefix, char **ret_path,
                              GError **error);

#endif
