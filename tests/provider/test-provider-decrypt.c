/*
 * CMS decryption with token keys through the provider. `openssl cms -encrypt`
 * (a separate process, default provider, certificates only) makes the
 * messages: EnvelopedData AES-256-CBC and AuthEnvelopedData AES-256-GCM, to
 * RSA (PKCS#1 v1.5, OAEP) and EC (ECDH with the X9.63 KDF) recipients. The
 * plaintext must come back exactly, and the backend's counter proves the
 * token unwrapped the key.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/objects.h>

#include "fixture.h"
#include "tap.h"

static uint8_t plain[3000];
static char plain_path[PATH_MAX];

struct dec_case {
	const char *name;
	const char *args;       /* cipher and -keyopt options for openssl cms -encrypt */
	int padding;            /* RSA: what the backend must be asked for */
	int md_nid;             /* RSA-OAEP: its digest */
};

/* Encrypts plain to id's certificate with openssl; returns the parsed message or NULL. */
static CMS_ContentInfo *
encrypt_external(struct fixture *fx, const struct fx_id *id, const struct dec_case *c)
{
	char file[64], path[PATH_MAX];

	snprintf(file, sizeof(file), "%s.p7m", c->name);
	fx_path(fx, file, path, sizeof(path));
	if (fx_openssl(fx, "cms -encrypt -binary -in '%s' -outform DER -out '%s' %s",
	               plain_path, path, c->args) != 0)
		return NULL;
	return fx_read_cms_der(path);
}

static int
out_is_plain(BIO *out)
{
	char *data;
	long len = BIO_get_mem_data(out, &data);

	if (len != (long)sizeof(plain) || memcmp(data, plain, sizeof(plain)) != 0) {
		printf("#   decrypted %ld bytes, want %zu\n", len, sizeof(plain));
		return 0;
	}
	return 1;
}

/*
 * Decrypts with CMS_decrypt(cms, key, cert), or when set_first, the way
 * cardseald's streaming reader does: CMS_decrypt_set1_pkey_and_peer() and
 * then CMS_decrypt() without a key.
 */
static void
test_decrypt(struct fixture *fx, const struct fx_id *id, const struct dec_case *c, int is_ec,
             int set_first)
{
	unsigned before = is_ec ? fx->sb->derives : fx->sb->decrypts;
	unsigned after;
	CMS_ContentInfo *cms = encrypt_external(fx, id, c);
	BIO *out = BIO_new(BIO_s_mem());
	int ok = 0;

	CHECK(cms != NULL, "%s: openssl cms -encrypt made the message", c->name);
	if (cms != NULL && set_first)
		ok = CMS_decrypt_set1_pkey_and_peer(cms, id->token, id->cert, NULL) == 1 &&
		     CMS_decrypt(cms, NULL, NULL, NULL, out, CMS_BINARY) == 1;
	else if (cms != NULL)
		ok = CMS_decrypt(cms, id->token, id->cert, NULL, out, CMS_BINARY) == 1;
	CHECK(ok, "%s: CMS_decrypt with the token key", c->name);
	if (!ok)
		fx_print_errors();
	CHECK(ok && out_is_plain(out), "%s: plaintext intact", c->name);
	after = is_ec ? fx->sb->derives : fx->sb->decrypts;
	CHECK_EQ_INT(after, before + 1, "%s: the backend %s once", c->name,
	             is_ec ? "derived" : "unwrapped");
	if (!is_ec) {
		CHECK_EQ_INT(fx->sb->last_decrypt.padding, c->padding, "%s: padding asked for",
		             c->name);
		if (c->padding == CS_PAD_OAEP) {
			CHECK_EQ_INT(fx->sb->last_decrypt.md_nid, c->md_nid, "%s: OAEP digest",
			             c->name);
			CHECK_EQ_INT(fx->sb->last_decrypt.mgf1_nid, c->md_nid, "%s: MGF1 digest",
			             c->name);
		}
	}
	BIO_free(out);
	CMS_ContentInfo_free(cms);
}

