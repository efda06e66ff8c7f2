/*
 * The provider beside everything else in the process: software keys still
 * sign and decrypt (in the default context and in the provider's own),
 * token keys never give out private material, keys answer the params
 * OpenSSL asks, direct EVP calls and context copies work, refused parameters
 * are refused, and a failing backend makes CMS fail cleanly.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "cs_error.h"
#include "fixture.h"
#include "tap.h"

static const char content[] = "Content-Type: text/plain\r\n\r\nSoftware and tokens side by side.\r\n";
static char content_path[PATH_MAX];

struct ids {
	struct fx_id rsa_sign, rsa_enc, ec_sign, ec_enc;
};

/* Signs content with pkey (in libctx, NULL for the default) and has openssl verify it. */
static int
sign_and_verify(struct fixture *fx, const struct fx_id *id, EVP_PKEY *pkey, OSSL_LIB_CTX *libctx,
                const char *name)
{
	char file[64], der[PATH_MAX], out[PATH_MAX];
	BIO *in = BIO_new_mem_buf(content, -1);
	CMS_ContentInfo *cms;
	int ok;

	cms = CMS_sign_ex(id->cert, pkey, NULL, in, CMS_BINARY | CMS_DETACHED, libctx, NULL);
	if (cms == NULL)
		fx_print_errors();
	snprintf(file, sizeof(file), "%s.p7s", name);
	fx_path(fx, file, der, sizeof(der));
	snprintf(file, sizeof(file), "%s.out", name);
	fx_path(fx, file, out, sizeof(out));
	ok = cms != NULL && fx_write_cms_der(der, cms) == 0 &&
	     fx_openssl(fx, "cms -verify -noverify -binary -inform DER -in '%s' -content '%s'"
	                    " -out '%s'", der, content_path, out) == 0 &&
	     fx_file_equals(out, content, strlen(content));
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	return ok;
}

/* openssl encrypts content to id's certificate; pkey (in libctx) must decrypt it. */
static int
encrypt_and_decrypt(struct fixture *fx, const struct fx_id *id, EVP_PKEY *pkey,
                    OSSL_LIB_CTX *libctx, const char *args, const char *name)
{
	char file[64], der[PATH_MAX];
	CMS_ContentInfo *cms = NULL;
	BIO *in = NULL, *out = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int ok = 0;

	snprintf(file, sizeof(file), "%s.p7m", name);
	fx_path(fx, file, der, sizeof(der));
	/* -keyopt applies to the -recip before it. */
	if (fx_openssl(fx, "cms -encrypt -binary -in '%s' -outform DER -out '%s' -recip '%s' %s",
	               content_path, der, id->cert_path, args) != 0)
		goto out;
	if ((in = BIO_new_file(der, "rb")) == NULL ||
	    (cms = d2i_CMS_bio(in, NULL)) == NULL)
		goto out;
	if (libctx != NULL) {
		/* Parsed in the default context; rebuild it in the wanted one. */
		CMS_ContentInfo_free(cms);
		cms = CMS_ContentInfo_new_ex(libctx, NULL);
		(void)BIO_reset(in);
		if (cms == NULL || d2i_CMS_bio(in, &cms) == NULL)
			goto out;
	}
	if (CMS_decrypt(cms, pkey, id->cert, NULL, out, CMS_BINARY) != 1) {
		fx_print_errors();
		goto out;
	}
	len = BIO_get_mem_data(out, &data);
	ok = len == (long)strlen(content) && memcmp(data, content, (size_t)len) == 0;
out:
	CMS_ContentInfo_free(cms);
	BIO_free(in);
	BIO_free(out);
	return ok;
}

