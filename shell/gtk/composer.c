/*
 * The composer: From (an account), To, Cc, Bcc, Subject, the text,
 * attachments, and Options with Sign and Encrypt, whose defaults come from
 * the account's settings and which the administrator's policy may lock.
 * Recipients without a certificate are named before anything is sent. A
 * reply starts from the reader's message (reply.c).
 */
#include <string.h>

#include "app.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "reply.h"
#include "security_words.h"
#include "send.h"
#include "windows.h"

struct composer {
	GtkBuilder *ui;
	GtkWindow *window;
	GtkWidget *from_combo, *to_entry, *cc_entry, *bcc_entry, *subject_entry, *body_view;
	GtkWidget *sign_check, *encrypt_check, *sign_lock_label, *encrypt_lock_label;
	GtkWidget *attachments_combo, *unattach_button, *send_button, *progress, *status_label;
	GPtrArray *attachments; /* char * paths */
	guint64 total;          /* bytes PROTECT reads for all copies */
	guint64 done_before;    /* bytes of the copies PROTECT finished */
	guint64 last_progress;  /* the last PROGRESS value (of the copy in hand) */
	gboolean sending;
	/* A reply's threading fields and its default: encrypted as the original was. */
	char *in_reply_to, *references;
	gboolean reply_encrypted;
	gboolean settings_applied; /* the account's defaults were set once */
	/* The user's own choice stands: defaults that arrive later do not undo it. */
	gboolean sign_touched, encrypt_touched, setting_defaults;
	char *defaults_for; /* the account whose defaults were asked for last */
	char *wanted_account;
};

static struct composer *
composer_of(gpointer w)
{
	return g_object_get_data(G_OBJECT(w), "csg-composer");
}

static void
composer_free(gpointer data)
{
	struct composer *c = data;

	g_object_unref(c->ui);
	g_ptr_array_unref(c->attachments);
	g_free(c->wanted_account);
	g_free(c->in_reply_to);
	g_free(c->references);
	g_free(c->defaults_for);
	g_free(c);
}

static GtkWidget *
widget(struct composer *c, const char *id)
{
	return GTK_WIDGET(gtk_builder_get_object(c->ui, id));
}

/* A toggle the policy locks: insensitive, at the value the policy wants, with a reason. */
static void
lock_toggle(GtkWidget *check, GtkWidget *label, const struct ej_toggle *t, const char *what)
{
	char *why;

	if (t == NULL || !t->locked) {
		gtk_widget_set_sensitive(check, TRUE);
		gtk_widget_hide(label);
		csg_a11y_description(check, "");
		return;
	}
	why = policy_lock_text(t, what);
	gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(check), t->value);
	gtk_widget_set_sensitive(check, FALSE);
	gtk_label_set_text(GTK_LABEL(label), why);
	gtk_widget_show(label);
	gtk_widget_set_tooltip_text(check, why);
	csg_a11y_description(check, why);
	g_free(why);
}

static void
apply_policy(struct composer *c)
{
	const struct ej_policy *p = csg_app()->policy;

	c->setting_defaults = TRUE;
	lock_toggle(c->sign_check, c->sign_lock_label, p != NULL ? &p->sign : NULL, "signed");
	lock_toggle(c->encrypt_check, c->encrypt_lock_label, p != NULL ? &p->encrypt : NULL,
	            "encrypted");
	c->setting_defaults = FALSE;
}

static void
fill_accounts(struct composer *c)
{
	GPtrArray *accounts = csg_app()->accounts;
	const char *active = gtk_combo_box_get_active_id(GTK_COMBO_BOX(c->from_combo));
	char *keep = g_strdup(active != NULL ? active : c->wanted_account);
	guint i;

	gtk_combo_box_text_remove_all(GTK_COMBO_BOX_TEXT(c->from_combo));
	for (i = 0; i < accounts->len; i++) {
		const struct account *a = g_ptr_array_index(accounts, i);
		char *text = account_from_header(a);

		gtk_combo_box_text_append(GTK_COMBO_BOX_TEXT(c->from_combo), a->address, text);
		g_free(text);
	}
	if (keep == NULL || !gtk_combo_box_set_active_id(GTK_COMBO_BOX(c->from_combo), keep))
		gtk_combo_box_set_active(GTK_COMBO_BOX(c->from_combo), 0);
	g_free(keep);
}

