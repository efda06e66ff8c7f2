/*
 * Fuzz target: cs_read on arbitrary bytes, with one software identity (an
 * EC key made for this target only; the seed messages in corpus/read are
 * signed by and encrypted to it) that is also the trust anchor, so that
 * decryption, verification and every MIME path stay reachable. Output goes
 * to a memory BIO, the spill to $TMPDIR.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cs_smime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Test material only, made for this target: no secret. */
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
                              "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgVh0dxJ1NAH3+aiIr\n"
                              "9JbexGV294bpfm04RSFGxxJFuB2hRANCAARkwDNvnJ+fYKOg7WOua7JDTKYHKETU\n"
                              "JC8gILu+xJA9aj3VRxbX5MVpoJn1JvEdNZXPF7dLLLgLBcgQzrKUH8Gn\n"
                              "-----END PRIVATE KEY-----\n";
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIIB4jCCAYegAwIBAgIUaFU9aubb9mWcBR/TE8Wld1MCFY0wCgYIKoZIzj0EAwIw\n"
                               "MDENMAsGA1UEAwwERnV6ejEfMB0GCSqGSIb3DQEJARYQZnV6ekBleGFtcGxlLm9y\n"
                               "ZzAgFw0yNjExMjgxMjQ0MDlaGA8yMTI2MTEwNDEyNDQwOVowMDENMAsGA1UEAwwE\n"
                               "RnV6ejEfMB0GCSqGSIb3DQEJARYQZnV6ekBleGFtcGxlLm9yZzBZMBMGByqGSM49\n"
                               "AgEGCCqGSM49AwEHA0IABGTAM2+cn59go6DtY65rskNMpgcoRNQkLyAgu77EkD1q\n"
                               "PdVHFtfkxWmgmfUm8R01lc8Xt0ssuAsFyBDOspQfwaejfTB7MB0GA1UdDgQWBBSp\n"
                               "7fzAWN6Zj+GydihJ1TQEwJC4mDAfBgNVHSMEGDAWgBSp7fzAWN6Zj+GydihJ1TQE\n"
                               "wJC4mDAPBgNVHRMBAf8EBTADAQH/MBsGA1UdEQQUMBKBEGZ1enpAZXhhbXBsZS5v\n"
                               "cmcwCwYDVR0PBAQDAgOIMAoGCCqGSM49BAMCA0kAMEYCIQCWITH7+ZgkfTGPajWB\n"
                               "gJ6m/mtq+WHPT4TkiyY4eXdHgQIhAJUw69iwqfCvKVxmXk8D22S4Bg90U5lH1jlf\n"
                               "2I/3ibwi\n"
                               "-----END CERTIFICATE-----\n";

static EVP_PKEY *key;
static X509 *cert;
static X509_STORE *store;

static int
get_key(void *arg, X509 *c, EVP_PKEY **ret_key)
{
	EVP_PKEY_up_ref(key);
	*ret_key = key;
	return 0;
}

static int
setup(void)
{
	BIO *b;

	if (key != NULL)
		return 0;
	b = BIO_new_mem_buf(key_pem, -1);
	key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(cert_pem, -1);
	cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	store = X509_STORE_new();
	if (key == NULL || cert == NULL || store == NULL || X509_STORE_add_cert(store, cert) != 1)
		return -1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_identity id = {.get_key = get_key};
	struct cs_read_opts o;
	struct cs_read_report rep;
	BIO *in, *out;

	memset(&rep, 0, sizeof(rep));
	if (setup() != 0 || size > 1u << 20)
		return 0;
	memset(&o, 0, sizeof(o));
	id.cert = cert;
	o.identities = &id;
	o.n_identities = 1;
	o.trust = store;
	in = BIO_new_mem_buf(data, (int)size);
	out = BIO_new(BIO_s_mem());
	if (in != NULL && out != NULL)
		(void)cs_read(in, out, &o, &rep);
	cs_read_report_clear(&rep);
	BIO_free(in);
	BIO_free(out);
	ERR_clear_error();
	return 0;
}
