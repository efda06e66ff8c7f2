/*
 * The process boundary, end to end: this program stands in for cardseald.
 * It starts cardseal-keyd over a socketpair (fixture cards behind the
 * fault-injecting module, so its counters prove the token did the work, and
 * the scripted fake pinentry), loads the Cardseal provider with keyd as its
 * key backend, and runs OpenSSL's CMS code with token keys. Every result is
 * judged by a separate `openssl cms` process with the default provider.
 *
 * Usage: test-keyd KEYD FAULT_MODULE FAKE_PINENTRY
 */
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "cs_provider.h"
#include "fixture.h"
#include "keyd_client.h"
#include "tap.h"

static struct fixture fx;
static char counters[700];
static OSSL_LIB_CTX *libctx;
static struct keyd_client *keyd;

static const char message[] = "Content-Type: text/plain\r\n\r\nFrom Alice's card to Bob's.\r\n";

static long
counter_in(const char *path, const char *name)
{
	char line[256], fn[128];
	long n, found = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%127s %ld", fn, &n) == 2 && strcmp(fn, name) == 0)
			found = n;
	}
	fclose(f);
	return found;
}

static long
counter(const char *name)
{
	return counter_in(counters, name);
}

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *
work(const char *name)
{
	static char paths[8][700];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, 700, "%s/%s", fx.work, name);
	return p;
}

static X509 *
load_cert(const char *name)
{
	char path[PATH_MAX + 128];
	FILE *f;
	X509 *x = NULL;

	snprintf(path, sizeof(path), "%s/pki/%.64s.cert.pem", fx.dir, name);
	if ((f = fopen(path, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	return x;
}

/* The key URI keyd reports for an identity label. */
static char *
key_uri_for(const char *label)
{
	struct keyd_identity *ids;
	size_t n, i;
	char *uri = NULL;

	if (keyd_client_list_identities(keyd, &ids, &n) != 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (strcmp(ids[i].label, label) == 0)
			uri = strdup(ids[i].key_uri);
	}
	keyd_identities_free(ids, n);
	return uri;
}

static int
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(p, 1, n, f) == n;

	if (f != NULL)
		fclose(f);
	return ok ? 0 : -1;
}

/* Signs message with a token key (PSS when pss), writes DER; openssl cms verifies it. */
static void
sign_and_verify(const char *label, int pss)
{
	char *uri = key_uri_for(label);
	X509 *cert = load_cert(label), *inter = load_cert("inter-ca");
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	BIO *in = BIO_new_mem_buf(message, sizeof(message) - 1), *out = NULL;
	long before = counter("C_Sign");
	int ok = uri != NULL && cert != NULL &&
	         cs_provider_token_key(libctx, uri, cert, &key) == 0;

	/* The chain up to, not including, the root travels in the message. */
	if (ok)
		ok = (cms = CMS_sign(NULL, NULL, NULL, in, CMS_BINARY | CMS_PARTIAL)) != NULL &&
		     inter != NULL && CMS_add1_cert(cms, inter) == 1 &&
		     (si = CMS_add1_signer(cms, cert, key, EVP_sha256(),
		                           pss ? CMS_KEY_PARAM : 0)) != NULL &&
		     (!pss || EVP_PKEY_CTX_set_rsa_padding(CMS_SignerInfo_get0_pkey_ctx(si),
		                                           RSA_PKCS1_PSS_PADDING) == 1) &&
		     CMS_final(cms, in, NULL, CMS_BINARY) == 1;
	if (ok) {
		out = BIO_new_file(work("signed.der"), "wb");
		ok = out != NULL && i2d_CMS_bio(out, cms) == 1;
		BIO_free(out);
	}
	if (!ok)
		ERR_print_errors_fp(stderr);
	CHECK(ok, "%s%s: CMS signature made through keyd", label, pss ? " (PSS)" : "");
	CHECK(counter("C_Sign") == before + 1, "%s: the token ran C_Sign", label);
	CHECK(ok && sh("openssl cms -verify -binary -inform DER -in '%s' "
	               "-CAfile '%s/pki/root-ca.cert.pem' -purpose any -out '%s' 2>/dev/null",
	               work("signed.der"), fx.dir, work("verified.txt")) == 0 &&
	          sh("cmp -s '%s' '%s'", work("verified.txt"), work("message.txt")) == 0,
	      "%s: openssl cms verifies it and returns the message", label);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	X509_free(cert);
	X509_free(inter);
	BIO_free(in);
	free(uri);
}

/* openssl cms encrypts to label's certificate; we decrypt through keyd and compare. */
static void
encrypt_and_decrypt(const char *label, const char *cipher, const char *keyopts,
                    const char *counter_name)
{
	char *uri = key_uri_for(label);
	X509 *cert = load_cert(label);
	EVP_PKEY *key = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = BIO_new(BIO_s_mem());
	char *plain = NULL;
	long plain_len = 0, before = counter(counter_name);
	int made, ok;

	/* -keyopt applies to the -recip before it. */
	made = sh("openssl cms -encrypt -binary %s -recip '%s/pki/%s.cert.pem' %s -in '%s' "
	          "-outform DER -out '%s' 2>/dev/null",
	          cipher, fx.dir, label, keyopts, work("message.txt"), work("enveloped.der")) == 0;
	if (!made)
		fprintf(stderr, "# openssl cms -encrypt failed\n");
	ok = made && uri != NULL && cert != NULL &&
	     cs_provider_token_key(libctx, uri, cert, &key) == 0 &&
	     (in = BIO_new_file(work("enveloped.der"), "rb")) != NULL &&
	     (cms = d2i_CMS_bio(in, NULL)) != NULL &&
	     CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY) == 1;
	if (!ok)
		ERR_print_errors_fp(stderr);
	if (ok)
		plain_len = BIO_get_mem_data(out, &plain);
	CHECK(ok && plain_len == (long)sizeof(message) - 1 &&
	          memcmp(plain, message, (size_t)plain_len) == 0,
	      "%s %s %s: decrypted through keyd, plaintext equals the original", label, cipher,
	      keyopts);
	CHECK(counter(counter_name) == before + 1, "%s: the token ran %s", label, counter_name);
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(in);
	BIO_free(out);
	free(uri);
}

/* Whether /proc/PID/maps names a PKCS#11 module. */
static int
maps_pkcs11(pid_t pid)
{
	char path[64], line[1024];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "softhsm") != NULL || strstr(line, "faultp11") != NULL ||
		    strstr(line, "opensc-pkcs11") != NULL || strstr(line, "p11-kit-proxy") != NULL)
			found = 1;
	}
	fclose(f);
	return found;
}