static void
settings_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GtkWindow *w = data;
	struct composer *c = composer_of(w);
	struct engine_job *job = engine_run_finish(res);
	struct ej_settings *s;

	(void)source;
	if (c != NULL && job->err == 0 &&
	    (s = ej_settings_parse(job->json, job->account)) != NULL) {
		c->setting_defaults = TRUE;
		if (!c->sign_touched)
			gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(c->sign_check),
			                             s->always_sign);
		if (!c->encrypt_touched)
			gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(c->encrypt_check),
			                             s->always_encrypt || c->reply_encrypted);
		c->setting_defaults = FALSE;
		ej_settings_free(s);
		/* The policy has the last word over the user's defaults. */
		apply_policy(c);
	}
	engine_job_free(job);
	g_object_unref(w);
}

/* The account's defaults for Sign and Encrypt (asked again when From changes). */
static void
load_defaults(struct composer *c)
{
	const char *address = gtk_combo_box_get_active_id(GTK_COMBO_BOX(c->from_combo));
	struct engine_job *job;

	if (address == NULL)
		return;
	job = engine_job_settings_get(address);
	job->account = g_strdup(address);
	engine_run(job, settings_done, g_object_ref(c->window));
}

static void
on_from_changed(GtkComboBox *combo, gpointer data)
{
	struct composer *c = data;
	const char *address = gtk_combo_box_get_active_id(combo);

	/* Another account: its defaults, not the choice made for the one before. */
	if (address != NULL && g_strcmp0(address, c->defaults_for) != 0) {
		c->sign_touched = FALSE;
		c->encrypt_touched = FALSE;
		g_free(c->defaults_for);
		c->defaults_for = g_strdup(address);
	}
	load_defaults(c);
}

static void
on_toggled(GtkToggleButton *b, gpointer data)
{
	struct composer *c = data;

	if (c->setting_defaults)
		return;
	if (GTK_WIDGET(b) == c->sign_check)
		c->sign_touched = TRUE;
	else
		c->encrypt_touched = TRUE;
}

static void
on_status(GtkWidget *w)
{
	struct composer *c = composer_of(w);

	if (c == NULL || c->sending)
		return;
	if (gtk_tree_model_iter_n_children(gtk_combo_box_get_model(GTK_COMBO_BOX(c->from_combo)),
	                                   NULL) != (int)csg_app()->accounts->len)
		fill_accounts(c);
	apply_policy(c);
}

static void
show_attachments(struct composer *c)
{
	guint i;

	gtk_combo_box_text_remove_all(GTK_COMBO_BOX_TEXT(c->attachments_combo));
	for (i = 0; i < c->attachments->len; i++) {
		char *base = g_path_get_basename(g_ptr_array_index(c->attachments, i));

		gtk_combo_box_text_append_text(GTK_COMBO_BOX_TEXT(c->attachments_combo), base);
		g_free(base);
	}
	gtk_combo_box_set_active(GTK_COMBO_BOX(c->attachments_combo), (int)c->attachments->len - 1);
	gtk_widget_set_visible(c->attachments_combo, c->attachments->len > 0);
	gtk_widget_set_sensitive(c->unattach_button, c->attachments->len > 0);
}

static void
on_attach(GtkButton *b, gpointer data)
{
	struct composer *c = data;
	GtkFileChooserNative *fc = gtk_file_chooser_native_new(
	    "Attach files", c->window, GTK_FILE_CHOOSER_ACTION_OPEN, "_Attach", "_Cancel");

	(void)b;
	gtk_file_chooser_set_select_multiple(GTK_FILE_CHOOSER(fc), TRUE);
	if (gtk_native_dialog_run(GTK_NATIVE_DIALOG(fc)) == GTK_RESPONSE_ACCEPT) {
		GSList *files = gtk_file_chooser_get_filenames(GTK_FILE_CHOOSER(fc)), *l;

		for (l = files; l != NULL; l = l->next)
			g_ptr_array_add(c->attachments, l->data);
		g_slist_free(files);
		show_attachments(c);
	}
	g_object_unref(fc);
}

static void
on_unattach(GtkButton *b, gpointer data)
{
	struct composer *c = data;
	int i = gtk_combo_box_get_active(GTK_COMBO_BOX(c->attachments_combo));

	(void)b;
	if (i >= 0 && (guint)i < c->attachments->len)
		g_ptr_array_remove_index(c->attachments, (guint)i);
	show_attachments(c);
}

static void
set_sending(struct composer *c, gboolean sending)
{
	c->sending = sending;
	gtk_widget_set_sensitive(c->send_button, !sending);
	gtk_widget_set_visible(c->progress, sending);
	if (sending) {
		gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(c->progress), 0);
		gtk_progress_bar_set_text(GTK_PROGRESS_BAR(c->progress), "Protecting the message…");
	}
}

