/*
 * test-faultp11 MODULE: drives libcardseal-faultp11.so through its function list, over a
 * SoftHSM token made for this run in a fresh directory, and checks each fault it offers.
 * Prints "ok N - ..." or "not ok N - ..." per check and exits 1 if any failed, keeping the
 * directory for a look.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faultp11.h"

#define LABEL "fault-card"
#define PIN "123456"
#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define THREADS 4
#define SIGNS_PER_THREAD 25
#define PULLS 20

extern char **environ;

static CK_FUNCTION_LIST *p11;
static char dir[4096];
static char control_path[4200];
static char counters_path[4200];
static unsigned int n_checks;
static unsigned int n_failed;

static const char *
rv_str(CK_RV rv)
{
	static char buf[4][32];
	static unsigned int next;
	const char *name = fp_rv_name(rv);
	char *b;

	if (name != NULL)
		return name;
	b = buf[next++ % 4];
	snprintf(b, sizeof(buf[0]), "0x%lx", (unsigned long)rv);
	return b;
}

static __attribute__((format(printf, 2, 3))) bool
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
	fflush(stdout);
	return ok;
}

static bool
check_rv(const char *what, CK_RV got, CK_RV want)
{
	if (got == want)
		return check(true, "%s returns %s", what, rv_str(want));
	return check(false, "%s returns %s (got %s)", what, rv_str(want), rv_str(got));
}

/* Runs argv with stdout to /dev/null; returns 0 when it exits 0, else -1. */
static int
run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	int status;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r != 0) {
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(r));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "%s failed\n", argv[0]);
		return -1;
	}
	return 0;
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int r = 0;

	if (f == NULL)
		return -errno;
	if (fputs(text, f) == EOF)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

/* Replaces the control file as tests are told to: a temp file, then a rename. */
static void
control(const char *text)
{
	char tmp[4300];

	snprintf(tmp, sizeof(tmp), "%s.tmp", control_path);
	if (write_file(tmp, text) != 0 || rename(tmp, control_path) != 0) {
		fprintf(stderr, "cannot write %s: %s\n", control_path, strerror(errno));
		exit(2);
	}
}

/* Returns the count of fn in the counters file, 0 when absent. */
static unsigned long
counter(const char *fn)
{
	char name[64];
	unsigned long n;
	unsigned long found = 0;
	FILE *f;

	if ((f = fopen(counters_path, "r")) == NULL)
		return 0;
	while (fscanf(f, "%63s %lu", name, &n) == 2) {
		if (strcmp(name, fn) == 0)
			found = n;
	}
	fclose(f);
	return found;
}

static int
setup_token(void)
{
	const char *tmpdir = getenv("TMPDIR");
	char conf[4200];
	char tokens[4200];
	char text[4400];
	char *init[] = {"softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
	                "--so-pin",      "12345678",     NULL};
	char *rsa[] = {"pkcs11-tool", "--module", SOFTHSM, "--keypairgen",  "--key-type",
	               "rsa:2048",    "--id",     "01",    "--label",       "k1",
	               "--login",     "--pin",    PIN,     "--token-label", LABEL,
	               NULL};
	char *ec[] = {"pkcs11-tool",
	              "--module",
	              SOFTHSM,
	              "--keypairgen",
	              "--key-type",
	              "EC:prime256v1",
	              "--id",
	              "02",
	              "--label",
	              "k2",
	              "--usage-derive",
	              "--login",
	              "--pin",
	              PIN,
	              "--token-label",
	              LABEL,
	              NULL};

	snprintf(dir, sizeof(dir), "%s/faultp11-test.XXXXXX", tmpdir != NULL ? tmpdir : "/tmp");
	if (mkdtemp(dir) == NULL)
		return -errno;
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	snprintf(control_path, sizeof(control_path), "%s/control", dir);
	snprintf(counters_path, sizeof(counters_path), "%s/counters", dir);
	snprintf(text, sizeof(text),
	         "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
	         tokens);
	if (mkdir(tokens, 0700) != 0 || write_file(conf, text) != 0)
		return -errno;
	setenv("SOFTHSM2_CONF", conf, 1);
	setenv("FAULTP11_CONTROL", control_path, 1);
	setenv("FAULTP11_COUNTERS", counters_path, 1);
	setenv("FAULTP11_PAD_PIN", PIN, 1);
	if (run(init) != 0 || run(rsa) != 0 || run(ec) != 0)
		return -1;
	return 0;
}

