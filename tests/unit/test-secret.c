/* Unit tests for the secret type. */
#include <string.h>

#include "cs_error.h"
#include "cs_secret.h"
#include "tap.h"

int
main(void)
{
	struct cs_secret *s = cs_secret_new(8);
	struct cs_secret *t;
	const volatile char *view;

	CHECK(s != NULL, "secret allocated");
	CHECK(cs_secret_append(s, "1234", 4) == 0 && cs_secret_append(s, "5678", 4) == 0,
	      "appends up to capacity");
	CHECK_EQ_INT(cs_secret_append(s, "9", 1), CS_ERR_TOO_LARGE, "append past capacity refused");
	CHECK(strcmp(cs_secret_str(s), "12345678") == 0 && cs_secret_len(s) == 8,
	      "contents intact after a refused append, NUL-terminated");
	CHECK(cs_secret_equal(s, "12345678", 8), "equal to the same bytes");
	CHECK(!cs_secret_equal(s, "12345679", 8) && !cs_secret_equal(s, "1234", 4),
	      "not equal to other bytes or lengths");
	/* RLIMIT_MEMLOCK is 8 MiB on Debian; one page must lock as root or user. */
	CHECK(cs_secret_is_locked(s), "secret page is locked in memory");
	view = cs_secret_str(s);
	cs_secret_clear(s);
	CHECK(cs_secret_len(s) == 0 && view[0] == 0 && view[7] == 0, "clear wipes the bytes");
	cs_secret_free(s);
	cs_secret_free(NULL);

	t = cs_secret_from("pin", 3);
	CHECK(t != NULL && strcmp(cs_secret_str(t), "pin") == 0, "secret from bytes");
	cs_secret_free(t);
	CHECK(cs_secret_new(CS_SECRET_MAX + 1) == NULL, "oversized secret refused");
	return tap_done();
}
