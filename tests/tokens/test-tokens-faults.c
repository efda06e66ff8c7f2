/*
 * tokens/ against what SoftHSM cannot do, through the fault-injecting module
 * (tests/faultp11) wrapping fixture tokens: a pulled and re-inserted card, a
 * card pulled in the middle of a signature, PIN flags (count low, final try,
 * locked), a PIN pad, and the module's counters proving the token signed.
 * Usage: test-tokens-faults MODULE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <unistd.h>

#include <openssl/obj_mac.h>

#include "cs_error.h"
#include "fixture.h"
#include "tap.h"
#include "tok.h"

static char control[600], counters[600];

/* Replaces the control file atomically, as faultctl does. */
static void
set_control(const char *text)
{
	char tmp[700];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", control);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	rename(tmp, control);
}

/* The count for function name in the counters file, 0 if absent. */
static long
counter(const char *name)
{
	char line[256], fn[128];
	long n, found = 0;
	FILE *f = fopen(counters, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%127s %ld", fn, &n) == 2 && strcmp(fn, name) == 0)
			found = n;
	}
	fclose(f);
	return found;
}

struct pin_log {
	int calls, keypad, count_low, final_try;
	const char *pin;
};

static int
pin_cb(void *arg, const struct tok_pin_prompt *p, struct cs_secret **ret_pin)
{
	struct pin_log *log = arg;

	log->calls++;
	log->keypad += p->keypad;
	log->count_low += p->count_low;
	log->final_try += p->final_try;
	*ret_pin = NULL;
	if (p->keypad)
		return 0;
	*ret_pin = cs_secret_from(log->pin, strlen(log->pin));
	return 0;
}

static const uint8_t digest[32] = "0123456789abcdef0123456789abcdef";

static int
sign(struct tok_ctx *ctx, const char *uri, struct pin_log *log)
{
	struct tok_sign_request req = { uri, TOK_SIGN_RSA_PKCS1, NID_sha256, 0, 0, digest, 32 };
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig);

	return tok_sign(ctx, &req, pin_cb, log, sig, &sig_len);
}

int
main(int argc, char **argv)
{
	struct fixture fx;
	struct tok_ctx *ctx = NULL;
	struct tok_identity id;
	struct pin_log log = { 0, 0, 0, 0, "123456" };
	const char *bob = "pkcs11:token=bob-card;id=%01;type=private";
	char module[PATH_MAX];
	long before;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: test-tokens-faults MODULE\n");
		return 2;
	}
	if (fixture_setup(&fx) != 0)
		return 99;
	snprintf(control, sizeof(control), "%s/fault-control", fx.work);
	snprintf(counters, sizeof(counters), "%s/fault-counters", fx.work);
	setenv("FAULTP11_CONTROL", control, 1);
	setenv("FAULTP11_COUNTERS", counters, 1);
	setenv("FAULTP11_PAD_PIN", "123456", 1);
	set_control("");

	/* meson passes a build-relative path; p11-kit looks for relative names in its own directory. */
	if (realpath(argv[1], module) == NULL) {
		perror(argv[1]);
		return 99;
	}
	r = tok_ctx_new(module, &ctx);
	CHECK(r == 0, "fault-injecting module %s loaded (%s)", module, cs_strerror(r));
	if (r != 0)
		return tap_done();
	r = sign(ctx, bob, &log);
	CHECK(r == 0 && counter("C_Sign") == 1, "a signature through the module: C_Sign counted once");

	set_control("hide bob-card\n");
	CHECK_EQ_INT(tok_find_identity(ctx, bob, &id), CS_ERR_NO_TOKEN,
	             "card pulled: its key's token is absent");
	CHECK_EQ_INT(sign(ctx, bob, &log), CS_ERR_NO_TOKEN, "signing needs the absent card");

	set_control("");
	CHECK(tok_rescan(ctx) == 0, "slot list rescanned after the card came back");
	log.calls = 0;
	r = sign(ctx, bob, &log);
	CHECK(r == 0 && log.calls == 1,
	      "card back: the old session is gone, a new login and signature work (%s)",
	      cs_strerror(r));

	set_control("fail C_Sign CKR_DEVICE_REMOVED once token=bob-card\n");
	before = counter("C_SignInit");
	CHECK_EQ_INT(sign(ctx, bob, &log), CS_ERR_TOKEN_REMOVED,
	             "card pulled in the middle of a signature: a clean error");
	CHECK(counter("C_SignInit") == before + 1, "the failure came after C_SignInit");
	r = sign(ctx, bob, &log);
	CHECK(r == 0, "the next signature works (%s)", cs_strerror(r));

	tok_logout_all(ctx);
	set_control("flags bob-card count-low\n");
	log = (struct pin_log){ 0, 0, 0, 0, "123456" };
	r = sign(ctx, bob, &log);
	CHECK(r == 0 && log.count_low == 1, "PIN count low reaches the dialog");
	tok_logout_all(ctx);
	set_control("flags bob-card final-try\n");
	r = sign(ctx, bob, &log);
	CHECK(r == 0 && log.final_try == 1, "final PIN try reaches the dialog");
	tok_logout_all(ctx);
	set_control("flags bob-card locked\n");
	log.calls = 0;
	CHECK_EQ_INT(sign(ctx, bob, &log), CS_ERR_PIN_LOCKED, "locked PIN: the operation stops");
	CHECK_EQ_INT(log.calls, 0, "and no PIN is asked for a locked card");

	set_control("fail C_Login CKR_PIN_LOCKED always token=bob-card\n");
	CHECK_EQ_INT(sign(ctx, bob, &log), CS_ERR_PIN_LOCKED,
	             "CKR_PIN_LOCKED from C_Login is reported as locked");

	set_control("flags bob-card protected-auth\n");
	log = (struct pin_log){ 0, 0, 0, 0, "wrong-pin-never-used" };
	before = counter("C_Login");
	r = sign(ctx, bob, &log);
	CHECK(r == 0 && log.keypad == 1, "PIN pad: a keypad notice, login without a PIN, signed (%s)",
	      cs_strerror(r));
	CHECK(counter("C_Login") == before + 1, "exactly one C_Login for the keypad login");

	set_control("");
	tok_ctx_free(ctx);
	fixture_teardown(&fx);
	return tap_done();
}
