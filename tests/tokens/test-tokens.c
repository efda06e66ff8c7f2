/*
 * tokens/ on fresh fixture tokens (a private copy per run): listing, URIs,
 * login with PIN callbacks (wrong, cancelled, cached, per-operation), sign,
 * decrypt with the raw-RSA OAEP fallback, and ECDH. Results are checked with
 * OpenSSL against the certificates' public keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "fixture.h"
#include "tap.h"
#include "tok.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

/* A scripted PIN callback: answers from a list and records what it was told. */
struct pin_script {
	const char *answers[8];     /* PIN text, or NULL to cancel */
	int n_answers;
	int calls;
	int saw_previous_wrong;
	int saw_context_specific;
};

static int
scripted_pin(void *arg, const struct tok_pin_prompt *prompt, struct cs_secret **ret_pin)
{
	struct pin_script *s = arg;
	const char *answer;

	*ret_pin = NULL;
	if (prompt->previous_wrong)
		s->saw_previous_wrong++;
	if (prompt->context_specific)
		s->saw_context_specific++;
	if (s->calls >= s->n_answers) {
		s->calls++;
		return CS_ERR_CANCELLED;
	}
	answer = s->answers[s->calls++];
	if (answer == NULL)
		return CS_ERR_CANCELLED;
	*ret_pin = cs_secret_from(answer, strlen(answer));
	return *ret_pin != NULL ? 0 : CS_ERR_NOMEM;
}

static struct tok_identity *
find_by_label(struct tok_identity *ids, size_t n, const char *label)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ids[i].label != NULL && strcmp(ids[i].label, label) == 0)
			return &ids[i];
	}
	return NULL;
}

static EVP_PKEY *
cert_pubkey(const struct tok_identity *id)
{
	const unsigned char *p = id->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)id->cert_len);
	EVP_PKEY *k = x != NULL ? X509_get_pubkey(x) : NULL;

	X509_free(x);
	return k;
}

static int
verify_sig(EVP_PKEY *pub, int pad, const uint8_t *digest, size_t dlen, const uint8_t *sig,
           size_t slen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
	         EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1;

	if (ok && pad != 0)
		ok = EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1 &&
		     (pad != RSA_PKCS1_PSS_PADDING ||
		      EVP_PKEY_CTX_set_rsa_pss_saltlen(c, RSA_PSS_SALTLEN_DIGEST) == 1);
	ok = ok && EVP_PKEY_verify(c, sig, slen, digest, dlen) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static size_t
rsa_encrypt(EVP_PKEY *pub, int pad, const EVP_MD *md, const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	size_t out_len = 1024;
	int ok = c != NULL && EVP_PKEY_encrypt_init(c) == 1 && EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1;

	if (ok && pad == RSA_PKCS1_OAEP_PADDING && md != NULL)
		ok = EVP_PKEY_CTX_set_rsa_oaep_md(c, md) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) == 1;
	ok = ok && EVP_PKEY_encrypt(c, out, &out_len, in, n) == 1;
	EVP_PKEY_CTX_free(c);
	return ok ? out_len : 0;
}

static const uint8_t digest[32] = "0123456789abcdef0123456789abcdef";

static void
test_listing(struct tok_ctx *ctx, struct tok_identity *ids, size_t n)
{
	struct tok_token_info *tokens;
	size_t n_tokens, i, present = 0;
	struct tok_identity *carol = find_by_label(ids, n, "carol-rsa");
	struct tok_identity found;

	CHECK(tok_list_tokens(ctx, &tokens, &n_tokens) == 0, "tokens listed");
	/* SoftHSM also offers one empty, uninitialised slot: count the cards. */
	for (i = 0; i < n_tokens; i++)
		present += tokens[i].present && strstr(tokens[i].label, "-card") != NULL;
	CHECK_EQ_INT(present, 3, "three fixture cards present");
	free(tokens);
	CHECK_EQ_INT(n, 8, "eight identities: alice 4, bob 2, carol 2");
	CHECK(carol != NULL && carol->local && carol->key_type == TOK_KEY_RSA,
	      "carol's RSA key reports CKA_LOCAL (generated on the token)");
	CHECK(carol != NULL && strncmp(carol->key_uri, "pkcs11:", 7) == 0 &&
	          strstr(carol->key_uri, "token=carol-card") != NULL &&
	          strstr(carol->key_uri, "type=private") != NULL,
	      "key URI names token and type: %s", carol != NULL ? carol->key_uri : "?");
	CHECK(carol != NULL && tok_find_identity(ctx, carol->key_uri, &found) == 0 &&
	          found.cert_len == carol->cert_len,
	      "identity found again by its URI");
	tok_identity_clear(&found);
	CHECK_EQ_INT(tok_find_identity(ctx, "pkcs11:token=carol-card;id=%77;type=private", &found),
	             CS_ERR_NOT_FOUND, "unknown id on a present token: not found");
	CHECK_EQ_INT(tok_find_identity(ctx, "pkcs11:token=nobody-card;id=%01", &found),
	             CS_ERR_NO_TOKEN, "unknown token: no token");
	CHECK_EQ_INT(tok_find_identity(ctx, "https://example.org/", &found), CS_ERR_BAD_FORMAT,
	             "a non-pkcs11 URI is refused as malformed");
}

