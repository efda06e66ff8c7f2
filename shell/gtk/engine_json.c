/* The engine's JSON replies (json-c), tolerant of missing fields. */
#include "engine_json.h"

#include <string.h>

#include <json-c/json.h>

/* The string under the first of the keys present (they may be spelt a_b or a-b), or "". */
static const char *
str2(json_object *o, const char *key, const char *alt)
{
	json_object *v;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_get_type(v) == json_type_string)
		return json_object_get_string(v);
	if (o != NULL && alt != NULL && json_object_object_get_ex(o, alt, &v) &&
	    json_object_get_type(v) == json_type_string)
		return json_object_get_string(v);
	return "";
}

static char *
dup_str(json_object *o, const char *key)
{
	return g_strdup(str2(o, key, NULL));
}

/* A boolean under key or alt; "true"/"yes"/"1" strings count too (settings may be text). */
static gboolean
flag2(json_object *o, const char *key, const char *alt)
{
	json_object *v;

	if (o == NULL)
		return FALSE;
	if (!json_object_object_get_ex(o, key, &v) &&
	    (alt == NULL || !json_object_object_get_ex(o, alt, &v)))
		return FALSE;
	if (json_object_get_type(v) == json_type_string) {
		const char *s = json_object_get_string(v);

		return strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "1") == 0;
	}
	return json_object_get_boolean(v);
}

static json_object *
array(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    json_object_get_type(v) != json_type_array)
		return NULL;
	return v;
}

static json_object *
object(json_object *o, const char *key)
{
	json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
	    json_object_get_type(v) != json_type_object)
		return NULL;
	return v;
}

/* Parses text that must be a JSON object; NULL otherwise. */
static json_object *
parse_object(const char *json)
{
	json_object *root;

	if (json == NULL)
		return NULL;
	root = json_tokener_parse(json);
	if (root != NULL && json_object_get_type(root) != json_type_object) {
		json_object_put(root);
		root = NULL;
	}
	return root;
}

static gboolean
array_has(json_object *a, const char *word)
{
	size_t i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));

		if (s != NULL && strcmp(s, word) == 0)
			return TRUE;
	}
	return FALSE;
}

void
ej_cert_free(struct ej_cert *c)
{
	if (c == NULL)
		return;
	g_free(c->label);
	g_free(c->subject);
	g_free(c->issuer);
	g_free(c->email);
	g_free(c->not_after);
	g_free(c->token);
	g_free(c->key_uri);
	g_free(c->cert_uri);
	g_free(c->fingerprint);
	g_free(c->key_type);
	g_free(c);
}

static struct ej_cert *
cert_from(json_object *o)
{
	struct ej_cert *c = g_new0(struct ej_cert, 1);
	json_object *emails = array(o, "emails"), *usage = array(o, "key_usage");

	c->label = dup_str(o, "label");
	c->subject = dup_str(o, "subject");
	c->issuer = dup_str(o, "issuer");
	if (emails != NULL && json_object_array_length(emails) > 0)
		c->email = g_strdup(json_object_get_string(json_object_array_get_idx(emails, 0)));
	else
		c->email = g_strdup(str2(o, "email", "address"));
	c->not_after = dup_str(o, "not_after");
	c->token = dup_str(o, "token");
	c->key_uri = dup_str(o, "key_uri");
	c->cert_uri = dup_str(o, "cert_uri");
	c->fingerprint = dup_str(o, "fingerprint");
	c->key_type = dup_str(o, "key_type");
	/* An engine that does not say whether it is valid now: show it, let the engine decide. */
	c->valid_now =
	    json_object_object_get_ex(o, "valid_now", NULL) ? flag2(o, "valid_now", NULL) : TRUE;
	c->can_sign = flag2(o, "can_sign", NULL);
	c->can_decrypt = flag2(o, "can_decrypt", NULL);
	c->signing_usage = usage == NULL || array_has(usage, "digitalSignature") ||
	                   array_has(usage, "nonRepudiation");
	c->encryption_usage = usage == NULL || array_has(usage, "keyEncipherment") ||
	                      array_has(usage, "keyAgreement");
	return c;
}

static void
token_free(struct ej_token *t)
{
	g_free(t->label);
	g_free(t->serial);
	g_free(t);
}

