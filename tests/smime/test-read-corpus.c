/*
 * cs_read against the external corpora in ../shared/corpora (read-only,
 * located through CS_CORPORA). Expected verdicts and plaintexts come from
 * the corpus itself: file names (Thunderbird's NSS-made messages name every
 * layer), READMEs, the plaintext
 * files shipped beside the messages, or, where a corpus ships no plaintext,
 * what `openssl cms -decrypt` in a separate process makes of the message.
 * Every case where our verdict differs from what the name alone suggests is
 * listed with its reason (the `why` column, printed with the test).
 *
 * Trust anchors used (nothing else is trusted):
 *   Thunderbird: its TestCA.pem ("NSS Test CA (RSA)"), the same file in both
 *                data directories; identities Bob.p12, Fran.p12, Fran-ec.p12
 *                (password nss)
 *   RFC 4134:    CarlRSASelf.cer and CarlDSSSelf.cer; identity BobPrivRSAEncrypt.pri
 *   OpenSSL:     smime-certs/smroot.pem; identities smec3, smrsa1 (key+cert PEMs);
 *                the PKITS trust anchor for the PKITS message OpenSSL ships
 *   Bouncy Castle ECDH: no signatures; identity ecdh/ecc.key + ecc.crt
 *   PKITS:       the whole suite runs in tests/pkits against PKITS's published
 *                results; only the message OpenSSL ships is read here
 *
 * Policy differences that apply throughout (DESIGN.md "S/MIME rules"):
 * SHA-1, 3DES, RC2, DSA and RSA < 2048 are flagged weak, not rejected
 * (Thunderbird rejects SHA-1 signatures); signingTime is reported, not
 * compared with Date (Thunderbird rejects alice.future); a signature
 * around an encryption layer counts like any other (Thunderbird ignores
 * it, bug 1806161); the overall verdict is the worst layer's; a revocation
 * status that cannot be determined is reported as unknown, not as invalid.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "cs_error.h"
#include "cs_smime.h"
#include "tap.h"
#include "test-read-util.h"

#define TB "thunderbird-comm-central/mailnews/test/data/smime/"
#define TBM "thunderbird-comm-central/mailnews/test/data/smime-manual/"
#define TBI "thunderbird-comm-central/mailnews/test/data/smime-interop/"
#define TBB "thunderbird-comm-central/mail/test/browser/smime/data/"
#define R4134 "rfc4134-bc-test-data/rfc4134/"
#define OSSL "openssl-test/test/"
#define OSSLM "openssl-test/newer-from-openssl-master/test/"
#define ECDH "bc-java-smime-cms/pkix/src/test/resources/org/bouncycastle/cms/test/ecdh/"
#define PKITS "pkits-smime-pyca-vectors/PKITS_data/"

static char root[4096];
static char tmp[] = "/tmp/cs-corpus-XXXXXX";

static const char *
C(const char *rel)
{
	static char bufs[8][8192];
	static int i;

	i = (i + 1) % 8;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", root, rel);
	return bufs[i];
}

static const char *
T(const char *name)
{
	static char bufs[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", tmp, name);
	return bufs[i];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[16384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

/* The layers as a string, outermost first: "S=VALID E S=MISMATCH". */
static void
layers_str(const struct cs_read_report *r, char *out, size_t size)
{
	size_t i, n = 0;

	out[0] = 0;
	for (i = 0; i < r->n_layers && n < size; i++) {
		if (r->layers[i].kind == CS_LAYER_ENCRYPTED)
			n += (size_t)snprintf(out + n, size - n, "%sE", i ? " " : "");
		else
			n += (size_t)snprintf(out + n, size - n, "%sS=%s", i ? " " : "",
			                      rt_verdict_name(r->layers[i].verdict));
	}
}

/* The body of a message: what follows its first empty line. */
static const char *
body_of(const char *m)
{
	const char *p = strstr(m, "\r\n\r\n"), *q = strstr(m, "\n\n");

	if (p != NULL && (q == NULL || p < q))
		return p + 4;
	return q != NULL ? q + 2 : m;
}

