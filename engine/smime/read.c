/*
 * cs_read: the entry point, the entity dispatcher and the output of the
 * innermost entity.
 *
 * Output of a protected message: the outer message's header fields except
 * its Content-* fields and MIME-Version, all as received; then
 * "MIME-Version: 1.0"; then the Content-* fields of the innermost entity as
 * received (its other fields, e.g. a copy of From inside a signed entity, are
 * dropped: the outer header is the message's header and may not be
 * contradicted by a second one); then the empty line and the innermost body
 * byte for byte. An unprotected message is copied byte for byte.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "cs_error.h"
#include "read_priv.h"
#include "spill.h"
#include "verify.h"

static const uint8_t oid_signed_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};
static const uint8_t oid_enveloped_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03};
static const uint8_t oid_auth_enveloped_data[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                                                  0x01, 0x09, 0x10, 0x01, 0x17};

int
rd_layer_new(struct rd_ctx *c, enum cs_layer_kind kind, struct cs_layer **ret)
{
	struct cs_layer *l;

	*ret = NULL;
	if (c->report->n_layers == CS_READ_MAX_LAYERS)
		return CS_ERR_TOO_LARGE;
	l = &c->report->layers[c->report->n_layers++];
	memset(l, 0, sizeof(*l));
	l->kind = kind;
	l->identity_index = -1;
	*ret = l;
	return 0;
}

/* The ContentInfo of an application/pkcs7-mime body. */
static int
read_pkcs7(struct rd_ctx *c, struct rd_in *in, const char *cte, int level)
{
	struct rd_b64_src b64;
	struct rd_in_src raw;
	struct rd_src *src;
	struct rd_in body;
	struct ber b;
	struct ber_tlv t;
	uint8_t oid[32];
	size_t oid_len;
	int r;

	memset(&body, 0, sizeof(body));
	if (strcmp(cte, "base64") == 0) {
		rd_b64_src_init(&b64, in);
		src = &b64.src;
	} else if (cte[0] == 0 || strcmp(cte, "binary") == 0 || strcmp(cte, "8bit") == 0 ||
	           strcmp(cte, "7bit") == 0) {
		rd_in_src_init(&raw, in);
		src = &raw.src;
	} else {
		return CS_ERR_BAD_FORMAT;
	}
	if ((r = rd_in_init(&body, src, 0)) != 0)
		goto out;
	ber_init(&b, &body);
	if ((r = ber_expect(&b, BER_SEQ, &t)) != 0 || (r = ber_enter(&b, &t)) != 0 ||
	    (r = ber_expect(&b, BER_OID, &t)) != 0 ||
	    (r = ber_read_prim(&b, &t, oid, sizeof(oid), &oid_len)) != 0 ||
	    (r = ber_expect(&b, BER_CTX_CONS(0), &t)) != 0 || (r = ber_enter(&b, &t)) != 0)
		goto out;
	if (oid_len == sizeof(oid_signed_data) && memcmp(oid, oid_signed_data, oid_len) == 0)
		r = rd_signed_data(c, &b, level);
	else if (oid_len == sizeof(oid_enveloped_data) &&
	         memcmp(oid, oid_enveloped_data, oid_len) == 0)
		r = rd_enveloped(c, &b, 0, level);
	else if (oid_len == sizeof(oid_auth_enveloped_data) &&
	         memcmp(oid, oid_auth_enveloped_data, oid_len) == 0)
		r = rd_enveloped(c, &b, 1, level);
	else /* compressed, digested, encrypted-data ...: no S/MIME protection we read */
		r = CS_ERR_BAD_FORMAT;
	if (r != 0 || (r = ber_leave(&b)) != 0 || (r = ber_leave(&b)) != 0)
		goto out;
	/* What follows the ContentInfo is covered by nothing and shown nowhere. */
	if ((r = rd_in_drain(&body)) != 0)
		goto out;
	r = rd_in_drain(in);
out:
	rd_in_free(&body);
	return r;
}

/* Writes the innermost entity (see the top of this file). */
static int
write_innermost(struct rd_ctx *c, struct rd_in *in, const struct rd_headers *h)
{
	const struct rd_headers *top = &c->top;
	const char *eol = top->crlf || (top->n == 0 && h->crlf) ? "\r\n" : "\n";
	size_t i;
	int r;

	for (i = 0; i < top->n; i++) {
		if (rd_field_is_content(top, i) || rd_field_is(top, i, "MIME-Version"))
			continue;
		if ((r = rd_sink_write(&c->sink, top->raw.data + top->f[i].off, top->f[i].len)) !=
		    0)
			return r;
	}
	if ((r = rd_sink_write(&c->sink, "MIME-Version: 1.0", 17)) != 0 ||
	    (r = rd_sink_write(&c->sink, eol, strlen(eol))) != 0)
		return r;
	for (i = 0; i < h->n; i++) {
		if (!rd_field_is_content(h, i))
			continue;
		if ((r = rd_sink_write(&c->sink, h->raw.data + h->f[i].off, h->f[i].len)) != 0)
			return r;
	}
	if (h->end_len > 0)
		r = rd_sink_write(&c->sink, h->end, h->end_len);
	else
		r = rd_sink_write(&c->sink, eol, strlen(eol));
	if (r != 0)
		return r;
	for (;;) {
		if ((r = rd_in_fill(in, 1)) != 0)
			return r;
		if (rd_in_avail(in) == 0)
			return 0;
		if ((r = rd_sink_write(&c->sink, rd_in_ptr(in), rd_in_avail(in))) != 0)
			return r;
		rd_in_consume(in, rd_in_avail(in));
	}
}