static bool
slot_listed(CK_SLOT_ID slot, CK_BBOOL token_present)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;

	if (p11->C_GetSlotList(token_present, slots, &n) != CKR_OK)
		return false;
	for (CK_ULONG i = 0; i < n; i++) {
		if (slots[i] == slot)
			return true;
	}
	return false;
}

static CK_RV
find_slot(CK_SLOT_ID *ret)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_RV rv;

	if ((rv = p11->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK)
		return rv;
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO info;

		if (p11->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
		    memcmp(info.label, LABEL, strlen(LABEL)) == 0 &&
		    info.label[strlen(LABEL)] == ' ') {
			*ret = slots[i];
			return CKR_OK;
		}
	}
	return CKR_TOKEN_NOT_PRESENT;
}

static CK_RV
open_session(CK_SLOT_ID slot, CK_SESSION_HANDLE *ret)
{
	return p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, ret);
}

static CK_RV
login(CK_SESSION_HANDLE s)
{
	return p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen(PIN));
}

static CK_RV
find_key(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_BYTE id, CK_OBJECT_HANDLE *ret)
{
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_ID, &id, 1},
	};
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = p11->C_FindObjectsInit(s, t, 2)) != CKR_OK)
		return rv;
	rv = p11->C_FindObjects(s, ret, 1, &n);
	p11->C_FindObjectsFinal(s);
	if (rv == CKR_OK && n != 1)
		rv = CKR_OBJECT_HANDLE_INVALID;
	return rv;
}

static CK_RV
sign_init(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS, NULL, 0};

	return p11->C_SignInit(s, &mech, key);
}

/* One signature the way most callers make it: a size query, then the real call. */
static CK_RV
sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	CK_BYTE data[] = "to be signed";
	CK_BYTE sig[512];
	CK_ULONG len = 0;
	CK_RV rv;

	if ((rv = sign_init(s, key)) != CKR_OK)
		return rv;
	if ((rv = p11->C_Sign(s, data, sizeof(data), NULL, &len)) != CKR_OK)
		return rv;
	len = sizeof(sig);
	return p11->C_Sign(s, data, sizeof(data), sig, &len);
}

static CK_STATE
session_state(CK_SESSION_HANDLE s)
{
	CK_SESSION_INFO info;

	if (p11->C_GetSessionInfo(s, &info) != CKR_OK)
		return (CK_STATE)-1;
	return info.state;
}

static CK_FLAGS
token_flags(CK_SLOT_ID slot)
{
	CK_TOKEN_INFO info;

	if (p11->C_GetTokenInfo(slot, &info) != CKR_OK)
		return 0;
	return info.flags;
}

