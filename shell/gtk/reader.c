/*
 * The reader: a message list (a Maildir folder) and the open message with a
 * security bar per layer, its text/plain body and its attachments. READ runs
 * in the engine; while it waits for a smartcard or a PIN, the window says so.
 * Reply (once a message is read) opens the composer on a reply to it.
 */
#include <string.h>

#include "app.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "mail.h"
#include "reply.h"
#include "security_words.h"
#include "windows.h"

enum { COL_SIGNED, COL_ENCRYPTED, COL_FROM, COL_SUBJECT, COL_DATE, COL_PATH, N_COLS };

struct reader {
	GtkWindow *window;
	GtkBuilder *ui;
	GtkListStore *messages;
	GtkWidget *waiting_box, *waiting_label, *security_box, *header_grid, *html_box;
	GtkWidget *body_view, *attachments_box, *status_label;
	guint generation;   /* which READ the display belongs to */
	char *message_path; /* the message as received (for Install) */
	char *tmpdir;       /* the plaintext of the open message */
	struct ej_report *report;
	struct mail_view *view;
	GPtrArray *attachment_rows; /* widgets added for attachments */
};

static struct reader *
reader_of(GtkWindow *w)
{
	return g_object_get_data(G_OBJECT(w), "csg-reader");
}

/* Reply needs a message that was read. */
static void
set_can_reply(struct reader *r, gboolean can)
{
	GAction *a = g_action_map_lookup_action(G_ACTION_MAP(r->window), "reply");

	if (a != NULL)
		g_simple_action_set_enabled(G_SIMPLE_ACTION(a), can);
}

static void
clear_message(struct reader *r)
{
	GList *children, *l;
	guint i;

	set_can_reply(r, FALSE);
	children = gtk_container_get_children(GTK_CONTAINER(r->security_box));
	for (l = children; l != NULL; l = l->next)
		gtk_widget_destroy(l->data);
	g_list_free(children);
	children = gtk_container_get_children(GTK_CONTAINER(r->header_grid));
	for (l = children; l != NULL; l = l->next)
		gtk_widget_destroy(l->data);
	g_list_free(children);
	for (i = 0; i < r->attachment_rows->len; i++)
		gtk_widget_destroy(g_ptr_array_index(r->attachment_rows, i));
	g_ptr_array_set_size(r->attachment_rows, 0);
	gtk_widget_hide(r->attachments_box);
	gtk_widget_hide(r->html_box);
	gtk_widget_show(r->body_view);
	gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(r->body_view)), "", -1);
	gtk_label_set_text(GTK_LABEL(r->status_label), "");
	g_clear_pointer(&r->report, ej_report_free);
	g_clear_pointer(&r->view, mail_view_free);
	csg_remove_tmpdir(r->tmpdir);
	g_clear_pointer(&r->tmpdir, g_free);
}

static void
reader_free(gpointer data)
{
	struct reader *r = data;

	/* Widgets are going with the window; only the data and the plaintext remain. */
	g_clear_pointer(&r->report, ej_report_free);
	g_clear_pointer(&r->view, mail_view_free);
	csg_remove_tmpdir(r->tmpdir);
	g_free(r->tmpdir);
	g_free(r->message_path);
	g_ptr_array_unref(r->attachment_rows);
	g_object_unref(r->ui);
	g_free(r);
}

static void
set_waiting(struct reader *r, const char *text)
{
	if (text == NULL) {
		gtk_widget_hide(r->waiting_box);
		return;
	}
	gtk_label_set_text(GTK_LABEL(r->waiting_label), text);
	gtk_widget_show(r->waiting_box);
}

/* Events of the running READ; target is the window. */
static void
on_read_event(gpointer target, int kind, guint64 value, const char *detail)
{
	struct reader *r = reader_of(GTK_WINDOW(target));
	char *text = NULL;

	(void)value;
	if (r == NULL)
		return;
	switch (kind) {
	case CS_EVENT_INSERT_TOKEN:
		text =
		    g_strdup_printf("Insert your smartcard \"%s\" to read this message.", detail);
		break;
	case CS_EVENT_WAITING_FOR_PIN:
		text =
		    g_strdup_printf("Waiting for the PIN of your smartcard \"%s\": enter it in the "
		                    "PIN dialog.",
		                    detail);
		break;
	case CS_EVENT_PIN_STATE:
		text = g_strdup_printf("Your smartcard's PIN: %s.",
		                       strcmp(detail, "final-try") == 0
		                           ? "final try, one more wrong PIN locks the card"
		                           : "a wrong PIN was entered before");
		break;
	case CS_EVENT_TOKEN_CHANGED:
		/* The card is back: the engine goes on by itself. */
		text = g_strdup("Reading the message…");
		break;
	default:
		return;
	}
	set_waiting(r, text);
	g_free(text);
}

