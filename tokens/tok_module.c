/* Module loading, the slot and token list, sessions, and CK_RV mapping. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/p11-kit.h>

#include "cs_error.h"
#include "tok_internal.h"
#include "tok_keycache.h"

static _Thread_local CK_RV last_rv;

CK_RV
tok_last_rv(void)
{
	return last_rv;
}

int
tok_map_rv(CK_RV rv)
{
	last_rv = rv;
	switch (rv) {
	case CKR_OK:
		return 0;
	case CKR_HOST_MEMORY:
		return CS_ERR_NOMEM;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_TOKEN_NOT_RECOGNIZED:
		return CS_ERR_NO_TOKEN;
	case CKR_DEVICE_REMOVED:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
		return CS_ERR_TOKEN_REMOVED;
	case CKR_PIN_INCORRECT:
	case CKR_PIN_INVALID:
	case CKR_PIN_LEN_RANGE:
		return CS_ERR_PIN_INCORRECT;
	case CKR_PIN_LOCKED:
	case CKR_PIN_EXPIRED:
		return CS_ERR_PIN_LOCKED;
	case CKR_FUNCTION_CANCELED:
		return CS_ERR_CANCELLED;
	case CKR_MECHANISM_INVALID:
	case CKR_MECHANISM_PARAM_INVALID:
	case CKR_KEY_TYPE_INCONSISTENT:
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
	case CKR_FUNCTION_NOT_SUPPORTED:
		return CS_ERR_MECHANISM;
	case CKR_ENCRYPTED_DATA_INVALID:
	case CKR_ENCRYPTED_DATA_LEN_RANGE:
		return CS_ERR_DECRYPT;
	default:
		return CS_ERR_TOKEN;
	}
}

void
tok_copy_padded(char *dst, size_t dst_size, const CK_UTF8CHAR *src, size_t src_len)
{
	size_t n = src_len < dst_size - 1 ? src_len : dst_size - 1;

	memcpy(dst, src, n);
	while (n > 0 && (dst[n - 1] == ' ' || dst[n - 1] == '\0'))
		n--;
	dst[n] = '\0';
}

static int
add_module(struct tok_ctx *ctx, CK_FUNCTION_LIST *fn, const char *path)
{
	struct tok_module *m;

	m = realloc(ctx->modules, (ctx->n_modules + 1) * sizeof(*m));
	if (m == NULL)
		return CS_ERR_NOMEM;
	ctx->modules = m;
	m = &ctx->modules[ctx->n_modules++];
	memset(m, 0, sizeof(*m));
	m->fn = fn;
	snprintf(m->path, sizeof(m->path), "%s", path != NULL ? path : "(unknown)");
	return 0;
}

/* Loads one module by path through p11-kit (managed: p11-kit gives it OS locking). */
static int
load_module_path(struct tok_ctx *ctx, const char *path)
{
	CK_FUNCTION_LIST *fn;
	CK_RV rv;
	int r;

	fn = p11_kit_module_load(path, P11_KIT_MODULE_CRITICAL);
	if (fn == NULL)
		return CS_ERR_NOT_FOUND;
	if ((rv = p11_kit_module_initialize(fn)) != CKR_OK) {
		p11_kit_module_release(fn);
		return tok_map_rv(rv);
	}
	if ((r = add_module(ctx, fn, path)) != 0) {
		p11_kit_module_finalize(fn);
		p11_kit_module_release(fn);
	}
	return r;
}

static int
load_registered_modules(struct tok_ctx *ctx)
{
	size_t i;
	char *path;
	int r = 0;

	ctx->p11kit_modules = p11_kit_modules_load_and_initialize(0);
	if (ctx->p11kit_modules == NULL)
		return CS_ERR_NOT_FOUND;
	for (i = 0; ctx->p11kit_modules[i] != NULL && r == 0; i++) {
		path = p11_kit_module_get_filename(ctx->p11kit_modules[i]);
		r = add_module(ctx, ctx->p11kit_modules[i], path);
		free(path);
	}
	return r;
}

static int
load_module_list(struct tok_ctx *ctx, const char *modules)
{
	char *copy, *item, *save = NULL;
	int r = 0;

	if ((copy = strdup(modules)) == NULL)
		return CS_ERR_NOMEM;
	for (item = strtok_r(copy, ";", &save); item != NULL && r == 0;
	     item = strtok_r(NULL, ";", &save)) {
		while (*item == ' ')
			item++;
		if (*item != '\0')
			r = load_module_path(ctx, item);
	}
	free(copy);
	if (r == 0 && ctx->n_modules == 0)
		r = CS_ERR_INVALID_ARG;
	return r;
}

int
tok_ctx_new(const char *modules, struct tok_ctx **ret_ctx)
{
	struct tok_ctx *ctx;
	int r;

	*ret_ctx = NULL;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return CS_ERR_NOMEM;
	pthread_mutex_init(&ctx->lock, NULL);
	ctx->login_ttl = 300;
	if (modules == NULL || strcmp(modules, "p11-kit") == 0)
		r = load_registered_modules(ctx);
	else
		r = load_module_list(ctx, modules);
	if (r == 0)
		r = tok_rescan(ctx);
	if (r != 0) {
		tok_ctx_free(ctx);
		return r;
	}
	*ret_ctx = ctx;
	return 0;
}

