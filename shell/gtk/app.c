/*
 * cardseal-gtk: the GTK 3 shell. It shows and asks; every cryptographic
 * decision is the engine's (cardseald, reached through the client library
 * in worker threads). This file holds main(), the application's actions,
 * and the state the windows share: accounts, STATUS, policy, token state.
 */
#include "app.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gstdio.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "mail.h"
#include "windows.h"

static struct csg_app the_app;

struct csg_app *
csg_app(void)
{
	return &the_app;
}

const struct account *
csg_app_account(const char *address)
{
	guint i;

	for (i = 0; the_app.accounts != NULL && i < the_app.accounts->len; i++) {
		const struct account *a = g_ptr_array_index(the_app.accounts, i);

		if (address == NULL || g_ascii_strcasecmp(a->address, address) == 0)
			return a;
	}
	return NULL;
}

static void
drop_state(GtkWidget *window, gpointer key)
{
	g_object_set_data(G_OBJECT(window), key, NULL);
}

void
csg_window_state(GtkWidget *window, const char *key, gpointer state, GDestroyNotify free_fn)
{
	g_object_set_data_full(G_OBJECT(window), key, state, free_fn);
	g_signal_connect(window, "destroy", G_CALLBACK(drop_state), (gpointer)g_intern_string(key));
}

GtkBuilder *
csg_builder(const char *ui_name)
{
	char *path = g_strdup_printf("/org/cardseal/gtk/%s", ui_name);
	GtkBuilder *b = gtk_builder_new_from_resource(path);

	g_free(path);
	return b;
}

void
csg_a11y_name(GtkWidget *w, const char *name)
{
	atk_object_set_name(gtk_widget_get_accessible(w), name);
}

void
csg_a11y_description(GtkWidget *w, const char *description)
{
	atk_object_set_description(gtk_widget_get_accessible(w), description);
}

void
csg_show_error(GtkWindow *parent, const char *primary, const char *secondary)
{
	GtkWidget *d =
	    gtk_message_dialog_new(parent, GTK_DIALOG_MODAL | GTK_DIALOG_DESTROY_WITH_PARENT,
	                           GTK_MESSAGE_ERROR, GTK_BUTTONS_CLOSE, "%s", primary);

	if (secondary != NULL)
		gtk_message_dialog_format_secondary_text(GTK_MESSAGE_DIALOG(d), "%s", secondary);
	g_signal_connect(d, "response", G_CALLBACK(gtk_widget_destroy), NULL);
	gtk_widget_show(d);
}

char *
csg_private_tmpdir(GError **error)
{
	char *tmpl = g_build_filename(g_get_user_runtime_dir(), "cardseal-gtk-XXXXXX", NULL);

	/* The runtime directory is the user's own (and memory-backed on most systems). */
	if (g_mkdtemp_full(tmpl, 0700) == NULL) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", tmpl,
		            g_strerror(errno));
		g_free(tmpl);
		return NULL;
	}
	return tmpl;
}

void
csg_remove_tmpdir(const char *dir)
{
	GDir *d;
	const char *name;

	if (dir == NULL || (d = g_dir_open(dir, 0, NULL)) == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);

		(void)g_unlink(path);
		g_free(path);
	}
	g_dir_close(d);
	(void)g_rmdir(dir);
}

/* Token state for people, one line per token. */
char *
csg_app_token_text(void)
{
	GString *s = g_string_new("");
	guint i;

	if (the_app.status == NULL)
		return g_string_free(s, FALSE);
	for (i = 0; i < the_app.status->tokens->len; i++) {
		const struct ej_token *t = g_ptr_array_index(the_app.status->tokens, i);

		if (s->len > 0)
			g_string_append(s, "\n");
		g_string_append_printf(
		    s, "Smartcard %s: ", t->label[0] != '\0' ? t->label : "(unnamed)");
		if (!t->present)
			g_string_append(s, "not inserted");
		else if (t->pin_locked)
			g_string_append(s, "inserted, PIN LOCKED (ask your administrator)");
		else if (t->pin_final_try)
			g_string_append(s, "inserted, FINAL PIN TRY: one more wrong PIN locks it");
		else if (t->pin_count_low)
			g_string_append(s, "inserted, PIN count low: a wrong PIN was entered");
		else
			g_string_append(s, t->logged_in ? "inserted, unlocked" : "inserted");
	}
	if (the_app.status->tokens->len == 0)
		g_string_append(s, "No smartcard found");
	return g_string_free(s, FALSE);
}

