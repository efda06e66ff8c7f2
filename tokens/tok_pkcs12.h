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

/* How many times a file's password is asked before the import gives up. */
#define TOK_PKCS12_PASSWORD_TRIES 3

/*
 * The smallest keys and the weakest certificate signatures an import
 * accepts. keyd fills it (engine/keyd/keyd_import.h holds the numbers until
 * the admin policy supplies them); zeros accept anything tokens/ can use.
 */
struct tok_key_policy {
	unsigned min_rsa_bits;
	unsigned min_ec_bits;
	int refuse_weak_signature;  /* the certificate signed with MD2, MD4, MD5 or SHA-1 */
};

/* What the password callback is told. */
struct tok_password_prompt {
	const char *token_label;    /* the token the file goes onto */
	int attempt;                /* 1, 2 ... TOK_PKCS12_PASSWORD_TRIES */
	int tries;                  /* TOK_PKCS12_PASSWORD_TRIES */
	int previous_wrong;         /* the last password asked was wrong */
};

/*
 * Asks for the file's password. Returns 0 with a new secret in *ret_password
 * (may be empty), or a negative CS_ERR_* (CS_ERR_CANCELLED...) that ends the import.
 */
typedef int (*tok_password_cb)(void *arg, const struct tok_password_prompt *prompt,
                               struct cs_secret **ret_password);

struct tok_import_request {
	/*
	 * The token: a pkcs11: URI naming exactly one present token by label or
	 * serial; NULL or "" for the only writable token present (none or
	 * several: an error naming them).
	 */
	const char *token_uri;
	const uint8_t *p12;
	size_t p12_len;
	/*
	 * The password as given (one try), or NULL: a file that opens without one
	 * needs no dialog, else password_cb is asked up to
	 * TOK_PKCS12_PASSWORD_TRIES times. Both NULL: the file must open without.
	 */
	const struct cs_secret *password;
	tok_password_cb password_cb;
	void *password_arg;
	const char *label;                  /* as for tok_import_pkcs12() */
	const struct tok_key_policy *policy;    /* NULL: no minimums */
	tok_pin_cb pin_cb;
	void *pin_arg;
};

/* What an import did, or why it failed. */
struct tok_import_result {
	char *key_uri, *cert_uri;           /* new strings, on success */
	char token_label[33];               /* the token chosen (also on most failures) */
	char *subject;                      /* the certificate's subject (RFC 2253), on success */
	int chain;                          /* CA certificates in the file */
	int chain_written;                  /* of those, written (the rest were there already) */
	char message[512];                  /* on failure: what went wrong, in words for the user */
};

/* Frees what the result holds and zeroes it. */
void tok_import_result_clear(struct tok_import_result *res);

/*
 * tok_import_pkcs12() with the token chosen for the caller, the password
 * asked through a callback (with retries), a key policy, and a result that
 * says what was written or, in res->message, what went wrong. The token is
 * chosen (and must be present) before any dialog; the file is opened and
 * checked against the policy before the token is locked or its PIN asked.
 *
 * Returns 0 or the codes of tok_import_pkcs12(), where also:
 *   CS_ERR_PKCS12       "wrong password" after the tries (or the one given)
 *   CS_ERR_PERMISSION   the key or the certificate's signature is too weak for the policy
 *   CS_ERR_INVALID_ARG  already on the token (the message names the object), or several
 *                       writable tokens and no URI (the message lists them)
 *   CS_ERR_NO_TOKEN     the named token is absent ("insert ..."), or no writable token
 *   CS_ERR_TOKEN        the token is full (CKR_DEVICE_MEMORY) or write-protected, or failed
 *   CS_ERR_CANCELLED, CS_ERR_TIMEOUT ...  from the password callback
 */
int tok_import_pkcs12_ex(struct tok_ctx *ctx, const struct tok_import_request *req,
                         struct tok_import_result *res);

#endif
