/*
 * "Email security": per account, the signing and encryption certificates
 * (automatic, or one chosen from the valid ones on your tokens), Always
 * sign and Always encrypt, each locked where the administrator's policy
 * says so, and the smartcards' state, live. Every change goes to the engine
 * (SETTINGS_SET), which keeps the settings and may refuse them.
 */
#include <string.h>

#include "app.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "security_words.h"
#include "windows.h"

enum { C_SUBJECT, C_EMAIL, C_ISSUER, C_EXPIRES, C_TOKEN, C_KEY, C_URI, C_TIP, C_N };

/* One certificate choice (signing or encryption). */
struct choice {
	const char *key; /* "sign-cert" / "encrypt-cert" */
	GtkWidget *auto_radio, *manual_radio, *auto_label;
	GtkTreeView *list;
	GtkListStore *store;
};

struct settings_page {
	GtkBuilder *ui;
	GtkWindow *window;
	GtkWidget *account_combo, *status_label;
	GtkWidget *always_sign, *always_encrypt, *sign_lock_label, *encrypt_lock_label;
	struct choice sign, encrypt;
	struct ej_settings *current;
	int loading; /* >0 while the page shows engine values: no SETTINGS_SET */
};

static void ask_choice(struct settings_page *p);

static struct settings_page *
page_of(gpointer w)
{
	return g_object_get_data(G_OBJECT(w), "csg-settings");
}

static void
page_free(gpointer data)
{
	struct settings_page *p = data;

	ej_settings_free(p->current);
	g_object_unref(p->ui);
	g_free(p);
}

static GtkWidget *
widget(struct settings_page *p, const char *id)
{
	return GTK_WIDGET(gtk_builder_get_object(p->ui, id));
}

static const char *
account_address(struct settings_page *p)
{
	return gtk_combo_box_get_active_id(GTK_COMBO_BOX(p->account_combo));
}

/* The valid identities of the account for one purpose, from the last STATUS. */
static void
fill_choice(struct settings_page *p, struct choice *c, gboolean signing)
{
	const struct ej_status *st = csg_app()->status;
	const char *address = account_address(p);
	guint i;

	gtk_list_store_clear(c->store);
	for (i = 0; st != NULL && address != NULL && i < st->identities->len; i++) {
		const struct ej_cert *id = g_ptr_array_index(st->identities, i);

		if (!id->valid_now || g_ascii_strcasecmp(id->email, address) != 0 ||
		    !(signing ? id->signing_usage : id->encryption_usage))
			continue;
		{
			char *name = ej_common_name(id->subject),
			     *issuer = ej_common_name(id->issuer);
			char *expires = ej_date(id->not_after);
			char *key = id->key_type[0] != '\0'
			                ? g_strdup_printf("%s (%s)", id->label, id->key_type)
			                : g_strdup(id->label);
			char *tip = g_markup_printf_escaped("%s\nissued by %s\n%s", id->subject,
			                                    id->issuer, id->key_uri);

			gtk_list_store_insert_with_values(
			    c->store, NULL, -1, C_SUBJECT, name, C_EMAIL, id->email, C_ISSUER,
			    issuer, C_EXPIRES, expires, C_TOKEN, id->token, C_KEY, key, C_URI,
			    id->key_uri, C_TIP, tip, -1);
			g_free(name);
			g_free(issuer);
			g_free(expires);
			g_free(key);
			g_free(tip);
		}
	}
}

/* Selects the row whose URI is uri (nothing for "auto"). */
static void
select_uri(struct choice *c, const char *uri)
{
	GtkTreeModel *m = GTK_TREE_MODEL(c->store);
	GtkTreeSelection *sel = gtk_tree_view_get_selection(c->list);
	GtkTreeIter it;
	gboolean more;

	gtk_tree_selection_unselect_all(sel);
	for (more = gtk_tree_model_get_iter_first(m, &it); more;
	     more = gtk_tree_model_iter_next(m, &it)) {
		char *row_uri = NULL;

		gtk_tree_model_get(m, &it, C_URI, &row_uri, -1);
		if (g_strcmp0(row_uri, uri) == 0)
			gtk_tree_selection_select_iter(sel, &it);
		g_free(row_uri);
	}
}

static void
show_choice(struct choice *c, const char *value)
{
	gboolean manual = value != NULL && strcmp(value, "auto") != 0;

	gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(manual ? c->manual_radio : c->auto_radio),
	                             TRUE);
	gtk_widget_set_sensitive(GTK_WIDGET(c->list), manual);
	gtk_label_set_text(
	    GTK_LABEL(c->auto_label),
	    manual ? "" : "The engine picks a valid certificate whose key is on your smartcard.");
	select_uri(c, manual ? value : NULL);
}

