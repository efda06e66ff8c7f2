/*
 * Encrypted layers: EnvelopedData (RFC 5652 6) and AuthEnvelopedData with
 * AES-GCM (RFC 5083, 5084), decrypted in one pass.
 *
 * OpenSSL cannot parse a CMS stream, so the walker captures the small parts
 * (version, originatorInfo, RecipientInfos, content type and algorithm; for
 * GCM a placeholder MAC) and builds a content-free DER ContentInfo from them.
 * OpenSSL unwraps the content key from it (CMS_decrypt_set1_pkey_and_peer,
 * with the key of the identity a RecipientInfo names) and sets up the cipher
 * (CMS_dataInit); the ciphertext octets then go through that cipher context
 * chunk by chunk. For GCM the tag, which follows the content, is set before
 * the final call. The plaintext feeds the inner entity's reader while the
 * output is quarantined in the spill, so nothing of it reaches the caller
 * before the tag verified.
 *
 * authAttrs of AuthEnvelopedData are refused: they would have to be
 * authenticated before the content they follow, and OpenSSL 3.0 encodes
 * them with the wrong tag anyway.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "read_priv.h"
#include "spill.h"

#define MAX_SMALL 4096
#define MAX_ORIGINATOR (256u * 1024)
#define MAX_RECIPIENTS (1u * 1024 * 1024)
#define ENV_CHUNK (64u * 1024)

static const uint8_t oid_enveloped_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
static const uint8_t oid_auth_enveloped_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                                                  0x01, 0x09, 0x10, 0x01, 0x17};

/* The plaintext of the encrypted content, as a source. */
struct env_src {
	struct rd_src src;
	struct ber_octets o;
	struct ber *b;
	EVP_CIPHER_CTX *ctx;
	int auth;
	size_t icv_len;
	uint8_t *in;
	uint8_t *out; /* ENV_CHUNK + a block of room for the cipher */
	size_t out_pos, out_len;
	int finished;
	int status; /* first error, sticky */
};

/* After the ciphertext: the rest of the structure, and for GCM the tag. */
static int
finish_structure(struct env_src *s)
{
	struct ber *b = s->b;
	struct ber_tlv t;
	uint8_t id, mac[16];
	size_t mac_len;
	int r;

	if ((r = ber_leave(b)) != 0 || (r = ber_peek(b, &id)) != 0)
		return r;
	if (!s->auth) {
		/* unprotectedAttrs [1]: nothing we use. */
		if (id == BER_CTX_CONS(1) &&
		    ((r = ber_next(b, &t)) != 0 || (r = ber_skip(b, &t)) != 0))
			return r;
		return ber_leave(b);
	}
	if (id == BER_CTX_CONS(1) || id == BER_CTX_CONS(2))
		return CS_ERR_DECRYPT; /* authAttrs (or their 3.0 mis-tagging): see the top */
	if ((r = ber_expect(b, BER_OCTETS, &t)) != 0)
		return r;
	if (t.len != s->icv_len)
		return CS_ERR_DECRYPT;
	if ((r = ber_read_prim(b, &t, mac, sizeof(mac), &mac_len)) != 0)
		return r;
	if (EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_SET_TAG, (int)mac_len, mac) != 1)
		return CS_ERR_DECRYPT;
	/* unauthAttrs [2]: nothing we use. */
	if ((r = ber_peek(b, &id)) != 0)
		return r;
	if (id == BER_CTX_CONS(2) && ((r = ber_next(b, &t)) != 0 || (r = ber_skip(b, &t)) != 0))
		return r;
	return ber_leave(b);
}