/*
 * Whether the fixture PIN (the digits 1 to 6 in a row) appears in this
 * process's heap or anonymous writable memory. The pattern is compared digit
 * by digit, so the search itself never puts the PIN in memory. Not
 * instrumented: it reads redzones and freed memory on purpose.
 */
__attribute__((no_sanitize_address)) static int
memory_holds_pin(void)
{
	char line[1024], perms[8], path[512];
	unsigned long start, end;
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (f == NULL)
		return -1;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		const unsigned char *p;
		size_t n, i, j;

		path[0] = '\0';
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %511s", &start, &end, perms, path) < 3)
			continue;
		if (perms[0] != 'r' || perms[1] != 'w')
			continue;
		if (path[0] != '\0' && strcmp(path, "[heap]") != 0)
			continue;
		n = end - start;
		if (n > (64ul << 20))
			continue;   /* sanitizer shadow reservations, not data */
		p = (const unsigned char *)start;
		for (i = 0; !found && i + 6 <= n; i++) {
			for (j = 0; j < 6 && p[i + j] == (unsigned char)('1' + j); j++)
				;
			found = j == 6;
		}
	}
	fclose(f);
	return found;
}

static void
test_frames(void)
{
	static const uint8_t trailing[] = { 0xff };
	uint8_t type = 0;

	CHECK(keyd_client_raw(keyd, CS_KMSG_LIST_TOKENS, NULL, 0, &type) == 0 && type == CS_KMSG_OK,
	      "LIST_TOKENS answers OK");
	CHECK_EQ_INT(keyd_client_raw(keyd, CS_KMSG_LIST_TOKENS, trailing, 1, &type),
	             CS_ERR_TRAILING, "keyd refuses a body with trailing bytes");
	CHECK_EQ_INT(keyd_client_raw(keyd, 0x7e, NULL, 0, &type), CS_ERR_UNKNOWN_TYPE,
	             "keyd refuses an unknown message type");
	CHECK_EQ_INT(keyd_client_raw(keyd, CS_KMSG_SIGN, "\0\0\0\1", 4, &type), CS_ERR_TRUNCATED,
	             "keyd refuses a truncated request");
}

