/*
 * cs_protect with software keys, every result judged by a separate
 * `openssl cms` process: multipart/signed and opaque signatures (RSA
 * PKCS#1 v1.5, RSASSA-PSS, ECDSA) verify against the fixture root and give
 * back exactly the canonical entity; AuthEnvelopedData and EnvelopedData
 * (RSA v1.5, OAEP, ECDH; several recipients) decrypt with each recipient's
 * key; sign-then-encrypt decrypts, then verifies. Also the signed
 * attributes, the certificates carried, the outer headers, attachments
 * byte for byte, bad input and bad options.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "cs_smime.h"
#include "fixture.h"
#include "tap.h"

static struct fixture fx;
static const char *openssl = "openssl";
static char root_pem[2 * PATH_MAX];

/* ------------------------------------------------------------ helpers */

struct bytes {
	uint8_t *p;
	size_t n;
	size_t cap;
};

static void
bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->p == NULL || b->n + n + 1 > b->cap) {
		/* Geometric growth: one realloc per append is quadratic under ASan. */
		b->cap = (b->n + n + 1) * 2;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			abort();
	}
	if (n > 0)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

static void
bytes_str(struct bytes *b, const char *s)
{
	bytes_add(b, s, strlen(s));
}

static void
bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->n = 0;
	b->cap = 0;
}

static const char *
wpath(const char *name)
{
	static char bufs[8][2 * PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 2 * PATH_MAX, "%s/%s", fx.work, name);
	return b;
}

static const char *
pki(const char *name)
{
	static char bufs[8][2 * PATH_MAX];
	static int i;
	char *b = bufs[i++ % 8];

	snprintf(b, 2 * PATH_MAX, "%s/pki/%s", fx.dir, name);
	return b;
}

/* Runs a shell command (output to work/cmd.log); returns its exit status. */
static int
sh(const char *fmt, ...)
{
	char cmd[4 * PATH_MAX], full[5 * PATH_MAX];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s >>'%s' 2>&1", cmd, wpath("cmd.log"));
	r = system(full);
	if (r != 0)
		printf("# command failed (%d): %s\n", r, cmd);
	return r;
}

static int
read_file(const char *path, struct bytes *b)
{
	FILE *f = fopen(path, "rb");
	char buf[65536];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		bytes_add(b, buf, n);
	fclose(f);
	if (b->p == NULL)
		bytes_add(b, "", 0);
	return 0;
}

static int
file_equals(const char *path, const void *want, size_t n)
{
	struct bytes b = {0};
	int ok = read_file(path, &b) == 0 && b.n == n && memcmp(b.p, want, n) == 0;

	if (!ok && b.p != NULL)
		printf("# %s: %zu bytes, want %zu\n", path, b.n, n);
	bytes_free(&b);
	return ok;
}

static int
file_contains(const char *path, const char *needle)
{
	struct bytes b = {0};
	int ok = read_file(path, &b) == 0 && strstr((char *)b.p, needle) != NULL;

	bytes_free(&b);
	return ok;
}

static EVP_PKEY *
load_key(const char *name)
{
	char file[128];
	BIO *b;
	EVP_PKEY *k;

	snprintf(file, sizeof(file), "%s.key.pem", name);
	b = BIO_new_file(pki(file), "r");
	k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (k == NULL)
		printf("# cannot load key %s\n", name);
	return k;
}

static X509 *
load_cert(const char *name)
{
	char file[128];
	BIO *b;
	X509 *x;

	snprintf(file, sizeof(file), "%s.cert.pem", name);
	b = BIO_new_file(pki(file), "r");
	x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (x == NULL)
		printf("# cannot load certificate %s\n", name);
	return x;
}

/* Every certificate in a PEM file. */
static STACK_OF(X509) *
load_certs(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_file(path, "r");
	X509 *x;

	while (b != NULL && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(b);
	return sk;
}

static int
has_cert(STACK_OF(X509) *sk, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return 1;
	}
	return 0;
}

/* Runs cs_protect on msg into work/outname; the output also lands in *out when not NULL. */
static int
protect_to(const void *msg, size_t len, const struct cs_protect_opts *o, const char *outname,
           struct bytes *out)
{
	BIO *in = BIO_new_mem_buf(msg, (int)len), *ob = BIO_new_file(wpath(outname), "wb");
	int r;

	if (in == NULL || ob == NULL)
		abort();
	r = cs_protect(in, ob, o);
	if (r != 0) {
		printf("# cs_protect: %s\n", cs_error_name(r));
		ERR_print_errors_fp(stdout);
	}
	BIO_free(in);
	BIO_free(ob);
	if (out != NULL)
		read_file(wpath(outname), out);
	return r;
}

/* The header block of a message (up to the first CRLF CRLF), NUL-terminated in *h. */
static void
header_of(const struct bytes *msg, struct bytes *h)
{
	const char *end = strstr((const char *)msg->p, "\r\n\r\n");

	bytes_add(h, msg->p, end != NULL ? (size_t)(end - (const char *)msg->p) + 2 : msg->n);
}

static int
count_lines_starting(const char *text, const char *prefix)
{
	const char *p = text;
	int n = 0;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return n;
}

/* ------------------------------------------------------------ messages */