static int
env_read(struct rd_src *src, uint8_t *buf, size_t cap, size_t *ret_n)
{
	struct env_src *s = (struct env_src *)src;
	size_t n;
	int outl, r;

	*ret_n = 0;
	while (s->status == 0) {
		if (s->out_pos < s->out_len) {
			n = s->out_len - s->out_pos < cap ? s->out_len - s->out_pos : cap;
			memcpy(buf, s->out + s->out_pos, n);
			s->out_pos += n;
			*ret_n = n;
			return 0;
		}
		if (s->finished)
			return 0;
		if ((r = s->o.src.read(&s->o.src, s->in, ENV_CHUNK, &n)) != 0) {
			s->status = r;
			break;
		}
		s->out_pos = s->out_len = 0;
		if (n > 0) {
			if (EVP_DecryptUpdate(s->ctx, s->out, &outl, s->in, (int)n) != 1)
				s->status = CS_ERR_DECRYPT;
			else
				s->out_len = (size_t)outl;
			continue;
		}
		if ((r = finish_structure(s)) != 0) {
			s->status = r;
			break;
		}
		/* CBC padding or the GCM tag: either way the same answer (RFC 3218). */
		if (EVP_DecryptFinal_ex(s->ctx, s->out, &outl) != 1)
			s->status = CS_ERR_DECRYPT;
		else
			s->out_len = (size_t)outl;
		s->finished = 1;
	}
	ERR_clear_error();
	return s->status;
}

static int
is_gcm(int nid)
{
	return nid == NID_aes_128_gcm || nid == NID_aes_192_gcm || nid == NID_aes_256_gcm;
}

/* Cipher name and weakness for the report. */
static void
describe_cipher(int nid, struct cs_layer *layer)
{
	static const struct {
		int nid;
		const char *name;
		int weak;
	} names[] = {
	    {NID_aes_256_gcm, "AES-256-GCM", 0},   {NID_aes_192_gcm, "AES-192-GCM", 0},
	    {NID_aes_128_gcm, "AES-128-GCM", 0},   {NID_aes_256_cbc, "AES-256-CBC", 0},
	    {NID_aes_192_cbc, "AES-192-CBC", 0},   {NID_aes_128_cbc, "AES-128-CBC", 0},
	    {NID_des_ede3_cbc, "DES-EDE3-CBC", 1}, {NID_rc2_cbc, "RC2-CBC", 1},
	    {NID_des_cbc, "DES-CBC", 1},
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (names[i].nid == nid) {
			snprintf(layer->cipher, sizeof(layer->cipher), "%s", names[i].name);
			layer->weak = names[i].weak;
			if (layer->weak)
				layer->reasons |= CS_REASON_WEAK_ALGORITHM;
			return;
		}
	}
	snprintf(layer->cipher, sizeof(layer->cipher), "%s",
	         nid != NID_undef ? OBJ_nid2sn(nid) : "unknown");
	/* Whatever is not in the table is old: CAST, Blowfish, RC2-40 ... */
	layer->weak = 1;
	layer->reasons |= CS_REASON_WEAK_ALGORITHM;
}

/*
 * RC2 and single DES (Windows, old mail) live in OpenSSL's legacy provider.
 * Loading it into the default library context would make MD4 and the like
 * available to every later signature check in the process, so it gets a
 * library context of its own (with the default provider beside it), used
 * only for a content cipher the default provider lacks. Key operations still
 * reach a token key's provider through the key.
 */
static CRYPTO_ONCE legacy_once = CRYPTO_ONCE_STATIC_INIT;
static OSSL_LIB_CTX *legacy_ctx;

static void
legacy_init(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (ctx != NULL && OSSL_PROVIDER_load(ctx, "default") != NULL &&
	    OSSL_PROVIDER_load(ctx, "legacy") != NULL)
		legacy_ctx = ctx;
	else
		OSSL_LIB_CTX_free(ctx);
	ERR_clear_error();
}

