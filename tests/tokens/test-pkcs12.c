/*
 * PKCS#12 import onto a private copy of the fixture cards. The files are
 * made here with the openssl command: AES (OpenSSL 3's default), 3DES, RC2-40
 * as Windows exports them, EC P-256, EC P-384 without a password, and one
 * without a MAC; plus the fixture's own 3DES file and, if present, one from
 * the PKITS corpus.
 * What landed on the token is checked through tokens/ (listing, signing,
 * decrypting, ECDH) and through pkcs11-tool, a separate process reading the
 * token store. Wrong passwords, garbage, no key or no certificate, a key that
 * does not match, duplicates, a cancelled PIN dialog and a write failing
 * half-way must leave the token as it was.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "fixture.h"
#include "tap.h"
#include "tok.h"
#include "tok_internal.h"   /* to wrap the module's C_CreateObject */
#include "tok_pkcs12.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define PIN "123456"
#define P12_PASSWORD "p12-Test-pass"   /* test material: public */
#define FIXTURE_P12_PASSWORD "cardseal"
/* Under $CS_CORPORA (meson sets it to ../shared/corpora beside the source tree). */
#define PKITS_P12 "pkits-smime-pyca-vectors/PKITS_data/pkcs12/ValidRFC822nameConstraintsTest23EE.p12"
#define PKITS_PASSWORD "password"

static struct fixture fx;
static struct tok_ctx *ctx;
static const uint8_t digest[32] = "0123456789abcdef0123456789abcdef";

__attribute__((format(printf, 1, 2))) static int
run(const char *fmt, ...)
{
	char inner[4096], cmd[4200];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(inner, sizeof(inner), fmt, ap);
	va_end(ap);
	/* stdout is TAP's: the tools' chatter goes elsewhere. */
	snprintf(cmd, sizeof(cmd), "( %s ) >/dev/null", inner);
	r = system(cmd);
	if (r != 0)
		printf("# command failed (%d): %s\n", r, cmd);
	return r == 0 ? 0 : -1;
}

/* fx.work/name into a static buffer (one at a time). */
static const char *
work(const char *name)
{
	static char path[2][1024];
	static int which;

	which ^= 1;
	snprintf(path[which], sizeof(path[which]), "%s/%s", fx.work, name);
	return path[which];
}