static const char msg_text[] =
	"From: Alice <alice@example.org>\n"
	"Sender: Alice <alice@example.org>\n"
	"To: Bob <bob@example.org>\n"
	"Cc: Carol <carol@example.org>\n"
	"Bcc: Dave <dave@example.org>\n"
	"Reply-To: alice+reply@example.org\n"
	"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
	"Date: Mon, 01 Jan 2024 10:00:00 +0000\n"
	"Message-ID: <1@example.org>\n"
	"In-Reply-To: <0@example.org>\n"
	"References: <0@example.org>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: text/plain; charset=utf-8\n"
	"Content-Transfer-Encoding: 8bit\n"
	"X-Custom: kept\n"
	"\n"
	"Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln\n"
	"From the start  \n"
	"a = b\n";

static const char entity_text[] =
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"Gr=C3=BC=C3=9Fe aus K=C3=B6ln\r\n"
	"=46rom the start =20\r\n"
	"a =3D b\r\n";

static const char *kept_fields[] = {
	"From: ", "Sender: ", "To: ", "Cc: ", "Reply-To: ", "Subject: ", "Date: ", "Message-ID: ",
	"In-Reply-To: ", "References: ", "X-Custom: ",
};

/* Outer header: every kept field once, no Bcc, no original Content-*, one MIME-Version. */
static void
check_outer(const struct bytes *out, const char *ctype_prefix, const char *what)
{
	struct bytes h = {0};
	size_t i;
	int ok = 1;

	header_of(out, &h);
	for (i = 0; i < sizeof(kept_fields) / sizeof(kept_fields[0]); i++) {
		if (count_lines_starting((char *)h.p, kept_fields[i]) != 1) {
			printf("# %s: field %s missing\n", what, kept_fields[i]);
			ok = 0;
		}
	}
	CHECK(ok, "%s: From, Sender, To, Cc, Reply-To, Subject, Date, Message-ID, In-Reply-To, "
	          "References, X-Custom kept", what);
	CHECK(strstr((char *)h.p, "Bcc") == NULL && strstr((char *)h.p, "dave@") == NULL,
	      "%s: Bcc removed", what);
	CHECK(count_lines_starting((char *)h.p, "MIME-Version: 1.0\r\n") == 1 &&
	      count_lines_starting((char *)h.p, "Content-Type: ") == 1 &&
	      count_lines_starting((char *)h.p, "Content-Type: text/plain") == 0 &&
	      count_lines_starting((char *)h.p, ctype_prefix) == 1,
	      "%s: one MIME-Version, one Content-Type: %s", what, ctype_prefix);
	bytes_free(&h);
}

/* The entity between the first two delimiters of a multipart/signed message. */
static int
signed_entity(const struct bytes *msg, struct bytes *ent)
{
	const char *s = (const char *)msg->p, *b, *e, *start, *end;
	char delim[128];

	if ((b = strstr(s, "boundary=\"")) == NULL || (e = strchr(b + 10, '"')) == NULL ||
	    e - b - 10 > 100)
		return -1;
	snprintf(delim, sizeof(delim), "\r\n--%.*s", (int)(e - b - 10), b + 10);
	if ((start = strstr(e, delim + 2)) == NULL)
		return -1;
	start += strlen(delim) - 2 + 2;
	if ((end = strstr(start, delim)) == NULL)
		return -1;
	bytes_add(ent, start, (size_t)(end - start));
	return 0;
}

/* ------------------------------------------------------------ signing */

struct sign_case {
	const char *name;
	const char *key;
	const EVP_MD *md;
	int pss;
	int opaque;
	const char *micalg;
};

static CMS_ContentInfo *
read_smime(const char *path, BIO **ret_content)
{
	BIO *b = BIO_new_file(path, "r");
	CMS_ContentInfo *cms = b != NULL ? SMIME_read_CMS(b, ret_content) : NULL;

	BIO_free(b);
	return cms;
}

/* SMIMEEncryptionKeyPreference names want by issuer and serial ([0] IMPLICIT IssuerAndSerialNumber). */
static int
enc_key_pref_names(CMS_SignerInfo *si, X509 *want)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, -1);
	X509_ATTRIBUTE *attr = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
	ASN1_TYPE *t = attr != NULL ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
	const unsigned char *p, *end;
	X509_NAME *name = NULL;
	ASN1_INTEGER *serial = NULL;
	long len;
	int tag, xclass, ok = 0;

	if (t == NULL || t->value.asn1_string == NULL)
		return 0;
	p = t->value.asn1_string->data;
	end = p + t->value.asn1_string->length;
	if (ASN1_get_object(&p, &len, &tag, &xclass, end - p) != V_ASN1_CONSTRUCTED || tag != 0 ||
	    xclass != V_ASN1_CONTEXT_SPECIFIC || p + len != end)
		return 0;
	if ((name = d2i_X509_NAME(NULL, &p, end - p)) != NULL &&
	    (serial = d2i_ASN1_INTEGER(NULL, &p, end - p)) != NULL && p == end)
		ok = X509_NAME_cmp(name, X509_get_issuer_name(want)) == 0 &&
		     ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(want)) == 0;
	X509_NAME_free(name);
	ASN1_INTEGER_free(serial);
	return ok;
}

/* signingCertificateV2 holds the SHA-256 of the signer's certificate (OpenSSL's own ESS check). */
static int
signing_cert_v2_matches(CMS_SignerInfo *si, X509 *signer)
{
	int idx = CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1);
	X509_ATTRIBUTE *attr = idx >= 0 ? CMS_signed_get_attr(si, idx) : NULL;
	ASN1_TYPE *t = attr != NULL ? X509_ATTRIBUTE_get0_type(attr, 0) : NULL;
	ESS_SIGNING_CERT_V2 *sc;
	STACK_OF(X509) *chain = sk_X509_new_null();
	const unsigned char *p;
	int ok = 0;

	if (t == NULL || t->type != V_ASN1_SEQUENCE || chain == NULL)
		goto out;
	p = t->value.sequence->data;
	if ((sc = d2i_ESS_SIGNING_CERT_V2(NULL, &p, t->value.sequence->length)) == NULL)
		goto out;
	sk_X509_push(chain, signer);
	ok = OSSL_ESS_check_signing_certs(NULL, sc, chain, 1) == 1;
	ESS_SIGNING_CERT_V2_free(sc);
