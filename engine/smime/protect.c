/*
 * cs_protect: outer headers, then the S/MIME entity, in one streaming pass.
 *
 * The layers are BIO chains stacked on the caller's out:
 *
 *   encrypt:  plaintext -> BIO_new_CMS(enveloped) -> flush stop -> base64 -> out
 *   opaque:   entity -> BIO_new_CMS(signed) -> flush stop -> base64 -> (encrypt or out)
 *   multipart/signed: entity -> CMS_dataInit(detached signed) digests -> flush stop
 *             -> (encrypt or out), then the signature part written after it
 *
 * BIO_flush on a BIO_new_CMS chain finalizes it; the flush stop keeps that
 * from reaching (and finalizing) the layer below.
 */
#include "cs_smime.h"

#include <stdio.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/rand.h>

#include "b64.h"
#include "cs_error.h"
#include "mime_canon.h"
#include "protect_local.h"

#define BOUNDARY_RANDOM 12 /* bytes: 96 bits, hex in the boundary */

struct protect {
	const struct cs_protect_opts *o;
	struct mime_reader rd;
	struct mime_header outer;   /* the message's header block */
	struct mime_header content; /* its Content-* fields: the entity's header */
	CMS_ContentInfo *sig;
	CMS_ContentInfo *env;
	/* the encryption layer's BIOs while it is open */
	BIO *env_b64, *env_stop, *env_top;
};

static int
check_opts(BIO *in, BIO *out, const struct cs_protect_opts *o)
{
	int r;

	if (in == NULL || out == NULL || o == NULL || (!o->sign && !o->encrypt))
		return CS_ERR_INVALID_ARG;
	if (o->sign && (r = protect_signer_check(o->signer)) != 0)
		return r;
	if (o->encrypt && (r = protect_recipients_check(o)) != 0)
		return r;
	return 0;
}

/* The header of an application/pkcs7-mime entity, base64 in a file named smime.p7m. */
static int
put_p7m_header(BIO *b, const char *smime_type)
{
	char h[256];

	snprintf(h, sizeof(h),
	         "Content-Type: application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"\r\n"
	         "Content-Transfer-Encoding: base64\r\n"
	         "Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\r\n",
	         smime_type);
	return protect_puts(b, h);
}

/*
 * Pushes base64 and a flush stop onto dest and a BIO_new_CMS chain of cms
 * onto those. Returns 0 with the three BIOs, or CS_ERR_INTERNAL.
 */
static int
stream_open(CMS_ContentInfo *cms, BIO *dest, BIO **ret_b64, BIO **ret_stop, BIO **ret_top)
{
	BIO *b64 = b64_bio_new(), *stop = protect_swallow_new(), *top = NULL;

	if (b64 == NULL || stop == NULL)
		goto fail;
	BIO_push(b64, dest);
	BIO_push(stop, b64);
	if ((top = BIO_new_CMS(stop, cms)) == NULL)
		goto fail;
	*ret_b64 = b64;
	*ret_stop = stop;
	*ret_top = top;
	return 0;
fail:
	protect_chain_free(stop, dest);
	if (stop == NULL)
		protect_chain_free(b64, dest);
	return CS_ERR_INTERNAL;
}

/*
 * Finalizes the CMS structure of a stream_open chain, writes the last
 * base64 group, and frees the chain down to dest. Safe to call after a
 * failure with finish = 0, to free only.
 */
static int
stream_close(BIO **b64, BIO **stop, BIO **top, BIO *dest, int finish)
{
	int r = 0;

	if (finish && *top != NULL && BIO_flush(*top) <= 0)
		r = CS_ERR_INTERNAL;
	protect_chain_free(*top, *stop);
	*top = NULL;
	if (finish && r == 0 && *b64 != NULL)
		r = b64_bio_finish(*b64, 1);
	protect_chain_free(*stop, dest);
	if (*stop == NULL)
		protect_chain_free(*b64, dest);
	*stop = NULL;
	*b64 = NULL;
	return r;
}

static int
make_boundary(char *b, size_t size)
{
	unsigned char rnd[BOUNDARY_RANDOM];
	size_t i, n;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return CS_ERR_INTERNAL;
	/* "=_" cannot occur in base64 or quoted-printable lines, so no part can contain it. */
	n = (size_t)snprintf(b, size, "=_cardseal_");
	for (i = 0; i < sizeof(rnd) && n + 2 < size; i++)
		n += (size_t)snprintf(b + n, size - n, "%02x", rnd[i]);
	return 0;
}