static void
test_sign(struct tok_ctx *ctx, struct tok_identity *ids, size_t n)
{
	struct tok_identity *bob = find_by_label(ids, n, "bob-rsa");
	struct tok_identity *bob_ec = find_by_label(ids, n, "bob-ec");
	struct tok_identity *carol_ec = find_by_label(ids, n, "carol-ec");
	struct pin_script pins = { { "123456" }, 1, 0, 0, 0 };
	struct tok_sign_request req = { NULL, TOK_SIGN_RSA_PKCS1, NID_sha256, 0, 0, digest, 32 };
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig);
	EVP_PKEY *pub;
	int r;

	req.key_uri = bob->key_uri;
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && sig_len == 256, "RSA PKCS#1 v1.5 signature made (%s)", cs_strerror(r));
	pub = cert_pubkey(bob);
	CHECK(verify_sig(pub, RSA_PKCS1_PADDING, digest, 32, sig, sig_len),
	      "v1.5 signature verifies with bob's certificate");
	CHECK_EQ_INT(pins.calls, 1, "one PIN dialog for the login");

	req.scheme = TOK_SIGN_RSA_PSS;
	req.mgf1_nid = NID_sha256;
	req.salt_len = 32;
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && verify_sig(pub, RSA_PKCS1_PSS_PADDING, digest, 32, sig, sig_len),
	      "RSA-PSS signature verifies (%s)", cs_strerror(r));
	CHECK_EQ_INT(pins.calls, 1, "login state cached: no second dialog");
	EVP_PKEY_free(pub);

	req.scheme = TOK_SIGN_ECDSA;
	req.key_uri = bob_ec->key_uri;
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	pub = cert_pubkey(bob_ec);
	CHECK(r == 0 && verify_sig(pub, 0, digest, 32, sig, sig_len),
	      "ECDSA P-256 signature (DER) verifies (%s)", cs_strerror(r));
	EVP_PKEY_free(pub);

	pins = (struct pin_script){ { "123456" }, 1, 0, 0, 0 };
	req.key_uri = carol_ec->key_uri;
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	pub = cert_pubkey(carol_ec);
	CHECK(r == 0 && verify_sig(pub, 0, digest, 32, sig, sig_len),
	      "carol's token-generated EC key signs (%s)", cs_strerror(r));
	EVP_PKEY_free(pub);

	req.scheme = TOK_SIGN_ECDSA;
	req.key_uri = bob->key_uri;
	sig_len = sizeof(sig);
	CHECK_EQ_INT(tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len), CS_ERR_MECHANISM,
	             "ECDSA with an RSA key: unsupported mechanism");
}

/*
 * SoftHSM keeps one login state per token for the whole process, shared by
 * every context: the main context logs out first so these start logged out.
 */
