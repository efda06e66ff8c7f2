/*
 * Reading the admin policy's files: the policy itself and the hardware
 * allowlist it names, each only if root owns it and nobody else can change
 * it (policy.h says what is checked). Parsing is policy.c's.
 */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_error.h"

#define POLICY_MAX_MODULES 64

static int
fail(char *err, size_t size, int r, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(char *err, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
	return r;
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/*
 * Whether path may hold policy: a regular file of root's, writable by nobody
 * else, in directories of root's that nobody else can write to (unless
 * sticky, like /tmp, where others cannot replace root's entries). fd is the
 * open file (fstat'ed, so the file checked is the one read).
 */
static int
check_root_owned(int fd, const char *path, char *err, size_t err_size)
{
	char real[PATH_MAX], *slash;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return fail(err, err_size, CS_ERR_IO, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, err_size, CS_ERR_PERMISSION, "%s: not a regular file", path);
	if (st.st_uid != 0)
		return fail(err, err_size, CS_ERR_PERMISSION, "%s: not owned by root (uid %u)", path,
		            (unsigned)st.st_uid);
	if (st.st_mode & 022)
		return fail(err, err_size, CS_ERR_PERMISSION, "%s: writable by group or others", path);
	if (realpath(path, real) == NULL)
		return fail(err, err_size, CS_ERR_IO, "%s: %s", path, strerror(errno));
	while ((slash = strrchr(real, '/')) != NULL) {
		if (slash == real)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(real, &st) != 0)
			return fail(err, err_size, CS_ERR_IO, "%s: %s", real, strerror(errno));
		if (st.st_uid != 0 || ((st.st_mode & 022) && !(st.st_mode & S_ISVTX)))
			return fail(err, err_size, CS_ERR_PERMISSION,
			            "%s: its directory %s is not root's alone", path, real);
		if (strcmp(real, "/") == 0)
			break;
	}
	return 0;
}

/* Reads a root-owned file (at most CS_POLICY_MAX_FILE bytes). ENOENT: CS_ERR_NOT_FOUND. */
static int
read_root_file(const char *path, char **ret_text, size_t *ret_len, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	ssize_t got;
	int fd, r;

	*ret_text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return fail(err, err_size, errno == ENOENT ? CS_ERR_NOT_FOUND : CS_ERR_IO, "%s: %s",
		            path, strerror(errno));
	if ((r = check_root_owned(fd, path, err, err_size)) != 0)
		goto out;
	if ((text = malloc(CS_POLICY_MAX_FILE + 2)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	while (len <= CS_POLICY_MAX_FILE &&
	       (got = read(fd, text + len, CS_POLICY_MAX_FILE + 1 - len)) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = fail(err, err_size, CS_ERR_IO, "%s: %s", path, strerror(errno));
			goto out;
		}
		len += (size_t)got;
	}
	if (len > CS_POLICY_MAX_FILE) {
		r = fail(err, err_size, CS_ERR_TOO_LARGE, "%s: larger than %u bytes", path,
		         CS_POLICY_MAX_FILE);
		goto out;
	}
	text[len] = '\0';
	*ret_text = text;
	*ret_len = len;
	text = NULL;
out:
	free(text);
	close(fd);
	return r;
}

/* The hardware allowlist: one absolute module path a line, '#' comments. */
static int
load_allowlist(struct cs_policy *p, char *err, size_t err_size)
{
	char *text = NULL, *line, *save = NULL, *entry, real[PATH_MAX];
	size_t len = 0;
	unsigned lineno = 0;
	int r;

	r = read_root_file(p->hardware_modules, &text, &len, err, err_size);
	if (r == CS_ERR_NOT_FOUND && strcmp(p->hardware_modules, CS_POLICY_DEFAULT_HW_MODULES) == 0)
		return 0;       /* no allowlist: no module counts as hardware */
	if (r != 0)
		return r;
	if ((p->hw_modules = calloc(POLICY_MAX_MODULES, sizeof(char *))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	/* strtok_r skips empty lines, so line numbers count only non-empty ones: say "entry". */
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		lineno++;
		entry = trim(line);
		if (*entry == '\0' || *entry == '#')
			continue;
		if (*entry != '/') {
			r = fail(err, err_size, CS_ERR_BAD_FORMAT, "%s: entry %u: not an absolute path",
			         p->hardware_modules, lineno);
			goto out;
		}
		if (p->n_hw_modules == POLICY_MAX_MODULES) {
			r = fail(err, err_size, CS_ERR_TOO_LARGE, "%s: more than %d modules",
			         p->hardware_modules, POLICY_MAX_MODULES);
			goto out;
		}
		/* Resolved, so a symlink and its target match alike. */
		if ((p->hw_modules[p->n_hw_modules] = strdup(realpath(entry, real) ? real : entry)) ==
		    NULL) {
			r = CS_ERR_NOMEM;
			goto out;
		}
		p->n_hw_modules++;
	}
out:
	free(text);
	return r;
}

int
cs_policy_load(const char *path, struct cs_policy *p, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	cs_policy_defaults(p);
	err[0] = '\0';
	/* Only a system policy that surely does not exist lets another file stand in for it. */
	if (path != NULL && strcmp(path, CS_POLICY_DEFAULT_PATH) != 0 &&
	    (access(CS_POLICY_DEFAULT_PATH, F_OK) == 0 || errno != ENOENT))
		return fail(err, err_size, CS_ERR_PERMISSION,
		            "--policy %s: refused, the system policy %s is in force", path,
		            CS_POLICY_DEFAULT_PATH);
	r = read_root_file(path != NULL ? path : CS_POLICY_DEFAULT_PATH, &text, &len, err, err_size);
	if (r == CS_ERR_NOT_FOUND && path == NULL)
		return 0;       /* no policy file: no policy */
	if (r != 0)
		return r;
	snprintf(p->source, sizeof(p->source), "%s", path != NULL ? path : CS_POLICY_DEFAULT_PATH);
	if ((r = cs_policy_parse(p, p->source, text, len, err, err_size)) == 0)
		r = load_allowlist(p, err, err_size);
	free(text);
	if (r != 0)
		cs_policy_clear(p);
	return r;
}
