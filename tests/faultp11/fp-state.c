/*
 * The state of the fault injector: the wrapped module, what it knows of slots and sessions,
 * and the rules of the current control file generation, all behind one mutex.
 *
 * Session handles given to the caller are our own and never reused, so that a session lost
 * with its token stays invalid even after the wrapped module hands its handle out again.
 * Slot ids are the wrapped module's.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "faultp11.h"

#define DEFAULT_MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define MAX_SLOTS 64

struct slot {
	CK_SLOT_ID id;
	char label[FP_LABEL_MAX + 1]; /* blanks trimmed; empty when there is no token */
	bool hidden;
	bool event; /* presence changed since C_WaitForSlotEvent said so */
};

struct session {
	CK_SESSION_HANDLE handle; /* the caller's */
	CK_SESSION_HANDLE real;   /* the wrapped module's */
	CK_SLOT_ID slot;
	unsigned int busy; /* calls on it running in the wrapped module */
	bool removed;      /* its token was pulled */
	bool closed;       /* and the real session is closed */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t closed; /* a removed session was closed */
	bool initialized;
	void *dl;
	CK_FUNCTION_LIST *fl;
	char *control_path;
	struct fp_ident control_id;
	struct fp_rules rules;
	struct slot slots[MAX_SLOTS];
	size_t n_slots;
	bool slots_full_reported;
	struct session *sessions;
	size_t n_sessions;
	size_t cap_sessions;
	CK_SESSION_HANDLE last_handle;
} st = {.lock = PTHREAD_MUTEX_INITIALIZER, .closed = PTHREAD_COND_INITIALIZER};

static struct slot *
find_slot(CK_SLOT_ID id)
{
	for (size_t i = 0; i < st.n_slots; i++) {
		if (st.slots[i].id == id)
			return &st.slots[i];
	}
	return NULL;
}

static struct session *
find_session(CK_SESSION_HANDLE handle)
{
	for (size_t i = 0; i < st.n_sessions; i++) {
		if (st.sessions[i].handle == handle)
			return &st.sessions[i];
	}
	return NULL;
}

static void
drop_session(struct session *s)
{
	*s = st.sessions[--st.n_sessions];
}

/* Closes the real session of a removed one, once no call runs on it. */
static void
close_removed_locked(struct session *sess)
{
	if (!sess->removed || sess->closed || sess->busy != 0)
		return;
	/* Under the lock: C_CloseSession is short and calls nothing of ours. */
	st.fl->C_CloseSession(sess->real);
	sess->closed = true;
	pthread_cond_broadcast(&st.closed);
}

/* Returns true while a removed session of the slot waits for its calls to end. */
static bool
slot_has_unclosed_locked(CK_SLOT_ID slot)
{
	for (size_t i = 0; i < st.n_sessions; i++) {
		if (st.sessions[i].slot == slot && st.sessions[i].removed && !st.sessions[i].closed)
			return true;
	}
	return false;
}

/*
 * Makes the slot's presence follow the rules. A pulled token takes its sessions with it:
 * each is closed in the wrapped module as soon as no call runs on it (SoftHSM frees a
 * session under a C_Sign still running in another thread). They stay known as removed
 * until the token is back, so that calls on them say CKR_DEVICE_REMOVED until then and
 * CKR_SESSION_HANDLE_INVALID after. A token put back waits for those closes: closing the
 * token's last session is what logs it out, as a re-inserted card is.
 */
static void
apply_presence_locked(struct slot *s)
{
	bool hide;

	for (;;) {
		hide = s->label[0] != '\0' && fp_rules_hidden(&st.rules, s->label);
		if (hide == s->hidden)
			return;
		if (hide || !slot_has_unclosed_locked(s->id))
			break;
		/* The rules may change while we wait: look again after. */
		pthread_cond_wait(&st.closed, &st.lock);
	}
	s->hidden = hide;
	s->event = true;
	for (size_t i = 0; i < st.n_sessions;) {
		struct session *sess = &st.sessions[i];

		if (sess->slot != s->id) {
			i++;
		} else if (hide && !sess->removed) {
			sess->removed = true;
			close_removed_locked(sess);
			i++;
		} else if (!hide && sess->removed) {
			drop_session(sess);
		} else {
			i++;
		}
	}
}

