/*
 * Makes a multipart/signed message with OpenSSL's own CMS code and signed
 * attributes the test chooses, for the certificate-store tests: a signing
 * time (offset from now), SMIMECapabilities, and an
 * SMIMEEncryptionKeyPreference naming a certificate (or none). The engine's
 * own PROTECT always signs "now" with its own preferences, so it cannot make
 * these messages.
 *
 * Usage: test-certs-mkmsg --key KEY --cert CERT [--chain PEM] [--pref CERT]
 *        [--pref-form issuer|rkeyid|ski] [--caps NAME,NAME...] [--time SECONDS]
 *        --from ADDR --to ADDR --text TEXT OUT
 * --time is added to now (negative: in the past). Without --pref no
 * preference attribute is written.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

/* Names the failing line: OpenSSL's error queue alone does not say which step it was. */
#define FAIL()                                                                    \
	do {                                                                      \
		fprintf(stderr, "mkmsg: failed at line %d\n", __LINE__);        \
		goto out;                                                         \
	} while (0)

static X509 *
load_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (x == NULL)
		fprintf(stderr, "mkmsg: cannot read certificate %s\n", path);
	return x;
}

/*
 * [0] IMPLICIT IssuerAndSerialNumber, [1] IMPLICIT RecipientKeyIdentifier
 * (form 1), or [2] IMPLICIT SubjectKeyIdentifier (form 2) (RFC 8551 2.5.3).
 */
