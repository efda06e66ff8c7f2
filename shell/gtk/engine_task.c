/* Engine requests in worker threads; their events handed to the UI thread. */
#include "engine_task.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_client.h"
#include "cs_error.h"
#include "cs_proto.h"

struct engine_job *
engine_job_new(enum engine_op op)
{
	struct engine_job *job = g_new0(struct engine_job, 1);

	job->op = op;
	return job;
}

void
engine_job_free(struct engine_job *job)
{
	if (job == NULL)
		return;
	g_clear_pointer(&job->body, g_bytes_unref);
	g_free(job->in_path);
	g_free(job->out_path);
	g_free(job->out_dir);
	g_free(job->account);
	g_free(job->json);
	g_free(job->error_details);
	g_clear_object(&job->event_target);
	g_free(job);
}

void
engine_job_set_events(struct engine_job *job, engine_event_fn fn, gpointer target)
{
	job->on_event = fn;
	g_set_object(&job->event_target, target);
}

/* A JSON job whose body is the strings given (NULL-terminated), each as a str. */
static struct engine_job *
json_job(uint8_t type, const char *const *strings)
{
	struct engine_job *job = engine_job_new(ENGINE_OP_JSON);
	struct cs_buf b;
	size_t i;
	int r = 0;

	cs_buf_init(&b, CS_PROTO_MAX_FRAME);
	for (i = 0; strings != NULL && strings[i] != NULL && r == 0; i++)
		r = cs_buf_put_str(&b, strings[i]);
	job->type = type;
	/* A body that did not fit becomes an empty one: the engine then refuses it, in words. */
	job->body = r == 0 ? g_bytes_new(b.data, b.len) : g_bytes_new(NULL, 0);
	cs_buf_clear(&b);
	return job;
}

struct engine_job *
engine_job_settings_get(const char *account)
{
	const char *s[] = {account != NULL ? account : "", NULL};

	return json_job(CS_MSG_SETTINGS_GET, s);
}

struct engine_job *
engine_job_settings_set(const char *account, const char *key, const char *value)
{
	const char *s[] = {account, key, value, NULL};

	return json_job(CS_MSG_SETTINGS_SET, s);
}

struct engine_job *
engine_job_policy_get(void)
{
	return json_job(CS_MSG_POLICY_GET, NULL);
}

struct engine_job *
engine_job_certs_list(const char *address)
{
	const char *s[] = {address != NULL ? address : "", NULL};

	return json_job(CS_MSG_CERTS_LIST, s);
}

struct engine_job *
engine_job_certs_choose(const char *account, const char *const *recipients)
{
	struct engine_job *job = engine_job_new(ENGINE_OP_JSON);
	struct cs_buf b;
	uint32_t n = 0, i;
	int r;

	while (recipients != NULL && recipients[n] != NULL)
		n++;
	cs_buf_init(&b, CS_PROTO_MAX_FRAME);
	r = cs_buf_put_str(&b, account);
	if (r == 0)
		r = cs_buf_put_u32(&b, n);
	for (i = 0; r == 0 && i < n; i++)
		r = cs_buf_put_str(&b, recipients[i]);
	job->type = CS_MSG_CERTS_CHOOSE;
	job->body = r == 0 ? g_bytes_new(b.data, b.len) : g_bytes_new(NULL, 0);
	cs_buf_clear(&b);
	return job;
}

/* An event on its way to the UI thread. */
struct event_msg {
	engine_event_fn fn;
	GObject *target;
	int kind;
	guint64 value;
	char *detail;
};

static gboolean
deliver_in_ui(gpointer data)
{
	struct event_msg *m = data;

	m->fn(m->target, m->kind, m->value, m->detail);
	g_object_unref(m->target);
	g_free(m->detail);
	g_free(m);
	return G_SOURCE_REMOVE;
}

void
engine_post_event(engine_event_fn fn, GObject *target, int kind, guint64 value, const char *detail)
{
	struct event_msg *m = g_new0(struct event_msg, 1);

	m->fn = fn;
	m->target = g_object_ref(target);
	m->kind = kind;
	m->value = value;
	m->detail = g_strdup(detail != NULL ? detail : "");
	g_main_context_invoke(NULL, deliver_in_ui, m);
}

