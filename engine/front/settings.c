/*
 * Per-account settings in the store's SQLite database: one row per account
 * and key (the table is created here, beside the store's own). Accounts are
 * kept in lower case: addresses compare case-insensitively.
 */
#include "settings.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "cs_error.h"
#include "cs_proto.h"

/*
 * The store's one connection serves every client thread (SQLite's serialized
 * mode makes each statement safe); writes go through the store's
 * transactions (cs_store_begin), which take turns with the store's own.
 */

static const char *const keys[] = { "sign-cert", "encrypt-cert", "always-sign", "always-encrypt",
	                            "harvest", NULL };

int
settings_key_known(const char *key)
{
	size_t i;

	for (i = 0; keys[i] != NULL; i++)
		if (strcmp(keys[i], key) == 0)
			return 1;
	return 0;
}

/* Creates the table once per process (IF NOT EXISTS: restarts find it there). Lock held. */
/* account in lower case (NULL or "" becomes ""); NULL when out of memory or too long. */
static char *
normalize(const char *account)
{
	char *out;
	size_t i, len = account != NULL ? strlen(account) : 0;

	if (len > CS_PROTO_MAX_STR || (out = malloc(len + 1)) == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)account[i]);
	out[len] = '\0';
	return out;
}

static int
set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return CS_ERR_NOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Applies one stored row to s; rows with keys or values we do not know are ignored. */
static int
apply(struct account_settings *s, const char *key, const char *value)
{
	int yes = strcmp(value, "yes") == 0;

	if (strcmp(key, "sign-cert") == 0)
		return set_string(&s->sign_cert, value);
	if (strcmp(key, "encrypt-cert") == 0)
		return set_string(&s->encrypt_cert, value);
	if (strcmp(key, "always-sign") == 0)
		s->always_sign = yes;
	else if (strcmp(key, "always-encrypt") == 0)
		s->always_encrypt = yes;
	else if (strcmp(key, "harvest") == 0)
		s->harvest = yes;
	return 0;
}

int
settings_get(struct daemon *d, const char *account, struct account_settings *ret)
{
	sqlite3 *db = cs_store_db(d->store);
	sqlite3_stmt *st = NULL;
	char *acct = normalize(account);
	int r, rc;

	memset(ret, 0, sizeof(*ret));
	ret->harvest = 1;
	if (acct == NULL)
		return CS_ERR_NOMEM;
	if ((r = set_string(&ret->sign_cert, "auto")) != 0 ||
	    (r = set_string(&ret->encrypt_cert, "auto")) != 0)
		goto out;
	if (acct[0] == '\0')
		goto out;       /* the defaults */
	if (sqlite3_prepare_v2(db, "SELECT key, value FROM account_settings WHERE account = ?", -1,
	                       &st, NULL) != SQLITE_OK)
		r = CS_ERR_IO;
	if (r == 0 && sqlite3_bind_text(st, 1, acct, -1, SQLITE_STATIC) != SQLITE_OK)
		r = CS_ERR_IO;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		r = apply(ret, (const char *)sqlite3_column_text(st, 0),
		          (const char *)sqlite3_column_text(st, 1));
	if (r == 0 && rc != SQLITE_DONE)
		r = CS_ERR_IO;
	sqlite3_finalize(st);
out:
	free(acct);
	if (r != 0)
		account_settings_clear(ret);
	return r;
}

void
account_settings_clear(struct account_settings *s)
{
	free(s->sign_cert);
	free(s->encrypt_cert);
	memset(s, 0, sizeof(*s));
}

static int
value_ok(const char *key, const char *value)
{
	if (strcmp(key, "sign-cert") == 0 || strcmp(key, "encrypt-cert") == 0)
		return strcmp(value, "auto") == 0 || strncasecmp(value, "pkcs11:", 7) == 0;
	return strcmp(value, "yes") == 0 || strcmp(value, "no") == 0;
}

int
settings_set(struct daemon *d, const char *account, const char *key, const char *value)
{
	sqlite3 *db = cs_store_db(d->store);
	sqlite3_stmt *st = NULL;
	char *acct;
	int r;

	if (!settings_key_known(key) || !value_ok(key, value) || account == NULL ||
	    strchr(account, '@') == NULL)
		return CS_ERR_INVALID_ARG;
	if ((acct = normalize(account)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = cs_store_begin(d->store)) != 0)
		goto out;
	if (sqlite3_prepare_v2(db,
	                       "INSERT OR REPLACE INTO account_settings (account, key, value)"
	                       " VALUES (?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_bind_text(st, 1, acct, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_DONE)
		r = CS_ERR_IO;
	sqlite3_finalize(st);
	r = cs_store_end(d->store, r);
out:
	free(acct);
	return r;
}

int
settings_accounts(struct daemon *d, char ***ret_accounts, size_t *ret_n)
{
	sqlite3 *db = cs_store_db(d->store);
	sqlite3_stmt *st = NULL;
	char **list = NULL, **grown;
	size_t n = 0;
	int r = 0, rc = SQLITE_DONE;

	*ret_accounts = NULL;
	*ret_n = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT DISTINCT account FROM account_settings ORDER BY account", -1,
	                       &st, NULL) != SQLITE_OK)
		r = CS_ERR_IO;
	if (r == 0 && (list = calloc(1, sizeof(*list))) == NULL)
		r = CS_ERR_NOMEM;
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((grown = realloc(list, (n + 2) * sizeof(*list))) == NULL) {
			r = CS_ERR_NOMEM;
			break;
		}
		list = grown;
		if ((list[n] = strdup((const char *)sqlite3_column_text(st, 0))) == NULL) {
			r = CS_ERR_NOMEM;
			break;
		}
		list[++n] = NULL;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = CS_ERR_IO;
	sqlite3_finalize(st);
	if (r != 0) {
		while (n > 0)
			free(list[--n]);
		free(list);
		return r;
	}
	*ret_accounts = list;
	*ret_n = n;
	return 0;
}

void
settings_json(const struct account_settings *s, struct cs_json *j)
{
	cs_json_string(j, "sign-cert", s->sign_cert);
	cs_json_string(j, "encrypt-cert", s->encrypt_cert);
	cs_json_bool(j, "always-sign", s->always_sign);
	cs_json_bool(j, "always-encrypt", s->always_encrypt);
	cs_json_bool(j, "harvest", s->harvest);
}
