#include "store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "cs_error.h"

struct cs_store {
	sqlite3 *db;
	/*
	 * One connection serves every request thread: a transaction is open on
	 * the connection, not on a thread, so writers take turns here. Without
	 * it a second BEGIN fails, and another thread's statements would join
	 * (and roll back with) the open transaction.
	 */
	pthread_mutex_t write_lock;
};

int
cs_store_begin(struct cs_store *s)
{
	pthread_mutex_lock(&s->write_lock);
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK)
		return 0;
	pthread_mutex_unlock(&s->write_lock);
	return CS_ERR_IO;
}

int
cs_store_end(struct cs_store *s, int r)
{
	if (sqlite3_exec(s->db, r == 0 ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) != SQLITE_OK &&
	    r == 0) {
		r = CS_ERR_IO;
		(void)sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&s->write_lock);
	return r;
}

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	/*
	 * With WAL, NORMAL still makes every committed transaction survive a
	 * crash of the process; only a power loss may lose the last ones. FULL
	 * would cost an fsync per write on the signing path.
	 */
	"PRAGMA synchronous=NORMAL;"
	"CREATE TABLE IF NOT EXISTS certs ("
	"  fingerprint TEXT PRIMARY KEY,"      /* SHA-256 of the DER, hex */
	"  der BLOB NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  source TEXT NOT NULL,"              /* 'imported' ('import' before), 'harvested', 'installed' */
	"  added INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS cert_emails ("
	"  fingerprint TEXT NOT NULL REFERENCES certs(fingerprint) ON DELETE CASCADE,"
	"  email TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (fingerprint, email));"
	"CREATE INDEX IF NOT EXISTS cert_emails_by_email ON cert_emails(email);"
	"CREATE TABLE IF NOT EXISTS identities ("
	"  key_uri TEXT PRIMARY KEY,"
	"  token_label TEXT NOT NULL,"
	"  token_serial TEXT NOT NULL,"
	"  cert BLOB NOT NULL,"
	"  last_seen INTEGER NOT NULL);"
	/*
	 * What valid signed mail told about its signer (RFC 8551 2.7.1), one
	 * row per signer public key: the newest signing time wins.
	 */
	"CREATE TABLE IF NOT EXISTS signers ("
	"  spki TEXT PRIMARY KEY,"             /* SHA-256 of the signer's SubjectPublicKeyInfo, hex */
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  signer_fp TEXT NOT NULL,"
	"  enc_fp TEXT,"                       /* the encryption certificate, NULL if none usable */
	"  capabilities BLOB,"                 /* SMIMECapabilities DER, NULL if absent */
	"  signing_time INTEGER NOT NULL,"     /* 0 if the message had none */
	"  updated INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS signers_by_address ON signers(address);"
	/* Per-account settings (settings.c reads and writes them). */
	"CREATE TABLE IF NOT EXISTS account_settings ("
	"  account TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	"  PRIMARY KEY (account, key));";

/* mkdir -p, with new directories 0700: the data directory holds the user's store. */
static int
make_dirs(const char *dir)
{
	char path[4096];
	size_t i;

	if (strlen(dir) >= sizeof(path))
		return CS_ERR_TOO_LARGE;
	strcpy(path, dir);
	for (i = 1; path[i] != '\0'; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return CS_ERR_IO;
		path[i] = '/';
	}
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return CS_ERR_IO;
	return 0;
}

int
cs_store_open(const char *dir, struct cs_store **ret_store)
{
	struct cs_store *s;
	char path[4096];
	int r = CS_ERR_IO;

	*ret_store = NULL;
	if ((r = make_dirs(dir)) != 0)
		return r;
	if ((size_t)snprintf(path, sizeof(path), "%s/store.sqlite", dir) >= sizeof(path))
		return CS_ERR_TOO_LARGE;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CS_ERR_NOMEM;
	pthread_mutex_init(&s->write_lock, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                                       SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK)
		goto out;
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_exec(s->db, "PRAGMA foreign_keys=ON;", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	*ret_store = s;
	s = NULL;
	r = 0;
out:
	cs_store_close(s);
	return r;
}

void
cs_store_close(struct cs_store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->write_lock);
	free(s);
}

