/* Objects on tokens: certificate + key pairs by CKA_ID, and their pkcs11: URIs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/uri.h>

#include "cs_error.h"
#include "tok_internal.h"

#define MAX_OBJECTS 256
#define MAX_ID_LEN 64

void
tok_identity_clear(struct tok_identity *id)
{
	free(id->key_uri);
	free(id->cert_uri);
	free(id->cert_der);
	free(id->label);
	memset(id, 0, sizeof(*id));
}

void
tok_identities_free(struct tok_identity *ids, size_t n)
{
	size_t i;

	for (i = 0; ids != NULL && i < n; i++)
		tok_identity_clear(&ids[i]);
	free(ids);
}

/* p11-kit matches URIs against a CK_TOKEN_INFO: rebuild one from our copy. */
static void
fill_token_info(const struct tok_token_info *info, CK_TOKEN_INFO *ti)
{
	memset(ti, ' ', sizeof(*ti));
	memcpy(ti->label, info->label, strlen(info->label));
	memcpy(ti->serialNumber, info->serial, strlen(info->serial));
	memcpy(ti->manufacturerID, info->manufacturer, strlen(info->manufacturer));
	memcpy(ti->model, info->model, strlen(info->model));
	ti->flags = 0;
}

int
tok_object_uri(const struct tok_token_info *info, const uint8_t *id, size_t id_len,
               CK_OBJECT_CLASS klass, const char *label, char **ret_uri)
{
	P11KitUri *uri;
	CK_TOKEN_INFO *ti;
	CK_ATTRIBUTE attr;
	int r = CS_ERR_NOMEM;

	*ret_uri = NULL;
	if ((uri = p11_kit_uri_new()) == NULL)
		return CS_ERR_NOMEM;
	ti = p11_kit_uri_get_token_info(uri);
	fill_token_info(info, ti);
	/* Model and manufacturer stay out (p11-kit leaves zeroed fields unset):
	 * label and serial name a token well enough. */
	memset(ti->model, 0, sizeof(ti->model));
	memset(ti->manufacturerID, 0, sizeof(ti->manufacturerID));
	attr.type = CKA_ID;
	attr.pValue = (void *)id;
	attr.ulValueLen = id_len;
	if (p11_kit_uri_set_attribute(uri, &attr) != P11_KIT_URI_OK)
		goto out;
	attr.type = CKA_CLASS;
	attr.pValue = &klass;
	attr.ulValueLen = sizeof(klass);
	if (p11_kit_uri_set_attribute(uri, &attr) != P11_KIT_URI_OK)
		goto out;
	if (label != NULL && label[0] != '\0') {
		attr.type = CKA_LABEL;
		attr.pValue = (void *)label;
		attr.ulValueLen = strlen(label);
		if (p11_kit_uri_set_attribute(uri, &attr) != P11_KIT_URI_OK)
			goto out;
	}
	if (p11_kit_uri_format(uri, P11_KIT_URI_FOR_OBJECT_ON_TOKEN, ret_uri) != P11_KIT_URI_OK)
		goto out;
	r = 0;
out:
	p11_kit_uri_free(uri);
	return r;
}