static int
read_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*ret = NULL;
	*ret_len = 0;
	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (buf = malloc((size_t)n)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

/* A test CA, and an end-entity certificate from it: NAME.key, NAME.pem. */
static int
make_identity(const char *name, const char *newkey, const char *subject, const char *ext)
{
	static int serial = 100;
	char ext_path[1024];
	FILE *f;

	snprintf(ext_path, sizeof(ext_path), "%s/%s.ext", fx.work, name);
	if ((f = fopen(ext_path, "w")) == NULL)
		return -1;
	fputs(ext, f);
	fclose(f);
	if (run("openssl req -new -newkey %s -nodes -keyout '%s/%s.key' -subj '%s' "
	        "-out '%s/%s.csr' 2>/dev/null",
	        newkey, fx.work, name, subject, fx.work, name) != 0)
		return -1;
	return run("openssl x509 -req -in '%s/%s.csr' -CA '%s/ca.pem' -CAkey '%s/ca.key' "
	           "-set_serial %d -days 30 -extfile '%s' -out '%s/%s.pem' 2>/dev/null",
	           fx.work, name, fx.work, fx.work, serial++, ext_path, fx.work, name);
}

/* OUT from NAME.key and NAME.pem with the extra pkcs12 options (file names in fx.work). */
static int
make_p12(const char *name, const char *out, const char *password, const char *options)
{
	return run("cd '%s' && openssl pkcs12 -export -inkey %s.key -in %s.pem -passout 'pass:%s' "
	           "%s -out %s",
	           fx.work, name, name, password, options, out);
}

static int
make_material(void)
{
	char chain[PATH_MAX];

	fixture_path(&fx, "pki/chain.pem", chain, sizeof(chain));
	return run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	           "-keyout '%s/ca.key' -out '%s/ca.pem' -subj '/CN=P12 Test CA' -days 30 "
	           "-addext basicConstraints=critical,CA:TRUE "
	           "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null",
	           fx.work, fx.work) ||
	       /* The test CA and the fixture's two, which the cards already hold. */
	       run("cat '%s/ca.pem' '%s' > '%s/cas.pem'", fx.work, chain, fx.work) ||
	       make_identity("aes", "rsa:2048", "/CN=Pat Aes",
	                     "keyUsage=critical,digitalSignature,keyEncipherment\n"
	                     "subjectAltName=email:pat.aes@example.org\n") ||
	       make_identity("tdes", "rsa:2048", "/CN=Pat Tdes/emailAddress=pat.tdes@example.org",
	                     "keyUsage=critical,digitalSignature,nonRepudiation\n") ||
	       make_identity("rc2", "rsa:2048", "/CN=Pat Rc2",
	                     "keyUsage=critical,digitalSignature,keyEncipherment\n") ||
	       make_identity("ec", "ec -pkeyopt ec_paramgen_curve:P-256", "/CN=Pat Ec",
	                     "keyUsage=critical,digitalSignature,keyAgreement\n") ||
	       make_identity("ec384", "ec -pkeyopt ec_paramgen_curve:P-384", "/CN=Pat Ec384",
	                     "keyUsage=critical,digitalSignature\n") ||
	       make_p12("aes", "aes.p12", P12_PASSWORD, "-certfile cas.pem") ||
	       make_p12("tdes", "tdes.p12", P12_PASSWORD,
	                "-legacy -certpbe PBE-SHA1-3DES -keypbe PBE-SHA1-3DES -certfile ca.pem") ||
	       /* As Windows exports (its certificates are RC2-40 at least). */
	       make_p12("rc2", "rc2.p12", P12_PASSWORD,
	                "-legacy -certpbe PBE-SHA1-RC2-40 -keypbe PBE-SHA1-RC2-40 "
	                "-certfile ca.pem") ||
	       make_p12("ec", "ec.p12", P12_PASSWORD, "-certfile ca.pem") ||
	       make_p12("ec384", "ec384.p12", "", "") ||
	       make_identity("nousage", "rsa:2048", "/CN=Pat Nousage",
	                     "keyUsage=critical,keyAgreement\n") ||
	       make_p12("nousage", "nousage.p12", P12_PASSWORD, "") ||
	       make_p12("aes", "nomac.p12", P12_PASSWORD, "-nomac") ||
	       make_p12("aes", "nocert.p12", P12_PASSWORD, "-nocerts") ||
	       run("cd '%s' && openssl pkcs12 -export -nokeys -in aes.pem -passout 'pass:%s' "
	           "-out nokey.p12",
	           fx.work, P12_PASSWORD);
}

/* rc2.key with aes.pem, which OpenSSL's export refuses to write; the key in a plain keyBag. */
static int
make_mismatched(uint8_t **ret, size_t *ret_len)
{
	STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	FILE *kf = fopen(work("rc2.key"), "r"), *cf = fopen(work("aes.pem"), "r");
	EVP_PKEY *k = kf != NULL ? PEM_read_PrivateKey(kf, NULL, NULL, NULL) : NULL;
	X509 *x = cf != NULL ? PEM_read_X509(cf, NULL, NULL, NULL) : NULL;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	int n = -1;

	if (k != NULL && x != NULL && PKCS12_add_cert(&bags, x) != NULL &&
	    PKCS12_add_key(&bags, k, 0, PKCS12_DEFAULT_ITER, -1, P12_PASSWORD) != NULL &&
	    PKCS12_add_safe(&safes, bags, -1, 0, NULL) &&
	    (p12 = PKCS12_add_safes(safes, 0)) != NULL &&
	    PKCS12_set_mac(p12, P12_PASSWORD, -1, NULL, 0, 0, NULL))
		n = i2d_PKCS12(p12, &der);
	*ret = n > 0 ? der : NULL;
	*ret_len = n > 0 ? (size_t)n : 0;
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
	EVP_PKEY_free(k);
	X509_free(x);
	if (kf != NULL)
		fclose(kf);
	if (cf != NULL)
		fclose(cf);
	return n > 0 ? 0 : -1;
}

struct pins {
	int calls;
	int cancel;
};

static int
pin_cb(void *arg, const struct tok_pin_prompt *prompt, struct cs_secret **ret_pin)
{
	struct pins *p = arg;

	(void)prompt;
	*ret_pin = NULL;
	p->calls++;
	if (p->cancel)
		return CS_ERR_CANCELLED;
	*ret_pin = cs_secret_from(PIN, strlen(PIN));
	return *ret_pin != NULL ? 0 : CS_ERR_NOMEM;
}

