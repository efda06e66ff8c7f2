#include "tok_ecpoint.h"
#include "cs_error.h"

#include <string.h>

#include <openssl/ec.h>
#include <openssl/obj_mac.h>

/*
 * The curves we accept, with the DER OID that CKA_EC_PARAMS holds for each.
 * A DER OID has one encoding, so comparing bytes is a complete parse.
 */
struct curve {
	int nid;
	size_t field_len;
	size_t oid_len;
	uint8_t oid[10];
};

static const struct curve curves[] = {
    /* 1.2.840.10045.3.1.7 */
    {NID_X9_62_prime256v1, 32, 10, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
    /* 1.3.132.0.34 */
    {NID_secp384r1, 48, 7, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}},
    /* 1.3.132.0.35 */
    {NID_secp521r1, 66, 7, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}},
};

static const struct curve *
find_curve(int nid)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].nid == nid)
			return &curves[i];
	return NULL;
}

/*
 * Loads a checked point into *ret_point on the new *ret_group (both the
 * caller's on success). Returns tok_ec_point_check()'s codes.
 */
static int
load_point(int curve_nid, const uint8_t *point, size_t len, EC_GROUP **ret_group,
           EC_POINT **ret_point)
{
	const struct curve *c = find_curve(curve_nid);
	EC_GROUP *group = NULL;
	EC_POINT *pt = NULL;
	int r;

	if (c == NULL) {
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	/*
	 * Our own shape check first: OpenSSL also takes the hybrid form (06, 07)
	 * and the one-byte infinity, neither of which a peer has reason to send.
	 */
	if (point == NULL || len == 0 ||
	    !((point[0] == 0x04 && len == 1 + 2 * c->field_len) ||
	      ((point[0] == 0x02 || point[0] == 0x03) && len == 1 + c->field_len))) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	if ((group = EC_GROUP_new_by_curve_name(curve_nid)) == NULL ||
	    (pt = EC_POINT_new(group)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	/*
	 * oct2point refuses coordinates of p or more and points off the curve;
	 * the explicit checks after it keep that true whatever its version does.
	 */
	if (EC_POINT_oct2point(group, pt, point, len, NULL) != 1 ||
	    EC_POINT_is_at_infinity(group, pt) || EC_POINT_is_on_curve(group, pt, NULL) != 1) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	*ret_group = group;
	*ret_point = pt;
	group = NULL;
	pt = NULL;
	r = 0;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return r;
}

int
tok_ec_point_check(int curve_nid, const uint8_t *point, size_t len)
{
	EC_GROUP *group = NULL;
	EC_POINT *pt = NULL;
	int r;

	r = load_point(curve_nid, point, len, &group, &pt);
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return r;
}

int
tok_ec_point_uncompressed(int curve_nid, const uint8_t *point, size_t len, uint8_t *out,
                          size_t out_size, size_t *ret_len)
{
	EC_GROUP *group = NULL;
	EC_POINT *pt = NULL;
	size_t n;
	int r;

	if ((r = load_point(curve_nid, point, len, &group, &pt)) != 0)
		goto out;
	n = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, NULL, 0, NULL);
	if (n == 0) {
		r = CS_ERR_INTERNAL;
		goto out;
	}
	if (out_size < n) {
		r = CS_ERR_TOO_LARGE;
		goto out;
	}
	if (EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, out, n, NULL) != n) {
		r = CS_ERR_INTERNAL;
		goto out;
	}
	*ret_len = n;
	r = 0;
out:
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	return r;
}

int
tok_ec_point_to_der_octet_string(const uint8_t *point, size_t len, uint8_t *out, size_t out_size,
                                 size_t *ret_len)
{
	size_t hdr;

	if (point == NULL || len == 0)
		return CS_ERR_INVALID_ARG;
	if (len > 0xff)
		return CS_ERR_TOO_LARGE;
	/* P-521's 133 bytes need the long form: 04 81 85. */
	hdr = len < 0x80 ? 2 : 3;
	if (out_size < hdr + len)
		return CS_ERR_TOO_LARGE;
	out[0] = 0x04;
	if (hdr == 3)
		out[1] = 0x81;
	out[hdr - 1] = (uint8_t)len;
	memcpy(out + hdr, point, len);
	*ret_len = hdr + len;
	return 0;
}

int
tok_ec_curve_from_params(const uint8_t *ec_params_der, size_t n, int *ret_nid)
{
	size_t i;

	if (ec_params_der == NULL)
		return CS_ERR_BAD_FORMAT;
	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if (n == curves[i].oid_len && memcmp(ec_params_der, curves[i].oid, n) == 0) {
			*ret_nid = curves[i].nid;
			return 0;
		}
	}
	return CS_ERR_BAD_FORMAT;
}
