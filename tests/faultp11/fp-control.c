/*
 * The control language (described in faultp11.h and README.md), read into struct fp_rules.
 * The parser never fails as a whole: a test that writes a wrong line gets a message on
 * stderr and the rest of its rules, not a module that stops working.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultp11.h"

#define MAX_WORDS 8

struct flag_name {
	const char *name;
	CK_FLAGS flag;
};

static const struct flag_name flag_names[] = {
    {"count-low", CKF_USER_PIN_COUNT_LOW},
    {"final-try", CKF_USER_PIN_FINAL_TRY},
    {"locked", CKF_USER_PIN_LOCKED},
    {"protected-auth", CKF_PROTECTED_AUTHENTICATION_PATH},
};

struct fp_ident
fp_ident_of(const struct stat *st)
{
	struct fp_ident id = {0};

	if (st == NULL)
		return id;
	id.present = true;
	id.dev = st->st_dev;
	id.ino = st->st_ino;
	id.size = st->st_size;
	id.mtime = st->st_mtim;
	id.ctime = st->st_ctim;
	return id;
}

bool
fp_ident_equal(const struct fp_ident *a, const struct fp_ident *b)
{
	if (!a->present || !b->present)
		return a->present == b->present;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void
report(FILE *diag, const char *origin, unsigned int lineno, const char *what, const char *word)
{
	if (diag == NULL)
		return;
	/* Words come from a file; the precision keeps a huge one from flooding the log. */
	fprintf(diag, "faultp11: %s:%u: %s%s%.40s%s; line ignored\n", origin, lineno, what,
	        word != NULL ? " '" : "", word != NULL ? word : "", word != NULL ? "'" : "");
}

/* Returns NULL, or why the label cannot be a token label. */
static const char *
check_label(const char *label)
{
	if (strlen(label) > FP_LABEL_MAX)
		return "token label longer than 32 bytes";
	return NULL;
}

static const char *
parse_hide(struct fp_rules *r, char **w, size_t n)
{
	const char *err;

	if (n != 2)
		return "usage: hide LABEL";
	if ((err = check_label(w[1])) != NULL)
		return err;
	for (size_t i = 0; i < r->n_hidden; i++) {
		if (strcmp(r->hidden[i], w[1]) == 0)
			return NULL;
	}
	if (r->n_hidden == FP_MAX_RULES)
		return "too many hide rules";
	strcpy(r->hidden[r->n_hidden++], w[1]);
	return NULL;
}

static const char *
parse_flags(struct fp_rules *r, char **w, size_t n, const char **ret_word)
{
	struct fp_flags_rule *rule = NULL;
	CK_FLAGS flags = 0;
	const char *err;

	if (n < 2)
		return "usage: flags LABEL [count-low] [final-try] [locked] [protected-auth]";
	if ((err = check_label(w[1])) != NULL)
		return err;
	for (size_t i = 2; i < n; i++) {
		size_t j;

		for (j = 0; j < sizeof(flag_names) / sizeof(flag_names[0]); j++) {
			if (strcmp(flag_names[j].name, w[i]) == 0)
				break;
		}
		if (j == sizeof(flag_names) / sizeof(flag_names[0])) {
			*ret_word = w[i];
			return "unknown flag";
		}
		flags |= flag_names[j].flag;
	}
	/* A later line for the same token replaces the earlier one, as a rewrite would. */
	for (size_t i = 0; i < r->n_flags; i++) {
		if (strcmp(r->flags[i].token, w[1]) == 0)
			rule = &r->flags[i];
	}
	if (rule == NULL) {
		if (r->n_flags == FP_MAX_RULES)
			return "too many flags rules";
		rule = &r->flags[r->n_flags++];
		strcpy(rule->token, w[1]);
	}
	rule->flags = flags;
	return NULL;
}

static const char *
parse_fail(struct fp_rules *r, char **w, size_t n, const char **ret_word)
{
	struct fp_fail_rule rule = {.once = false};
	bool have_mode = false;
	const char *err;

	if (n < 3 || n > 5)
		return "usage: fail FUNCTION RV [once|always] [token=LABEL]";
	if (fp_fn_parse(w[1], &rule.fn) != 0) {
		*ret_word = w[1];
		return "unknown function";
	}
	if (fp_rv_parse(w[2], &rule.rv) != 0) {
		*ret_word = w[2];
		return "unknown return value";
	}
	if (rule.rv == CKR_OK)
		return "failing with CKR_OK would return without doing the work";
	for (size_t i = 3; i < n; i++) {
		if (!have_mode && (strcmp(w[i], "once") == 0 || strcmp(w[i], "always") == 0)) {
			rule.once = strcmp(w[i], "once") == 0;
			have_mode = true;
		} else if (rule.token[0] == '\0' && strncmp(w[i], "token=", 6) == 0 &&
		           w[i][6] != '\0') {
			if ((err = check_label(w[i] + 6)) != NULL)
				return err;
			strcpy(rule.token, w[i] + 6);
		} else {
			*ret_word = w[i];
			return "unexpected word";
		}
	}
	if (r->n_fails == FP_MAX_RULES)
		return "too many fail rules";
	r->fails[r->n_fails++] = rule;
	return NULL;
}

