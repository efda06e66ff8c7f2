/*
 * Decoding the padding of a raw RSA decryption (CKM_RSA_X_509 on the token) in
 * cardseal-keyd, for tokens that cannot do CKM_RSA_PKCS_OAEP or CKM_RSA_PKCS
 * themselves.
 *
 * Both decoders run in time independent of the decrypted bytes and of where a
 * check fails, and fail with the one code CS_ERR_DECRYPT whatever was wrong:
 * a decryption service that says more (or takes longer for some failures) is a
 * padding oracle (Bleichenbacher 1998, Manger 2001). What the caller does with
 * that failure must keep it so; see tok_pkcs1v15_decode().
 *
 * em is the token's output left-padded with zeros to exactly k bytes, the
 * modulus size. It holds the plaintext in clear: the caller wipes it.
 */
#ifndef TOK_OAEP_H
#define TOK_OAEP_H

#include <stddef.h>
#include <stdint.h>

struct cs_secret;

/* The largest modulus we decode: 8192 bits, so a decoded block fits a cs_secret. */
#define TOK_RSA_MAX_BYTES 1024

/*
 * EME-OAEP decoding (RFC 8017 7.1.2 step 3). md_nid hashes the label and sets
 * the seed size; mgf1_nid is MGF1's digest (SHA-1, SHA-224, SHA-256, SHA-384 or
 * SHA-512, chosen independently). label may be NULL when label_len is 0.
 *
 * Returns 0 and the message in a new *ret_msg the caller frees with
 * cs_secret_free(); CS_ERR_DECRYPT for any fault in em; CS_ERR_INVALID_ARG for
 * an unsupported digest or a k too small for it or over TOK_RSA_MAX_BYTES;
 * CS_ERR_NOMEM; CS_ERR_INTERNAL if a digest fails. Only CS_ERR_DECRYPT depends
 * on em. *ret_msg is set only on success.
 */
int tok_oaep_decode(const uint8_t *em, size_t k, int md_nid, int mgf1_nid, const uint8_t *label,
                    size_t label_len, struct cs_secret **ret_msg);

/*
 * EME-PKCS1-v1_5 decoding (RFC 8017 7.2.2 step 3): 00 02, at least eight
 * non-zero bytes, 00, the message. With expected_len non-zero a message of any
 * other length is a failure too (the caller knows the content key's size).
 *
 * Returns 0 and *ret_msg as above, CS_ERR_DECRYPT for any fault in em,
 * CS_ERR_INVALID_ARG for k under 11 or over TOK_RSA_MAX_BYTES, or CS_ERR_NOMEM.
 *
 * Even in constant time, telling the requester that v1.5 padding was bad is an
 * oracle. Where the failure can reach whoever chose the ciphertext, the caller
 * must hide it, e.g. by going on with a random key of expected_len bytes
 * (RFC 3218 2.3.2) so the failure surfaces only later, as a bad message.
 */
int tok_pkcs1v15_decode(const uint8_t *em, size_t k, size_t expected_len,
                        struct cs_secret **ret_msg);

#endif
