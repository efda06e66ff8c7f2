/* Sending in a worker thread: draft, PROTECT, then each copy to the send command or the outbox. */
#include "send.h"

#include <string.h>

#include <glib/gstdio.h>

#include "app.h"
#include "cs_proto.h"

/* One message to hand on: a file and whom it goes to. */
struct copy {
	char *path;
	GStrv envelope; /* NULL: the recipients in its headers (To, Cc); else these alone */
};

static void
copy_free(struct copy *c)
{
	g_free(c->path);
	g_strfreev(c->envelope);
	g_free(c);
}

static void
add_copy(GPtrArray *copies, const char *path, const char *const *envelope)
{
	struct copy *c = g_new0(struct copy, 1);

	c->path = g_strdup(path);
	c->envelope = envelope != NULL ? g_strdupv((GStrv)envelope) : NULL;
	g_ptr_array_add(copies, c);
}

void
send_job_free(struct send_job *j)
{
	if (j == NULL)
		return;
	mail_draft_free(j->draft);
	account_free(j->account);
	g_clear_object(&j->event_target);
	g_free(j->error_details);
	g_free(j->message);
	g_strfreev(j->dropped);
	if (j->delivered != NULL)
		g_ptr_array_unref(j->delivered);
	g_free(j);
}

static gboolean
has_address(const char *const *list, const char *addr)
{
	for (; list != NULL && *list != NULL; list++) {
		if (g_ascii_strcasecmp(*list, addr) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
in_array(GPtrArray *list, const char *addr)
{
	guint i;

	for (i = 0; i < list->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(list, i), addr) == 0)
			return TRUE;
	}
	return FALSE;
}

/* "\r\n" when the file's first line ends so (the engine writes CRLF), else "\n". */
static const char *
line_end_of(const char *path)
{
	char buf[1024];
	FILE *f = g_fopen(path, "rb");
	const char *eol = "\n";

	if (f != NULL && fgets(buf, sizeof(buf), f) != NULL) {
		size_t n = strlen(buf);

		if (n >= 2 && buf[n - 2] == '\r' && buf[n - 1] == '\n')
			eol = "\r\n";
	}
	if (f != NULL)
		fclose(f);
	return eol;
}

/*
 * The send command's argv for a copy: as configured for the To/Cc copy; for a
 * Bcc copy without -t (which would take the recipients from the To and Cc
 * headers it shares with them) and with "--" and its addresses appended
 * ("--" so that no address is read as an option).
 */
static GStrv
command_argv(const char *command, const char *const *envelope, GError **error)
{
	GPtrArray *out;
	char **argv = NULL;
	size_t i;

	if (!g_shell_parse_argv(command, NULL, &argv, error))
		return NULL;
	if (envelope == NULL)
		return argv;
	out = g_ptr_array_new();
	for (i = 0; argv[i] != NULL; i++) {
		if (strcmp(argv[i], "-t") != 0)
			g_ptr_array_add(out, g_strdup(argv[i]));
	}
	g_ptr_array_add(out, g_strdup("--"));
	for (i = 0; envelope[i] != NULL; i++)
		g_ptr_array_add(out, g_strdup(envelope[i]));
	g_ptr_array_add(out, NULL);
	g_strfreev(argv);
	return (GStrv)g_ptr_array_free(out, FALSE);
}

/* Hands one copy to the account's send command (stdin) or its outbox. */
static gboolean
deliver(struct send_job *j, const struct copy *c, GError **error)
{
	GSubprocessLauncher *l = NULL;
	GSubprocess *p = NULL;
	char **argv = NULL, *out = NULL, *who = NULL, *prefix = NULL;
	gboolean ok = FALSE;

	if (j->account->outbox != NULL) {
		if (c->envelope != NULL) {
			who = g_strjoinv(", ", c->envelope);
			prefix = g_strdup_printf("%s: %s%s", SEND_ENVELOPE_FIELD, who,
			                         line_end_of(c->path));
		}
		if (!mail_maildir_deliver(j->account->outbox, c->path, prefix, &out, error))
			goto out;
		g_ptr_array_add(j->delivered, out);
		ok = TRUE;
		goto out;
	}
	if ((argv = command_argv(j->account->send_command, (const char *const *)c->envelope,
	                         error)) == NULL)
		goto out;
	l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE |
	                              G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_subprocess_launcher_set_stdin_file_path(l, c->path);
	p = g_subprocess_launcher_spawnv(l, (const char *const *)argv, error);
	ok = p != NULL && g_subprocess_wait_check(p, NULL, error);
out:
	g_clear_object(&p);
	g_clear_object(&l);
	g_strfreev(argv);
	g_free(who);
	g_free(prefix);
	return ok;
}

static void
post(struct send_job *j, int kind, guint64 value)
{
	if (j->on_event != NULL && j->event_target != NULL)
		engine_post_event(j->on_event, j->event_target, kind, value, "");
}

/*
 * The copies of what PROTECT wrote in dir: each output stream the reply
 * names (a Bcc stream to its recipient alone), then stream 0 for each Bcc
 * recipient without a stream of their own (not encrypted: they read the
 * To/Cc copy, which names no Bcc recipient). A dropped recipient gets nothing.
 */
static gboolean
plan_protected(struct send_job *j, const char *json, const char *dir, GPtrArray *copies,
               GError **error)
{
	GPtrArray *outputs = ej_outputs_parse(json);
	GStrv bcc = mail_list_addresses(j->draft->bcc);
	GPtrArray *covered = g_ptr_array_new();
	char *main_path = g_strdup_printf("%s/stream-0.eml", dir);
	gboolean ok = FALSE, encrypted = (j->flags & CS_PROTECT_ENCRYPT) != 0;
	guint i, k;

	add_copy(copies, main_path, NULL);
	for (i = 0; i < outputs->len; i++) {
		const struct ej_output *o = g_ptr_array_index(outputs, i);
		char *path;
		gboolean all_dropped = TRUE;

		if (o->stream == 0)
			continue;
		for (k = 0; o->recipients[k] != NULL; k++) {
			g_ptr_array_add(covered, o->recipients[k]);
			all_dropped = all_dropped && has_address((const char *const *)j->dropped,
			                                         o->recipients[k]);
		}
		path = g_strdup_printf("%s/stream-%u.eml", dir, o->stream);
		if (g_file_test(path, G_FILE_TEST_EXISTS) && o->recipients[0] != NULL)
			add_copy(copies, path, (const char *const *)o->recipients);
		else if (!all_dropped || o->recipients[0] == NULL) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "the engine wrote no copy for Bcc stream %u", o->stream);
			g_free(path);
			goto out;
		}
		g_free(path);
	}
	for (i = 0; bcc[i] != NULL; i++) {
		const char *one[] = {bcc[i], NULL};

		if (in_array(covered, bcc[i]) ||
		    has_address((const char *const *)j->dropped, bcc[i]))
			continue;
		/* Encrypted, the To/Cc copy is not theirs to read: that would be a bug to stop on.
		 */
		if (encrypted) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED,
			            "the engine made no copy for the Bcc recipient %s", bcc[i]);
			goto out;
		}
		add_copy(copies, main_path, one);
	}
	ok = TRUE;
