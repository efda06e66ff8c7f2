/* A reply's starting point, from the message the reader shows. */
#include "reply.h"

#include <string.h>

#include "accounts.h"

char *
reply_subject(const char *subject)
{
	const char *s = subject != NULL ? subject : "";

	while (*s == ' ' || *s == '\t')
		s++;
	if (g_ascii_strncasecmp(s, "re:", 3) == 0)
		return g_strdup(s);
	return g_strdup_printf("Re: %s", s);
}

char *
reply_quote(const char *text)
{
	GString *out = g_string_new("");
	char **lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	guint n = g_strv_length(lines), i;

	/* Trailing empty lines quote to nothing worth reading. */
	while (n > 0 && (lines[n - 1][0] == '\0' || strcmp(lines[n - 1], "\r") == 0))
		n--;
	for (i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);

		if (len > 0 && lines[i][len - 1] == '\r')
			lines[i][len - 1] = '\0';
		g_string_append(out, lines[i][0] != '\0' ? "> " : ">");
		g_string_append(out, lines[i]);
		g_string_append_c(out, '\n');
	}
	g_strfreev(lines);
	return g_string_free(out, FALSE);
}

/* The first of the message's To and Cc addresses that is one of the accounts, or NULL. */
static char *
addressed_account(const struct mail_view *v, const GPtrArray *accounts)
{
	const char *lists[] = {v->to, v->cc};
	char *found = NULL;
	guint i, k, a;

	for (i = 0; i < G_N_ELEMENTS(lists) && found == NULL; i++) {
		GStrv addrs = mail_list_addresses(lists[i]);

		for (k = 0; addrs[k] != NULL && found == NULL; k++) {
			for (a = 0; accounts != NULL && a < accounts->len && found == NULL; a++) {
				const struct account *acct = g_ptr_array_index(accounts, a);

				if (g_ascii_strcasecmp(acct->address, addrs[k]) == 0)
					found = g_strdup(acct->address);
			}
		}
		g_strfreev(addrs);
	}
	return found;
}

static gboolean
was_encrypted(const struct ej_report *report)
{
	guint i;

	for (i = 0; report != NULL && i < report->layers->len; i++) {
		const struct ej_layer *l = g_ptr_array_index(report->layers, i);

		if (l->encrypted)
			return TRUE;
	}
	return FALSE;
}

struct reply *
reply_new(const struct mail_view *v, const struct ej_report *report, const GPtrArray *accounts)
{
	struct reply *r = g_new0(struct reply, 1);
	char *quoted = reply_quote(v->body);

	r->account = addressed_account(v, accounts);
	r->to = g_strdup(v->reply_to[0] != '\0' ? v->reply_to : v->from);
	r->subject = reply_subject(v->subject);
	if (v->date[0] != '\0')
		r->body = g_strdup_printf("On %s, %s wrote:\n%s\n", v->date, v->from, quoted);
	else
		r->body = g_strdup_printf("%s wrote:\n%s\n", v->from, quoted);
	if (v->message_id[0] != '\0') {
		r->in_reply_to = g_strdup_printf("<%s>", v->message_id);
		r->references = v->references[0] != '\0'
		                    ? g_strdup_printf("%s %s", v->references, r->in_reply_to)
		                    : g_strdup(r->in_reply_to);
	}
	r->encrypt = was_encrypted(report);
	g_free(quoted);
	return r;
}

void
reply_free(struct reply *r)
{
	if (r == NULL)
		return;
	g_free(r->account);
	g_free(r->to);
	g_free(r->subject);
	g_free(r->body);
	g_free(r->in_reply_to);
	g_free(r->references);
	g_free(r);
}