static void
on_details_clicked(GtkButton *button, gpointer data)
{
	struct reader *r = data;
	const struct ej_layer *l = g_object_get_data(G_OBJECT(button), "csg-layer");

	if (l != NULL)
		details_show(r->window, l, r->message_path);
}

/* One security bar: an info bar with the headline (and Details for a signature). */
static void
add_bar(struct reader *r, const char *text, GtkMessageType type, const struct ej_layer *layer)
{
	GtkWidget *bar = gtk_info_bar_new(), *label = gtk_label_new(text), *area;

	gtk_info_bar_set_message_type(GTK_INFO_BAR(bar), type);
	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_label_set_line_wrap(GTK_LABEL(label), TRUE);
	gtk_label_set_selectable(GTK_LABEL(label), FALSE);
	area = gtk_info_bar_get_content_area(GTK_INFO_BAR(bar));
	gtk_container_add(GTK_CONTAINER(area), label);
	if (layer != NULL && !layer->encrypted) {
		GtkWidget *b = gtk_info_bar_add_button(GTK_INFO_BAR(bar), "_Details…", 1);

		csg_a11y_name(b, "Signature details");
		gtk_widget_set_tooltip_text(b,
		                            "The certificate chain, the verdict and its reasons");
		g_object_set_data(G_OBJECT(b), "csg-layer", (gpointer)layer);
		g_signal_connect(b, "clicked", G_CALLBACK(on_details_clicked), r);
	}
	csg_a11y_name(bar, "Security");
	gtk_widget_show_all(bar);
	gtk_box_pack_start(GTK_BOX(r->security_box), bar, FALSE, FALSE, 0);
}

static void
show_security(struct reader *r)
{
	guint i;

	if (r->report->layers->len == 0)
		add_bar(r,
		        "Not signed and not encrypted: anyone could have written or read this "
		        "message on its way.",
		        GTK_MESSAGE_OTHER, NULL);
	for (i = 0; i < r->report->layers->len; i++) {
		const struct ej_layer *l = g_ptr_array_index(r->report->layers, i);
		char *headline = sw_layer_headline(l);

		add_bar(r, headline, sw_layer_ok(l) ? GTK_MESSAGE_INFO : GTK_MESSAGE_WARNING, l);
		g_free(headline);
	}
	if (r->report->harvested != NULL && r->report->harvested[0] != NULL) {
		char *who = g_strjoinv(", ", r->report->harvested);
		char *text = g_strdup_printf("Remembered the certificate of %s from this signed "
		                             "message: you can encrypt to them now.",
		                             who);

		add_bar(r, text, GTK_MESSAGE_OTHER, NULL);
		g_free(text);
		g_free(who);
	}
	if (r->report->unprotected_parts > 0)
		add_bar(r,
		        "Parts of this message are outside its protected part: they may have been "
		        "added by someone else, and are not shown.",
		        GTK_MESSAGE_ERROR, NULL);
}

static void
add_header(struct reader *r, int row, const char *name, const char *value)
{
	GtkWidget *k, *v;
	char *markup;

	if (value == NULL || value[0] == '\0')
		return;
	markup = g_markup_printf_escaped("<b>%s</b>", name);
	k = gtk_label_new(NULL);
	gtk_label_set_markup(GTK_LABEL(k), markup);
	gtk_label_set_xalign(GTK_LABEL(k), 1);
	v = gtk_label_new(value);
	gtk_label_set_xalign(GTK_LABEL(v), 0);
	gtk_label_set_selectable(GTK_LABEL(v), TRUE);
	gtk_label_set_line_wrap(GTK_LABEL(v), TRUE);
	gtk_widget_set_hexpand(v, TRUE);
	csg_a11y_name(v, name);
	gtk_grid_attach(GTK_GRID(r->header_grid), k, 0, row, 1, 1);
	gtk_grid_attach(GTK_GRID(r->header_grid), v, 1, row, 1, 1);
	gtk_widget_show(k);
	gtk_widget_show(v);
	g_free(markup);
}