/* Re-reads the control file if its identity changed and applies the new rules. */
static void
reload_locked(void)
{
	struct fp_rules rules;
	struct fp_ident id;
	struct stat sb;
	int r;

	if (st.control_path == NULL)
		return;
	id = fp_ident_of(stat(st.control_path, &sb) == 0 ? &sb : NULL);
	if (fp_ident_equal(&id, &st.control_id))
		return;
	r = fp_rules_load(st.control_path, stderr, &id, &rules);
	if (r < 0 && r != -EFBIG)
		fprintf(stderr, "faultp11: cannot read %s: %s\n", st.control_path, strerror(-r));
	if (fp_ident_equal(&id, &st.control_id))
		return;
	st.control_id = id;
	st.rules = rules;
	if (st.rules.reset_counters)
		fp_counters_reset();
	for (size_t i = 0; i < st.n_slots; i++)
		apply_presence_locked(&st.slots[i]);
}

/* Starts every call: refuses before C_Initialize, then brings the rules up to date. */
static CK_RV
enter_locked(struct fp_call *c, enum fp_fn fn)
{
	memset(c, 0, sizeof(*c));
	c->fn = fn;
	if (!st.initialized)
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	c->fl = st.fl;
	reload_locked();
	return CKR_OK;
}

/* Applies the flags and fail rules of the call's token (s NULL: the call has none). */
static CK_RV
judge_locked(struct fp_call *c, const struct slot *s)
{
	const char *label = s != NULL && s->label[0] != '\0' ? s->label : NULL;
	CK_RV rv;

	if (label != NULL)
		c->token_flags = fp_rules_flags(&st.rules, label);
	if (fp_rules_take_failure(&st.rules, c->fn, label, &rv)) {
		c->injected = true;
		return rv;
	}
	return CKR_OK;
}

CK_RV
fp_enter(struct fp_call *c, enum fp_fn fn)
{
	CK_RV rv;

	pthread_mutex_lock(&st.lock);
	if ((rv = enter_locked(c, fn)) == CKR_OK)
		rv = judge_locked(c, NULL);
	pthread_mutex_unlock(&st.lock);
	return rv;
}

CK_RV
fp_enter_slot(struct fp_call *c, enum fp_fn fn, CK_SLOT_ID slot, bool need_token)
{
	CK_FUNCTION_LIST *fl;
	struct slot *s;
	CK_RV rv;

	/* A slot the caller found without C_GetSlotList (a guess, a stale id) is learnt here. */
	pthread_mutex_lock(&st.lock);
	fl = st.initialized && find_slot(slot) == NULL ? st.fl : NULL;
	pthread_mutex_unlock(&st.lock);
	if (fl != NULL)
		fp_slots_learn(fl, &slot, 1);

	pthread_mutex_lock(&st.lock);
	if ((rv = enter_locked(c, fn)) != CKR_OK)
		goto out;
	s = find_slot(slot);
	c->slot = slot;
	c->hidden = s != NULL && s->hidden;
	if (c->hidden && need_token) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	rv = judge_locked(c, s);
out:
	pthread_mutex_unlock(&st.lock);
	return rv;
}

CK_RV
fp_enter_session(struct fp_call *c, enum fp_fn fn, CK_SESSION_HANDLE session)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv;

	pthread_mutex_lock(&st.lock);
	if ((rv = enter_locked(c, fn)) != CKR_OK)
		goto out;
	if ((sess = find_session(session)) == NULL) {
		rv = CKR_SESSION_HANDLE_INVALID;
		goto out;
	}
	s = find_slot(sess->slot);
	c->slot = sess->slot;
	c->hidden = s != NULL && s->hidden;
	c->handle = session;
	if (sess->removed) {
		rv = c->hidden ? CKR_DEVICE_REMOVED : CKR_SESSION_HANDLE_INVALID;
		goto out;
	}
	/* Whether forwarded or failed here (an operation to end), the real session is used. */
	c->real = sess->real;
	c->held = true;
	sess->busy++;
	rv = judge_locked(c, s);
out:
	pthread_mutex_unlock(&st.lock);
	return rv;
}

CK_RV
fp_leave(const struct fp_call *c, CK_RV rv, bool did_work)
{
	struct session *sess;

	if (rv == CKR_OK && did_work)
		fp_counters_add(c->fn);
	if (!c->held)
		return rv;
	pthread_mutex_lock(&st.lock);
	/* Gone if the caller closed it meanwhile, or a re-insert dropped it. */
	if ((sess = find_session(c->handle)) != NULL) {
		sess->busy--;
		/* A call that failed while its token was pulled failed because of it. */
		if (sess->removed && rv != CKR_OK)
			rv = CKR_DEVICE_REMOVED;
		close_removed_locked(sess);
	}
	pthread_mutex_unlock(&st.lock);
	return rv;
}