out:
	sk_X509_free(chain);
	ERR_clear_error();
	return ok;
}

/* RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
static int
pss_params_ok(CMS_SignerInfo *si)
{
	X509_ALGOR *sig_alg = NULL, *mgf1_md = NULL;
	const ASN1_OBJECT *obj;
	const void *pval;
	RSA_PSS_PARAMS *pss;
	int ptype, ok;

	CMS_SignerInfo_get0_algs(si, NULL, NULL, NULL, &sig_alg);
	X509_ALGOR_get0(&obj, &ptype, &pval, sig_alg);
	if (OBJ_obj2nid(obj) != NID_rsassaPss || ptype != V_ASN1_SEQUENCE)
		return 0;
	if ((pss = ASN1_item_unpack(pval, ASN1_ITEM_rptr(RSA_PSS_PARAMS))) == NULL)
		return 0;
	ok = pss->hashAlgorithm != NULL && OBJ_obj2nid(pss->hashAlgorithm->algorithm) == NID_sha256 &&
	     pss->saltLength != NULL && ASN1_INTEGER_get(pss->saltLength) == 32 &&
	     pss->maskGenAlgorithm != NULL &&
	     OBJ_obj2nid(pss->maskGenAlgorithm->algorithm) == NID_mgf1 &&
	     (mgf1_md = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(X509_ALGOR),
	                                          pss->maskGenAlgorithm->parameter)) != NULL &&
	     OBJ_obj2nid(mgf1_md->algorithm) == NID_sha256;
	X509_ALGOR_free(mgf1_md);
	RSA_PSS_PARAMS_free(pss);
	return ok;
}

static void
check_signed_attrs(const char *path, const char *signer_name, X509 *enc_cert, int pss,
                   const char *what)
{
	CMS_ContentInfo *cms = read_smime(path, NULL);
	STACK_OF(CMS_SignerInfo) *sis = cms != NULL ? CMS_get0_SignerInfos(cms) : NULL;
	CMS_SignerInfo *si = sk_CMS_SignerInfo_num(sis) == 1 ? sk_CMS_SignerInfo_value(sis, 0) : NULL;
	X509 *signer = load_cert(signer_name);
	int has_all;

	CHECK(si != NULL, "%s: one SignerInfo", what);
	if (si == NULL)
		goto out;
	has_all = CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) >= 0 &&
	          CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) >= 0 &&
	          CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0 &&
	          CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1) >= 0 &&
	          CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, -1) >= 0 &&
	          CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1) >= 0;
	CHECK(has_all, "%s: contentType, messageDigest, signingTime, SMIMECapabilities, "
	               "encryption key preference, signingCertificateV2", what);
	CHECK(enc_key_pref_names(si, enc_cert != NULL ? enc_cert : signer),
	      "%s: the encryption key preference names %s", what,
	      enc_cert != NULL ? "the encryption certificate" : "the signing certificate");
	CHECK(signing_cert_v2_matches(si, signer), "%s: signingCertificateV2 is the signer's", what);
	if (pss)
		CHECK(pss_params_ok(si), "%s: RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32", what);
out:
	X509_free(signer);
	CMS_ContentInfo_free(cms);
}

/* The certificates carried: signer, intermediate and the encryption certificate; never the root. */
static void
check_certs(const char *path, const char *signer_name, X509 *enc_cert, const char *what)
{
	STACK_OF(X509) *certs;
	X509 *signer = load_cert(signer_name), *inter = NULL, *root = NULL;
	BIO *b;

	sh("%s cms -verify -noverify -in '%s' -certsout '%s' -out /dev/null", openssl, path,
	   wpath("certs.pem"));
	certs = load_certs(wpath("certs.pem"));
	b = BIO_new_file(pki("inter-ca.cert.pem"), "r");
	inter = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_file(root_pem, "r");
	root = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	CHECK(has_cert(certs, signer) && has_cert(certs, inter) &&
	      (enc_cert == NULL || has_cert(certs, enc_cert)) && !has_cert(certs, root) &&
	      sk_X509_num(certs) == 2 + (enc_cert != NULL),
	      "%s: signer, intermediate%s carried, root not (%d certificates)", what,
	      enc_cert != NULL ? ", encryption certificate" : "", sk_X509_num(certs));
	sk_X509_pop_free(certs, X509_free);
	X509_free(signer);
	X509_free(inter);
	X509_free(root);
}