/* Wraps a bare CMS file (DER, or PEM with -----BEGIN lines) in a MIME header. */
static const char *
wrap(const char *path, const char *from, const char *name)
{
	size_t n, i;
	char *d = rt_slurp(path, &n), *line, *save = NULL;
	FILE *f = fopen(T(name), "wb");

	if (d == NULL || f == NULL) {
		printf("# cannot wrap %s\n", path);
		exit(99);
	}
	fprintf(f, "From: %s\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime\r\n",
	        from);
	if (n > 10 && strncmp(d, "-----BEGIN", 10) == 0) {
		fprintf(f, "Content-Transfer-Encoding: base64\r\n\r\n");
		for (line = strtok_r(d, "\r\n", &save); line != NULL;
		     line = strtok_r(NULL, "\r\n", &save)) {
			if (strncmp(line, "-----", 5) != 0)
				fprintf(f, "%s\r\n", line);
		}
	} else {
		/* DER starts with a SEQUENCE; anything else here is bare base64 text. */
		fprintf(f, "Content-Transfer-Encoding: %s\r\n\r\n",
		        n > 0 && (uint8_t)d[0] == 0x30 ? "binary" : "base64");
		for (i = 0; i < n; i++)
			fputc(d[i], f);
	}
	fclose(f);
	free(d);
	return T(name);
}

struct expect {
	int r;
	enum cs_verdict verdict;
	const char *layers; /* NULL: not checked */
	const char *text;   /* the body must contain it; NULL: not checked */
	const char *why; /* why this differs from what the name alone says; NULL if it does not */
};

/* Reads one message and checks it; returns the output (caller frees). */
static char *
check(struct rt *t, const char *path, const char *what, const struct expect *e,
      struct cs_read_report *rep)
{
	char got[256], *out;
	size_t n;
	int r;

	r = rt_read_file(t, path, &out, &n, rep);
	layers_str(rep, got, sizeof(got));
	if (e->why != NULL)
		printf("# %s: %s\n", what, e->why);
	CHECK(r == e->r && (r != 0 || rep->verdict == e->verdict) &&
	          (e->layers == NULL || strcmp(got, e->layers) == 0),
	      "%s: %s %s [%s]", what, cs_error_name(r), rt_verdict_name(rep->verdict), got);
	if (r != e->r || (e->layers != NULL && strcmp(got, e->layers) != 0))
		printf("#   want %s %s [%s]\n", cs_error_name(e->r), rt_verdict_name(e->verdict),
		       e->layers != NULL ? e->layers : "-");
	if (e->text != NULL)
		CHECK(strstr(body_of(out), e->text) != NULL, "%s: plaintext has \"%.40s\"", what,
		      e->text);
	return out;
}

/* ------------------------------------------------------------ Thunderbird */

/* The sentence of alice.textplain, the source of every alice.* message. */
static char tb_text[256];

/*
 * Expectation from an NSS test file name: the operations from the inside
 * out ("env"; "dsig.SHAx.multipart" or "sig.SHAx.opaque" by the current
 * signer; "dave" makes Dave the signer from there on), "bad" and
 * "mismatch-econtent" for a content that does not match its signature. The
 * message is From the last signer; a signature by anyone else is a
 * MISMATCH.
 */
static void
tb_expect(const char *name, char *layers, size_t size, int *ret_bad, int *ret_sha1)
{
	char ops[16][24], *copy = strdup(name), *tok, *save = NULL;
	int n = 0, i, dave = 0, last_dave = 0, k = 0;
	size_t len = 0;

	*ret_bad = strstr(name, ".bad.") != NULL || strstr(name, "mismatch-econtent") != NULL;
	*ret_sha1 = strstr(name, "SHA1") != NULL;
	for (tok = strtok_r(copy, ".", &save); tok != NULL && n < 16;
	     tok = strtok_r(NULL, ".", &save)) {
		if (strcmp(tok, "env") == 0) {
			strcpy(ops[n++], "E");
		} else if (strcmp(tok, "dsig") == 0 || strcmp(tok, "sig") == 0) {
			strcpy(ops[n++], dave ? "Sd" : "Sa");
		} else if (strcmp(tok, "dave") == 0) {
			dave = 1;
		}
	}
	free(copy);
	for (i = 0; i < n; i++)
		last_dave |= ops[i][0] == 'S' && ops[i][1] == 'd';
	layers[0] = 0;
	for (i = n - 1; i >= 0; i--, k++) {
		const char *s;

		if (ops[i][0] == 'E')
			s = "E";
		else if (*ret_bad)
			s = "S=INVALID";
		else if ((ops[i][1] == 'd') == (last_dave != 0))
			s = "S=VALID";
		else
			s = "S=MISMATCH";
		len += (size_t)snprintf(layers + len, size - len, "%s%s", k ? " " : "", s);
	}
}

