/* The certificate store: opening it, its schema, transactions, importing certificates. */
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
#include "store_priv.h"

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

/* See store_priv.h. */
int
store_insert_cert(struct cs_store *s, X509 *cert, enum cs_cert_source source, int *ret_added)
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
		if ((r = store_insert_cert(s, sk_X509_value(certs, i), CS_SOURCE_IMPORTED, &added)) ==
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
