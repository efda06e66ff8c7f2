/*
 * The certificate store: SQLite under the engine's data directory
 * (store.sqlite), every write in a transaction. For now it holds
 * correspondents' certificates imported by the user, found by address; the
 * fuller store (harvesting, the user's identities, settings) grows here.
 */
#ifndef CS_STORE_H
#define CS_STORE_H

#include <stddef.h>

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

/* The emails a certificate names (SAN rfc822Name, then subject emailAddress); caller frees. */
STACK_OF(OPENSSL_STRING) *cs_cert_emails(X509 *cert);

#endif