static void
parse_line(struct fp_rules *r, const char *line, size_t len, const char *origin, FILE *diag,
           unsigned int lineno)
{
	char buf[FP_LINE_MAX];
	char *w[MAX_WORDS];
	const char *err = NULL;
	const char *word = NULL;
	char *save = NULL;
	char *hash;
	size_t n = 0;

	if (len >= sizeof(buf)) {
		err = "line longer than 511 bytes";
		goto out;
	}
	if (memchr(line, '\0', len) != NULL) {
		err = "NUL byte in line";
		goto out;
	}
	memcpy(buf, line, len);
	buf[len] = '\0';
	if ((hash = strchr(buf, '#')) != NULL)
		*hash = '\0';
	for (char *t = strtok_r(buf, " \t\r\v\f", &save); t != NULL;
	     t = strtok_r(NULL, " \t\r\v\f", &save)) {
		if (n == MAX_WORDS) {
			err = "too many words";
			goto out;
		}
		w[n++] = t;
	}
	if (n == 0)
		goto out;
	if (strcmp(w[0], "hide") == 0) {
		err = parse_hide(r, w, n);
	} else if (strcmp(w[0], "flags") == 0) {
		err = parse_flags(r, w, n, &word);
	} else if (strcmp(w[0], "fail") == 0) {
		err = parse_fail(r, w, n, &word);
	} else if (strcmp(w[0], "reset-counters") == 0) {
		if (n != 1)
			err = "usage: reset-counters";
		else
			r->reset_counters = true;
	} else {
		err = "unknown command";
		word = w[0];
	}
out:
	if (err != NULL) {
		r->n_ignored++;
		report(diag, origin, lineno, err, word);
	}
}

int
fp_rules_parse(const char *text, size_t len, const char *origin, FILE *diag, struct fp_rules *ret)
{
	unsigned int lineno = 0;
	size_t pos = 0;

	memset(ret, 0, sizeof(*ret));
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;

		parse_line(ret, text + pos, n, origin, diag, ++lineno);
		pos += n + (nl != NULL ? 1 : 0);
	}
	return 0;
}

int
fp_rules_load(const char *path, FILE *diag, struct fp_ident *ret_ident, struct fp_rules *ret_rules)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd = -1;
	int r;

	memset(ret_rules, 0, sizeof(*ret_rules));
	*ret_ident = fp_ident_of(NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r = errno == ENOENT ? 0 : -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		goto out;
	}
	*ret_ident = fp_ident_of(&st);
	/* One byte more than allowed, to tell "exactly the limit" from "too big". */
	if ((text = malloc(FP_CONTROL_MAX + 1)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	while (len <= FP_CONTROL_MAX) {
		ssize_t got = read(fd, text + len, FP_CONTROL_MAX + 1 - len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			r = -errno;
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > FP_CONTROL_MAX) {
		if (diag != NULL)
			fprintf(diag, "faultp11: %s: larger than %d bytes; file ignored\n", path,
			        FP_CONTROL_MAX);
		r = -EFBIG;
		goto out;
	}
	r = fp_rules_parse(text, len, path, diag, ret_rules);
out:
	free(text);
	if (fd >= 0)
		close(fd);
	return r;
}

bool
fp_rules_hidden(const struct fp_rules *rules, const char *label)
{
	for (size_t i = 0; i < rules->n_hidden; i++) {
		if (strcmp(rules->hidden[i], label) == 0)
			return true;
	}
	return false;
}

CK_FLAGS
fp_rules_flags(const struct fp_rules *rules, const char *label)
{
	for (size_t i = 0; i < rules->n_flags; i++) {
		if (strcmp(rules->flags[i].token, label) == 0)
			return rules->flags[i].flags;
	}
	return 0;
}

bool
fp_rules_take_failure(struct fp_rules *rules, enum fp_fn fn, const char *label, CK_RV *ret_rv)
{
	for (size_t i = 0; i < rules->n_fails; i++) {
		struct fp_fail_rule *f = &rules->fails[i];

		if (f->fn != fn || (f->once && f->fired))
			continue;
		if (f->token[0] != '\0' && (label == NULL || strcmp(f->token, label) != 0))
			continue;
		f->fired = f->once;
		*ret_rv = f->rv;
		return true;
	}
	return false;
}
