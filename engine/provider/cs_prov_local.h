/*
 * What the files of the Cardseal provider share. Nothing outside
 * engine/provider/ includes this header; the public face is cs_provider.h.
 *
 * Provider entry points (the functions in the dispatch tables) follow
 * OpenSSL's contract and return 1 on success and 0 on failure; every other
 * function here returns 0 or a negative CS_ERR_*.
 */
#ifndef CS_PROV_LOCAL_H
#define CS_PROV_LOCAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/evp.h>

#include "cs_provider.h"

#define CS_PROVIDER_NAME "cardseal"
#define CS_PROVIDER_PROPS "provider=cardseal"
/* Where the public halves of our keys and the software helpers come from. */
#define CS_DEFAULT_PROPS "provider=default"

/* One per loaded provider instance, i.e. per cs_provider_context_new(). */
struct cs_provctx {
	const OSSL_CORE_HANDLE *handle;
	OSSL_LIB_CTX *libctx;                  /* the private context we live in */
	const struct cs_key_backend *backend;  /* set right after loading */
};

enum cs_key_type {
	CS_KEY_RSA = 1,
	CS_KEY_EC = 2,
};

/*
 * A key of our keymgmt: a reference to a token key (uri set) or a plain public
 * key (an ECDH peer, a certificate's key being matched). The public half and
 * the EC domain parameters live in pkey, a key of the default provider in the
 * private context, so exports, matching and parameters are OpenSSL's own.
 * Immutable once shared, except that set_params may replace pkey of a key
 * that has no public half yet (how OpenSSL builds an ECDH peer).
 */
struct cs_key {
	struct cs_provctx *provctx;
	enum cs_key_type type;
	atomic_int refs;
	char *uri;              /* NULL: no private half */
	EVP_PKEY *pkey;         /* NULL: empty key (EC: not even a group yet) */
	int has_pub;
	int bits;
	int security_bits;
	int max_size;           /* largest signature (or RSA block) in bytes */
	int cofactor_one;       /* EC: cofactor ECDH is plain ECDH on this curve */
};

/* Dispatch tables, one per algorithm (keymgmt.c, signature.c, ...). */
extern const OSSL_DISPATCH cs_rsa_keymgmt_functions[];
extern const OSSL_DISPATCH cs_ec_keymgmt_functions[];
extern const OSSL_DISPATCH cs_rsa_signature_functions[];
extern const OSSL_DISPATCH cs_ecdsa_signature_functions[];
extern const OSSL_DISPATCH cs_rsa_asym_cipher_functions[];
extern const OSSL_DISPATCH cs_ecdh_keyexch_functions[];

/* cs_provider.c: puts err (a CS_ERR_*) on OpenSSL's error queue with a message. */
void cs_prov_raise(const struct cs_provctx *pc, int err, const char *file, int line,
                   const char *func, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
#define CS_PROV_ERR(pc, err, ...)                                                       \
	cs_prov_raise((pc), (err), __FILE__, __LINE__, __func__, __VA_ARGS__)

/* cs_key.c */

/* A new empty key of type with one reference, or NULL. */
struct cs_key *cs_key_new(struct cs_provctx *pc, enum cs_key_type type);
/* Takes one more reference; returns key. */
struct cs_key *cs_key_ref(struct cs_key *key);
/* Drops one reference, freeing on the last; NULL is fine. */
void cs_key_free(struct cs_key *key);
/*
 * Fills an empty key from OpenSSL params, as much as selection asks: the key
 * URI (CS_PROVIDER_PARAM_KEY_URI, with the private half), EC group, public
 * key. Private key material is refused with CS_ERR_PERMISSION: a software
 * private key must stay with the default provider. Returns 0 or a negative
 * CS_ERR_*.
 */
int cs_key_import(struct cs_key *key, int selection, const OSSL_PARAM params[]);
/* Sets the EC public point of a key that has a group and no point yet. */
int cs_key_set_encoded_point(struct cs_key *key, const uint8_t *pt, size_t len);
/* A new key holding what selection asks of src; 0 and *ret_key, or CS_ERR_*. */
int cs_key_dup(const struct cs_key *src, int selection, struct cs_key **ret_key);
/* The EC public point, uncompressed, in a new OPENSSL_malloc'ed buffer. */
int cs_key_encoded_point(const struct cs_key *key, uint8_t **ret_pt, size_t *ret_len);
/* The EC group's name into buf (size n). */
int cs_key_group_name(const struct cs_key *key, char *buf, size_t n);

/* cs_params.c */

/* Reads an RSA padding mode given as an integer or a name ("pkcs1", "pss", "oaep"). */
int cs_param_get_pad_mode(const OSSL_PARAM *p, int *ret_mode);
/* Answers an RSA padding mode in the type the caller asked for (integer or name). */
int cs_param_set_pad_mode(OSSL_PARAM *p, int mode);
/* Fetches a digest by name from the private context; NULL or "" is refused. */
int cs_md_fetch(const struct cs_provctx *pc, const char *name, const char *props,
                EVP_MD **ret_md);
/* Fetches the digest named by p (a UTF-8 string param) with optional props param. */
int cs_param_get_md(const struct cs_provctx *pc, const OSSL_PARAM *p, const OSSL_PARAM *props,
                    EVP_MD **ret_md);
/* Answers a digest's short name ("SHA256"), or "" for none. */
int cs_param_set_md(OSSL_PARAM *p, const EVP_MD *md);

/* sig_algid.c: DER AlgorithmIdentifier of a signature, into a new OPENSSL_malloc'ed buffer. */
int cs_sig_algid(const struct cs_sign_params *sp, uint8_t **ret_der, size_t *ret_len);

#endif