static void
test_software_keys(struct fixture *fx, const struct ids *ids)
{
	struct soft_backend *sb = fx->sb;
	unsigned signs = sb->signs, decrypts = sb->decrypts, derives = sb->derives;

	CHECK(sign_and_verify(fx, &ids->rsa_sign, ids->rsa_sign.soft, NULL, "soft-rsa"),
	      "software RSA key signs in the default context");
	CHECK(sign_and_verify(fx, &ids->ec_sign, ids->ec_sign.soft, NULL, "soft-ec"),
	      "software EC key signs in the default context");
	CHECK(sign_and_verify(fx, &ids->rsa_sign, ids->rsa_sign.soft, fx->libctx, "soft-rsa-ctx"),
	      "software RSA key signs with CMS in the provider's own context");
	CHECK(encrypt_and_decrypt(fx, &ids->rsa_enc, ids->rsa_enc.soft, NULL,
	                          "-aes256 -keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256",
	                          "soft-oaep"),
	      "software RSA key decrypts OAEP");
	CHECK(encrypt_and_decrypt(fx, &ids->ec_enc, ids->ec_enc.soft, NULL, "-aes-256-gcm",
	                          "soft-ecdh"),
	      "software EC key decrypts ECDH AuthEnvelopedData");
	CHECK(encrypt_and_decrypt(fx, &ids->rsa_enc, ids->rsa_enc.soft, fx->libctx, "-aes256",
	                          "soft-rsa-ctx"),
	      "software RSA key decrypts with CMS in the provider's own context");
	CHECK(sb->signs == signs && sb->decrypts == decrypts && sb->derives == derives,
	      "software keys never reached the backend");
	/* And the token keys still go to the token when CMS runs in the private context. */
	CHECK(sign_and_verify(fx, &ids->ec_sign, ids->ec_sign.token, fx->libctx, "token-ec-ctx") &&
	              sb->signs == signs + 1,
	      "token key signs with CMS in the provider's own context, through the backend");
	CHECK(encrypt_and_decrypt(fx, &ids->ec_enc, ids->ec_enc.token, fx->libctx, "-aes256",
	                          "token-ecdh-ctx") && sb->derives == derives + 1,
	      "token key decrypts with CMS in the provider's own context, through the backend");
}

static int
params_have(const OSSL_PARAM *params, const char *key)
{
	return params != NULL && OSSL_PARAM_locate_const(params, key) != NULL;
}

static void
test_no_private_export(struct fixture *fx, const struct ids *ids)
{
	EVP_PKEY *rsa = ids->rsa_sign.token, *ec = ids->ec_sign.token;
	OSSL_PARAM *params = NULL;
	unsigned char *der = NULL;
	BIGNUM *d = NULL;
	BIO *mem = BIO_new(BIO_s_mem());
	int r;

	r = EVP_PKEY_todata(rsa, EVP_PKEY_KEYPAIR, &params);
	CHECK(r != 1 || (!params_have(params, OSSL_PKEY_PARAM_RSA_D) &&
	                 !params_have(params, OSSL_PKEY_PARAM_RSA_FACTOR1)),
	      "RSA token key: todata(KEYPAIR) gives no private params");
	OSSL_PARAM_free(params);
	params = NULL;
	r = EVP_PKEY_todata(ec, EVP_PKEY_KEYPAIR, &params);
	CHECK(r != 1 || !params_have(params, OSSL_PKEY_PARAM_PRIV_KEY),
	      "EC token key: todata(KEYPAIR) gives no private params");
	OSSL_PARAM_free(params);
	params = NULL;
	CHECK(EVP_PKEY_todata(rsa, EVP_PKEY_PUBLIC_KEY, &params) == 1 &&
	              params_have(params, OSSL_PKEY_PARAM_RSA_N),
	      "RSA token key: todata(PUBLIC_KEY) gives the modulus");
	OSSL_PARAM_free(params);
	CHECK(i2d_PrivateKey(rsa, &der) <= 0 && der == NULL, "RSA token key: i2d_PrivateKey fails");
	CHECK(i2d_PrivateKey(ec, &der) <= 0 && der == NULL, "EC token key: i2d_PrivateKey fails");
	CHECK(PEM_write_bio_PrivateKey(mem, rsa, NULL, NULL, 0, NULL, NULL) != 1 &&
	              BIO_ctrl_pending(mem) == 0,
	      "RSA token key: PEM_write_bio_PrivateKey writes nothing");
	CHECK(EVP_PKEY_get_bn_param(rsa, OSSL_PKEY_PARAM_RSA_D, &d) != 1 && d == NULL,
	      "RSA token key: no 'd' param");
	BN_free(d);
	BIO_free(mem);
	ERR_clear_error();
}