/* The library context for content cipher nid: NULL (default) or the legacy one. */
static OSSL_LIB_CTX *
cipher_libctx(int nid)
{
	EVP_CIPHER *cipher;

	if (nid == NID_undef)
		return NULL;
	if ((cipher = EVP_CIPHER_fetch(NULL, OBJ_nid2sn(nid), NULL)) != NULL) {
		EVP_CIPHER_free(cipher);
		return NULL;
	}
	ERR_clear_error();
	if (!CRYPTO_THREAD_run_once(&legacy_once, legacy_init))
		return NULL;
	return legacy_ctx;
}

/* The ICV length of GCMParameters (RFC 5084: default 12); 0 if unusable. */
static size_t
gcm_icv_len(const X509_ALGOR *alg)
{
	const ASN1_TYPE *param = alg->parameter;
	struct rd_mem_src m;
	struct rd_in in;
	struct ber b;
	struct ber_tlv t;
	uint8_t v[16];
	size_t n, icv = 0;
	int end;

	if (param == NULL || param->type != V_ASN1_SEQUENCE)
		return 0;
	rd_mem_src_init(&m, param->value.sequence->data, (size_t)param->value.sequence->length);
	if (rd_in_init(&in, &m.src, 256) != 0)
		return 0;
	ber_init(&b, &in);
	if (ber_expect(&b, BER_SEQ, &t) != 0 || ber_enter(&b, &t) != 0 ||
	    ber_expect(&b, BER_OCTETS, &t) != 0 || t.len < 1 || ber_skip(&b, &t) != 0 ||
	    ber_at_end(&b, &end) != 0)
		goto out;
	if (end) {
		icv = 12;
	} else if (ber_expect(&b, BER_INTEGER, &t) == 0 &&
	           ber_read_prim(&b, &t, v, sizeof(v), &n) == 0 && n == 1) {
		icv = v[0];
	}
	/* Shorter tags are allowed by RFC 5084 and make forgeries cheap: refused. */
	if (icv < 12 || icv > 16 || ber_leave(&b) != 0)
		icv = 0;
out:
	rd_in_free(&in);
	return icv;
}

/* Nonzero if a RecipientInfo of cms names cert. */
static int
names_cert(CMS_ContentInfo *cms, X509 *cert)
{
	STACK_OF(CMS_RecipientInfo) *ris = CMS_get0_RecipientInfos(cms);
	STACK_OF(CMS_RecipientEncryptedKey) *reks;
	CMS_RecipientInfo *ri;
	int i, j;

	for (i = 0; i < sk_CMS_RecipientInfo_num(ris); i++) {
		ri = sk_CMS_RecipientInfo_value(ris, i);
		switch (CMS_RecipientInfo_type(ri)) {
		case CMS_RECIPINFO_TRANS:
			if (CMS_RecipientInfo_ktri_cert_cmp(ri, cert) == 0)
				return 1;
			break;
		case CMS_RECIPINFO_AGREE:
			reks = CMS_RecipientInfo_kari_get0_reks(ri);
			for (j = 0; j < sk_CMS_RecipientEncryptedKey_num(reks); j++) {
				if (CMS_RecipientEncryptedKey_cert_cmp(
				        sk_CMS_RecipientEncryptedKey_value(reks, j), cert) == 0)
					return 1;
			}
			break;
		default:
			break;
		}
	}
	return 0;
}

/*
 * Unwraps the content key with the first identity a RecipientInfo names that
 * yields a key. CS_ERR_NOT_FOUND when none is named; a get_key error is
 * passed on (the first one, or at once for a cancel).
 */
static int
unwrap_key(struct rd_ctx *c, CMS_ContentInfo *cms, struct cs_layer *layer)
{
	const struct cs_identity *id;
	EVP_PKEY *key;
	size_t i;
	int first = 0, ok, r;

	for (i = 0; i < c->opts->n_identities; i++) {
		id = &c->opts->identities[i];
		if (id->cert == NULL || id->get_key == NULL || !names_cert(cms, id->cert))
			continue;
		key = NULL;
		if ((r = id->get_key(id->arg, id->cert, &key)) != 0 || key == NULL) {
			if (r == 0)
				r = CS_ERR_INTERNAL;
			if (r == CS_ERR_CANCELLED)
				return r;
			if (first == 0)
				first = r;
			continue;
		}
		ok = CMS_decrypt_set1_pkey_and_peer(cms, key, id->cert, NULL);
		EVP_PKEY_free(key);
		ERR_clear_error();
		if (ok != 1)
			return CS_ERR_DECRYPT;
		layer->identity_index = (int)i;
		return 0;
	}
	ERR_clear_error();
	return first != 0 ? first : CS_ERR_NOT_FOUND;
}

