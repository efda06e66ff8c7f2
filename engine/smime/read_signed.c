/*
 * Signed layers: multipart/signed (RFC 8551 3.5.3) and opaque signed-data
 * (application/pkcs7-mime; smime-type=signed-data).
 *
 * The signed content is hashed as it streams into the inner entity's reader:
 * for multipart/signed, the first part's bytes exactly as they lie between
 * the delimiters; for signed-data, the eContent octets. The rest of the
 * SignedData (certificates, CRLs, SignerInfos; small) is captured as
 * received and rebuilt without content into a DER ContentInfo for OpenSSL.
 */
#include <string.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "cs_error.h"
#include "read_priv.h"
#include "verify.h"

/* Limits on captured SignedData parts (a real one is a few KiB). */
#define MAX_CERTS (1u * 1024 * 1024)
#define MAX_CRLS (1u * 1024 * 1024)
#define MAX_SIGNER_INFOS (256u * 1024)
#define MAX_SMALL 4096

static const uint8_t oid_signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};

static int
verify_layer(struct rd_ctx *c, const uint8_t *der, size_t len, struct vfy_digests *d,
             struct cs_layer *layer)
{
	struct vfy_ctx v = {.opts = c->opts, .addrs = c->addrs, .n_addrs = c->n_addrs};
	const unsigned char *p = der;
	CMS_ContentInfo *cms;
	int r;

