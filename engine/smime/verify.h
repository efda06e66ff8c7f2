/*
 * Verification of one signed layer: the signed content's digests computed
 * while it streamed past (over the bytes as received), then OpenSSL's
 * SignerInfo checks against them, our own certificate-path evaluation
 * against the caller's anchors and CRLs, key usage, EKU, signer address and
 * weak algorithms, condensed into a verdict with every reason (cs_smime.h).
 */
#ifndef CS_VERIFY_H
#define CS_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>

#include "cs_smime.h"
#include "read_mime.h"

#define VFY_MAX_DIGESTS 4

/*
 * Digests of a signed content. With canonical set (multipart/signed, whose
 * content is text that a mail store may have converted to LF line ends), a
 * second set of digests forks at the first bare LF and sees CRLF for each;
 * the signature is accepted over either, the bytes as received first.
 */
struct vfy_digests {
	int n;
	const EVP_MD *md[VFY_MAX_DIGESTS];
	BIO *chain[2]; /* BIO_f_md per digest: [0] as received, [1] canonical (once forked) */
	int canonical;
	int forked;
	uint8_t last; /* last byte seen, to tell CRLF from a bare LF across calls */
	uint64_t bytes;
	int err; /* first error, sticky */
};

void vfy_digests_init(struct vfy_digests *d, int canonical);

/* Adds a digest (ignored if present or if VFY_MAX_DIGESTS are there). Returns 0 or an error. */
int vfy_digests_add(struct vfy_digests *d, const EVP_MD *md);

/*
 * Adds the digests of a multipart/signed micalg parameter ("sha-256",
 * "sha1", comma-separated ...), plus SHA-256; if micalg names none we know,
 * SHA-1, SHA-256, SHA-384 and SHA-512.
 */
int vfy_digests_add_micalg(struct vfy_digests *d, const char *micalg);

/* Feeds content bytes (a tap for rd_part, or called directly); errors go to d->err. */
void vfy_digests_update(void *d, const uint8_t *p, size_t n);

void vfy_digests_free(struct vfy_digests *d);

struct vfy_ctx {
	const struct cs_read_opts *opts;
	const char (*addrs)[RD_MAX_ADDR]; /* the From and Sender mailboxes */
	size_t n_addrs;
};

/*
 * Evaluates every SignerInfo of cms (a SignedData without content) over the
 * digests and fills the signed fields of layer from the best signer (a
 * message is as good as its best signature, RFC 5652 5.6). Verification
 * failures are verdicts, not errors: returns 0, or CS_ERR_NOMEM or
 * CS_ERR_INTERNAL.
 */
int vfy_signed(const struct vfy_ctx *v, CMS_ContentInfo *cms, struct vfy_digests *d,
               struct cs_layer *layer);

/*
 * The path of one certificate now (a correspondent's, before encrypting to
 * it): anchors and, with have_crls, the CRLs of trust; untrusted may offer
 * intermediates. *ret_reasons gets CS_REASON_EXPIRED, _NOT_YET_VALID,
 * _UNTRUSTED_ROOT, _REVOKED and _REVOCATION_UNKNOWN bits as they apply.
 * Returns 0 or CS_ERR_NOMEM.
 */
int vfy_cert_status(X509_STORE *trust, int have_crls, STACK_OF(X509) *untrusted, X509 *cert,
                    unsigned *ret_reasons, enum cs_revocation *ret_revocation);

/* Verdicts from best to worst, for picking signers and the report's overall verdict. */
int vfy_verdict_rank(enum cs_verdict v);

#endif