/* Parses a key or certificate URI; CS_ERR_BAD_FORMAT for anything p11-kit refuses. */
static int
parse_uri(const char *text, P11KitUri **ret_uri)
{
	P11KitUri *uri;

	*ret_uri = NULL;
	if ((uri = p11_kit_uri_new()) == NULL)
		return CS_ERR_NOMEM;
	if (p11_kit_uri_parse(text, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK ||
	    p11_kit_uri_any_unrecognized(uri)) {
		p11_kit_uri_free(uri);
		return CS_ERR_BAD_FORMAT;
	}
	*ret_uri = uri;
	return 0;
}

static int
uri_matches_token(P11KitUri *uri, const struct tok_token_info *info)
{
	CK_TOKEN_INFO ti;

	fill_token_info(info, &ti);
	return p11_kit_uri_match_token_info(uri, &ti);
}

int
tok_lock_token_for_uri(struct tok_ctx *ctx, const char *text, struct tok_token **ret_token)
{
	struct tok_token_info info;

	return tok_lock_token_for_uri_info(ctx, text, ret_token, &info);
}

int
tok_lock_token_for_uri_info(struct tok_ctx *ctx, const char *text, struct tok_token **ret_token,
                            struct tok_token_info *ret_info)
{
	struct tok_token_info info;
	struct tok_token **tokens;
	P11KitUri *uri;
	size_t i, n;
	int r;

	*ret_token = NULL;
	if ((r = parse_uri(text, &uri)) != 0)
		return r;
	r = CS_ERR_NO_TOKEN;
	if (tok_ctx_tokens(ctx, &tokens, &n) != 0) {
		p11_kit_uri_free(uri);
		return CS_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		struct tok_token *t = tokens[i];

		if (tok_token_read_info(t, &info) != 0 || !info.present)
			continue;
		if (!uri_matches_token(uri, &info))
			continue;
		/* Without the context lock: waiting for a busy token holds up nobody else. */
		pthread_mutex_lock(&t->lock);
		*ret_token = t;
		*ret_info = info;
		r = 0;
		break;
	}
	free(tokens);
	p11_kit_uri_free(uri);
	return r;
}

/* Finds up to max objects matching tmpl on the session. */
static int
find_objects(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG n_tmpl,
             CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *ret_n)
{
	CK_RV rv;

	*ret_n = 0;
	if ((rv = fn->C_FindObjectsInit(s, tmpl, n_tmpl)) != CKR_OK)
		return tok_map_rv(rv);
	rv = fn->C_FindObjects(s, objs, max, ret_n);
	(void)fn->C_FindObjectsFinal(s);
	return tok_map_rv(rv);
}

/* Reads one variable-length attribute into a new buffer (NUL-terminated for text). */
static int
get_attr_alloc(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o,
               CK_ATTRIBUTE_TYPE type, uint8_t **ret, size_t *ret_len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv;

	*ret = NULL;
	*ret_len = 0;
	if ((rv = fn->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK)
		return tok_map_rv(rv);
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION || a.ulValueLen > 64 * 1024)
		return CS_ERR_BAD_FORMAT;
	if ((a.pValue = calloc(1, a.ulValueLen + 1)) == NULL)
		return CS_ERR_NOMEM;
	if ((rv = fn->C_GetAttributeValue(s, o, &a, 1)) != CKR_OK) {
		free(a.pValue);
		return tok_map_rv(rv);
	}
	*ret = a.pValue;
	*ret_len = a.ulValueLen;
	return 0;
}

static CK_BBOOL
get_bool(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = CK_FALSE;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	if (fn->C_GetAttributeValue(s, o, &a, 1) != CKR_OK)
		return CK_FALSE;
	return v;
}

/* Looks for the key half of a pair: the private key if visible, else the public key. */
static int
describe_key(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, const uint8_t *id, size_t id_len,
             struct tok_identity *ident)
{
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_ID, (void *)id, id_len },
	};
	CK_OBJECT_HANDLE o;
	CK_ULONG n;
	CK_KEY_TYPE kt = 0;
	CK_ATTRIBUTE kta = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	int r, is_private = 1;

	if ((r = find_objects(fn, s, tmpl, 2, &o, 1, &n)) != 0)
		return r;
	if (n == 0) {
		/* Private keys are often invisible before login; the public key speaks for them. */
		klass = CKO_PUBLIC_KEY;
		is_private = 0;
		if ((r = find_objects(fn, s, tmpl, 2, &o, 1, &n)) != 0)
			return r;
		if (n == 0)
			return CS_ERR_NOT_FOUND;
	}
	if (fn->C_GetAttributeValue(s, o, &kta, 1) != CKR_OK)
		return CS_ERR_TOKEN;
	if (kt == CKK_RSA)
		ident->key_type = TOK_KEY_RSA;
	else if (kt == CKK_EC)
		ident->key_type = TOK_KEY_EC;
	else
		return CS_ERR_MECHANISM;
	ident->local = get_bool(fn, s, o, CKA_LOCAL);
	ident->can_sign = get_bool(fn, s, o, is_private ? CKA_SIGN : CKA_VERIFY);
	ident->can_decrypt = get_bool(fn, s, o, is_private ? CKA_DECRYPT : CKA_ENCRYPT);
	ident->can_derive = get_bool(fn, s, o, CKA_DERIVE);
	if (is_private)
		ident->always_authenticate = get_bool(fn, s, o, CKA_ALWAYS_AUTHENTICATE);
	return 0;
}