/*
 * pkcs11-tool's view of a token (another process, reading the store): how
 * many objects it lists with args; if id_hex is given, how many of them have
 * that CKA_ID (its --id does not filter a listing) and the Access line of the
 * last such, in *acc.
 */
static int
tool_list(const char *token, const char *args, const char *id_hex, int *ret_with_id, char *acc,
          size_t acc_size)
{
	char cmd[1024], line[1024], *v;
	FILE *p;
	int n = 0, match = 0;

	snprintf(cmd, sizeof(cmd),
	         "pkcs11-tool --module %s --token-label %s --login --pin %s --list-objects %s "
	         "2>/dev/null",
	         SOFTHSM, token, PIN, args);
	if (ret_with_id != NULL)
		*ret_with_id = 0;
	if (acc != NULL)
		acc[0] = '\0';
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		v = strchr(line, ':') != NULL ? strchr(line, ':') + 1 : line;
		v += strspn(v, " \t");
		if (strstr(line, "Object;") != NULL) {
			n++;
			match = 0;
		} else if (id_hex != NULL && strncmp(line, "  ID:", 5) == 0) {
			match = strcasecmp(v, id_hex) == 0;
			if (match && ret_with_id != NULL)
				(*ret_with_id)++;
		} else if (match && acc != NULL && strncmp(line, "  Access:", 9) == 0) {
			snprintf(acc, acc_size, "%s", v);
		}
	}
	return pclose(p) == 0 ? n : -1;
}

static int
count_objects(const char *token)
{
	return tool_list(token, "", NULL, NULL, NULL, 0);
}

/*
 * Whether an Access line says sensitive and not extractable (as
 * make-fixtures checks): words between commas, "never extractable" allowed.
 */