static void
update_token_labels(void)
{
	char *text = csg_app_token_text();
	guint i;

	for (i = 0; i < the_app.token_labels->len; i++)
		gtk_label_set_text(g_ptr_array_index(the_app.token_labels, i), text);
	g_free(text);
}

static void
forget_label(gpointer data, GObject *gone)
{
	(void)data;
	g_ptr_array_remove(the_app.token_labels, gone);
}

void
csg_app_add_token_label(GtkLabel *label)
{
	char *text = csg_app_token_text();

	g_ptr_array_add(the_app.token_labels, label);
	g_object_weak_ref(G_OBJECT(label), forget_label, NULL);
	gtk_label_set_text(label, text);
	g_free(text);
}

struct listener {
	GtkWidget *widget;
	void (*fn)(GtkWidget *);
};

static void
forget_listener(gpointer data, GObject *gone)
{
	guint i;

	(void)data;
	for (i = 0; i < the_app.status_listeners->len; i++) {
		struct listener *l = g_ptr_array_index(the_app.status_listeners, i);

		if ((GObject *)l->widget == gone) {
			g_ptr_array_remove_index(the_app.status_listeners, i);
			return;
		}
	}
}

void
csg_app_on_status(GtkWidget *widget, void (*fn)(GtkWidget *))
{
	struct listener *l = g_new0(struct listener, 1);

	l->widget = widget;
	l->fn = fn;
	g_ptr_array_add(the_app.status_listeners, l);
	g_object_weak_ref(G_OBJECT(widget), forget_listener, NULL);
}

static void
notify_listeners(void)
{
	guint i;

	update_token_labels();
	/* A listener may close its window: walk a copy. */
	for (i = 0; i < the_app.status_listeners->len; i++) {
		struct listener *l = g_ptr_array_index(the_app.status_listeners, i);

		l->fn(l->widget);
	}
}

/* Without an accounts file, every address of an identity on a token is an account. */
static void
accounts_from_identities(void)
{
	guint i;

	if (the_app.accounts_configured || the_app.status == NULL)
		return;
	for (i = 0; i < the_app.status->identities->len; i++) {
		const struct ej_cert *c = g_ptr_array_index(the_app.status->identities, i);

		if (c->email[0] != '\0' && csg_app_account(c->email) == NULL)
			g_ptr_array_add(the_app.accounts, account_new_default(c->email));
	}
}

/*
 * A token taken out may come back from the engine without its label: name
 * it as it was called in the same slot before, so "alice-card: not
 * inserted" says which card to put back.
 */
static void
keep_labels(struct ej_status *now, const struct ej_status *before)
{
	guint i, j;

	for (i = 0; before != NULL && i < now->tokens->len; i++) {
		struct ej_token *t = g_ptr_array_index(now->tokens, i);

		for (j = 0; t->label[0] == '\0' && j < before->tokens->len; j++) {
			const struct ej_token *b = g_ptr_array_index(before->tokens, j);

			if (b->slot == t->slot && b->label[0] != '\0') {
				g_free(t->label);
				t->label = g_strdup(b->label);
			}
		}
	}
}

static void
status_done(GObject *source, GAsyncResult *res, gpointer data)
{
	struct engine_job *job = engine_run_finish(res);
	struct ej_status *now;

	(void)source;
	(void)data;
	if (job->err == 0 && (now = ej_status_parse(job->json)) != NULL) {
		keep_labels(now, the_app.status);
		ej_status_free(the_app.status);
		the_app.status = now;
		accounts_from_identities();
	}
	engine_job_free(job);
	notify_listeners();
}

static void
policy_done(GObject *source, GAsyncResult *res, gpointer data)
{
	struct engine_job *job = engine_run_finish(res);

	(void)source;
	(void)data;
	/* An engine without POLICY_GET (or without a policy) locks nothing. */
	ej_policy_free(the_app.policy);
	the_app.policy = job->err == 0 ? ej_policy_parse(job->json) : NULL;
	engine_job_free(job);
	notify_listeners();
}

void
csg_app_refresh(void)
{
	engine_run(engine_job_new(ENGINE_OP_STATUS), status_done, NULL);
	engine_run(engine_job_policy_get(), policy_done, NULL);
}

