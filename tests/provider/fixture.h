/*
 * What every provider test needs: a temporary directory, identities (a key
 * and a self-signed certificate made by the openssl program at run time), the
 * software backend holding their keys, the provider's context, and a way to
 * run `openssl cms` as a separate process to judge the results.
 */
#ifndef CS_PROV_FIXTURE_H
#define CS_PROV_FIXTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "soft_backend.h"

struct fixture {
	char dir[PATH_MAX];             /* removed by fx_done() */
	struct soft_backend *sb;
	OSSL_LIB_CTX *libctx;           /* the provider's context */
	unsigned runs;                  /* numbers the command logs */
};

struct fx_id {
	char key_path[PATH_MAX];        /* PEM private key (the "token" content) */
	char cert_path[PATH_MAX];       /* PEM certificate */
	char uri[128];
	X509 *cert;
	EVP_PKEY *token;                /* the key through the provider */
	EVP_PKEY *soft;                 /* the same key, plain software (default provider) */
};

/* Kinds of identity the tests use. */
enum fx_kind {
	FX_RSA_SIGN,            /* RSA-2048, digitalSignature, emailProtection */
	FX_RSA_ENC,             /* RSA-2048, keyEncipherment */
	FX_EC_SIGN,             /* P-256, digitalSignature */
	FX_EC_ENC,              /* P-256, keyAgreement */
};

/* Sets up directory, backend and provider context; 0 or -1 (reported as TAP comments). */
int fx_init(struct fixture *fx);
/* Frees everything fx_init() made and removes the directory. */
void fx_done(struct fixture *fx);

/* Makes identity name of kind, loads it into the backend and makes its token key. */
int fx_identity(struct fixture *fx, struct fx_id *id, const char *name, enum fx_kind kind);
void fx_identity_free(struct fx_id *id);

/* dir/name into buf. */
void fx_path(const struct fixture *fx, const char *name, char *buf, size_t n);

/*
 * Runs the openssl program with the argument string args (file names inside
 * fx->dir, quoted by the caller where needed); returns its exit status, and
 * shows its output as TAP comments when it fails.
 */
int fx_openssl(struct fixture *fx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int fx_write(const char *path, const void *p, size_t n);
/* Reads a whole file into a new malloc'ed buffer. */
int fx_read(const char *path, uint8_t **ret, size_t *ret_len);
/* Whether the file holds exactly p[0..n). */
int fx_file_equals(const char *path, const void *p, size_t n);

/* Writes cms as DER to path. */
int fx_write_cms_der(const char *path, CMS_ContentInfo *cms);
/* Reads a DER CMS from path, or NULL. */
CMS_ContentInfo *fx_read_cms_der(const char *path);

/* Prints OpenSSL's error queue as TAP comments and clears it. */
void fx_print_errors(void);

#endif