/* Our import takes public keys (peers, certificates) and refuses software private keys. */
static void
test_import(struct fixture *fx, const struct ids *ids)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(fx->libctx, "RSA", "provider=cardseal");
	EVP_PKEY *pkey = NULL;

	CHECK(ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1, "our RSA keymgmt fetched");
	CHECK(EVP_PKEY_todata(ids->rsa_sign.soft, EVP_PKEY_KEYPAIR, &params) == 1 &&
	              EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params) != 1 && pkey == NULL,
	      "import of a software private key refused");
	OSSL_PARAM_free(params);
	params = NULL;
	CHECK(EVP_PKEY_todata(ids->rsa_sign.soft, EVP_PKEY_PUBLIC_KEY, &params) == 1 &&
	              EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
	              EVP_PKEY_eq(pkey, X509_get0_pubkey(ids->rsa_sign.cert)) == 1,
	      "import of a public key accepted; it matches the certificate");
	OSSL_PARAM_free(params);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

/* Public-key encoders get the public half only, so they work on token keys. */
static int
public_der_equal(EVP_PKEY *a, EVP_PKEY *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la = i2d_PUBKEY(a, &da), lb = i2d_PUBKEY(b, &db);
	int eq = la > 0 && la == lb && memcmp(da, db, (size_t)la) == 0;

	OPENSSL_free(da);
	OPENSSL_free(db);
	return eq;
}

static void
test_key_params(struct fixture *fx, const struct ids *ids)
{
	EVP_PKEY *rsa = ids->rsa_sign.token, *ec = ids->ec_sign.token;
	char buf[256];
	size_t len;

	CHECK(EVP_PKEY_is_a(rsa, "RSA") && EVP_PKEY_get_id(rsa) == EVP_PKEY_RSA,
	      "RSA token key is an RSA key, also by legacy id");
	CHECK(EVP_PKEY_is_a(ec, "EC") && EVP_PKEY_get_id(ec) == EVP_PKEY_EC,
	      "EC token key is an EC key, also by legacy id");
	CHECK_EQ_INT(EVP_PKEY_get_bits(rsa), 2048, "RSA bits");
	CHECK_EQ_INT(EVP_PKEY_get_size(rsa), 256, "RSA size");
	CHECK_EQ_INT(EVP_PKEY_get_security_bits(rsa), 112, "RSA security bits");
	CHECK_EQ_INT(EVP_PKEY_get_bits(ec), 256, "EC bits");
	CHECK_EQ_INT(EVP_PKEY_get_size(ec), EVP_PKEY_get_size(ids->ec_sign.soft),
	             "EC size equals the software key's (largest ECDSA signature)");
	CHECK(EVP_PKEY_get_default_digest_name(rsa, buf, sizeof(buf)) == 1 &&
	              strcmp(buf, "SHA256") == 0,
	      "default digest SHA256, not mandatory");
	CHECK(EVP_PKEY_get_utf8_string_param(ec, OSSL_PKEY_PARAM_GROUP_NAME, buf, sizeof(buf),
	                                     NULL) == 1 && strcmp(buf, "prime256v1") == 0,
	      "EC group name");
	CHECK(EVP_PKEY_get_octet_string_param(ec, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0,
	                                      &len) == 1 && len == 65,
	      "EC encoded public key, uncompressed");
	CHECK(EVP_PKEY_get_utf8_string_param(rsa, CS_PROVIDER_PARAM_KEY_URI, buf, sizeof(buf),
	                                     NULL) == 1 && strcmp(buf, ids->rsa_sign.uri) == 0,
	      "key URI param");
	CHECK(EVP_PKEY_eq(rsa, X509_get0_pubkey(ids->rsa_sign.cert)) == 1 &&
	              EVP_PKEY_eq(X509_get0_pubkey(ids->rsa_sign.cert), rsa) == 1,
	      "token key matches its certificate, both ways");
	CHECK(EVP_PKEY_eq(rsa, X509_get0_pubkey(ids->rsa_enc.cert)) != 1 &&
	              EVP_PKEY_eq(ec, X509_get0_pubkey(ids->ec_enc.cert)) != 1,
	      "token key does not match another certificate");
	CHECK(public_der_equal(rsa, X509_get0_pubkey(ids->rsa_sign.cert)) &&
	              public_der_equal(ec, X509_get0_pubkey(ids->ec_sign.cert)),
	      "token keys encode their public half (i2d_PUBKEY) like their certificates");
	CHECK(X509_check_private_key(ids->ec_sign.cert, ec) == 1,
	      "X509_check_private_key accepts the pair");
	ERR_clear_error();
}