static char control_path[700];

static void
set_control(const char *text)
{
	char tmp[800];

	snprintf(tmp, sizeof(tmp), "%s.tmp", control_path);
	write_file(tmp, text, strlen(text));
	rename(tmp, control_path);
}

/* Records keyd's events for this thread's requests. */
struct event_log {
	pthread_mutex_t lock;
	int insert_token, waiting_for_pin, token_changed;
	char last_detail[64];
};

static void
record_event(void *arg, int kind, const char *detail)
{
	struct event_log *log = arg;

	pthread_mutex_lock(&log->lock);
	if (kind == CS_KEVENT_INSERT_TOKEN)
		log->insert_token++;
	if (kind == CS_KEVENT_WAITING_FOR_PIN)
		log->waiting_for_pin++;
	if (kind == CS_KEVENT_TOKEN_CHANGED)
		log->token_changed++;
	snprintf(log->last_detail, sizeof(log->last_detail), "%s", detail != NULL ? detail : "");
	pthread_mutex_unlock(&log->lock);
}

static void *
show_bob_later(void *arg)
{
	(void)arg;
	usleep(700 * 1000);
	set_control("");
	return NULL;
}

struct watch_job {
	struct event_log log;
	volatile int cancel;
	int result;
};

static void *
watch_thread(void *arg)
{
	struct watch_job *job = arg;
	struct keyd_op_context ctx = { 0 };

	ctx.on_event = record_event;
	ctx.event_arg = &job->log;
	ctx.cancel = &job->cancel;
	keyd_client_set_thread_context(&ctx);
	job->result = keyd_client_watch_tokens(keyd);
	return NULL;
}

/* "Insert token": keyd names the card, waits for it, and the watcher streams both changes. */
static void
test_insert_token(const struct keyd_op_context *base)
{
	struct keyd_op_context ctx = *base;
	struct event_log log = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" };
	struct watch_job watch = { { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, "" }, 0, -1 };
	pthread_t shower, watcher;
	int r, i;

	pthread_create(&watcher, NULL, watch_thread, &watch);
	usleep(200 * 1000);     /* let the watch request reach keyd */
	ctx.on_event = record_event;
	ctx.event_arg = &log;
	keyd_client_set_thread_context(&ctx);
	set_control("hide bob-card\n");
	CHECK_EQ_INT(keyd_client_wait_token(keyd, "pkcs11:token=bob-card;id=%01;type=private", 1),
	             CS_ERR_TIMEOUT, "card out: waiting for it times out");
	CHECK(log.insert_token == 1 && strcmp(log.last_detail, "bob-card") == 0,
	      "and keyd said 'insert token bob-card'");
	pthread_create(&shower, NULL, show_bob_later, NULL);
	r = keyd_client_wait_token(keyd, "pkcs11:token=bob-card;id=%01;type=private", 20);
	CHECK(r == 0, "the wait ends when the card is put back (%s)", cs_strerror(r));
	pthread_join(shower, NULL);
	sign_and_verify("bob-rsa", 0);
	for (i = 0; i < 50 && watch.log.token_changed < 2; i++)
		usleep(100 * 1000);
	CHECK(watch.log.token_changed >= 2, "the token watch streamed the removal and the return");
	watch.cancel = 1;
	pthread_join(watcher, NULL);
	CHECK_EQ_INT(watch.result, 0, "the watch ends cleanly when cancelled");
	keyd_client_set_thread_context(base);
}

/* A request cancelled before it is sent ends as cancelled, the token untouched. */
static void
test_cancel_before_dialog(const struct keyd_op_context *base)
{
	struct keyd_op_context ctx = *base;
	volatile int cancel = 1;
	long before = counter("C_Sign");
	struct cs_key_backend backend;
	struct cs_sign_params sp = { CS_SIG_RSA_PKCS1, NID_sha256, 0, 0 };
	uint8_t digest[32] = { 0 }, sig[512];
	size_t sig_len = sizeof(sig);
	char *uri = key_uri_for("alice-sign-rsa");

	ctx.cancel = &cancel;
	keyd_client_set_thread_context(&ctx);
	keyd_client_backend(keyd, &backend);
	CHECK_EQ_INT(backend.sign(backend.arg, uri, &sp, digest, 32, sig, &sig_len),
	             CS_ERR_CANCELLED, "a cancelled request ends as cancelled");
	CHECK(counter("C_Sign") == before, "and the token signed nothing");
	keyd_client_set_thread_context(base);
	free(uri);
}