	if (len > LONG_MAX || (cms = d2i_CMS_ContentInfo(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return CS_ERR_BAD_FORMAT;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed)
		r = CS_ERR_BAD_FORMAT;
	else
		r = vfy_signed(&v, cms, d, layer);
	CMS_ContentInfo_free(cms);
	return r;
}

/* Reads a source to its end, appending to out (CS_ERR_TOO_LARGE past its limit). */
static int
slurp(struct rd_src *src, struct cs_buf *out)
{
	uint8_t *p;
	size_t n;
	int r;

	for (;;) {
		if ((p = cs_buf_reserve(out, 4096)) == NULL)
			return out->len + 4096 > out->max ? CS_ERR_TOO_LARGE : CS_ERR_NOMEM;
		if ((r = src->read(src, p, 4096, &n)) != 0)
			return r;
		out->len -= 4096 - n;
		if (n == 0)
			return 0;
	}
}

/* The application/pkcs7-signature part: its header, then the decoded DER into sig. */
static int
read_signature_part(struct rd_in *in, struct cs_buf *sig)
{
	struct rd_headers h;
	struct rd_ctype ct;
	struct rd_b64_src b64;
	struct rd_in_src raw;
	char *v = NULL, cte[32];
	int r;

	rd_headers_init(&h);
	if ((r = rd_headers_read(in, &h)) != 0 || (r = rd_header_get(&h, "Content-Type", &v)) != 0)
		goto out;
	rd_ctype_parse(v, &ct);
	free(v);
	v = NULL;
	if (strcmp(ct.type, "application") != 0 || (strcmp(ct.subtype, "pkcs7-signature") != 0 &&
	                                            strcmp(ct.subtype, "x-pkcs7-signature") != 0)) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	if ((r = rd_header_get(&h, "Content-Transfer-Encoding", &v)) != 0)
		goto out;
	rd_cte_parse(v, cte, sizeof(cte));
	if (strcmp(cte, "base64") == 0) {
		rd_b64_src_init(&b64, in);
		r = slurp(&b64.src, sig);
	} else {
		rd_in_src_init(&raw, in);
		r = slurp(&raw.src, sig);
	}
out:
	free(v);
	rd_headers_free(&h);
	return r;
}

int
rd_multipart_signed(struct rd_ctx *c, struct rd_in *in, const struct rd_ctype *ct, int level)
{
	struct cs_layer *layer;
	struct vfy_digests d;
	struct rd_part p;
	struct rd_in part;
	struct cs_buf sig;
	int r;

	memset(&part, 0, sizeof(part));
	vfy_digests_init(&d, 1);
	cs_buf_init(&sig, RD_MAX_SIGNATURE);
	if (ct->boundary[0] == 0)
		return CS_ERR_BAD_FORMAT;
	if ((r = rd_layer_new(c, CS_LAYER_SIGNED, &layer)) != 0 ||
	    (r = vfy_digests_add_micalg(&d, ct->micalg)) != 0)
		goto out;
	rd_part_init(&p, in, ct->boundary);
	/* The preamble, then the signed part hashed as the inner reader pulls it. */
	if ((r = rd_in_init(&part, &p.src, 0)) != 0 || (r = rd_in_drain(&part)) != 0)
		goto out;
	if ((r = rd_part_next(&p)) != 0)
		goto out;
	rd_in_rearm(&part);
	p.tap = vfy_digests_update;
	p.tap_arg = &d;
	if ((r = rd_entity(c, &part, level + 1)) != 0 || (r = rd_in_drain(&part)) != 0)
		goto out;
	p.tap = NULL;
	if ((r = rd_part_next(&p)) != 0)
		goto out; /* no second part: nothing signs the first */
	rd_in_rearm(&part);
	if ((r = read_signature_part(&part, &sig)) != 0 || (r = rd_in_drain(&part)) != 0)
		goto out;
	/* Parts after the signature and the epilogue are covered by nothing and shown nowhere. */
	if ((r = rd_in_drain(in)) != 0)
		goto out;
	r = verify_layer(c, sig.data, sig.len, &d, layer);
out:
	rd_in_free(&part);
	cs_buf_clear(&sig);
	vfy_digests_free(&d);
	return r;
}

/* The digests a SignedData announces (its digestAlgorithms SET), plus SHA-256. */
static int
add_digest_algs(struct vfy_digests *d, const struct cs_buf *algs)
{
	struct rd_mem_src m;
	struct rd_in in;
	struct ber b;
	struct ber_tlv t;
	struct cs_buf one;
	X509_ALGOR *alg;
	const unsigned char *p;
	int end, r;

	cs_buf_init(&one, MAX_SMALL);
	rd_mem_src_init(&m, algs->data, algs->len);
	if ((r = rd_in_init(&in, &m.src, 256)) != 0)
		return r;
	ber_init(&b, &in);
	if ((r = ber_expect(&b, BER_SET, &t)) != 0 || (r = ber_enter(&b, &t)) != 0)
		goto out;
	for (;;) {
		if ((r = ber_at_end(&b, &end)) != 0 || end)
			break;
		cs_buf_reset(&one);
		if ((r = ber_expect(&b, BER_SEQ, &t)) != 0 || (r = ber_capture(&b, &t, &one)) != 0)
			goto out;
		p = one.data;
		if ((alg = d2i_X509_ALGOR(NULL, &p, (long)one.len)) == NULL) {
			r = CS_ERR_BAD_FORMAT;
			goto out;
		}
		/* An algorithm we do not know is left out: its signer will not verify. */
		r = vfy_digests_add(d, EVP_get_digestbyobj(alg->algorithm));
		X509_ALGOR_free(alg);
		if (r != 0)
			goto out;
	}
	if (r == 0)
		r = vfy_digests_add(d, EVP_sha256());
out:
	ERR_clear_error();
	cs_buf_clear(&one);
	rd_in_free(&in);
	return r;
}

/* An empty source, for a SignedData without eContent. */
static int
empty_read(struct rd_src *s, uint8_t *buf, size_t cap, size_t *ret_n)
{
	*ret_n = 0;
	return 0;
}

/* encapContentInfo: eContentType captured, eContent read as the inner entity. */
static int
read_encap(struct rd_ctx *c, struct ber *b, struct vfy_digests *d, struct cs_buf *ctype, int level)
{
	struct ber_tlv t;
	struct ber_octets o;
	struct rd_tap_src tap;
	struct rd_src empty = {.read = empty_read};
	struct rd_in content;
	uint8_t id;
	int r;

	memset(&content, 0, sizeof(content));
	if ((r = ber_expect(b, BER_SEQ, &t)) != 0 || (r = ber_enter(b, &t)) != 0 ||
	    (r = ber_expect(b, BER_OID, &t)) != 0 || (r = ber_capture(b, &t, ctype)) != 0 ||
	    (r = ber_peek(b, &id)) != 0)
		goto out;
	if (id == BER_CTX_CONS(0)) {
		if ((r = ber_next(b, &t)) != 0 || (r = ber_enter(b, &t)) != 0 ||
		    (r = ber_next(b, &t)) != 0)
			goto out;
		if ((t.id & ~BER_CONS_BIT) != BER_OCTETS) {
			r = CS_ERR_BAD_FORMAT;
			goto out;
		}
		if ((r = ber_octets_init(&o, b, &t)) != 0)
			goto out;
		rd_tap_src_init(&tap, &o.src, vfy_digests_update, d);
		if ((r = rd_in_init(&content, &tap.src, 0)) != 0 ||
		    (r = rd_entity(c, &content, level + 1)) != 0 ||
		    (r = rd_in_drain(&content)) != 0 || (r = ber_leave(b)) != 0)
			goto out;
	} else {
		/* No eContent (detached without its content): the inner entity is empty. */
		if ((r = rd_in_init(&content, &empty, 0)) != 0 ||
		    (r = rd_entity(c, &content, level + 1)) != 0)
			goto out;
	}
	r = ber_leave(b);
out:
	rd_in_free(&content);
	return r;
}

int
rd_signed_data(struct rd_ctx *c, struct ber *b, int level)
{
	struct cs_layer *layer;
	struct vfy_digests d;
	struct ber_tlv t;
	struct cs_buf ver, algs, ctype, encap, certs, crls, sis, ci;
	uint8_t id;
	int r;

	vfy_digests_init(&d, 0);
	cs_buf_init(&ver, MAX_SMALL);
	cs_buf_init(&algs, MAX_SMALL);
	cs_buf_init(&ctype, MAX_SMALL);
	cs_buf_init(&certs, MAX_CERTS);
	cs_buf_init(&crls, MAX_CRLS);
	cs_buf_init(&sis, MAX_SIGNER_INFOS);
	cs_buf_init(&encap, 2 * MAX_SMALL);
	cs_buf_init(&ci, MAX_CERTS + MAX_CRLS + MAX_SIGNER_INFOS + 8 * MAX_SMALL);
	if ((r = rd_layer_new(c, CS_LAYER_SIGNED, &layer)) != 0)
		goto out;
	layer->opaque = 1;
	if ((r = ber_expect(b, BER_SEQ, &t)) != 0 || (r = ber_enter(b, &t)) != 0 ||
	    (r = ber_expect(b, BER_INTEGER, &t)) != 0 || (r = ber_capture(b, &t, &ver)) != 0 ||
	    (r = ber_expect(b, BER_SET, &t)) != 0 || (r = ber_capture(b, &t, &algs)) != 0 ||
	    (r = add_digest_algs(&d, &algs)) != 0 || (r = read_encap(c, b, &d, &ctype, level)) != 0)
		goto out;
	/* certificates [0], crls [1], then signerInfos. */
	if ((r = ber_peek(b, &id)) != 0)
		goto out;
	if (id == BER_CTX_CONS(0)) {
		if ((r = ber_next(b, &t)) != 0 || (r = ber_capture(b, &t, &certs)) != 0 ||
		    (r = ber_peek(b, &id)) != 0)
			goto out;
	}
	if (id == BER_CTX_CONS(1)) {
		if ((r = ber_next(b, &t)) != 0 || (r = ber_capture(b, &t, &crls)) != 0)
			goto out;
	}
	if ((r = ber_expect(b, BER_SET, &t)) != 0 || (r = ber_capture(b, &t, &sis)) != 0 ||
	    (r = ber_leave(b)) != 0)
		goto out;
	/* SignedData without eContent: what OpenSSL sees is a detached signature. */
	if ((r = der_put(&encap, BER_SEQ, ctype.data, ctype.len)) != 0)
		goto out;
	{
		const struct cs_buf *parts[] = {&ver, &algs, &encap, &certs, &crls, &sis};

		if ((r = der_content_info(&ci, oid_signed_data, sizeof(oid_signed_data), parts,
		                          sizeof(parts) / sizeof(parts[0]))) != 0)
			goto out;
	}
	r = verify_layer(c, ci.data, ci.len, &d, layer);
out:
	vfy_digests_free(&d);
	cs_buf_clear(&ver);
	cs_buf_clear(&algs);
	cs_buf_clear(&ctype);
	cs_buf_clear(&certs);
	cs_buf_clear(&crls);
	cs_buf_clear(&sis);
	cs_buf_clear(&encap);
	cs_buf_clear(&ci);
	return r;
}