static void
sign_case(const struct sign_case *c)
{
	struct cs_signer s;
	struct cs_protect_opts o;
	struct bytes out = {0}, ent = {0};
	X509 *enc = load_cert("alice-enc-rsa");
	char outname[64], ctype[160];
	int r;

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	s.key = load_key(c->key);
	s.cert = load_cert(c->key);
	s.chain = load_certs(pki("chain.pem"));    /* intermediate and root: the root must stay out */
	s.encryption_cert = enc;
	s.md = c->md;
	s.rsa_pss = c->pss;
	o.sign = 1;
	o.opaque = c->opaque;
	o.signer = &s;
	snprintf(outname, sizeof(outname), "sign-%s.eml", c->name);
	r = protect_to(msg_text, strlen(msg_text), &o, outname, &out);
	CHECK_EQ_INT(r, 0, "%s: cs_protect", c->name);
	if (c->opaque)
		snprintf(ctype, sizeof(ctype), "Content-Type: application/pkcs7-mime; smime-type=signed-data;");
	else
		snprintf(ctype, sizeof(ctype),
		         "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
		         "micalg=%s;", c->micalg);
	check_outer(&out, ctype, c->name);
	if (!c->opaque) {
		CHECK(signed_entity(&out, &ent) == 0 && ent.n == strlen(entity_text) &&
		      memcmp(ent.p, entity_text, ent.n) == 0,
		      "%s: the first part is exactly the canonical entity", c->name);
		bytes_free(&ent);
	}
	CHECK(sh("%s cms -verify -CAfile '%s' -in '%s' -out '%s'", openssl, root_pem, wpath(outname),
	         wpath("verified.txt")) == 0,
	      "%s: openssl cms -verify against the root", c->name);
	CHECK(file_equals(wpath("verified.txt"), entity_text, strlen(entity_text)),
	      "%s: the verified content is the canonical entity (CRLF, quoted-printable)", c->name);
	check_signed_attrs(wpath(outname), c->key, enc, c->pss, c->name);
	sh("%s cms -cmsout -print -in '%s' -out '%s'", openssl, wpath(outname), wpath("print.txt"));
	CHECK(file_contains(wpath("print.txt"), "object: contentType") &&
	      file_contains(wpath("print.txt"), "object: signingTime") &&
	      file_contains(wpath("print.txt"), "object: S/MIME Capabilities") &&
	      file_contains(wpath("print.txt"), "object: id-smime-aa-encrypKeyPref") &&
	      file_contains(wpath("print.txt"), "object: id-smime-aa-signingCertificateV2") &&
	      file_contains(wpath("print.txt"), ":aes-256-gcm") &&
	      file_contains(wpath("print.txt"), ":rsaesOaep") &&
	      !file_contains(wpath("print.txt"), "rc2") && !file_contains(wpath("print.txt"), "des-"),
	      "%s: openssl cms -print shows the signed attributes; capabilities without RC2 or DES",
	      c->name);
	check_certs(wpath(outname), c->key, enc, c->name);
	bytes_free(&out);
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
	X509_free(enc);
	sk_X509_pop_free(s.chain, X509_free);
}