/* Appends the addresses of the field name to the report's recipients. */
static int
add_recipients(struct rd_ctx *c, const char *name)
{
	struct cs_read_report *rep = c->report;
	char *v = NULL;
	int r;

	if ((r = rd_header_get(&c->top, name, &v)) != 0)
		return r;
	rep->n_recipients += rd_addr_list(v, rep->recipients + rep->n_recipients,
	                                  CS_READ_MAX_RECIPIENTS - rep->n_recipients);
	free(v);
	return 0;
}

/* From and Sender of the message, for the report and the signer-address check. */
static int
read_addresses(struct rd_ctx *c)
{
	char *v = NULL;
	size_t n;
	int r;

	if ((r = rd_header_get(&c->top, "From", &v)) != 0)
		return r;
	c->n_addrs = rd_addr_list(v, c->addrs, RD_MAX_ADDRS - 1);
	if (c->n_addrs > 0)
		snprintf(c->report->from, sizeof(c->report->from), "%s", c->addrs[0]);
	free(v);
	if ((r = rd_header_get(&c->top, "Sender", &v)) != 0)
		return r;
	n = rd_addr_list(v, c->addrs + c->n_addrs, 1);
	if (n > 0)
		snprintf(c->report->sender, sizeof(c->report->sender), "%s", c->addrs[c->n_addrs]);
	c->n_addrs += n;
	free(v);
	/* To and Cc: only reported (the engine finds the account a message was sent to). */
	if ((r = add_recipients(c, "To")) != 0)
		return r;
	return add_recipients(c, "Cc");
}

int
rd_entity(struct rd_ctx *c, struct rd_in *in, int level)
{
	struct rd_headers local, *h = level == 0 ? &c->top : &local;
	struct rd_ctype ct;
	char *v = NULL, cte[32];
	int r;

	rd_headers_init(&local);
	if ((r = rd_headers_read(in, h)) != 0)
		goto out;
	if (level == 0 && (r = read_addresses(c)) != 0)
		goto out;
	if ((r = rd_header_get(h, "Content-Type", &v)) != 0)
		goto out;
	rd_ctype_parse(v, &ct);
	free(v);
	if ((r = rd_header_get(h, "Content-Transfer-Encoding", &v)) != 0)
		goto out;
	rd_cte_parse(v, cte, sizeof(cte));
	if (!rd_ctype_protected(&ct)) {
		if (level == 0)
			r = rd_copy_unprotected(c, in, h, &ct);
		else
			r = write_innermost(c, in, h);
	} else if (strcmp(ct.type, "multipart") == 0) {
		r = rd_multipart_signed(c, in, &ct, level);
	} else {
		r = read_pkcs7(c, in, cte, level);
	}
out:
	free(v);
	rd_headers_free(&local);
	return r;
}

void
cs_read_report_clear(struct cs_read_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_layers && i < CS_READ_MAX_LAYERS; i++) {
		X509_free(r->layers[i].signer_cert);
		sk_X509_pop_free(r->layers[i].chain, X509_free);
		sk_X509_pop_free(r->layers[i].certs, X509_free);
		X509_free(r->layers[i].encryption_cert);
		OPENSSL_free(r->layers[i].capabilities);
	}
	memset(r, 0, sizeof(*r));
}

/* Releases the quarantined output once everything verified. */
static int
release_spill(struct rd_ctx *c, BIO *out)
{
	struct rd_sink direct = {.out = out, .spill = NULL};
	uint8_t *buf;
	size_t n;
	int r;

	if ((buf = malloc(RD_BUF_SIZE)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = spill_rewind(c->sink.spill)) != 0)
		goto out;
	for (;;) {
		if ((r = spill_read(c->sink.spill, buf, RD_BUF_SIZE, &n)) != 0 || n == 0)
			break;
		if ((r = rd_sink_write(&direct, buf, n)) != 0)
			break;
	}
out:
	cs_wipe(buf, RD_BUF_SIZE);
	free(buf);
	return r;
}

int
cs_read(BIO *in, BIO *out, const struct cs_read_opts *opts, struct cs_read_report *report)
{
	static const struct cs_read_opts no_opts;
	struct rd_ctx c;
	struct rd_bio_src src;
	struct rd_in rin;
	size_t i;
	int r;

	if (report == NULL)
		return CS_ERR_INVALID_ARG;
	memset(report, 0, sizeof(*report));
	if (in == NULL || out == NULL)
		return CS_ERR_INVALID_ARG;
	if (opts == NULL)
		opts = &no_opts;
	memset(&c, 0, sizeof(c));
	c.opts = opts;
	c.report = report;
	c.sink.out = out;
	rd_headers_init(&c.top);
	rd_bio_src_init(&src, in, opts->progress, opts->progress_arg);
	if ((r = rd_in_init(&rin, &src.src, 0)) != 0)
		goto out;
	if ((r = rd_entity(&c, &rin, 0)) != 0)
		goto out;
	report->verdict = CS_VERDICT_UNSIGNED;
	for (i = 0; i < report->n_layers; i++) {
		if (report->layers[i].kind == CS_LAYER_SIGNED &&
		    vfy_verdict_rank(report->layers[i].verdict) > vfy_verdict_rank(report->verdict))
			report->verdict = report->layers[i].verdict;
	}
	if (c.sink.spill != NULL && (r = release_spill(&c, out)) != 0)
		goto out;
	if (BIO_flush(out) <= 0)
		r = CS_ERR_IO;
out:
	ERR_clear_error();
	spill_free(c.sink.spill);
	rd_in_free(&rin);
	rd_headers_free(&c.top);
	return r;
}
