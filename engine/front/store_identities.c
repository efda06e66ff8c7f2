/* The user's own identities, remembered after their card is out or their certificate expired. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "cs_error.h"
#include "store_priv.h"

void
cs_store_identities_free(struct cs_store_identity *ids, size_t n)
{
	size_t i;

	for (i = 0; ids != NULL && i < n; i++) {
		free(ids[i].key_uri);
		free(ids[i].token_label);
		free(ids[i].token_serial);
		X509_free(ids[i].cert);
	}
	free(ids);
}

int
cs_store_remember_identity(struct cs_store *s, const char *key_uri, const char *token_label,
                           const char *token_serial, X509 *cert)
{
	sqlite3_stmt *st = NULL;
	unsigned char *der = NULL;
	int der_len, r = CS_ERR_IO;

	if ((der_len = i2d_X509(cert, &der)) <= 0)
		return CS_ERR_INTERNAL;
	if ((r = cs_store_begin(s)) != 0) {
		OPENSSL_free(der);
		return r;
	}
	r = CS_ERR_IO;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO identities(key_uri, token_label, token_serial, cert, last_seen)"
	                       " VALUES (?, ?, ?, ?, ?) ON CONFLICT(key_uri) DO UPDATE SET"
	                       " token_label = excluded.token_label,"
	                       " token_serial = excluded.token_serial, cert = excluded.cert,"
	                       " last_seen = excluded.last_seen",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, key_uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, token_label, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, token_serial, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, der, der_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) == SQLITE_DONE)
		r = 0;
out:
	sqlite3_finalize(st);
	OPENSSL_free(der);
	return cs_store_end(s, r);
}

static char *
column_strdup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return strdup(t != NULL ? (const char *)t : "");
}

int
cs_store_identities(struct cs_store *s, struct cs_store_identity **ret_ids, size_t *ret_n)
{
	struct cs_store_identity *ids = NULL, *grown;
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc, r = CS_ERR_IO;

	*ret_ids = NULL;
	*ret_n = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT key_uri, token_label, token_serial, cert, last_seen"
	                       " FROM identities ORDER BY last_seen DESC",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 3);
		struct cs_store_identity *id;

		if ((grown = realloc(ids, (n + 1) * sizeof(*ids))) == NULL) {
			r = CS_ERR_NOMEM;
			goto out;
		}
		ids = grown;
		id = &ids[n++];
		memset(id, 0, sizeof(*id));
		id->key_uri = column_strdup(st, 0);
		id->token_label = column_strdup(st, 1);
		id->token_serial = column_strdup(st, 2);
		id->cert = p != NULL ? d2i_X509(NULL, &p, sqlite3_column_bytes(st, 3)) : NULL;
		id->last_seen = sqlite3_column_int64(st, 4);
		if (id->key_uri == NULL || id->token_label == NULL || id->token_serial == NULL ||
		    id->cert == NULL) {
			r = CS_ERR_NOMEM;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		goto out;
	*ret_ids = ids;
	*ret_n = n;
	ids = NULL;
	n = 0;
	r = 0;
out:
	sqlite3_finalize(st);
	cs_store_identities_free(ids, n);
	return r;
}