/* A token came or went (or the subscription restarted): ask for the full state again. */
static void
on_token_event(gpointer target, int kind, guint64 value, const char *detail)
{
	(void)target;
	(void)value;
	(void)detail;
	if (kind == CS_EVENT_TOKEN_CHANGED || kind == CS_EVENT_PIN_STATE)
		engine_run(engine_job_new(ENGINE_OP_STATUS), status_done, NULL);
}

/* Options. */
static char *opt_accounts;
static char *opt_folder;
static gboolean opt_settings;
static gboolean opt_compose;
static char *opt_to;
static char *opt_subject;
static char *opt_account;
static char **opt_files;
static char **opt_attach;

static const GOptionEntry options[] = {
    {"accounts", 0, 0, G_OPTION_ARG_FILENAME, &opt_accounts,
     "The accounts file (default $XDG_CONFIG_HOME/cardseal/accounts.conf)", "FILE"},
    {"folder", 0, 0, G_OPTION_ARG_FILENAME, &opt_folder, "Open this Maildir folder", "DIR"},
    {"settings", 0, 0, G_OPTION_ARG_NONE, &opt_settings, "Open Email security (settings) only",
     NULL},
    {"compose", 0, 0, G_OPTION_ARG_NONE, &opt_compose, "Open a new message only", NULL},
    {"account", 0, 0, G_OPTION_ARG_STRING, &opt_account, "The account to write from", "ADDRESS"},
    {"to", 0, 0, G_OPTION_ARG_STRING, &opt_to, "The new message's recipients", "ADDRESSES"},
    {"subject", 0, 0, G_OPTION_ARG_STRING, &opt_subject, "The new message's subject", "TEXT"},
    {"attach", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_attach, "Attach this file (repeatable)",
     "FILE"},
    {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_files, NULL, "[MESSAGE.eml]"},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

static void
act_compose(GSimpleAction *a, GVariant *p, gpointer data)
{
	(void)a;
	(void)p;
	gtk_window_present(composer_new(GTK_APPLICATION(data), NULL, NULL, NULL, NULL));
}

static void
act_settings(GSimpleAction *a, GVariant *p, gpointer data)
{
	(void)a;
	(void)p;
	gtk_window_present(settings_window_new(GTK_APPLICATION(data)));
}

static void
act_quit(GSimpleAction *a, GVariant *p, gpointer data)
{
	(void)a;
	(void)p;
	g_application_quit(G_APPLICATION(data));
}

/* Windows go before the application does: their destroy handlers remove plaintext. */
static void
on_shutdown(GApplication *gapp, gpointer data)
{
	GList *windows = gtk_application_get_windows(GTK_APPLICATION(gapp));

	(void)data;
	while (windows != NULL) {
		gtk_widget_destroy(windows->data);
		windows = gtk_application_get_windows(GTK_APPLICATION(gapp));
	}
}

/* Test and documentation hook: SIGUSR1 writes $CARDSEAL_GTK_SNAPSHOT (a PNG). */
static gboolean
take_snapshot(gpointer data)
{
	const char *path = g_getenv("CARDSEAL_GTK_SNAPSHOT");
	GError *e = NULL;

	if (path != NULL && !snapshot_write(GTK_APPLICATION(data), path, &e)) {
		g_printerr("cardseal-gtk: snapshot: %s\n", e->message);
		g_clear_error(&e);
	}
	return G_SOURCE_REMOVE;
}

/* SIGTERM and SIGINT end the program like Quit, so the windows remove their plaintext. */
static gboolean
on_quit_signal(gpointer data)
{
	g_application_quit(G_APPLICATION(data));
	return G_SOURCE_CONTINUE;
}

static gboolean
on_snapshot_signal(gpointer data)
{
	/*
	 * What the tests just saw through AT-SPI may not be painted yet: give
	 * the frame clock a few frames before reading the screen back.
	 */
	g_timeout_add(300, take_snapshot, data);
	return G_SOURCE_CONTINUE;
}

static void
on_startup(GApplication *gapp, gpointer data)
{
	static const GActionEntry actions[] = {
	    {"compose", act_compose, NULL, NULL, NULL, {0}},
	    {"settings", act_settings, NULL, NULL, NULL, {0}},
	    {"quit", act_quit, NULL, NULL, NULL, {0}},
	};
	static const char *const compose_keys[] = {"<Control>n", NULL};
	static const char *const settings_keys[] = {"<Control>comma", NULL};
	static const char *const quit_keys[] = {"<Control>q", NULL};
	static const char *const open_keys[] = {"<Control>o", NULL};
	static const char *const folder_keys[] = {"<Control><Shift>o", NULL};
	static const char *const close_keys[] = {"<Control>w", NULL};
	static const char *const reply_keys[] = {"<Control>r", NULL};
	static const char *const send_keys[] = {"<Control>Return", NULL};
	GtkCssProvider *css;

	(void)data;
	g_action_map_add_action_entries(G_ACTION_MAP(gapp), actions, G_N_ELEMENTS(actions), gapp);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "app.compose", compose_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "app.settings", settings_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "app.quit", quit_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "win.open-message", open_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "win.open-folder",
	                                      folder_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "win.close", close_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "win.reply", reply_keys);
	gtk_application_set_accels_for_action(GTK_APPLICATION(gapp), "win.send", send_keys);
	css = gtk_css_provider_new();
	gtk_css_provider_load_from_resource(css, "/org/cardseal/gtk/style.css");
	gtk_style_context_add_provider_for_screen(gdk_screen_get_default(), GTK_STYLE_PROVIDER(css),
	                                          GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
	g_object_unref(css);
	the_app.watch = engine_watch_start(on_token_event, gapp);
	g_unix_signal_add(SIGUSR1, on_snapshot_signal, gapp);
	g_unix_signal_add(SIGTERM, on_quit_signal, gapp);
	g_unix_signal_add(SIGINT, on_quit_signal, gapp);
	csg_app_refresh();
}

static void
on_activate(GApplication *gapp, gpointer data)
{
	GtkApplication *app = GTK_APPLICATION(gapp);
	const struct account *acct = csg_app_account(opt_account);
	GtkWindow *reader;

	(void)data;
	if (opt_settings) {
		gtk_window_present(settings_window_new(app));
		return;
	}
	if (opt_compose) {
		gtk_window_present(composer_new(app, opt_account, opt_to, opt_subject,
		                                (const char *const *)opt_attach));
		return;
	}
	reader = reader_window_new(app);
	gtk_window_present(reader);
	if (opt_files != NULL && opt_files[0] != NULL)
		reader_open_message(reader, opt_files[0]);
	else if (opt_folder != NULL)
		reader_open_folder(reader, opt_folder);
	else if (acct != NULL && acct->folder != NULL)
		reader_open_folder(reader, acct->folder);
}

int
main(int argc, char **argv)
{
	GOptionContext *ctx = g_option_context_new("- S/MIME mail with smartcards");
	GError *e = NULL;
	int status;
	char *one_arg[] = {argv[0], NULL};

	g_set_prgname("cardseal-gtk");
	g_set_application_name("Cardseal");
	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_add_group(ctx, gtk_get_option_group(TRUE));
	if (!g_option_context_parse(ctx, &argc, &argv, &e)) {
		g_printerr("cardseal-gtk: %s\n", e->message);
		g_option_context_free(ctx);
		return 2;
	}
	g_option_context_free(ctx);
	signal(SIGPIPE, SIG_IGN);
	mail_init();
	the_app.token_labels = g_ptr_array_new();
	the_app.status_listeners = g_ptr_array_new_with_free_func(g_free);
	the_app.accounts = accounts_load(opt_accounts, &e);
	if (the_app.accounts == NULL) {
		g_printerr("cardseal-gtk: %s\n", e->message);
		return 2;
	}
	the_app.accounts_configured = the_app.accounts->len > 0;
	/* Non-unique: each person (and each test) runs its own instance with its own engine. */
	the_app.gtk = gtk_application_new("org.cardseal.Gtk", G_APPLICATION_NON_UNIQUE);
	g_signal_connect(the_app.gtk, "startup", G_CALLBACK(on_startup), NULL);
	g_signal_connect(the_app.gtk, "activate", G_CALLBACK(on_activate), NULL);
	g_signal_connect(the_app.gtk, "shutdown", G_CALLBACK(on_shutdown), NULL);
	status = g_application_run(G_APPLICATION(the_app.gtk), 1, one_arg);
	engine_watch_stop(the_app.watch);
	g_object_unref(the_app.gtk);
	g_ptr_array_unref(the_app.accounts);
	ej_status_free(the_app.status);
	ej_policy_free(the_app.policy);
	return status;
}