static enum cs_verdict
worst(const char *layers)
{
	if (strstr(layers, "INVALID") != NULL)
		return CS_VERDICT_INVALID;
	if (strstr(layers, "MISMATCH") != NULL)
		return CS_VERDICT_MISMATCH;
	if (strstr(layers, "VALID") != NULL)
		return CS_VERDICT_VALID;
	return CS_VERDICT_UNSIGNED;
}

static void
test_thunderbird(void)
{
	static const struct {
		const char *file;
		struct expect e;
		int openssl_fails; /* openssl cms -verify also rejects the outer signature */
	} listed[] = {
	    /* enveloped, then clear-signed by Alice: the names promise a good outer signature. */
	    {TB "alice.env.dsig.SHA1.multipart.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E", NULL,
	      "the outer signature does not match the regenerated enveloped part (openssl cms "
	      "-verify agrees; Thunderbird ignores signatures around encryption)"},
	     1},
	    {TB "alice.env.dsig.SHA256.multipart.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E", NULL, "as SHA1 above"},
	     1},
	    {TB "alice.env.dsig.SHA384.multipart.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E", NULL, "as SHA1 above"},
	     1},
	    {TB "alice.env.dsig.SHA512.multipart.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E", NULL, "as SHA1 above"},
	     1},
	    /* smime-manual/readme.txt: outer signatures taken from other messages. */
	    {TBM "alice.env.mixed.dsig.SHA256.multipart.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL,
	      "readme: the signature does not match the data; the encrypted part inside the "
	      "signed multipart/mixed is not decrypted (only the top-level entity counts)"},
	     1},
	    {TBM "alice.dsig.SHA256.multipart.env.dsig.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E S=VALID", NULL,
	      "readme: crafted outer signature; the worst layer decides (Thunderbird ignores the "
	      "outer one)"},
	     1},
	    {TBM "outer-smime-bad-sig-inner-smime-enc.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E", NULL, "readme: the outer signature mismatches"},
	     1},
	    {TBM "outer-smime-bad-sig-inner-smime-enc-sig.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID E S=VALID", NULL,
	      "readme: the outer signature mismatches"},
	     1},
	    {TBM "outer-pgp-sig-inner-smime-enc.eml",
	     {0, CS_VERDICT_UNSIGNED, "", NULL,
	      "PGP/MIME is not ours: not protected, the S/MIME part inside is left alone"},
	     0},
	    {TBM "outer-pgp-sig-inner-smime-enc-sig.eml",
	     {0, CS_VERDICT_UNSIGNED, "", NULL, "as above"},
	     0},
	    {TBB "alice.dsig.SHA256.multipart.env.eml",
	     {0, CS_VERDICT_VALID, "E S=VALID", NULL, NULL},
	     0},
	    {TBB "alice.env.eml", {0, CS_VERDICT_UNSIGNED, "E", NULL, NULL}, 0},
	    {TBB "alice.sig.SHA256.opaque.eml", {0, CS_VERDICT_VALID, "S=VALID", NULL, NULL}, 0},
	    {TBB "alice.sig.SHA256.opaque.env.eml",
	     {0, CS_VERDICT_VALID, "E S=VALID", NULL, NULL},
	     0},
	    {TBB "alice.html.sig.SHA256.opaque.env.eml",
	     {0, CS_VERDICT_VALID, "E S=VALID", NULL, NULL},
	     0},
	    {TBB "alice.html.sig.SHA256.opaque.eml",
	     {0, CS_VERDICT_UNTRUSTED, "S=UNTRUSTED", NULL,
	      "signed by an Alice certificate of an older NSS Test CA than this directory's "
	      "TestCA.pem (openssl verify: certificate signature failure)"},
	     0},
	    {TBB "alice.dsig.SHA256.multipart.in.mixed.eml",
	     {0, CS_VERDICT_UNSIGNED, "", NULL,
	      "mailing-list footer beside a signed part: not protected, 1 unprotected part"},
	     0},
	    {TBB "alice.dsig.SHA256.multipart.in.mixed.with.header.eml",
	     {0, CS_VERDICT_UNSIGNED, "", NULL,
	      "list header and footer beside a signed part: 2 unprotected parts"},
	     0},
	    {TBB "multipart-alternative.eml",
	     {0, CS_VERDICT_UNSIGNED, "", NULL,
	      "two encrypted alternatives (bait and prey): nothing at the top level is protected"},
	     0},
	    {TBB "nested-sigs.eml",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL,
	      "the real-world outer signature does not match (openssl cms -verify agrees)"},
	     1},
	};
	static const int unprotected[] = {-1, -1, -1, -1, -1, -1, -1, -1, 1, 1,
	                                  -1, -1, -1, -1, -1, -1, 1,  2,  1, -1};
	struct cs_read_report rep;
	struct rt t;
	struct expect e;
	char layers[128], *out, *tp, *nl;
	DIR *d;
	struct dirent *de;
	size_t n, i;
	int bad, sha1, count = 0;

	rt_init(&t);
	if (rt_add_anchors(&t, C(TB "TestCA.pem")) != 0 ||
	    rt_add_p12(&t, C(TB "Bob.p12"), "nss") != 0 ||
	    rt_add_p12(&t, C(TBI "Fran.p12"), "nss") != 0 ||
	    rt_add_p12(&t, C(TBI "Fran-ec.p12"), "nss") != 0) {
		CHECK(0, "Thunderbird keys and anchor load");
		rt_free(&t);
		return;
	}
	t.o.spill_dir = tmp;
	if ((tp = rt_slurp(C(TB "alice.textplain"), &n)) != NULL) {
		snprintf(tb_text, sizeof(tb_text), "%s", body_of(tp));
		if ((nl = strpbrk(tb_text, "\r\n")) != NULL)
			*nl = 0;
		free(tp);
	}
	CHECK(strlen(tb_text) > 10, "alice.textplain gives the text: \"%s\"", tb_text);
	/* Every alice.*.eml of the NSS set, expectation from its name unless listed. */
	if ((d = opendir(C(TB))) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		char rel[512];
		int listed_here = 0;

		if (strncmp(name, "alice.", 6) != 0 || strstr(name, ".eml") == NULL)
			continue;
		snprintf(rel, sizeof(rel), TB "%s", name);
		for (i = 0; i < sizeof(listed) / sizeof(listed[0]); i++)
			listed_here |= strcmp(listed[i].file, rel) == 0;
		if (listed_here)
			continue;
		tb_expect(name, layers, sizeof(layers), &bad, &sha1);
		e.r = 0;
		e.verdict = worst(layers);
		e.layers = layers;
		e.text = bad ? NULL : tb_text;
		e.why = sha1 ? "SHA-1: valid but flagged weak (Thunderbird rejects SHA-1 by policy)"
		        : strstr(name, "future") != NULL
		            ? "Date 6 h after signingTime: signingTime is reported, not trusted or "
		              "compared"
		            : NULL;
		out = check(&t, C(rel), name, &e, &rep);
		if (sha1 && strstr(layers, "S=") != NULL) {
			int any_weak = 0;

			for (i = 0; i < rep.n_layers; i++)
				any_weak |=
				    rep.layers[i].kind == CS_LAYER_SIGNED && rep.layers[i].weak;
			CHECK(any_weak, "%s: SHA-1 flagged weak", name);
		}
		if (strstr(layers, "S=VALID") != NULL) {
			for (i = 0; i < rep.n_layers; i++) {
				if (rep.layers[i].kind == CS_LAYER_SIGNED &&
				    rep.layers[i].verdict == CS_VERDICT_VALID)
					CHECK(strcasecmp(rep.layers[i].signer_email,
					                 strstr(name, "dave")
					                     ? "dave@example.com"
					                     : "alice@example.com") == 0,
					      "%s: signer %s", name, rep.layers[i].signer_email);
			}
		}
		free(out);
		cs_read_report_clear(&rep);
		count++;
	}
	closedir(d);
	CHECK(count >= 60, "%d NSS messages read by name", count);
	for (i = 0; i < sizeof(listed) / sizeof(listed[0]); i++) {
		const char *name = strrchr(listed[i].file, '/') + 1;

		out = check(&t, C(listed[i].file), name, &listed[i].e, &rep);
		if (unprotected[i] >= 0)
			CHECK_EQ_INT(rep.unprotected_parts, unprotected[i], "%s: unprotected parts",
			             name);
		if (listed[i].openssl_fails)
			CHECK(
			    sh("openssl cms -verify -noverify -in '%s' -out /dev/null 2>/dev/null",
			       C(listed[i].file)) != 0,
			    "%s: openssl cms -verify rejects the outer signature too", name);
		free(out);
		cs_read_report_clear(&rep);
	}
	/* smime-interop: OpenSSL-made envelopes to Fran (OAEP with labels and SHA-256, ECDH). */
	if (sh("openssl pkcs12 -in '%s' -passin pass:nss -nodes -out '%s' 2>/dev/null && "
	       "openssl pkcs12 -in '%s' -passin pass:nss -nodes -out '%s' 2>/dev/null",
	       C(TBI "Fran.p12"), T("fran.pem"), C(TBI "Fran-ec.p12"), T("fran-ec.pem")) == 0) {
		static const char *files[] = {
		    "fran-oaep_ossl.env",
		    "fran-oaep-label_ossl.env",
		    "fran-oaep-sha256hash_ossl.env",
		    "fran-oaep-sha256hash-sha256mgf_ossl.env",
		    "fran-ec_ossl-aes128-sha256.env",
		    "fran-ec_ossl-aes256-sha512.env",
		};
		char rel[256], *want;

		for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(rel, sizeof(rel), TBI "%s", files[i]);
			e = (struct expect){0, CS_VERDICT_UNSIGNED, "E", NULL, NULL};
			out = check(&t, C(rel), files[i], &e, &rep);
			/* No plaintext ships with these: openssl cms -decrypt is the oracle. */
			if (sh("openssl cms -decrypt -in '%s' -inkey '%s' -out '%s' 2>/dev/null",
			       C(rel), T(strstr(files[i], "-ec_") ? "fran-ec.pem" : "fran.pem"),
			       T("oracle")) == 0 &&
			    (want = rt_slurp(T("oracle"), &n)) != NULL) {
				CHECK(strcmp(body_of(out), body_of(want)) == 0,
				      "%s: plaintext equals openssl cms -decrypt's", files[i]);
				free(want);
			} else {
				CHECK(0, "%s: openssl cms -decrypt", files[i]);
			}
			free(out);
			cs_read_report_clear(&rep);
		}
	}
	rt_free(&t);
}