/* Appends the identities of one token (caller holds its lock and an open session). */
static int
token_identities(struct tok_token *t, const struct tok_token_info *info,
                 struct tok_identity **ids, size_t *n_ids)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
	};
	CK_OBJECT_HANDLE certs[MAX_OBJECTS];
	CK_ULONG n, i;
	uint8_t *id = NULL, *label = NULL;
	size_t id_len, label_len;
	struct tok_identity ident, *grown;
	int r;

	if ((r = find_objects(fn, t->session, tmpl, 2, certs, MAX_OBJECTS, &n)) != 0)
		return r;
	for (i = 0; i < n; i++) {
		memset(&ident, 0, sizeof(ident));
		free(id);
		id = NULL;
		if (get_attr_alloc(fn, t->session, certs[i], CKA_ID, &id, &id_len) != 0 ||
		    id_len == 0 || id_len > MAX_ID_LEN)
			continue;
		if (describe_key(fn, t->session, id, id_len, &ident) != 0)
			continue;       /* a CA certificate, or a key we cannot use */
		ident.token = *info;
		if ((r = get_attr_alloc(fn, t->session, certs[i], CKA_VALUE, &ident.cert_der,
		                        &ident.cert_len)) != 0)
			goto fail;
		if (get_attr_alloc(fn, t->session, certs[i], CKA_LABEL, &label, &label_len) == 0)
			ident.label = (char *)label;
		label = NULL;
		if ((r = tok_object_uri(info, id, id_len, CKO_PRIVATE_KEY, NULL, &ident.key_uri)) != 0 ||
		    (r = tok_object_uri(info, id, id_len, CKO_CERTIFICATE, NULL, &ident.cert_uri)) != 0)
			goto fail;
		if ((grown = realloc(*ids, (*n_ids + 1) * sizeof(**ids))) == NULL) {
			r = CS_ERR_NOMEM;
			goto fail;
		}
		*ids = grown;
		(*ids)[(*n_ids)++] = ident;
	}
	free(id);
	return 0;
fail:
	free(id);
	tok_identity_clear(&ident);
	return r;
}

/* A deep copy of an identity (for the cache); returns 0 or CS_ERR_NOMEM. */
static int
identity_copy(const struct tok_identity *src, struct tok_identity *dst)
{
	*dst = *src;
	dst->key_uri = strdup(src->key_uri);
	dst->cert_uri = strdup(src->cert_uri);
	dst->label = src->label != NULL ? strdup(src->label) : NULL;
	dst->cert_der = malloc(src->cert_len + 1);
	if (dst->key_uri == NULL || dst->cert_uri == NULL || dst->cert_der == NULL ||
	    (src->label != NULL && dst->label == NULL)) {
		tok_identity_clear(dst);
		return CS_ERR_NOMEM;
	}
	memcpy(dst->cert_der, src->cert_der, src->cert_len);
	return 0;
}

/* Appends copies of ids[from..to) to *out. */
static int
append_copies(const struct tok_identity *ids, size_t from, size_t to, struct tok_identity **out,
              size_t *n_out)
{
	struct tok_identity *grown;
	size_t i;
	int r;

	if (to <= from)
		return 0;
	if ((grown = realloc(*out, (*n_out + (to - from)) * sizeof(*grown))) == NULL)
		return CS_ERR_NOMEM;
	*out = grown;
	for (i = from; i < to; i++) {
		if ((r = identity_copy(&ids[i], &(*out)[*n_out])) != 0)
			return r;
		(*n_out)++;
	}
	return 0;
}

/* Remembers what a free token held, for listings while it is busy. */
static void
cache_identities(struct tok_token *t, const struct tok_token_info *info,
                 const struct tok_identity *ids, size_t from, size_t to)
{
	struct tok_identity *copy = NULL;
	size_t n = 0;

	if (append_copies(ids, from, to, &copy, &n) != 0) {
		tok_identities_free(copy, n);
		return;
	}
	pthread_mutex_lock(&t->cache_lock);
	tok_identities_free(t->cached, t->n_cached);
	t->cached = copy;
	t->n_cached = n;
	snprintf(t->cached_serial, sizeof(t->cached_serial), "%s", info->serial);
	t->cached_valid = 1;
	pthread_mutex_unlock(&t->cache_lock);
}

int
tok_list_identities(struct tok_ctx *ctx, struct tok_identity **ret_ids, size_t *ret_n)
{
	int partial = 0;

	return tok_list_identities_partial(ctx, ret_ids, ret_n, &partial);
}