/* The algorithm-id of a SHA-256 digest-sign context on key (PSS when pss). */
static int
algid(EVP_PKEY *key, int pss, unsigned char *buf, size_t *len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	OSSL_PARAM params[2];
	int ok;

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_SIGNATURE_PARAM_ALGORITHM_ID, buf, *len);
	params[1] = OSSL_PARAM_construct_end();
	ok = mctx != NULL &&
	     EVP_DigestSignInit_ex(mctx, &pctx, "SHA256", NULL, NULL, key, NULL) == 1 &&
	     (!pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	               EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
	     EVP_PKEY_CTX_get_params(pctx, params) == 1 && OSSL_PARAM_modified(params);
	*len = params[0].return_size;
	EVP_MD_CTX_free(mctx);
	return ok;
}

static void
print_hex(const char *label, const unsigned char *p, size_t n)
{
	size_t i;

	printf("#   %s: ", label);
	for (i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\n");
}

/* Our AlgorithmIdentifier DER is byte for byte OpenSSL's own for the same settings. */
static int
algid_equal(EVP_PKEY *token, EVP_PKEY *soft, int pss)
{
	unsigned char a[128], b[128];
	size_t la = sizeof(a), lb = sizeof(b);

	if (!algid(token, pss, a, &la) || !algid(soft, pss, b, &lb)) {
		fx_print_errors();
		return 0;
	}
	if (la != lb || memcmp(a, b, la) != 0) {
		print_hex("ours", a, la);
		print_hex("theirs", b, lb);
		return 0;
	}
	return 1;
}

/* Direct EVP use, including a copied digest-sign context (OpenSSL's dupctx). */
static void
test_direct_evp(struct fixture *fx, const struct fx_id *id, const char *name)
{
	static const unsigned char msg[] = "direct EVP signature";
	unsigned char sig1[512], sig2[512], dgst[32];
	size_t len1 = sizeof(sig1), len2 = sizeof(sig2), dlen = sizeof(dgst);
	EVP_MD_CTX *a = EVP_MD_CTX_new(), *b = EVP_MD_CTX_new(), *v = EVP_MD_CTX_new();
	EVP_PKEY *pub = X509_get0_pubkey(id->cert);
	EVP_PKEY_CTX *pctx = NULL;
	unsigned before = fx->sb->signs;
	int ok;

	ok = EVP_DigestSignInit_ex(a, NULL, "SHA256", NULL, NULL, id->token, NULL) == 1 &&
	     EVP_DigestSignUpdate(a, msg, 10) == 1 && EVP_MD_CTX_copy_ex(b, a) == 1 &&
	     EVP_DigestSignUpdate(a, msg + 10, sizeof(msg) - 10) == 1 &&
	     EVP_DigestSignUpdate(b, msg + 10, sizeof(msg) - 10) == 1 &&
	     EVP_DigestSignFinal(a, sig1, &len1) == 1 && EVP_DigestSignFinal(b, sig2, &len2) == 1;
	CHECK(ok && fx->sb->signs == before + 2, "%s: EVP_DigestSign on a context and its copy",
	      name);
	CHECK(algid_equal(id->token, id->soft, 0), "%s: algorithm-id equals the default provider's",
	      name);
	if (!ok)
		fx_print_errors();
	CHECK(EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, NULL, pub, NULL) == 1 &&
	              EVP_DigestVerify(v, sig1, len1, msg, sizeof(msg)) == 1 &&
	              EVP_DigestVerifyInit_ex(v, NULL, "SHA256", NULL, NULL, pub, NULL) == 1 &&
	              EVP_DigestVerify(v, sig2, len2, msg, sizeof(msg)) == 1,
	      "%s: both verify with the certificate's key", name);

	len1 = sizeof(sig1);
	ok = EVP_Digest(msg, sizeof(msg), dgst, NULL, EVP_sha256(), NULL) == 1 &&
	     (pctx = EVP_PKEY_CTX_new_from_pkey(NULL, id->token, NULL)) != NULL &&
	     EVP_PKEY_sign_init(pctx) == 1 && EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_sign(pctx, sig1, &len1, dgst, dlen) == 1;
	CHECK(ok, "%s: EVP_PKEY_sign over a digest", name);
	EVP_PKEY_CTX_free(pctx);
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pub, NULL);
	CHECK(pctx != NULL && EVP_PKEY_verify_init(pctx) == 1 &&
	              EVP_PKEY_CTX_set_signature_md(pctx, EVP_sha256()) == 1 &&
	              EVP_PKEY_verify(pctx, sig1, len1, dgst, dlen) == 1,
	      "%s: and it verifies", name);
	EVP_PKEY_CTX_free(pctx);
	EVP_MD_CTX_free(a);
	EVP_MD_CTX_free(b);
	EVP_MD_CTX_free(v);
	ERR_clear_error();
}