static void
test_sign(void)
{
	const struct sign_case cases[] = {
		{"rsa", "alice-sign-rsa", NULL, 0, 0, "sha-256"},
		{"rsa-pss", "alice-sign-rsa", NULL, 1, 0, "sha-256"},
		{"ecdsa", "alice-sign-ec", NULL, 0, 0, "sha-256"},
		{"rsa-sha384", "bob-rsa", EVP_sha384(), 0, 0, "sha-384"},
		{"opaque-rsa", "alice-sign-rsa", NULL, 0, 1, NULL},
		{"opaque-ecdsa", "alice-sign-ec", NULL, 0, 1, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		sign_case(&cases[i]);
}

static void
test_sign_own_cert_preference(void)
{
	struct cs_signer s;
	struct cs_protect_opts o;

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	s.key = load_key("bob-rsa");
	s.cert = load_cert("bob-rsa");
	o.sign = 1;
	o.signer = &s;
	CHECK_EQ_INT(protect_to(msg_text, strlen(msg_text), &o, "sign-own.eml", NULL), 0,
	             "sign without chain or encryption certificate");
	check_signed_attrs(wpath("sign-own.eml"), "bob-rsa", NULL, 0, "combined certificate");
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
}

/* A signed message forwarded as message/rfc822 (stored with LF ends) still verifies inside ours. */
static void
test_forwarded_signed(void)
{
	struct bytes old = {0}, msg = {0}, ent = {0};
	struct cs_signer s;
	struct cs_protect_opts o;
	const char *start, *end;
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	read_file(wpath("sign-rsa.eml"), &old);
	bytes_str(&msg, "From: Bob <bob@example.org>\nTo: Carol <carol@example.org>\nSubject: Fwd\n"
	                "Content-Type: multipart/mixed; boundary=F\n\n--F\nContent-Type: text/plain\n\n"
	                "See below.\n--F\nContent-Type: message/rfc822\n\n");
	for (i = 0; i < old.n; i++) {
		if (!(old.p[i] == '\r' && i + 1 < old.n && old.p[i + 1] == '\n'))
			bytes_add(&msg, old.p + i, 1);
	}
	bytes_str(&msg, "--F--\n");
	s.key = load_key("bob-rsa");
	s.cert = load_cert("bob-rsa");
	s.chain = load_certs(pki("inter-ca.cert.pem"));
	o.sign = 1;
	o.signer = &s;
	CHECK_EQ_INT(protect_to(msg.p, msg.n, &o, "fwd.eml", NULL), 0, "forward: cs_protect");
	CHECK(sh("%s cms -verify -CAfile '%s' -in '%s' -out '%s'", openssl, root_pem, wpath("fwd.eml"),
	         wpath("fwd-content.txt")) == 0,
	      "forward: the outer signature verifies");
	read_file(wpath("fwd-content.txt"), &ent);
	start = strstr((char *)ent.p, "Content-Type: message/rfc822\r\n\r\n");
	end = start != NULL ? strstr(start, "\r\n--F--") : NULL;
	if (start != NULL && end != NULL) {
		FILE *f = fopen(wpath("fwd-inner.eml"), "wb");

		start += strlen("Content-Type: message/rfc822\r\n\r\n");
		fwrite(start, 1, (size_t)(end - start), f);
		fclose(f);
	}
	CHECK(start != NULL && end != NULL &&
	      sh("%s cms -verify -CAfile '%s' -in '%s' -out /dev/null", openssl, root_pem,
	         wpath("fwd-inner.eml")) == 0,
	      "forward: the forwarded signed message still verifies");
	bytes_free(&old);
	bytes_free(&msg);
	bytes_free(&ent);
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
	sk_X509_pop_free(s.chain, X509_free);
}

/* ------------------------------------------------------------ encryption */

struct recip_case {
	const char *name;
	int oaep;
};

static int
decrypt_with(const char *in, const char *name, const char *out)
{
	char key[128], cert[128];

	snprintf(key, sizeof(key), "%s.key.pem", name);
	snprintf(cert, sizeof(cert), "%s.cert.pem", name);
	return sh("%s cms -decrypt -in '%s' -inkey '%s' -recip '%s' -out '%s'", openssl, in, pki(key),
	          pki(cert), out);
}

static void
encrypt_case(const char *name, enum cs_content_cipher cipher, const struct recip_case *rc,
             size_t n, const char *const *print_needles)
{
	struct cs_recipient recips[8];
	struct cs_protect_opts o;
	struct bytes out = {0};
	char outname[64], ctype[128];
	size_t i;
	int gcm = cipher == CS_CIPHER_AES256_GCM || cipher == CS_CIPHER_AES128_GCM;

	memset(&o, 0, sizeof(o));
	memset(recips, 0, sizeof(recips));
	for (i = 0; i < n; i++) {
		recips[i].cert = load_cert(rc[i].name);
		recips[i].rsa_oaep = rc[i].oaep;
	}
	o.encrypt = 1;
	o.recipients = recips;
	o.n_recipients = n;
	o.cipher = cipher;
	snprintf(outname, sizeof(outname), "enc-%s.eml", name);
	CHECK_EQ_INT(protect_to(msg_text, strlen(msg_text), &o, outname, &out), 0, "%s: cs_protect",
	             name);
	snprintf(ctype, sizeof(ctype), "Content-Type: application/pkcs7-mime; smime-type=%s; "
	                               "name=\"smime.p7m\"",
	         gcm ? "authEnveloped-data" : "enveloped-data");
	check_outer(&out, ctype, name);
	for (i = 0; i < n; i++) {
		CHECK(decrypt_with(wpath(outname), rc[i].name, wpath("decrypted.txt")) == 0 &&
		      file_equals(wpath("decrypted.txt"), entity_text, strlen(entity_text)),
		      "%s: %s%s decrypts to the canonical entity", name, rc[i].name,
		      rc[i].oaep ? " (OAEP)" : "");
	}
	sh("%s cms -cmsout -print -in '%s' -out '%s'", openssl, wpath(outname), wpath("print.txt"));
	for (i = 0; print_needles[i] != NULL; i++)
		CHECK(file_contains(wpath("print.txt"), print_needles[i]), "%s: structure shows %s", name,
		      print_needles[i]);
	bytes_free(&out);
	for (i = 0; i < n; i++)
		X509_free(recips[i].cert);
}

static void
test_encrypt(void)
{
	const struct recip_case rsa2[] = {{"bob-rsa", 0}, {"alice-enc-rsa", 0}};
	const struct recip_case mixed[] = {{"bob-rsa", 1}, {"bob-ec", 0}, {"alice-enc-ec", 0},
	                                   {"alice-enc-rsa", 0}};
	const struct recip_case ec[] = {{"bob-ec", 0}};
	const struct recip_case oaep[] = {{"alice-enc-rsa", 1}};
	const char *gcm_needles[] = {"aes-256-gcm", "rsaEncryption", NULL};
	const char *cbc_needles[] = {"aes-256-cbc", "rsaesOaep", "dhSinglePass-stdDH-sha256kdf-scheme",
	                             "id-aes256-wrap", NULL};
	const char *gcm128_needles[] = {"aes-128-gcm", "id-aes128-wrap", NULL};
	const char *cbc128_needles[] = {"aes-128-cbc", "rsaesOaep", NULL};

	encrypt_case("gcm-rsa", CS_CIPHER_AES256_GCM, rsa2, 2, gcm_needles);
	encrypt_case("cbc-mixed", CS_CIPHER_AES256_CBC, mixed, 4, cbc_needles);
	encrypt_case("gcm128-ec", CS_CIPHER_AES128_GCM, ec, 1, gcm128_needles);
	encrypt_case("cbc128-oaep", CS_CIPHER_AES128_CBC, oaep, 1, cbc128_needles);
	encrypt_case("gcm-mixed", CS_CIPHER_AES256_GCM, mixed, 4, gcm_needles);
}

/* ------------------------------------------------------ sign, then encrypt */

static void
sign_encrypt_case(const char *name, const char *signer, int opaque, enum cs_content_cipher cipher,
                  const char *recip)
{
	struct cs_recipient rc;
	struct cs_signer s;
	struct cs_protect_opts o;
	struct bytes out = {0}, inner = {0};
	char outname[64];

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	memset(&rc, 0, sizeof(rc));
	s.key = load_key(signer);
	s.cert = load_cert(signer);
	s.chain = load_certs(pki("inter-ca.cert.pem"));
	rc.cert = load_cert(recip);
	o.sign = o.encrypt = 1;
	o.opaque = opaque;
	o.signer = &s;
	o.recipients = &rc;
	o.n_recipients = 1;
	o.cipher = cipher;
	snprintf(outname, sizeof(outname), "signenc-%s.eml", name);
	CHECK_EQ_INT(protect_to(msg_text, strlen(msg_text), &o, outname, &out), 0, "%s: cs_protect",
	             name);
	check_outer(&out, "Content-Type: application/pkcs7-mime; smime-type=", name);
	CHECK(decrypt_with(wpath(outname), recip, wpath("inner.eml")) == 0, "%s: decrypts", name);
	read_file(wpath("inner.eml"), &inner);
	CHECK(strncmp((char *)inner.p,
	              opaque ? "Content-Type: application/pkcs7-mime; smime-type=signed-data;"
	                     : "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\";",
	              40) == 0,
	      "%s: the plaintext is the %s entity", name, opaque ? "signed-data" : "multipart/signed");
	CHECK(sh("%s cms -verify -CAfile '%s' -in '%s' -out '%s'", openssl, root_pem, wpath("inner.eml"),
	         wpath("verified.txt")) == 0 &&
	      file_equals(wpath("verified.txt"), entity_text, strlen(entity_text)),
	      "%s: the decrypted message verifies and gives the canonical entity", name);
	bytes_free(&out);
	bytes_free(&inner);
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
	X509_free(rc.cert);
	sk_X509_pop_free(s.chain, X509_free);
}

static void
test_sign_encrypt(void)
{
	sign_encrypt_case("multipart-gcm", "alice-sign-rsa", 0, CS_CIPHER_AES256_GCM, "bob-rsa");
	sign_encrypt_case("multipart-cbc-ec", "alice-sign-ec", 0, CS_CIPHER_AES256_CBC, "bob-ec");
	sign_encrypt_case("opaque-gcm", "alice-sign-ec", 1, CS_CIPHER_AES256_GCM, "bob-rsa");
	sign_encrypt_case("opaque-cbc", "alice-sign-rsa", 1, CS_CIPHER_AES256_CBC, "alice-enc-ec");
}

/* ------------------------------------------------------------ attachments */

#define RAW_SIZE (3 * 1024 * 1024 + 17)   /* past the canonicalizer's look-ahead */
#define B64_SIZE (100 * 1000)

static const char att_text[] = "Hallo Bob, anbei die Dateien. Gr\xc3\xbc\xc3\x9f" "e";

static void
make_attach_msg(struct bytes *msg, uint8_t *raw, uint8_t *b64data)
{
	unsigned char line[80];
	size_t i;
	int n;

	RAND_bytes(raw, RAW_SIZE);
	RAND_bytes(b64data, B64_SIZE);
	raw[RAW_SIZE - 1] = 'x';        /* not a CR: the delimiter's line break follows */
	bytes_str(msg, "From: Alice <alice@example.org>\n"
	               "To: Bob <bob@example.org>\n"
	               "Subject: attachments\n"
	               "MIME-Version: 1.0\n"
	               "Content-Type: multipart/mixed; boundary=\"XYZ\"\n"
	               "\n"
	               "--XYZ\n"
	               "Content-Type: text/plain; charset=utf-8\n"
	               "Content-Transfer-Encoding: 8bit\n"
	               "\n");
	bytes_str(msg, att_text);
	bytes_str(msg, "\n--XYZ\n"
	               "Content-Type: application/octet-stream\n"
	               "Content-Transfer-Encoding: binary\n"
	               "Content-Disposition: attachment; filename=\"raw.bin\"\n"
	               "\n");
	bytes_add(msg, raw, RAW_SIZE);
	bytes_str(msg, "\n--XYZ\n"
	               "Content-Type: image/png\n"
	               "Content-Transfer-Encoding: base64\n"
	               "Content-Disposition: attachment; filename=\"b64.png\"\n"
	               "\n");
	for (i = 0; i < B64_SIZE; i += 54) {
		n = EVP_EncodeBlock(line, b64data + i, (int)(B64_SIZE - i < 54 ? B64_SIZE - i : 54));
		bytes_add(msg, line, (size_t)n);
		bytes_str(msg, "\n");
	}
	bytes_str(msg, "--XYZ--\n");
}

/* The decoded body of the part named filename (or of the first text/plain part) in a canonical entity. */
static int
part_body(const struct bytes *ent, const char *marker, const char **ret_body, size_t *ret_len)
{
	const char *s = (const char *)ent->p, *m, *body, *end;

	if ((m = strstr(s, marker)) == NULL || (body = strstr(m, "\r\n\r\n")) == NULL)
		return -1;
	body += 4;
	if ((end = strstr(body, "\r\n--XYZ")) == NULL)
		return -1;
	*ret_body = body;
	*ret_len = (size_t)(end - body);
	return 0;
}

static int
b64_decodes_to(const char *enc, size_t n, const uint8_t *want, size_t want_len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	unsigned char *out = malloc(n);
	int len = 0, fin = 0, ok;

	EVP_DecodeInit(ctx);
	ok = EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)enc, (int)n) >= 0 &&
	     EVP_DecodeFinal(ctx, out + len, &fin) == 1 && (size_t)(len + fin) == want_len &&
	     memcmp(out, want, want_len) == 0;
	EVP_ENCODE_CTX_free(ctx);
	free(out);
	return ok;
}