static int
is_parse_error(int r)
{
	return r == CS_ERR_BAD_FORMAT || r == CS_ERR_TRUNCATED || r == CS_ERR_TOO_LARGE ||
	       r == CS_ERR_TRAILING || r == CS_ERR_DECRYPT;
}

int
rd_enveloped(struct rd_ctx *c, struct ber *b, int auth, int level)
{
	struct cs_layer *layer;
	struct ber_tlv t, content;
	struct cs_buf ver, orig, ris, eci, ctype, alg, mac, ci;
	struct env_src es;
	struct rd_in plain;
	CMS_ContentInfo *cms = NULL;
	OSSL_LIB_CTX *libctx;
	X509_ALGOR *calg = NULL;
	BIO *bio = NULL, *cbio;
	const unsigned char *p;
	uint8_t id, zero[16] = {0};
	int nid, r, r2;

	memset(&es, 0, sizeof(es));
	memset(&plain, 0, sizeof(plain));
	cs_buf_init(&ver, MAX_SMALL);
	cs_buf_init(&orig, MAX_ORIGINATOR);
	cs_buf_init(&ris, MAX_RECIPIENTS);
	cs_buf_init(&eci, 3 * MAX_SMALL);
	cs_buf_init(&ctype, MAX_SMALL);
	cs_buf_init(&alg, MAX_SMALL);
	cs_buf_init(&mac, MAX_SMALL);
	cs_buf_init(&ci, MAX_ORIGINATOR + MAX_RECIPIENTS + 8 * MAX_SMALL);
	if ((r = rd_layer_new(c, CS_LAYER_ENCRYPTED, &layer)) != 0)
		goto out;
	layer->integrity_protected = auth;
	if ((r = ber_expect(b, BER_SEQ, &t)) != 0 || (r = ber_enter(b, &t)) != 0 ||
	    (r = ber_expect(b, BER_INTEGER, &t)) != 0 || (r = ber_capture(b, &t, &ver)) != 0 ||
	    (r = ber_peek(b, &id)) != 0)
		goto out;
	if (id == BER_CTX_CONS(0) &&
	    ((r = ber_next(b, &t)) != 0 || (r = ber_capture(b, &t, &orig)) != 0))
		goto out;
	if ((r = ber_expect(b, BER_SET, &t)) != 0 || (r = ber_capture(b, &t, &ris)) != 0 ||
	    (r = ber_expect(b, BER_SEQ, &t)) != 0 || (r = ber_enter(b, &t)) != 0 ||
	    (r = ber_expect(b, BER_OID, &t)) != 0 || (r = ber_capture(b, &t, &ctype)) != 0 ||
	    (r = ber_expect(b, BER_SEQ, &t)) != 0 || (r = ber_capture(b, &t, &alg)) != 0 ||
	    (r = ber_next(b, &content)) != 0)
		goto out;
	/* encryptedContent [0] IMPLICIT OCTET STRING, primitive or chunked; never detached here. */
	if ((content.id & ~BER_CONS_BIT) != BER_CTX(0)) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	p = alg.data;
	if ((calg = d2i_X509_ALGOR(NULL, &p, (long)alg.len)) == NULL) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	nid = OBJ_obj2nid(calg->algorithm);
	describe_cipher(nid, layer);
	/*
	 * AuthEnvelopedData must use an AEAD cipher, or "integrity
	 * protected" would be a lie; EnvelopedData must not (no tag would be
	 * checked).
	 */
	if (is_gcm(nid) != auth) {
		r = CS_ERR_DECRYPT;
		goto out;
	}
	if (auth) {
		/* A MAC of the right length stands in for the tag, which follows the content. */
		if ((es.icv_len = gcm_icv_len(calg)) == 0) {
			r = CS_ERR_DECRYPT;
			goto out;
		}
		if ((r = der_put(&mac, BER_OCTETS, zero, es.icv_len)) != 0)
			goto out;
	}
	if ((r = cs_buf_put(&eci, ctype.data, ctype.len)) != 0 ||
	    (r = cs_buf_put(&eci, alg.data, alg.len)) != 0)
		goto out;
	{
		struct cs_buf eci_seq;
		const struct cs_buf *parts[] = {&ver, &orig, &ris, &eci_seq, &mac};

		cs_buf_init(&eci_seq, 4 * MAX_SMALL);
		r = der_put(&eci_seq, BER_SEQ, eci.data, eci.len);
		if (r == 0)
			r = der_content_info(
			    &ci, auth ? oid_auth_enveloped_data : oid_enveloped_data,
			    auth ? sizeof(oid_auth_enveloped_data) : sizeof(oid_enveloped_data),
			    parts, sizeof(parts) / sizeof(parts[0]));
		cs_buf_clear(&eci_seq);
		if (r != 0)
			goto out;
	}
	/* Decoding into a ContentInfo made in a library context keeps that context. */
	if ((libctx = cipher_libctx(nid)) != NULL &&
	    (cms = CMS_ContentInfo_new_ex(libctx, NULL)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	p = ci.data;
	if (d2i_CMS_ContentInfo(&cms, &p, (long)ci.len) == NULL) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	/* From here on, output waits in the spill until the whole message is through. */
	if (c->sink.spill == NULL && (r = spill_open(c->opts->spill_dir, &c->sink.spill)) != 0)
		goto out;
	if ((r = unwrap_key(c, cms, layer)) != 0)
		goto out;
	if ((bio = CMS_dataInit(cms, NULL)) == NULL ||
	    (cbio = BIO_find_type(bio, BIO_TYPE_CIPHER)) == NULL ||
	    BIO_get_cipher_ctx(cbio, &es.ctx) != 1 || es.ctx == NULL) {
		r = CS_ERR_DECRYPT;
		goto out;
	}
	es.src.read = env_read;
	es.b = b;
	es.auth = auth;
	if ((es.in = malloc(ENV_CHUNK)) == NULL ||
	    (es.out = malloc(ENV_CHUNK + EVP_MAX_BLOCK_LENGTH)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if ((r = ber_octets_init(&es.o, b, &content)) != 0 ||
	    (r = rd_in_init(&plain, &es.src, 0)) != 0)
		goto out;
	r = rd_entity(c, &plain, level + 1);
	if (r == 0) {
		r = rd_in_drain(&plain);
	} else if (auth && is_parse_error(r)) {
		/* Garbage from forged ciphertext must still be reported as a decryption failure. */
		if ((r2 = rd_in_drain(&plain)) != 0)
			r = r2;
	}
out:
	ERR_clear_error();
	rd_in_free(&plain);
	if (es.out != NULL) {
		cs_wipe(es.out, ENV_CHUNK + EVP_MAX_BLOCK_LENGTH);
		free(es.out);
	}
	free(es.in);
	BIO_free_all(bio);
	CMS_ContentInfo_free(cms);
	X509_ALGOR_free(calg);
	cs_buf_clear(&ver);
	cs_buf_clear(&orig);
	cs_buf_clear(&ris);
	cs_buf_clear(&eci);
	cs_buf_clear(&ctype);
	cs_buf_clear(&alg);
	cs_buf_clear(&mac);
	cs_buf_clear(&ci);
	return r;
}