out:
	g_ptr_array_unref(outputs);
	g_ptr_array_unref(covered);
	g_strfreev(bcc);
	g_free(main_path);
	return ok;
}

/* Not protected: the message without its Bcc field, once by its headers, once per Bcc. */
static void
plan_plain(struct send_job *j, const char *draft, GPtrArray *copies)
{
	GStrv bcc = mail_list_addresses(j->draft->bcc);
	guint i;

	add_copy(copies, draft, NULL);
	for (i = 0; bcc[i] != NULL; i++) {
		const char *one[] = {bcc[i], NULL};

		add_copy(copies, draft, one);
	}
	g_strfreev(bcc);
}

/* The bytes PROTECT will read: the message once per copy it encrypts. */
static guint64
expected_total(struct send_job *j, const char *draft)
{
	GStatBuf st;
	GStrv bcc;
	guint64 n = 1;

	if (g_stat(draft, &st) != 0)
		return 0;
	if (j->flags & CS_PROTECT_ENCRYPT) {
		bcc = mail_list_addresses(j->draft->bcc);
		n += g_strv_length(bcc);
		g_strfreev(bcc);
	}
	return (guint64)st.st_size * n;
}

static void
send_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
	struct send_job *j = data;
	struct engine_job *job = NULL;
	GPtrArray *copies = g_ptr_array_new_with_free_func((GDestroyNotify)copy_free);
	GError *e = NULL;
	char *dir = NULL, *draft = NULL;
	guint i;

	(void)source;
	(void)cancel;
	j->delivered = g_ptr_array_new_with_free_func(g_free);
	if ((dir = csg_private_tmpdir(&e)) == NULL)
		goto out;
	draft = g_build_filename(dir, "draft.eml", NULL);
	/* PROTECT needs the Bcc field (and takes it out); a message sent as it is must not have it.
	 */
	if (!mail_draft_write(j->draft, j->flags != 0, draft, &e))
		goto out;
	post(j, SEND_EVENT_TOTAL, expected_total(j, draft));
	if (j->flags == 0) {
		plan_plain(j, draft, copies);
	} else {
		job = engine_job_new(ENGINE_OP_PROTECT);
		job->in_path = g_strdup(draft);
		job->out_dir = g_strdup(dir);
		job->flags = j->flags;
		job->account = g_strdup(j->account->address);
		engine_job_set_events(job, j->on_event, j->event_target);
		engine_job_run_sync(job);
		j->err = job->err;
		if (job->err != 0) {
			j->error_details = g_strdup(job->error_details);
			goto out;
		}
		j->dropped = ej_string_list(job->json, "dropped");
		if (!plan_protected(j, job->json, dir, copies, &e))
			goto out;
	}
	j->planned = copies->len;
	post(j, SEND_EVENT_DELIVERING, copies->len);
	for (i = 0; i < copies->len && e == NULL; i++) {
		if (deliver(j, g_ptr_array_index(copies, i), &e))
			j->copies++;
	}
out:
	if (e != NULL) {
		j->message = g_strdup(e->message);
		g_clear_error(&e);
	}
	g_ptr_array_unref(copies);
	engine_job_free(job);
	csg_remove_tmpdir(dir);
	g_free(dir);
	g_free(draft);
	g_task_return_boolean(task, TRUE);
}

void
send_run(struct send_job *j, GAsyncReadyCallback done, gpointer data)
{
	GTask *task = g_task_new(NULL, NULL, done, data);

	/* No destroy notify: the done callback always takes the job back. */
	g_task_set_task_data(task, j, NULL);
	g_task_run_in_thread(task, send_in_thread);
	g_object_unref(task);
}

struct send_job *
send_run_finish(GAsyncResult *res)
{
	GTask *task = G_TASK(res);
	struct send_job *j = g_task_get_task_data(task);

	return j;
}
