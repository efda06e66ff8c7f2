/*
 * Names of PKCS#11 functions and return values: the control file speaks them, and the
 * counters file and test messages print them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "faultp11.h"

/* An X-macro expansion, not code to lay out. */
/* clang-format off */
static const char *const fn_names[FP_FN_COUNT] = {
#define FP_FN_NAME(name) [FP_##name] = #name,
	FP_FUNCTIONS(FP_FN_NAME)
#undef FP_FN_NAME
};
/* clang-format on */

struct rv_name {
	CK_RV rv;
	const char *name;
};

/* Every CKR_ value of PKCS#11 2.40 but CKR_VENDOR_DEFINED. */
/* clang-format off */
#define RV(name) { name, #name }
static const struct rv_name rv_names[] = {
	RV(CKR_OK),
	RV(CKR_CANCEL),
	RV(CKR_HOST_MEMORY),
	RV(CKR_SLOT_ID_INVALID),
	RV(CKR_GENERAL_ERROR),
	RV(CKR_FUNCTION_FAILED),
	RV(CKR_ARGUMENTS_BAD),
	RV(CKR_NO_EVENT),
	RV(CKR_NEED_TO_CREATE_THREADS),
	RV(CKR_CANT_LOCK),
	RV(CKR_ATTRIBUTE_READ_ONLY),
	RV(CKR_ATTRIBUTE_SENSITIVE),
	RV(CKR_ATTRIBUTE_TYPE_INVALID),
	RV(CKR_ATTRIBUTE_VALUE_INVALID),
	RV(CKR_ACTION_PROHIBITED),
	RV(CKR_DATA_INVALID),
	RV(CKR_DATA_LEN_RANGE),
	RV(CKR_DEVICE_ERROR),
	RV(CKR_DEVICE_MEMORY),
	RV(CKR_DEVICE_REMOVED),
	RV(CKR_ENCRYPTED_DATA_INVALID),
	RV(CKR_ENCRYPTED_DATA_LEN_RANGE),
	RV(CKR_FUNCTION_CANCELED),
	RV(CKR_FUNCTION_NOT_PARALLEL),
	RV(CKR_FUNCTION_NOT_SUPPORTED),
	RV(CKR_KEY_HANDLE_INVALID),
	RV(CKR_KEY_SIZE_RANGE),
	RV(CKR_KEY_TYPE_INCONSISTENT),
	RV(CKR_KEY_NOT_NEEDED),
	RV(CKR_KEY_CHANGED),
	RV(CKR_KEY_NEEDED),
	RV(CKR_KEY_INDIGESTIBLE),
	RV(CKR_KEY_FUNCTION_NOT_PERMITTED),
	RV(CKR_KEY_NOT_WRAPPABLE),
	RV(CKR_KEY_UNEXTRACTABLE),
	RV(CKR_MECHANISM_INVALID),
	RV(CKR_MECHANISM_PARAM_INVALID),
	RV(CKR_OBJECT_HANDLE_INVALID),
	RV(CKR_OPERATION_ACTIVE),
	RV(CKR_OPERATION_NOT_INITIALIZED),
	RV(CKR_PIN_INCORRECT),
	RV(CKR_PIN_INVALID),
	RV(CKR_PIN_LEN_RANGE),
	RV(CKR_PIN_EXPIRED),
	RV(CKR_PIN_LOCKED),
	RV(CKR_SESSION_CLOSED),
	RV(CKR_SESSION_COUNT),
	RV(CKR_SESSION_HANDLE_INVALID),
	RV(CKR_SESSION_PARALLEL_NOT_SUPPORTED),
	RV(CKR_SESSION_READ_ONLY),
	RV(CKR_SESSION_EXISTS),
	RV(CKR_SESSION_READ_ONLY_EXISTS),
	RV(CKR_SESSION_READ_WRITE_SO_EXISTS),
	RV(CKR_SIGNATURE_INVALID),
	RV(CKR_SIGNATURE_LEN_RANGE),
	RV(CKR_TEMPLATE_INCOMPLETE),
	RV(CKR_TEMPLATE_INCONSISTENT),
	RV(CKR_TOKEN_NOT_PRESENT),
	RV(CKR_TOKEN_NOT_RECOGNIZED),
	RV(CKR_TOKEN_WRITE_PROTECTED),
	RV(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
	RV(CKR_UNWRAPPING_KEY_SIZE_RANGE),
	RV(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
	RV(CKR_USER_ALREADY_LOGGED_IN),
	RV(CKR_USER_NOT_LOGGED_IN),
	RV(CKR_USER_PIN_NOT_INITIALIZED),
	RV(CKR_USER_TYPE_INVALID),
	RV(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	RV(CKR_USER_TOO_MANY_TYPES),
	RV(CKR_WRAPPED_KEY_INVALID),
	RV(CKR_WRAPPED_KEY_LEN_RANGE),
	RV(CKR_WRAPPING_KEY_HANDLE_INVALID),
	RV(CKR_WRAPPING_KEY_SIZE_RANGE),
	RV(CKR_WRAPPING_KEY_TYPE_INCONSISTENT),
	RV(CKR_RANDOM_SEED_NOT_SUPPORTED),
	RV(CKR_RANDOM_NO_RNG),
	RV(CKR_DOMAIN_PARAMS_INVALID),
	RV(CKR_CURVE_NOT_SUPPORTED),
	RV(CKR_BUFFER_TOO_SMALL),
	RV(CKR_SAVED_STATE_INVALID),
	RV(CKR_INFORMATION_SENSITIVE),
	RV(CKR_STATE_UNSAVEABLE),
	RV(CKR_CRYPTOKI_NOT_INITIALIZED),
	RV(CKR_CRYPTOKI_ALREADY_INITIALIZED),
	RV(CKR_MUTEX_BAD),
	RV(CKR_MUTEX_NOT_LOCKED),
	RV(CKR_NEW_PIN_MODE),
	RV(CKR_NEXT_OTP),
	RV(CKR_EXCEEDED_MAX_ITERATIONS),
	RV(CKR_FIPS_SELF_TEST_FAILED),
	RV(CKR_LIBRARY_LOAD_FAILED),
	RV(CKR_PIN_TOO_WEAK),
	RV(CKR_PUBLIC_KEY_INVALID),
	RV(CKR_FUNCTION_REJECTED),
};
/* clang-format on */

#undef RV

const char *
fp_fn_name(enum fp_fn fn)
{
	if ((unsigned int)fn >= FP_FN_COUNT)
		return "?";
	return fn_names[fn];
}

int
fp_fn_parse(const char *name, enum fp_fn *ret_fn)
{
	for (unsigned int i = 0; i < FP_FN_COUNT; i++) {
		if (strcmp(fn_names[i], name) == 0) {
			*ret_fn = (enum fp_fn)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *
fp_rv_name(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++) {
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	}
	return NULL;
}

int
fp_rv_parse(const char *text, CK_RV *ret_rv)
{
	const char *digits = text;
	const char *allowed = "0123456789";
	unsigned long long v;
	char *end;
	int base = 10;

	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++) {
		if (strcasecmp(rv_names[i].name, text) == 0) {
			*ret_rv = rv_names[i].rv;
			return 0;
		}
	}
	/* strtoull alone would take "-1", blanks and octal; a CK_RV is written as none of them. */
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
		base = 16;
		digits = text + 2;
		allowed = "0123456789abcdefABCDEF";
	}
	if (digits[0] == '\0' || digits[strspn(digits, allowed)] != '\0')
		return -EINVAL;
	errno = 0;
	v = strtoull(digits, &end, base);
	if (errno != 0 || *end != '\0' || v > (CK_RV)-1)
		return -EINVAL;
	*ret_rv = (CK_RV)v;
	return 0;
}