void
tok_set_login_ttl(struct tok_ctx *ctx, unsigned seconds)
{
	ctx->login_ttl = seconds;
}

void
tok_ctx_free(struct tok_ctx *ctx)
{
	size_t i;

	if (ctx == NULL)
		return;
	tok_logout_all(ctx);
	for (i = 0; i < ctx->n_tokens; i++) {
		tok_keycache_clear(ctx->tokens[i]);
		tok_identities_free(ctx->tokens[i]->cached, ctx->tokens[i]->n_cached);
		tok_certs_free(ctx->tokens[i]->cached_cas, ctx->tokens[i]->n_cached_cas);
		pthread_mutex_destroy(&ctx->tokens[i]->cache_lock);
		pthread_mutex_destroy(&ctx->tokens[i]->lock);
		free(ctx->tokens[i]);
	}
	free(ctx->tokens);
	if (ctx->p11kit_modules != NULL) {
		p11_kit_modules_finalize_and_release(ctx->p11kit_modules);
	} else {
		for (i = 0; i < ctx->n_modules; i++) {
			p11_kit_module_finalize(ctx->modules[i].fn);
			p11_kit_module_release(ctx->modules[i].fn);
		}
	}
	free(ctx->modules);
	pthread_mutex_destroy(&ctx->lock);
	free(ctx);
}

static struct tok_token *
find_token_locked(struct tok_ctx *ctx, struct tok_module *m, CK_SLOT_ID slot)
{
	size_t i;

	for (i = 0; i < ctx->n_tokens; i++) {
		if (ctx->tokens[i]->module == m && ctx->tokens[i]->slot == slot)
			return ctx->tokens[i];
	}
	return NULL;
}

static int
add_token_locked(struct tok_ctx *ctx, struct tok_module *m, CK_SLOT_ID slot)
{
	struct tok_token **list, *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CS_ERR_NOMEM;
	list = realloc(ctx->tokens, (ctx->n_tokens + 1) * sizeof(*list));
	if (list == NULL) {
		free(t);
		return CS_ERR_NOMEM;
	}
	t->module = m;
	t->slot = slot;
	t->session = CK_INVALID_HANDLE;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->cache_lock, NULL);
	list[ctx->n_tokens++] = t;
	ctx->tokens = list;
	return 0;
}

/* Refreshes presence, label and serial of t from the module. */
static void
refresh_token(struct tok_ctx *ctx, struct tok_token *t)
{
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	char label[33] = "", serial[17] = "";
	int present = 0;

	if (t->module->fn->C_GetSlotInfo(t->slot, &si) == CKR_OK &&
	    (si.flags & CKF_TOKEN_PRESENT) && t->module->fn->C_GetTokenInfo(t->slot, &ti) == CKR_OK) {
		present = 1;
		tok_copy_padded(label, sizeof(label), ti.label, sizeof(ti.label));
		tok_copy_padded(serial, sizeof(serial), ti.serialNumber, sizeof(ti.serialNumber));
	}
	/*
	 * Never wait for a busy token here (the caller holds the context lock, and
	 * the token may sit in a PIN dialog): an operation in progress meets the
	 * removal itself and drops its session when it ends.
	 */
	if (pthread_mutex_trylock(&t->lock) != 0) {
		tok_ctx_bump_generation(ctx);   /* unknown whether it changed: assume so */
		return;
	}
	if (!present && t->present)
		tok_token_drop_session(t);
	/* Another token in the slot: key handles found earlier are not its own. */
	if (present != t->present ||
	    (present && (strcmp(label, t->label) != 0 || strcmp(serial, t->serial) != 0)))
		tok_ctx_bump_generation(ctx);
	if (present) {
		memcpy(t->label, label, sizeof(t->label));
		memcpy(t->serial, serial, sizeof(t->serial));
	}
	t->present = present;
	pthread_mutex_unlock(&t->lock);
}

int
tok_rescan(struct tok_ctx *ctx)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n, j;
	size_t i;
	int r = 0;
	CK_RV rv;

	pthread_mutex_lock(&ctx->lock);
	for (i = 0; i < ctx->n_modules && r == 0; i++) {
		struct tok_module *m = &ctx->modules[i];

		/* All slots, not only those with a token: an empty reader is a slot to watch. */
		if ((rv = m->fn->C_GetSlotList(CK_FALSE, NULL, &n)) != CKR_OK)
			continue;
		free(slots);
		if ((slots = calloc(n + 1, sizeof(*slots))) == NULL) {
			r = CS_ERR_NOMEM;
			break;
		}
		if (m->fn->C_GetSlotList(CK_FALSE, slots, &n) != CKR_OK)
			continue;
		for (j = 0; j < n && r == 0; j++) {
			if (find_token_locked(ctx, m, slots[j]) == NULL)
				r = add_token_locked(ctx, m, slots[j]);
		}
	}
	free(slots);
	for (i = 0; i < ctx->n_tokens; i++)
		refresh_token(ctx, ctx->tokens[i]);
	pthread_mutex_unlock(&ctx->lock);
	return r;
}