/* ------------------------------------------------------------ RFC 4134 */

static void
test_rfc4134(void)
{
	static const struct {
		const char *file;
		const char *from; /* for the .bin files, which have no header */
		struct expect e;
		int weak;
	} cases[] = {
	    {"4.1.bin",
	     "AliceDSS@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "", "SHA-1 and DSA: weak"},
	     1},
	    {"4.2.bin",
	     "AliceRSA@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "", "SHA-1, RSA-1024: weak"},
	     1},
	    {"4.4.bin",
	     "AliceDSS@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "", "SHA-1 and DSA: weak"},
	     1},
	    {"4.5.bin",
	     "AliceRSA@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "", "SHA-1, RSA-1024: weak"},
	     1},
	    {"4.6.bin",
	     "AliceDSS@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "",
	      "multiple signers: Diane's DSA key inherits its parameters, which OpenSSL cannot use "
	      "(corpus README); the message is as good as its best signer, Alice"},
	     1},
	    {"4.7.bin",
	     "AliceDSS@example.com",
	     {0, CS_VERDICT_VALID, "S=VALID", "", "signer by SKI; weak"},
	     1},
	    {"4.10.bin", "AliceDSS@example.com", {0, CS_VERDICT_VALID, "S=VALID", "", "weak"}, 1},
	    {"4.11.bin",
	     "AliceDSS@example.com",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL,
	      "certificates only: a SignedData nobody signed protects nothing"},
	     0},
	    {"5.1.bin", "BobRSA@example.com", {0, CS_VERDICT_UNSIGNED, "E", "", "3DES: weak"}, 1},
	    {"5.2.bin",
	     "BobRSA@example.com",
	     {0, CS_VERDICT_UNSIGNED, "E", "",
	      "RC2/128: legacy provider in a library context of its own; weak"},
	     1},
	    {"6.0.bin",
	     "x@example.com",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL,
	      "digested-data is no S/MIME protection we read"},
	     0},
	    {"7.1.bin",
	     "x@example.com",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL,
	      "encrypted-data (pre-shared key) is not read"},
	     0},
	    {"7.2.bin",
	     "x@example.com",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL, "as 7.1"},
	     0},
	    {"4.8.eml",
	     NULL,
	     {0, CS_VERDICT_MISMATCH, "S=MISMATCH", "",
	      "From aliceDss@examples.com but the certificate says AliceDSS@example.com"},
	     1},
	    {"4.9.eml", NULL, {0, CS_VERDICT_MISMATCH, "S=MISMATCH", "", "as 4.8"}, 1},
	    {"5.3.eml", NULL, {0, CS_VERDICT_UNSIGNED, "E", "", "3DES: weak"}, 1},
	};
	struct cs_read_report rep;
	struct rt t;
	struct expect e;
	char rel[128], *content, *out, *nl;
	const char *path;
	size_t n, i, k;
	int weak;

	rt_init(&t);
	if (rt_add_anchors(&t, C(R4134 "CarlRSASelf.cer")) != 0 ||
	    rt_add_anchors(&t, C(R4134 "CarlDSSSelf.cer")) != 0 ||
	    rt_add_identity(&t, C(R4134 "BobPrivRSAEncrypt.pri"),
	                    C(R4134 "BobRSASignByCarl.cer")) != 0 ||
	    (content = rt_slurp(C(R4134 "ExContent.bin"), &n)) == NULL) {
		CHECK(0, "RFC 4134 keys and anchors load");
		rt_free(&t);
		return;
	}
	if ((nl = strpbrk(content, "\r\n")) != NULL)
		*nl = 0;
	t.o.spill_dir = tmp;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rel, sizeof(rel), R4134 "%s", cases[i].file);
		path = cases[i].from != NULL ? wrap(C(rel), cases[i].from, "rfc.eml") : C(rel);
		e = cases[i].e;
		/* The content of every example is ExContent.bin. */
		if (e.text != NULL)
			e.text = content;
		out = check(&t, path, cases[i].file, &e, &rep);
		for (k = 0, weak = 0; k < rep.n_layers; k++)
			weak |= rep.layers[k].weak;
		if (e.r == 0 && e.text != NULL)
			CHECK(weak == cases[i].weak, "%s: weak %d", cases[i].file, weak);
		free(out);
		cs_read_report_clear(&rep);
	}
	free(content);
	rt_free(&t);
}