static void
set_label_locked(struct slot *s, const CK_UTF8CHAR *label32)
{
	size_t n = FP_LABEL_MAX;

	while (n > 0 && (label32[n - 1] == ' ' || label32[n - 1] == '\0'))
		n--;
	memcpy(s->label, label32, n);
	s->label[n] = '\0';
}

void
fp_slots_learn(CK_FUNCTION_LIST *fl, const CK_SLOT_ID *slots, CK_ULONG n)
{
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;
		struct slot *s;
		bool known;
		CK_RV rv;

		pthread_mutex_lock(&st.lock);
		known = find_slot(slots[i]) != NULL;
		pthread_mutex_unlock(&st.lock);
		if (known)
			continue;
		/* Asked without the lock: a token may take its time to answer. */
		rv = fl->C_GetTokenInfo(slots[i], &info);
		if (rv != CKR_OK && rv != CKR_TOKEN_NOT_PRESENT && rv != CKR_TOKEN_NOT_RECOGNIZED)
			continue;

		pthread_mutex_lock(&st.lock);
		if (find_slot(slots[i]) != NULL) {
			/* another thread was quicker */
		} else if (st.n_slots == MAX_SLOTS) {
			if (!st.slots_full_reported)
				fprintf(stderr,
				        "faultp11: more than %d slots; the others cannot be "
				        "hidden\n",
				        MAX_SLOTS);
			st.slots_full_reported = true;
		} else {
			s = &st.slots[st.n_slots++];
			memset(s, 0, sizeof(*s));
			s->id = slots[i];
			if (rv == CKR_OK)
				set_label_locked(s, info.label);
			/* Hidden from the start is not a change the caller could have seen. */
			s->hidden = s->label[0] != '\0' && fp_rules_hidden(&st.rules, s->label);
		}
		pthread_mutex_unlock(&st.lock);
	}
}

bool
fp_slot_hidden(CK_SLOT_ID slot)
{
	struct slot *s;
	bool hidden;

	pthread_mutex_lock(&st.lock);
	s = find_slot(slot);
	hidden = s != NULL && s->hidden;
	pthread_mutex_unlock(&st.lock);
	return hidden;
}

void
fp_slot_set_label(CK_SLOT_ID slot, const CK_UTF8CHAR *label32)
{
	struct slot *s;

	pthread_mutex_lock(&st.lock);
	if ((s = find_slot(slot)) != NULL) {
		set_label_locked(s, label32);
		apply_presence_locked(s);
	}
	pthread_mutex_unlock(&st.lock);
}

bool
fp_slot_take_event(CK_SLOT_ID *ret_slot)
{
	bool found = false;

	pthread_mutex_lock(&st.lock);
	for (size_t i = 0; i < st.n_slots && !found; i++) {
		if (st.slots[i].event) {
			st.slots[i].event = false;
			*ret_slot = st.slots[i].id;
			found = true;
		}
	}
	pthread_mutex_unlock(&st.lock);
	return found;
}

CK_RV
fp_session_add(CK_SLOT_ID slot, CK_SESSION_HANDLE real, CK_SESSION_HANDLE *ret)
{
	struct session *sess;
	struct slot *s;
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&st.lock);
	/* The token may have been pulled while the wrapped module opened the session. */
	if ((s = find_slot(slot)) != NULL && s->hidden) {
		rv = CKR_DEVICE_REMOVED;
		goto out;
	}
	if (st.n_sessions == st.cap_sessions) {
		size_t cap = st.cap_sessions != 0 ? st.cap_sessions * 2 : 16;
		struct session *grown = realloc(st.sessions, cap * sizeof(*grown));

		if (grown == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		st.sessions = grown;
		st.cap_sessions = cap;
	}
	sess = &st.sessions[st.n_sessions++];
	sess->handle = ++st.last_handle;
	sess->real = real;
	sess->slot = slot;
	sess->busy = 0;
	sess->removed = false;
	sess->closed = false;
	*ret = sess->handle;
out:
	if (rv != CKR_OK)
		st.fl->C_CloseSession(real);
	pthread_mutex_unlock(&st.lock);
	return rv;
}

void
fp_session_forget(CK_SESSION_HANDLE session)
{
	struct session *sess;

	pthread_mutex_lock(&st.lock);
	if ((sess = find_session(session)) != NULL)
		drop_session(sess);
	pthread_mutex_unlock(&st.lock);
}

