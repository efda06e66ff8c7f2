/* cardseal-keyd: CS_KMSG_IMPORT_P12, a PKCS#12 file written onto a token. */
#ifndef KEYD_IMPORT_H
#define KEYD_IMPORT_H

#include <stdint.h>

#include "cs_buf.h"
#include "keyd.h"

/*
 * Reads the request (context, str token_uri, bytes pkcs12 of at most
 * TOK_PKCS12_MAX, str password, str label), imports through
 * tok_import_pkcs12() with a PIN dialog for the token, audits it as "import"
 * and replies once: OK with str key_uri, str cert_uri, or ERROR. cancel is the
 * request's flag: a CANCEL closes the open PIN dialog.
 */
void keyd_handle_import_p12(struct keyd *k, uint32_t id, struct cs_reader *rd,
                            const volatile int *cancel);

#endif