static int
access_ok(const char *acc)
{
	char buf[256], *w, *save = NULL;
	int sensitive = 0, extractable = 0;

	snprintf(buf, sizeof(buf), "%s", acc);
	for (w = strtok_r(buf, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		while (*w == ' ' || *w == '\t')
			w++;
		sensitive |= strcmp(w, "sensitive") == 0;
		extractable |= strcmp(w, "extractable") == 0;
	}
	return sensitive && !extractable;
}

static X509 *
read_cert(const char *name)
{
	FILE *f = fopen(work(name), "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return x;
}

/* The CKA_ID the import should choose, as hex: SHA-1 of the subjectPublicKey bits. */
static void
expected_id(X509 *x, char *hex, size_t hex_size)
{
	const ASN1_BIT_STRING *bits = X509_get0_pubkey_bitstr(x);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0, i;

	hex[0] = '\0';
	if (EVP_Digest(ASN1_STRING_get0_data(bits), (size_t)ASN1_STRING_length(bits), md, &n,
	               EVP_sha1(), NULL) != 1)
		return;
	for (i = 0; i < n && 2 * i + 2 < hex_size; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static struct tok_identity *
find_by_uri(struct tok_identity *ids, size_t n, const char *key_uri)
{
	size_t i;

	for (i = 0; key_uri != NULL && i < n; i++) {
		if (strcmp(ids[i].key_uri, key_uri) == 0)
			return &ids[i];
	}
	return NULL;
}

static int
verify(EVP_PKEY *pub, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pub, NULL);
	int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
	         EVP_PKEY_CTX_set_signature_md(c, EVP_sha256()) == 1 &&
	         EVP_PKEY_verify(c, sig, sig_len, digest, sizeof(digest)) == 1;

	EVP_PKEY_CTX_free(c);
	return ok;
}

static int
import_file(const char *token_uri, const char *path, const char *password, const char *label,
            struct pins *pins, char **key_uri, char **cert_uri)
{
	struct cs_secret *pw = password != NULL ? cs_secret_from(password, strlen(password)) : NULL;
	uint8_t *p12 = NULL;
	size_t len = 0;
	int r;

	*key_uri = *cert_uri = NULL;
	if (read_file(path, &p12, &len) != 0)
		return CS_ERR_IO;
	r = tok_import_pkcs12(ctx, token_uri, p12, len, pw, label, pin_cb, pins, key_uri,
	                      cert_uri);
	cs_secret_free(pw);
	free(p12);
	return r;
}

/* What an imported identity must look like, and that its key works. */
struct expect {
	const char *token;
	const char *file;           /* in fx.work, or an absolute path */
	const char *password;
	const char *label;          /* passed to the import */
	const char *want_label;     /* on the token */
	const char *cert_pem;       /* in fx.work, for the expected CKA_ID; NULL: skip */
	int new_objects;            /* key, public key, certificate and new CA certificates */
	int can_sign, can_decrypt, can_derive;
};

static const char *
base(const char *path)
{
	return strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
}

static void
check_sign_decrypt(struct tok_identity *id, const struct expect *e)
{
	struct pins pins = { 0, 0 };
	struct tok_sign_request req = { id->key_uri, TOK_SIGN_RSA_PKCS1, NID_sha256, 0, 0, digest,
		                        sizeof(digest) };
	static const uint8_t secret[32] = "content-key-content-key-content!";
	struct tok_decrypt_request dreq = { id->key_uri, TOK_PAD_PKCS1, 0, 0, NULL, 0, NULL, 0 };
	const unsigned char *p = id->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)id->cert_len);
	EVP_PKEY *pub = x != NULL ? X509_get_pubkey(x) : NULL;
	struct cs_secret *out = NULL;
	uint8_t sig[1024], ct[1024];
	size_t sig_len = sizeof(sig), ct_len = sizeof(ct);
	EVP_PKEY_CTX *c;
	int r;

	if (id->key_type == TOK_KEY_EC)
		req.scheme = TOK_SIGN_ECDSA;
	r = tok_sign(ctx, &req, pin_cb, &pins, sig, &sig_len);
	CHECK(r == 0 && verify(pub, sig, sig_len),
	      "%s: the imported key signs, verified with the certificate (%s)", base(e->file),
	      cs_strerror(r));
	if (e->can_decrypt) {
		c = EVP_PKEY_CTX_new(pub, NULL);
		if (c == NULL || EVP_PKEY_encrypt_init(c) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_encrypt(c, ct, &ct_len, secret, sizeof(secret)) != 1)
			ct_len = 0;
		EVP_PKEY_CTX_free(c);
		dreq.in = ct;
		dreq.in_len = ct_len;
		r = tok_decrypt(ctx, &dreq, pin_cb, &pins, &out);
		CHECK(r == 0 && cs_secret_equal(out, secret, sizeof(secret)),
		      "%s: what was encrypted to the certificate decrypts on the token (%s)",
		      base(e->file), cs_strerror(r));
		cs_secret_free(out);
	}
	EVP_PKEY_free(pub);
	X509_free(x);
}

static void
check_derive(struct tok_identity *id, const struct expect *e)
{
	struct pins pins = { 0, 0 };
	const unsigned char *p = id->cert_der;
	X509 *x = d2i_X509(NULL, &p, (long)id->cert_len);
	EVP_PKEY *pub = x != NULL ? X509_get_pubkey(x) : NULL;
	EVP_PKEY *eph = EVP_EC_gen("P-256");
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(eph, NULL);
	uint8_t point[65], want[32];
	size_t point_len = 0, want_len = sizeof(want);
	struct cs_secret *out = NULL;
	int r;

	if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
	                                    sizeof(point), &point_len) != 1 ||
	    EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, pub) != 1 ||
	    EVP_PKEY_derive(c, want, &want_len) != 1)
		want_len = 0;
	r = tok_derive(ctx, id->key_uri, point, point_len, pin_cb, &pins, &out);
	CHECK(r == 0 && want_len > 0 && cs_secret_equal(out, want, want_len),
	      "%s: ECDH with the imported key equals the software result (%s)", base(e->file),
	      cs_strerror(r));
	cs_secret_free(out);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(eph);
	EVP_PKEY_free(pub);
	X509_free(x);
}