struct ej_status *
ej_status_parse(const char *json)
{
	json_object *root = parse_object(json), *tokens, *ids, *v;
	struct ej_status *s;
	size_t i;

	if (root == NULL)
		return NULL;
	s = g_new0(struct ej_status, 1);
	s->tokens = g_ptr_array_new_with_free_func((GDestroyNotify)token_free);
	s->identities = g_ptr_array_new_with_free_func((GDestroyNotify)ej_cert_free);
	tokens = array(root, "tokens");
	ids = array(root, "identities");
	for (i = 0; tokens != NULL && i < json_object_array_length(tokens); i++) {
		json_object *o = json_object_array_get_idx(tokens, i);
		struct ej_token *t = g_new0(struct ej_token, 1);

		t->label = dup_str(o, "label");
		t->serial = dup_str(o, "serial");
		t->slot = json_object_object_get_ex(o, "slot", &v) ? json_object_get_int64(v) : -1;
		t->present = flag2(o, "present", NULL);
		t->pin_count_low = flag2(o, "pin_count_low", NULL);
		t->pin_final_try = flag2(o, "pin_final_try", NULL);
		t->pin_locked = flag2(o, "pin_locked", NULL);
		t->logged_in = flag2(o, "logged_in", NULL);
		g_ptr_array_add(s->tokens, t);
	}
	for (i = 0; ids != NULL && i < json_object_array_length(ids); i++)
		g_ptr_array_add(s->identities, cert_from(json_object_array_get_idx(ids, i)));
	json_object_put(root);
	return s;
}

void
ej_status_free(struct ej_status *s)
{
	if (s == NULL)
		return;
	g_ptr_array_unref(s->tokens);
	g_ptr_array_unref(s->identities);
	g_free(s);
}

static GPtrArray *
strings_of(json_object *a)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	size_t i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(a, i));

		g_ptr_array_add(out, g_strdup(s != NULL ? s : ""));
	}
	return out;
}

/* The strings of root[key]; entries may be strings or objects with an address/email. */
static GStrv
list_under(const char *json, const char *key)
{
	json_object *root = parse_object(json), *a = array(root, key);
	GPtrArray *out = g_ptr_array_new();
	size_t i;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i);

		if (json_object_get_type(e) == json_type_string)
			g_ptr_array_add(out, g_strdup(json_object_get_string(e)));
		else if (json_object_get_type(e) == json_type_object)
			g_ptr_array_add(out, g_strdup(str2(e, "address", "email")));
	}
	g_ptr_array_add(out, NULL);
	if (root != NULL)
		json_object_put(root);
	return (GStrv)g_ptr_array_free(out, FALSE);
}

static void
layer_free(struct ej_layer *l)
{
	g_free(l->cipher);
	g_free(l->verdict);
	g_ptr_array_unref(l->reasons);
	g_free(l->revocation);
	g_free(l->signer_email);
	g_free(l->signer_subject);
	g_free(l->signing_time);
	g_free(l->digest);
	g_ptr_array_unref(l->chain);
	g_free(l);
}

static struct ej_layer *
layer_from(json_object *o)
{
	struct ej_layer *l = g_new0(struct ej_layer, 1);
	json_object *signer = object(o, "signer"), *chain = array(o, "chain");
	size_t i;

	l->encrypted = strcmp(str2(o, "type", NULL), "encrypted") == 0;
	l->cipher = dup_str(o, "cipher");
	l->integrity_protected = flag2(o, "integrity_protected", NULL);
	l->verdict = dup_str(o, "verdict");
	l->reasons = strings_of(array(o, "reasons"));
	l->revocation = dup_str(o, "revocation");
	l->signer_email = dup_str(signer, "email");
	l->signer_subject = dup_str(signer, "subject");
	l->signing_time = dup_str(o, "signing_time");
	l->digest = dup_str(o, "digest");
	l->weak_algorithm = flag2(o, "weak_algorithm", NULL);
	l->email_matches = flag2(o, "email_matches", NULL);
	l->opaque = flag2(o, "opaque", NULL);
	l->chain = g_ptr_array_new_with_free_func((GDestroyNotify)ej_cert_free);
	for (i = 0; chain != NULL && i < json_object_array_length(chain); i++)
		g_ptr_array_add(l->chain, cert_from(json_object_array_get_idx(chain, i)));
	return l;
}

