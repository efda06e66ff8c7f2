/*
 * The token's raw signing rate: one process, one session, logged in once,
 * then C_SignInit + C_Sign (CKM_RSA_PKCS over a SHA-256 DigestInfo, what an
 * RSA PKCS#1 v1.5 S/MIME signature asks of the card) in a loop for a fixed
 * time. The ceiling for any signer that goes through the same module.
 *
 * Usage: raw-sign MODULE TOKEN_LABEL PIN KEY_ID_HEX SECONDS
 * Prints one line: "<signatures> <seconds> <signatures per second>".
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "raw-sign: %s: CK_RV 0x%lx\n", what, (unsigned long)rv);
	return 1;
}

static size_t
unhex(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	unsigned int v;

	while (s[0] != '\0' && s[1] != '\0' && n < cap && sscanf(s, "%2x", &v) == 1) {
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return n;
}

int
main(int argc, char **argv)
{
	/* DigestInfo for SHA-256 (RFC 8017, 9.2 note 1) and a fixed 32-byte hash. */
	static const unsigned char prefix[19] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	};
	CK_C_GetFunctionList get_list;
	CK_FUNCTION_LIST_PTR p11;
	CK_SLOT_ID slots[64];
	CK_ULONG n_slots = 64, found = 0, i;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE key;
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	CK_TOKEN_INFO info;
	CK_ATTRIBUTE tmpl[2];
	CK_RV rv;
	unsigned char id[64], digest_info[51], sig[1024];
	char label[33];
	size_t id_len;
	double seconds, start, elapsed;
	unsigned long count = 0;
	void *lib;

	if (argc != 6) {
		fprintf(stderr, "usage: raw-sign MODULE TOKEN_LABEL PIN KEY_ID_HEX SECONDS\n");
		return 2;
	}
	seconds = atof(argv[5]);
	id_len = unhex(argv[4], id, sizeof(id));
	memcpy(digest_info, prefix, sizeof(prefix));
	for (i = 0; i < 32; i++)
		digest_info[sizeof(prefix) + i] = (unsigned char)(i * 7 + 1);

	if ((lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL) {
		fprintf(stderr, "raw-sign: %s\n", dlerror());
		return 1;
	}
	get_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	if (get_list == NULL || get_list(&p11) != CKR_OK)
		return fail("C_GetFunctionList", CKR_GENERAL_ERROR);
	if ((rv = p11->C_Initialize(NULL)) != CKR_OK)
		return fail("C_Initialize", rv);
	if ((rv = p11->C_GetSlotList(CK_TRUE, slots, &n_slots)) != CKR_OK)
		return fail("C_GetSlotList", rv);
	for (i = 0; i < n_slots; i++) {
		size_t len;

		if (p11->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		memcpy(label, info.label, 32);
		label[32] = '\0';
		for (len = 32; len > 0 && label[len - 1] == ' '; len--)
			label[len - 1] = '\0';
		if (strcmp(label, argv[2]) == 0)
			break;
	}
	if (i == n_slots) {
		fprintf(stderr, "raw-sign: no token labelled \"%s\"\n", argv[2]);
		return 1;
	}
	if ((rv = p11->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &session)) != CKR_OK)
		return fail("C_OpenSession", rv);
	if ((rv = p11->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)argv[3], strlen(argv[3]))) != CKR_OK)
		return fail("C_Login", rv);
	tmpl[0].type = CKA_CLASS;
	tmpl[0].pValue = &klass;
	tmpl[0].ulValueLen = sizeof(klass);
	tmpl[1].type = CKA_ID;
	tmpl[1].pValue = id;
	tmpl[1].ulValueLen = id_len;
	if ((rv = p11->C_FindObjectsInit(session, tmpl, 2)) != CKR_OK ||
	    (rv = p11->C_FindObjects(session, &key, 1, &found)) != CKR_OK ||
	    (rv = p11->C_FindObjectsFinal(session)) != CKR_OK)
		return fail("C_FindObjects", rv);
	if (found != 1) {
		fprintf(stderr, "raw-sign: no private key with id %s\n", argv[4]);
		return 1;
	}

	start = now();
	do {
		CK_ULONG sig_len = sizeof(sig);

		if ((rv = p11->C_SignInit(session, &mech, key)) != CKR_OK)
			return fail("C_SignInit", rv);
		if ((rv = p11->C_Sign(session, digest_info, sizeof(digest_info), sig, &sig_len)) != CKR_OK)
			return fail("C_Sign", rv);
		count++;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%lu %.3f %.1f\n", count, elapsed, (double)count / elapsed);

	(void)p11->C_Logout(session);
	(void)p11->C_CloseSession(session);
	(void)p11->C_Finalize(NULL);
	return 0;
}
