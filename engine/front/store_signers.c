/* Harvested signer records (RFC 8551 2.7.1): per signer key, the newest signing time wins. */
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
	if ((r = store_insert_cert(s, h->signer, h->source, &added)) != 0 ||
	    (h->encryption_cert != NULL &&
	     (r = store_insert_cert(s, h->encryption_cert, h->source, &added)) != 0))
		goto out;
	for (i = 0; h->chain != NULL && i < sk_X509_num(h->chain); i++) {
		/* Intermediates help build paths later; they are no one's encryption certificate. */
		if ((r = store_insert_cert(s, sk_X509_value(h->chain, i), CS_SOURCE_HARVESTED, &added)) != 0)
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
