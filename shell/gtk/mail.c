/* Messages through GMime: the view of a read message, folders, drafts, Maildir delivery. */
#include "mail.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

void
mail_init(void)
{
	g_mime_init();
}

/* The message in path, or NULL with *error. */
static GMimeMessage *
parse_file(const char *path, GError **error)
{
	GMimeStream *stream = g_mime_stream_fs_open(path, O_RDONLY, 0, error);
	GMimeParser *parser;
	GMimeMessage *msg;

	if (stream == NULL)
		return NULL;
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_object_unref(parser);
	g_object_unref(stream);
	if (msg == NULL)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not an email message",
		            path);
	return msg;
}

static char *
list_text(InternetAddressList *list)
{
	if (list == NULL || internet_address_list_length(list) == 0)
		return g_strdup("");
	return internet_address_list_to_string(list, NULL, FALSE);
}

static char *
date_text(GMimeMessage *msg, gint64 *ret_time)
{
	GDateTime *d = g_mime_message_get_date(msg);

	if (ret_time != NULL)
		*ret_time = d != NULL ? g_date_time_to_unix(d) : 0;
	return d != NULL ? g_date_time_format(d, "%Y-%m-%d %H:%M") : g_strdup("");
}

static void
attachment_free(struct mail_attachment *a)
{
	g_free(a->filename);
	g_free(a->content_type);
	g_free(a);
}

/* Collects the body and attachments while walking the parts. */
static void
visit_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
	struct mail_view *v = data;
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	GMimePart *part;
	const char *filename;

	(void)parent;
	if (!GMIME_IS_PART(obj))
		return;
	part = GMIME_PART(obj);
	filename = g_mime_part_get_filename(part);
	if (!g_mime_part_is_attachment(part) && filename == NULL) {
		if (v->body == NULL && GMIME_IS_TEXT_PART(obj) &&
		    g_mime_content_type_is_type(ct, "text", "plain")) {
			v->body = g_mime_text_part_get_text(GMIME_TEXT_PART(obj));
			return;
		}
		if (v->html_part == NULL && g_mime_content_type_is_type(ct, "text", "html")) {
			v->html_part = part;
			return;
		}
	}
	{
		struct mail_attachment *a = g_new0(struct mail_attachment, 1);

		a->filename = g_strdup(filename != NULL ? filename : "attachment.bin");
		a->content_type = g_mime_content_type_get_mime_type(ct);
		a->size = -1;
		a->part = part;
		g_ptr_array_add(v->attachments, a);
	}
}

/* The References field as "<a> <b>" (parsed, so folding and comments go), or "". */
static char *
references_text(GMimeMessage *msg)
{
	const char *raw = g_mime_object_get_header(GMIME_OBJECT(msg), "References");
	GMimeReferences *refs = raw != NULL ? g_mime_references_parse(NULL, raw) : NULL;
	GString *s = g_string_new("");
	int i, n = refs != NULL ? g_mime_references_length(refs) : 0;

	for (i = 0; i < n; i++)
		g_string_append_printf(s, "%s<%s>", s->len > 0 ? " " : "",
		                       g_mime_references_get_message_id(refs, i));
	if (refs != NULL)
		g_mime_references_free(refs);
	return g_string_free(s, FALSE);
}

struct mail_view *
mail_view_load(const char *path, GError **error)
{
	GMimeMessage *msg = parse_file(path, error);
	struct mail_view *v;
	const char *subject;

	if (msg == NULL)
		return NULL;
	v = g_new0(struct mail_view, 1);
	v->message = msg;
	v->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)attachment_free);
	v->from = list_text(g_mime_message_get_from(msg));
	v->to = list_text(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_TO));
	v->cc = list_text(g_mime_message_get_addresses(msg, GMIME_ADDRESS_TYPE_CC));
	v->reply_to = list_text(g_mime_message_get_reply_to(msg));
	v->message_id = g_strdup(
	    g_mime_message_get_message_id(msg) != NULL ? g_mime_message_get_message_id(msg) : "");
	v->references = references_text(msg);
	subject = g_mime_message_get_subject(msg);
	v->subject = g_strdup(subject != NULL ? subject : "");
	v->date = date_text(msg, NULL);
	g_mime_message_foreach(msg, visit_part, v);
	/* A message whose only part is text/plain is not reached by foreach's parent walk. */
	if (v->body == NULL && v->html_part == NULL && v->attachments->len == 0) {
		GMimeObject *top = g_mime_message_get_mime_part(msg);

		if (top != NULL)
			visit_part(NULL, top, v);
	}
	v->html_only = v->body == NULL && v->html_part != NULL;
	return v;
}