struct ej_report *
ej_report_parse(const char *json)
{
	json_object *root = parse_object(json), *layers, *v;
	struct ej_report *r;
	size_t i;

	if (root == NULL)
		return NULL;
	r = g_new0(struct ej_report, 1);
	r->verdict = dup_str(root, "verdict");
	r->from = dup_str(root, "from");
	if (json_object_object_get_ex(root, "unprotected_parts", &v))
		r->unprotected_parts = json_object_get_int(v);
	r->layers = g_ptr_array_new_with_free_func((GDestroyNotify)layer_free);
	layers = array(root, "layers");
	for (i = 0; layers != NULL && i < json_object_array_length(layers); i++)
		g_ptr_array_add(r->layers, layer_from(json_object_array_get_idx(layers, i)));
	json_object_put(root);
	r->harvested = list_under(json, "harvested");
	return r;
}

void
ej_report_free(struct ej_report *r)
{
	if (r == NULL)
		return;
	g_free(r->verdict);
	g_free(r->from);
	g_ptr_array_unref(r->layers);
	g_strfreev(r->harvested);
	g_free(r);
}

/* The account's object: the root itself, its "settings", or a match in "accounts". */
static json_object *
settings_object(json_object *root, const char *account)
{
	json_object *list = array(root, "accounts"), *o;
	size_t i;

	if ((o = object(root, "settings")) != NULL)
		return o;
	for (i = 0; list != NULL && i < json_object_array_length(list); i++) {
		o = json_object_array_get_idx(list, i);
		if (account == NULL || strcmp(str2(o, "account", "address"), account) == 0)
			return o;
	}
	if (list == NULL && account != NULL && (o = object(root, account)) != NULL)
		return o;
	return list != NULL ? NULL : root;
}

struct ej_settings *
ej_settings_parse(const char *json, const char *account)
{
	json_object *root = parse_object(json), *o;
	struct ej_settings *s;

	if (root == NULL)
		return NULL;
	s = g_new0(struct ej_settings, 1);
	o = settings_object(root, account);
	s->account = g_strdup(str2(o, "account", "address"));
	s->sign_cert = g_strdup(str2(o, "sign_cert", "sign-cert"));
	s->encrypt_cert = g_strdup(str2(o, "encrypt_cert", "encrypt-cert"));
	if (s->sign_cert[0] == '\0')
		g_free(s->sign_cert), s->sign_cert = g_strdup("auto");
	if (s->encrypt_cert[0] == '\0')
		g_free(s->encrypt_cert), s->encrypt_cert = g_strdup("auto");
	s->always_sign = flag2(o, "always_sign", "always-sign");
	s->always_encrypt = flag2(o, "always_encrypt", "always-encrypt");
	json_object_put(root);
	return s;
}

void
ej_settings_free(struct ej_settings *s)
{
	if (s == NULL)
		return;
	g_free(s->account);
	g_free(s->sign_cert);
	g_free(s->encrypt_cert);
	g_free(s);
}

/*
 * A toggle from "toggles": {"sign": {"locked", "value", "by"}}, or failing
 * that from the policy keys require-X and lock-toggles.
 */
static void
toggle_from(json_object *root, json_object *keys, const char *name, const char *require,
            struct ej_toggle *t)
{
	json_object *o = object(object(root, "toggles"), name), *locks;
	size_t i;

	if (o != NULL) {
		t->locked = flag2(o, "locked", NULL);
		t->value = flag2(o, "value", NULL);
		t->by = g_strdup(str2(o, "by", NULL));
		return;
	}
	t->value = flag2(keys, require, NULL);
	t->locked = t->value;
	t->by = g_strdup(t->value ? require : "");
	locks = array(keys, "lock-toggles");
	for (i = 0; locks != NULL && i < json_object_array_length(locks); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(locks, i));

		if (s != NULL && strcmp(s, name) == 0 && !t->locked) {
			t->locked = TRUE;
			g_free(t->by);
			t->by = g_strdup("lock-toggles");
		}
	}
}

struct ej_policy *
ej_policy_parse(const char *json)
{
	json_object *root = parse_object(json), *keys;
	struct ej_policy *p;

	if (root == NULL)
		return NULL;
	p = g_new0(struct ej_policy, 1);
	keys = object(root, "keys") != NULL ? object(root, "keys") : root;
	p->source = g_strdup(str2(root, "source", NULL));
	p->present = p->source[0] != '\0';
	toggle_from(root, keys, "sign", "require-signed", &p->sign);
	toggle_from(root, keys, "encrypt", "require-encrypted", &p->encrypt);
	p->allow_soft_certs = !json_object_object_get_ex(keys, "allow-soft-certs", NULL) ||
	                      flag2(keys, "allow-soft-certs", NULL);
	json_object_put(root);
	return p;
}

