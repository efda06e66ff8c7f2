/*
 * The user's identities as the front sees them: what keyd finds on tokens
 * now, remembered in the store, plus those remembered from earlier (their
 * card out, or their certificate expired) so old mail stays readable and the
 * engine can ask for the right card. Also the choice of certificates for
 * PROTECT: the signer, the sender's own encryption certificate, and each
 * recipient's.
 */
#ifndef CS_IDENTITIES_H
#define CS_IDENTITIES_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "daemon.h"

struct front_identity {
	char *key_uri;
	char *token_label;
	char *token_serial;
	X509 *cert;
	int present;            /* its token is there now */
	/* Known only while its token is present (keyd reports them): */
	char *module;           /* the PKCS#11 module's path, or NULL */
	unsigned key_flags;     /* CS_KID_* */
};

void front_identities_free(struct front_identity *ids, size_t n);

/*
 * Lists (and remembers) the identities; those on absent tokens come from the
 * store. keyd's part may come from keyd_client's cache (invalidated by token
 * and reader events and PFX imports; see keyd_client_list_identities_cached),
 * so `present` can lag a card pulled out by one poll of keyd's watch.
 */
int front_identities(struct daemon *d, struct front_identity **ret_ids, size_t *ret_n);

/*
 * The identity's private key as a provider key. keyd is asked whether its
 * token is present (whatever id->present says); if it is absent the
 * client is told "insert token <label>" and the engine waits up to
 * timeout_seconds (or until the request is cancelled). The calling thread's
 * keyd context must be set (request_set_keyd_context).
 */
int front_identity_key(struct daemon *d, const struct front_identity *id, unsigned timeout_seconds,
                       EVP_PKEY **ret_key);

/* Whether cert is usable now for signing (1) or for encryption (2) mail for addr. */
enum { CERT_FOR_SIGNING = 1, CERT_FOR_ENCRYPTION = 2 };
int cert_usable(X509 *cert, const char *addr, int purpose);

/* Chooses the newest usable certificate among candidates (NULL if none); not a new reference. */
X509 *choose_cert(STACK_OF(X509) *candidates, const char *addr, int purpose);

/* Whether cert's emails include addr (case-insensitive). */
int cert_has_email(X509 *cert, const char *addr);

/*
 * The trust store from [trust] anchors and crl-dir (CRL checking on when the
 * directory held CRLs). Returns 0 and a new store; *ret_have_crls says
 * whether CRLs were loaded.
 */
int front_trust_store(const struct cs_config *cfg, X509_STORE **ret_store, int *ret_have_crls);

/* The chain of cert up to, not including, the anchor: intermediates from the store. */
STACK_OF(X509) *front_chain(struct daemon *d, X509 *cert);

#endif