/* Saves a part (attachment or HTML body) where the user says. */
static void
save_part(struct reader *r, gpointer part, const char *suggested)
{
	GtkFileChooserNative *fc = gtk_file_chooser_native_new(
	    "Save", r->window, GTK_FILE_CHOOSER_ACTION_SAVE, "_Save", "_Cancel");
	GError *e = NULL;

	gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(fc), suggested);
	gtk_file_chooser_set_do_overwrite_confirmation(GTK_FILE_CHOOSER(fc), TRUE);
	if (gtk_native_dialog_run(GTK_NATIVE_DIALOG(fc)) == GTK_RESPONSE_ACCEPT) {
		char *path = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(fc));

		if (!mail_save_part(part, path, &e)) {
			csg_show_error(r->window, "The file could not be saved.", e->message);
			g_clear_error(&e);
		}
		g_free(path);
	}
	g_object_unref(fc);
}

static void
on_save_attachment(GtkButton *b, gpointer data)
{
	struct reader *r = data;
	const struct mail_attachment *a = g_object_get_data(G_OBJECT(b), "csg-attachment");

	save_part(r, a->part, a->filename);
}

static void
on_save_html(GtkButton *b, gpointer data)
{
	struct reader *r = data;

	(void)b;
	if (r->view != NULL && r->view->html_part != NULL)
		save_part(r, r->view->html_part, "message.html");
}

static void
show_message(struct reader *r)
{
	guint i;

	add_header(r, 0, "From", r->view->from);
	add_header(r, 1, "To", r->view->to);
	add_header(r, 2, "Cc", r->view->cc);
	add_header(r, 3, "Subject", r->view->subject);
	add_header(r, 4, "Date", r->view->date);
	gtk_text_buffer_set_text(gtk_text_view_get_buffer(GTK_TEXT_VIEW(r->body_view)),
	                         r->view->body != NULL ? r->view->body : "", -1);
	gtk_widget_set_visible(r->html_box, r->view->html_only);
	/* An empty text box under "only HTML" would look like a message with nothing in it. */
	gtk_widget_set_visible(r->body_view, !r->view->html_only);
	for (i = 0; i < r->view->attachments->len; i++) {
		struct mail_attachment *a = g_ptr_array_index(r->view->attachments, i);
		GtkWidget *row = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 8);
		GtkWidget *label = gtk_label_new(NULL),
		          *button = gtk_button_new_with_mnemonic("_Save…");
		char *text = g_strdup_printf("%s (%s)", a->filename, a->content_type);
		char *name = g_strdup_printf("Save attachment %s", a->filename);

		gtk_label_set_text(GTK_LABEL(label), text);
		gtk_label_set_xalign(GTK_LABEL(label), 0);
		gtk_widget_set_hexpand(label, TRUE);
		csg_a11y_name(button, name);
		g_object_set_data(G_OBJECT(button), "csg-attachment", a);
		g_signal_connect(button, "clicked", G_CALLBACK(on_save_attachment), r);
		gtk_box_pack_start(GTK_BOX(row), label, TRUE, TRUE, 0);
		gtk_box_pack_start(GTK_BOX(row), button, FALSE, FALSE, 0);
		gtk_box_pack_start(GTK_BOX(r->attachments_box), row, FALSE, FALSE, 0);
		gtk_widget_show_all(row);
		g_ptr_array_add(r->attachment_rows, row);
		g_free(text);
		g_free(name);
	}
	gtk_widget_set_visible(r->attachments_box, r->view->attachments->len > 0);
}

struct read_ctx {
	GtkWindow *window;
	guint generation;
};

static void
read_done(GObject *source, GAsyncResult *res, gpointer data)
{
	struct read_ctx *ctx = data;
	struct engine_job *job = engine_run_finish(res);
	struct reader *r = reader_of(ctx->window);
	GError *e = NULL;

	(void)source;
	/* The window closed, or another message was opened meanwhile. */
	if (r == NULL || r->generation != ctx->generation)
		goto out;
	set_waiting(r, NULL);
	if (job->err != 0) {
		char *text = g_strdup_printf("This message could not be read: %s",
		                             engine_error_text(job->err));

		add_bar(r, text, GTK_MESSAGE_ERROR, NULL);
		g_free(text);
		goto out;
	}
	r->report = ej_report_parse(job->json);
	if (r->report == NULL) {
		add_bar(r, "The engine's report could not be understood.", GTK_MESSAGE_ERROR, NULL);
		goto out;
	}
	show_security(r);
	r->view = mail_view_load(job->out_path, &e);
	if (r->view == NULL) {
		gtk_label_set_text(GTK_LABEL(r->status_label), e->message);
		g_clear_error(&e);
		goto out;
	}
	show_message(r);
	set_can_reply(r, TRUE);
	gtk_label_set_text(GTK_LABEL(r->status_label), "");
out:
	g_object_unref(ctx->window);
	g_free(ctx);
	engine_job_free(job);
}

