/*
 * A software key backend for the provider tests: it stands where keyd will,
 * holding PEM keys made at test time and doing each operation with OpenSSL's
 * default provider. It counts its calls, so a test can prove the provider
 * sent the work here instead of letting OpenSSL do it some other way.
 */
#ifndef CS_SOFT_BACKEND_H
#define CS_SOFT_BACKEND_H

#include <stddef.h>

#include "cs_provider.h"

struct soft_key;

struct soft_backend {
	struct cs_key_backend ops;      /* hand &ops to cs_provider_context_new() */
	struct soft_key *keys;          /* a list, newest first */
	int fail;                       /* when nonzero, every call returns it */
	unsigned signs;                 /* calls made, failed ones included */
	unsigned decrypts;
	unsigned derives;
	struct cs_sign_params last_sign;
	struct cs_decrypt_params last_decrypt;  /* label not kept: label_len only */
};

/* A new backend with no keys, or NULL. */
struct soft_backend *soft_backend_new(void);

/* Frees the backend and its keys; NULL is fine. */
void soft_backend_free(struct soft_backend *sb);

/* Adds the private key in the PEM file pem_path under uri; 0 or a CS_ERR_*. */
int soft_backend_add_key(struct soft_backend *sb, const char *uri, const char *pem_path);

#endif