static void
test_hide_and_show(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE old = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_SLOT_INFO sinfo;
	CK_TOKEN_INFO tinfo;
	CK_SLOT_ID ev = (CK_SLOT_ID)-1;
	CK_RV rv;

	rv = open_session(slot, &old);
	if (rv == CKR_OK)
		rv = login(old);
	if (rv == CKR_OK)
		rv = find_key(old, CKO_PRIVATE_KEY, 1, &key);
	if (rv == CKR_OK)
		rv = sign_init(old, key);
	check_rv("before hide: open, login, find k1, C_SignInit", rv, CKR_OK);

	control("hide " LABEL "\n");
	check(!slot_listed(slot, CK_TRUE), "hide: slot not in C_GetSlotList(CK_TRUE)");
	check(slot_listed(slot, CK_FALSE), "hide: slot still in C_GetSlotList(CK_FALSE)");
	rv = p11->C_GetSlotInfo(slot, &sinfo);
	check(rv == CKR_OK && !(sinfo.flags & CKF_TOKEN_PRESENT) &&
	          (sinfo.flags & CKF_REMOVABLE_DEVICE),
	      "hide: C_GetSlotInfo: no CKF_TOKEN_PRESENT, CKF_REMOVABLE_DEVICE (%s, flags 0x%lx)",
	      rv_str(rv), (unsigned long)sinfo.flags);
	check_rv("hide: C_GetTokenInfo", p11->C_GetTokenInfo(slot, &tinfo), CKR_TOKEN_NOT_PRESENT);
	check_rv("hide: C_OpenSession", open_session(slot, &s), CKR_TOKEN_NOT_PRESENT);
	{
		CK_BYTE data[] = "x";
		CK_BYTE sig[512];
		CK_ULONG len = sizeof(sig);

		check_rv("hide: C_Sign on a session opened before",
		         p11->C_Sign(old, data, 1, sig, &len), CKR_DEVICE_REMOVED);
	}
	check_rv("hide: C_GetSessionInfo on a session opened before",
	         p11->C_GetSessionInfo(old, &(CK_SESSION_INFO){0}), CKR_DEVICE_REMOVED);
	rv = p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL);
	check(rv == CKR_OK && ev == slot,
	      "hide: C_WaitForSlotEvent(DONT_BLOCK) reports the slot (%s)", rv_str(rv));
	check_rv("hide: second C_WaitForSlotEvent(DONT_BLOCK)",
	         p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);
	check_rv("hide: blocking C_WaitForSlotEvent", p11->C_WaitForSlotEvent(0, &ev, NULL),
	         CKR_FUNCTION_NOT_SUPPORTED);

	control("");
	ev = (CK_SLOT_ID)-1;
	rv = p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL);
	check(rv == CKR_OK && ev == slot,
	      "show: C_WaitForSlotEvent(DONT_BLOCK) reports the slot (%s)", rv_str(rv));
	check_rv("show: second C_WaitForSlotEvent(DONT_BLOCK)",
	         p11->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);
	check_rv("show: C_GetSessionInfo on a session opened before the removal",
	         p11->C_GetSessionInfo(old, &(CK_SESSION_INFO){0}), CKR_SESSION_HANDLE_INVALID);
	check_rv("show: C_CloseSession on it", p11->C_CloseSession(old),
	         CKR_SESSION_HANDLE_INVALID);
	check(slot_listed(slot, CK_TRUE), "show: slot back in C_GetSlotList(CK_TRUE)");
	check_rv("show: C_OpenSession", open_session(slot, &s), CKR_OK);
	check(session_state(s) == CKS_RW_PUBLIC_SESSION,
	      "show: the token was logged out (new session is CKS_RW_PUBLIC_SESSION)");
	rv = login(s);
	if (rv == CKR_OK)
		rv = find_key(s, CKO_PRIVATE_KEY, 1, &key);
	if (rv == CKR_OK)
		rv = sign_once(s, key);
	check_rv("show: login and sign on a new session", rv, CKR_OK);
	p11->C_CloseSession(s);
}

