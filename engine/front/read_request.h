/*
 * READ's machinery shared with CERTS_INSTALL (certs_requests.c): a message
 * read with the user's identities, and the report's words.
 */
#ifndef CS_READ_REQUEST_H
#define CS_READ_REQUEST_H

#include "cs_smime.h"
#include "daemon.h"
#include "identities.h"
#include "json.h"

/*
 * Reads a message from in as READ does (decrypting with the user's
 * identities, asking for the card), writing the innermost message to out
 * (which it does not free). Fills *rep (clear it), *ret_ids and *ret_n (the
 * identities; front_identities_free). Returns 0 or a negative CS_ERR_*.
 */
int read_request_report(struct request *rq, BIO *in, BIO *out, struct cs_read_report *rep,
                        struct front_identity **ret_ids, size_t *ret_n);

/* "valid", "invalid", "untrusted", "expired", "revoked", "mismatch", "unsigned". */
const char *read_verdict_name(enum cs_verdict v);

/* A "reasons" array of cs_reason names. */
void read_json_reasons(struct cs_json *j, unsigned reasons);

#endif
