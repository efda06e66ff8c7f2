/*
 * Reading keyd's requests: every field bounded, the whole body consumed,
 * values checked. Separate from the handlers so the fuzzer can drive them
 * without tokens (tests/fuzz/fuzz-keyd.c).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "keyd.h"

void
keyd_context_clear(struct keyd_context *c)
{
	free(c->display);
	free(c->wayland_display);
	free(c->xauthority);
	free(c->dbus_address);
	free(c->term);
	free(c->ttyname);
	free(c->lc_ctype);
	free(c->summary);
	memset(c, 0, sizeof(*c));
}

void
keyd_read_context(struct cs_reader *r, struct keyd_context *c)
{
	memset(c, 0, sizeof(*c));
	c->client_id = cs_read_u32(r);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->display);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->wayland_display);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->xauthority);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->dbus_address);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->term);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->ttyname);
	cs_read_str(r, CS_KEYD_MAX_STR, &c->lc_ctype);
	cs_read_str(r, CS_KEYD_MAX_SUMMARY, &c->summary);
}

int
keyd_parse_sign(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                struct tok_sign_request *req)
{
	int r;

	memset(req, 0, sizeof(*req));
	keyd_read_context(rd, ctx);
	cs_read_str(rd, CS_KEYD_MAX_STR, ret_key_uri);
	req->scheme = cs_read_u8(rd);
	req->md_nid = cs_wire_md_to_nid(cs_read_u8(rd));
	req->mgf1_nid = cs_wire_md_to_nid(cs_read_u8(rd));
	req->salt_len = (int)cs_read_u32(rd);
	cs_read_bytes(rd, 64, &req->digest, &req->digest_len);
	if ((r = cs_reader_finish(rd)) != 0)
		return r;
	if (req->md_nid == NID_undef || req->salt_len < 0 || req->scheme < TOK_SIGN_RSA_PKCS1 ||
	    req->scheme > TOK_SIGN_ECDSA)
		return CS_ERR_BAD_FORMAT;
	if (req->scheme == TOK_SIGN_RSA_PSS && req->mgf1_nid == NID_undef)
		return CS_ERR_BAD_FORMAT;
	req->key_uri = *ret_key_uri;
	return 0;
}

int
keyd_parse_decrypt(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                   struct tok_decrypt_request *req)
{
	int r;

	memset(req, 0, sizeof(*req));
	keyd_read_context(rd, ctx);
	cs_read_str(rd, CS_KEYD_MAX_STR, ret_key_uri);
	req->padding = cs_read_u8(rd);
	req->md_nid = cs_wire_md_to_nid(cs_read_u8(rd));
	req->mgf1_nid = cs_wire_md_to_nid(cs_read_u8(rd));
	cs_read_bytes(rd, 256, &req->label, &req->label_len);
	cs_read_bytes(rd, CS_KEYD_MAX_BLOB, &req->in, &req->in_len);
	if ((r = cs_reader_finish(rd)) != 0)
		return r;
	if (req->padding != TOK_PAD_PKCS1 && req->padding != TOK_PAD_OAEP)
		return CS_ERR_BAD_FORMAT;
	if (req->padding == TOK_PAD_OAEP && (req->md_nid == NID_undef || req->mgf1_nid == NID_undef))
		return CS_ERR_BAD_FORMAT;
	req->key_uri = *ret_key_uri;
	return 0;
}

int
keyd_parse_derive(struct cs_reader *rd, struct keyd_context *ctx, char **ret_key_uri,
                  const uint8_t **ret_peer, size_t *ret_peer_len)
{
	keyd_read_context(rd, ctx);
	cs_read_str(rd, CS_KEYD_MAX_STR, ret_key_uri);
	cs_read_bytes(rd, 256, ret_peer, ret_peer_len);
	return cs_reader_finish(rd);
}