void
mail_view_free(struct mail_view *v)
{
	if (v == NULL)
		return;
	g_clear_object(&v->message);
	g_free(v->from);
	g_free(v->to);
	g_free(v->cc);
	g_free(v->reply_to);
	g_free(v->message_id);
	g_free(v->references);
	g_free(v->subject);
	g_free(v->date);
	g_free(v->body);
	g_ptr_array_unref(v->attachments);
	g_free(v);
}

gboolean
mail_save_part(gpointer p, const char *path, GError **error)
{
	GMimePart *part = p;
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *out;
	gboolean ok = FALSE;

	if (content == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "the part is empty");
		return FALSE;
	}
	out = g_mime_stream_fs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600, error);
	if (out == NULL)
		return FALSE;
	/* Decodes the transfer encoding on the way out. */
	if (g_mime_data_wrapper_write_to_stream(content, out) < 0 ||
	    g_mime_stream_flush(out) != 0 || g_mime_stream_close(out) != 0)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
		            g_strerror(errno));
	else
		ok = TRUE;
	g_object_unref(out);
	return ok;
}

void
mail_entry_free(struct mail_entry *e)
{
	if (e == NULL)
		return;
	g_free(e->path);
	g_free(e->from);
	g_free(e->subject);
	g_free(e->date);
	g_free(e);
}

/* The marks from the outer Content-Type: structure only, not a verdict. */
static void
outer_marks(GMimeMessage *msg, struct mail_entry *e)
{
	GMimeObject *top = g_mime_message_get_mime_part(msg);
	GMimeContentType *ct;
	const char *smime;

	if (top == NULL)
		return;
	ct = g_mime_object_get_content_type(top);
	if (g_mime_content_type_is_type(ct, "multipart", "signed")) {
		e->signed_mark = TRUE;
		return;
	}
	if (!g_mime_content_type_is_type(ct, "application", "pkcs7-mime") &&
	    !g_mime_content_type_is_type(ct, "application", "x-pkcs7-mime"))
		return;
	smime = g_mime_content_type_get_parameter(ct, "smime-type");
	if (smime != NULL && g_ascii_strcasecmp(smime, "signed-data") == 0)
		e->signed_mark = TRUE;
	else
		e->encrypted_mark = TRUE;
}

static void
list_dir(const char *dir, GPtrArray *out)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);
		GMimeMessage *msg;
		struct mail_entry *e;

		if (name[0] == '.' || !g_file_test(path, G_FILE_TEST_IS_REGULAR) ||
		    (msg = parse_file(path, NULL)) == NULL) {
			g_free(path);
			continue;
		}
		e = g_new0(struct mail_entry, 1);
		e->path = path;
		e->from = list_text(g_mime_message_get_from(msg));
		e->subject = g_strdup(
		    g_mime_message_get_subject(msg) != NULL ? g_mime_message_get_subject(msg) : "");
		e->date = date_text(msg, &e->time);
		outer_marks(msg, e);
		g_object_unref(msg);
		g_ptr_array_add(out, e);
	}
	g_dir_close(d);
}

static gint
newest_first(gconstpointer a, gconstpointer b)
{
	const struct mail_entry *x = *(struct mail_entry *const *)a;
	const struct mail_entry *y = *(struct mail_entry *const *)b;

	if (x->time != y->time)
		return x->time > y->time ? -1 : 1;
	return g_strcmp0(x->path, y->path);
}

GPtrArray *
mail_folder_list(const char *dir, GError **error)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)mail_entry_free);
	char *cur = g_build_filename(dir, "cur", NULL),
	     *new_dir = g_build_filename(dir, "new", NULL);

	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_DIRECTORY, "%s: not a folder", dir);
		g_clear_pointer(&out, g_ptr_array_unref);
	} else if (g_file_test(cur, G_FILE_TEST_IS_DIR) ||
	           g_file_test(new_dir, G_FILE_TEST_IS_DIR)) {
		list_dir(cur, out);
		list_dir(new_dir, out);
	} else {
		list_dir(dir, out);
	}
	if (out != NULL)
		g_ptr_array_sort(out, newest_first);
	g_free(cur);
	g_free(new_dir);
	return out;
}

void
mail_draft_free(struct mail_draft *d)
{
	if (d == NULL)
		return;
	g_free(d->from);
	g_free(d->domain);
	g_free(d->to);
	g_free(d->cc);
	g_free(d->bcc);
	g_free(d->subject);
	g_free(d->body);
	g_free(d->in_reply_to);
	g_free(d->references);
	if (d->attachments != NULL)
		g_ptr_array_unref(d->attachments);
	g_free(d);
}