/* What keyd will not do is refused here, before any request. */
static void
test_refused_params(struct fixture *fx, const struct ids *ids)
{
	EVP_PKEY_CTX *ctx;
	unsigned char sig[256], dgst[20] = { 0 };
	size_t len = sizeof(sig);
	unsigned before = fx->sb->signs;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ids->rsa_sign.token, NULL);
	CHECK(ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
	              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) <= 0,
	      "raw RSA signing padding refused");
	CHECK(EVP_PKEY_sign(ctx, sig, &len, dgst, sizeof(dgst)) != 1 && fx->sb->signs == before,
	      "RSA signing without a digest refused before the backend");
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ids->rsa_enc.token, NULL);
	CHECK(ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
	              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) <= 0,
	      "raw RSA decryption refused");
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

static int
oaep_reads_back(EVP_PKEY_CTX *ctx)
{
	const EVP_MD *md = NULL, *mgf1 = NULL;
	unsigned char *label = NULL;
	int pad = 0;

	return EVP_PKEY_CTX_get_rsa_padding(ctx, &pad) > 0 && pad == RSA_PKCS1_OAEP_PADDING &&
	       EVP_PKEY_CTX_get_rsa_oaep_md(ctx, &md) > 0 && EVP_MD_get_type(md) == NID_sha256 &&
	       EVP_PKEY_CTX_get_rsa_mgf1_md(ctx, &mgf1) > 0 &&
	       EVP_MD_get_type(mgf1) == NID_sha256 &&
	       EVP_PKEY_CTX_get0_rsa_oaep_label(ctx, &label) == 5 && label != NULL &&
	       memcmp(label, "label", 5) == 0;
}