static void
check_attachments(const char *path, const uint8_t *raw, const uint8_t *b64data, const char *what)
{
	struct bytes ent = {0};
	const char *body;
	size_t len;

	read_file(path, &ent);
	CHECK(part_body(&ent, "Content-Type: text/plain", &body, &len) == 0 &&
	      len == strlen("Hallo Bob, anbei die Dateien. Gr=C3=BC=C3=9Fe") &&
	      memcmp(body, "Hallo Bob, anbei die Dateien. Gr=C3=BC=C3=9Fe", len) == 0,
	      "%s: 8-bit text part became quoted-printable", what);
	CHECK(strstr((char *)ent.p, "filename=\"raw.bin\"") != NULL &&
	      part_body(&ent, "Content-Type: application/octet-stream\r\n"
	                      "Content-Transfer-Encoding: base64\r\n", &body, &len) == 0 &&
	      b64_decodes_to(body, len, raw, RAW_SIZE),
	      "%s: binary attachment (3 MiB) re-encoded as base64, bytes exact", what);
	CHECK(part_body(&ent, "filename=\"b64.png\"", &body, &len) == 0 &&
	      b64_decodes_to(body, len, b64data, B64_SIZE) && strstr(body, "\r\n") != NULL,
	      "%s: base64 attachment kept (CRLF lines), bytes exact", what);
	bytes_free(&ent);
}