static void
check_import(const struct expect *e)
{
	char token_uri[128], path[PATH_MAX], hex[64], want_id[200], acc[256];
	struct pins pins = { 0, 0 };
	struct tok_identity *ids = NULL, *id;
	char *key_uri = NULL, *cert_uri = NULL;
	size_t n = 0, i;
	int before = count_objects(e->token), r, with_id = 0;
	X509 *x;

	snprintf(token_uri, sizeof(token_uri), "pkcs11:token=%s", e->token);
	if (e->file[0] == '/')
		snprintf(path, sizeof(path), "%s", e->file);
	else
		snprintf(path, sizeof(path), "%s", work(e->file));
	r = import_file(token_uri, path, e->password, e->label, &pins, &key_uri, &cert_uri);
	CHECK(r == 0 && key_uri != NULL && cert_uri != NULL, "%s imported into %s (%s)",
	      base(e->file), e->token, cs_strerror(r));
	if (r != 0)
		return;
	CHECK(strstr(key_uri, "type=private") != NULL && strstr(cert_uri, "type=cert") != NULL,
	      "%s: key and certificate URIs returned: %s", base(e->file), key_uri);
	CHECK_EQ_INT(count_objects(e->token) - before, e->new_objects,
	             "%s: pkcs11-tool sees the new objects, no more", base(e->file));
	if (e->cert_pem != NULL && (x = read_cert(e->cert_pem)) != NULL) {
		expected_id(x, hex, sizeof(hex));
		want_id[0] = '\0';
		for (i = 0; hex[2 * i] != '\0' && 3 * i + 4 <= sizeof(want_id); i++)
			snprintf(want_id + 3 * i, 4, "%%%c%c", hex[2 * i], hex[2 * i + 1]);
		CHECK(strcasestr(key_uri, want_id) != NULL,
		      "%s: CKA_ID is the SHA-1 of the public key (%s)", base(e->file), hex);
		X509_free(x);
		CHECK(tool_list(e->token, "--type privkey", hex, &with_id, acc, sizeof(acc)) > 0 &&
		          with_id == 1 && access_ok(acc),
		      "%s: one private key under that id, sensitive, not extractable (Access: %s)",
		      base(e->file), acc);
	}
	CHECK(tok_list_identities(ctx, &ids, &n) == 0 &&
	          (id = find_by_uri(ids, n, key_uri)) != NULL &&
	          strcmp(id->cert_uri, cert_uri) == 0,
	      "%s: listed as an identity under the returned URIs", base(e->file));
	id = find_by_uri(ids, n, key_uri);
	if (id != NULL) {
		CHECK(id->label != NULL && strcmp(id->label, e->want_label) == 0,
		      "%s: labelled '%s' (got '%s')", base(e->file), e->want_label,
		      id->label != NULL ? id->label : "(none)");
		CHECK(id->can_sign == e->can_sign && id->can_decrypt == e->can_decrypt &&
		          id->can_derive == e->can_derive && !id->local,
		      "%s: usage from keyUsage (sign %d decrypt %d derive %d), not CKA_LOCAL",
		      base(e->file), id->can_sign, id->can_decrypt, id->can_derive);
		if (id->can_sign)
			check_sign_decrypt(id, e);
		if (id->can_derive)
			check_derive(id, e);
	}
	tok_identities_free(ids, n);
	free(key_uri);
	free(cert_uri);
}

/* Failures that must leave the token exactly as it was. */
static void
check_refused(const char *what, const char *token_uri, const uint8_t *p12, size_t len,
              const char *password, struct pins *pins, int want)
{
	struct cs_secret *pw = password != NULL ? cs_secret_from(password, strlen(password)) : NULL;
	char *key_uri = (char *)"untouched", *cert_uri = (char *)"untouched";
	int before = count_objects("bob-card"), r;

	r = tok_import_pkcs12(ctx, token_uri, p12, len, pw, "x", pin_cb, pins, &key_uri, &cert_uri);
	CHECK_EQ_INT(r, want, "%s: %s", what, cs_error_name(want));
	CHECK(strcmp(key_uri, "untouched") == 0 && strcmp(cert_uri, "untouched") == 0 &&
	          count_objects("bob-card") == before,
	      "%s: nothing written, outputs untouched", what);
	cs_secret_free(pw);
}

/*
 * SoftHSM never fails a write half-way: the test makes it. The module's
 * function list is swapped for a copy whose C_CreateObject fails on call nth
 * (0: the real list again).
 */
static CK_FUNCTION_LIST wrapped;
static CK_FUNCTION_LIST *real_fn;
static int creates, fail_create_at;

static CK_RV
failing_create(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR ret)
{
	if (++creates == fail_create_at)
		return CKR_DEVICE_MEMORY;
	return real_fn->C_CreateObject(s, tmpl, n, ret);
}