/* The policy's lock on an Always toggle: greyed out at its value, saying why. */
static void
show_lock(GtkWidget *check, GtkWidget *label, const struct ej_toggle *t, const char *what)
{
	char *why;

	if (t == NULL || !t->locked) {
		gtk_widget_set_sensitive(check, TRUE);
		gtk_widget_hide(label);
		gtk_widget_set_tooltip_text(check, NULL);
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
show_all(struct settings_page *p)
{
	const struct ej_policy *pol = csg_app()->policy;

	p->loading++;
	fill_choice(p, &p->sign, TRUE);
	fill_choice(p, &p->encrypt, FALSE);
	if (p->current != NULL) {
		show_choice(&p->sign, p->current->sign_cert);
		show_choice(&p->encrypt, p->current->encrypt_cert);
		gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(p->always_sign),
		                             p->current->always_sign);
		gtk_toggle_button_set_active(GTK_TOGGLE_BUTTON(p->always_encrypt),
		                             p->current->always_encrypt);
	} else {
		show_choice(&p->sign, "auto");
		show_choice(&p->encrypt, "auto");
	}
	show_lock(p->always_sign, p->sign_lock_label, pol != NULL ? &pol->sign : NULL, "signed");
	show_lock(p->always_encrypt, p->encrypt_lock_label, pol != NULL ? &pol->encrypt : NULL,
	          "encrypted");
	p->loading--;
}

/* SETTINGS_GET and SETTINGS_SET both answer with the account's settings. */
static void
settings_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	GtkWindow *w = data;
	struct settings_page *p = page_of(w);
	struct engine_job *job = engine_run_finish(res);
	struct ej_settings *s;

	(void)source;
	if (p == NULL || g_strcmp0(job->account, account_address(p)) != 0)
		goto out;
	if (job->err != 0) {
		char *why = ej_error_message(job->error_details);
		char *text = g_strdup_printf(
		    "%s: %s",
		    job->type == CS_MSG_SETTINGS_SET ? "Not saved" : "Settings unavailable",
		    why != NULL ? why : engine_error_text(job->err));

		g_free(why);
		gtk_label_set_text(GTK_LABEL(p->status_label), text);
		g_free(text);
		/* Show what the engine holds, not what was refused. */
		show_all(p);
		goto out;
	}
	if ((s = ej_settings_parse(job->json, job->account)) != NULL) {
		ej_settings_free(p->current);
		p->current = s;
	}
	if (job->type == CS_MSG_SETTINGS_SET) {
		gtk_label_set_text(GTK_LABEL(p->status_label), "Saved.");
	} else {
		char *text =
		    g_strdup_printf("Settings of %s, as the engine keeps them.", job->account);

		gtk_label_set_text(GTK_LABEL(p->status_label), text);
		g_free(text);
	}
	show_all(p);
	ask_choice(p);
out:
	engine_job_free(job);
	g_object_unref(w);
}

/* The identity's words for a key URI from the last STATUS ("alice-sign-rsa (RSA) on alice-card").
 */
static char *
identity_words(const char *uri)
{
	const struct ej_status *st = csg_app()->status;
	guint i;

	for (i = 0; st != NULL && i < st->identities->len; i++) {
		const struct ej_cert *id = g_ptr_array_index(st->identities, i);

		if (g_strcmp0(id->key_uri, uri) == 0)
			return g_strdup_printf("%s%s%s%s on %s", id->label,
			                       id->key_type[0] ? " (" : "", id->key_type,
			                       id->key_type[0] ? ")" : "", id->token);
	}
	return g_strdup(uri);
}

static void
show_chosen(struct choice *c, const char *json, const char *which)
{
	char *uri = NULL, *message = NULL, *words, *text;

	if (!ej_choice_parse(json, which, &uri, &message))
		return;
	words = uri != NULL ? identity_words(uri) : NULL;
	text = uri != NULL ? g_strdup_printf("In use now: %s.", words)
	                   : g_strdup_printf("None usable: %s.", message);
	gtk_label_set_text(GTK_LABEL(c->auto_label), text);
	gtk_widget_set_tooltip_text(c->auto_label, text);
	g_free(text);
	g_free(words);
	g_free(uri);
	g_free(message);
}

/* CERTS_CHOOSE: which certificates the engine would use now, in the labels beside the choices. */
static void
choose_reply(GObject *source, GAsyncResult *res, gpointer data)
{
	GtkWindow *w = data;
	struct settings_page *p = page_of(w);
	struct engine_job *job = engine_run_finish(res);

	(void)source;
	/* An engine without CERTS_CHOOSE leaves the labels as they are. */
	if (p != NULL && job->err == 0 && g_strcmp0(job->account, account_address(p)) == 0) {
		show_chosen(&p->sign, job->json, "signer");
		show_chosen(&p->encrypt, job->json, "encryption");
	}
	engine_job_free(job);
	g_object_unref(w);
}

