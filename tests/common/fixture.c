#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
run(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "fixture: command failed (%d): %s\n", r, cmd);
	return r == 0 ? 0 : -1;
}

int
fixture_setup(struct fixture *fx)
{
	const char *script = getenv("CS_MAKE_FIXTURES");
	const char *dir = getenv("CS_FIXTURES_DIR");
	char cmd[3 * PATH_MAX];
	FILE *f;

	memset(fx, 0, sizeof(*fx));
	if (script == NULL || dir == NULL) {
		fprintf(stderr, "fixture: CS_MAKE_FIXTURES and CS_FIXTURES_DIR must be set\n");
		return -1;
	}
	snprintf(fx->dir, sizeof(fx->dir), "%s", dir);
	snprintf(cmd, sizeof(cmd), "'%s' '%s' >/dev/null", script, dir);
	if (run(cmd) != 0)
		return -1;
	snprintf(fx->work, sizeof(fx->work), "%s/cs-test-XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fx->work) == NULL) {
		perror("fixture: mkdtemp");
		return -1;
	}
	snprintf(fx->tokens, sizeof(fx->tokens), "%s/tokens", fx->work);
	snprintf(fx->conf, sizeof(fx->conf), "%s/softhsm2.conf", fx->work);
	snprintf(cmd, sizeof(cmd), "cp -a '%s/tokens' '%s'", dir, fx->tokens);
	if (run(cmd) != 0)
		return -1;
	if ((f = fopen(fx->conf, "w")) == NULL) {
		perror("fixture: softhsm2.conf");
		return -1;
	}
	fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
	           "slots.removable = false\n",
	        fx->tokens);
	fclose(f);
	setenv("SOFTHSM2_CONF", fx->conf, 1);
	return 0;
}

void
fixture_teardown(struct fixture *fx)
{
	char cmd[PATH_MAX + 16];

	if (fx->work[0] == '\0' || getenv("CS_KEEP_TEST_DIRS") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->work);
	(void)system(cmd);
}

const char *
fixture_path(const struct fixture *fx, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", fx->dir, name);
	return out;
}
