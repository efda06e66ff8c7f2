/*
 * The certificate store: SQLite under the engine's data directory
 * (store.sqlite), every write in a transaction. It holds correspondents'
 * certificates (imported, harvested from valid signed mail, or installed
 * from a message) found by address, what each signer's mail said about
 * itself (capabilities, encryption-key preference, signing time; keyed by
 * the signer's public key, the newest signing time winning), and the user's
 * own identities, remembered after their card is out or they expired.
 */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

struct cs_store;

/* Opens (creating) DIR/store.sqlite; DIR is created 0700 if missing. */
int cs_store_open(const char *dir, struct cs_store **ret_store);
void cs_store_close(struct cs_store *s);

/*
 * Imports the certificates in a file's bytes: PEM (one or more), DER, or a
 * PKCS#7 bundle (PEM or DER). *ret_added counts new ones, *ret_seen all.
 * CS_ERR_BAD_FORMAT if the bytes hold no certificate.
 */
int cs_store_import(struct cs_store *s, const unsigned char *data, size_t len, int *ret_added,
                    int *ret_seen);

/* Every stored certificate whose email (SAN rfc822Name or subject emailAddress) is addr. */
int cs_store_find_by_email(struct cs_store *s, const char *addr, STACK_OF(X509) **ret_certs);

/* One of the user's own identities as last seen on a token. */
struct cs_store_identity {
	char *key_uri;
	char *token_label;
	char *token_serial;
	X509 *cert;
	long long last_seen;        /* seconds since the epoch */
};

void cs_store_identities_free(struct cs_store_identity *ids, size_t n);

/*
 * Records (or refreshes) an identity seen on a token now. Kept after the card
 * is removed or the certificate expires, so old mail stays readable and
 * "insert token X" can name the card.
 */
int cs_store_remember_identity(struct cs_store *s, const char *key_uri, const char *token_label,
                               const char *token_serial, X509 *cert);

/* Every remembered identity. */
int cs_store_identities(struct cs_store *s, struct cs_store_identity **ret_ids, size_t *ret_n);

/* Every stored correspondent certificate (chain building uses them as untrusted). */
int cs_store_all_certs(struct cs_store *s, STACK_OF(X509) **ret_certs);

/*
 * The store's SQLite handle, for the engine's other tables (settings). Use
 * it from one thread at a time as the store does (SQLite's serialized mode).
 */
struct sqlite3;
struct sqlite3 *cs_store_db(struct cs_store *s);

/*
 * A write transaction on the store's one connection. Writers take turns
 * (a transaction belongs to the connection, not to a thread): every write,
 * the settings' too, goes between cs_store_begin and cs_store_end, which
 * commits when r is 0 and rolls back otherwise. cs_store_end returns r, or
 * CS_ERR_IO if the commit failed.
 */
int cs_store_begin(struct cs_store *s);
int cs_store_end(struct cs_store *s, int r);

/* Where a correspondent's certificate came from. */
enum cs_cert_source {
	CS_SOURCE_IMPORTED = 0,     /* cardseal certs import */
	CS_SOURCE_HARVESTED,        /* from valid signed mail read (the harvest setting on) */
	CS_SOURCE_INSTALLED,        /* the user installed it from a message (CERTS_INSTALL) */
};

/* What a valid signed message says about its signer (RFC 8551 2.7.1). */
struct cs_store_signer {
	X509 *signer;               /* the record's key is its public key */
	X509 *encryption_cert;      /* the resolved encryption certificate; may be NULL */
	STACK_OF(X509) *chain;      /* intermediates worth keeping; may be NULL */
	const char *address;        /* the sender's address the signer matched */
	const unsigned char *capabilities;  /* SMIMECapabilities DER; may be NULL */
	size_t capabilities_len;
	int64_t signing_time;       /* 0 when the message had none */
	enum cs_cert_source source;
};

/* How far ahead of the clock a signing time may be before a record is refused. */
#define CS_STORE_MAX_FUTURE (24 * 3600)

enum cs_record_outcome {
	CS_RECORD_RECORDED = 0,     /* written: new, or newer than what was known */
	CS_RECORD_OLDER,            /* a newer signing time is on record: the record stands
	                               (installed certificates still go in, harvested ones not) */
	CS_RECORD_FUTURE,           /* signed more than a day ahead of now: nothing written */
};

/*
 * Records a signer in one transaction: its certificate, its encryption
 * certificate and chain (source h->source), and the record keyed by its
 * public key with capabilities and signing time, unless a record with a
 * newer signing time exists or the signing time is more than
 * CS_STORE_MAX_FUTURE after now. Returns 0 and *ret_outcome, or CS_ERR_*.
 */
int cs_store_record_signer(struct cs_store *s, const struct cs_store_signer *h, int64_t now,
                           enum cs_record_outcome *ret_outcome);

/*
 * The fingerprint of the encryption certificate addr's newest signer record
 * prefers ("" when none). Returns 0 or CS_ERR_IO.
 */
int cs_store_preferred(struct cs_store *s, const char *addr, char ret_fp[65]);

/* A stored correspondent certificate with what the store knows about it. */
struct cs_store_cert {
	char fingerprint[65];
	X509 *cert;
	char source[16];            /* "imported", "harvested", "installed" */
	long long added;            /* seconds since the epoch */
	int has_record;             /* a signer record names it (as signer or encryption cert) */
	int64_t signing_time;       /* of the newest such record */
	unsigned char *capabilities;    /* its SMIMECapabilities DER, or NULL */
	size_t capabilities_len;
};

void cs_store_certs_free(struct cs_store_cert *certs, size_t n);

/* Every stored certificate naming addr (all of them when addr is NULL or ""), oldest first. */
int cs_store_list(struct cs_store *s, const char *addr, struct cs_store_cert **ret_certs,
                  size_t *ret_n);

/*
 * The certificate with this SHA-256 fingerprint (hex; colons and case
 * forgiven): a correspondent's, or one of the user's identities. Returns 0
 * and a new reference, CS_ERR_INVALID_ARG (not a fingerprint) or
 * CS_ERR_NOT_FOUND.
 */
int cs_store_get(struct cs_store *s, const char *fingerprint, X509 **ret_cert);

/*
 * Removes a correspondent certificate and the signer records naming it, in
 * one transaction. CS_ERR_PERMISSION for one of the user's own identities
 * (they stay remembered), CS_ERR_NOT_FOUND, CS_ERR_INVALID_ARG.
 */
int cs_store_remove(struct cs_store *s, const char *fingerprint);

/* SHA-256 of the certificate's DER as 64 lowercase hex digits. */
int cs_cert_fingerprint(X509 *cert, char hex[65]);

/* The emails a certificate names (SAN rfc822Name, then subject emailAddress); caller frees. */
STACK_OF(OPENSSL_STRING) *cs_cert_emails(X509 *cert);

#endif