static void
ask_choice(struct settings_page *p)
{
	const char *address = account_address(p);
	struct engine_job *job;

	if (address == NULL)
		return;
	job = engine_job_certs_choose(address, NULL);
	job->account = g_strdup(address);
	engine_run(job, choose_reply, g_object_ref(p->window));
}

static void
load_settings(struct settings_page *p)
{
	const char *address = account_address(p);
	struct engine_job *job;

	ej_settings_free(p->current);
	p->current = NULL;
	show_all(p);
	if (address == NULL) {
		gtk_label_set_text(GTK_LABEL(p->status_label),
		                   "No account yet: insert your smartcard, or list your accounts in "
		                   "~/.config/cardseal/accounts.conf (see cardseal-gtk(1)).");
		return;
	}
	job = engine_job_settings_get(address);
	job->account = g_strdup(address);
	engine_run(job, settings_reply, g_object_ref(p->window));
}

static void
save(struct settings_page *p, const char *key, const char *value)
{
	const char *address = account_address(p);
	struct engine_job *job;

	if (p->loading || address == NULL)
		return;
	gtk_label_set_text(GTK_LABEL(p->status_label), "Saving…");
	job = engine_job_settings_set(address, key, value);
	job->account = g_strdup(address);
	engine_run(job, settings_reply, g_object_ref(p->window));
}

static struct choice *
choice_of(struct settings_page *p, gpointer w)
{
	if (w == p->sign.auto_radio || w == p->sign.manual_radio || w == p->sign.list)
		return &p->sign;
	return &p->encrypt;
}

static void
on_mode_toggled(GtkToggleButton *b, gpointer data)
{
	struct settings_page *p = data;
	struct choice *c = choice_of(p, b);
	GtkTreeIter it;
	char *uri = NULL;

	if (!gtk_toggle_button_get_active(b) || p->loading)
		return;
	gtk_widget_set_sensitive(GTK_WIDGET(c->list), GTK_WIDGET(b) == c->manual_radio);
	if (GTK_WIDGET(b) == c->auto_radio) {
		save(p, c->key, "auto");
		return;
	}
	/* Manual: the selected certificate, else the first one listed. */
	if (!gtk_tree_selection_get_selected(gtk_tree_view_get_selection(c->list), NULL, &it) &&
	    !gtk_tree_model_get_iter_first(GTK_TREE_MODEL(c->store), &it)) {
		gtk_label_set_text(GTK_LABEL(p->status_label),
		                   "No valid certificate of this account is on your smartcards.");
		return;
	}
	gtk_tree_model_get(GTK_TREE_MODEL(c->store), &it, C_URI, &uri, -1);
	save(p, c->key, uri);
	g_free(uri);
}

static void
on_cert_selected(GtkTreeSelection *sel, gpointer data)
{
	struct settings_page *p = data;
	struct choice *c = choice_of(p, gtk_tree_selection_get_tree_view(sel));
	GtkTreeModel *m;
	GtkTreeIter it;
	char *uri = NULL;

	if (p->loading || !gtk_toggle_button_get_active(GTK_TOGGLE_BUTTON(c->manual_radio)) ||
	    !gtk_tree_selection_get_selected(sel, &m, &it))
		return;
	gtk_tree_model_get(m, &it, C_URI, &uri, -1);
	if (p->current == NULL ||
	    g_strcmp0(uri, c == &p->sign ? p->current->sign_cert : p->current->encrypt_cert) != 0)
		save(p, c->key, uri);
	g_free(uri);
}

static void
on_always_toggled(GtkToggleButton *b, gpointer data)
{
	struct settings_page *p = data;

	save(p, GTK_WIDGET(b) == p->always_sign ? "always-sign" : "always-encrypt",
	     gtk_toggle_button_get_active(b) ? "yes" : "no");
}

static void
fill_accounts(struct settings_page *p)
{
	GPtrArray *accounts = csg_app()->accounts;
	const char *active = account_address(p);
	char *keep = g_strdup(active);
	guint i;

	p->loading++;
	gtk_combo_box_text_remove_all(GTK_COMBO_BOX_TEXT(p->account_combo));
	for (i = 0; i < accounts->len; i++) {
		const struct account *a = g_ptr_array_index(accounts, i);
		char *text = account_from_header(a);

		gtk_combo_box_text_append(GTK_COMBO_BOX_TEXT(p->account_combo), a->address, text);
		g_free(text);
	}
	if (keep == NULL || !gtk_combo_box_set_active_id(GTK_COMBO_BOX(p->account_combo), keep))
		gtk_combo_box_set_active(GTK_COMBO_BOX(p->account_combo), 0);
	p->loading--;
	g_free(keep);
}