static void
test_fail_rules(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_BYTE data[] = "x";
	CK_BYTE sig[512];
	CK_ULONG len;
	CK_RV rv;

	rv = open_session(slot, &s);
	if (rv == CKR_OK)
		rv = login(s);
	if (rv == CKR_OK)
		rv = find_key(s, CKO_PRIVATE_KEY, 1, &key);
	check_rv("fail: open, login, find k1", rv, CKR_OK);

	control("fail C_Sign CKR_DEVICE_REMOVED once\n");
	check_rv("fail once: C_SignInit", sign_init(s, key), CKR_OK);
	len = sizeof(sig);
	check_rv("fail once: C_Sign after C_SignInit", p11->C_Sign(s, data, 1, sig, &len),
	         CKR_DEVICE_REMOVED);
	check_rv("fail once: next C_SignInit and C_Sign", sign_once(s, key), CKR_OK);

	control("fail C_SignFinal CKR_FUNCTION_FAILED once\n");
	rv = sign_init(s, key);
	if (rv == CKR_OK)
		rv = p11->C_SignUpdate(s, data, 1);
	check_rv("fail once: C_SignInit, C_SignUpdate", rv, CKR_OK);
	len = sizeof(sig);
	check_rv("fail once: C_SignFinal", p11->C_SignFinal(s, sig, &len), CKR_FUNCTION_FAILED);
	check_rv("fail once: a signature after the failed C_SignFinal", sign_once(s, key), CKR_OK);

	control("fail C_Sign CKR_FUNCTION_FAILED always\n");
	check_rv("fail always: first signature", sign_once(s, key), CKR_FUNCTION_FAILED);
	check_rv("fail always: second signature", sign_once(s, key), CKR_FUNCTION_FAILED);

	control("fail C_Sign CKR_FUNCTION_FAILED always token=other-card\n");
	check_rv("fail token=other-card: a signature on " LABEL, sign_once(s, key), CKR_OK);
	control("fail C_Sign CKR_FUNCTION_FAILED always token=" LABEL "\n");
	check_rv("fail token=" LABEL ": a signature on " LABEL, sign_once(s, key),
	         CKR_FUNCTION_FAILED);

	control("");
	check_rv("rules cleared: a signature", sign_once(s, key), CKR_OK);

	p11->C_Logout(s);
	control("fail C_Login CKR_PIN_LOCKED once\n");
	check_rv("fail once: C_Login", login(s), CKR_PIN_LOCKED);
	check_rv("fail once: second C_Login", login(s), CKR_OK);
	p11->C_Logout(s);
	control("fail C_Login 0xA4 always\n");
	check_rv("fail C_Login 0xA4 always: C_Login", login(s), CKR_PIN_LOCKED);
	check_rv("fail C_Login 0xA4 always: second C_Login", login(s), CKR_PIN_LOCKED);
	control("");
	p11->C_CloseSession(s);
}

static void
test_flags(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_FLAGS want = CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY;
	CK_FLAGS f;

	control("flags " LABEL " count-low final-try\n");
	f = token_flags(slot);
	check((f & want) == want && !(f & CKF_USER_PIN_LOCKED),
	      "flags count-low final-try: shown in C_GetTokenInfo (flags 0x%lx)", (unsigned long)f);

	control("flags " LABEL " locked\n");
	f = token_flags(slot);
	check(f & CKF_USER_PIN_LOCKED, "flags locked: shown in C_GetTokenInfo (flags 0x%lx)",
	      (unsigned long)f);
	check_rv("flags locked: C_OpenSession", open_session(slot, &s), CKR_OK);
	check_rv("flags locked: C_Login with the right PIN", login(s), CKR_PIN_LOCKED);

	control("flags " LABEL " protected-auth\n");
	f = token_flags(slot);
	check(f & CKF_PROTECTED_AUTHENTICATION_PATH,
	      "flags protected-auth: shown in C_GetTokenInfo (flags 0x%lx)", (unsigned long)f);
	check_rv("flags protected-auth: C_Login with a NULL PIN",
	         p11->C_Login(s, CKU_USER, NULL, 0), CKR_OK);
	check(session_state(s) == CKS_RW_USER_FUNCTIONS,
	      "flags protected-auth: logged in with FAULTP11_PAD_PIN");
	p11->C_Logout(s);
	check_rv("flags protected-auth: C_Login with the PIN given", login(s), CKR_OK);
	p11->C_Logout(s);
	unsetenv("FAULTP11_PAD_PIN");
	check_rv("flags protected-auth: C_Login with a NULL PIN and nobody at the keypad",
	         p11->C_Login(s, CKU_USER, NULL, 0), CKR_FUNCTION_CANCELED);
	setenv("FAULTP11_PAD_PIN", PIN, 1);

	control("");
	check(
	    !(token_flags(slot) & (want | CKF_USER_PIN_LOCKED | CKF_PROTECTED_AUTHENTICATION_PATH)),
	    "flags cleared: C_GetTokenInfo shows none of them");
	p11->C_CloseSession(s);
}

