#include "test-read-util.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include "cs_error.h"

static void *
must(void *p)
{
	if (p == NULL) {
		fprintf(stderr, "test-read-util: out of memory\n");
		exit(99);
	}
	return p;
}

void
rt_init(struct rt *t)
{
	memset(t, 0, sizeof(*t));
	t->store = must(X509_STORE_new());
	t->untrusted = must(sk_X509_new_null());
	t->o.identities = t->ids;
	t->o.trust = t->store;
	t->o.intermediates = t->untrusted;
}

void
rt_free(struct rt *t)
{
	size_t i;

	for (i = 0; i < t->n_ids; i++) {
		X509_free(t->ids[i].cert);
		EVP_PKEY_free(t->keys[i]);
	}
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->untrusted, X509_free);
	memset(t, 0, sizeof(*t));
}

/* All certificates of a PEM file, or the one of a DER file. */
static STACK_OF(X509) *
load_certs(const char *path)
{
	STACK_OF(X509) *sk = must(sk_X509_new_null());
	BIO *b = BIO_new_file(path, "rb");
	X509 *x;

	if (b == NULL)
		goto out;
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	if (sk_X509_num(sk) == 0 && BIO_reset(b) == 0 && (x = d2i_X509_bio(b, NULL)) != NULL)
		sk_X509_push(sk, x);
out:
	ERR_clear_error();
	BIO_free(b);
	if (sk_X509_num(sk) == 0)
		fprintf(stderr, "test-read-util: no certificate in %s\n", path);
	return sk;
}

X509 *
rt_load_cert(const char *path)
{
	STACK_OF(X509) *sk = load_certs(path);
	X509 *x = sk_X509_num(sk) > 0 ? sk_X509_shift(sk) : NULL;

	sk_X509_pop_free(sk, X509_free);
	return x;
}

int
rt_add_anchors(struct rt *t, const char *path)
{
	STACK_OF(X509) *sk = load_certs(path);
	int i, n = sk_X509_num(sk);

	for (i = 0; i < n; i++)
		X509_STORE_add_cert(t->store, sk_X509_value(sk, i));
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return n > 0 ? 0 : -1;
}

int
rt_add_untrusted(struct rt *t, const char *path)
{
	STACK_OF(X509) *sk = load_certs(path);
	int n = sk_X509_num(sk);

	while (sk_X509_num(sk) > 0)
		sk_X509_push(t->untrusted, sk_X509_shift(sk));
	sk_X509_free(sk);
	return n > 0 ? 0 : -1;
}

int
rt_add_crl(struct rt *t, const char *path)
{
	BIO *b = BIO_new_file(path, "rb");
	X509_CRL *crl = NULL;
	int n = 0;

	if (b != NULL) {
		while ((crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) != NULL) {
			X509_STORE_add_crl(t->store, crl);
			X509_CRL_free(crl);
			n++;
		}
		ERR_clear_error();
		if (n == 0 && BIO_reset(b) == 0 && (crl = d2i_X509_CRL_bio(b, NULL)) != NULL) {
			X509_STORE_add_crl(t->store, crl);
			X509_CRL_free(crl);
			n++;
		}
	}
	ERR_clear_error();
	BIO_free(b);
	if (n == 0) {
		fprintf(stderr, "test-read-util: no CRL in %s\n", path);
		return -1;
	}
	t->o.have_crls = 1;
	return 0;
}

static int
get_key(void *arg, X509 *cert, EVP_PKEY **ret_key)
{
	struct rt *t = arg;
	size_t i;

	*ret_key = NULL;
	for (i = 0; i < t->n_ids; i++) {
		if (t->ids[i].cert == cert) {
			t->get_key_calls[i]++;
			if (t->get_key_error[i] != 0)
				return t->get_key_error[i];
			EVP_PKEY_up_ref(t->keys[i]);
			*ret_key = t->keys[i];
			return 0;
		}
	}
	return CS_ERR_NOT_FOUND;
}

static int
add_id(struct rt *t, EVP_PKEY *key, X509 *cert)
{
	if (t->n_ids == RT_MAX_IDS || key == NULL || cert == NULL) {
		EVP_PKEY_free(key);
		X509_free(cert);
		return -1;
	}
	t->keys[t->n_ids] = key;
	t->ids[t->n_ids].cert = cert;
	t->ids[t->n_ids].get_key = get_key;
	t->ids[t->n_ids].arg = t;
	t->n_ids++;
	t->o.n_identities = t->n_ids;
	return 0;
}

int
rt_add_identity(struct rt *t, const char *key_path, const char *cert_path)
{
	BIO *b = BIO_new_file(key_path, "rb");
	EVP_PKEY *k = NULL;

	if (b != NULL) {
		k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		if (k == NULL && BIO_reset(b) == 0)
			k = d2i_PrivateKey_bio(b, NULL);
	}
	ERR_clear_error();
	BIO_free(b);
	if (k == NULL)
		fprintf(stderr, "test-read-util: cannot read key %s\n", key_path);
	return add_id(t, k, rt_load_cert(cert_path));
}

