/*
 * The choice of a recipient's encryption certificate for PROTECT and
 * ENCRYPT_DATA (and CERTS_CHOOSE, which explains it): among the user's own
 * identities and the store's certificates for the address.
 */
#ifndef CS_RECIPIENTS_H
#define CS_RECIPIENTS_H

#include <openssl/x509.h>

#include "daemon.h"
#include "identities.h"
#include "json.h"

/*
 * Chooses addr's encryption certificate. ids (may be NULL) are the user's
 * own identities, consulted first. *ret_cert is a new reference, or NULL
 * when no certificate is usable (not an error). A revoked, expired or
 * not-yet-valid certificate, or one whose key usage or EKU forbids email
 * encryption, is never chosen. When why is not NULL, the choice is
 * explained as members of the JSON object being written there:
 *   "address": addr, "found": bool,
 *   "chosen": candidate (only when found),
 *   "rejected": [candidate...]  every other candidate, with its reasons
 * candidate = {"fingerprint" (SHA-256 hex), "subject", "not_after",
 *   "source" ("own", "imported", "harvested", "installed"), "preferred"
 *   (the sender's newest signed mail prefers it), "trust" ("trusted",
 *   "untrusted": no path to an anchor), "revocation" ("good", "revoked",
 *   "unknown"), "reasons": ["expired", "not-yet-valid", "revoked",
 *   "key-usage", "extended-key-usage", "address-mismatch", "superseded"
 *   (usable, but another ranks first)]}.
 * Returns 0 or a negative CS_ERR_* (store failure, no memory).
 */
int front_choose_recipient(struct daemon *d, const struct front_identity *ids, size_t n_ids,
                           const char *addr, X509 **ret_cert, struct cs_json *why);

#endif
