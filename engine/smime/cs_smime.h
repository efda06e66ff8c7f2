/*
 * S/MIME operations of the engine front: PROTECT (sign and/or encrypt a
 * complete RFC 5322 message) and READ (decrypt and verify any nesting), both
 * streaming in constant memory. Keys are EVP_PKEYs: in cardseald they are
 * Cardseal provider keys (operations go to keyd), in tests they may be
 * software keys. Nothing here talks to keyd, the socket or the store.
 *
 * Rules: ../../shared/DESIGN.md "S/MIME rules" and the streaming facts under
 * "Platform facts". Functions return 0 or a negative CS_ERR_* (cs_error.h).
 */
#ifndef CS_SMIME_H
#define CS_SMIME_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* Reports progress on long work: bytes of input consumed so far. */
typedef void (*cs_progress_cb)(void *arg, uint64_t bytes_done);

/* ---------------------------------------------------------------- PROTECT */

enum cs_content_cipher {
	CS_CIPHER_AES256_GCM = 0,   /* AuthEnvelopedData (default) */
	CS_CIPHER_AES256_CBC = 1,   /* EnvelopedData, for peers without GCM (gpgsm 2.2) */
	CS_CIPHER_AES128_GCM = 2,
	CS_CIPHER_AES128_CBC = 3,
};

struct cs_signer {
	EVP_PKEY *key;              /* the signing key (token key through the provider) */
	X509 *cert;                 /* its certificate */
	STACK_OF(X509) *chain;      /* intermediates to include, not the root; may be NULL */
	X509 *encryption_cert;      /* named by SMIMEEncryptionKeyPreference and included; may be NULL */
	const EVP_MD *md;           /* NULL: SHA-256 */
	int rsa_pss;                /* RSASSA-PSS instead of PKCS#1 v1.5 (RSA keys only) */
};

struct cs_recipient {
	X509 *cert;                 /* RSA (key transport) or EC (ECDH ephemeral-static) */
	int rsa_oaep;               /* RSAES-OAEP (SHA-256) instead of PKCS#1 v1.5 */
};

struct cs_protect_opts {
	int sign;
	int encrypt;
	int opaque;                 /* application/pkcs7-mime signed-data instead of multipart/signed */
	const struct cs_signer *signer;             /* when sign */
	const struct cs_recipient *recipients;      /* when encrypt; the caller includes the sender */
	size_t n_recipients;
	enum cs_content_cipher cipher;
	cs_progress_cb progress;    /* may be NULL */
	void *progress_arg;
};

/*
 * Reads a complete RFC 5322 message from in and writes the protected message
 * to out: the outer headers (From, To, Cc, Subject, Date, Message-ID, ...; no
 * Bcc, no Content-* of the original) then MIME-Version and the S/MIME entity.
 * Before signing, the entity is put in canonical form: CRLF line ends and
 * 7-bit-safe transfer encodings (RFC 8551 3.1). Sign then encrypt in one
 * pass. Memory stays bounded whatever the message size. On failure out may
 * hold a partial message: the caller writes to a temporary file and renames.
 * in is read to its end (a blocking BIO: file, descriptor, memory); out gets
 * CRLF line ends, and filter BIOs are pushed in front of it while writing.
 * Returns CS_ERR_INVALID_ARG for unusable options (before reading anything),
 * CS_ERR_BAD_FORMAT for input that is not a message or malformed MIME,
 * CS_ERR_TOO_LARGE for a header block over 64 KiB or MIME nested too deep,
 * CS_ERR_IO, or CS_ERR_INTERNAL with the OpenSSL error queue left as it is.
 */
int cs_protect(BIO *in, BIO *out, const struct cs_protect_opts *opts);

/* ------------------------------------------------------------------- READ */

enum cs_verdict {
	CS_VERDICT_UNSIGNED = 0,
	CS_VERDICT_VALID,
	CS_VERDICT_INVALID,         /* the signature does not verify: the content was changed */
	CS_VERDICT_UNTRUSTED,       /* does not chain to a configured anchor */
	CS_VERDICT_EXPIRED,         /* a certificate is not valid now */
	CS_VERDICT_REVOKED,
	CS_VERDICT_MISMATCH,        /* the signer's address is not the From/Sender address */
};

/* Reasons beside a verdict (bit flags). */
enum cs_reason {
	CS_REASON_EXPIRED = 1u << 0,
	CS_REASON_NOT_YET_VALID = 1u << 1,
	CS_REASON_REVOKED = 1u << 2,
	CS_REASON_REVOCATION_UNKNOWN = 1u << 3,
	CS_REASON_UNTRUSTED_ROOT = 1u << 4,
	CS_REASON_KEY_USAGE = 1u << 5,
	CS_REASON_EKU = 1u << 6,
	CS_REASON_ADDRESS_MISMATCH = 1u << 7,
	CS_REASON_WEAK_ALGORITHM = 1u << 8,
	CS_REASON_WEAK_KEY = 1u << 9,
	CS_REASON_BAD_SIGNATURE = 1u << 10,
};

enum cs_revocation {
	CS_REVOCATION_UNKNOWN = 0,
	CS_REVOCATION_GOOD,
	CS_REVOCATION_REVOKED,
};

enum cs_layer_kind {
	CS_LAYER_SIGNED = 1,
	CS_LAYER_ENCRYPTED = 2,
};

#define CS_READ_MAX_LAYERS 8

/* The form of a signer's SMIMEEncryptionKeyPreference attribute (RFC 8551 2.5.3). */
enum cs_key_pref {
	CS_KEY_PREF_NONE = 0,       /* no attribute */
	CS_KEY_PREF_ISSUER_SERIAL,  /* issuerAndSerialNumber [0] */
	CS_KEY_PREF_RKEYID,         /* receipentKeyId [1] */
	CS_KEY_PREF_SKI,            /* subjectAltKeyIdentifier [2] */
	CS_KEY_PREF_UNREADABLE,     /* present but malformed or of an unknown form */
};

