/*
 * CMS signing with token keys through the provider: RSA PKCS#1 v1.5,
 * RSASSA-PSS and ECDSA P-256, detached, streamed (S/MIME and DER) and without
 * signed attributes. Each signature is judged by `openssl cms -verify` in a
 * separate process, and the backend's counter proves the token signed.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "fixture.h"
#include "tap.h"

/* Canonical S/MIME content: CRLF line ends, so text and binary modes agree. */
static const char content[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Signed on a token, checked by someone else.\r\n";

static char content_path[PATH_MAX];

/* Writes cms as DER and has openssl verify it; the content must come back intact. */
static int
verify_der(struct fixture *fx, const char *name, CMS_ContentInfo *cms, int detached)
{
	char file[64], der[PATH_MAX], out[PATH_MAX];

	snprintf(file, sizeof(file), "%s.p7s", name);
	fx_path(fx, file, der, sizeof(der));
	snprintf(file, sizeof(file), "%s.out", name);
	fx_path(fx, file, out, sizeof(out));
	if (fx_write_cms_der(der, cms) != 0)
		return 0;
	if (detached) {
		if (fx_openssl(fx, "cms -verify -noverify -binary -inform DER -in '%s' -content '%s'"
		                   " -out '%s'", der, content_path, out) != 0)
			return 0;
	} else if (fx_openssl(fx, "cms -verify -noverify -binary -inform DER -in '%s' -out '%s'",
	                      der, out) != 0) {
		return 0;
	}
	return fx_file_equals(out, content, strlen(content));
}

/* The plain call: CMS_sign with signed attributes, detached. */
static void
test_detached(struct fixture *fx, const struct fx_id *id, const char *name, int want_scheme)
{
	unsigned before = fx->sb->signs;
	BIO *in = BIO_new_mem_buf(content, -1);
	CMS_ContentInfo *cms;

	cms = CMS_sign(id->cert, id->token, NULL, in, CMS_BINARY | CMS_DETACHED);
	CHECK(cms != NULL, "%s: CMS_sign detached with the token key", name);
	if (cms == NULL)
		fx_print_errors();
	CHECK_EQ_INT(fx->sb->signs, before + 1, "%s: the backend signed once", name);
	CHECK_EQ_INT(fx->sb->last_sign.scheme, want_scheme, "%s: scheme asked of the backend",
	             name);
	CHECK_EQ_INT(fx->sb->last_sign.md_nid, NID_sha256, "%s: SHA-256 by default", name);
	CHECK(cms != NULL && verify_der(fx, name, cms, 1), "%s: openssl cms -verify accepts it",
	      name);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* Streaming S/MIME: the signature is made while SMIME_write_CMS writes. */
static void
test_stream_smime(struct fixture *fx, const struct fx_id *id, const char *name)
{
	const int flags = CMS_BINARY | CMS_DETACHED | CMS_STREAM;
	unsigned before = fx->sb->signs;
	char path[PATH_MAX], file[64], out[PATH_MAX];
	BIO *in = BIO_new_mem_buf(content, -1), *bout;
	CMS_ContentInfo *cms;
	int ok = 0;

	snprintf(file, sizeof(file), "%s.eml", name);
	fx_path(fx, file, path, sizeof(path));
	snprintf(file, sizeof(file), "%s.eml.out", name);
	fx_path(fx, file, out, sizeof(out));
	cms = CMS_sign(id->cert, id->token, NULL, in, flags);
	if (cms != NULL && (bout = BIO_new_file(path, "wb")) != NULL) {
		ok = SMIME_write_CMS(bout, cms, in, flags) == 1;
		BIO_free(bout);
	}
	CHECK(ok, "%s: streamed multipart/signed written", name);
	if (!ok)
		fx_print_errors();
	CHECK_EQ_INT(fx->sb->signs, before + 1, "%s: the backend signed once", name);
	CHECK(ok && fx_openssl(fx, "cms -verify -noverify -binary -in '%s' -out '%s'", path, out) ==
	                    0 && fx_file_equals(out, content, strlen(content)),
	      "%s: openssl cms -verify accepts the S/MIME message", name);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* Streaming DER with the content inside (indefinite lengths). */
static void
test_stream_der(struct fixture *fx, const struct fx_id *id, const char *name)
{
	const int flags = CMS_BINARY | CMS_STREAM;
	unsigned before = fx->sb->signs;
	char path[PATH_MAX], file[64], out[PATH_MAX];
	BIO *in = BIO_new_mem_buf(content, -1), *bout;
	CMS_ContentInfo *cms;
	int ok = 0;

	snprintf(file, sizeof(file), "%s.ber", name);
	fx_path(fx, file, path, sizeof(path));
	snprintf(file, sizeof(file), "%s.ber.out", name);
	fx_path(fx, file, out, sizeof(out));
	cms = CMS_sign(id->cert, id->token, NULL, in, flags);
	if (cms != NULL && (bout = BIO_new_file(path, "wb")) != NULL) {
		ok = i2d_CMS_bio_stream(bout, cms, in, flags) == 1;
		BIO_free(bout);
	}
	CHECK(ok, "%s: streamed DER written with i2d_CMS_bio_stream", name);
	if (!ok)
		fx_print_errors();
	CHECK_EQ_INT(fx->sb->signs, before + 1, "%s: the backend signed once", name);
	CHECK(ok && fx_openssl(fx, "cms -verify -noverify -binary -inform DER -in '%s' -out '%s'",
	                       path, out) == 0 && fx_file_equals(out, content, strlen(content)),
	      "%s: openssl cms -verify accepts the streamed DER", name);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* No signed attributes: OpenSSL signs the content digest with EVP_PKEY_sign. */
static void
test_noattr(struct fixture *fx, const struct fx_id *id, const char *name)
{
	unsigned before = fx->sb->signs;
	BIO *in = BIO_new_mem_buf(content, -1);
	CMS_ContentInfo *cms;

	cms = CMS_sign(id->cert, id->token, NULL, in, CMS_BINARY | CMS_DETACHED | CMS_NOATTR);
	CHECK(cms != NULL, "%s: CMS_sign without signed attributes", name);
	if (cms == NULL)
		fx_print_errors();
	CHECK_EQ_INT(fx->sb->signs, before + 1, "%s: the backend signed once", name);
	CHECK(cms != NULL && verify_der(fx, name, cms, 1), "%s: openssl cms -verify accepts it",
	      name);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* What EVP_PKEY_CTX_get_* read back (through the ctrl-to-param layer). */
static int
pss_reads_back(EVP_PKEY_CTX *pctx, const EVP_MD *md, int want_salt)
{
	const EVP_MD *sig_md = NULL, *mgf1_md = NULL;
	int pad = 0, salt = 0;

	if (EVP_PKEY_CTX_get_rsa_padding(pctx, &pad) <= 0 || pad != RSA_PKCS1_PSS_PADDING ||
	    EVP_PKEY_CTX_get_signature_md(pctx, &sig_md) <= 0 ||
	    EVP_MD_get_type(sig_md) != EVP_MD_get_type(md) ||
	    EVP_PKEY_CTX_get_rsa_mgf1_md(pctx, &mgf1_md) <= 0 ||
	    EVP_MD_get_type(mgf1_md) != EVP_MD_get_type(md) ||
	    EVP_PKEY_CTX_get_rsa_pss_saltlen(pctx, &salt) <= 0) {
		fx_print_errors();
		return 0;
	}
	if (salt != want_salt)
		printf("#   saltlen read back %d, want %d\n", salt, want_salt);
	return salt == want_salt;
}

/*
 * RSASSA-PSS the way CMS offers it: a partial structure, the signer added
 * with CMS_KEY_PARAM, padding set on its EVP_PKEY_CTX, then CMS_final.
 * saltlen 0 leaves OpenSSL's (and our) default alone.
 */
static void
test_pss(struct fixture *fx, const struct fx_id *id, const char *name, const EVP_MD *md,
         int saltlen, int want_salt)
{
	const int flags = CMS_BINARY | CMS_DETACHED;
	unsigned before = fx->sb->signs;
	BIO *in = BIO_new_mem_buf(content, -1);
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	X509_ALGOR *sig_alg = NULL;
	int ok;

	cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
	if (cms != NULL)
		si = CMS_add1_signer(cms, id->cert, id->token, md, flags | CMS_KEY_PARAM);
	if (si != NULL)
		pctx = CMS_SignerInfo_get0_pkey_ctx(si);
	ok = pctx != NULL && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0;
	if (ok && saltlen != 0)
		ok = EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) > 0 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0;
	CHECK(ok, "%s: PSS set on the signer's EVP_PKEY_CTX", name);
	CHECK(ok && pss_reads_back(pctx, md, want_salt), "%s: the context answers what was set",
	      name);
	ok = ok && CMS_final(cms, in, NULL, flags) == 1;
	CHECK(ok, "%s: CMS_final signs", name);
	if (!ok)
		fx_print_errors();
	CHECK_EQ_INT(fx->sb->signs, before + 1, "%s: the backend signed once", name);
	CHECK_EQ_INT(fx->sb->last_sign.scheme, CS_SIG_RSA_PSS, "%s: backend asked for PSS", name);
	CHECK_EQ_INT(fx->sb->last_sign.md_nid, EVP_MD_get_type(md), "%s: PSS digest", name);
	CHECK_EQ_INT(fx->sb->last_sign.mgf1_nid, EVP_MD_get_type(md), "%s: MGF1 digest", name);
	CHECK_EQ_INT(fx->sb->last_sign.salt_len, want_salt, "%s: salt length in bytes", name);
	if (si != NULL)
		CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sig_alg);
	CHECK(sig_alg != NULL && OBJ_obj2nid(sig_alg->algorithm) == NID_rsassaPss,
	      "%s: SignerInfo names RSASSA-PSS", name);
	CHECK(ok && verify_der(fx, name, cms, 1), "%s: openssl cms -verify accepts it", name);
	CMS_ContentInfo_free(cms);
	BIO_free(in);
}

/* A signature read back in this process verifies in the default context. */
static void
test_verify_in_process(struct fixture *fx, const struct fx_id *id, const char *name)
{
	char file[64], path[PATH_MAX];
	CMS_ContentInfo *cms;
	BIO *dcont = BIO_new_mem_buf(content, -1);
	STACK_OF(X509) *certs = sk_X509_new_null();
	int ok;

	snprintf(file, sizeof(file), "%s.p7s", name);
	fx_path(fx, file, path, sizeof(path));
	cms = fx_read_cms_der(path);
	sk_X509_push(certs, id->cert);
	ok = cms != NULL &&
	     CMS_verify(cms, certs, NULL, dcont, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1;
	CHECK(ok, "%s: CMS_verify in this process, with the provider loaded", name);
	if (!ok)
		fx_print_errors();
	sk_X509_free(certs);
	CMS_ContentInfo_free(cms);
	BIO_free(dcont);
}

int
main(void)
{
	struct fixture fx;
	struct fx_id rsa, ec;
	int ready;

	memset(&rsa, 0, sizeof(rsa));
	memset(&ec, 0, sizeof(ec));
	ready = fx_init(&fx) == 0;
	CHECK(ready, "provider context with the software backend");
	ready = ready && fx_identity(&fx, &rsa, "rsa-sign", FX_RSA_SIGN) == 0;
	ready = ready && fx_identity(&fx, &ec, "ec-sign", FX_EC_SIGN) == 0;
	CHECK(ready, "RSA-2048 and P-256 identities made");
	fx_path(&fx, "content.txt", content_path, sizeof(content_path));
	ready = ready && fx_write(content_path, content, strlen(content)) == 0;
	if (!ready)
		goto out;

	test_detached(&fx, &rsa, "rsa-pkcs1", CS_SIG_RSA_PKCS1);
	test_stream_smime(&fx, &rsa, "rsa-pkcs1-smime");
	test_stream_der(&fx, &rsa, "rsa-pkcs1-ber");
	test_noattr(&fx, &rsa, "rsa-pkcs1-noattr");
	test_pss(&fx, &rsa, "rsa-pss", EVP_sha256(), 0, 32);
	test_pss(&fx, &rsa, "rsa-pss-max", EVP_sha256(), RSA_PSS_SALTLEN_MAX, 256 - 32 - 2);
	test_pss(&fx, &rsa, "rsa-pss-sha384", EVP_sha384(), RSA_PSS_SALTLEN_DIGEST, 48);
	test_detached(&fx, &ec, "ecdsa", CS_SIG_ECDSA);
	test_stream_smime(&fx, &ec, "ecdsa-smime");
	test_noattr(&fx, &ec, "ecdsa-noattr");
	test_verify_in_process(&fx, &rsa, "rsa-pkcs1");
	test_verify_in_process(&fx, &rsa, "rsa-pss");
	test_verify_in_process(&fx, &ec, "ecdsa");

out:
	fx_identity_free(&rsa);
	fx_identity_free(&ec);
	fx_done(&fx);
	return tap_done();
}