/* OAEP with a label, directly through EVP (CMS never sends one). */
static void
test_oaep_label(struct fixture *fx, const struct fx_id *id)
{
	static const unsigned char key[32] = "0123456789abcdef0123456789abcde";
	unsigned char wrapped[256], out[256], *label;
	size_t wlen = sizeof(wrapped), olen = sizeof(out);
	EVP_PKEY_CTX *ctx, *dup;
	int ok;

	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, X509_get0_pubkey(id->cert), NULL);
	label = OPENSSL_memdup("label", 5);
	ok = ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 5) == 1 &&
	     EVP_PKEY_encrypt(ctx, wrapped, &wlen, key, sizeof(key)) == 1;
	EVP_PKEY_CTX_free(ctx);
	label = OPENSSL_memdup("label", 5);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, id->token, NULL);
	ok = ok && ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, 5) == 1;
	if (!ok)
		OPENSSL_free(label);
	ok = ok && EVP_PKEY_decrypt(ctx, out, &olen, wrapped, wlen) == 1;
	CHECK(ok && olen == sizeof(key) && memcmp(out, key, olen) == 0 &&
	              fx->sb->last_decrypt.label_len == 5,
	      "OAEP with a label unwraps through the backend");
	if (!ok)
		fx_print_errors();
	CHECK(ctx != NULL && oaep_reads_back(ctx), "decryption context answers what was set");
	/* A copy carries the parameters, the label included. */
	dup = ctx != NULL ? EVP_PKEY_CTX_dup(ctx) : NULL;
	olen = sizeof(out);
	memset(out, 0, sizeof(out));
	CHECK(dup != NULL && EVP_PKEY_decrypt(dup, out, &olen, wrapped, wlen) == 1 &&
	              olen == sizeof(key) && memcmp(out, key, olen) == 0,
	      "a copied decryption context unwraps the same");
	EVP_PKEY_CTX_free(dup);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
}

/* Sets the X9.63 KDF as CMS does on ctx. */
static int
set_x963(EVP_PKEY_CTX *ctx, unsigned char *ukm)
{
	if (EVP_PKEY_CTX_set_ecdh_cofactor_mode(ctx, 0) <= 0 ||
	    EVP_PKEY_CTX_set_ecdh_kdf_type(ctx, EVP_PKEY_ECDH_KDF_X9_63) <= 0 ||
	    EVP_PKEY_CTX_set_ecdh_kdf_md(ctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set_ecdh_kdf_outlen(ctx, 24) <= 0 ||
	    EVP_PKEY_CTX_set0_ecdh_kdf_ukm(ctx, ukm, 9) <= 0) {
		OPENSSL_free(ukm);
		return 0;
	}
	return 1;
}

/* The token's KDF output (also from a copied context) equals the software peer's. */
static int
ecdh_kdf_matches(EVP_PKEY_CTX *token_ctx, EVP_PKEY_CTX *soft_ctx)
{
	unsigned char k1[24], k2[24], k3[24];
	size_t l1 = sizeof(k1), l2 = sizeof(k2), l3 = sizeof(k3);
	int outlen = 0;
	const EVP_MD *md = NULL;
	EVP_PKEY_CTX *dup = NULL;
	int ok;

	ok = set_x963(token_ctx, OPENSSL_memdup("shared-in", 9)) &&
	     set_x963(soft_ctx, OPENSSL_memdup("shared-in", 9)) &&
	     EVP_PKEY_CTX_get_ecdh_kdf_type(token_ctx) == EVP_PKEY_ECDH_KDF_X9_63 &&
	     EVP_PKEY_CTX_get_ecdh_kdf_md(token_ctx, &md) > 0 && EVP_MD_get_type(md) == NID_sha256 &&
	     EVP_PKEY_CTX_get_ecdh_kdf_outlen(token_ctx, &outlen) > 0 && outlen == 24 &&
	     EVP_PKEY_derive(token_ctx, k1, &l1) == 1 && EVP_PKEY_derive(soft_ctx, k2, &l2) == 1 &&
	     (dup = EVP_PKEY_CTX_dup(token_ctx)) != NULL && EVP_PKEY_derive(dup, k3, &l3) == 1;
	if (!ok)
		fx_print_errors();
	EVP_PKEY_CTX_free(dup);
	return ok && l1 == 24 && l2 == 24 && l3 == 24 && memcmp(k1, k2, 24) == 0 &&
	       memcmp(k1, k3, 24) == 0;
}

/* ECDH with a default-provider peer key: OpenSSL copies it into our keymgmt. */
static void
test_ecdh_direct(struct fixture *fx, const struct fx_id *id)
{
	EVP_PKEY *peer = EVP_EC_gen("P-256"), *peer_pub = NULL;
	EVP_PKEY_CTX *ctx = NULL, *sctx = NULL;
	unsigned char *pub = NULL, z1[32], z2[32];
	size_t len1 = sizeof(z1), len2 = sizeof(z2), publen;
	int ok;

	/* Public half only: a peer with a private half is a software key we refuse. */
	publen = peer != NULL ? EVP_PKEY_get1_encoded_public_key(peer, &pub) : 0;
	peer_pub = EVP_PKEY_new();
	ok = publen > 0 && peer_pub != NULL && EVP_PKEY_copy_parameters(peer_pub, peer) == 1 &&
	     EVP_PKEY_set1_encoded_public_key(peer_pub, pub, publen) == 1;
	ok = ok && (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, id->token, NULL)) != NULL &&
	     EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer_pub) == 1 &&
	     EVP_PKEY_derive(ctx, z1, &len1) == 1;
	CHECK(ok, "ECDH with a default-provider peer through the backend");
	if (!ok)
		fx_print_errors();
	ok = ok && (sctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL)) != NULL &&
	     EVP_PKEY_derive_init(sctx) == 1 &&
	     EVP_PKEY_derive_set_peer(sctx, X509_get0_pubkey(id->cert)) == 1 &&
	     EVP_PKEY_derive(sctx, z2, &len2) == 1;
	CHECK(ok && len1 == len2 && memcmp(z1, z2, len1) == 0,
	      "the peer computes the same shared secret");
	ok = ok && ecdh_kdf_matches(ctx, sctx);
	CHECK(ok, "X9.63 KDF output equals the software peer's, also from a copied context");
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_CTX_free(sctx);
	OPENSSL_free(pub);
	EVP_PKEY_free(peer_pub);
	EVP_PKEY_free(peer);
	ERR_clear_error();
}