/* multipart/signed (RFC 8551 3.5.3): the entity in clear, then the detached signature. */
static int
sign_multipart(struct protect *p, BIO *dest)
{
	char boundary[64], h[512];
	BIO *stop = NULL, *digests = NULL, *b64 = NULL;
	int r;

	if ((r = make_boundary(boundary, sizeof(boundary))) != 0)
		return r;
	snprintf(h, sizeof(h),
	         "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
	         "micalg=%s; boundary=\"%s\"\r\n\r\n"
	         "This is an S/MIME signed message\r\n\r\n--%s\r\n",
	         protect_micalg(p->o->signer), boundary, boundary);
	if ((r = protect_puts(dest, h)) != 0)
		return r;
	r = CS_ERR_INTERNAL;
	if ((stop = protect_swallow_new()) == NULL)
		goto out;
	BIO_push(stop, dest);
	/* The digest BIOs pass what they hash on to stop, hence to dest. */
	if ((digests = CMS_dataInit(p->sig, stop)) == NULL)
		goto out;
	if ((r = mime_canon_entity(&p->rd, &p->content, digests)) != 0)
		goto out;
	if (CMS_dataFinal(p->sig, digests) != 1) {
		r = CS_ERR_INTERNAL;
		goto out;
	}
	protect_chain_free(digests, dest);
	digests = stop = NULL;

	snprintf(h, sizeof(h),
	         "\r\n--%s\r\n"
	         "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\n"
	         "Content-Transfer-Encoding: base64\r\n"
	         "Content-Disposition: attachment; filename=\"smime.p7s\"\r\n\r\n",
	         boundary);
	if ((r = protect_puts(dest, h)) != 0)
		goto out;
	r = CS_ERR_INTERNAL;
	if ((b64 = b64_bio_new()) == NULL)
		goto out;
	BIO_push(b64, dest);
	if (i2d_CMS_bio(b64, p->sig) != 1)
		goto out;
	if ((r = b64_bio_finish(b64, 0)) != 0)
		goto out;
	snprintf(h, sizeof(h), "\r\n--%s--\r\n", boundary);
	r = protect_puts(dest, h);
out:
	protect_chain_free(b64, dest);
	protect_chain_free(digests != NULL ? digests : stop, dest);
	return r;
}

/* application/pkcs7-mime signed-data (RFC 8551 3.5.2): the entity inside the SignedData. */
static int
sign_opaque(struct protect *p, BIO *dest)
{
	BIO *b64 = NULL, *stop = NULL, *top = NULL;
	int r;

	if ((r = put_p7m_header(dest, "signed-data")) != 0 ||
	    (r = stream_open(p->sig, dest, &b64, &stop, &top)) != 0)
		return r;
	if ((r = mime_canon_entity(&p->rd, &p->content, top)) != 0) {
		stream_close(&b64, &stop, &top, dest, 0);
		return r;
	}
	return stream_close(&b64, &stop, &top, dest, 1);
}

static int
write_entity(struct protect *p, BIO *dest)
{
	if (!p->o->sign)
		return mime_canon_entity(&p->rd, &p->content, dest);
	return p->o->opaque ? sign_opaque(p, dest) : sign_multipart(p, dest);
}

static int
run(struct protect *p, BIO *out)
{
	const struct cs_protect_opts *o = p->o;
	int r;

	if ((r = protect_headers_read(&p->rd, &p->outer)) != 0)
		return r;
	/* Every layer is set up before the first byte goes out. */
	if (o->sign && (r = protect_signed_new(o->signer, !o->opaque, &p->sig)) != 0)
		return r;
	if (o->encrypt && (r = protect_envelope_new(o, &p->env)) != 0)
		return r;
	if ((r = protect_headers_split(&p->outer, out, &p->content)) != 0 ||
	    (r = protect_puts(out, "MIME-Version: 1.0\r\n")) != 0)
		return r;
	if (!o->encrypt)
		return write_entity(p, out);

	if ((r = put_p7m_header(out, protect_smime_type(o->cipher))) != 0 ||
	    (r = stream_open(p->env, out, &p->env_b64, &p->env_stop, &p->env_top)) != 0)
		return r;
	if ((r = write_entity(p, p->env_top)) != 0)
		return r;
	return stream_close(&p->env_b64, &p->env_stop, &p->env_top, out, 1);
}

int
cs_protect(BIO *in, BIO *out, const struct cs_protect_opts *opts)
{
	struct protect p;
	int r;

	if ((r = check_opts(in, out, opts)) != 0)
		return r;
	memset(&p, 0, sizeof(p));
	p.o = opts;
	mime_header_init(&p.outer);
	mime_header_init(&p.content);
	if ((r = mime_reader_init(&p.rd, in, opts->progress, opts->progress_arg)) != 0)
		goto out;
	if ((r = run(&p, out)) != 0)
		goto out;
	if (BIO_flush(out) <= 0) {
		r = protect_write_error();
		goto out;
	}
	mime_reader_report(&p.rd);
out:
	stream_close(&p.env_b64, &p.env_stop, &p.env_top, out, 0);
	CMS_ContentInfo_free(p.env);
	CMS_ContentInfo_free(p.sig);
	mime_reader_free(&p.rd);
	mime_header_clear(&p.content);
	mime_header_clear(&p.outer);
	return r;
}
