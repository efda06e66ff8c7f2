/*
 * test-fp-control: the control-file parser on its own: good rules, each kind of bad line
 * (ignored, reported, the rest kept), limits, and random bytes that must not crash it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultp11.h"

static unsigned int n_checks;
static unsigned int n_failed;

static __attribute__((format(printf, 2, 3))) void
check(bool ok, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (!ok)
		n_failed++;
	printf("%s %u - ", ok ? "ok" : "not ok", n_checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
parse(const char *text, struct fp_rules *r)
{
	fp_rules_parse(text, strlen(text), "test", NULL, r);
}

/* Returns how many lines text had ignored, with the messages in *ret_diag (to free). */
static unsigned int
ignored(const char *text, size_t len, char **ret_diag)
{
	struct fp_rules r;
	size_t size = 0;
	FILE *diag;

	*ret_diag = NULL;
	if ((diag = open_memstream(ret_diag, &size)) == NULL)
		abort();
	fp_rules_parse(text, len, "ctl", diag, &r);
	fclose(diag);
	/* One message a line; the last newline would split the "ok" line that quotes it. */
	if (size > 0 && (*ret_diag)[size - 1] == '\n')
		(*ret_diag)[size - 1] = '\0';
	return r.n_ignored;
}

static void
test_good_rules(void)
{
	struct fp_rules r;
	CK_RV rv = CKR_OK;

	parse("# a comment\n"
	      "hide alice-card\n"
	      "\n"
	      "  hide\tbob-card   # trailing comment\r\n"
	      "flags bob-card count-low final-try locked protected-auth\n"
	      "fail C_Sign CKR_DEVICE_REMOVED once token=alice-card\n"
	      "fail C_Login 0xA4 always\n"
	      "fail C_Decrypt 6\n"
	      "reset-counters",
	      &r);
	check(r.n_ignored == 0, "good rules: none ignored (%u)", r.n_ignored);
	check(r.n_hidden == 2 && fp_rules_hidden(&r, "alice-card") &&
	          fp_rules_hidden(&r, "bob-card") && !fp_rules_hidden(&r, "carol-card"),
	      "good rules: two hidden tokens, blanks, tabs, CR and comments skipped");
	check(fp_rules_flags(&r, "bob-card") ==
	              (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED |
	               CKF_PROTECTED_AUTHENTICATION_PATH) &&
	          fp_rules_flags(&r, "alice-card") == 0,
	      "good rules: the four flags, for bob-card only");
	check(r.n_fails == 3 && r.fails[0].once && !r.fails[1].once && !r.fails[2].once &&
	          r.fails[1].rv == CKR_PIN_LOCKED && r.fails[2].rv == CKR_FUNCTION_FAILED,
	      "good rules: three fail rules, always by default, hex and decimal values");
	check(r.reset_counters, "good rules: reset-counters on a last line without newline");

	check(!fp_rules_take_failure(&r, FP_C_Sign, "bob-card", &rv),
	      "take_failure: token=alice-card does not fail bob-card");
	check(!fp_rules_take_failure(&r, FP_C_Sign, NULL, &rv),
	      "take_failure: token=alice-card does not fail a call without a token");
	check(fp_rules_take_failure(&r, FP_C_Sign, "alice-card", &rv) && rv == CKR_DEVICE_REMOVED,
	      "take_failure: once fires on alice-card");
	check(!fp_rules_take_failure(&r, FP_C_Sign, "alice-card", &rv),
	      "take_failure: once does not fire twice");
	check(fp_rules_take_failure(&r, FP_C_Login, NULL, &rv) &&
	          fp_rules_take_failure(&r, FP_C_Login, "x", &rv) && rv == CKR_PIN_LOCKED,
	      "take_failure: always fires every time, on any token");

	parse("flags a locked\nflags a count-low\n", &r);
	check(r.n_flags == 1 && fp_rules_flags(&r, "a") == CKF_USER_PIN_COUNT_LOW,
	      "flags: a later line for the same token replaces the earlier");
	parse("fail C_Sign CKR_FUNCTION_FAILED token=t once\n", &r);
	check(r.n_ignored == 0 && r.n_fails == 1 && r.fails[0].once &&
	          strcmp(r.fails[0].token, "t") == 0,
	      "fail: token= and mode in either order");
	parse("", &r);
	check(r.n_hidden == 0 && r.n_flags == 0 && r.n_fails == 0 && !r.reset_counters,
	      "empty text: no rules");
}

static void
test_bad_lines(void)
{
	static const struct {
		const char *line;
		const char *why;
	} bad[] = {
	    {"frobnicate x", "unknown command"},
	    {"hide", "usage: hide"},
	    {"hide a b", "usage: hide"},
	    {"hide 123456789012345678901234567890123", "longer than 32"},
	    {"flags a sticky", "unknown flag"},
	    {"flags", "usage: flags"},
	    {"fail C_Sign", "usage: fail"},
	    {"fail C_Nope CKR_OK", "unknown function"},
	    {"fail C_GetFunctionList 5", "unknown function"},
	    {"fail C_Sign CKR_NOPE", "unknown return value"},
	    {"fail C_Sign -1", "unknown return value"},
	    {"fail C_Sign 0x", "unknown return value"},
	    {"fail C_Sign 0x1g", "unknown return value"},
	    {"fail C_Sign 99999999999999999999999", "unknown return value"},
	    {"fail C_Sign CKR_OK", "CKR_OK"},
	    {"fail C_Sign 0", "CKR_OK"},
	    {"fail C_Sign 5 sometimes", "unexpected word"},
	    {"fail C_Sign 5 once always", "unexpected word"},
	    {"fail C_Sign 5 token=", "unexpected word"},
	    {"reset-counters now", "usage: reset-counters"},
	    {"hide a b c d e f g h i", "too many words"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];
		char *diag;
		unsigned int n;

		snprintf(text, sizeof(text), "hide ok-card\n%s\nhide other-card\n", bad[i].line);
		n = ignored(text, strlen(text), &diag);
		check(n == 1 && strstr(diag, "ctl:2: ") != NULL && strstr(diag, bad[i].why) != NULL,
		      "bad line \"%s\": ignored, reported as \"%s\" on line 2 (%s)", bad[i].line,
		      bad[i].why, diag);
		free(diag);
	}
}