/* Whether OpenSSL's error queue holds a message containing text; clears it. */
static int
errors_mention(const char *text)
{
	unsigned long e;
	char buf[256];
	int found = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		if (strstr(buf, text) != NULL)
			found = 1;
	}
	return found;
}

static void
test_backend_failure(struct fixture *fx, const struct ids *ids)
{
	BIO *in = BIO_new_mem_buf(content, -1), *out = BIO_new(BIO_s_mem());
	CMS_ContentInfo *cms;
	char der[PATH_MAX];
	unsigned signs = fx->sb->signs;

	ERR_clear_error();
	fx->sb->fail = CS_ERR_NO_TOKEN;
	cms = CMS_sign(ids->rsa_sign.cert, ids->rsa_sign.token, NULL, in,
	               CMS_BINARY | CMS_DETACHED);
	CHECK(cms == NULL && fx->sb->signs == signs + 1, "CMS_sign fails when the backend does");
	CHECK(errors_mention(cs_strerror(CS_ERR_NO_TOKEN)),
	      "the backend's error reaches OpenSSL's error queue");
	CMS_ContentInfo_free(cms);
	(void)BIO_reset(in);
	cms = CMS_sign(ids->ec_sign.cert, ids->ec_sign.token, NULL, in, CMS_BINARY | CMS_DETACHED);
	CHECK(cms == NULL, "CMS_sign with ECDSA fails when the backend does");
	CMS_ContentInfo_free(cms);

	fx->sb->fail = 0;
	fx_path(fx, "fail-rsa.p7m", der, sizeof(der));
	cms = NULL;
	if (fx_openssl(fx, "cms -encrypt -binary -aes-256-gcm -in '%s' -outform DER -out '%s'"
	                   " -recip '%s'", content_path, der, ids->rsa_enc.cert_path) == 0)
		cms = fx_read_cms_der(der);
	fx->sb->fail = CS_ERR_DECRYPT;
	CHECK(cms != NULL && CMS_decrypt(cms, ids->rsa_enc.token, ids->rsa_enc.cert, NULL, out,
	                                 CMS_BINARY) != 1 && BIO_ctrl_pending(out) == 0,
	      "CMS_decrypt (RSA) fails cleanly and releases nothing");
	CMS_ContentInfo_free(cms);
	ERR_clear_error();

	fx->sb->fail = 0;
	fx_path(fx, "fail-ec.p7m", der, sizeof(der));
	cms = NULL;
	if (fx_openssl(fx, "cms -encrypt -binary -aes256 -in '%s' -outform DER -out '%s'"
	                   " -recip '%s'", content_path, der, ids->ec_enc.cert_path) == 0)
		cms = fx_read_cms_der(der);
	fx->sb->fail = CS_ERR_TOKEN_REMOVED;
	CHECK(cms != NULL && CMS_decrypt(cms, ids->ec_enc.token, ids->ec_enc.cert, NULL, out,
	                                 CMS_BINARY) != 1 && BIO_ctrl_pending(out) == 0,
	      "CMS_decrypt (ECDH) fails cleanly and releases nothing");
	CMS_ContentInfo_free(cms);
	ERR_clear_error();

	fx->sb->fail = 0;
	CHECK(sign_and_verify(fx, &ids->rsa_sign, ids->rsa_sign.token, NULL, "after-failure"),
	      "signing works again once the backend does");
	BIO_free(in);
	BIO_free(out);
}