int
rt_add_p12(struct rt *t, const char *path, const char *pass)
{
	BIO *b = BIO_new_file(path, "rb");
	PKCS12 *p12 = b != NULL ? d2i_PKCS12_bio(b, NULL) : NULL;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
	int r = -1;

	if (p12 != NULL && PKCS12_parse(p12, pass, &k, &x, &ca) == 1)
		r = add_id(t, k, x);
	else
		fprintf(stderr, "test-read-util: cannot read %s\n", path);
	sk_X509_pop_free(ca, X509_free);
	PKCS12_free(p12);
	BIO_free(b);
	ERR_clear_error();
	return r;
}

char *
rt_slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	*ret_len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = must(malloc((size_t)n + 1));
		if (fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = 0;
			*ret_len = (size_t)n;
		}
	}
	fclose(f);
	return p;
}

static int
read_bio(struct rt *t, BIO *in, char **ret_out, size_t *ret_len, struct cs_read_report *rep)
{
	BIO *out = must(BIO_new(BIO_s_mem()));
	char *data;
	long n;
	int r;

	r = cs_read(in, out, &t->o, rep);
	n = BIO_get_mem_data(out, &data);
	*ret_out = must(malloc((size_t)n + 1));
	if (n > 0)
		memcpy(*ret_out, data, (size_t)n);
	(*ret_out)[n] = 0;
	*ret_len = (size_t)n;
	BIO_free(out);
	return r;
}

int
rt_read_mem(struct rt *t, const void *p, size_t n, char **ret_out, size_t *ret_len,
            struct cs_read_report *rep)
{
	BIO *in = must(BIO_new_mem_buf(p, (int)n));
	int r = read_bio(t, in, ret_out, ret_len, rep);

	BIO_free(in);
	return r;
}

int
rt_read_file(struct rt *t, const char *path, char **ret_out, size_t *ret_len,
             struct cs_read_report *rep)
{
	BIO *in = BIO_new_file(path, "rb");
	int r;

	if (in == NULL) {
		fprintf(stderr, "test-read-util: cannot open %s\n", path);
		*ret_out = must(calloc(1, 1));
		*ret_len = 0;
		memset(rep, 0, sizeof(*rep));
		return CS_ERR_IO;
	}
	r = read_bio(t, in, ret_out, ret_len, rep);
	BIO_free(in);
	return r;
}

const char *
rt_verdict_name(enum cs_verdict v)
{
	switch (v) {
	case CS_VERDICT_UNSIGNED:
		return "UNSIGNED";
	case CS_VERDICT_VALID:
		return "VALID";
	case CS_VERDICT_INVALID:
		return "INVALID";
	case CS_VERDICT_UNTRUSTED:
		return "UNTRUSTED";
	case CS_VERDICT_EXPIRED:
		return "EXPIRED";
	case CS_VERDICT_REVOKED:
		return "REVOKED";
	case CS_VERDICT_MISMATCH:
		return "MISMATCH";
	}
	return "?";
}

static void
print_reasons(FILE *f, unsigned r)
{
	static const char *names[] = {
	    "EXPIRED",        "NOT_YET_VALID", "REVOKED",       "REVOCATION_UNKNOWN",
	    "UNTRUSTED_ROOT", "KEY_USAGE",     "EKU",           "ADDRESS_MISMATCH",
	    "WEAK_ALGORITHM", "WEAK_KEY",      "BAD_SIGNATURE",
	};
	size_t i;
	int first = 1;

	fputc('[', f);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (r & (1u << i)) {
			fprintf(f, "%s\"%s\"", first ? "" : ", ", names[i]);
			first = 0;
		}
	}
	fputc(']', f);
}

void
rt_print_report(FILE *f, int result, const struct cs_read_report *r)
{
	static const char *rev[] = {"unknown", "good", "revoked"};
	const struct cs_layer *l;
	size_t i;

	fprintf(f,
	        "{\"result\": \"%s\", \"verdict\": \"%s\", \"from\": \"%s\", "
	        "\"unprotected_parts\": %d, \"layers\": [",
	        result == 0 ? "OK" : cs_error_name(result), rt_verdict_name(r->verdict), r->from,
	        r->unprotected_parts);
	for (i = 0; i < r->n_layers; i++) {
		l = &r->layers[i];
		fprintf(f, "%s{", i > 0 ? ", " : "");
		if (l->kind == CS_LAYER_ENCRYPTED) {
			fprintf(f,
			        "\"kind\": \"encrypted\", \"cipher\": \"%s\", \"integrity\": %d, "
			        "\"identity\": %d, \"weak\": %d, \"reasons\": ",
			        l->cipher, l->integrity_protected, l->identity_index, l->weak);
		} else {
			fprintf(f,
			        "\"kind\": \"signed\", \"opaque\": %d, \"verdict\": \"%s\", "
			        "\"signer\": \"%s\", \"email_matches\": %d, \"digest\": \"%s\", "
			        "\"signing_time\": %lld, \"revocation\": \"%s\", \"weak\": %d, "
			        "\"reasons\": ",
			        l->opaque, rt_verdict_name(l->verdict), l->signer_email,
			        l->email_matches, l->digest, (long long)l->signing_time,
			        rev[l->revocation % 3], l->weak);
		}
		print_reasons(f, l->reasons);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
}
