/*
 * The certificate store's rules, at the library level (store.c) with the
 * fixture PKI: signer records keyed by public key, the newest signing time
 * wins, a day ahead is refused, an older message harvested adds nothing
 * but installed adds its certificate, sources, fingerprints, removal, and
 * the user's own identities staying remembered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "fixture.h"
#include "store.h"
#include "tap.h"

static struct fixture fx;

static X509 *
pki_cert(const char *name)
{
	char rel[256], path[PATH_MAX];
	FILE *f;
	X509 *x = NULL;

	snprintf(rel, sizeof(rel), "pki/%s.cert.pem", name);
	fixture_path(&fx, rel, path, sizeof(path));
	if ((f = fopen(path, "r")) != NULL) {
		x = PEM_read_X509(f, NULL, NULL, NULL);
		fclose(f);
	}
	if (x == NULL)
		printf("# cannot read %s\n", path);
	return x;
}

static const char *
fp_of(X509 *x)
{
	static char fps[8][65];
	static int next;
	char *fp = fps[next++ % 8];

	if (cs_cert_fingerprint(x, fp) != 0)
		fp[0] = '\0';
	return fp;
}

/* The stored certificate with fingerprint fp among all (its index), or -1. */
static int
find(struct cs_store *s, const char *addr, const char *fp, struct cs_store_cert *ret)
{
	struct cs_store_cert *certs = NULL;
	size_t n = 0, i;
	int at = -1;

	if (cs_store_list(s, addr, &certs, &n) != 0)
		return -2;
	for (i = 0; i < n; i++) {
		if (strcmp(certs[i].fingerprint, fp) == 0) {
			at = (int)i;
			if (ret != NULL) {
				*ret = certs[i];
				ret->cert = NULL;
				ret->capabilities = NULL;
				ret->has_record = certs[i].has_record;
				ret->capabilities_len = certs[i].capabilities_len;
			}
		}
	}
	cs_store_certs_free(certs, n);
	return at;
}

static const char *
preferred(struct cs_store *s, const char *addr)
{
	static char fp[65];

	if (cs_store_preferred(s, addr, fp) != 0)
		return "(error)";
	return fp;
}

