/*
 * What the protect_*.c files share: the PROTECT half of cs_smime.h is built
 * from a signature layer (protect_sign.c, protect_attrs.c), an encryption
 * layer (protect_envelope.c), the outer headers (protect_headers.c) and a
 * few BIO helpers (protect_bio.c); protect.c puts them together.
 */
#ifndef CS_PROTECT_LOCAL_H
#define CS_PROTECT_LOCAL_H

#include <openssl/bio.h>
#include <openssl/cms.h>

#include "cs_smime.h"
#include "mime_header.h"
#include "mime_reader.h"

/* ------------------------------------------------------------ protect_bio.c */

/*
 * A filter BIO that passes writes on and swallows BIO_flush. BIO_flush on a
 * BIO_new_CMS chain finalizes that CMS structure and then travels on down
 * the chain, where it would finalize an enclosing layer early; this filter
 * stops it. Returns NULL on failure.
 */
BIO *protect_swallow_new(void);

/* Writes all n bytes. Returns 0, CS_ERR_INTERNAL (OpenSSL error queued) or CS_ERR_IO. */
int protect_write(BIO *b, const void *p, size_t n);
int protect_puts(BIO *b, const char *s);

/* CS_ERR_INTERNAL when OpenSSL queued an error (left for the caller), else CS_ERR_IO. */
int protect_write_error(void);

/* Frees the BIOs of a chain from top down to stop, which stays (NULL: the whole chain). */
void protect_chain_free(BIO *top, BIO *stop);

/* -------------------------------------------------------- protect_headers.c */

/*
 * Reads the message's header block up to its blank line. Returns 0;
 * CS_ERR_BAD_FORMAT for empty input, input that ends before the blank line,
 * a block without fields or a malformed line; CS_ERR_TOO_LARGE past
 * MIME_HEADER_MAX; CS_ERR_IO; CS_ERR_NOMEM.
 */
int protect_headers_read(struct mime_reader *r, struct mime_header *h);

/*
 * Writes to out the fields that stay outside: all but Bcc, Resent-Bcc,
 * MIME-Version and Content-*, in their order; appends the Content-* fields
 * to content. Returns 0 or a write error.
 */
int protect_headers_split(const struct mime_header *h, BIO *out, struct mime_header *content);

/* ----------------------------------------------------------- protect_sign.c */

/* Checks the signer: 0 or CS_ERR_INVALID_ARG (no key or cert, a key that is not the cert's, ...).
 */
int protect_signer_check(const struct cs_signer *s);

/* The multipart/signed micalg of the signer's digest ("sha-256" ...). */
const char *protect_micalg(const struct cs_signer *s);

/*
 * A SignedData ready for streaming (CMS_PARTIAL | CMS_STREAM): one
 * SignerInfo with every signed attribute, the signer's certificate, its
 * chain without roots, and the encryption certificate; detached or with
 * the content encapsulated. Returns 0 or CS_ERR_INTERNAL.
 */
int protect_signed_new(const struct cs_signer *s, int detached, CMS_ContentInfo **ret_cms);

/* ---------------------------------------------------------- protect_attrs.c */

/*
 * Adds SMIMECapabilities, SMIMEEncryptionKeyPreference and
 * signingCertificateV2 to si (contentType, messageDigest and signingTime
 * OpenSSL adds when it signs). Returns 0 or CS_ERR_INTERNAL.
 */
int protect_attrs_add(CMS_SignerInfo *si, const struct cs_signer *s);

/* ------------------------------------------------------- protect_envelope.c */

/* Checks cipher and recipients: 0 or CS_ERR_INVALID_ARG. */
int protect_recipients_check(const struct cs_protect_opts *o);

/* "authEnveloped-data" for GCM, "enveloped-data" for CBC. */
const char *protect_smime_type(enum cs_content_cipher cipher);

/*
 * An AuthEnvelopedData (GCM) or EnvelopedData (CBC) ready for streaming,
 * with a RecipientInfo per recipient: RSA key transport (PKCS#1 v1.5 or
 * OAEP with SHA-256) or ECDH ephemeral-static with the SHA-256 X9.63 KDF.
 * Returns 0 or CS_ERR_INTERNAL.
 */
int protect_envelope_new(const struct cs_protect_opts *o, CMS_ContentInfo **ret_cms);

#endif