static void
add_list(GMimeMessage *m, GMimeAddressType type, const char *text)
{
	InternetAddressList *list;

	if (text == NULL || text[0] == '\0')
		return;
	list = internet_address_list_parse(NULL, text);
	if (list == NULL)
		return;
	internet_address_list_append(g_mime_message_get_addresses(m, type), list);
	g_object_unref(list);
}

/* An attachment part whose content streams from its file when the message is written. */
static GMimeObject *
attachment_part(const char *path, GError **error)
{
	GMimeStream *stream = g_mime_stream_fs_open(path, O_RDONLY, 0, error);
	char *type = NULL, *mime = NULL, *base;
	GMimeDataWrapper *w;
	GMimePart *part;
	char **halves;

	if (stream == NULL)
		return NULL;
	type = g_content_type_guess(path, NULL, 0, NULL);
	mime = g_content_type_get_mime_type(type);
	halves = g_strsplit(
	    mime != NULL && strchr(mime, '/') != NULL ? mime : "application/octet-stream", "/", 2);
	part = g_mime_part_new_with_type(halves[0], halves[1]);
	base = g_path_get_basename(path);
	g_mime_part_set_filename(part, base);
	g_mime_object_set_disposition(GMIME_OBJECT(part), "attachment");
	w = g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, w);
	/* Base64 keeps the entity 7-bit, as signing needs (RFC 8551 3.1). */
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
	g_object_unref(w);
	g_object_unref(stream);
	g_strfreev(halves);
	g_free(base);
	g_free(mime);
	g_free(type);
	return GMIME_OBJECT(part);
}

gboolean
mail_draft_write(const struct mail_draft *d, gboolean with_bcc, const char *path, GError **error)
{
	GMimeMessage *m = g_mime_message_new(TRUE);
	GMimeTextPart *text = g_mime_text_part_new_with_subtype("plain");
	GMimeMultipart *mixed = NULL;
	GMimeStream *out = NULL;
	GDateTime *now = g_date_time_new_now_local();
	char *id = g_mime_utils_generate_message_id(d->domain != NULL ? d->domain : "localhost");
	gboolean ok = FALSE;
	guint i;

	add_list(m, GMIME_ADDRESS_TYPE_FROM, d->from);
	add_list(m, GMIME_ADDRESS_TYPE_TO, d->to);
	add_list(m, GMIME_ADDRESS_TYPE_CC, d->cc);
	if (with_bcc)
		add_list(m, GMIME_ADDRESS_TYPE_BCC, d->bcc);
	g_mime_message_set_subject(m, d->subject, "utf-8");
	if (d->in_reply_to != NULL && d->in_reply_to[0] != '\0')
		g_mime_object_set_header(GMIME_OBJECT(m), "In-Reply-To", d->in_reply_to, NULL);
	if (d->references != NULL && d->references[0] != '\0')
		g_mime_object_set_header(GMIME_OBJECT(m), "References", d->references, NULL);
	g_mime_message_set_date(m, now);
	g_mime_message_set_message_id(m, id);
	g_mime_text_part_set_text(text, d->body != NULL ? d->body : "");
	g_mime_part_set_content_encoding(GMIME_PART(text),
	                                 g_mime_part_get_best_content_encoding(
	                                     GMIME_PART(text), GMIME_ENCODING_CONSTRAINT_7BIT));
	if (d->attachments != NULL && d->attachments->len > 0) {
		mixed = g_mime_multipart_new_with_subtype("mixed");
		g_mime_multipart_add(mixed, GMIME_OBJECT(text));
		for (i = 0; i < d->attachments->len; i++) {
			GMimeObject *a =
			    attachment_part(g_ptr_array_index(d->attachments, i), error);

			if (a == NULL)
				goto out;
			g_mime_multipart_add(mixed, a);
			g_object_unref(a);
		}
		g_mime_message_set_mime_part(m, GMIME_OBJECT(mixed));
	} else {
		g_mime_message_set_mime_part(m, GMIME_OBJECT(text));
	}
	if ((out = g_mime_stream_fs_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600, error)) == NULL)
		goto out;
	if (g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, out) < 0 ||
	    g_mime_stream_flush(out) != 0 || g_mime_stream_close(out) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", path,
		            g_strerror(errno));
		goto out;
	}
	ok = TRUE;
out:
	g_clear_object(&out);
	g_clear_object(&mixed);
	g_object_unref(text);
	g_object_unref(m);
	g_date_time_unref(now);
	g_free(id);
	return ok;
}

/* Calls fn for each mailbox of list (group members too). */
static void
each_mailbox(InternetAddressList *list, void (*fn)(InternetAddress *, gpointer), gpointer arg)
{
	int i, n = list != NULL ? internet_address_list_length(list) : 0;

	for (i = 0; i < n; i++) {
		InternetAddress *a = internet_address_list_get_address(list, i);

		if (INTERNET_ADDRESS_IS_GROUP(a))
			each_mailbox(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)),
			             fn, arg);
		else
			fn(a, arg);
	}
}

