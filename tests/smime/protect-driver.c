/*
 * protect-driver: runs cs_protect from a file (or stdin) to a file (or
 * stdout) with software keys, for the memory test and for trying things by
 * hand. Prints the error name on failure and, with -v, bytes, seconds and
 * throughput on stderr.
 *
 *   protect-driver [-v] [--sign KEY CERT] [--pss] [--md sha384] [--opaque]
 *                  [--chain PEM] [--enc-cert PEM]
 *                  [--recip CERT] [--recip-oaep CERT] [--cipher gcm|cbc|gcm128|cbc128]
 *                  IN OUT
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "cs_smime.h"

#define MAX_RECIPIENTS 16

static void
usage(void)
{
	fprintf(stderr, "usage: protect-driver [-v] [--sign KEY CERT] [--pss] [--md NAME] "
	                "[--opaque] [--chain PEM] [--enc-cert PEM] [--recip CERT] "
	                "[--recip-oaep CERT] [--cipher gcm|cbc|gcm128|cbc128] IN OUT\n");
	exit(2);
}

static X509 *
load_cert(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	X509 *x = b != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (x == NULL) {
		fprintf(stderr, "protect-driver: cannot read certificate %s\n", path);
		exit(2);
	}
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	EVP_PKEY *k = b != NULL ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;

	BIO_free(b);
	if (k == NULL) {
		fprintf(stderr, "protect-driver: cannot read key %s\n", path);
		exit(2);
	}
	return k;
}

static STACK_OF(X509) *
load_chain(const char *path)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *b = BIO_new_file(path, "r");
	X509 *x;

	if (sk == NULL || b == NULL) {
		fprintf(stderr, "protect-driver: cannot read %s\n", path);
		exit(2);
	}
	while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		sk_X509_push(sk, x);
	ERR_clear_error();
	BIO_free(b);
	return sk;
}

static void
progress(void *arg, uint64_t done)
{
	*(uint64_t *)arg = done;
}

int
main(int argc, char **argv)
{
	struct cs_recipient recips[MAX_RECIPIENTS];
	struct cs_signer signer;
	struct cs_protect_opts o;
	struct timespec t0, t1;
	uint64_t done = 0;
	BIO *in, *out;
	double secs;
	int i, r, verbose = 0;

	memset(&o, 0, sizeof(o));
	memset(&signer, 0, sizeof(signer));
	memset(recips, 0, sizeof(recips));
	o.recipients = recips;
	o.progress = progress;
	o.progress_arg = &done;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-v") == 0) {
			verbose = 1;
		} else if (strcmp(a, "--sign") == 0 && i + 2 < argc) {
			signer.key = load_key(argv[++i]);
			signer.cert = load_cert(argv[++i]);
			o.sign = 1;
			o.signer = &signer;
		} else if (strcmp(a, "--pss") == 0) {
			signer.rsa_pss = 1;
		} else if (strcmp(a, "--md") == 0 && i + 1 < argc) {
			if ((signer.md = EVP_get_digestbyname(argv[++i])) == NULL)
				usage();
		} else if (strcmp(a, "--opaque") == 0) {
			o.opaque = 1;
		} else if (strcmp(a, "--chain") == 0 && i + 1 < argc) {
			signer.chain = load_chain(argv[++i]);
		} else if (strcmp(a, "--enc-cert") == 0 && i + 1 < argc) {
			signer.encryption_cert = load_cert(argv[++i]);
		} else if ((strcmp(a, "--recip") == 0 || strcmp(a, "--recip-oaep") == 0) &&
		           i + 1 < argc && o.n_recipients < MAX_RECIPIENTS) {
			recips[o.n_recipients].rsa_oaep = strcmp(a, "--recip-oaep") == 0;
			recips[o.n_recipients++].cert = load_cert(argv[++i]);
			o.encrypt = 1;
		} else if (strcmp(a, "--cipher") == 0 && i + 1 < argc) {
			const char *c = argv[++i];

			if (strcmp(c, "gcm") == 0)
				o.cipher = CS_CIPHER_AES256_GCM;
			else if (strcmp(c, "cbc") == 0)
				o.cipher = CS_CIPHER_AES256_CBC;
			else if (strcmp(c, "gcm128") == 0)
				o.cipher = CS_CIPHER_AES128_GCM;
			else if (strcmp(c, "cbc128") == 0)
				o.cipher = CS_CIPHER_AES128_CBC;
			else
				usage();
		} else {
			usage();
		}
	}
	if (argc - i != 2)
		usage();
	in = strcmp(argv[i], "-") == 0 ? BIO_new_fp(stdin, BIO_NOCLOSE) : BIO_new_file(argv[i], "rb");
	out = strcmp(argv[i + 1], "-") == 0 ? BIO_new_fp(stdout, BIO_NOCLOSE)
	                                    : BIO_new_file(argv[i + 1], "wb");
	if (in == NULL || out == NULL) {
		fprintf(stderr, "protect-driver: cannot open input or output\n");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = cs_protect(in, out, &o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (r != 0) {
		fprintf(stderr, "protect-driver: %s (%s)\n", cs_error_name(r), cs_strerror(r));
		ERR_print_errors_fp(stderr);
	} else if (verbose) {
		fprintf(stderr, "protect-driver: %llu bytes in %.2f s: %.1f MB/s\n",
		        (unsigned long long)done, secs, secs > 0 ? (double)done / secs / 1e6 : 0.0);
	}
	BIO_free(in);
	BIO_free_all(out);
	EVP_PKEY_free(signer.key);
	X509_free(signer.cert);
	X509_free(signer.encryption_cert);
	sk_X509_pop_free(signer.chain, X509_free);
	for (i = 0; i < (int)o.n_recipients; i++)
		X509_free(recips[i].cert);
	return r == 0 ? 0 : 1;
}
