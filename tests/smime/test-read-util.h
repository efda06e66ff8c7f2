/*
 * Helpers shared by the READ tests and read-driver: software identities,
 * trust anchors, CRLs and extra certificates loaded from files (PEM or DER,
 * PKCS#8 keys, PKCS#12), cs_read run over a file or memory into memory, and
 * the report printed as one line of JSON-ish text.
 */
#ifndef CS_TEST_READ_UTIL_H
#define CS_TEST_READ_UTIL_H

#include <stddef.h>
#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cs_smime.h"

#define RT_MAX_IDS 8

struct rt {
	X509_STORE *store;
	STACK_OF(X509) *untrusted;
	struct cs_identity ids[RT_MAX_IDS];
	EVP_PKEY *keys[RT_MAX_IDS];
	int get_key_calls[RT_MAX_IDS];
	int get_key_error[RT_MAX_IDS]; /* returned instead of the key when nonzero */
	size_t n_ids;
	struct cs_read_opts o;
};

/* Exits the process on allocation failure: these are tests. */
void rt_init(struct rt *t);
void rt_free(struct rt *t);

/* Each returns 0, or -1 after printing why. Files are PEM or DER. */
int rt_add_anchors(struct rt *t, const char *path);
int rt_add_crl(struct rt *t, const char *path); /* also sets have_crls */
int rt_add_untrusted(struct rt *t, const char *path);
int rt_add_identity(struct rt *t, const char *key_path, const char *cert_path);
int rt_add_p12(struct rt *t, const char *path, const char *pass);

/* The first certificate of a file, or NULL. */
X509 *rt_load_cert(const char *path);

/* Reads a whole file into a new buffer (NUL-terminated); NULL on failure. */
char *rt_slurp(const char *path, size_t *ret_len);

/*
 * cs_read of n bytes at p (or of a file) into a new buffer *ret_out
 * (NUL-terminated, freed by the caller, set also on failure). Returns
 * cs_read's result.
 */
int rt_read_mem(struct rt *t, const void *p, size_t n, char **ret_out, size_t *ret_len,
                struct cs_read_report *rep);
int rt_read_file(struct rt *t, const char *path, char **ret_out, size_t *ret_len,
                 struct cs_read_report *rep);

const char *rt_verdict_name(enum cs_verdict v);

/* One line: {"result": ..., "verdict": ..., "layers": [...]} */
void rt_print_report(FILE *f, int result, const struct cs_read_report *r);

#endif