/* To and Cc addresses of the outer message kept in the report. */
#define CS_READ_MAX_RECIPIENTS 32

struct cs_layer {
	enum cs_layer_kind kind;
	/* encrypted */
	char cipher[32];            /* "AES-256-GCM", "AES-256-CBC", "DES-EDE3-CBC", ... */
	int integrity_protected;    /* AuthEnvelopedData; CBC content is not */
	int identity_index;         /* which of opts->identities decrypted it, -1 if none */
	/* signed */
	int opaque;
	enum cs_verdict verdict;
	unsigned reasons;           /* cs_reason bits */
	enum cs_revocation revocation;
	X509 *signer_cert;          /* owned by the report */
	STACK_OF(X509) *chain;      /* as built from the message (and opts->intermediates); owned */
	char signer_email[256];
	int email_matches;          /* matches From: or Sender: */
	int64_t signing_time;       /* seconds since the epoch, 0 if absent; reported, not trusted */
	char digest[32];            /* "SHA256" ... */
	int weak;                   /* SHA-1, MD5, RSA < 2048, DSA, 3DES, RC2 met */
	/*
	 * What a correspondent's certificate store records from this layer
	 * (RFC 8551 2.7.1), from the signer that decided the verdict:
	 */
	STACK_OF(X509) *certs;      /* every certificate the SignedData carried; owned */
	/*
	 * The encryption certificate: the one its SMIMEEncryptionKeyPreference
	 * names (looked up among certs and opts->intermediates), or, without
	 * that attribute, the signer's own when its key usage allows
	 * encryption. NULL when none (the preference names a certificate
	 * nobody sent). Owned.
	 */
	X509 *encryption_cert;
	enum cs_key_pref encryption_pref;   /* which form the attribute took, if any */
	uint8_t *capabilities;      /* the SMIMECapabilities attribute value (DER); owned, OPENSSL_free */
	size_t capabilities_len;
};

struct cs_read_report {
	size_t n_layers;
	struct cs_layer layers[CS_READ_MAX_LAYERS];   /* outermost first */
	enum cs_verdict verdict;    /* the worst signed layer's, or UNSIGNED */
	int unprotected_parts;      /* parts beside the top-level protected entity (EFAIL, wrapping) */
	char from[256];             /* From: address of the outer message */
	char sender[256];
	/* To and Cc addresses of the outer message, in order (the first CS_READ_MAX_RECIPIENTS). */
	char recipients[CS_READ_MAX_RECIPIENTS][256];
	size_t n_recipients;
};

/* Frees what a report owns (certificates, chains). */
void cs_read_report_clear(struct cs_read_report *r);

/* One of the user's identities that may decrypt: the certificate, and how to get the key. */
struct cs_identity {
	X509 *cert;
	/*
	 * Returns the private key for cert (a new reference the reader frees), or
	 * a negative CS_ERR_* (CS_ERR_NO_TOKEN after the "insert token" wait
	 * failed, CS_ERR_CANCELLED ...). Called only for an identity a
	 * RecipientInfo names.
	 */
	int (*get_key)(void *arg, X509 *cert, EVP_PKEY **ret_key);
	void *arg;
};

struct cs_read_opts {
	const struct cs_identity *identities;
	size_t n_identities;
	X509_STORE *trust;          /* anchors and CRLs (X509_V_FLAG_CRL_CHECK when CRLs exist) */
	int have_crls;              /* revocation checked when set; else revocation unknown */
	STACK_OF(X509) *intermediates;  /* extra untrusted certificates (the store); may be NULL */
	const char *spill_dir;      /* where large plaintext spills, encrypted; NULL: $TMPDIR or /tmp */
	cs_progress_cb progress;
	void *progress_arg;
};

/*
 * Reads a message (any nesting of signed and encrypted layers) from in,
 * writes the innermost message to out and fills *report. GCM plaintext is
 * released only after its tag verifies (until then it spills to a temporary
 * file encrypted under a fresh key). Every decryption failure is
 * CS_ERR_DECRYPT (RFC 3218). A message that is not protected gives 0 with
 * verdict UNSIGNED and the message copied.
 *
 * Output of a protected message: the outer header fields except Content-*
 * and MIME-Version, as received; "MIME-Version: 1.0"; the Content-* fields
 * of the innermost entity (its other fields are dropped); its body, byte for
 * byte. Once any layer is encrypted, everything waits in the spill and out
 * receives nothing unless cs_read returns 0; for signed-only messages out
 * may hold a partial message on failure (write to a temporary file, rename).
 * Only the top-level entity counts: protected parts inside a multipart/mixed
 * are not opened (no layers, unprotected_parts counts the parts beside them).
 * Verification failures are verdicts, not errors. Returns 0,
 * CS_ERR_NOT_FOUND (no identity is a recipient), get_key's own error
 * (CS_ERR_NO_TOKEN, CS_ERR_CANCELLED ...), CS_ERR_DECRYPT,
 * CS_ERR_BAD_FORMAT / CS_ERR_TRUNCATED (malformed MIME or CMS, CMS types
 * not read: compressed, digested, encrypted-data, authenticated-data),
 * CS_ERR_TOO_LARGE (a header, a captured CMS part or the nesting over its
 * limit: CS_READ_MAX_LAYERS), CS_ERR_IO (in, out or the spill directory),
 * CS_ERR_NOMEM. The report may hold layers also on failure: always clear it.
 */
int cs_read(BIO *in, BIO *out, const struct cs_read_opts *opts, struct cs_read_report *report);

#endif