int
tok_list_identities_partial(struct tok_ctx *ctx, struct tok_identity **ret_ids, size_t *ret_n,
                            int *ret_partial)
{
	struct tok_identity *ids = NULL;
	struct tok_token_info info;
	struct tok_token **tokens;
	size_t n = 0, i, n_tokens, before;
	int r = 0;

	*ret_ids = NULL;
	*ret_n = 0;
	if (tok_ctx_tokens(ctx, &tokens, &n_tokens) != 0)
		return CS_ERR_NOMEM;
	for (i = 0; i < n_tokens && r == 0; i++) {
		struct tok_token *t = tokens[i];

		if (tok_token_read_info(t, &info) != 0 || !info.present)
			continue;
		if (pthread_mutex_trylock(&t->lock) != 0) {
			/* Busy (perhaps in a PIN dialog): what it held when last free. */
			pthread_mutex_lock(&t->cache_lock);
			if (t->cached_valid && strcmp(t->cached_serial, info.serial) == 0)
				r = append_copies(t->cached, 0, t->n_cached, &ids, &n);
			else /* never listed free: its identities are unknown */
				*ret_partial = 1;
			pthread_mutex_unlock(&t->cache_lock);
			continue;
		}
		before = n;
		if (tok_token_session(t) == 0) {
			r = token_identities(t, &info, &ids, &n);
			/* A token pulled while we listed it is skipped, not an error. */
			if (r == CS_ERR_TOKEN_REMOVED || r == CS_ERR_NO_TOKEN) {
				tok_token_drop_session(t);
				r = 0;
			} else if (r == 0) {
				cache_identities(t, &info, ids, before, n);
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	free(tokens);
	if (r != 0) {
		tok_identities_free(ids, n);
		return r;
	}
	*ret_ids = ids;
	*ret_n = n;
	return 0;
}

/* Whether the request URI's object attributes (id, label, class) fit identity ident. */
static int
identity_matches(P11KitUri *request, const struct tok_identity *ident)
{
	P11KitUri *cand;
	CK_ATTRIBUTE attrs[4], *have;
	CK_ULONG n_have, n = 0, i;
	int match;

	if (parse_uri(ident->key_uri, &cand) != 0)
		return 0;
	have = p11_kit_uri_get_attributes(cand, &n_have);
	for (i = 0; i < n_have && n < 3; i++)
		attrs[n++] = have[i];
	if (ident->label != NULL) {
		attrs[n].type = CKA_LABEL;
		attrs[n].pValue = ident->label;
		attrs[n].ulValueLen = strlen(ident->label);
		n++;
	}
	match = p11_kit_uri_match_attributes(request, attrs, n);
	p11_kit_uri_free(cand);
	return match;
}

int
tok_find_identity(struct tok_ctx *ctx, const char *key_uri, struct tok_identity *ret_id)
{
	struct tok_identity *ids = NULL;
	P11KitUri *uri;
	size_t n = 0, i;
	int r, token_seen = 0;

	memset(ret_id, 0, sizeof(*ret_id));
	if ((r = parse_uri(key_uri, &uri)) != 0)
		return r;
	if ((r = tok_list_identities(ctx, &ids, &n)) != 0)
		goto out;
	r = CS_ERR_NOT_FOUND;
	for (i = 0; i < n; i++) {
		if (!uri_matches_token(uri, &ids[i].token))
			continue;
		token_seen = 1;
		if (identity_matches(uri, &ids[i])) {
			*ret_id = ids[i];
			memset(&ids[i], 0, sizeof(ids[i]));
			r = 0;
			break;
		}
	}
	if (r == CS_ERR_NOT_FOUND && !token_seen)
		r = CS_ERR_NO_TOKEN;
out:
	tok_identities_free(ids, n);
	p11_kit_uri_free(uri);
	return r;
}

void
tok_certs_free(struct tok_cert *certs, size_t n)
{
	size_t i;

	for (i = 0; certs != NULL && i < n; i++)
		free(certs[i].der);
	free(certs);
}

/* Appends the certificates of one token that have no key (caller holds the token's lock). */
static int
token_ca_certs(struct tok_token *t, struct tok_cert **certs, size_t *n)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_OBJECT_CLASS klass = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_ATTRIBUTE tmpl[2] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
	};
	CK_OBJECT_HANDLE objs[MAX_OBJECTS];
	CK_ULONG found, i;
	struct tok_identity probe;
	struct tok_cert *grown;
	uint8_t *id = NULL, *der;
	size_t id_len, der_len;
	int r;

	if ((r = find_objects(fn, t->session, tmpl, 2, objs, MAX_OBJECTS, &found)) != 0)
		return r;
	for (i = 0; i < found; i++) {
		memset(&probe, 0, sizeof(probe));
		free(id);
		id = NULL;
		/* A certificate with a key beside it is an identity, not a CA certificate. */
		if (get_attr_alloc(fn, t->session, objs[i], CKA_ID, &id, &id_len) == 0 &&
		    id_len > 0 && id_len <= MAX_ID_LEN && describe_key(fn, t->session, id, id_len, &probe) == 0)
			continue;
		if (get_attr_alloc(fn, t->session, objs[i], CKA_VALUE, &der, &der_len) != 0)
			continue;
		if ((grown = realloc(*certs, (*n + 1) * sizeof(**certs))) == NULL) {
			free(der);
			free(id);
			return CS_ERR_NOMEM;
		}
		*certs = grown;
		(*certs)[*n].der = der;
		(*certs)[(*n)++].len = der_len;
	}
	free(id);
	return 0;
}

/* Appends copies of certs[from..to) to *out. */
static int
append_cert_copies(const struct tok_cert *certs, size_t from, size_t to, struct tok_cert **out,
                   size_t *n_out)
{
	struct tok_cert *grown;
	size_t i;

	if (to <= from)
		return 0;
	if ((grown = realloc(*out, (*n_out + (to - from)) * sizeof(*grown))) == NULL)
		return CS_ERR_NOMEM;
	*out = grown;
	for (i = from; i < to; i++) {
		if ((grown[*n_out].der = malloc(certs[i].len > 0 ? certs[i].len : 1)) == NULL)
			return CS_ERR_NOMEM;
		memcpy(grown[*n_out].der, certs[i].der, certs[i].len);
		grown[(*n_out)++].len = certs[i].len;
	}
	return 0;
}

/* Remembers the CA certificates a free token held, for listings while it is busy. */
static void
cache_ca_certs(struct tok_token *t, const struct tok_token_info *info, const struct tok_cert *certs,
               size_t from, size_t to)
{
	struct tok_cert *copy = NULL;
	size_t n = 0;

	if (append_cert_copies(certs, from, to, &copy, &n) != 0) {
		tok_certs_free(copy, n);
		return;
	}
	pthread_mutex_lock(&t->cache_lock);
	tok_certs_free(t->cached_cas, t->n_cached_cas);
	t->cached_cas = copy;
	t->n_cached_cas = n;
	snprintf(t->cached_cas_serial, sizeof(t->cached_cas_serial), "%s", info->serial);
	t->cached_cas_valid = 1;
	pthread_mutex_unlock(&t->cache_lock);
}

int
tok_list_ca_certs(struct tok_ctx *ctx, struct tok_cert **ret_certs, size_t *ret_n)
{
	int partial = 0;

	return tok_list_ca_certs_partial(ctx, ret_certs, ret_n, &partial);
}

int
tok_list_ca_certs_partial(struct tok_ctx *ctx, struct tok_cert **ret_certs, size_t *ret_n,
                          int *ret_partial)
{
	struct tok_cert *certs = NULL;
	struct tok_token_info info;
	struct tok_token **tokens;
	size_t n = 0, i, n_tokens, before;
	int r = 0;

	*ret_certs = NULL;
	*ret_n = 0;
	if (tok_ctx_tokens(ctx, &tokens, &n_tokens) != 0)
		return CS_ERR_NOMEM;
	for (i = 0; i < n_tokens && r == 0; i++) {
		struct tok_token *t = tokens[i];

		if (tok_token_read_info(t, &info) != 0 || !info.present)
			continue;
		/*
		 * Busy: what it held when last free, as for identities. Skipping them
		 * left the front without the card's intermediate CA whenever another
		 * thread held the token for a moment, and then its own certificates
		 * did not chain (NO_KEY).
		 */
		if (pthread_mutex_trylock(&t->lock) != 0) {
			pthread_mutex_lock(&t->cache_lock);
			if (t->cached_cas_valid && strcmp(t->cached_cas_serial, info.serial) == 0)
				r = append_cert_copies(t->cached_cas, 0, t->n_cached_cas, &certs,
				                       &n);
			else
				*ret_partial = 1;
			pthread_mutex_unlock(&t->cache_lock);
			continue;
		}
		before = n;
		if (tok_token_session(t) == 0) {
			r = token_ca_certs(t, &certs, &n);
			if (r == CS_ERR_TOKEN_REMOVED || r == CS_ERR_NO_TOKEN) {
				tok_token_drop_session(t);
				r = 0;
			} else if (r == 0) {
				cache_ca_certs(t, &info, certs, before, n);
			}
		}
		pthread_mutex_unlock(&t->lock);
	}
	free(tokens);
	if (r != 0) {
		tok_certs_free(certs, n);
		return r;
	}
	*ret_certs = certs;
	*ret_n = n;
	return 0;
}
