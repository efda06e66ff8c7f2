/*
 * Encodings the PKCS#11 layer needs around signatures: the DER DigestInfo a
 * token signs with CKM_RSA_PKCS, ECDSA signatures between the token's r||s and
 * the DER ECDSA-Sig-Value that CMS carries, and the mechanism parameters for
 * RSA-PSS and RSA-OAEP. Pure software, no PKCS#11 calls; used by cardseal-keyd.
 *
 * Digests are named by OpenSSL NIDs (NID_sha256, ...). Outputs written to a
 * caller's buffer go to out[0..out_size); *ret_len and *ret_* are written only
 * on success.
 */
#ifndef TOK_ENCODE_H
#define TOK_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

/* The longest DigestInfo: a 19-byte prefix and a 64-byte digest. */
#define TOK_DIGESTINFO_MAX 83

/* The widest ECDSA integer we handle: P-521, 66 bytes. */
#define TOK_ECDSA_MAX_HALF 66

/* The longest DER ECDSA-Sig-Value: 30 81 len, then twice 02 len 00 and 66 bytes. */
#define TOK_ECDSA_DER_MAX (3 + 2 * (3 + TOK_ECDSA_MAX_HALF))

/*
 * The DER DigestInfo (RFC 8017 9.2) of digest, for CKM_RSA_PKCS where the token
 * adds only the padding. md_nid is SHA-1, SHA-224, SHA-256, SHA-384, SHA-512,
 * SHA-512/224, SHA-512/256 or SHA3-224..512; the AlgorithmIdentifier always has
 * explicit NULL parameters. Returns 0, CS_ERR_INVALID_ARG for another digest or
 * a dlen that is not that digest's size, or CS_ERR_TOO_LARGE if out_size is short.
 */
int tok_digestinfo(int md_nid, const uint8_t *digest, size_t dlen, uint8_t *out, size_t out_size,
                   size_t *ret_len);

/*
 * The token's ECDSA result r||s (two equal halves, each at most
 * TOK_ECDSA_MAX_HALF bytes) as a DER ECDSA-Sig-Value with minimal INTEGERs.
 * Returns 0, CS_ERR_BAD_FORMAT for an empty or odd rawlen or an r or s of zero,
 * or CS_ERR_TOO_LARGE for halves over the limit or an out_size that is short.
 */
int tok_ecdsa_raw_to_der(const uint8_t *raw, size_t rawlen, uint8_t *out, size_t out_size,
                         size_t *ret_len);

/*
 * The inverse: a DER ECDSA-Sig-Value as r||s, each left-padded with zeros to
 * half_len bytes (the byte length of the curve order: 32 for P-256, 48 for
 * P-384, 66 for P-521). Strict DER: minimal lengths and INTEGERs, no negative
 * or zero values, nothing after the SEQUENCE. Returns 0, CS_ERR_TRUNCATED,
 * CS_ERR_TRAILING, CS_ERR_BAD_FORMAT (also for a value wider than half_len),
 * CS_ERR_INVALID_ARG for a half_len of 0 or over TOK_ECDSA_MAX_HALF, or
 * CS_ERR_TOO_LARGE if out_size is under 2 * half_len.
 */
int tok_ecdsa_der_to_raw(const uint8_t *der, size_t derlen, size_t half_len, uint8_t *out,
                         size_t out_size, size_t *ret_len);

/* The size in bytes of a digest we support (list above), or 0. */
size_t tok_md_size(int md_nid);

/*
 * The PKCS#11 names for SHA-1 and SHA-2 digests (SHA-224 to SHA-512): the hash
 * mechanism (CKM_SHA256) and the MGF1 generator (CKG_MGF1_SHA256). Return 0 or
 * CS_ERR_INVALID_ARG for a digest PKCS#11 2.40 cannot name there.
 */
int tok_ckm_from_md(int md_nid, CK_MECHANISM_TYPE *ret_mech);
int tok_ckg_mgf1_from_md(int md_nid, CK_RSA_PKCS_MGF_TYPE *ret_mgf);

/*
 * CK_RSA_PKCS_PSS_PARAMS for a key of mod_bits bits: the exact size
 * (CKA_MODULUS_BITS), since 8 * the modulus bytes overstates a 2047- or
 * 1025-bit key and the largest salt with it. saltlen is a length in
 * bytes or one of OpenSSL's RSA_PSS_SALTLEN_DIGEST (the digest size),
 * RSA_PSS_SALTLEN_MAX or RSA_PSS_SALTLEN_AUTO (both the largest the key allows,
 * which is what OpenSSL signs with for AUTO): the token needs a number. Returns 0
 * or CS_ERR_INVALID_ARG for an unnamed digest, another negative saltlen, or a
 * salt that does not fit the key.
 */
int tok_pss_params(int md_nid, int mgf1_nid, int saltlen, unsigned int mod_bits,
                   CK_RSA_PKCS_PSS_PARAMS *ret);

/*
 * CK_RSA_PKCS_OAEP_PARAMS for a token that does CKM_RSA_PKCS_OAEP itself. The
 * parameters point at label (borrowed: it must outlive the C_Decrypt call); a
 * NULL or empty label means none. Returns 0 or CS_ERR_INVALID_ARG.
 */
int tok_oaep_params(int md_nid, int mgf1_nid, const uint8_t *label, size_t label_len,
                    CK_RSA_PKCS_OAEP_PARAMS *ret);

#endif
