/* Sending in a worker thread: draft, PROTECT, then the send command or the outbox. */
#include "send.h"

#include <string.h>

#include <glib/gstdio.h>

#include "app.h"
#include "cs_proto.h"

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

/* Hands one finished message to the account's send command (stdin) or its outbox. */
static gboolean
deliver(struct send_job *j, const char *path, GError **error)
{
	GSubprocessLauncher *l;
	GSubprocess *p;
	char **argv = NULL, *out = NULL;
	gboolean ok;

	if (j->account->outbox != NULL) {
		ok = mail_maildir_deliver(j->account->outbox, path, &out, error);
		if (ok)
			g_ptr_array_add(j->delivered, out);
		return ok;
	}
	if (!g_shell_parse_argv(j->account->send_command, NULL, &argv, error))
		return FALSE;
	l = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDERR_MERGE |
	                              G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
	g_subprocess_launcher_set_stdin_file_path(l, path);
	p = g_subprocess_launcher_spawnv(l, (const char *const *)argv, error);
	ok = p != NULL && g_subprocess_wait_check(p, NULL, error);
	g_clear_object(&p);
	g_object_unref(l);
	g_strfreev(argv);
	return ok;
}

static void
post_total(struct send_job *j, guint64 total)
{
	if (j->on_event != NULL && j->event_target != NULL)
		engine_post_event(j->on_event, j->event_target, SEND_EVENT_TOTAL, total, "");
}

static void
send_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
	struct send_job *j = data;
	struct engine_job *job = NULL;
	GError *e = NULL;
	char *dir = NULL, *draft = NULL;
	GStatBuf st;
	guint i;

	(void)source;
	(void)cancel;
	j->delivered = g_ptr_array_new_with_free_func(g_free);
	if ((dir = csg_private_tmpdir(&e)) == NULL)
		goto out;
	draft = g_build_filename(dir, "draft.eml", NULL);
	if (!mail_draft_write(j->draft, draft, &e))
		goto out;
	if (g_stat(draft, &st) == 0)
		post_total(j, (guint64)st.st_size);
	if (j->flags == 0) {
		(void)deliver(j, draft, &e);
		goto out;
	}
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
	for (i = 0; i < job->n_outputs && e == NULL; i++) {
		char *path = g_strdup_printf("%s/stream-%u.eml", dir, i);

		(void)deliver(j, path, &e);
		g_free(path);
	}
out:
	if (e != NULL) {
		j->message = g_strdup(e->message);
		g_clear_error(&e);
	}
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
