/* Listing, fetching and removing stored certificates, with what the records say of them. */
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
cs_store_certs_free(struct cs_store_cert *certs, size_t n)
{
	size_t i;

	for (i = 0; certs != NULL && i < n; i++) {
		X509_free(certs[i].cert);
		free(certs[i].capabilities);
	}
	free(certs);
}

static const char *
stored_source(const unsigned char *t)
{
	if (t == NULL || strcmp((const char *)t, "import") == 0)
		return "imported";
	return (const char *)t;
}

/* The newest signer record naming fp (as signer or encryption certificate), if any. */
static int
cert_record(struct cs_store *s, struct cs_store_cert *c)
{
	sqlite3_stmt *st = NULL;
	const void *p;
	int rc, n, r = CS_ERR_IO;

	if (sqlite3_prepare_v2(s->db,
	                       "SELECT signing_time, capabilities FROM signers"
	                       " WHERE signer_fp = ?1 OR enc_fp = ?1"
	                       " ORDER BY signing_time DESC, updated DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, c->fingerprint, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->has_record = 1;
		c->signing_time = sqlite3_column_int64(st, 0);
		p = sqlite3_column_blob(st, 1);
		n = sqlite3_column_bytes(st, 1);
		if (p != NULL && n > 0) {
			if ((c->capabilities = malloc((size_t)n)) == NULL) {
				r = CS_ERR_NOMEM;
				goto out;
			}
			memcpy(c->capabilities, p, (size_t)n);
			c->capabilities_len = (size_t)n;
		}
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int
cs_store_list(struct cs_store *s, const char *addr, struct cs_store_cert **ret_certs,
              size_t *ret_n)
{
	struct cs_store_cert *certs = NULL, *grown, *c;
	sqlite3_stmt *st = NULL;
	size_t n = 0, i;
	int rc, r = CS_ERR_IO;

	*ret_certs = NULL;
	*ret_n = 0;
	if (sqlite3_prepare_v2(s->db,
	                       addr != NULL && addr[0] != '\0'
	                           ? "SELECT c.fingerprint, c.der, c.source, c.added FROM certs c"
	                             " JOIN cert_emails e ON c.fingerprint = e.fingerprint"
	                             " WHERE e.email = ? ORDER BY c.added, c.fingerprint"
	                           : "SELECT fingerprint, der, source, added FROM certs"
	                             " ORDER BY added, fingerprint",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (addr != NULL && addr[0] != '\0')
		sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *fp = sqlite3_column_text(st, 0);
		const unsigned char *p = sqlite3_column_blob(st, 1);

		if ((grown = realloc(certs, (n + 1) * sizeof(*certs))) == NULL) {
			r = CS_ERR_NOMEM;
			goto out;
		}
		certs = grown;
		c = &certs[n++];
		memset(c, 0, sizeof(*c));
		snprintf(c->fingerprint, sizeof(c->fingerprint), "%s",
		         fp != NULL ? (const char *)fp : "");
		snprintf(c->source, sizeof(c->source), "%s",
		         stored_source(sqlite3_column_text(st, 2)));
		c->added = sqlite3_column_int64(st, 3);
		if (p == NULL || (c->cert = d2i_X509(NULL, &p, sqlite3_column_bytes(st, 1))) == NULL) {
			r = CS_ERR_BAD_FORMAT;
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	for (i = 0; i < n; i++) {
		if ((r = cert_record(s, &certs[i])) != 0)
			goto out;
	}
	*ret_certs = certs;
	*ret_n = n;
	certs = NULL;
	n = 0;
	r = 0;
out:
	sqlite3_finalize(st);
	cs_store_certs_free(certs, n);
	return r;
}

/* A fingerprint as the store writes it: 64 lowercase hex digits (colons and case forgiven). */
static int
normal_fingerprint(const char *in, char out[65])
{
	size_t n = 0;

	for (; *in != '\0'; in++) {
		if (*in == ':')
			continue;
		if (n == 64 || !((*in >= '0' && *in <= '9') || (*in >= 'a' && *in <= 'f') ||
		                 (*in >= 'A' && *in <= 'F')))
			return CS_ERR_INVALID_ARG;
		out[n++] = (char)(*in >= 'A' && *in <= 'F' ? *in - 'A' + 'a' : *in);
	}
	out[n] = '\0';
	return n == 64 ? 0 : CS_ERR_INVALID_ARG;
}

/* The identity whose certificate has fingerprint fp, as a new reference, or NULL. */
static int
find_identity_cert(struct cs_store *s, const char *fp, X509 **ret)
{
	struct cs_store_identity *ids = NULL;
	size_t n = 0, i;
	char have[65];
	int r;

	*ret = NULL;
	if ((r = cs_store_identities(s, &ids, &n)) != 0)
		return r;
	for (i = 0; i < n && *ret == NULL; i++) {
		if (cs_cert_fingerprint(ids[i].cert, have) == 0 && strcmp(have, fp) == 0 &&
		    X509_up_ref(ids[i].cert) == 1)
			*ret = ids[i].cert;
	}
	cs_store_identities_free(ids, n);
	return 0;
}

int
cs_store_get(struct cs_store *s, const char *fingerprint, X509 **ret_cert)
{
	sqlite3_stmt *st = NULL;
	char fp[65];
	const unsigned char *p;
	int rc, r;

	*ret_cert = NULL;
	if ((r = normal_fingerprint(fingerprint, fp)) != 0)
		return r;
	r = CS_ERR_IO;
	if (sqlite3_prepare_v2(s->db, "SELECT der FROM certs WHERE fingerprint = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		p = sqlite3_column_blob(st, 0);
		if (p != NULL)
			*ret_cert = d2i_X509(NULL, &p, sqlite3_column_bytes(st, 0));
		r = *ret_cert != NULL ? 0 : CS_ERR_BAD_FORMAT;
		goto out;
	}
	if (rc != SQLITE_DONE)
		goto out;
	if ((r = find_identity_cert(s, fp, ret_cert)) == 0 && *ret_cert == NULL)
		r = CS_ERR_NOT_FOUND;
out:
	sqlite3_finalize(st);
	return r;
}

/* Runs one statement with fp bound to ?1; *ret_changes counts the rows it changed. */
static int
exec_fp(struct cs_store *s, const char *sql, const char *fp, int *ret_changes)
{
	sqlite3_stmt *st = NULL;
	int r = CS_ERR_IO;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	if (ret_changes != NULL)
		*ret_changes = sqlite3_changes(s->db);
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int
cs_store_remove(struct cs_store *s, const char *fingerprint)
{
	X509 *own = NULL;
	char fp[65];
	int changes = 0, r;

	if ((r = normal_fingerprint(fingerprint, fp)) != 0)
		return r;
	if ((r = cs_store_begin(s)) != 0)
		return r;
	/* The signer records that name it go with it: their preference pointed at it. */
	if ((r = exec_fp(s, "DELETE FROM signers WHERE signer_fp = ?1 OR enc_fp = ?1", fp, NULL)) !=
	        0 ||
	    (r = exec_fp(s, "DELETE FROM certs WHERE fingerprint = ?1", fp, &changes)) != 0)
		goto out;
	if (changes == 0) {
		/* The user's own identities stay remembered (old mail must stay readable). */
		if ((r = find_identity_cert(s, fp, &own)) == 0)
			r = own != NULL ? CS_ERR_PERMISSION : CS_ERR_NOT_FOUND;
	}
out:
	X509_free(own);
	return cs_store_end(s, r);
}