static void
test_attachments(void)
{
	uint8_t *raw = malloc(RAW_SIZE), *b64data = malloc(B64_SIZE);
	struct bytes msg = {0};
	struct cs_recipient rc;
	struct cs_signer s;
	struct cs_protect_opts o;

	make_attach_msg(&msg, raw, b64data);
	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	memset(&rc, 0, sizeof(rc));
	s.key = load_key("alice-sign-rsa");
	s.cert = load_cert("alice-sign-rsa");
	s.chain = load_certs(pki("inter-ca.cert.pem"));
	rc.cert = load_cert("bob-rsa");
	o.signer = &s;
	o.recipients = &rc;
	o.n_recipients = 1;

	o.sign = o.encrypt = 1;
	CHECK_EQ_INT(protect_to(msg.p, msg.n, &o, "att-signenc.eml", NULL), 0,
	             "attachments: sign then encrypt (GCM)");
	CHECK(decrypt_with(wpath("att-signenc.eml"), "bob-rsa", wpath("att-inner.eml")) == 0 &&
	      sh("%s cms -verify -CAfile '%s' -in '%s' -out '%s'", openssl, root_pem,
	         wpath("att-inner.eml"), wpath("att-verified.txt")) == 0,
	      "attachments: decrypts and verifies");
	check_attachments(wpath("att-verified.txt"), raw, b64data, "sign+encrypt");

	o.sign = 0;
	o.cipher = CS_CIPHER_AES256_CBC;
	CHECK_EQ_INT(protect_to(msg.p, msg.n, &o, "att-enc.eml", NULL), 0,
	             "attachments: encrypt only (CBC)");
	CHECK(decrypt_with(wpath("att-enc.eml"), "bob-rsa", wpath("att-dec.txt")) == 0,
	      "attachments: decrypts");
	check_attachments(wpath("att-dec.txt"), raw, b64data, "encrypt");

	bytes_free(&msg);
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
	sk_X509_pop_free(s.chain, X509_free);
	X509_free(rc.cert);
	free(raw);
	free(b64data);
}

/* ------------------------------------------------------------ failures */

/* cs_protect into a memory BIO; *ret_len gets what was written. */
static int
protect_mem(const void *msg, size_t len, const struct cs_protect_opts *o, size_t *ret_len)
{
	BIO *in = BIO_new_mem_buf(msg, (int)len), *out = BIO_new(BIO_s_mem());
	int r = cs_protect(in, out, o);

	*ret_len = (size_t)BIO_pending(out);
	BIO_free(in);
	BIO_free(out);
	ERR_clear_error();
	return r;
}

static void
test_bad_input(void)
{
	struct cs_recipient rc = {0};
	struct cs_protect_opts o;
	struct bytes msg = {0};
	size_t n;
	char *big;

	memset(&o, 0, sizeof(o));
	rc.cert = load_cert("bob-rsa");
	o.encrypt = 1;
	o.recipients = &rc;
	o.n_recipients = 1;

	CHECK_EQ_INT(protect_mem("", 0, &o, &n), CS_ERR_BAD_FORMAT, "empty input");
	CHECK(n == 0, "empty input: nothing written");
	CHECK_EQ_INT(protect_mem("From: a@example.org\nSubject: x\n", 31, &o, &n), CS_ERR_BAD_FORMAT,
	             "header without the blank line before a body");
	CHECK(n == 0, "no separator: nothing written");
	CHECK_EQ_INT(protect_mem("just some text\n\nbody\n", 21, &o, &n), CS_ERR_BAD_FORMAT,
	             "text that is not a header");

	big = malloc(1024 * 1024 + 64);
	memset(big, 'a', 1024 * 1024);
	memcpy(big, "Subject: ", 9);
	memcpy(big + 1024 * 1024, "\nFrom: a@example.org\n\nbody\n", 28);
	CHECK_EQ_INT(protect_mem(big, strlen(big), &o, &n), CS_ERR_TOO_LARGE, "a 1 MiB header field");
	CHECK(n == 0, "1 MiB header: nothing written");
	free(big);

	bytes_str(&msg, "From: a@example.org\nContent-Type: multipart/mixed; boundary=B\n\n--B\n"
	                "broken header line\n\nx\n--B--\n");
	CHECK_EQ_INT(protect_mem(msg.p, msg.n, &o, &n), CS_ERR_BAD_FORMAT,
	             "malformed part header inside the message");
	bytes_free(&msg);
	X509_free(rc.cert);
}