/* Events while sending; target is the window. */
static void
on_send_event(gpointer target, int kind, guint64 value, const char *detail)
{
	struct composer *c = composer_of(target);
	char *text;

	if (c == NULL)
		return;
	switch (kind) {
	case SEND_EVENT_TOTAL:
		c->total = value;
		return;
	case SEND_EVENT_DELIVERING:
		/* Whatever the last PROGRESS said, the message was read to its end. */
		text = value > 1 ? g_strdup_printf("Sending %u copies…", (unsigned)value)
		                 : g_strdup("Sending…");
		gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(c->progress), 1);
		gtk_progress_bar_set_text(GTK_PROGRESS_BAR(c->progress), text);
		g_free(text);
		return;
	case CS_EVENT_PROGRESS:
		/* Each Bcc copy is read again from its start: a smaller value is the next copy. */
		if (value < c->last_progress)
			c->done_before += c->last_progress;
		c->last_progress = value;
		if (c->total > 0) {
			double f = (double)(c->done_before + value) / (double)c->total;

			text = g_strdup_printf("%.0f%% of %.1f MB", (f > 1 ? 1 : f) * 100,
			                       (double)c->total / 1e6);
			gtk_progress_bar_set_fraction(GTK_PROGRESS_BAR(c->progress), f > 1 ? 1 : f);
			gtk_progress_bar_set_text(GTK_PROGRESS_BAR(c->progress), text);
			g_free(text);
		}
		return;
	case CS_EVENT_INSERT_TOKEN:
		text =
		    g_strdup_printf("Insert your smartcard \"%s\" to send this message.", detail);
		break;
	case CS_EVENT_WAITING_FOR_PIN:
		text = g_strdup_printf("Waiting for the PIN of your smartcard \"%s\".", detail);
		break;
	default:
		return;
	}
	gtk_label_set_text(GTK_LABEL(c->status_label), text);
	g_free(text);
}

static void send_now(struct composer *c, guint32 extra_flags);

/* Removes the missing recipients from the fields, then sends what remains. */
static void
on_missing_response(GtkDialog *d, int response, gpointer data)
{
	GtkWindow *w = data;
	struct composer *c = composer_of(w);
	GStrv missing = g_object_get_data(G_OBJECT(d), "csg-missing");
	GtkWidget *fields[3];
	guint i;

	if (c == NULL)
		goto out;
	fields[0] = c->to_entry;
	fields[1] = c->cc_entry;
	fields[2] = c->bcc_entry;
	if (response != GTK_RESPONSE_ACCEPT) {
		gtk_label_set_text(GTK_LABEL(c->status_label), "Not sent.");
		goto out;
	}
	for (i = 0; i < G_N_ELEMENTS(fields); i++) {
		char *kept = mail_list_without(gtk_entry_get_text(GTK_ENTRY(fields[i])),
		                               (const char *const *)missing);

		gtk_entry_set_text(GTK_ENTRY(fields[i]), kept);
		g_free(kept);
	}
	send_now(c, CS_PROTECT_DROP_MISSING);
out:
	gtk_widget_destroy(GTK_WIDGET(d));
	g_object_unref(w);
}

static void
ask_about_missing(struct composer *c, const char *details)
{
	GStrv missing = ej_missing_parse(details);
	char *list = g_strjoinv("\n", missing);
	GtkWidget *d = gtk_message_dialog_new(
	    c->window, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT, GTK_MESSAGE_WARNING,
	    GTK_BUTTONS_NONE, "No encryption certificate for these recipients");

	gtk_window_set_title(GTK_WINDOW(d), "Missing certificates");
	gtk_message_dialog_format_secondary_text(
	    GTK_MESSAGE_DIALOG(d),
	    "%s\n\nThe message cannot be encrypted to them. Remove them and send it to the "
	    "others, or cancel and ask them for a signed message first (install their "
	    "certificate from it).",
	    list);
	gtk_dialog_add_buttons(GTK_DIALOG(d), "_Cancel", GTK_RESPONSE_CANCEL,
	                       "_Remove these recipients", GTK_RESPONSE_ACCEPT, NULL);
	gtk_dialog_set_default_response(GTK_DIALOG(d), GTK_RESPONSE_CANCEL);
	g_object_set_data_full(G_OBJECT(d), "csg-missing", missing, (GDestroyNotify)g_strfreev);
	g_signal_connect(d, "response", G_CALLBACK(on_missing_response), g_object_ref(c->window));
	gtk_widget_show(d);
	g_free(list);
}

