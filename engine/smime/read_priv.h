/*
 * Internals of cs_read shared by its files: read.c (entities, dispatch,
 * output), read_scan.c (unprotected messages), read_signed.c (signed
 * layers), read_env.c (encrypted layers).
 *
 * A message is read in one pass as a chain of pull streams: each protected
 * layer reads its inner entity through a source (part of a multipart, the
 * octets of an eContent, the plaintext of a decryption) and recurses into it
 * before it finishes its own structure (the signature part, SignerInfos, the
 * GCM tag). Only the innermost entity is written out.
 */
#ifndef CS_READ_PRIV_H
#define CS_READ_PRIV_H

#include "ber.h"
#include "cs_smime.h"
#include "read_io.h"
#include "read_mime.h"

/* From and Sender mailboxes kept for the signer-address check. */
#define RD_MAX_ADDRS 16

/* How deep the unprotected-parts scan descends into nested multiparts. */
#define RD_MAX_SCAN_DEPTH 16

/* Biggest detached signature (the application/pkcs7-signature part) accepted. */
#define RD_MAX_SIGNATURE (2u * 1024 * 1024)

struct rd_ctx {
	const struct cs_read_opts *opts;
	struct cs_read_report *report;
	struct rd_sink sink; /* out, or the spill once a layer is encrypted */
	struct rd_headers top; /* the message's own header block */
	char addrs[RD_MAX_ADDRS][RD_MAX_ADDR];
	size_t n_addrs;
};

/* Reads one entity (header block and body) from in; level 0 is the message itself. */
int rd_entity(struct rd_ctx *c, struct rd_in *in, int level);

/* Copies an unprotected message to the sink, counting unprotected parts beside protected ones. */
int rd_copy_unprotected(struct rd_ctx *c, struct rd_in *in, const struct rd_headers *h,
                        const struct rd_ctype *ct);

/* A multipart/signed entity whose header was read (body in in). */
int rd_multipart_signed(struct rd_ctx *c, struct rd_in *in, const struct rd_ctype *ct, int level);

/* The content of a ContentInfo of type signed-data (the walker is inside its [0]). */
int rd_signed_data(struct rd_ctx *c, struct ber *b, int level);

/* The content of an enveloped-data or (auth) authEnveloped-data ContentInfo. */
int rd_enveloped(struct rd_ctx *c, struct ber *b, int auth, int level);

/*
 * Takes the next layer slot of the report (outermost first). Returns 0 and
 * sets *ret, or CS_ERR_TOO_LARGE past CS_READ_MAX_LAYERS.
 */
int rd_layer_new(struct rd_ctx *c, enum cs_layer_kind kind, struct cs_layer **ret);

#endif