void
reader_open_message(GtkWindow *w, const char *path)
{
	struct reader *r = reader_of(w);
	struct engine_job *job;
	struct read_ctx *ctx;
	GError *e = NULL;

	clear_message(r);
	r->generation++;
	g_free(r->message_path);
	r->message_path = g_strdup(path);
	if ((r->tmpdir = csg_private_tmpdir(&e)) == NULL) {
		gtk_label_set_text(GTK_LABEL(r->status_label), e->message);
		g_clear_error(&e);
		return;
	}
	job = engine_job_new(ENGINE_OP_READ);
	job->in_path = g_strdup(path);
	job->out_path = g_build_filename(r->tmpdir, "message.eml", NULL);
	engine_job_set_events(job, on_read_event, w);
	ctx = g_new0(struct read_ctx, 1);
	ctx->window = g_object_ref(w);
	ctx->generation = r->generation;
	set_waiting(r, "Reading the message…");
	engine_run(job, read_done, ctx);
}

void
reader_open_folder(GtkWindow *w, const char *dir)
{
	struct reader *r = reader_of(w);
	GError *e = NULL;
	GPtrArray *list = mail_folder_list(dir, &e);
	char *title;
	guint i;

	gtk_list_store_clear(r->messages);
	gtk_widget_show(GTK_WIDGET(gtk_builder_get_object(r->ui, "list_scroller")));
	if (list == NULL) {
		gtk_label_set_text(GTK_LABEL(r->status_label), e->message);
		g_clear_error(&e);
		return;
	}
	for (i = 0; i < list->len; i++) {
		const struct mail_entry *m = g_ptr_array_index(list, i);

		gtk_list_store_insert_with_values(
		    r->messages, NULL, -1, COL_SIGNED, m->signed_mark ? "signed" : "",
		    COL_ENCRYPTED, m->encrypted_mark ? "encrypted" : "", COL_FROM, m->from,
		    COL_SUBJECT, m->subject, COL_DATE, m->date, COL_PATH, m->path, -1);
	}
	title = g_strdup_printf("Cardseal — %s", dir);
	gtk_window_set_title(w, title);
	gtk_label_set_text(GTK_LABEL(r->status_label),
	                   list->len == 0 ? "This folder holds no messages." : "");
	g_free(title);
	g_ptr_array_unref(list);
}

static void
on_selection_changed(GtkTreeSelection *sel, gpointer data)
{
	struct reader *r = data;
	GtkTreeModel *model;
	GtkTreeIter it;
	char *path = NULL;

	if (!gtk_tree_selection_get_selected(sel, &model, &it))
		return;
	gtk_tree_model_get(model, &it, COL_PATH, &path, -1);
	if (path != NULL && g_strcmp0(path, r->message_path) != 0)
		reader_open_message(r->window, path);
	g_free(path);
}

/* Enter (or a double click) on a row opens it too, whatever the selection did. */
static void
on_row_activate(GtkTreeView *view, GtkTreePath *path, GtkTreeViewColumn *col, gpointer data)
{
	struct reader *r = data;
	GtkTreeModel *model = gtk_tree_view_get_model(view);
	GtkTreeIter it;
	char *file = NULL;

	(void)col;
	if (!gtk_tree_model_get_iter(model, &it, path))
		return;
	gtk_tree_model_get(model, &it, COL_PATH, &file, -1);
	if (file != NULL)
		reader_open_message(r->window, file);
	/* Show which message is open; the selection handler sees it is open already. */
	gtk_tree_selection_select_iter(gtk_tree_view_get_selection(view), &it);
	g_free(file);
}

static void
act_open_message(GSimpleAction *a, GVariant *p, gpointer data)
{
	GtkWindow *w = data;
	GtkFileChooserNative *fc = gtk_file_chooser_native_new(
	    "Open a message", w, GTK_FILE_CHOOSER_ACTION_OPEN, "_Open", "_Cancel");
	GtkFileFilter *filter = gtk_file_filter_new();

	(void)a;
	(void)p;
	gtk_file_filter_set_name(filter, "Email messages (*.eml)");
	gtk_file_filter_add_pattern(filter, "*.eml");
	gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(fc), filter);
	if (gtk_native_dialog_run(GTK_NATIVE_DIALOG(fc)) == GTK_RESPONSE_ACCEPT) {
		char *path = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(fc));

		reader_open_message(w, path);
		g_free(path);
	}
	g_object_unref(fc);
}

