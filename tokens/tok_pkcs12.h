/*
 * PKCS#12 (PFX) import: the key, certificate and CA chain of a .p12 file
 * written onto a token, for users whose certificate came as a file (a
 * Windows export, a CA's download) rather than generated on the card.
 *
 * The file is decrypted in a private OpenSSL library context holding the
 * "default" and "legacy" providers, so RC2-40 and 3DES files load without
 * making legacy algorithms available to the rest of the process.
 */
#ifndef TOK_PKCS12_H
#define TOK_PKCS12_H

#include <stddef.h>
#include <stdint.h>

#include "tok.h"

/* The largest PKCS#12 file accepted (keyd's frame limit is 64 KiB). */
#define TOK_PKCS12_MAX (60u * 1024)

/*
 * Imports the key and certificate (and chain) of a PKCS#12 file onto the
 * token the URI names.
 *
 * token_uri must name exactly one present token by label or serial. password
 * may be NULL for a file without one. label becomes CKA_LABEL of the key, its
 * public key and certificate; NULL or "" means the certificate's e-mail
 * address, else its common name.
 *
 * The file must hold exactly one private key (RSA, or EC on P-256, P-384 or
 * P-521) and the certificate that matches it; other certificates that are CAs
 * are written as authority certificates unless the token already has them,
 * and the rest are ignored. Every object's CKA_ID is the SHA-1 of its
 * subjectPublicKey (RFC 5280's usual key identifier); the private key is
 * sensitive and never extractable, its usage taken from the keyUsage extension.
 *
 * Returns 0 with *ret_key_uri and *ret_cert_uri (new strings the caller frees;
 * untouched on failure), or:
 *   CS_ERR_PKCS12       the file is malformed, the password is wrong (one code for
 *                       both: without a MAC, OpenSSL cannot tell them apart), there
 *                       is no key or more than one, no certificate matches the key,
 *                       or the certificate's extensions do not parse
 *   CS_ERR_MECHANISM    a key type or curve tokens/ does not use, RSA over 8192 bits
 *                       or multi-prime, or a keyUsage allowing none of sign, decrypt
 *                       (RSA) or derive (EC)
 *   CS_ERR_INVALID_ARG  an object with the key's CKA_ID is already on the token
 *                       (nothing is written), or token_uri names no token in
 *                       particular (no label or serial, or several tokens match)
 *   CS_ERR_BAD_FORMAT   token_uri is not a pkcs11: URI
 *   CS_ERR_TOO_LARGE    the file is over TOK_PKCS12_MAX, or has over 16 CA certificates
 *   CS_ERR_NO_TOKEN, the login's errors (CS_ERR_CANCELLED, CS_ERR_PIN_INCORRECT,
 *   CS_ERR_PIN_LOCKED, CS_ERR_TIMEOUT...), CS_ERR_TOKEN with tok_last_rv() (e.g.
 *   CKR_TOKEN_WRITE_PROTECTED), CS_ERR_NOMEM.
 * The file is read before the token is locked: a bad file costs no PIN dialog.
 * On any failure nothing this call created stays on the token (unless the token
 * is pulled mid-write, when the objects already stored cannot be destroyed).
 */
int tok_import_pkcs12(struct tok_ctx *ctx, const char *token_uri, const uint8_t *p12,
                      size_t p12_len, const struct cs_secret *password, const char *label,
                      tok_pin_cb pin_cb, void *pin_arg, char **ret_key_uri, char **ret_cert_uri);

#endif