static void
collect_addr(InternetAddress *a, gpointer arg)
{
	g_ptr_array_add(arg,
	                g_strdup(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a))));
}

GStrv
mail_list_addresses(const char *text)
{
	InternetAddressList *list =
	    text != NULL && text[0] != '\0' ? internet_address_list_parse(NULL, text) : NULL;
	GPtrArray *out = g_ptr_array_new();

	each_mailbox(list, collect_addr, out);
	g_ptr_array_add(out, NULL);
	g_clear_object(&list);
	return (GStrv)g_ptr_array_free(out, FALSE);
}

static gboolean
in_list(const char *addr, const char *const *remove)
{
	size_t i;

	for (i = 0; remove != NULL && remove[i] != NULL; i++) {
		if (g_ascii_strcasecmp(addr, remove[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

struct keep {
	InternetAddressList *out;
	const char *const *remove;
};

static void
keep_mailbox(InternetAddress *a, gpointer arg)
{
	struct keep *k = arg;

	if (!in_list(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a)), k->remove))
		internet_address_list_add(k->out, a);
}

char *
mail_list_without(const char *text, const char *const *remove)
{
	InternetAddressList *list =
	    text != NULL && text[0] != '\0' ? internet_address_list_parse(NULL, text) : NULL;
	struct keep k = {internet_address_list_new(), remove};
	char *out;

	each_mailbox(list, keep_mailbox, &k);
	out = list_text(k.out);
	g_object_unref(k.out);
	g_clear_object(&list);
	return out;
}

/* Writes prefix, then src's bytes, into the new file dst. */
static gboolean
copy_with_prefix(GFile *src, GFile *dst, const char *prefix, GError **error)
{
	GFileInputStream *in = NULL;
	GFileOutputStream *out = NULL;
	gboolean ok = FALSE;

	if ((in = g_file_read(src, NULL, error)) == NULL ||
	    (out = g_file_create(dst, G_FILE_CREATE_PRIVATE, NULL, error)) == NULL)
		goto out;
	if (prefix != NULL && !g_output_stream_write_all(G_OUTPUT_STREAM(out), prefix,
	                                                 strlen(prefix), NULL, NULL, error))
		goto out;
	if (g_output_stream_splice(G_OUTPUT_STREAM(out), G_INPUT_STREAM(in),
	                           G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, error) < 0)
		goto out;
	ok = TRUE;
out:
	g_clear_object(&in);
	g_clear_object(&out);
	return ok;
}

gboolean
mail_maildir_deliver(const char *dir, const char *src, const char *prefix, char **ret_path,
                     GError **error)
{
	static gint counter;
	char *tmp_dir = g_build_filename(dir, "tmp", NULL),
	     *new_dir = g_build_filename(dir, "new", NULL);
	char *cur_dir = g_build_filename(dir, "cur", NULL), *unique, *tmp_path, *new_path;
	GFile *src_file = NULL, *tmp_file = NULL;
	gboolean ok = FALSE;

	/* Maildir's unique name: time, pid and a counter, then the host. */
	unique = g_strdup_printf("%" G_GINT64_FORMAT ".P%dQ%u.%s",
	                         g_get_real_time() / G_USEC_PER_SEC, (int)getpid(),
	                         (guint)g_atomic_int_add(&counter, 1) + 1, g_get_host_name());
	tmp_path = g_build_filename(tmp_dir, unique, NULL);
	new_path = g_build_filename(new_dir, unique, NULL);
	if (g_mkdir_with_parents(tmp_dir, 0700) != 0 || g_mkdir_with_parents(new_dir, 0700) != 0 ||
	    g_mkdir_with_parents(cur_dir, 0700) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", dir,
		            g_strerror(errno));
		goto out;
	}
	/* Written in tmp/ first, renamed into new/: a reader never sees half a message. */
	src_file = g_file_new_for_path(src);
	tmp_file = g_file_new_for_path(tmp_path);
	if (!copy_with_prefix(src_file, tmp_file, prefix, error)) {
		(void)unlink(tmp_path);
		goto out;
	}
	if (rename(tmp_path, new_path) != 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", new_path,
		            g_strerror(errno));
		(void)unlink(tmp_path);
		goto out;
	}
	ok = TRUE;
	if (ret_path != NULL)
		*ret_path = g_strdup(new_path);
out:
	g_clear_object(&src_file);
	g_clear_object(&tmp_file);
	g_free(tmp_dir);
	g_free(new_dir);
	g_free(cur_dir);
	g_free(unique);
	g_free(tmp_path);
	g_free(new_path);
	return ok;
}
