/*
 * tok_mechanism_offered(): the mechanism list keyd reads before an ECDH
 * derive, so that a token without ECDH (a remote token behind p11-kit 0.24)
 * fails before the PIN dialog. SoftHSM lists ECDH; nothing lists a vendor
 * mechanism we make up; an absent token and bad arguments are errors.
 * The remote case itself runs in tests/remote.
 */
#include <string.h>

#include "cs_error.h"
#include "fixture.h"
#include "tap.h"
#include "tok.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define BOB_EC "pkcs11:token=bob-card;id=%02;type=private"

int
main(void)
{
	struct fixture fx;
	struct tok_ctx *ctx = NULL;
	struct tok_token_info info;

	if (fixture_setup(&fx) != 0)
		return 99;
	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "SoftHSM loaded");
	memset(&info, 0, sizeof(info));
	CHECK_EQ_INT(tok_mechanism_offered(ctx, BOB_EC, CKM_ECDH1_DERIVE, &info), 1,
	             "SoftHSM offers CKM_ECDH1_DERIVE");
	CHECK(strcmp(info.label, "bob-card") == 0 && strcmp(info.module_path, SOFTHSM) == 0,
	      "the token's facts come back for the message (label '%s')", info.label);
	CHECK_EQ_INT(tok_mechanism_offered(ctx, BOB_EC, CKM_VENDOR_DEFINED | 0x1234, &info), 0,
	             "a mechanism nobody offers: 0, not an error");
	CHECK_EQ_INT(
	    tok_mechanism_offered(ctx, "pkcs11:token=nobody-card;id=%01", CKM_ECDH1_DERIVE, &info),
	    CS_ERR_NO_TOKEN, "an absent token: CS_ERR_NO_TOKEN");
	CHECK_EQ_INT(tok_mechanism_offered(ctx, NULL, CKM_ECDH1_DERIVE, &info), CS_ERR_INVALID_ARG,
	             "no URI: CS_ERR_INVALID_ARG");
	CHECK_EQ_INT(tok_mechanism_offered(ctx, BOB_EC, CKM_ECDH1_DERIVE, NULL), CS_ERR_INVALID_ARG,
	             "nowhere to put the token's facts: CS_ERR_INVALID_ARG");
	tok_ctx_free(ctx);
	fixture_teardown(&fx);
	return tap_done();
}
