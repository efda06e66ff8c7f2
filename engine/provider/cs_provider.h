/*
 * The Cardseal OpenSSL 3 provider (front side).
 *
 * Keys made by this provider are references to keys on tokens, held by
 * cardseal-keyd: an EVP_PKEY carries the key's pkcs11: URI and its public
 * half, and every private-key operation becomes a call to a key backend. In
 * cardseald the backend sends requests to keyd; tests may plug in a software
 * backend. The provider lives in its own OSSL_LIB_CTX; CMS runs in the default
 * context and finds the provider through the key.
 */
#ifndef CS_PROVIDER_H
#define CS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cs_secret.h"

/* Signature schemes a backend is asked for. */
enum cs_sig_scheme {
	CS_SIG_RSA_PKCS1 = 1,   /* RSASSA-PKCS1-v1_5 over a DigestInfo the backend builds */
	CS_SIG_RSA_PSS = 2,
	CS_SIG_ECDSA = 3,
};

struct cs_sign_params {
	enum cs_sig_scheme scheme;
	int md_nid;        /* hash of the digest, e.g. NID_sha256 */
	int mgf1_nid;      /* PSS only */
	int salt_len;      /* PSS only, in bytes, resolved (never a negative special value) */
};

/* RSA decryption paddings a backend is asked for. */
enum cs_rsa_padding {
	CS_PAD_PKCS1 = 1,
	CS_PAD_OAEP = 2,
};

struct cs_decrypt_params {
	enum cs_rsa_padding padding;
	int md_nid;        /* OAEP only */
	int mgf1_nid;      /* OAEP only */
	const uint8_t *label;
	size_t label_len;
};

/*
 * What the provider needs from whoever holds the keys. Each returns 0 or a
 * negative CS_ERR_*. arg is the backend's own context.
 */
struct cs_key_backend {
	void *arg;
	/*
	 * Signs a digest. On entry *sig_len is the size of sig; on success it is
	 * the signature's length. ECDSA signatures are DER (ECDSA-Sig-Value).
	 */
	int (*sign)(void *arg, const char *key_uri, const struct cs_sign_params *params,
	            const uint8_t *digest, size_t digest_len, uint8_t *sig, size_t *sig_len);
	/*
	 * Unwraps an RSA-encrypted content key; padding is checked by the backend
	 * (keyd), never here. On success *ret_key is a new secret the caller frees.
	 */
	int (*decrypt)(void *arg, const char *key_uri, const struct cs_decrypt_params *params,
	               const uint8_t *in, size_t in_len, struct cs_secret **ret_key);
	/*
	 * ECDH: the shared secret (x coordinate) with the peer's public point
	 * (uncompressed octets). *ret_secret is a new secret the caller frees.
	 */
	int (*derive)(void *arg, const char *key_uri, const uint8_t *peer_point,
	              size_t peer_len, struct cs_secret **ret_secret);
};

/*
 * The OSSL_PARAM (UTF-8 string) that carries a token key's pkcs11: URI into
 * our keymgmt's import, and out of EVP_PKEY_get_utf8_string_param().
 */
#define CS_PROVIDER_PARAM_KEY_URI "cardseal-key-uri"

/*
 * Creates a library context holding the default provider (for digests,
 * ciphers and KDFs) and the Cardseal provider bound to backend, which must
 * outlive the context. Returns 0 and *ret_libctx, or a negative CS_ERR_*.
 */
int cs_provider_context_new(const struct cs_key_backend *backend, OSSL_LIB_CTX **ret_libctx);

/*
 * Frees what cs_provider_context_new() made; NULL is fine. Free every token
 * key first, and every certificate that was compared with one (OpenSSL caches
 * a copy of the certificate's key made by our provider inside the X509).
 */
void cs_provider_context_free(OSSL_LIB_CTX *libctx);

/*
 * A token key as an EVP_PKEY of the provider: the public half from cert's
 * public key (RSA or EC), the private operations sent to the backend with
 * key_uri. Returns 0 and a new key in *ret_pkey, or a negative CS_ERR_*.
 */
int cs_provider_token_key(OSSL_LIB_CTX *libctx, const char *key_uri, X509 *cert,
                          EVP_PKEY **ret_pkey);

#endif