static void
test_bad_args(struct fixture *fx, const struct ids *ids)
{
	OSSL_LIB_CTX *libctx = NULL;
	EVP_PKEY *pkey = NULL;

	CHECK_EQ_INT(cs_provider_context_new(NULL, &libctx), CS_ERR_INVALID_ARG,
	             "context without a backend refused");
	CHECK_EQ_INT(cs_provider_token_key(fx->libctx, NULL, ids->rsa_sign.cert, &pkey),
	             CS_ERR_INVALID_ARG, "token key without a URI refused");
	CHECK(libctx == NULL && pkey == NULL, "outputs untouched on failure");
	cs_provider_context_free(NULL);
}

int
main(void)
{
	struct fixture fx;
	struct ids ids;
	int ready;

	memset(&ids, 0, sizeof(ids));
	ready = fx_init(&fx) == 0;
	CHECK(ready, "provider context with the software backend");
	ready = ready && fx_identity(&fx, &ids.rsa_sign, "rsa-sign", FX_RSA_SIGN) == 0 &&
	        fx_identity(&fx, &ids.rsa_enc, "rsa-enc", FX_RSA_ENC) == 0 &&
	        fx_identity(&fx, &ids.ec_sign, "ec-sign", FX_EC_SIGN) == 0 &&
	        fx_identity(&fx, &ids.ec_enc, "ec-enc", FX_EC_ENC) == 0;
	CHECK(ready, "four identities made");
	fx_path(&fx, "content.txt", content_path, sizeof(content_path));
	ready = ready && fx_write(content_path, content, strlen(content)) == 0;
	if (ready) {
		test_software_keys(&fx, &ids);
		test_no_private_export(&fx, &ids);
		test_import(&fx, &ids);
		test_key_params(&fx, &ids);
		test_direct_evp(&fx, &ids.rsa_sign, "rsa");
		test_direct_evp(&fx, &ids.ec_sign, "ecdsa");
		CHECK(algid_equal(ids.rsa_sign.token, ids.rsa_sign.soft, 1),
		      "rsa-pss: algorithm-id equals the default provider's");
		test_refused_params(&fx, &ids);
		test_oaep_label(&fx, &ids.rsa_enc);
		test_ecdh_direct(&fx, &ids.ec_enc);
		test_backend_failure(&fx, &ids);
		test_bad_args(&fx, &ids);
	}
	fx_identity_free(&ids.rsa_sign);
	fx_identity_free(&ids.rsa_enc);
	fx_identity_free(&ids.ec_sign);
	fx_identity_free(&ids.ec_enc);
	fx_done(&fx);
	return tap_done();
}
