/*
 * Test fixtures for C tests: makes sure the suite's fixture directory exists
 * (softhsm-fixtures/make-fixtures is idempotent and locked, so the first test
 * builds it and the others reuse it), then gives this test a private copy of
 * the SoftHSM tokens with its own softhsm2.conf, so tests never share state.
 */
#ifndef CS_TEST_FIXTURE_H
#define CS_TEST_FIXTURE_H

#include <limits.h>
#include <stddef.h>

struct fixture {
	char dir[PATH_MAX];      /* the shared fixture directory (PKI, p12 files) */
	char work[512];          /* this test's scratch directory */
	char tokens[PATH_MAX];   /* this test's copy of the tokens */
	char conf[PATH_MAX];     /* its softhsm2.conf, also exported as SOFTHSM2_CONF */
};

/*
 * Reads CS_MAKE_FIXTURES (the script) and CS_FIXTURES_DIR from the
 * environment (meson sets both), runs the script, copies the tokens.
 * Returns 0, or -1 after printing why.
 */
int fixture_setup(struct fixture *fx);

/* Removes the scratch directory. */
void fixture_teardown(struct fixture *fx);

/* dir/name into out; returns out. */
const char *fixture_path(const struct fixture *fx, const char *name, char *out, size_t size);

#endif