static void
fail_nth_create(int nth)
{
	if (real_fn == NULL) {
		real_fn = ctx->modules[0].fn;
		wrapped = *real_fn;
		wrapped.C_CreateObject = failing_create;
	}
	creates = 0;
	fail_create_at = nth;
	ctx->modules[0].fn = nth > 0 ? &wrapped : real_fn;
}

static void
test_refusals(void)
{
	static const char *bob = "pkcs11:token=bob-card";
	struct pins pins = { 0, 0 };
	uint8_t *p12 = NULL, garbage[512], *big = calloc(1, TOK_PKCS12_MAX + 1);
	size_t len = 0, i;

	for (i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 11);
	CHECK(read_file(work("aes.p12"), &p12, &len) == 0, "aes.p12 read");
	check_refused("wrong password", bob, p12, len, "wrong", &pins, CS_ERR_PKCS12);
	check_refused("no password for a file that has one", bob, p12, len, NULL, &pins,
	              CS_ERR_PKCS12);
	CHECK_EQ_INT(pins.calls, 0, "a bad file costs no PIN dialog");
	check_refused("truncated file", bob, p12, len / 2, P12_PASSWORD, &pins, CS_ERR_PKCS12);
	check_refused("empty file", bob, p12, 0, P12_PASSWORD, &pins, CS_ERR_PKCS12);
	check_refused("garbage", bob, garbage, sizeof(garbage), P12_PASSWORD, &pins, CS_ERR_PKCS12);
	if (big != NULL)
		memcpy(big, p12, len);
	check_refused("over the size limit", bob, big, TOK_PKCS12_MAX + 1, P12_PASSWORD, &pins,
	              CS_ERR_TOO_LARGE);
	free(big);
	check_refused("a URI naming no token in particular", "pkcs11:", p12, len, P12_PASSWORD,
	              &pins, CS_ERR_INVALID_ARG);
	check_refused("a URI naming only the model", "pkcs11:model=SoftHSM%20v2", p12, len,
	              P12_PASSWORD, &pins, CS_ERR_INVALID_ARG);
	check_refused("an absent token", "pkcs11:token=nobody-card", p12, len, P12_PASSWORD, &pins,
	              CS_ERR_NO_TOKEN);
	check_refused("not a URI", "bob-card", p12, len, P12_PASSWORD, &pins, CS_ERR_BAD_FORMAT);
	free(p12);

	CHECK(read_file(work("rc2.p12"), &p12, &len) == 0, "rc2.p12 read");
	check_refused("RC2-40 file, wrong password", bob, p12, len, "wrong", &pins, CS_ERR_PKCS12);
	tok_logout_all(ctx);
	pins.cancel = 1;
	check_refused("cancelled PIN dialog", bob, p12, len, P12_PASSWORD, &pins, CS_ERR_CANCELLED);
	CHECK_EQ_INT(pins.calls, 1, "the PIN was asked once, after the file was read");
	pins.cancel = 0;
	/* rc2.p12 makes four objects on bob-card: key, public key, certificate, test CA. */
	fail_nth_create(3);
	check_refused("the certificate's write fails", bob, p12, len, P12_PASSWORD, &pins,
	              CS_ERR_TOKEN);
	fail_nth_create(4);
	check_refused("the CA certificate's write fails", bob, p12, len, P12_PASSWORD, &pins,
	              CS_ERR_TOKEN);
	CHECK(creates == 4, "the fourth write was the one that failed (%d writes)", creates);
	fail_nth_create(0);
	free(p12);

	CHECK(read_file(work("nomac.p12"), &p12, &len) == 0, "nomac.p12 read");
	check_refused("no MAC, wrong password: the decryption fails", bob, p12, len, "wrong", &pins,
	              CS_ERR_PKCS12);
	free(p12);
	CHECK(read_file(work("nousage.p12"), &p12, &len) == 0, "nousage.p12 read");
	check_refused("an RSA key its keyUsage allows nothing", bob, p12, len, P12_PASSWORD, &pins,
	              CS_ERR_MECHANISM);
	free(p12);
	CHECK(read_file(work("nocert.p12"), &p12, &len) == 0, "nocert.p12 read");
	check_refused("a key without its certificate", bob, p12, len, P12_PASSWORD, &pins,
	              CS_ERR_PKCS12);
	free(p12);
	CHECK(read_file(work("nokey.p12"), &p12, &len) == 0, "nokey.p12 read");
	check_refused("a certificate without a key", bob, p12, len, P12_PASSWORD, &pins,
	              CS_ERR_PKCS12);
	free(p12);
	CHECK(make_mismatched(&p12, &len) == 0, "file with another certificate's key made");
	check_refused("a key that does not match the certificate", bob, p12, len, P12_PASSWORD,
	              &pins, CS_ERR_PKCS12);
	OPENSSL_free(p12);
}