/* ------------------------------------------------------------ OpenSSL */

static void
test_openssl(void)
{
	static const struct {
		const char *file;
		struct expect e;
	} cases[] = {
	    /* test/recipes/80-test_cms_data: attributes OpenSSL's tests require rejecting. */
	    {"recipes/80-test_cms_data/no_md_attr.cms",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, NULL}},
	    {"recipes/80-test_cms_data/no_ct_attr.cms",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, NULL}},
	    {"recipes/80-test_cms_data/ct_multiple_attr.cms",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, NULL}},
	    {"recipes/80-test_cms_data/bad_signtime_attr.cms",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, NULL}},
	    {"recipes/80-test_cms_data/pkcs7-md4.pem",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL,
	      "MD4 is in no loaded provider: the digest cannot be checked (openssl cms agrees)"}},
	    {"recipes/80-test_cms_data/pkcs7-md4-encrypted.pem",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL,
	      "PKCS#7 signedAndEnvelopedData is not read"}},
	    {"recipes/80-test_cmsapi_data/encryptedData.der",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL, "encrypted-data is not read"}},
	    {"recipes/25-test_pkcs7_data/malformed.pkcs7",
	     {CS_ERR_TRUNCATED, CS_VERDICT_UNSIGNED, NULL, NULL, NULL}},
	    {"recipes/25-test_pkcs7_data/grfc.out",
	     {CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL, NULL}},
	    {"d2i-tests/bad-cms.der", {CS_ERR_TRUNCATED, CS_VERDICT_UNSIGNED, NULL, NULL, NULL}},
	    {"pkcs7-1.pem",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, "MD2 signature: no provider has MD2"}},
	    {"testp7.pem",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL, "certificates only: nobody signed"}},
	    {"pkcs7.pem",
	     {0, CS_VERDICT_INVALID, "S=INVALID", NULL,
	      "certificates only (bare indented base64 of indefinite BER): nobody signed"}},
	};
	struct cs_read_report rep;
	struct rt t, pk;
	struct expect e;
	char rel[256], *out, *want;
	size_t i, n;

	rt_init(&t);
	if (rt_add_anchors(&t, C(OSSL "smime-certs/smroot.pem")) != 0 ||
	    rt_add_identity(&t, C(OSSL "smime-certs/smec3.pem"), C(OSSL "smime-certs/smec3.pem")) !=
	        0 ||
	    rt_add_identity(&t, C(OSSL "smime-certs/smrsa1.pem"),
	                    C(OSSL "smime-certs/smrsa1.pem")) != 0) {
		CHECK(0, "OpenSSL test keys load");
		rt_free(&t);
		return;
	}
	t.o.spill_dir = tmp;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(rel, sizeof(rel), OSSL "%s", cases[i].file);
		out = check(&t, wrap(C(rel), "nobody@example.org", "ossl.eml"), cases[i].file,
		            &cases[i].e, &rep);
		free(out);
		cs_read_report_clear(&rep);
	}
	/* ECDH ciphertext made by OpenSSL 1.1.1, a complete S/MIME message; no plaintext ships. */
	e = (struct expect){0, CS_VERDICT_UNSIGNED, "E", NULL, "3DES: weak"};
	out = check(&t, C(OSSL "recipes/80-test_cms_data/ciphertext_from_1_1_1.cms"),
	            "ciphertext_from_1_1_1", &e, &rep);
	if (sh("openssl cms -decrypt -in '%s' -inkey '%s' -out '%s' 2>/dev/null",
	       C(OSSL "recipes/80-test_cms_data/ciphertext_from_1_1_1.cms"),
	       C(OSSL "smime-certs/smec3.pem"), T("oracle")) == 0 &&
	    (want = rt_slurp(T("oracle"), &n)) != NULL) {
		CHECK(strcmp(body_of(out), body_of(want)) == 0 && n > 20,
		      "ciphertext_from_1_1_1: plaintext equals openssl cms -decrypt's");
		free(want);
	}
	free(out);
	cs_read_report_clear(&rep);
	/* Newer test data from OpenSSL master. */
	e = (struct expect){CS_ERR_NOT_FOUND, CS_VERDICT_UNSIGNED, NULL, NULL,
	                    "KEK recipient (pre-shared key): no identity of ours is named"};
	out = check(&t,
	            wrap(C(OSSLM "recipes/80-test_cms_data/authenveloped_attrs.pem"),
	                 "x@example.org", "m.eml"),
	            "authenveloped_attrs", &e, &rep);
	free(out);
	cs_read_report_clear(&rep);
	out = check(&t,
	            wrap(C(OSSLM "recipes/80-test_cms_data/bad_authenveloped_attrs.pem"),
	                 "x@example.org", "m.eml"),
	            "bad_authenveloped_attrs", &e, &rep);
	free(out);
	cs_read_report_clear(&rep);
	e = (struct expect){CS_ERR_BAD_FORMAT, CS_VERDICT_UNSIGNED, NULL, NULL,
	                    "authenticated-data (MAC) is not read"};
	out = check(&t,
	            wrap(C(OSSLM "recipes/80-test_cms_data/authenticated_attrs.pem"),
	                 "x@example.org", "m.eml"),
	            "authenticated_attrs", &e, &rep);
	free(out);
	cs_read_report_clear(&rep);
	e = (struct expect){
	    0, CS_VERDICT_UNTRUSTED, "S=UNTRUSTED", NULL,
	    "empty digestAlgorithms SET: the signature still verifies; its self-signed "
	    "'PoC Signer' is no anchor of ours"};
	out = check(&t, C(OSSLM "smime-eml/pkcs7-empty-digest-set.eml"), "pkcs7-empty-digest-set",
	            &e, &rep);
	CHECK(rep.n_layers == 1 && !(rep.layers[0].reasons & CS_REASON_BAD_SIGNATURE),
	      "pkcs7-empty-digest-set: the signature itself verifies");
	free(out);
	cs_read_report_clear(&rep);
	rt_free(&t);
	/* PKITS 4.10.7 as OpenSSL ships it, against the PKITS anchor: an invalid policy mapping. */
	rt_init(&pk);
	if (rt_add_anchors(&pk, C(PKITS "certs/TrustAnchorRootCertificate.crt")) == 0) {
		e = (struct expect){0, CS_VERDICT_UNTRUSTED, "S=UNTRUSTED", NULL, NULL};
		out = check(&pk, C(OSSL "smime-eml/SignedInvalidMappingFromanyPolicyTest7.eml"),
		            "SignedInvalidMappingFromanyPolicyTest7", &e, &rep);
		free(out);
		cs_read_report_clear(&rep);
	}
	rt_free(&pk);
}