/* The client library's callback, in the worker thread. */
static void
on_client_event(void *arg, int kind, uint64_t value, const char *detail)
{
	struct engine_job *job = arg;

	if (job->on_event != NULL && job->event_target != NULL)
		engine_post_event(job->on_event, job->event_target, kind, value, detail);
}

/*
 * PROTECT's outputs: stream N to out_dir/stream-N.eml. One stream per Bcc
 * recipient, so their number is the message's to choose, up to a bound that
 * keeps a runaway engine from filling the directory.
 */
#define PROTECT_MAX_STREAMS 1024

struct protect_out {
	struct engine_job *job;
	GArray *fds; /* int, -1 where a stream is not open */
};

static int
open_protect_stream(void *arg, uint32_t stream)
{
	struct protect_out *po = arg;
	const int none = -1;
	char *path;
	int fd;

	if (stream >= PROTECT_MAX_STREAMS)
		return CS_ERR_TOO_LARGE;
	while (po->fds->len <= stream)
		g_array_append_val(po->fds, none);
	path = g_strdup_printf("%s/stream-%u.eml", po->job->out_dir, (unsigned)stream);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	g_free(path);
	if (fd < 0)
		return CS_ERR_IO;
	g_array_index(po->fds, int, stream) = fd;
	if (stream + 1 > po->job->n_outputs)
		po->job->n_outputs = stream + 1;
	return fd;
}

static int
run_protect(struct cs_client *c, struct engine_job *job, int in_fd)
{
	struct protect_out po;
	struct cs_client_outputs outputs = {open_protect_stream, &po};
	guint i;
	int r;

	po.job = job;
	po.fds = g_array_new(FALSE, FALSE, sizeof(int));
	r = cs_client_protect(c, job->flags, job->account != NULL ? job->account : "", in_fd,
	                      &outputs, &job->json);
	for (i = 0; i < po.fds->len; i++) {
		int fd = g_array_index(po.fds, int, i);

		/* A close that fails may have lost data: the output is not to be trusted. */
		if (fd >= 0 && close(fd) != 0 && r == 0)
			r = CS_ERR_IO;
	}
	g_array_unref(po.fds);
	return r;
}

static int
run_read(struct cs_client *c, struct engine_job *job, int in_fd)
{
	int out_fd, r;

	out_fd = open(job->out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out_fd < 0)
		return CS_ERR_IO;
	r = cs_client_read(c, job->flags, in_fd, out_fd, &job->json);
	if (close(out_fd) != 0 && r == 0)
		r = CS_ERR_IO;
	return r;
}

static int
run_json(struct cs_client *c, struct engine_job *job)
{
	struct cs_buf b;
	gsize n = 0;
	const void *p = job->body != NULL ? g_bytes_get_data(job->body, &n) : NULL;
	int r;

	cs_buf_init(&b, CS_PROTO_MAX_FRAME);
	r = n > 0 ? cs_buf_put(&b, p, n) : 0;
	if (r == 0)
		r = cs_client_request_json(c, job->type, &b, &job->json);
	cs_buf_clear(&b);
	return r;
}