static void
act_open_folder(GSimpleAction *a, GVariant *p, gpointer data)
{
	GtkWindow *w = data;
	GtkFileChooserNative *fc = gtk_file_chooser_native_new(
	    "Open a Maildir folder", w, GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, "_Open", "_Cancel");

	(void)a;
	(void)p;
	if (gtk_native_dialog_run(GTK_NATIVE_DIALOG(fc)) == GTK_RESPONSE_ACCEPT) {
		char *path = gtk_file_chooser_get_filename(GTK_FILE_CHOOSER(fc));

		reader_open_folder(w, path);
		g_free(path);
	}
	g_object_unref(fc);
}

static void
act_reply(GSimpleAction *a, GVariant *p, gpointer data)
{
	GtkWindow *w = data;
	struct reader *r = reader_of(w);
	struct reply *reply;

	(void)a;
	(void)p;
	if (r == NULL || r->view == NULL)
		return;
	reply = reply_new(r->view, r->report, csg_app()->accounts);
	gtk_window_present(composer_new_reply(gtk_window_get_application(w), reply));
	reply_free(reply);
}

static void
act_close(GSimpleAction *a, GVariant *p, gpointer data)
{
	(void)a;
	(void)p;
	gtk_window_close(GTK_WINDOW(data));
}

static void
add_column(GtkTreeView *view, const char *title, int col, gboolean expand)
{
	GtkCellRenderer *cell = gtk_cell_renderer_text_new();
	GtkTreeViewColumn *c =
	    gtk_tree_view_column_new_with_attributes(title, cell, "text", col, NULL);

	g_object_set(cell, "ellipsize", PANGO_ELLIPSIZE_END, NULL);
	gtk_tree_view_column_set_expand(c, expand);
	gtk_tree_view_column_set_resizable(c, TRUE);
	gtk_tree_view_append_column(view, c);
}

GtkWindow *
reader_window_new(GtkApplication *app)
{
	static const GActionEntry actions[] = {
	    {"open-message", act_open_message, NULL, NULL, NULL, {0}},
	    {"open-folder", act_open_folder, NULL, NULL, NULL, {0}},
	    {"reply", act_reply, NULL, NULL, NULL, {0}},
	    {"close", act_close, NULL, NULL, NULL, {0}},
	};
	struct reader *r = g_new0(struct reader, 1);
	GtkTreeView *list;

	r->ui = csg_builder("main-window.ui");
	r->window = GTK_WINDOW(gtk_builder_get_object(r->ui, "main_window"));
	gtk_window_set_application(r->window, app);
	csg_window_state(GTK_WIDGET(r->window), "csg-reader", r, reader_free);
	g_action_map_add_action_entries(G_ACTION_MAP(r->window), actions, G_N_ELEMENTS(actions),
	                                r->window);
	r->waiting_box = GTK_WIDGET(gtk_builder_get_object(r->ui, "waiting_box"));
	r->waiting_label = GTK_WIDGET(gtk_builder_get_object(r->ui, "waiting_label"));
	r->security_box = GTK_WIDGET(gtk_builder_get_object(r->ui, "security_box"));
	r->header_grid = GTK_WIDGET(gtk_builder_get_object(r->ui, "header_grid"));
	r->html_box = GTK_WIDGET(gtk_builder_get_object(r->ui, "html_box"));
	r->body_view = GTK_WIDGET(gtk_builder_get_object(r->ui, "body_view"));
	r->attachments_box = GTK_WIDGET(gtk_builder_get_object(r->ui, "attachments_box"));
	r->status_label = GTK_WIDGET(gtk_builder_get_object(r->ui, "status_label"));
	r->attachment_rows = g_ptr_array_new();
	set_can_reply(r, FALSE);
	g_signal_connect(gtk_builder_get_object(r->ui, "save_html_button"), "clicked",
	                 G_CALLBACK(on_save_html), r);
	r->messages = gtk_list_store_new(N_COLS, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
	                                 G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
	list = GTK_TREE_VIEW(gtk_builder_get_object(r->ui, "message_list"));
	gtk_tree_view_set_model(list, GTK_TREE_MODEL(r->messages));
	g_object_unref(r->messages);
	add_column(list, "Signed", COL_SIGNED, FALSE);
	add_column(list, "Encrypted", COL_ENCRYPTED, FALSE);
	add_column(list, "From", COL_FROM, TRUE);
	add_column(list, "Subject", COL_SUBJECT, TRUE);
	add_column(list, "Date", COL_DATE, FALSE);
	gtk_tree_view_set_search_column(list, COL_SUBJECT);
	g_signal_connect(gtk_tree_view_get_selection(list), "changed",
	                 G_CALLBACK(on_selection_changed), r);
	g_signal_connect(list, "row-activated", G_CALLBACK(on_row_activate), r);
	csg_app_add_token_label(GTK_LABEL(gtk_builder_get_object(r->ui, "token_label")));
	return r->window;
}