STACK_OF(OPENSSL_STRING) *
cs_cert_emails(X509 *cert)
{
	/* X509_get1_email returns SAN rfc822Names and subject emailAddress, de-duplicated. */
	return X509_get1_email(cert);
}

int
cs_cert_fingerprint(X509 *cert, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return CS_ERR_INTERNAL;
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static const char *
source_name(enum cs_cert_source source)
{
	switch (source) {
	case CS_SOURCE_HARVESTED:
		return "harvested";
	case CS_SOURCE_INSTALLED:
		return "installed";
	default:
		return "imported";
	}
}

/*
 * Inserts one certificate; *ret_added is 1 if it was new. A certificate
 * the user chose (imported, installed) that was only harvested before takes
 * the user's source. Inside the caller's transaction.
 */
static int
insert_cert(struct cs_store *s, X509 *cert, enum cs_cert_source source, int *ret_added)
{
	sqlite3_stmt *st = NULL;
	STACK_OF(OPENSSL_STRING) *emails = NULL;
	unsigned char *der = NULL;
	char fp[65];
	time_t not_after = 0;
	int der_len, i, r = CS_ERR_INTERNAL;

	*ret_added = 0;
	if ((r = cs_cert_fingerprint(cert, fp)) != 0)
		return r;
	if ((der_len = i2d_X509(cert, &der)) <= 0)
		return CS_ERR_INTERNAL;
	{
		struct tm tm;

		if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
			not_after = timegm(&tm);
	}
	r = CS_ERR_IO;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR IGNORE INTO certs(fingerprint, der, not_after, source, added)"
	                       " VALUES (?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, der, der_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)not_after);
	sqlite3_bind_text(st, 4, source_name(source), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
	if (sqlite3_step(st) != SQLITE_DONE)
		goto out;
	*ret_added = sqlite3_changes(s->db) > 0;
	sqlite3_finalize(st);
	st = NULL;
	if (!*ret_added && source != CS_SOURCE_HARVESTED) {
		if (sqlite3_prepare_v2(s->db,
		                       "UPDATE certs SET source = ? WHERE fingerprint = ?"
		                       " AND source = 'harvested'",
		                       -1, &st, NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_text(st, 1, source_name(source), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, fp, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out;
		sqlite3_finalize(st);
		st = NULL;
	}
	emails = cs_cert_emails(cert);
	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails); i++) {
		if (sqlite3_prepare_v2(s->db,
		                       "INSERT OR IGNORE INTO cert_emails(fingerprint, email)"
		                       " VALUES (?, ?)",
		                       -1, &st, NULL) != SQLITE_OK)
			goto out;
		sqlite3_bind_text(st, 1, fp, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, sk_OPENSSL_STRING_value(emails, i), -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto out;
		sqlite3_finalize(st);
		st = NULL;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	X509_email_free(emails);
	OPENSSL_free(der);
	return r;
}

/* Certificates from PEM (several), DER, or PKCS#7 in PEM or DER. */
static STACK_OF(X509) *
parse_certs(const unsigned char *data, size_t len)
{
	STACK_OF(X509) *certs = sk_X509_new_null();
	BIO *bio = NULL;
	X509 *x;
	PKCS7 *p7 = NULL;
	const unsigned char *p;
	int i;

	if (certs == NULL || len > INT32_MAX)
		goto fail;
	/* PEM certificates, one after another. */
	if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL)
		goto fail;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
		sk_X509_push(certs, x);
	ERR_clear_error();
	BIO_free(bio);
	bio = NULL;
	if (sk_X509_num(certs) > 0)
		return certs;
	/* A PEM PKCS#7 bundle, or DER certificate, or DER PKCS#7. */
	if ((bio = BIO_new_mem_buf(data, (int)len)) != NULL)
		p7 = PEM_read_bio_PKCS7(bio, NULL, NULL, NULL);
	BIO_free(bio);
	bio = NULL;
	if (p7 == NULL) {
		p = data;
		if ((x = d2i_X509(NULL, &p, (long)len)) != NULL && p == data + len) {
			sk_X509_push(certs, x);
			ERR_clear_error();
			return certs;
		}
		X509_free(x);
		p = data;
		p7 = d2i_PKCS7(NULL, &p, (long)len);
	}
	ERR_clear_error();
	if (p7 != NULL && PKCS7_type_is_signed(p7) && p7->d.sign != NULL && p7->d.sign->cert != NULL) {
		for (i = 0; i < sk_X509_num(p7->d.sign->cert); i++) {
			x = sk_X509_value(p7->d.sign->cert, i);
			if (X509_up_ref(x) == 1)
				sk_X509_push(certs, x);
		}
	}
	PKCS7_free(p7);
	return certs;
fail:
	BIO_free(bio);
	sk_X509_pop_free(certs, X509_free);
	return NULL;
}

int
cs_store_import(struct cs_store *s, const unsigned char *data, size_t len, int *ret_added,
                int *ret_seen)
{
	STACK_OF(X509) *certs;
	int i, added, r = 0;

	*ret_added = 0;
	*ret_seen = 0;
	if ((certs = parse_certs(data, len)) == NULL)
		return CS_ERR_NOMEM;
	if (sk_X509_num(certs) == 0) {
		sk_X509_pop_free(certs, X509_free);
		return CS_ERR_BAD_FORMAT;
	}
	if ((r = cs_store_begin(s)) != 0) {
		sk_X509_pop_free(certs, X509_free);
		return r;
	}
	for (i = 0; i < sk_X509_num(certs) && r == 0; i++) {
		if ((r = insert_cert(s, sk_X509_value(certs, i), CS_SOURCE_IMPORTED, &added)) ==
		    0) {
			*ret_added += added;
			(*ret_seen)++;
		}
	}
	r = cs_store_end(s, r);
	if (r != 0) {
		*ret_added = 0;
		*ret_seen = 0;
	}
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/*
 * Runs a query whose first column is a certificate's DER (with addr bound to
 * its one parameter when not NULL) and returns the certificates as a stack.
 */
static int
query_certs(struct cs_store *s, const char *sql, const char *addr, STACK_OF(X509) **ret_certs)
{
	sqlite3_stmt *st = NULL;
	STACK_OF(X509) *certs;
	int rc, r = CS_ERR_IO;

	*ret_certs = NULL;
	if ((certs = sk_X509_new_null()) == NULL)
		return CS_ERR_NOMEM;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		goto out;
	if (addr != NULL)
		sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *p = sqlite3_column_blob(st, 0);
		X509 *x = p != NULL ? d2i_X509(NULL, &p, sqlite3_column_bytes(st, 0)) : NULL;

		if (x != NULL && !sk_X509_push(certs, x))
			X509_free(x);
	}
	if (rc != SQLITE_DONE)
		goto out;
	*ret_certs = certs;
	certs = NULL;
	r = 0;
out:
	sqlite3_finalize(st);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

int
cs_store_find_by_email(struct cs_store *s, const char *addr, STACK_OF(X509) **ret_certs)
{
	return query_certs(s,
	                   "SELECT c.der FROM certs c JOIN cert_emails e"
	                   " ON c.fingerprint = e.fingerprint WHERE e.email = ?"
	                   " ORDER BY c.not_after DESC",
	                   addr, ret_certs);
}

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

int
cs_store_all_certs(struct cs_store *s, STACK_OF(X509) **ret_certs)
{
	return query_certs(s, "SELECT der FROM certs", NULL, ret_certs);
}

struct sqlite3 *
cs_store_db(struct cs_store *s)
{
	return s->db;
}

/* SHA-256 of the certificate's SubjectPublicKeyInfo, hex: a signer record's key. */
static int
spki_hash(X509 *cert, char hex[65])
{
	unsigned char *der = NULL, md[32];
	unsigned int i;
	int len, r = CS_ERR_INTERNAL;

	if ((len = i2d_PUBKEY(X509_get0_pubkey(cert), &der)) <= 0)
		return CS_ERR_INTERNAL;
	if (EVP_Digest(der, (size_t)len, md, NULL, EVP_sha256(), NULL) == 1) {
		for (i = 0; i < 32; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		r = 0;
	}
	OPENSSL_free(der);
	return r;
}


/* The signing time of spki's record, or -1 if there is none. Inside the transaction. */
static int
record_time(struct cs_store *s, const char *spki, int64_t *ret_time)
{
	sqlite3_stmt *st = NULL;
	int rc, r = CS_ERR_IO;

	*ret_time = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT signing_time FROM signers WHERE spki = ?", -1, &st,
	                       NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, spki, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*ret_time = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		goto out;
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

static int
write_record(struct cs_store *s, const char *spki, const struct cs_store_signer *h,
             const char *signer_fp, const char *enc_fp, int64_t now)
{
	sqlite3_stmt *st = NULL;
	int r = CS_ERR_IO;

	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO signers(spki, address, signer_fp, enc_fp,"
	                       " capabilities, signing_time, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, spki, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, h->address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, signer_fp, -1, SQLITE_STATIC);
	if (enc_fp != NULL)
		sqlite3_bind_text(st, 4, enc_fp, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 4);
	if (h->capabilities != NULL && h->capabilities_len > 0)
		sqlite3_bind_blob(st, 5, h->capabilities, (int)h->capabilities_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 5);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)h->signing_time);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	if (sqlite3_step(st) == SQLITE_DONE)
		r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

int
cs_store_record_signer(struct cs_store *s, const struct cs_store_signer *h, int64_t now,
                       enum cs_record_outcome *ret_outcome)
{
	char spki[65], signer_fp[65], enc_fp[65];
	int64_t have;
	int added, i, r;

	*ret_outcome = CS_RECORD_FUTURE;
	if (h->signer == NULL || h->address == NULL || h->capabilities_len > INT32_MAX)
		return CS_ERR_INVALID_ARG;
	/* A clock a little ahead is common; a day ahead is a forgery or a broken sender. */
	if (h->signing_time > now + CS_STORE_MAX_FUTURE)
		return 0;
	if ((r = spki_hash(h->signer, spki)) != 0 ||
	    (r = cs_cert_fingerprint(h->signer, signer_fp)) != 0 ||
	    (h->encryption_cert != NULL && (r = cs_cert_fingerprint(h->encryption_cert, enc_fp)) != 0))
		return r;
	if ((r = cs_store_begin(s)) != 0)
		return r;
	if ((r = record_time(s, spki, &have)) != 0)
		goto out;
	/*
	 * RFC 8551 2.7.1: only a newer signing time replaces what is known. An
	 * older message harvested adds nothing; installed (the user asked for
	 * it) its certificates go in, but the newer record stands.
	 */
	if (have > h->signing_time) {
		*ret_outcome = CS_RECORD_OLDER;
		if (h->source == CS_SOURCE_HARVESTED)
			goto out;
	}
	if ((r = insert_cert(s, h->signer, h->source, &added)) != 0 ||
	    (h->encryption_cert != NULL &&
	     (r = insert_cert(s, h->encryption_cert, h->source, &added)) != 0))
		goto out;
	for (i = 0; h->chain != NULL && i < sk_X509_num(h->chain); i++) {
		/* Intermediates help build paths later; they are no one's encryption certificate. */
		if ((r = insert_cert(s, sk_X509_value(h->chain, i), CS_SOURCE_HARVESTED, &added)) != 0)
			goto out;
	}
	if (*ret_outcome == CS_RECORD_OLDER)
		goto out;
	if ((r = write_record(s, spki, h, signer_fp,
	                      h->encryption_cert != NULL ? enc_fp : NULL, now)) != 0)
		goto out;
	*ret_outcome = CS_RECORD_RECORDED;
out:
	return cs_store_end(s, r);
}

int
cs_store_preferred(struct cs_store *s, const char *addr, char ret_fp[65])
{
	sqlite3_stmt *st = NULL;
	const unsigned char *t;
	int rc, r = CS_ERR_IO;

	ret_fp[0] = '\0';
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT enc_fp FROM signers WHERE address = ? AND enc_fp IS NOT NULL"
	                       " ORDER BY signing_time DESC, updated DESC LIMIT 1",
	                       -1, &st, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		t = sqlite3_column_text(st, 0);
		if (t != NULL && strlen((const char *)t) == 64)
			memcpy(ret_fp, t, 65);
	} else if (rc != SQLITE_DONE) {
		goto out;
	}
	r = 0;
out:
	sqlite3_finalize(st);
	return r;
}

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