/* Derives an ECDH secret with k2 and its own public point: the math does not mind. */
static CK_RV
derive(CK_SESSION_HANDLE s)
{
	CK_OBJECT_HANDLE priv, pub, secret;
	CK_BYTE point[256];
	CK_ATTRIBUTE get = {CKA_EC_POINT, point, sizeof(point)};
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE type = CKK_GENERIC_SECRET;
	CK_ULONG value_len = 32;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE t[] = {
	    {CKA_CLASS, &cls, sizeof(cls)},
	    {CKA_KEY_TYPE, &type, sizeof(type)},
	    {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, 0, point};
	CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &params, sizeof(params)};
	CK_RV rv;

	if ((rv = find_key(s, CKO_PRIVATE_KEY, 2, &priv)) != CKR_OK ||
	    (rv = find_key(s, CKO_PUBLIC_KEY, 2, &pub)) != CKR_OK ||
	    (rv = p11->C_GetAttributeValue(s, pub, &get, 1)) != CKR_OK)
		return rv;
	params.ulPublicDataLen = get.ulValueLen;
	if ((rv = p11->C_DeriveKey(s, &mech, priv, t, 4, &secret)) != CKR_OK)
		return rv;
	return p11->C_DestroyObject(s, secret);
}

static CK_RV
encrypt_decrypt(CK_SESSION_HANDLE s)
{
	CK_MECHANISM mech = {CKM_RSA_PKCS, NULL, 0};
	CK_OBJECT_HANDLE priv, pub;
	CK_BYTE plain[] = "secret";
	CK_BYTE enc[512];
	CK_BYTE dec[512];
	CK_ULONG enc_len = sizeof(enc);
	CK_ULONG dec_len = 0;
	CK_RV rv;

	if ((rv = find_key(s, CKO_PRIVATE_KEY, 1, &priv)) != CKR_OK ||
	    (rv = find_key(s, CKO_PUBLIC_KEY, 1, &pub)) != CKR_OK ||
	    (rv = p11->C_EncryptInit(s, &mech, pub)) != CKR_OK ||
	    (rv = p11->C_Encrypt(s, plain, sizeof(plain), enc, &enc_len)) != CKR_OK ||
	    (rv = p11->C_DecryptInit(s, &mech, priv)) != CKR_OK ||
	    (rv = p11->C_Decrypt(s, enc, enc_len, NULL, &dec_len)) != CKR_OK)
		return rv;
	dec_len = sizeof(dec);
	if ((rv = p11->C_Decrypt(s, enc, enc_len, dec, &dec_len)) != CKR_OK)
		return rv;
	if (dec_len != sizeof(plain) || memcmp(dec, plain, dec_len) != 0)
		return CKR_GENERAL_ERROR;
	return CKR_OK;
}

static void
test_counters(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	CK_BYTE data[] = "x";
	CK_BYTE sig[512];
	CK_ULONG len = 0;
	CK_RV rv;

	control("reset-counters\n");
	rv = open_session(slot, &s);
	if (rv == CKR_OK)
		rv = login(s);
	if (rv == CKR_OK)
		rv = find_key(s, CKO_PRIVATE_KEY, 1, &key);
	check_rv("counters: open, login, find k1", rv, CKR_OK);
	check(counter("C_Sign") == 0 && counter("C_OpenSession") == 1 && counter("C_Login") == 1,
	      "counters: reset-counters zeroed them (C_Sign %lu, C_OpenSession %lu, C_Login %lu)",
	      counter("C_Sign"), counter("C_OpenSession"), counter("C_Login"));

	rv = sign_once(s, key);
	if (rv == CKR_OK)
		rv = sign_once(s, key);
	check_rv("counters: two signatures", rv, CKR_OK);
	check(counter("C_Sign") == 2, "counters: C_Sign 2, size queries not counted (got %lu)",
	      counter("C_Sign"));

	control("fail C_Sign CKR_FUNCTION_FAILED always\n");
	sign_once(s, key);
	control("");
	check(counter("C_Sign") == 2, "counters: a failed C_Sign is not counted (got %lu)",
	      counter("C_Sign"));

	rv = sign_init(s, key);
	if (rv == CKR_OK)
		rv = p11->C_SignUpdate(s, data, 1);
	if (rv == CKR_OK)
		rv = p11->C_SignUpdate(s, data, 1);
	if (rv == CKR_OK)
		rv = p11->C_SignFinal(s, NULL, &len);
	len = sizeof(sig);
	if (rv == CKR_OK)
		rv = p11->C_SignFinal(s, sig, &len);
	check_rv("counters: a multi-part signature", rv, CKR_OK);
	check(counter("C_SignUpdate") == 2 && counter("C_SignFinal") == 1,
	      "counters: C_SignUpdate 2, C_SignFinal 1 (got %lu, %lu)", counter("C_SignUpdate"),
	      counter("C_SignFinal"));

	check_rv("counters: RSA encrypt and decrypt", encrypt_decrypt(s), CKR_OK);
	check(counter("C_Decrypt") == 1, "counters: C_Decrypt 1 (got %lu)", counter("C_Decrypt"));
	check_rv("counters: ECDH derive", derive(s), CKR_OK);
	check(counter("C_DeriveKey") == 1, "counters: C_DeriveKey 1 (got %lu)",
	      counter("C_DeriveKey"));
	p11->C_Logout(s);
	check(counter("C_Logout") == 1, "counters: C_Logout 1 (got %lu)", counter("C_Logout"));
	p11->C_CloseSession(s);
}