static int
add_pref(CMS_SignerInfo *si, X509 *x, int form)
{
	unsigned char *der = NULL, *p;
	int nlen, slen, clen, total, ok = 0;

	if (form == 1) {
		const ASN1_OCTET_STRING *id = X509_get0_subject_key_id(x);

		if (id == NULL || (slen = i2d_ASN1_OCTET_STRING(id, NULL)) <= 0)
			return 0;
		total = ASN1_object_size(1, slen, 1);
		if ((der = malloc((size_t)total)) == NULL)
			return 0;
		p = der;
		ASN1_put_object(&p, 1, slen, 1, V_ASN1_CONTEXT_SPECIFIC);
		i2d_ASN1_OCTET_STRING(id, &p);
	} else if (form == 2) {
		const ASN1_OCTET_STRING *id = X509_get0_subject_key_id(x);

		if (id == NULL)
			return 0;
		clen = ASN1_STRING_length(id);
		total = ASN1_object_size(0, clen, 2);
		if ((der = malloc((size_t)total)) == NULL)
			return 0;
		p = der;
		ASN1_put_object(&p, 0, clen, 2, V_ASN1_CONTEXT_SPECIFIC);
		memcpy(p, ASN1_STRING_get0_data(id), (size_t)clen);
	} else {
		nlen = i2d_X509_NAME(X509_get_issuer_name(x), NULL);
		slen = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), NULL);
		clen = nlen + slen;
		total = ASN1_object_size(1, clen, 0);
		if ((der = malloc((size_t)total)) == NULL)
			return 0;
		p = der;
		ASN1_put_object(&p, 1, clen, 0, V_ASN1_CONTEXT_SPECIFIC);
		i2d_X509_NAME(X509_get_issuer_name(x), &p);
		i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &p);
	}
	/* An ANY of type SEQUENCE is written as the bytes given, tag included. */
	ok = CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, V_ASN1_SEQUENCE, der,
	                                 total) == 1;
	free(der);
	return ok;
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "key", required_argument, NULL, 'k' },    { "cert", required_argument, NULL, 'c' },
		{ "chain", required_argument, NULL, 'C' },  { "pref", required_argument, NULL, 'p' },
		{ "pref-form", required_argument, NULL, 'f' },
		{ "caps", required_argument, NULL, 'a' },   { "time", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'F' },   { "to", required_argument, NULL, 'T' },
		{ "text", required_argument, NULL, 'x' },   { NULL, 0, NULL, 0 },
	};
	const char *key_path = NULL, *cert_path = NULL, *chain_path = NULL, *pref_path = NULL;
	const char *caps = NULL, *from = NULL, *to = NULL, *text = "Hello.";
	long offset = 0;
	int form = 0, ch, status = 1;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL, *pref = NULL, *x;
	BIO *b = NULL, *out = NULL, *content = NULL, *b64 = NULL;
	CMS_ContentInfo *cms = NULL;
	CMS_SignerInfo *si;
	STACK_OF(X509_ALGOR) *algs = NULL;
	ASN1_TIME *when = NULL;
	char body[4096], *list = NULL, *name, *save = NULL;

	while ((ch = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (ch) {
		case 'k': key_path = optarg; break;
		case 'c': cert_path = optarg; break;
		case 'C': chain_path = optarg; break;
		case 'p': pref_path = optarg; break;
		case 'f': form = strcmp(optarg, "rkeyid") == 0 ? 1 : strcmp(optarg, "ski") == 0 ? 2 : 0; break;
		case 'a': caps = optarg; break;
		case 't': offset = strtol(optarg, NULL, 10); break;
		case 'F': from = optarg; break;
		case 'T': to = optarg; break;
		case 'x': text = optarg; break;
		default: return 2;
		}
	}
	if (key_path == NULL || cert_path == NULL || from == NULL || to == NULL || optind != argc - 1) {
		fprintf(stderr, "usage: see the top of test-certs-mkmsg.c\n");
		return 2;
	}
	if ((b = BIO_new_file(key_path, "r")) == NULL ||
	    (key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL)) == NULL ||
	    (cert = load_cert(cert_path)) == NULL ||
	    (pref_path != NULL && (pref = load_cert(pref_path)) == NULL))
		FAIL();
	/* The signed entity, already canonical (CRLF). */
	snprintf(body, sizeof(body), "Content-Type: text/plain; charset=us-ascii\r\n\r\n%s\r\n", text);
	if ((cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_DETACHED | CMS_BINARY)) == NULL ||
	    (si = CMS_add1_signer(cms, cert, key, EVP_sha256(), CMS_NOSMIMECAP | CMS_BINARY)) == NULL)
		FAIL();
	/* OpenSSL adds signingTime only when absent: ours goes first. */
	if ((when = X509_time_adj_ex(NULL, 0, offset, NULL)) == NULL ||
	    CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, when->type, when, -1) != 1)
		FAIL();
	if (caps != NULL) {
		if ((list = strdup(caps)) == NULL)
			FAIL();
		for (name = strtok_r(list, ",", &save); name != NULL; name = strtok_r(NULL, ",", &save)) {
			int nid = OBJ_txt2nid(name);

			if (nid == NID_undef || CMS_add_simple_smimecap(&algs, nid, -1) != 1) {
				fprintf(stderr, "mkmsg: unknown capability %s\n", name);
				goto out;
			}
		}
		if (CMS_add_smimecap(si, algs) != 1)
			FAIL();
	}
	if (pref != NULL && (!add_pref(si, pref, form) || CMS_add1_cert(cms, pref) != 1))
		FAIL();
	if (chain_path != NULL) {
		BIO_free(b);
		if ((b = BIO_new_file(chain_path, "r")) == NULL)
			FAIL();
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
			CMS_add1_cert(cms, x);
			X509_free(x);
		}
		ERR_clear_error();
	}
	if ((content = BIO_new_mem_buf(body, -1)) == NULL ||
	    CMS_final(cms, content, NULL, CMS_DETACHED | CMS_BINARY) != 1)
		FAIL();
	BIO_free(content);
	if ((content = BIO_new_mem_buf(body, -1)) == NULL ||
	    (out = BIO_new_file(argv[optind], "w")) == NULL)
		FAIL();
	/*
	 * The multipart/signed entity written by hand: SMIME_write_CMS would
	 * sign the finished SignerInfo a second time.
	 */
	BIO_printf(out, "From: %s\r\nTo: %s\r\nSubject: a test of the certificate store\r\n"
	                "Date: Sat, 28 Nov 2026 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	                "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";"
	                " micalg=sha-256; boundary=\"b1\"\r\n\r\n--b1\r\n%s\r\n--b1\r\n"
	                "Content-Type: application/pkcs7-signature; name=smime.p7s\r\n"
	                "Content-Transfer-Encoding: base64\r\n\r\n",
	           from, to, body);
	if ((b64 = BIO_new(BIO_f_base64())) == NULL)
		FAIL();
	BIO_push(b64, out);
	if (i2d_CMS_bio(b64, cms) != 1 || BIO_flush(b64) != 1)
		FAIL();
	BIO_pop(b64);
	BIO_printf(out, "\r\n--b1--\r\n");
	status = 0;
out:
	if (status != 0)
		ERR_print_errors_fp(stderr);
	free(list);
	ASN1_TIME_free(when);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	CMS_ContentInfo_free(cms);
	BIO_free(b64);
	BIO_free(out);
	BIO_free(content);
	BIO_free(b);
	X509_free(cert);
	X509_free(pref);
	EVP_PKEY_free(key);
	return status;
}
