/*
 * Checks and encodings for the peer's EC public point before cardseal-keyd
 * hands it to the token for CKM_ECDH1_DERIVE, and the curve of a token key.
 * Pure software, no PKCS#11 calls.
 *
 * A point from a message is checked before any derivation: a token given a
 * point off the curve may leak bits of its key (invalid-curve attacks). The
 * curves are P-256, P-384 and P-521 (OpenSSL NIDs NID_X9_62_prime256v1,
 * NID_secp384r1, NID_secp521r1); their cofactor is 1, so a point on the curve
 * other than infinity is in the prime-order group.
 */
#ifndef TOK_ECPOINT_H
#define TOK_ECPOINT_H

#include <stddef.h>
#include <stdint.h>

/* The longest uncompressed point: P-521, 04 and two 66-byte coordinates. */
#define TOK_EC_POINT_MAX (1 + 2 * 66)

/* The same wrapped in a DER OCTET STRING: 04 81 85 and the point. */
#define TOK_EC_POINT_DER_MAX (3 + TOK_EC_POINT_MAX)

/*
 * Whether point is a valid point of curve_nid other than infinity, given
 * uncompressed (04 X Y) or compressed (02 or 03, X) with coordinates of the
 * field's byte size. Returns 0, CS_ERR_BAD_FORMAT for anything else (wrong
 * length or prefix, hybrid form, coordinates out of range, off the curve,
 * infinity), CS_ERR_INVALID_ARG for another curve, or CS_ERR_NOMEM.
 */
int tok_ec_point_check(int curve_nid, const uint8_t *point, size_t len);

/*
 * Checks point as above and writes its uncompressed form, which is what
 * CK_ECDH1_DERIVE_PARAMS.pPublicData means in PKCS#11 and what every token
 * takes; not all take a compressed point. Returns tok_ec_point_check()'s errors
 * or CS_ERR_TOO_LARGE if out_size is short.
 */
int tok_ec_point_uncompressed(int curve_nid, const uint8_t *point, size_t len, uint8_t *out,
                              size_t out_size, size_t *ret_len);

/*
 * point wrapped in a DER OCTET STRING (04 len point), for the tokens that want
 * pPublicData in the form of CKA_EC_POINT. It encodes only: check first.
 * Returns 0, CS_ERR_INVALID_ARG for an empty point, or CS_ERR_TOO_LARGE for a
 * point over 255 bytes or an out_size that is short.
 */
int tok_ec_point_to_der_octet_string(const uint8_t *point, size_t len, uint8_t *out,
                                     size_t out_size, size_t *ret_len);

/*
 * The curve named by CKA_EC_PARAMS (DER ECParameters): the namedCurve OID of
 * P-256, P-384 or P-521, exactly, as *ret_nid. Returns 0 or CS_ERR_BAD_FORMAT
 * for anything else (other curves, explicit parameters, trailing bytes).
 */
int tok_ec_curve_from_params(const uint8_t *ec_params_der, size_t n, int *ret_nid);

#endif