/* Every padding, cipher and KDF variant against the two recipients. */
static void
run_all(struct fixture *fx, const struct fx_id *rsa, const struct fx_id *ec)
{
	char rsa_recip[PATH_MAX + 16], ec_recip[PATH_MAX + 16];
	char args[8][PATH_MAX + 128];
	size_t i;

	snprintf(rsa_recip, sizeof(rsa_recip), "-recip '%s'", rsa->cert_path);
	snprintf(ec_recip, sizeof(ec_recip), "-recip '%s'", ec->cert_path);
	snprintf(args[0], sizeof(args[0]), "-aes256 %s", rsa_recip);
	snprintf(args[1], sizeof(args[1]), "-aes-256-gcm %s", rsa_recip);
	snprintf(args[2], sizeof(args[2]),
	         "-aes256 %s -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256", rsa_recip);
	snprintf(args[3], sizeof(args[3]), "-aes-256-gcm %s -keyopt rsa_padding_mode:oaep",
	         rsa_recip);
	snprintf(args[4], sizeof(args[4]), "-aes256 %s", ec_recip);
	snprintf(args[5], sizeof(args[5]), "-aes-256-gcm %s", ec_recip);
	snprintf(args[6], sizeof(args[6]), "-aes256 %s -keyopt ecdh_cofactor_mode:1", ec_recip);
	snprintf(args[7], sizeof(args[7]), "-aes-256-gcm %s -keyopt ecdh_kdf_md:sha384",
	         ec_recip);

	const struct dec_case rsa_cases[] = {
		{ "rsa-pkcs1-cbc", args[0], CS_PAD_PKCS1, 0 },
		{ "rsa-pkcs1-gcm", args[1], CS_PAD_PKCS1, 0 },
		{ "rsa-oaep-sha256-cbc", args[2], CS_PAD_OAEP, NID_sha256 },
		{ "rsa-oaep-sha1-gcm", args[3], CS_PAD_OAEP, NID_sha1 },
	};
	const struct dec_case ec_cases[] = {
		{ "ecdh-cbc", args[4], 0, 0 },
		{ "ecdh-gcm", args[5], 0, 0 },
		{ "ecdh-cofactor-cbc", args[6], 0, 0 },
		{ "ecdh-sha384kdf-gcm", args[7], 0, 0 },
	};
	const struct dec_case rsa_set_first = { "rsa-set1-pkey-gcm", args[1], CS_PAD_PKCS1, 0 };
	const struct dec_case ec_set_first = { "ecdh-set1-pkey-gcm", args[5], 0, 0 };

	for (i = 0; i < sizeof(rsa_cases) / sizeof(rsa_cases[0]); i++)
		test_decrypt(fx, rsa, &rsa_cases[i], 0, 0);
	for (i = 0; i < sizeof(ec_cases) / sizeof(ec_cases[0]); i++)
		test_decrypt(fx, ec, &ec_cases[i], 1, 0);
	test_decrypt(fx, rsa, &rsa_set_first, 0, 1);
	test_decrypt(fx, ec, &ec_set_first, 1, 1);
}

int
main(void)
{
	struct fixture fx;
	struct fx_id rsa, ec;
	size_t i;
	int ready;

	memset(&rsa, 0, sizeof(rsa));
	memset(&ec, 0, sizeof(ec));
	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (uint8_t)(i * 7 + (i >> 8));
	ready = fx_init(&fx) == 0;
	CHECK(ready, "provider context with the software backend");
	ready = ready && fx_identity(&fx, &rsa, "rsa-enc", FX_RSA_ENC) == 0;
	ready = ready && fx_identity(&fx, &ec, "ec-enc", FX_EC_ENC) == 0;
	CHECK(ready, "RSA-2048 (keyEncipherment) and P-256 (keyAgreement) identities made");
	fx_path(&fx, "plain.bin", plain_path, sizeof(plain_path));
	ready = ready && fx_write(plain_path, plain, sizeof(plain)) == 0;
	if (ready)
		run_all(&fx, &rsa, &ec);
	fx_identity_free(&rsa);
	fx_identity_free(&ec);
	fx_done(&fx);
	return tap_done();
}