static void
test_pins(struct tok_ctx *main_ctx, struct tok_identity *ids, size_t n)
{
	struct tok_identity *alice = find_by_label(ids, n, "alice-sign-rsa");
	struct tok_sign_request req = { alice->key_uri, TOK_SIGN_RSA_PKCS1, NID_sha256, 0, 0,
		                        digest, 32 };
	struct pin_script pins = { { "123456", "123456" }, 2, 0, 0, 0 };
	struct tok_ctx *ctx;
	uint8_t sig[1024];
	size_t sig_len = sizeof(sig);
	EVP_PKEY *pub = cert_pubkey(alice);
	int r;

	tok_logout_all(main_ctx);
	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "second context");
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && verify_sig(pub, RSA_PKCS1_PADDING, digest, 32, sig, sig_len),
	      "always-authenticate key signs (%s)", cs_strerror(r));
	CHECK(pins.calls == 2 && pins.saw_context_specific == 1,
	      "two dialogs: the login and the per-operation login");
	pins = (struct pin_script){ { "123456" }, 1, 0, 0, 0 };
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && pins.calls == 1 && pins.saw_context_specific == 1,
	      "logged in already, yet the per-operation PIN is asked again (never cached)");
	tok_ctx_free(ctx);

	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "third context");
	pins = (struct pin_script){ { "999999", "123456", "123456" }, 3, 0, 0, 0 };
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && pins.calls == 3 && pins.saw_previous_wrong == 1,
	      "wrong PIN: the next dialog says so, the user's new PIN is used (%s)",
	      cs_strerror(r));
	tok_logout_all(ctx);
	pins = (struct pin_script){ { "000000", "111111", "222222", "123456" }, 4, 0, 0, 0 };
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == CS_ERR_PIN_INCORRECT && pins.calls == 3,
	      "three wrong PINs: the operation stops after three dialogs, never a fourth try");
	pins = (struct pin_script){ { NULL }, 1, 0, 0, 0 };
	sig_len = sizeof(sig);
	CHECK_EQ_INT(tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len), CS_ERR_CANCELLED,
	             "a cancelled dialog cancels the operation");
	tok_ctx_free(ctx);

	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "context with no login cache");
	tok_set_login_ttl(ctx, 0);
	req.key_uri = find_by_label(ids, n, "bob-rsa")->key_uri;
	pins = (struct pin_script){ { "123456", "123456" }, 2, 0, 0, 0 };
	sig_len = sizeof(sig);
	(void)tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	sig_len = sizeof(sig);
	r = tok_sign(ctx, &req, scripted_pin, &pins, sig, &sig_len);
	CHECK(r == 0 && pins.calls == 2, "cache-ttl 0: every operation asks for the PIN");
	tok_ctx_free(ctx);
	EVP_PKEY_free(pub);
}

static void
test_decrypt(struct tok_ctx *ctx, struct tok_identity *ids, size_t n)
{
	struct tok_identity *alice = find_by_label(ids, n, "alice-enc-rsa");
	struct tok_identity *carol = find_by_label(ids, n, "carol-rsa");
	struct pin_script pins = { { "123456" }, 1, 0, 0, 0 };
	static const uint8_t key[32] = "content-key-content-key-content!";
	struct tok_decrypt_request req = { alice->key_uri, TOK_PAD_PKCS1, 0, 0, NULL, 0, NULL, 0 };
	uint8_t ct[1024];
	struct cs_secret *out = NULL;
	EVP_PKEY *pub = cert_pubkey(alice);
	int r;

	req.in = ct;
	req.in_len = rsa_encrypt(pub, RSA_PKCS1_PADDING, NULL, key, 32, ct);
	r = tok_decrypt(ctx, &req, scripted_pin, &pins, &out);
	CHECK(r == 0 && out != NULL && cs_secret_equal(out, key, 32),
	      "RSA v1.5 unwrap returns the content key (%s)", cs_strerror(r));
	cs_secret_free(out);

	req.padding = TOK_PAD_OAEP;
	req.md_nid = NID_sha1;
	req.mgf1_nid = NID_sha1;
	req.in_len = rsa_encrypt(pub, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), key, 32, ct);
	r = tok_decrypt(ctx, &req, scripted_pin, &pins, &out);
	CHECK(r == 0 && cs_secret_equal(out, key, 32), "OAEP SHA-1 on the token (%s)",
	      cs_strerror(r));
	cs_secret_free(out);

	req.md_nid = NID_sha256;
	req.mgf1_nid = NID_sha256;
	req.in_len = rsa_encrypt(pub, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), key, 32, ct);
	r = tok_decrypt(ctx, &req, scripted_pin, &pins, &out);
	CHECK(r == 0 && cs_secret_equal(out, key, 32),
	      "OAEP SHA-256 through raw RSA + constant-time decoding (%s)", cs_strerror(r));
	cs_secret_free(out);
	out = NULL;

	{
		/* OAEP with a label: SoftHSM takes none, so raw RSA plus decoding here. */
		static const uint8_t label[8] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };
		EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
		size_t ct_len = sizeof(ct);
		uint8_t *l = OPENSSL_memdup(label, sizeof(label));

		req.md_nid = NID_sha1;
		req.mgf1_nid = NID_sha1;
		req.label = label;
		req.label_len = sizeof(label);
		if (c != NULL && EVP_PKEY_encrypt_init(c) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		    EVP_PKEY_CTX_set0_rsa_oaep_label(c, l, sizeof(label)) == 1 &&
		    EVP_PKEY_encrypt(c, ct, &ct_len, key, 32) == 1)
			req.in_len = ct_len;
		EVP_PKEY_CTX_free(c);
		r = tok_decrypt(ctx, &req, scripted_pin, &pins, &out);
		CHECK(r == 0 && cs_secret_equal(out, key, 32), "OAEP SHA-1 with a label (%s, rv 0x%lx)",
		      cs_strerror(r), (unsigned long)tok_last_rv());
		cs_secret_free(out);
		out = NULL;
		req.label = NULL;
		req.label_len = 0;
		req.md_nid = NID_sha256;
		req.mgf1_nid = NID_sha256;
		req.in_len = rsa_encrypt(pub, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), key, 32, ct);
	}
	ct[10] ^= 1;
	CHECK_EQ_INT(tok_decrypt(ctx, &req, scripted_pin, &pins, &out), CS_ERR_DECRYPT,
	             "a corrupted OAEP ciphertext: one decryption error");
	CHECK(out == NULL, "and no output");
	req.padding = TOK_PAD_PKCS1;
	CHECK_EQ_INT(tok_decrypt(ctx, &req, scripted_pin, &pins, &out), CS_ERR_DECRYPT,
	             "a corrupted v1.5 ciphertext: the same decryption error");
	EVP_PKEY_free(pub);

	pub = cert_pubkey(carol);
	pins = (struct pin_script){ { "123456" }, 1, 0, 0, 0 };   /* carol's card: its own login */
	req.key_uri = carol->key_uri;
	req.in_len = rsa_encrypt(pub, RSA_PKCS1_PADDING, NULL, key, 32, ct);
	r = tok_decrypt(ctx, &req, scripted_pin, &pins, &out);
	CHECK(r == 0 && cs_secret_equal(out, key, 32), "carol's token-generated key decrypts (%s)",
	      cs_strerror(r));
	cs_secret_free(out);
	EVP_PKEY_free(pub);
}