static void
send_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GtkWindow *w = data;
	struct composer *c = composer_of(w);
	struct send_job *j = send_run_finish(res);
	char *text = NULL;

	(void)source;
	if (c == NULL)
		goto out;
	set_sending(c, FALSE);
	if (j->err == CS_ERR_NO_RECIPIENT_CERT) {
		gtk_label_set_text(GTK_LABEL(c->status_label),
		                   "Some recipients have no certificate.");
		ask_about_missing(c, j->error_details);
		goto out;
	}
	if (j->err != 0 || j->message != NULL) {
		/* Copies that went out cannot be called back: say how many did. */
		if (j->copies > 0)
			text = g_strdup_printf("Sent %u of %u copies, then: %s", j->copies,
			                       j->planned, j->message);
		else
			text = g_strdup_printf(
			    "Not sent: %s", j->err != 0 ? engine_error_text(j->err) : j->message);
		gtk_label_set_text(GTK_LABEL(c->status_label), text);
		goto out;
	}
	/* Sent: the composer's work is done. */
	gtk_widget_destroy(GTK_WIDGET(w));
out:
	g_free(text);
	send_job_free(j);
	g_object_unref(w);
}

static char *
body_text(struct composer *c)
{
	GtkTextBuffer *b = gtk_text_view_get_buffer(GTK_TEXT_VIEW(c->body_view));
	GtkTextIter start, end;

	gtk_text_buffer_get_bounds(b, &start, &end);
	return gtk_text_buffer_get_text(b, &start, &end, FALSE);
}

static void
send_now(struct composer *c, guint32 extra_flags)
{
	const char *address = gtk_combo_box_get_active_id(GTK_COMBO_BOX(c->from_combo));
	const struct account *a = csg_app_account(address);
	struct send_job *j;
	GStrv to, cc;
	guint i;

	to = mail_list_addresses(gtk_entry_get_text(GTK_ENTRY(c->to_entry)));
	cc = mail_list_addresses(gtk_entry_get_text(GTK_ENTRY(c->cc_entry)));
	if (a == NULL || (to[0] == NULL && cc[0] == NULL)) {
		gtk_label_set_text(GTK_LABEL(c->status_label),
		                   a == NULL ? "Choose the account to send from."
		                             : "Add a recipient (To or Cc).");
		goto out;
	}
	j = g_new0(struct send_job, 1);
	j->account = account_new_default(a->address);
	g_free(j->account->name);
	j->account->name = g_strdup(a->name);
	g_free(j->account->send_command);
	j->account->send_command = g_strdup(a->send_command);
	j->account->outbox = g_strdup(a->outbox);
	j->draft = g_new0(struct mail_draft, 1);
	j->draft->from = account_from_header(a);
	j->draft->domain = g_strdup(strchr(a->address, '@') + 1);
	j->draft->to = g_strdup(gtk_entry_get_text(GTK_ENTRY(c->to_entry)));
	j->draft->cc = g_strdup(gtk_entry_get_text(GTK_ENTRY(c->cc_entry)));
	j->draft->bcc = g_strdup(gtk_entry_get_text(GTK_ENTRY(c->bcc_entry)));
	j->draft->in_reply_to = g_strdup(c->in_reply_to);
	j->draft->references = g_strdup(c->references);
	j->draft->subject = g_strdup(gtk_entry_get_text(GTK_ENTRY(c->subject_entry)));
	j->draft->body = body_text(c);
	j->draft->attachments = g_ptr_array_new_with_free_func(g_free);
	for (i = 0; i < c->attachments->len; i++)
		g_ptr_array_add(j->draft->attachments,
		                g_strdup(g_ptr_array_index(c->attachments, i)));
	if (gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(c->sign_check)))
		j->flags |= CS_PROTECT_SIGN;
	if (gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(c->encrypt_check)))
		j->flags |= CS_PROTECT_ENCRYPT;
	if (j->flags != 0)
		j->flags |= extra_flags;
	j->on_event = on_send_event;
	j->event_target = g_object_ref(G_OBJECT(c->window));
	c->total = 0;
	c->done_before = 0;
	c->last_progress = 0;
	set_sending(c, TRUE);
	gtk_label_set_text(GTK_LABEL(c->status_label), "Sending…");
	send_run(j, send_done, g_object_ref(c->window));
out:
	g_strfreev(to);
	g_strfreev(cc);
}

static void
on_send(GtkButton *b, gpointer data)
{
	(void)b;
	send_now(data, 0);
}

static void
act_send(GSimpleAction *a, GVariant *p, gpointer data)
{
	struct composer *c = composer_of(data);

	(void)a;
	(void)p;
	if (c != NULL && !c->sending)
		send_now(c, 0);
}