static void
test_limits(void)
{
	struct fp_rules r;
	char label32[] = "12345678901234567890123456789012";
	char text[4096];
	char *diag;
	size_t len;

	snprintf(text, sizeof(text), "hide %s\n", label32);
	parse(text, &r);
	check(r.n_ignored == 0 && fp_rules_hidden(&r, label32), "a 32-byte label is accepted");

	memset(text, ' ', 600);
	memcpy(text, "hide a", 6);
	memcpy(text + 600, "\nhide b\n", 9);
	check(ignored(text, strlen(text), &diag) == 1 && strstr(diag, "longer") != NULL,
	      "a 600-byte line is ignored");
	free(diag);
	parse(text, &r);
	check(!fp_rules_hidden(&r, "a") && fp_rules_hidden(&r, "b"),
	      "the line after an overlong one is kept");

	memcpy(text, "hide a\0b\nhide c\n", 16);
	check(ignored(text, 16, &diag) == 1 && strstr(diag, "NUL") != NULL,
	      "a line with a NUL byte is ignored");
	free(diag);
	fp_rules_parse(text, 16, "ctl", NULL, &r);
	check(fp_rules_hidden(&r, "c"), "the line after a NUL byte is kept");

	len = 0;
	for (int i = 0; i < FP_MAX_RULES + 8; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "hide card-%d\n", i);
	check(ignored(text, len, &diag) == 8 && strstr(diag, "too many hide rules") != NULL,
	      "hide rules over %d are ignored and reported", FP_MAX_RULES);
	free(diag);
	parse(text, &r);
	check(r.n_hidden == FP_MAX_RULES && fp_rules_hidden(&r, "card-0"),
	      "the first %d hide rules are kept", FP_MAX_RULES);
}

static void
test_load(void)
{
	char dir[] = "/tmp/fp-control-test.XXXXXX";
	struct fp_ident id;
	struct fp_rules r;
	char path[64];
	FILE *f;
	int rc;

	if (mkdtemp(dir) == NULL) {
		check(false, "load: mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/control", dir);
	rc = fp_rules_load(path, NULL, &id, &r);
	check(rc == 0 && !id.present && r.n_hidden == 0, "load: a missing file means no rules");

	f = fopen(path, "w");
	fputs("hide x\n", f);
	fclose(f);
	rc = fp_rules_load(path, NULL, &id, &r);
	check(rc == 0 && id.present && fp_rules_hidden(&r, "x"), "load: reads the rules");

	f = fopen(path, "w");
	for (int i = 0; i <= FP_CONTROL_MAX / 8; i++)
		fputs("hide x\n\n", f);
	fclose(f);
	rc = fp_rules_load(path, NULL, &id, &r);
	check(rc == -EFBIG && r.n_hidden == 0, "load: a file over %d bytes gives no rules",
	      FP_CONTROL_MAX);
	unlink(path);
	rmdir(dir);
}

/* Random lines built from the language's own words and random bytes. */
static void
test_random(void)
{
	static const char *const words[] = {
	    "hide",   "flags",
	    "fail",   "reset-counters",
	    "once",   "always",
	    "token=", "locked",
	    "C_Sign", "CKR_PIN_LOCKED",
	    "0x",     "#",
	    "\n",     "\r",
	    " ",      "\t",
	    "\0",     "count-low",
	};
	char text[2048];
	struct fp_rules r;
	unsigned int seed = 1;

	for (int i = 0; i < 20000; i++) {
		size_t len = 0;
		size_t want = (size_t)(rand_r(&seed) % (int)sizeof(text));

		while (len < want) {
			if (rand_r(&seed) % 3 == 0) {
				text[len++] = (char)rand_r(&seed);
			} else {
				const char *w =
				    words[rand_r(&seed) % (sizeof(words) / sizeof(words[0]))];
				size_t n = w[0] == '\0' ? 1 : strlen(w);

				if (len + n > want)
					break;
				memcpy(text + len, w, n);
				len += n;
			}
		}
		fp_rules_parse(text, len, "random", NULL, &r);
		if (r.n_hidden > FP_MAX_RULES || r.n_flags > FP_MAX_RULES ||
		    r.n_fails > FP_MAX_RULES) {
			check(false, "random: rule counts within bounds");
			return;
		}
	}
	check(true, "random: 20000 random texts parsed within bounds");
}

int
main(void)
{
	test_good_rules();
	test_bad_lines();
	test_limits();
	test_load();
	test_random();
	printf("1..%u\n", n_checks);
	return n_failed != 0 ? 1 : 0;
}