static char keyd_path[PATH_MAX], module_path[PATH_MAX], fake_path[PATH_MAX];
static char counters_of[4][760];

/*
 * Starts another keyd whose pinentry is the fake under the name `name`, its
 * settings `settings` (NAME=VALUE lines; "@PIN@" in them is replaced by the
 * fixture PIN in a shell, so it never enters this process). Its fault-module
 * counters go to NAME.counters (counters are per process).
 */
static int
start_keyd(const char *name, const char *settings, int confirm, struct keyd_client **ret)
{
	struct keyd_client_options o = { 0 };
	const char *link = work(name);
	static char links[4][700];
	static int next;
	char *kept = links[next++ % 4];
	int r;

	snprintf(kept, 700, "%s", link);
	if (sh("ln -sf '%s' '%s' && . '%s/env' && printf '%%s\\n' \"%s\" | "
	       "sed \"s/@PIN@/$CS_USER_PIN/\" > '%s.env'",
	       fake_path, kept, fx.dir, settings, kept) != 0)
		return -1;
	snprintf(counters_of[next % 4], sizeof(counters_of[0]), "%s.counters", kept);
	/* keyd takes our environment's FAULTP11_* at start: point it at its own file. */
	setenv("FAULTP11_COUNTERS", counters_of[next % 4], 1);
	o.keyd_path = keyd_path;
	o.modules = module_path;
	o.pinentry = kept;
	o.cache_ttl = 300;
	o.pin_timeout = 60;
	o.data_dir = fx.work;
	o.confirm_signatures = confirm;
	r = keyd_client_start(&o, ret);
	setenv("FAULTP11_COUNTERS", counters, 1);
	return r;
}

struct sign_job {
	struct keyd_client *client;
	struct keyd_op_context ctx;
	struct event_log log;
	volatile int cancel;
	int result;
};

static void *
sign_job_main(void *arg)
{
	struct sign_job *job = arg;
	struct cs_key_backend backend;
	struct cs_sign_params sp = { CS_SIG_RSA_PKCS1, NID_sha256, 0, 0 };
	uint8_t digest[32] = { 1 }, sig[512];
	size_t sig_len = sizeof(sig);

	job->ctx.on_event = record_event;
	job->ctx.event_arg = &job->log;
	job->ctx.cancel = &job->cancel;
	job->ctx.summary = "Subject: cancel me";
	keyd_client_set_thread_context(&job->ctx);
	keyd_client_backend(job->client, &backend);
	job->result = backend.sign(backend.arg, "pkcs11:token=bob-card;id=%01;type=private", &sp,
	                           digest, 32, sig, &sig_len);
	return NULL;
}

/* Waits up to 10 s for the job's PIN dialog to be open. */
static int
wait_for_dialog(struct sign_job *job)
{
	int i;

	for (i = 0; i < 100 && job->log.waiting_for_pin == 0; i++)
		usleep(100 * 1000);
	/* The event comes just before the dialog starts: give the fake time to greet. */
	usleep(300 * 1000);
	return job->log.waiting_for_pin > 0;
}

/*
 * The pid of the newest process named `name`, or 0 (the driver passes the
 * bare program name as argv[0], so it is the process name).
 */
static pid_t
pinentry_pid(const char *name)
{
	char cmd[128], line[32];
	FILE *p;
	long pid = 0;

	snprintf(cmd, sizeof(cmd), "pgrep -n -x '%s'", name);
	if ((p = popen(cmd, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), p) != NULL)
		pid = strtol(line, NULL, 10);
	pclose(p);
	return (pid_t)pid;
}

/* Waits up to 5 s for process pid to be gone; returns the milliseconds waited, or -1. */
static int
wait_gone(pid_t pid)
{
	int i;

	for (i = 0; i < 50; i++) {
		if (kill(pid, 0) != 0)
			return i * 100;
		usleep(100 * 1000);
	}
	return -1;
}

