/*
 * The shell's accounts: $XDG_CONFIG_HOME/cardseal/accounts.conf (or the
 * file given with --accounts), a GKeyFile with one group per account:
 *
 *   [Alice at work]
 *   address = alice@example.org          (required)
 *   name = Alice Example                 (display name for From:)
 *   send-command = sendmail -t -oi       (default; the message on its stdin)
 *   outbox = /home/alice/Mail/outbox     (a Maildir: written there instead of sent)
 *   folder = /home/alice/Mail/INBOX      (a Maildir the reader opens at start)
 *
 * cardseal-gtk(1) documents it. Without the file, the addresses of the
 * identities on your tokens are the accounts, sending with sendmail. A Bcc
 * recipient's copy runs the send command without -t and with "-- ADDRESS"
 * (send.c says why).
 */
#ifndef CSG_ACCOUNTS_H
#define CSG_ACCOUNTS_H

#include <glib.h>

struct account {
	char *group;
	char *address;
	char *name;
	char *send_command;
	char *outbox; /* NULL: send with send_command */
	char *folder; /* NULL: none */
};

/*
 * Loads path (NULL: the default file). A missing file gives an empty list;
 * a file that does not parse or lacks an address sets *error and returns NULL.
 */
GPtrArray *accounts_load(const char *path, GError **error);

/* An account for an address with the defaults (for identities without a configured account). */
struct account *account_new_default(const char *address);
void account_free(struct account *a);

/* "Name <address>" or the address alone. */
char *account_from_header(const struct account *a);

/* The default path of the file. */
char *accounts_default_path(void);

#endif