struct signer {
	CK_SLOT_ID slot;
	CK_RV rv;
};

static void *
signer_thread(void *arg)
{
	struct signer *sg = arg;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key;

	if ((sg->rv = open_session(sg->slot, &s)) != CKR_OK)
		return NULL;
	/* The token is logged in by the main thread: login state is shared by all sessions. */
	if ((sg->rv = find_key(s, CKO_PRIVATE_KEY, 1, &key)) == CKR_OK) {
		for (int i = 0; i < SIGNS_PER_THREAD && sg->rv == CKR_OK; i++)
			sg->rv = sign_once(s, key);
	}
	p11->C_CloseSession(s);
	return NULL;
}

static void
test_threads(CK_SLOT_ID slot)
{
	struct signer sg[THREADS];
	pthread_t t[THREADS];
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	bool ok = true;
	CK_RV rv;

	control("reset-counters\n");
	rv = open_session(slot, &s);
	if (rv == CKR_OK)
		rv = login(s);
	check_rv("threads: login", rv, CKR_OK);
	for (int i = 0; i < THREADS; i++) {
		sg[i] = (struct signer){.slot = slot, .rv = CKR_OK};
		pthread_create(&t[i], NULL, signer_thread, &sg[i]);
	}
	/* New generations while the threads sign: rules that touch nothing they do. */
	for (int i = 0; i < 20; i++)
		control(i % 2 ? "flags " LABEL " count-low\n"
		              : "fail C_Sign CKR_FUNCTION_FAILED always token=other-card\n");
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		ok = ok && sg[i].rv == CKR_OK;
	}
	check(ok, "threads: %d threads signed %d times each", THREADS, SIGNS_PER_THREAD);
	check(counter("C_Sign") == THREADS * SIGNS_PER_THREAD, "threads: C_Sign %d (got %lu)",
	      THREADS * SIGNS_PER_THREAD, counter("C_Sign"));
	control("");
	p11->C_CloseSession(s);
}

struct puller {
	CK_SLOT_ID slot;
	atomic_uint signatures;
	atomic_bool done;
	CK_RV rv;
};

static void *
sign_until_error(void *arg)
{
	struct puller *p = arg;
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key;

	if ((p->rv = open_session(p->slot, &s)) == CKR_OK &&
	    (p->rv = find_key(s, CKO_PRIVATE_KEY, 1, &key)) == CKR_OK) {
		while ((p->rv = sign_once(s, key)) == CKR_OK)
			atomic_fetch_add(&p->signatures, 1);
	}
	atomic_store(&p->done, true);
	return NULL;
}

/*
 * The card pulled while another thread signs: most of the time that thread is inside
 * SoftHSM when the main thread applies the removal. That call must not crash SoftHSM and
 * the thread's next call must end as a reader's would, with CKR_DEVICE_REMOVED.
 */
