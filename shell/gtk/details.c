/*
 * Signature details: the engine's verdict and reasons in words, the chain,
 * and Install, which asks the engine to install the sender's certificate
 * from the message (CERTS_INSTALL) so that you can encrypt to them.
 */
#include <string.h>

#include "app.h"
#include "security_words.h"
#include "windows.h"

struct details {
	GtkBuilder *ui;
	GtkWidget *dialog, *install_button, *install_label;
	char *message_path;
};

static void
details_free(gpointer data)
{
	struct details *d = data;

	g_object_unref(d->ui);
	g_free(d->message_path);
	g_free(d);
}

static void
add_fact(GtkGrid *grid, int row, const char *name, const char *value)
{
	GtkWidget *k = gtk_label_new(name), *v = gtk_label_new(value);

	gtk_label_set_xalign(GTK_LABEL(k), 1);
	gtk_label_set_xalign(GTK_LABEL(v), 0);
	gtk_label_set_selectable(GTK_LABEL(v), TRUE);
	gtk_label_set_line_wrap(GTK_LABEL(v), TRUE);
	gtk_widget_set_hexpand(v, TRUE);
	gtk_style_context_add_class(gtk_widget_get_style_context(k), "dim-label");
	gtk_grid_attach(grid, k, 0, row, 1, 1);
	gtk_grid_attach(grid, v, 1, row, 1, 1);
}

static void
install_done(GObject *source, GAsyncResult *res, gpointer data)
{
	GtkWidget *dialog = data;
	struct details *d = g_object_get_data(G_OBJECT(dialog), "csg-details");
	struct engine_job *job = engine_run_finish(res);
	char *text;

	(void)source;
	if (d == NULL)
		goto out;
	if (job->err == 0) {
		GStrv who = ej_installed_parse(job->json);
		char *list = who != NULL && who[0] != NULL ? g_strjoinv(", ", who) : NULL;

		text =
		    g_strdup_printf("Installed the certificate of %s: you can now encrypt to them.",
		                    list != NULL ? list : "the sender");
		g_free(list);
		g_strfreev(who);
	} else {
		char *why = ej_error_message(job->error_details);

		/* The engine's own reason when it gives one ("the signature is not valid" ...). */
		text = g_strdup_printf("The certificate was not installed: %s",
		                       why != NULL ? why : engine_error_text(job->err));
		g_free(why);
		gtk_widget_set_sensitive(d->install_button, TRUE);
	}
	gtk_label_set_text(GTK_LABEL(d->install_label), text);
	g_free(text);
out:
	g_object_unref(dialog);
	engine_job_free(job);
}

static void
on_install(GtkButton *b, gpointer data)
{
	struct details *d = data;
	struct engine_job *job = engine_job_new(ENGINE_OP_INSTALL);

	(void)b;
	job->in_path = g_strdup(d->message_path);
	gtk_widget_set_sensitive(d->install_button, FALSE);
	gtk_label_set_text(GTK_LABEL(d->install_label), "Installing the sender's certificate…");
	engine_run(job, install_done, g_object_ref(d->dialog));
}

static void
fill_chain(GtkTreeView *view, const struct ej_layer *l)
{
	GtkListStore *store =
	    gtk_list_store_new(4, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
	const char *titles[] = {"Certificate", "Issued by", "Valid until"};
	guint i;

	/* Names people read; the full distinguished names are in the tooltips. */
	for (i = 0; i < l->chain->len; i++) {
		const struct ej_cert *c = g_ptr_array_index(l->chain, i);
		char *name = ej_common_name(c->subject), *issuer = ej_common_name(c->issuer);
		char *until = ej_date(c->not_after);

		gtk_list_store_insert_with_values(store, NULL, -1, 0, name, 1, issuer, 2, until, 3,
		                                  c->subject, -1);
		g_free(name);
		g_free(issuer);
		g_free(until);
	}
	for (i = 0; i < G_N_ELEMENTS(titles); i++) {
		GtkCellRenderer *cell = gtk_cell_renderer_text_new();
		GtkTreeViewColumn *col =
		    gtk_tree_view_column_new_with_attributes(titles[i], cell, "text", (int)i, NULL);

		g_object_set(cell, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
		gtk_tree_view_column_set_resizable(col, TRUE);
		gtk_tree_view_column_set_expand(col, i < 2);
		gtk_tree_view_append_column(view, col);
	}
	gtk_tree_view_set_model(view, GTK_TREE_MODEL(store));
	gtk_tree_view_set_tooltip_column(view, 3);
	g_object_unref(store);
}

void
details_show(GtkWindow *parent, const struct ej_layer *l, const char *message_path)
{
	struct details *d = g_new0(struct details, 1);
	GtkGrid *facts;
	GString *reasons = g_string_new("");
	char *headline = sw_layer_headline(l), *name = ej_common_name(l->signer_subject);
	const char *meaning = sw_verdict_meaning(l->verdict);
	int row = 0;
	guint i;

	d->ui = csg_builder("details.ui");
	d->dialog = GTK_WIDGET(gtk_builder_get_object(d->ui, "details_dialog"));
	d->install_button = GTK_WIDGET(gtk_builder_get_object(d->ui, "install_button"));
	d->install_label = GTK_WIDGET(gtk_builder_get_object(d->ui, "install_label"));
	d->message_path = g_strdup(message_path);
	csg_window_state(d->dialog, "csg-details", d, details_free);
	gtk_window_set_transient_for(GTK_WINDOW(d->dialog), parent);
	gtk_label_set_text(GTK_LABEL(gtk_builder_get_object(d->ui, "headline_label")), headline);
	gtk_label_set_text(GTK_LABEL(gtk_builder_get_object(d->ui, "meaning_label")),
	                   meaning != NULL ? meaning : "");
	facts = GTK_GRID(gtk_builder_get_object(d->ui, "facts_grid"));
	add_fact(facts, row++, "Signer", name[0] != '\0' ? name : "(unknown)");
	add_fact(facts, row++, "Address", l->signer_email);
	add_fact(facts, row++, "Address matches From:", l->email_matches ? "yes" : "NO");
	add_fact(facts, row++, "Signing time",
	         l->signing_time[0] != '\0' ? l->signing_time : "not stated");
	add_fact(facts, row++, "Digest", l->weak_algorithm ? "weak algorithm" : l->digest);
	add_fact(facts, row++, "Revocation",
	         strcmp(l->revocation, "good") == 0      ? "not revoked"
	         : strcmp(l->revocation, "revoked") == 0 ? "REVOKED"
	                                                 : "unknown (no current revocation list)");
	for (i = 0; i < l->reasons->len; i++)
		g_string_append_printf(reasons, "%s%s", i > 0 ? "\n" : "",
		                       sw_reason_text(g_ptr_array_index(l->reasons, i)));
	add_fact(facts, row++, "Reasons", reasons->len > 0 ? reasons->str : "none");
	fill_chain(GTK_TREE_VIEW(gtk_builder_get_object(d->ui, "chain_view")), l);
	/* Installing needs the message as received; the engine decides what may be installed. */
	gtk_widget_set_sensitive(d->install_button, message_path != NULL);
	g_signal_connect(d->install_button, "clicked", G_CALLBACK(on_install), d);
	g_signal_connect(d->dialog, "response", G_CALLBACK(gtk_widget_destroy), NULL);
	gtk_widget_show_all(d->dialog);
	g_string_free(reasons, TRUE);
	g_free(headline);
	g_free(name);
}