void
ej_policy_free(struct ej_policy *p)
{
	if (p == NULL)
		return;
	g_free(p->sign.by);
	g_free(p->encrypt.by);
	g_free(p->source);
	g_free(p);
}

GPtrArray *
ej_certs_parse(const char *json)
{
	json_object *root = parse_object(json), *certs;
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)ej_cert_free);
	size_t i;

	certs = array(root, "certs");
	for (i = 0; certs != NULL && i < json_object_array_length(certs); i++)
		g_ptr_array_add(out, cert_from(json_object_array_get_idx(certs, i)));
	if (root != NULL)
		json_object_put(root);
	return out;
}

GStrv
ej_missing_parse(const char *json)
{
	return list_under(json, "missing");
}

GStrv
ej_installed_parse(const char *json)
{
	return list_under(json, "installed");
}

GStrv
ej_string_list(const char *json, const char *key)
{
	return list_under(json, key);
}

static void
output_free(struct ej_output *o)
{
	g_strfreev(o->recipients);
	g_free(o);
}

GPtrArray *
ej_outputs_parse(const char *json)
{
	json_object *root = parse_object(json), *a = array(root, "outputs");
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)output_free);
	size_t i, j;

	for (i = 0; a != NULL && i < json_object_array_length(a); i++) {
		json_object *e = json_object_array_get_idx(a, i), *s, *r;
		GPtrArray *who;
		struct ej_output *o;
		int64_t n;

		if (json_object_get_type(e) != json_type_object ||
		    !json_object_object_get_ex(e, "stream", &s) ||
		    json_object_get_type(s) != json_type_int)
			continue;
		/* A stream number the client library would not have written is no output. */
		n = json_object_get_int64(s);
		if (n < 0 || n > 65535)
			continue;
		o = g_new0(struct ej_output, 1);
		o->stream = (guint)n;
		who = g_ptr_array_new();
		r = array(e, "recipients");
		for (j = 0; r != NULL && j < json_object_array_length(r); j++) {
			json_object *v = json_object_array_get_idx(r, j);

			if (json_object_get_type(v) == json_type_string)
				g_ptr_array_add(who, g_strdup(json_object_get_string(v)));
		}
		g_ptr_array_add(who, NULL);
		o->recipients = (GStrv)g_ptr_array_free(who, FALSE);
		g_ptr_array_add(out, o);
	}
	if (root != NULL)
		json_object_put(root);
	return out;
}

char *
ej_common_name(const char *subject)
{
	const char *cn = subject != NULL ? strstr(subject, "CN=") : NULL;
	const char *end;

	if (cn == NULL)
		return g_strdup(subject != NULL ? subject : "");
	cn += 3;
	/* The one-line form separates with '/'; RFC 2253 forms with ','. */
	end = cn + strcspn(cn, "/,");
	return g_strndup(cn, (gsize)(end - cn));
}

char *
ej_error_message(const char *details)
{
	json_object *root = parse_object(details);
	const char *s = str2(root, "error", "message");
	char *out = s[0] != '\0' ? g_strdup(s) : NULL;

	if (root != NULL)
		json_object_put(root);
	return out;
}

char *
ej_date(const char *iso)
{
	const char *t = iso != NULL ? strchr(iso, 'T') : NULL;

	return t != NULL ? g_strndup(iso, (gsize)(t - iso)) : g_strdup(iso != NULL ? iso : "");
}

gboolean
ej_choice_parse(const char *json, const char *which, char **ret_uri, char **ret_message)
{
	json_object *root = parse_object(json), *o = object(root, which);
	const char *uri = str2(o, "chosen", NULL), *message = str2(o, "message", NULL);
	gboolean ok = o != NULL && (uri[0] != '\0' || message[0] != '\0');

	*ret_uri = ok && uri[0] != '\0' ? g_strdup(uri) : NULL;
	*ret_message = ok && uri[0] == '\0' ? g_strdup(message) : NULL;
	if (root != NULL)
		json_object_put(root);
	return ok;
}