static void
test_pull_while_signing(CK_SLOT_ID slot)
{
	unsigned int removed = 0;
	CK_RV other = CKR_OK;
	CK_INFO info;

	for (int i = 0; i < PULLS; i++) {
		struct puller p = {.slot = slot, .rv = CKR_OK};
		CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
		pthread_t t;

		if (open_session(slot, &s) != CKR_OK || login(s) != CKR_OK)
			break;
		atomic_init(&p.signatures, 0);
		atomic_init(&p.done, false);
		pthread_create(&t, NULL, sign_until_error, &p);
		/* Pull the card once the signer is at work, however slow the machine. */
		while (atomic_load(&p.signatures) == 0 && !atomic_load(&p.done))
			usleep(100);
		control("hide " LABEL "\n");
		p11->C_GetInfo(&info); /* this thread applies the removal */
		pthread_join(t, NULL);
		if (p.rv == CKR_DEVICE_REMOVED)
			removed++;
		else
			other = p.rv;
		control("");
		p11->C_CloseSession(s);
	}
	check(removed == PULLS, "pulled while signing: %u of %d signers got CKR_DEVICE_REMOVED%s%s",
	      removed, PULLS, other != CKR_OK ? ", one got " : "",
	      other != CKR_OK ? rv_str(other) : "");
}

struct keygen {
	CK_SESSION_HANDLE session;
	CK_RV rv;
};

