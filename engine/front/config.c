#include "config.h"

#include <errno.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"

#define MAX_FILE (64 * 1024)
#define MAX_LINE 4096

static int
set_str(char **slot, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return CS_ERR_NOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

int
cs_config_defaults(struct cs_config *c, const char *keyd_default)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	const char *data = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	char buf[4096];
	int r;

	memset(c, 0, sizeof(*c));
	c->cache_ttl = 300;
	c->pin_timeout = 120;
	if (runtime != NULL && runtime[0] == '/')
		snprintf(buf, sizeof(buf), "%s/cardseal/socket", runtime);
	else
		snprintf(buf, sizeof(buf), "/tmp/cardseal-%u/socket", (unsigned)getuid());
	if ((r = set_str(&c->socket, buf)) != 0)
		return r;
	if (data != NULL && data[0] == '/')
		snprintf(buf, sizeof(buf), "%s/cardseal", data);
	else
		snprintf(buf, sizeof(buf), "%s/.local/share/cardseal", home != NULL ? home : "/tmp");
	if ((r = set_str(&c->store, buf)) != 0 || (r = set_str(&c->keyd, keyd_default)) != 0 ||
	    (r = set_str(&c->modules, "p11-kit")) != 0 || (r = set_str(&c->anchors, "")) != 0 ||
	    (r = set_str(&c->crl_dir, "")) != 0 || (r = set_str(&c->pinentry, "/usr/bin/pinentry")) != 0)
		return r;
	return 0;
}

void
cs_config_clear(struct cs_config *c)
{
	free(c->socket);
	free(c->store);
	free(c->keyd);
	free(c->modules);
	free(c->anchors);
	free(c->crl_dir);
	free(c->pinentry);
	memset(c, 0, sizeof(*c));
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

static int
parse_seconds(const char *v, unsigned *ret)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n > 86400u * 365)
		return CS_ERR_BAD_FORMAT;
	*ret = (unsigned)n;
	return 0;
}

static int
parse_bool(const char *v, int *ret)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*ret = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*ret = 0;
	else
		return CS_ERR_BAD_FORMAT;
	return 0;
}

/* Applies one key; CS_ERR_NOT_FOUND for an unknown section or key. */
static int
apply(struct cs_config *c, const char *section, const char *key, const char *value)
{
	if (strcmp(section, "engine") == 0) {
		if (strcmp(key, "socket") == 0)
			return set_str(&c->socket, value);
		if (strcmp(key, "store") == 0)
			return set_str(&c->store, value);
		if (strcmp(key, "keyd") == 0)
			return set_str(&c->keyd, value);
	} else if (strcmp(section, "tokens") == 0) {
		if (strcmp(key, "modules") == 0)
			return value[0] != '\0' ? set_str(&c->modules, value) : CS_ERR_BAD_FORMAT;
	} else if (strcmp(section, "trust") == 0) {
		if (strcmp(key, "anchors") == 0)
			return set_str(&c->anchors, value);
		if (strcmp(key, "crl-dir") == 0)
			return set_str(&c->crl_dir, value);
		if (strcmp(key, "system-anchors") == 0)
			return parse_bool(value, &c->system_anchors);
	} else if (strcmp(section, "pin") == 0) {
		if (strcmp(key, "pinentry") == 0)
			return value[0] == '/' ? set_str(&c->pinentry, value) : CS_ERR_BAD_FORMAT;
		if (strcmp(key, "cache-ttl") == 0)
			return parse_seconds(value, &c->cache_ttl);
		if (strcmp(key, "timeout") == 0)
			return parse_seconds(value, &c->pin_timeout);
		if (strcmp(key, "confirm-signatures") == 0)
			return parse_bool(value, &c->confirm_signatures);
	}
	return CS_ERR_NOT_FOUND;
}

int
cs_config_parse(struct cs_config *c, const char *name, const char *text, size_t len, char *err,
                size_t err_size)
{
	char line[MAX_LINE + 2], section[64] = "";
	size_t pos = 0, n;
	unsigned lineno = 0;
	int r = 0;

	err[0] = '\0';
	if (len > MAX_FILE) {
		snprintf(err, err_size, "%s: larger than %d bytes", name, MAX_FILE);
		return CS_ERR_TOO_LARGE;
	}
	while (pos < len && r == 0) {
		char *s, *eq, *key, *value;
		const char *nl = memchr(text + pos, '\n', len - pos);

		n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n > MAX_LINE) {
			snprintf(err, err_size, "%s:%u: line longer than %d bytes", name, lineno, MAX_LINE);
			return CS_ERR_TOO_LARGE;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (memchr(line, '\0', n) != NULL) {
			snprintf(err, err_size, "%s:%u: NUL byte", name, lineno);
			return CS_ERR_BAD_FORMAT;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (close == NULL || close[1] != '\0' || (size_t)(close - s - 1) >= sizeof(section)) {
				snprintf(err, err_size, "%s:%u: bad section header", name, lineno);
				return CS_ERR_BAD_FORMAT;
			}
			*close = '\0';
			snprintf(section, sizeof(section), "%s", trim(s + 1));
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, err_size, "%s:%u: expected key = value", name, lineno);
			return CS_ERR_BAD_FORMAT;
		}
		*eq = '\0';
		key = trim(s);
		value = trim(eq + 1);
		r = apply(c, section, key, value);
		if (r == CS_ERR_NOT_FOUND)
			snprintf(err, err_size, "%s:%u: unknown key '%s' in section [%s]", name, lineno,
			         key, section);
		else if (r != 0)
			snprintf(err, err_size, "%s:%u: bad value for '%s'", name, lineno, key);
	}
	return r;
}

int
cs_config_load(struct cs_config *c, const char *path, char *err, size_t err_size)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n;
	int r;

	if (f == NULL) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return CS_ERR_IO;
	}
	if ((text = malloc(MAX_FILE + 1)) == NULL) {
		fclose(f);
		return CS_ERR_NOMEM;
	}
	n = fread(text, 1, MAX_FILE + 1, f);
	fclose(f);
	r = cs_config_parse(c, path, text, n, err, err_size);
	free(text);
	return r;
}