static void
test_derive(struct tok_ctx *ctx, struct tok_identity *ids, size_t n)
{
	struct tok_identity *bob = find_by_label(ids, n, "bob-ec");
	struct pin_script pins = { { "123456" }, 1, 0, 0, 0 };
	EVP_PKEY *eph = EVP_EC_gen("P-256"), *pub = cert_pubkey(bob);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(eph, NULL);
	uint8_t point[65], expect[32];
	size_t point_len = 0, expect_len = sizeof(expect);
	struct cs_secret *out = NULL;
	int r;

	CHECK(EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
	                                      sizeof(point), &point_len) == 1 &&
	          EVP_PKEY_derive_init(c) == 1 && EVP_PKEY_derive_set_peer(c, pub) == 1 &&
	          EVP_PKEY_derive(c, expect, &expect_len) == 1,
	      "software side of ECDH");
	r = tok_derive(ctx, bob->key_uri, point, point_len, scripted_pin, &pins, &out);
	CHECK(r == 0 && out != NULL && cs_secret_equal(out, expect, expect_len),
	      "ECDH on the token equals the software result (%s)", cs_strerror(r));
	cs_secret_free(out);
	out = NULL;
	point[64] ^= 1;
	CHECK_EQ_INT(tok_derive(ctx, bob->key_uri, point, point_len, scripted_pin, &pins, &out),
	             CS_ERR_BAD_FORMAT, "a peer point off the curve is refused before the token");
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(pub);
}

/* The registered modules (p11-kit's configuration): Debian registers SoftHSM, OpenSC and the trust module. */
static void
test_registered_modules(void)
{
	struct tok_ctx *ctx = NULL;
	struct tok_identity *ids = NULL;
	size_t n = 0;
	int r;

	r = tok_ctx_new("p11-kit", &ctx);
	CHECK(r == 0, "the registered modules load (%s)", cs_strerror(r));
	if (r != 0)
		return;
	CHECK(tok_list_identities(ctx, &ids, &n) == 0 && find_by_label(ids, n, "bob-rsa") != NULL,
	      "bob's card is found through the registered SoftHSM module");
	tok_identities_free(ids, n);
	tok_ctx_free(ctx);
}

int
main(void)
{
	struct fixture fx;
	struct tok_ctx *ctx = NULL;
	struct tok_identity *ids = NULL;
	size_t n = 0;

	if (fixture_setup(&fx) != 0)
		return 99;
	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "SoftHSM loaded through p11-kit");
	CHECK(tok_list_identities(ctx, &ids, &n) == 0, "identities listed");
	test_listing(ctx, ids, n);
	if (find_by_label(ids, n, "bob-rsa") != NULL && find_by_label(ids, n, "alice-enc-rsa")) {
		test_sign(ctx, ids, n);
		test_pins(ctx, ids, n);
		test_decrypt(ctx, ids, n);
		test_derive(ctx, ids, n);
	}
	tok_identities_free(ids, n);
	tok_ctx_free(ctx);
	test_registered_modules();
	fixture_teardown(&fx);
	return tap_done();
}