static void
test_twice(void)
{
	struct pins pins = { 0, 0 };
	char *key_uri = NULL, *cert_uri = NULL, hex[64] = "";
	int before = count_objects("bob-card"), with_id = 0, r;
	X509 *x = read_cert("aes.pem");

	if (x != NULL)
		expected_id(x, hex, sizeof(hex));
	X509_free(x);
	r = import_file("pkcs11:token=bob-card", work("aes.p12"), P12_PASSWORD, "again", &pins,
	                &key_uri, &cert_uri);
	CHECK_EQ_INT(r, CS_ERR_INVALID_ARG, "the same file again: already there");
	CHECK(key_uri == NULL && count_objects("bob-card") == before &&
	          tool_list("bob-card", "--type privkey", hex, &with_id, NULL, 0) > 0 &&
	          with_id == 1,
	      "nothing written the second time: still one key under its id");
}

static void
test_corpus(void)
{
	static char path[4096];
	static struct expect pkits = {
		"alice-card", NULL, PKITS_PASSWORD, "pkits", "pkits", NULL, 3, 1, 1, 0,
	};
	const char *corpora = getenv("CS_CORPORA");

	snprintf(path, sizeof(path), "%s/%s", corpora != NULL ? corpora : "", PKITS_P12);
	if (corpora == NULL || access(path, R_OK) != 0) {
		CHECK(1, "PKITS corpus file # SKIP not present: %s", path);
		return;
	}
	pkits.file = path;
	check_import(&pkits);
}

int
main(void)
{
	char fixture_p12[PATH_MAX];
	/* token, file, password, label, on the token, cert, new objects, sign/decrypt/derive */
	const struct expect imports[] = {
		/* The fixture's CAs in this file are on bob-card already: the test CA is new. */
		{ "bob-card", "aes.p12", P12_PASSWORD, "pat-aes", "pat-aes", "aes.pem", 4, 1, 1,
		  0 },
		{ "bob-card", "tdes.p12", P12_PASSWORD, "", "pat.tdes@example.org", "tdes.pem", 3,
		  1, 0, 0 },
		{ "bob-card", "rc2.p12", P12_PASSWORD, NULL, "Pat Rc2", "rc2.pem", 3, 1, 1, 0 },
		{ "carol-card", "ec.p12", P12_PASSWORD, "pat-ec", "pat-ec", "ec.pem", 4, 1, 0, 1 },
		{ "carol-card", "ec384.p12", NULL, "pat-ec384", "pat-ec384", "ec384.pem", 3, 1, 0,
		  0 },
		/* aes.p12's identity again, on another card, from a file without a MAC. */
		{ "carol-card", "nomac.p12", P12_PASSWORD, "pat-nomac", "pat-nomac", "aes.pem", 3,
		  1, 1, 0 },
		{ "carol-card", fixture_p12, FIXTURE_P12_PASSWORD, "bob-again", "bob-again", NULL,
		  3, 1, 1, 0 },
	};
	size_t i;

	if (fixture_setup(&fx) != 0)
		return 99;
	fixture_path(&fx, "pki/bob-rsa.legacy.p12", fixture_p12, sizeof(fixture_p12));
	CHECK(make_material() == 0, "test CA, identities and PKCS#12 files made with openssl");
	CHECK(tok_ctx_new(SOFTHSM, &ctx) == 0, "SoftHSM loaded");
	CHECK(count_objects("bob-card") == 8, "pkcs11-tool reads bob-card: 8 objects");
	test_refusals();
	for (i = 0; i < sizeof(imports) / sizeof(imports[0]); i++)
		check_import(&imports[i]);
	test_twice();
	test_corpus();
	CHECK(!OSSL_PROVIDER_available(NULL, "legacy"),
	      "RC2 files imported, yet the default library context never got the legacy provider");
	tok_ctx_free(ctx);
	fixture_teardown(&fx);
	return tap_done();
}