static void
on_account_changed(GtkComboBox *combo, gpointer data)
{
	struct settings_page *p = data;

	(void)combo;
	if (!p->loading)
		load_settings(p);
}

/* STATUS or the policy changed: new accounts, certificates or locks. */
static void
on_status(GtkWidget *w)
{
	struct settings_page *p = page_of(w);
	int n;

	if (p == NULL)
		return;
	n = gtk_tree_model_iter_n_children(gtk_combo_box_get_model(GTK_COMBO_BOX(p->account_combo)),
	                                   NULL);
	if (n != (int)csg_app()->accounts->len) {
		fill_accounts(p);
		load_settings(p);
		return;
	}
	show_all(p);
}

static void
setup_choice(struct settings_page *p, struct choice *c, const char *prefix, const char *key)
{
	const char *titles[] = {"Subject", "Email", "Issuer", "Expires", "Token", "Key"};
	char id[64];
	guint i;

	c->key = key;
	snprintf(id, sizeof(id), "%s_auto", prefix);
	c->auto_radio = widget(p, id);
	snprintf(id, sizeof(id), "%s_manual", prefix);
	c->manual_radio = widget(p, id);
	snprintf(id, sizeof(id), "%s_auto_label", prefix);
	c->auto_label = widget(p, id);
	snprintf(id, sizeof(id), "%s_list", prefix);
	c->list = GTK_TREE_VIEW(widget(p, id));
	c->store =
	    gtk_list_store_new(C_N, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
	                       G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
	gtk_tree_view_set_model(c->list, GTK_TREE_MODEL(c->store));
	gtk_tree_view_set_tooltip_column(c->list, C_TIP);
	g_object_unref(c->store);
	for (i = 0; i < G_N_ELEMENTS(titles); i++) {
		GtkCellRenderer *cell = gtk_cell_renderer_text_new();
		GtkTreeViewColumn *col =
		    gtk_tree_view_column_new_with_attributes(titles[i], cell, "text", (int)i, NULL);

		/* Names may be long and give way; dates, tokens and keys are short and shown whole. */
		if (i == C_SUBJECT || i == C_ISSUER)
			g_object_set(cell, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
		gtk_tree_view_column_set_resizable(col, TRUE);
		gtk_tree_view_column_set_expand(col, i == C_SUBJECT || i == C_ISSUER);
		gtk_tree_view_append_column(c->list, col);
	}
	g_signal_connect(c->auto_radio, "toggled", G_CALLBACK(on_mode_toggled), p);
	g_signal_connect(c->manual_radio, "toggled", G_CALLBACK(on_mode_toggled), p);
	g_signal_connect(gtk_tree_view_get_selection(c->list), "changed",
	                 G_CALLBACK(on_cert_selected), p);
}

static void
on_close(GtkButton *b, gpointer data)
{
	(void)b;
	gtk_window_close(GTK_WINDOW(data));
}

GtkWindow *
settings_window_new(GtkApplication *app)
{
	struct settings_page *p = g_new0(struct settings_page, 1);

	p->ui = csg_builder("settings.ui");
	p->window = GTK_WINDOW(widget(p, "settings_window"));
	gtk_window_set_application(p->window, app);
	csg_window_state(GTK_WIDGET(p->window), "csg-settings", p, page_free);
	p->account_combo = widget(p, "account_combo");
	p->status_label = widget(p, "status_label");
	p->always_sign = widget(p, "always_sign_check");
	p->always_encrypt = widget(p, "always_encrypt_check");
	p->sign_lock_label = widget(p, "always_sign_lock_label");
	p->encrypt_lock_label = widget(p, "always_encrypt_lock_label");
	setup_choice(p, &p->sign, "sign", "sign-cert");
	setup_choice(p, &p->encrypt, "encrypt", "encrypt-cert");
	g_signal_connect(p->account_combo, "changed", G_CALLBACK(on_account_changed), p);
	g_signal_connect(p->always_sign, "toggled", G_CALLBACK(on_always_toggled), p);
	g_signal_connect(p->always_encrypt, "toggled", G_CALLBACK(on_always_toggled), p);
	g_signal_connect(widget(p, "close_button"), "clicked", G_CALLBACK(on_close), p->window);
	csg_app_add_token_label(GTK_LABEL(widget(p, "tokens_label")));
	fill_accounts(p);
	load_settings(p);
	csg_app_on_status(GTK_WIDGET(p->window), on_status);
	return p->window;
}