int
main(void)
{
	struct cs_store *s = NULL;
	struct cs_store_signer h;
	struct cs_store_cert c;
	enum cs_record_outcome o;
	X509 *sign, *enc_rsa, *enc_ec, *inter, *bob, *got = NULL;
	STACK_OF(X509) *chain = sk_X509_new_null();
	static const unsigned char caps1[] = { 0x30, 0x0b, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86,
		                               0x48, 0xce, 0x3d, 0x02, 0x01 };
	static const unsigned char caps2[] = { 0x30, 0x0d, 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
		                               0x01, 0x65, 0x03, 0x04, 0x01, 0x2e };
	char path[PATH_MAX], colons[200];
	int64_t now = (int64_t)time(NULL);
	size_t i, k;

	if (fixture_setup(&fx) != 0) {
		printf("Bail out! fixtures\n");
		return 1;
	}
	sign = pki_cert("alice-sign-rsa");
	enc_rsa = pki_cert("alice-enc-rsa");
	enc_ec = pki_cert("alice-enc-ec");
	inter = pki_cert("inter-ca");
	bob = pki_cert("bob-rsa");
	if (sign == NULL || enc_rsa == NULL || enc_ec == NULL || bob == NULL) {
		printf("Bail out! fixture certificates\n");
		return 1;
	}
	if (inter != NULL)
		sk_X509_push(chain, inter);
	snprintf(path, sizeof(path), "%s/store", fx.work);
	CHECK(cs_store_open(path, &s) == 0, "the store opens (created)");

	/* 1. A first record: the signer, its encryption certificate, capabilities. */
	memset(&h, 0, sizeof(h));
	h.signer = sign;
	h.encryption_cert = enc_ec;
	h.chain = chain;
	h.address = "alice@example.org";
	h.capabilities = caps1;
	h.capabilities_len = sizeof(caps1);
	h.signing_time = now - 100;
	h.source = CS_SOURCE_HARVESTED;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_RECORDED,
	      "a first signed message is recorded");
	CHECK(strcmp(preferred(s, "alice@example.org"), fp_of(enc_ec)) == 0,
	      "its preference (alice-enc-ec) is the address's preferred certificate");
	CHECK(strcmp(preferred(s, "ALICE@example.org"), fp_of(enc_ec)) == 0,
	      "addresses compare without case");
	memset(&c, 0, sizeof(c));
	CHECK(find(s, "alice@example.org", fp_of(enc_ec), &c) >= 0 &&
	          strcmp(c.source, "harvested") == 0 && c.has_record &&
	          c.signing_time == now - 100 && c.capabilities_len == sizeof(caps1),
	      "alice-enc-ec stored: harvested, signing time and capabilities on record");
	CHECK(find(s, NULL, fp_of(inter), NULL) >= 0, "the intermediate is kept for paths");

	/* 2. An older message: nothing of it is recorded (RFC 8551 2.7.1). */
	h.encryption_cert = enc_rsa;
	h.capabilities = caps2;
	h.capabilities_len = sizeof(caps2);
	h.signing_time = now - 1000;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_OLDER,
	      "an older signing time is reported as older");
	CHECK(strcmp(preferred(s, "alice@example.org"), fp_of(enc_ec)) == 0,
	      "and the newer preference stands");
	CHECK(find(s, NULL, fp_of(enc_rsa), NULL) == -1,
	      "and the older message's certificate was not harvested");

	/* 3. More than a day ahead: refused. A little ahead (clock skew): fine. */
	h.signing_time = now + 2 * 24 * 3600;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_FUTURE,
	      "a signing time two days ahead is refused");
	CHECK(find(s, NULL, fp_of(enc_rsa), NULL) == -1 &&
	          strcmp(preferred(s, "alice@example.org"), fp_of(enc_ec)) == 0,
	      "and nothing of it was written");
	h.signing_time = now + CS_STORE_MAX_FUTURE + 1;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_FUTURE,
	      "one second past a day ahead is refused too");
	h.signing_time = now + 3600;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_RECORDED,
	      "an hour ahead (a clock off) is recorded");
	CHECK(strcmp(preferred(s, "alice@example.org"), fp_of(enc_rsa)) == 0,
	      "the newer message's preference (alice-enc-rsa) now wins");
	memset(&c, 0, sizeof(c));
	CHECK(find(s, "alice@example.org", fp_of(enc_rsa), &c) >= 0 &&
	          c.capabilities_len == sizeof(caps2) && c.signing_time == now + 3600,
	      "with the newer capabilities and signing time");
	memset(&c, 0, sizeof(c));
	CHECK(find(s, "alice@example.org", fp_of(sign), &c) >= 0 &&
	          c.capabilities_len == sizeof(caps2),
	      "one record per signer key: the signer's certificate shows the newest too");

	/* 4. Installing from an older message: its certificate goes in, the record stands. */
	h.encryption_cert = enc_ec;
	h.signing_time = now - 5000;
	h.source = CS_SOURCE_INSTALLED;
	CHECK(cs_store_record_signer(s, &h, now, &o) == 0 && o == CS_RECORD_OLDER,
	      "installing from an older message: older");
	memset(&c, 0, sizeof(c));
	CHECK(find(s, NULL, fp_of(enc_ec), &c) >= 0 && strcmp(c.source, "installed") == 0,
	      "the harvested certificate the user installed is now 'installed'");
	CHECK(strcmp(preferred(s, "alice@example.org"), fp_of(enc_rsa)) == 0,
	      "and the newest record's preference still stands");

	/* 5. Fingerprints as people type them. */
	for (i = 0, k = 0; fp_of(enc_rsa)[i] != '\0' && k + 3 < sizeof(colons); i++) {
		char ch = fp_of(enc_rsa)[i];

		colons[k++] = (char)(ch >= 'a' && ch <= 'f' ? ch - 'a' + 'A' : ch);
		if (i % 2 == 1 && fp_of(enc_rsa)[i + 1] != '\0')
			colons[k++] = ':';
	}
	colons[k] = '\0';
	CHECK(cs_store_get(s, colons, &got) == 0 && got != NULL && X509_cmp(got, enc_rsa) == 0,
	      "a fingerprint in upper case with colons finds the certificate");
	X509_free(got);
	got = NULL;
	CHECK(cs_store_get(s, "00ff", &got) == CS_ERR_INVALID_ARG, "a short fingerprint is refused");
	CHECK(cs_store_get(s, "zz", &got) == CS_ERR_INVALID_ARG, "a non-hex fingerprint is refused");

	/* 6. Removal takes the records naming it along. */
	CHECK(cs_store_remove(s, fp_of(enc_rsa)) == 0, "removing alice-enc-rsa");
	CHECK(find(s, NULL, fp_of(enc_rsa), NULL) == -1 &&
	          strcmp(preferred(s, "alice@example.org"), "") == 0,
	      "it is gone, and so is the record that preferred it");
	CHECK(cs_store_remove(s, fp_of(enc_rsa)) == CS_ERR_NOT_FOUND, "removing it again: not found");
	CHECK(find(s, NULL, fp_of(enc_ec), NULL) >= 0, "the other certificates stay");

	/* 7. The user's own identities stay remembered and cannot be removed. */
	CHECK(cs_store_remember_identity(s, "pkcs11:token=bob-card;id=%01", "bob-card", "0001",
	                                 bob) == 0,
	      "an identity is remembered");
	CHECK(cs_store_remove(s, fp_of(bob)) == CS_ERR_PERMISSION,
	      "removing one's own identity is refused");
	CHECK(cs_store_get(s, fp_of(bob), &got) == 0 && got != NULL && X509_cmp(got, bob) == 0,
	      "and its certificate can still be exported");
	X509_free(got);
	cs_store_close(s);
	s = NULL;
	CHECK(cs_store_open(path, &s) == 0 && cs_store_get(s, fp_of(bob), &got) == 0,
	      "after reopening the store, the identity is still there");
	X509_free(got);
	{
		X509 *expired = pki_cert("neg-expired");
		struct cs_store_identity *ids = NULL;
		size_t n_ids = 0, found = 0;

		CHECK(expired != NULL &&
		          cs_store_remember_identity(s, "pkcs11:token=old-card;id=%09", "old-card",
		                                     "0009", expired) == 0,
		      "an identity whose certificate has expired is remembered");
		CHECK(cs_store_identities(s, &ids, &n_ids) == 0, "the identities are listed");
		for (i = 0; i < n_ids; i++)
			found += X509_cmp(ids[i].cert, expired) == 0 &&
			         strcmp(ids[i].token_label, "old-card") == 0;
		CHECK(found == 1 && n_ids == 2,
		      "the expired one stays among them, with its card's label (old mail stays readable)");
		cs_store_identities_free(ids, n_ids);
		X509_free(expired);
	}

	cs_store_close(s);
	sk_X509_pop_free(chain, X509_free);
	X509_free(sign);
	X509_free(enc_rsa);
	X509_free(enc_ec);
	X509_free(bob);
	fixture_teardown(&fx);
	return tap_done();
}
