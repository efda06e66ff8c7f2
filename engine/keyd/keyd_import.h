/* cardseal-keyd: CS_KMSG_IMPORT_P12, a PKCS#12 file written onto a token. */
#ifndef KEYD_IMPORT_H
#define KEYD_IMPORT_H

#include <stdint.h>

#include "cs_buf.h"
#include "keyd.h"

/*
 * The import policy: the smallest keys and the weakest certificate
 * signatures a PKCS#12 import accepts. These are the only place the numbers
 * live; the admin policy is to supply them later (and may only raise them).
 */
#define KEYD_IMPORT_MIN_RSA_BITS 2048
#define KEYD_IMPORT_MIN_EC_BITS 256
#define KEYD_IMPORT_REFUSE_WEAK_SIGNATURE 1     /* MD5 or SHA-1 on the certificate */

/*
 * Reads the request (context, str token_uri, bytes pkcs12 of at most
 * TOK_PKCS12_MAX, str password, str label) and imports through
 * tok_import_pkcs12_ex(). An empty token_uri means the only writable token
 * present. An empty password means keyd asks for it through pinentry (the
 * context's summary is the file's name for that dialog), after the file
 * was found to need one, up to TOK_PKCS12_PASSWORD_TRIES times; a password
 * in the request gets one try (tests of keyd alone use that). Then the
 * token's PIN, as for any login. Audited as "import".
 *
 * Replies once: OK with str key_uri, str cert_uri, str token_label,
 * str subject, u32 chain (CA certificates in the file), u32 chain_written
 * (of those, new on the token); or ERROR whose message says what went wrong
 * in words for the user ("wrong password", "the token is full", "already on
 * the token: ...", "the key is too weak for policy (RSA 1024 < 2048)").
 * cancel is the request's flag: a CANCEL closes the open dialog.
 */
void keyd_handle_import_p12(struct keyd *k, uint32_t id, struct cs_reader *rd,
                            const volatile int *cancel);

#endif
