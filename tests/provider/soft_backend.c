/* The software key backend of the provider tests (see soft_backend.h). */
#include "soft_backend.h"
#include "cs_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

struct soft_key {
	struct soft_key *next;
	char *uri;
	EVP_PKEY *pkey;
};

static EVP_PKEY *
find_key(const struct soft_backend *sb, const char *uri)
{
	const struct soft_key *k;

	for (k = sb->keys; k != NULL; k = k->next) {
		if (strcmp(k->uri, uri) == 0)
			return k->pkey;
	}
	return NULL;
}

/* Sets up ctx for the scheme; EVP_PKEY_sign then builds DigestInfo or PSS itself. */
static int
sign_setup(EVP_PKEY_CTX *ctx, const struct cs_sign_params *sp)
{
	const EVP_MD *md = EVP_get_digestbynid(sp->md_nid);

	if (md == NULL || EVP_PKEY_sign_init(ctx) != 1)
		return CS_ERR_MECHANISM;
	switch (sp->scheme) {
	case CS_SIG_RSA_PKCS1:
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
			return CS_ERR_MECHANISM;
		break;
	case CS_SIG_RSA_PSS:
		if (EVP_get_digestbynid(sp->mgf1_nid) == NULL ||
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_get_digestbynid(sp->mgf1_nid)) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, sp->salt_len) != 1)
			return CS_ERR_MECHANISM;
		break;
	case CS_SIG_ECDSA:
		break;
	default:
		return CS_ERR_MECHANISM;
	}
	if (EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		return CS_ERR_MECHANISM;
	return 0;
}

static int
soft_sign(void *arg, const char *key_uri, const struct cs_sign_params *params,
          const uint8_t *digest, size_t digest_len, uint8_t *sig, size_t *sig_len)
{
	struct soft_backend *sb = arg;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *ctx = NULL;
	int r;

	sb->signs++;
	sb->last_sign = *params;
	if (sb->fail != 0)
		return sb->fail;
	if ((pkey = find_key(sb, key_uri)) == NULL)
		return CS_ERR_NOT_FOUND;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = sign_setup(ctx, params)) != 0)
		goto out;
	r = EVP_PKEY_sign(ctx, sig, sig_len, digest, digest_len) == 1 ? 0 : CS_ERR_TOKEN;
out:
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int
decrypt_setup(EVP_PKEY_CTX *ctx, const struct cs_decrypt_params *dp)
{
	unsigned char *label;

	if (EVP_PKEY_decrypt_init(ctx) != 1)
		return CS_ERR_MECHANISM;
	if (dp->padding == CS_PAD_PKCS1)
		return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 ? 0
		                                                                : CS_ERR_MECHANISM;
	if (dp->padding != CS_PAD_OAEP || EVP_get_digestbynid(dp->md_nid) == NULL ||
	    EVP_get_digestbynid(dp->mgf1_nid) == NULL)
		return CS_ERR_MECHANISM;
	if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_get_digestbynid(dp->md_nid)) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_get_digestbynid(dp->mgf1_nid)) != 1)
		return CS_ERR_MECHANISM;
	if (dp->label_len > 0) {
		/* set0 takes the label, so it gets a copy of its own. */
		if ((label = OPENSSL_memdup(dp->label, dp->label_len)) == NULL)
			return CS_ERR_NOMEM;
		if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, (int)dp->label_len) != 1) {
			OPENSSL_free(label);
			return CS_ERR_MECHANISM;
		}
	}
	return 0;
}

static int
soft_decrypt(void *arg, const char *key_uri, const struct cs_decrypt_params *params,
             const uint8_t *in, size_t in_len, struct cs_secret **ret_key)
{
	struct soft_backend *sb = arg;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	sb->decrypts++;
	sb->last_decrypt = *params;
	sb->last_decrypt.label = NULL;
	if (sb->fail != 0)
		return sb->fail;
	if ((pkey = find_key(sb, key_uri)) == NULL)
		return CS_ERR_NOT_FOUND;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = decrypt_setup(ctx, params)) != 0)
		goto out;
	r = CS_ERR_DECRYPT;
	if (EVP_PKEY_decrypt(ctx, NULL, &cap, in, in_len) != 1)
		goto out;
	len = cap;
	if ((buf = OPENSSL_malloc(cap)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	if (EVP_PKEY_decrypt(ctx, buf, &len, in, in_len) != 1)
		goto out;
	if ((*ret_key = cs_secret_from(buf, len)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	OPENSSL_clear_free(buf, cap);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* The peer as an EVP_PKEY on our key's curve; OpenSSL checks the point. */
static int
peer_key(EVP_PKEY *pkey, const uint8_t *pt, size_t len, EVP_PKEY **ret_peer)
{
	char group[64];
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx;
	int r = CS_ERR_BAD_FORMAT;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
	                                   NULL) != 1)
		return CS_ERR_INTERNAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, len);
	params[2] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
		return CS_ERR_NOMEM;
	if (EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, ret_peer, EVP_PKEY_PUBLIC_KEY, params) == 1)
		r = 0;
	EVP_PKEY_CTX_free(ctx);
	return r;
}

static int
soft_derive(void *arg, const char *key_uri, const uint8_t *peer_point, size_t peer_len,
            struct cs_secret **ret_secret)
{
	struct soft_backend *sb = arg;
	EVP_PKEY *pkey, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char z[132];
	size_t len = sizeof(z);
	int r;

	sb->derives++;
	if (sb->fail != 0)
		return sb->fail;
	if ((pkey = find_key(sb, key_uri)) == NULL)
		return CS_ERR_NOT_FOUND;
	/* keyd sends only uncompressed points to the token. */
	if (peer_len == 0 || peer_point[0] != 0x04)
		return CS_ERR_BAD_FORMAT;
	if ((r = peer_key(pkey, peer_point, peer_len, &peer)) != 0)
		return r;
	r = CS_ERR_TOKEN;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, z, &len) != 1)
		goto out;
	r = (*ret_secret = cs_secret_from(z, len)) != NULL ? 0 : CS_ERR_NOMEM;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return r;
}

struct soft_backend *
soft_backend_new(void)
{
	struct soft_backend *sb;

	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return NULL;
	sb->ops.arg = sb;
	sb->ops.sign = soft_sign;
	sb->ops.decrypt = soft_decrypt;
	sb->ops.derive = soft_derive;
	return sb;
}

void
soft_backend_free(struct soft_backend *sb)
{
	struct soft_key *k, *next;

	if (sb == NULL)
		return;
	for (k = sb->keys; k != NULL; k = next) {
		next = k->next;
		free(k->uri);
		EVP_PKEY_free(k->pkey);
		free(k);
	}
	free(sb);
}

int
soft_backend_add_key(struct soft_backend *sb, const char *uri, const char *pem_path)
{
	struct soft_key *k;
	FILE *f;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return CS_ERR_NOMEM;
	if ((f = fopen(pem_path, "r")) == NULL) {
		free(k);
		return CS_ERR_IO;
	}
	k->pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (k->pkey == NULL || (k->uri = strdup(uri)) == NULL) {
		EVP_PKEY_free(k->pkey);
		free(k);
		return CS_ERR_BAD_FORMAT;
	}
	k->next = sb->keys;
	sb->keys = k;
	return 0;
}
