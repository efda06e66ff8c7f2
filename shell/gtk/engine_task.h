/*
 * Engine requests off the GTK main loop. Each request runs in a worker
 * thread (GTask) on its own connection through the client library; engine
 * events (insert your card, waiting for the PIN, progress) reach the UI
 * thread through the main context. The GUI never decides anything
 * cryptographic: it hands the engine files and shows what comes back.
 */
#ifndef CSG_ENGINE_TASK_H
#define CSG_ENGINE_TASK_H

#include <gio/gio.h>
#include <stdint.h>

/* Called in the UI thread for each engine event of a request (CS_EVENT_*). */
typedef void (*engine_event_fn)(gpointer target, int kind, guint64 value, const char *detail);

enum engine_op {
	ENGINE_OP_STATUS,  /* STATUS */
	ENGINE_OP_JSON,    /* a one-frame request: type + body */
	ENGINE_OP_READ,    /* READ in_path -> out_path */
	ENGINE_OP_PROTECT, /* PROTECT in_path -> out_dir/stream-N.eml */
	ENGINE_OP_INSTALL, /* CERTS_INSTALL of the signed message in in_path */
};

struct engine_job {
	enum engine_op op;
	/* What to do. */
	uint8_t type; /* ENGINE_OP_JSON: a CS_MSG_* */
	GBytes *body; /* ENGINE_OP_JSON: its body */
	char *in_path;
	char *out_path; /* READ: the innermost message */
	char *out_dir;  /* PROTECT: where stream-0.eml, stream-1.eml ... go */
	uint32_t flags;
	char *account;
	/* What happened (valid once the job is finished). */
	int err;             /* 0 or a negative CS_ERR_* */
	char *json;          /* the OK reply's JSON, or NULL */
	char *error_details; /* the ERROR's details JSON, or NULL */
	guint n_outputs;     /* PROTECT: streams written */
	/* Events go to on_event(event_target) in the UI thread; the job holds a reference. */
	engine_event_fn on_event;
	GObject *event_target;
};

struct engine_job *engine_job_new(enum engine_op op);
void engine_job_free(struct engine_job *job);
void engine_job_set_events(struct engine_job *job, engine_event_fn fn, gpointer target);

/* One-frame requests with their bodies laid out as cs_proto.h says. */
struct engine_job *engine_job_settings_get(const char *account);
struct engine_job *engine_job_settings_set(const char *account, const char *key, const char *value);
struct engine_job *engine_job_policy_get(void);
struct engine_job *engine_job_certs_list(const char *address);
/* CERTS_CHOOSE: which certificates PROTECT would use now for account and recipients (NULL-ended).
 */
struct engine_job *engine_job_certs_choose(const char *account, const char *const *recipients);

/*
 * Runs job in a worker thread; done is called in the UI thread with source
 * NULL and a result from which engine_run_finish takes the job back. The
 * job belongs to the task until then.
 */
void engine_run(struct engine_job *job, GAsyncReadyCallback done, gpointer user_data);
struct engine_job *engine_run_finish(GAsyncResult *result);

/* Hands an event to fn(target) in the UI thread (from any thread). */
void engine_post_event(engine_event_fn fn, GObject *target, int kind, guint64 value,
                       const char *detail);

/* Runs job in the calling thread (a worker's own: it blocks on the engine). */
void engine_job_run_sync(struct engine_job *job);

/* The engine's words for an error, for people. */
const char *engine_error_text(int err);

/*
 * The token-event subscription: a thread that stays subscribed (reconnecting
 * when the engine goes away) and calls fn(target) in the UI thread for every
 * token change. engine_watch_stop ends it.
 */
struct engine_watch;
struct engine_watch *engine_watch_start(engine_event_fn fn, gpointer target);
void engine_watch_stop(struct engine_watch *w);

#endif