/* One connection for the one request. */
void
engine_job_run_sync(struct engine_job *job)
{
	struct cs_client *c = NULL;
	int in_fd = -1, r;

	if (job->in_path != NULL && (in_fd = open(job->in_path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = CS_ERR_IO;
		goto out;
	}
	if ((r = cs_client_connect(NULL, 1, &c)) != 0)
		goto out;
	cs_client_set_event_cb(c, on_client_event, job);
	switch (job->op) {
	case ENGINE_OP_STATUS:
		r = cs_client_status(c, &job->json);
		break;
	case ENGINE_OP_JSON:
		r = run_json(c, job);
		break;
	case ENGINE_OP_READ:
		r = run_read(c, job, in_fd);
		break;
	case ENGINE_OP_PROTECT:
		r = run_protect(c, job, in_fd);
		break;
	case ENGINE_OP_INSTALL:
		r = cs_client_certs_install(c, job->flags, in_fd, &job->json);
		break;
	default:
		r = CS_ERR_INVALID_ARG;
		break;
	}
	if (r != 0) {
		const char *details = cs_client_error_details(c);

		job->error_details = g_strdup(details != NULL ? details : "");
	}
out:
	job->err = r;
	cs_client_close(c);
	if (in_fd >= 0)
		close(in_fd);
}

static void
run_in_thread(GTask *task, gpointer source, gpointer data, GCancellable *cancel)
{
	(void)source;
	(void)cancel;
	engine_job_run_sync(data);
	g_task_return_boolean(task, TRUE);
}

void
engine_run(struct engine_job *job, GAsyncReadyCallback done, gpointer user_data)
{
	GTask *task = g_task_new(NULL, NULL, done, user_data);

	/* No destroy notify: the done callback always takes the job back. */
	g_task_set_task_data(task, job, NULL);
	g_task_run_in_thread(task, run_in_thread);
	g_object_unref(task);
}

struct engine_job *
engine_run_finish(GAsyncResult *result)
{
	GTask *task = G_TASK(result);
	struct engine_job *job = g_task_get_task_data(task);

	/* The caller frees it. */
	return job;
}

const char *
engine_error_text(int err)
{
	switch (err) {
	case CS_ERR_NO_TOKEN:
		return "The smartcard holding your key is not inserted.";
	case CS_ERR_TOKEN_REMOVED:
		return "The smartcard was removed during the operation.";
	case CS_ERR_PIN_INCORRECT:
		return "The smartcard refused the PIN.";
	case CS_ERR_PIN_LOCKED:
		return "The smartcard's PIN is locked: ask your administrator to unblock it.";
	case CS_ERR_CANCELLED:
		return "Cancelled.";
	case CS_ERR_TIMEOUT:
		return "Nobody answered in time (the smartcard or the PIN dialog).";
	case CS_ERR_DECRYPT:
		return "This message cannot be decrypted with your keys.";
	case CS_ERR_NO_KEY:
	case CS_ERR_NOT_FOUND:
		return "None of your smartcards holds a key for this.";
	case CS_ERR_PERMISSION:
		return "Your administrator's policy forbids this.";
	case CS_ERR_UNKNOWN_TYPE:
		return "This engine does not offer that request yet.";
	case CS_ERR_NO_RECIPIENT_CERT:
		return "Some recipients have no encryption certificate.";
	default:
		return cs_strerror(err);
	}
}

/* The subscription thread. */
struct engine_watch {
	GThread *thread;
	volatile int stop;
	engine_event_fn fn;
	GObject *target;
};

static void
on_watch_event(void *arg, int kind, uint64_t value, const char *detail)
{
	struct engine_watch *w = arg;

	engine_post_event(w->fn, w->target, kind, value, detail);
}

static gpointer
watch_thread(gpointer data)
{
	struct engine_watch *w = data;
	struct cs_client *c;
	int i;

	while (!w->stop) {
		if (cs_client_connect(NULL, 1, &c) == 0) {
			cs_client_set_event_cb(c, on_watch_event, w);
			/* Tell the UI the subscription (re)started: it reloads the status. */
			on_watch_event(w, CS_EVENT_TOKEN_CHANGED, 0, "");
			(void)cs_client_subscribe(c, &w->stop);
			cs_client_close(c);
		}
		/* The engine went away (or never came): try again in a second or two. */
		for (i = 0; i < 10 && !w->stop; i++)
			g_usleep(200 * 1000);
	}
	return NULL;
}

struct engine_watch *
engine_watch_start(engine_event_fn fn, gpointer target)
{
	struct engine_watch *w = g_new0(struct engine_watch, 1);

	w->fn = fn;
	w->target = g_object_ref(target);
	w->thread = g_thread_new("cardseal-watch", watch_thread, w);
	return w;
}

void
engine_watch_stop(struct engine_watch *w)
{
	if (w == NULL)
		return;
	w->stop = 1;
	g_thread_join(w->thread);
	g_object_unref(w->target);
	g_free(w);
}