/* ------------------------------------------------------------ Bouncy Castle ECDH */

static void
test_bc_ecdh(void)
{
	static const char *ids = "12345678ABCDEFGH";
	struct cs_read_report rep;
	struct rt t;
	struct expect e;
	char rel[256], name[32], *sess, *want, *out;
	size_t n, i, k;

	rt_init(&t);
	if (rt_add_identity(&t, C(ECDH "ecc.key"), C(ECDH "ecc.crt")) != 0 ||
	    (sess = rt_slurp(C(ECDH "sess.txt"), &n)) == NULL) {
		CHECK(0, "BC ECDH key loads");
		rt_free(&t);
		return;
	}
	/* Made by `openssl cms -encrypt` in text mode: the content is sess.txt with CRLF. */
	want = malloc(2 * n + 1);
	for (i = 0, k = 0; i < n; i++) {
		if (sess[i] == '\n' && (i == 0 || sess[i - 1] != '\r'))
			want[k++] = '\r';
		want[k++] = sess[i];
	}
	want[k] = 0;
	t.o.spill_dir = tmp;
	for (i = 0; ids[i] != 0; i++) {
		snprintf(name, sizeof(name), "encSess%c.asc", ids[i]);
		snprintf(rel, sizeof(rel), ECDH "%s", name);
		e = (struct expect){0, CS_VERDICT_UNSIGNED, "E", NULL, NULL};
		out = check(&t, wrap(C(rel), "x@example.org", "ecdh.eml"), name, &e, &rep);
		CHECK(strcmp(body_of(out), want) == 0, "%s: plaintext is sess.txt", name);
		free(out);
		cs_read_report_clear(&rep);
	}
	free(want);
	free(sess);
	rt_free(&t);
}

int
main(void)
{
	const char *c = getenv("CS_CORPORA");

	if (c == NULL || access(c, R_OK) != 0) {
		printf("1..0 # SKIP no corpora (CS_CORPORA unset or unreadable)\n");
		return 0;
	}
	snprintf(root, sizeof(root), "%s", c);
	if (mkdtemp(tmp) == NULL) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	setenv("OPENSSL_CONF", "/dev/null", 1);
	test_thunderbird();
	test_rfc4134();
	test_openssl();
	test_bc_ecdh();
	sh("rm -rf '%s'", tmp);
	return tap_done();
}