void
fp_session_forget_slot(CK_SLOT_ID slot)
{
	pthread_mutex_lock(&st.lock);
	for (size_t i = 0; i < st.n_sessions;) {
		if (st.sessions[i].slot == slot)
			drop_session(&st.sessions[i]);
		else
			i++;
	}
	pthread_mutex_unlock(&st.lock);
}

/* Sets where the control file is; a new place starts a new generation. */
static CK_RV
set_control_path_locked(const char *path)
{
	char *copy = NULL;

	if (path != NULL && path[0] == '\0')
		path = NULL;
	if (path == NULL ? st.control_path == NULL
	                 : st.control_path != NULL && strcmp(path, st.control_path) == 0)
		return CKR_OK;
	if (path != NULL && (copy = strdup(path)) == NULL)
		return CKR_HOST_MEMORY;
	free(st.control_path);
	st.control_path = copy;
	st.control_id = fp_ident_of(NULL);
	memset(&st.rules, 0, sizeof(st.rules));
	return CKR_OK;
}

/* Learns every slot the wrapped module has, so that hide rules find their tokens. */
static void
learn_all_slots(CK_FUNCTION_LIST *fl)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;

	if (fl->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_OK || n == 0)
		goto out;
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		goto out;
	if (fl->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK)
		goto out;
	fp_slots_learn(fl, slots, n);
out:
	free(slots);
}

CK_RV
fp_state_initialize(CK_VOID_PTR init_args)
{
	const char *module = getenv("FAULTP11_MODULE");
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST *fl = NULL;
	struct fp_call c;
	void *dl = NULL;
	CK_RV rv;

	if (module == NULL || module[0] == '\0')
		module = DEFAULT_MODULE;
	pthread_mutex_lock(&st.lock);
	if (st.initialized) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	if ((rv = set_control_path_locked(getenv("FAULTP11_CONTROL"))) != CKR_OK)
		goto out;
	if (fp_counters_set_file(getenv("FAULTP11_COUNTERS")) != 0) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	/* The rules are read before anything is loaded, so that C_Initialize can be failed. */
	memset(&c, 0, sizeof(c));
	c.fn = FP_C_Initialize;
	reload_locked();
	if ((rv = judge_locked(&c, NULL)) != CKR_OK)
		goto out;

	if ((dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "faultp11: cannot load %s: %s\n", module, dlerror());
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&fl) != CKR_OK || fl == NULL) {
		fprintf(stderr, "faultp11: %s has no usable C_GetFunctionList\n", module);
		rv = CKR_GENERAL_ERROR;
		goto out;
	}
	if ((rv = fl->C_Initialize(init_args)) != CKR_OK)
		goto out;
	st.dl = dl;
	st.fl = fl;
	st.initialized = true;
	dl = NULL;
out:
	pthread_mutex_unlock(&st.lock);
	if (dl != NULL)
		dlclose(dl);
	if (rv == CKR_OK) {
		learn_all_slots(fl);
		fp_counters_add(FP_C_Initialize);
	}
	return rv;
}

CK_RV
fp_state_finalize(CK_VOID_PTR reserved)
{
	struct fp_call c;
	void *dl = NULL;
	CK_RV rv;

	pthread_mutex_lock(&st.lock);
	if ((rv = enter_locked(&c, FP_C_Finalize)) != CKR_OK ||
	    (rv = judge_locked(&c, NULL)) != CKR_OK)
		goto out;
	if ((rv = st.fl->C_Finalize(reserved)) != CKR_OK)
		goto out;
	/* The rules and their generation outlive us: "once" means once, across re-inits. */
	free(st.sessions);
	st.sessions = NULL;
	st.n_sessions = 0;
	st.cap_sessions = 0;
	st.n_slots = 0;
	st.slots_full_reported = false;
	st.fl = NULL;
	dl = st.dl;
	st.dl = NULL;
	st.initialized = false;
out:
	pthread_mutex_unlock(&st.lock);
	if (dl != NULL)
		dlclose(dl);
	if (rv == CKR_OK)
		fp_counters_add(FP_C_Finalize);
	return rv;
}

/* What outlives C_Finalize (the control file's place and rules) goes when we are unloaded. */
static __attribute__((destructor)) void
fp_state_unload(void)
{
	free(st.control_path);
	st.control_path = NULL;
	free(st.sessions);
	st.sessions = NULL;
	fp_counters_set_file(NULL);
}