/* The front cancels a request whose PIN dialog is open: the dialog closes at once. */
static void
test_cancel_open_dialog(void)
{
	struct sign_job job = { 0 };
	struct timespec t0, t1;
	pthread_t th;
	pid_t dialog = 0;
	int waited;

	pthread_mutex_init(&job.log.lock, NULL);
	job.result = 1;
	CHECK(start_keyd("pinentry-hang", "FAKE_PINENTRY_ACTION=hang", 0, &job.client) == 0,
	      "a keyd whose PIN dialog never answers");
	pthread_create(&th, NULL, sign_job_main, &job);
	CHECK(wait_for_dialog(&job) && (dialog = pinentry_pid("pinentry-hang")) > 0,
	      "its PIN dialog is open");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	job.cancel = 1;
	pthread_join(th, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_EQ_INT(job.result, CS_ERR_CANCELLED, "cancelling the request ends it as cancelled");
	CHECK(t1.tv_sec - t0.tv_sec < 5, "within seconds, not at the dialog's timeout");
	waited = dialog > 0 ? wait_gone(dialog) : -1;
	CHECK(waited >= 0, "and the pinentry is gone (after %d ms)", waited);
	keyd_client_free(job.client);
}

/*
 * A listing while a card sits in a PIN dialog, before its CA certificates
 * were ever listed, lacks them: keyd marks it partial, and the front's cache
 * must not keep it. Kept (as it was), the next listing within the cache's
 * 2 s came from it, without the card's intermediate CA, and the card's own
 * certificates did not chain (the gui suite's flaky NO_KEY).
 */
static void
test_busy_listing_not_cached(void)
{
	struct sign_job job = {0};
	struct keyd_identity *ids = NULL;
	STACK_OF(X509) *cas = NULL;
	size_t n = 0, n_busy;
	pthread_t th;
	int r;

	pthread_mutex_init(&job.log.lock, NULL);
	job.result = 1;
	CHECK(start_keyd("pinentry-busy", "FAKE_PINENTRY_ACTION=hang", 0, &job.client) == 0,
	      "a fresh keyd whose PIN dialog never answers");
	/* Its first request signs: keyd finds the key (listing identities), never the CA
	 * certificates. */
	pthread_create(&th, NULL, sign_job_main, &job);
	CHECK(wait_for_dialog(&job), "bob-card's PIN dialog is open");
	r = keyd_client_list_identities_cached(job.client, &ids, &n, &cas);
	CHECK(r == 0 && n > 0, "listed while busy (%zu identities)", n);
	n_busy = n;
	keyd_identities_free(ids, n);
	sk_X509_pop_free(cas, X509_free);
	cas = NULL;
	job.cancel = 1;
	pthread_join(th, NULL);
	r = keyd_client_list_identities_cached(job.client, &ids, &n, &cas);
	/*
	 * Each of the 3 cards carries the intermediate and the root: 6, bob-card's
	 * among them (and its identities, when the busy listing lacked them too).
	 */
	CHECK(r == 0 && n >= n_busy && cas != NULL && sk_X509_num(cas) == 6,
	      "once free, the next listing asks keyd: every card's CA certificates (%zu, %d)", n,
	      cas != NULL ? sk_X509_num(cas) : 0);
	keyd_identities_free(ids, n);
	sk_X509_pop_free(cas, X509_free);
	keyd_client_free(job.client);
}

/* The front goes away while a PIN dialog is open: keyd closes it and exits. */
static void
test_front_vanishes(void)
{
	struct sign_job job = { 0 };
	pthread_t th;
	pid_t pid, dialog = 0;
	int gone;

	pthread_mutex_init(&job.log.lock, NULL);
	CHECK(start_keyd("pinentry-hang2", "FAKE_PINENTRY_ACTION=hang", 0, &job.client) == 0,
	      "another keyd with a silent PIN dialog");
	pid = keyd_client_pid(job.client);
	pthread_create(&th, NULL, sign_job_main, &job);
	CHECK(wait_for_dialog(&job) && (dialog = pinentry_pid("pinentry-hang2")) > 0,
	      "its dialog is open");
	/* keyd_client_free shuts the socket down: the request fails, keyd sees EOF. */
	keyd_client_free(job.client);
	pthread_join(th, NULL);
	gone = kill(pid, 0) != 0 && dialog > 0 && wait_gone(dialog) >= 0;
	CHECK(gone, "keyd exits and leaves no pinentry behind");
}

/* --confirm-signatures: a refused confirmation signs nothing; an accepted one signs. */
static void
test_confirm_signatures(void)
{
	struct sign_job job = { 0 };
	long before;

	pthread_mutex_init(&job.log.lock, NULL);
	sh("printf 'deny\\n' > '%s'", work("confirm.script"));
	CHECK(start_keyd("pinentry-confirm", "FAKE_PINENTRY_SCRIPT=CONFIRM_SCRIPT", 1,
	                 &job.client) == 0,
	      "a keyd that confirms every signature");
	sh("sed -i \"s|CONFIRM_SCRIPT|%s|\" '%s.env'", work("confirm.script"),
	   work("pinentry-confirm"));
	before = counter_in(work("pinentry-confirm.counters"), "C_Sign");
	sign_job_main(&job);
	CHECK_EQ_INT(job.result, CS_ERR_CANCELLED, "a refused confirmation: cancelled");
	CHECK(counter_in(work("pinentry-confirm.counters"), "C_Sign") == before,
	      "and nothing signed");
	sh(". '%s/env' && printf 'confirm\\npin:%%s\\n' \"$CS_USER_PIN\" > '%s' && rm -f '%s.state'",
	   fx.dir, work("confirm.script"), work("confirm.script"));
	sign_job_main(&job);
	CHECK_EQ_INT(job.result, 0, "confirmed, then the PIN: signed");
	CHECK(counter_in(work("pinentry-confirm.counters"), "C_Sign") == before + 1,
	      "by the token");
	keyd_client_free(job.client);
}

/* IMPORT_P12 through keyd: the wrong password changes nothing; the right one adds an identity. */
static void
test_import_p12(void)
{
	struct cs_secret *wrong = cs_secret_from("not-it", 6), *right = cs_secret_from("cardseal", 8);
	char path[PATH_MAX + 64], *key_uri = NULL, *cert_uri = NULL, *uri = NULL;
	uint8_t p12[64 * 1024];
	size_t n = 0;
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/pki/anyeku.p12", fx.dir);
	if ((f = fopen(path, "rb")) != NULL) {
		n = fread(p12, 1, sizeof(p12), f);
		fclose(f);
	}
	CHECK(n > 0, "the fixture's anyeku.p12 read");
	CHECK_EQ_INT(keyd_client_import_p12(keyd, "pkcs11:token=carol-card", p12, n, wrong, "imported",
	                                    &key_uri, &cert_uri),
	             CS_ERR_PKCS12, "IMPORT_P12 with the wrong password: refused");
	r = keyd_client_import_p12(keyd, "pkcs11:token=carol-card", p12, n, right, "imported",
	                           &key_uri, &cert_uri);
	CHECK(r == 0 && key_uri != NULL && strstr(key_uri, "token=carol-card") != NULL,
	      "IMPORT_P12 puts the key on carol-card (%s)", cs_strerror(r));
	uri = key_uri_for("imported");
	CHECK(uri != NULL && key_uri != NULL && strcmp(uri, key_uri) == 0,
	      "and keyd lists the new identity under that URI");
	CHECK(sh("grep -q 'op=import' '%s/keyd-audit.log'", fx.work) == 0, "the import is audited");
	free(uri);
	free(key_uri);
	free(cert_uri);
	cs_secret_free(wrong);
	cs_secret_free(right);
}

int
main(int argc, char **argv)
{
	char module[PATH_MAX], pinentry[PATH_MAX], control[700];
	struct keyd_client_options o = { 0 };
	struct keyd_op_context ctx = { 0 };
	struct cs_key_backend backend;
	int r;

	if (argc != 4 || realpath(argv[2], module) == NULL || realpath(argv[3], pinentry) == NULL) {
		fprintf(stderr, "usage: test-keyd KEYD FAULT_MODULE FAKE_PINENTRY\n");
		return 2;
	}
	if (fixture_setup(&fx) != 0)
		return 99;
	snprintf(keyd_path, sizeof(keyd_path), "%s", argv[1]);
	snprintf(module_path, sizeof(module_path), "%s", module);
	snprintf(fake_path, sizeof(fake_path), "%s", pinentry);
	snprintf(counters, sizeof(counters), "%s/fault-counters", fx.work);
	snprintf(control, sizeof(control), "%s/fault-control", fx.work);
	snprintf(control_path, sizeof(control_path), "%s", control);
	write_file(control, "", 0);
	write_file(work("message.txt"), message, sizeof(message) - 1);
	setenv("FAULTP11_COUNTERS", counters, 1);
	setenv("FAULTP11_CONTROL", control, 1);
	/* keyd gives pinentry display variables only; the fake reads its settings beside itself. */
	/*
	 * The PIN goes from the fixture's env file to the fake's settings in a
	 * shell, so it never exists in this process: the memory check below can
	 * then look for it.
	 */
	sh("ln -sf '%s' '%s' && . '%s/env' && "
	   "printf 'FAKE_PINENTRY_ACTION=pin:%%s\\nFAKE_PINENTRY_LOG=%s\\n' \"$CS_USER_PIN\" > '%s.env'",
	   pinentry, work("pinentry"), fx.dir, work("pinentry.log"), work("pinentry"));

	o.keyd_path = argv[1];
	o.modules = module;
	o.pinentry = work("pinentry");
	o.cache_ttl = 300;
	o.pin_timeout = 30;
	o.data_dir = fx.work;
	r = keyd_client_start(&o, &keyd);
	CHECK(r == 0, "keyd started (%s)", cs_strerror(r));
	if (r != 0)
		return tap_done();
	ctx.client_id = 7;
	ctx.summary = "From: alice@example.org\nTo: bob@example.org\nSubject: test";
	keyd_client_set_thread_context(&ctx);
	keyd_client_backend(keyd, &backend);
	r = cs_provider_context_new(&backend, &libctx);
	CHECK(r == 0, "provider loaded with keyd as its key backend");

	sign_and_verify("bob-rsa", 0);
	sign_and_verify("bob-rsa", 1);
	sign_and_verify("bob-ec", 0);
	sign_and_verify("carol-rsa", 0);
	sign_and_verify("carol-ec", 0);

	sign_and_verify("alice-sign-rsa", 0);      /* always-authenticate: a PIN per signature */
	sign_and_verify("alice-sign-ec", 0);
	sign_and_verify("carol-rsa", 1);

	/* The decryption matrix: every key transport and agreement, CBC and GCM each. */
	{
		static const char *const ciphers[] = { "-aes256", "-aes-256-gcm" };
		static const char *const rsa_paddings[] = {
			"",
			"-keyopt rsa_padding_mode:oaep",
			"-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256",
		};
		static const char *const rsa_keys[] = { "bob-rsa", "alice-enc-rsa", "carol-rsa" };
		static const char *const ec_keys[] = { "bob-ec", "alice-enc-ec", "carol-ec" };
		size_t i, j, k;

		/* An OAEP label (Thunderbird's interop corpus has one): raw RSA + decoding in keyd. */
		encrypt_and_decrypt("bob-rsa", "-aes256",
		                    "-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_label:0123456789ABCDEF",
		                    "C_Decrypt");
		for (i = 0; i < 2; i++) {
			for (k = 0; k < 3; k++) {
				for (j = 0; j < 3; j++)
					encrypt_and_decrypt(rsa_keys[k], ciphers[i], rsa_paddings[j],
					                    "C_Decrypt");
				encrypt_and_decrypt(ec_keys[k], ciphers[i], "", "C_DeriveKey");
			}
		}
	}

	CHECK_EQ_INT(maps_pkcs11(getpid()), 0, "this (front) process maps no PKCS#11 module");
	CHECK(sh("grep -q 'use_pin_caching = false' '%s/opensc-keyd.conf' && "
	         "grep -q 'lock_login = true' '%s/opensc-keyd.conf'", fx.work, fx.work) == 0,
	      "keyd runs OpenSC with its own configuration: no PIN caching, exclusive login");
	CHECK_EQ_INT(memory_holds_pin(), 0,
	             "the fixture PIN is nowhere in this process's heap or anonymous memory");
	CHECK_EQ_INT(maps_pkcs11(keyd_client_pid(keyd)), 1, "cardseal-keyd maps the module");
	CHECK(sh("grep -q 'op=sign' '%s/keyd-audit.log' && grep -q 'op=decrypt' '%s/keyd-audit.log'",
	         fx.work, fx.work) == 0,
	      "the audit log records signatures and decryptions");
	CHECK(sh(". '%s/env' && ! grep -rqF \"$CS_USER_PIN\" '%s/keyd-audit.log' '%s'", fx.dir,
	         fx.work, work("pinentry.log")) == 0,
	      "the PIN is in neither the audit log nor the pinentry log");
	test_frames();
	test_import_p12();
	test_insert_token(&ctx);
	test_cancel_before_dialog(&ctx);
	test_cancel_open_dialog();
	test_busy_listing_not_cached();
	test_front_vanishes();
	test_confirm_signatures();

	cs_provider_context_free(libctx);
	keyd_client_free(keyd);
	fixture_teardown(&fx);
	return tap_done();
}