int
tok_token_read_info(struct tok_token *t, struct tok_token_info *info)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO sess;
	CK_RV rv;

	memset(info, 0, sizeof(*info));
	snprintf(info->module_path, sizeof(info->module_path), "%s", t->module->path);
	info->slot_id = t->slot;
	if ((rv = fn->C_GetSlotInfo(t->slot, &si)) != CKR_OK)
		return tok_map_rv(rv);
	info->removable = (si.flags & CKF_REMOVABLE_DEVICE) != 0;
	info->hardware_slot = (si.flags & CKF_HW_SLOT) != 0;
	if (!(si.flags & CKF_TOKEN_PRESENT))
		return 0;
	if ((rv = fn->C_GetTokenInfo(t->slot, &ti)) != CKR_OK)
		return rv == CKR_TOKEN_NOT_PRESENT ? 0 : tok_map_rv(rv);
	info->present = 1;
	tok_copy_padded(info->label, sizeof(info->label), ti.label, sizeof(ti.label));
	tok_copy_padded(info->serial, sizeof(info->serial), ti.serialNumber,
	                sizeof(ti.serialNumber));
	tok_copy_padded(info->manufacturer, sizeof(info->manufacturer), ti.manufacturerID,
	                sizeof(ti.manufacturerID));
	tok_copy_padded(info->model, sizeof(info->model), ti.model, sizeof(ti.model));
	info->login_required = (ti.flags & CKF_LOGIN_REQUIRED) != 0;
	info->protected_auth_path = (ti.flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	info->pin_count_low = (ti.flags & CKF_USER_PIN_COUNT_LOW) != 0;
	info->pin_final_try = (ti.flags & CKF_USER_PIN_FINAL_TRY) != 0;
	info->pin_locked = (ti.flags & CKF_USER_PIN_LOCKED) != 0;
	/* Only a peek: the session is keyd's own, so its state is keyd's login. */
	if (pthread_mutex_trylock(&t->lock) == 0) {
		if (t->session != CK_INVALID_HANDLE &&
		    fn->C_GetSessionInfo(t->session, &sess) == CKR_OK)
			info->logged_in = sess.state == CKS_RO_USER_FUNCTIONS ||
			                  sess.state == CKS_RW_USER_FUNCTIONS;
		pthread_mutex_unlock(&t->lock);
	}
	return 0;
}

int
tok_list_tokens(struct tok_ctx *ctx, struct tok_token_info **ret_list, size_t *ret_n)
{
	struct tok_token_info *list;
	size_t i, n;

	*ret_list = NULL;
	*ret_n = 0;
	pthread_mutex_lock(&ctx->lock);
	n = ctx->n_tokens;
	list = calloc(n + 1, sizeof(*list));
	for (i = 0; list != NULL && i < n; i++)
		(void)tok_token_read_info(ctx->tokens[i], &list[i]);
	pthread_mutex_unlock(&ctx->lock);
	if (list == NULL)
		return CS_ERR_NOMEM;
	*ret_list = list;
	*ret_n = n;
	return 0;
}

int
tok_token_session(struct tok_token *t)
{
	CK_RV rv;

	if (t->session != CK_INVALID_HANDLE)
		return 0;
	rv = t->module->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                                  &t->session);
	if (rv == CKR_TOKEN_WRITE_PROTECTED)
		rv = t->module->fn->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL,
		                                  &t->session);
	if (rv != CKR_OK) {
		t->session = CK_INVALID_HANDLE;
		return tok_map_rv(rv);
	}
	t->last_used = time(NULL);
	return 0;
}

void
tok_token_drop_session(struct tok_token *t)
{
	if (t->session != CK_INVALID_HANDLE)
		(void)t->module->fn->C_CloseSession(t->session);
	t->session = CK_INVALID_HANDLE;
	/* Handles belong to the session's token instance: none survives it. */
	tok_keycache_clear(t);
}

int
tok_ctx_tokens(struct tok_ctx *ctx, struct tok_token ***ret_tokens, size_t *ret_n)
{
	struct tok_token **list;

	pthread_mutex_lock(&ctx->lock);
	list = calloc(ctx->n_tokens + 1, sizeof(*list));
	if (list != NULL && ctx->n_tokens > 0)
		memcpy(list, ctx->tokens, ctx->n_tokens * sizeof(*list));
	*ret_n = list != NULL ? ctx->n_tokens : 0;
	pthread_mutex_unlock(&ctx->lock);
	*ret_tokens = list;
	return list != NULL ? 0 : CS_ERR_NOMEM;
}

void
tok_logout_all(struct tok_ctx *ctx)
{
	struct tok_token **tokens;
	size_t i, n;

	if (tok_ctx_tokens(ctx, &tokens, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		struct tok_token *t = tokens[i];

		pthread_mutex_lock(&t->lock);
		if (t->session != CK_INVALID_HANDLE)
			(void)t->module->fn->C_Logout(t->session);
		tok_token_drop_session(t);
		pthread_mutex_unlock(&t->lock);
	}
	free(tokens);
}