static void
act_close(GSimpleAction *a, GVariant *p, gpointer data)
{
	(void)a;
	(void)p;
	gtk_window_close(GTK_WINDOW(data));
}

static void
on_close(GtkButton *b, gpointer data)
{
	(void)b;
	gtk_window_close(GTK_WINDOW(data));
}

GtkWindow *
composer_new(GtkApplication *app, const char *account, const char *to, const char *subject,
             const char *const *attachments)
{
	static const GActionEntry actions[] = {
	    {"send", act_send, NULL, NULL, NULL, {0}},
	    {"close", act_close, NULL, NULL, NULL, {0}},
	};
	struct composer *c = g_new0(struct composer, 1);
	GSimpleActionGroup *group = g_simple_action_group_new();

	c->ui = csg_builder("composer.ui");
	c->window = GTK_WINDOW(widget(c, "composer_window"));
	gtk_window_set_application(c->window, app);
	csg_window_state(GTK_WIDGET(c->window), "csg-composer", c, composer_free);
	c->from_combo = widget(c, "from_combo");
	c->to_entry = widget(c, "to_entry");
	c->cc_entry = widget(c, "cc_entry");
	c->bcc_entry = widget(c, "bcc_entry");
	c->subject_entry = widget(c, "subject_entry");
	c->body_view = widget(c, "body_view");
	c->sign_check = widget(c, "sign_check");
	c->encrypt_check = widget(c, "encrypt_check");
	c->sign_lock_label = widget(c, "sign_lock_label");
	c->encrypt_lock_label = widget(c, "encrypt_lock_label");
	c->attachments_combo = widget(c, "attachments_combo");
	c->unattach_button = widget(c, "unattach_button");
	c->send_button = widget(c, "send_button");
	c->progress = widget(c, "progress_bar");
	c->status_label = widget(c, "status_label");
	c->attachments = g_ptr_array_new_with_free_func(g_free);
	c->wanted_account = g_strdup(account);
	/* The window's own actions (Ctrl+Return sends, Ctrl+W closes): a plain GtkWindow needs a
	 * group. */
	g_action_map_add_action_entries(G_ACTION_MAP(group), actions, G_N_ELEMENTS(actions),
	                                c->window);
	gtk_widget_insert_action_group(GTK_WIDGET(c->window), "win", G_ACTION_GROUP(group));
	g_object_unref(group);
	if (to != NULL)
		gtk_entry_set_text(GTK_ENTRY(c->to_entry), to);
	if (subject != NULL)
		gtk_entry_set_text(GTK_ENTRY(c->subject_entry), subject);
	for (; attachments != NULL && *attachments != NULL; attachments++)
		g_ptr_array_add(c->attachments, g_canonicalize_filename(*attachments, NULL));
	show_attachments(c);
	g_signal_connect(c->from_combo, "changed", G_CALLBACK(on_from_changed), c);
	g_signal_connect(c->sign_check, "toggled", G_CALLBACK(on_toggled), c);
	g_signal_connect(c->encrypt_check, "toggled", G_CALLBACK(on_toggled), c);
	g_signal_connect(widget(c, "attach_button"), "clicked", G_CALLBACK(on_attach), c);
	g_signal_connect(c->unattach_button, "clicked", G_CALLBACK(on_unattach), c);
	g_signal_connect(c->send_button, "clicked", G_CALLBACK(on_send), c);
	g_signal_connect(widget(c, "close_button"), "clicked", G_CALLBACK(on_close), c->window);
	fill_accounts(c);
	apply_policy(c);
	csg_app_on_status(GTK_WIDGET(c->window), on_status);
	return c->window;
}

GtkWindow *
composer_new_reply(GtkApplication *app, const struct reply *r)
{
	GtkWindow *w = composer_new(app, r->account, r->to, r->subject, NULL);
	struct composer *c = composer_of(w);
	GtkTextBuffer *b = gtk_text_view_get_buffer(GTK_TEXT_VIEW(c->body_view));
	GtkTextIter end;

	c->in_reply_to = g_strdup(r->in_reply_to);
	c->references = g_strdup(r->references);
	c->reply_encrypted = r->encrypt;
	c->setting_defaults = TRUE;
	if (r->encrypt)
		gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(c->encrypt_check), TRUE);
	c->setting_defaults = FALSE;
	/* The policy may say otherwise; it has the last word. */
	apply_policy(c);
	gtk_text_buffer_set_text(b, r->body, -1);
	gtk_text_buffer_get_end_iter(b, &end);
	gtk_text_buffer_place_cursor(b, &end);
	gtk_widget_grab_focus(c->body_view);
	return w;
}