static void
test_bad_options(void)
{
	struct cs_recipient rc = {0}, rc_ec = {0}, rc_null = {0};
	struct cs_signer s, bad;
	struct cs_protect_opts o;
	size_t n, total = 0;
	int r;

	memset(&s, 0, sizeof(s));
	s.key = load_key("alice-sign-rsa");
	s.cert = load_cert("alice-sign-rsa");
	rc.cert = load_cert("bob-rsa");
	rc_ec.cert = load_cert("bob-ec");

#define OPT_CASE(setup, what)                                                            \
	do {                                                                             \
		memset(&o, 0, sizeof(o));                                                \
		bad = s;                                                                 \
		setup;                                                                   \
		r = protect_mem(msg_text, strlen(msg_text), &o, &n);                     \
		total += n;                                                              \
		CHECK_EQ_INT(r, CS_ERR_INVALID_ARG, what);                               \
	} while (0)

	OPT_CASE((void)0, "neither sign nor encrypt");
	OPT_CASE(o.sign = 1, "sign without a signer");
	OPT_CASE((o.sign = 1, bad.key = NULL, o.signer = &bad), "signer without a key");
	OPT_CASE((o.sign = 1, bad.cert = NULL, o.signer = &bad), "signer without a certificate");
	OPT_CASE((o.sign = 1, bad.cert = rc.cert, o.signer = &bad), "key that is not the certificate's");
	OPT_CASE((o.sign = 1, bad.md = EVP_sha1(), o.signer = &bad), "SHA-1 signature");
	OPT_CASE(o.encrypt = 1, "encrypt without recipients");
	OPT_CASE((o.encrypt = 1, o.recipients = &rc, o.n_recipients = 0), "encrypt with zero recipients");
	OPT_CASE((o.encrypt = 1, o.recipients = &rc_null, o.n_recipients = 1), "recipient without a certificate");
	OPT_CASE((rc_ec.rsa_oaep = 1, o.encrypt = 1, o.recipients = &rc_ec, o.n_recipients = 1),
	         "OAEP for an EC recipient");
	rc_ec.rsa_oaep = 0;
	OPT_CASE((o.encrypt = 1, o.recipients = &rc, o.n_recipients = 1,
	          o.cipher = (enum cs_content_cipher)99), "unknown cipher");
	CHECK(total == 0, "bad options: nothing written");
	CHECK_EQ_INT(cs_protect(NULL, NULL, NULL), CS_ERR_INVALID_ARG, "no arguments at all");
#undef OPT_CASE

	/* PSS with an EC key. */
	memset(&bad, 0, sizeof(bad));
	bad.key = load_key("alice-sign-ec");
	bad.cert = load_cert("alice-sign-ec");
	bad.rsa_pss = 1;
	memset(&o, 0, sizeof(o));
	o.sign = 1;
	o.signer = &bad;
	CHECK_EQ_INT(protect_mem(msg_text, strlen(msg_text), &o, &n), CS_ERR_INVALID_ARG,
	             "RSASSA-PSS with an EC key");
	EVP_PKEY_free(bad.key);
	X509_free(bad.cert);
	EVP_PKEY_free(s.key);
	X509_free(s.cert);
	X509_free(rc.cert);
	X509_free(rc_ec.cert);
}

/* ------------------------------------------------------------ progress */

struct progress_log {
	int calls;
	uint64_t last;
	int monotonic;
};

static void
on_progress(void *arg, uint64_t done)
{
	struct progress_log *p = arg;

	if (done < p->last)
		p->monotonic = 0;
	p->last = done;
	p->calls++;
}

static void
test_progress_and_mem_input(void)
{
	struct progress_log log = {0, 0, 1};
	struct cs_recipient rc = {0};
	struct cs_protect_opts o;
	struct bytes msg = {0};
	unsigned char line[80], rnd[57];
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());
	int i, r;

	bytes_str(&msg, "From: a@example.org\nContent-Type: application/octet-stream\n"
	                "Content-Transfer-Encoding: base64\n\n");
	for (i = 0; i < 160000; i++) {  /* about 12 MB */
		RAND_bytes(rnd, sizeof(rnd));
		EVP_EncodeBlock(line, rnd, sizeof(rnd));
		bytes_add(&msg, line, 76);
		bytes_str(&msg, "\n");
	}
	BIO_write(in, msg.p, (int)msg.n);       /* a writable memory BIO: its end reads as a retry */
	memset(&o, 0, sizeof(o));
	rc.cert = load_cert("bob-ec");
	o.encrypt = 1;
	o.recipients = &rc;
	o.n_recipients = 1;
	o.progress = on_progress;
	o.progress_arg = &log;
	r = cs_protect(in, out, &o);
	CHECK_EQ_INT(r, 0, "12 MB from a writable memory BIO");
	CHECK(log.calls >= 3 && log.monotonic && log.last == msg.n,
	      "progress reported every few MiB, ending at the input size (%d calls)", log.calls);
	BIO_free(in);
	BIO_free(out);
	bytes_free(&msg);
	X509_free(rc.cert);
}

int
main(void)
{
	const char *o = getenv("CS_OPENSSL");

	if (fixture_setup(&fx) != 0) {
		printf("Bail out! fixtures\n");
		return 1;
	}
	if (o != NULL)
		openssl = o;
	/* The judge runs without the system configuration (which may load engines). */
	setenv("OPENSSL_CONF", "/dev/null", 1);
	snprintf(root_pem, sizeof(root_pem), "%s", pki("root-ca.cert.pem"));

	test_sign();
	test_sign_own_cert_preference();
	test_forwarded_signed();
	test_encrypt();
	test_sign_encrypt();
	test_attachments();
	test_bad_input();
	test_bad_options();
	test_progress_and_mem_input();

	fixture_teardown(&fx);
	return tap_done();
}