static void *
generate_key_pair(void *arg)
{
	struct keygen *kg = arg;
	CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
	CK_ULONG bits = 2048;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE pub[] = {
	    {CKA_MODULUS_BITS, &bits, sizeof(bits)},
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_ATTRIBUTE priv[] = {
	    {CKA_TOKEN, &no, sizeof(no)},
	};
	CK_OBJECT_HANDLE pub_key, priv_key;

	kg->rv = p11->C_GenerateKeyPair(kg->session, &mech, pub, 2, priv, 1, &pub_key, &priv_key);
	return NULL;
}

/*
 * The card put back while a slow call still runs on a session of the pulled card: the
 * re-inserted card must still come back logged out, so the show waits for that call.
 */
static void
test_show_during_call(CK_SLOT_ID slot)
{
	struct keygen kg = {.rv = CKR_OK};
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_INFO info;
	pthread_t t;
	CK_RV rv;

	rv = open_session(slot, &kg.session);
	if (rv == CKR_OK)
		rv = login(kg.session);
	if (!check_rv("show during a call: open, login", rv, CKR_OK))
		return;
	pthread_create(&t, NULL, generate_key_pair, &kg);
	usleep(5000); /* RSA-2048 generation takes SoftHSM 50 ms or more */
	control("hide " LABEL "\n");
	p11->C_GetInfo(&info);
	control("");
	p11->C_GetInfo(&info);
	check_rv("show during a call: C_OpenSession", open_session(slot, &s), CKR_OK);
	check(session_state(s) == CKS_RW_PUBLIC_SESSION,
	      "show during a call: the token came back logged out");
	pthread_join(t, NULL);
	check(kg.rv == CKR_OK || kg.rv == CKR_DEVICE_REMOVED,
	      "show during a call: the call ended with CKR_OK or CKR_DEVICE_REMOVED (%s)",
	      rv_str(kg.rv));
	check_rv("show during a call: its session afterwards",
	         p11->C_GetSessionInfo(kg.session, &(CK_SESSION_INFO){0}),
	         CKR_SESSION_HANDLE_INVALID);
	p11->C_CloseSession(s);
}

static void
test_bad_control_line(CK_SLOT_ID slot)
{
	char log_path[4300];
	char text[4096] = "";
	const char *first;
	FILE *f;
	int saved;
	int fd;

	/* The module reports on stderr: catch it in a file for the length of the test. */
	snprintf(log_path, sizeof(log_path), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	if ((fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 || saved < 0) {
		check(false, "bad line: cannot catch stderr");
		return;
	}
	dup2(fd, 2);
	close(fd);
	control("frobnicate " LABEL "\nhide no-such-card\nfail C_Sign CKR_NOPE\n");
	check(slot_listed(slot, CK_TRUE), "bad line: the module still answers");
	check(slot_listed(slot, CK_TRUE), "bad line: and again");
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if ((f = fopen(log_path, "r")) != NULL) {
		size_t n = fread(text, 1, sizeof(text) - 1, f);

		text[n] = '\0';
		fclose(f);
	}
	first = strstr(text, "unknown command 'frobnicate'");
	check(first != NULL && strstr(first + 1, "unknown command") == NULL,
	      "bad line: reported once on stderr");
	check(strstr(text, "unknown return value 'CKR_NOPE'") != NULL,
	      "bad line: unknown CK_RV reported");
	control("");
}

static void
test_reinitialize(void)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_INFO info;

	check_rv("C_Finalize", p11->C_Finalize(NULL), CKR_OK);
	check_rv("after C_Finalize: C_GetInfo", p11->C_GetInfo(&info),
	         CKR_CRYPTOKI_NOT_INITIALIZED);
	control("fail C_Initialize CKR_DEVICE_ERROR once\n");
	check_rv("fail C_Initialize once: C_Initialize", p11->C_Initialize(&args),
	         CKR_DEVICE_ERROR);
	check_rv("fail C_Initialize once: second C_Initialize", p11->C_Initialize(&args), CKR_OK);
	check_rv("re-initialized: C_GetInfo", p11->C_GetInfo(&info), CKR_OK);
	control("");
}

int
main(int argc, char **argv)
{
	CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
	CK_C_GetFunctionList get_list;
	CK_SLOT_ID slot = 0;
	CK_SLOT_INFO sinfo;
	CK_INFO info;
	void *dl;
	CK_RV rv;

	if (argc != 2) {
		fprintf(stderr, "usage: %s MODULE\n", argv[0]);
		return 2;
	}
	if (setup_token() != 0) {
		fprintf(stderr, "cannot make a SoftHSM token in %s\n", dir);
		return 2;
	}
	if ((dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	get_list = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&p11) != CKR_OK) {
		fprintf(stderr, "%s: no C_GetFunctionList\n", argv[1]);
		return 2;
	}

	check_rv("C_GetInfo before C_Initialize", p11->C_GetInfo(&info),
	         CKR_CRYPTOKI_NOT_INITIALIZED);
	check_rv("C_Initialize(CKF_OS_LOCKING_OK)", p11->C_Initialize(&args), CKR_OK);
	rv = p11->C_GetInfo(&info);
	check(rv == CKR_OK && memcmp(info.manufacturerID, "Cardseal fault injector ", 24) == 0,
	      "C_GetInfo: manufacturerID \"Cardseal fault injector\" (%s)", rv_str(rv));
	if (!check_rv("find the token " LABEL, find_slot(&slot), CKR_OK))
		goto out;
	rv = p11->C_GetSlotInfo(slot, &sinfo);
	check(rv == CKR_OK && (sinfo.flags & CKF_REMOVABLE_DEVICE) &&
	          (sinfo.flags & CKF_TOKEN_PRESENT),
	      "C_GetSlotInfo: CKF_REMOVABLE_DEVICE and CKF_TOKEN_PRESENT (%s)", rv_str(rv));

	test_hide_and_show(slot);
	test_fail_rules(slot);
	test_flags(slot);
	test_counters(slot);
	test_threads(slot);
	test_pull_while_signing(slot);
	test_show_during_call(slot);
	test_bad_control_line(slot);
	test_reinitialize();
	check_rv("C_Finalize", p11->C_Finalize(NULL), CKR_OK);
out:
	printf("1..%u\n", n_checks);
	dlclose(dl);
	if (n_failed != 0) {
		fprintf(stderr, "%u of %u checks failed; token and files kept in %s\n", n_failed,
		        n_checks, dir);
		return 1;
	}
	{
		char *rm[] = {"rm", "-rf", dir, NULL};

		run(rm);
	}
	return 0;
}
