/*
 * Private-key operations on the token: sign, decrypt (unwrap a content key)
 * and ECDH derive. Each finds its token by URI, logs in, finds the private
 * key by the URI's attributes (from the key cache when it holds a handle for
 * this session of this token: tok_keycache.h), runs, and ends with
 * tok_token_finish(). A cached handle the module no longer knows is looked
 * up afresh and the operation's first step tried once more.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/obj_mac.h>
#include <p11-kit/uri.h>

#include "cs_buf.h"
#include "cs_error.h"
#include "tok_ecpoint.h"
#include "tok_encode.h"
#include "tok_keycache.h"
#include "tok_login.h"
#include "tok_oaep.h"

#define MAX_RSA_BYTES 1024  /* 8192-bit modulus */

/* The exact bit length of an RSA key's modulus (a 2047-bit key has 256 bytes). */
static int
read_modulus_bits(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, struct tok_private_key *key)
{
	uint8_t modulus[MAX_RSA_BYTES];
	CK_ATTRIBUTE m = { CKA_MODULUS, modulus, sizeof(modulus) };
	CK_ULONG i = 0;
	unsigned top;
	CK_RV rv;

	if ((rv = fn->C_GetAttributeValue(s, key->handle, &m, 1)) != CKR_OK)
		return tok_map_rv(rv);
	while (i < m.ulValueLen && modulus[i] == 0)
		i++;
	if (i == m.ulValueLen)
		return CS_ERR_BAD_FORMAT;
	for (top = 0; (modulus[i] >> top) != 0; top++)
		;
	key->modulus_bits = (unsigned)(m.ulValueLen - i - 1) * 8 + top;
	return 0;
}

/* Finds the private key a URI names on t's (logged in) session. */
static int
find_private_key(struct tok_token *t, const char *key_uri, struct tok_private_key *ret)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_OBJECT_CLASS klass = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE tmpl[3];
	CK_ULONG n_tmpl = 0, n_found = 0, n_attrs, i;
	CK_ATTRIBUTE *attrs;
	CK_OBJECT_HANDLE objs[2];
	P11KitUri *uri;
	CK_RV rv;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((uri = p11_kit_uri_new()) == NULL)
		return CS_ERR_NOMEM;
	if (p11_kit_uri_parse(key_uri, P11_KIT_URI_FOR_ANY, uri) != P11_KIT_URI_OK) {
		r = CS_ERR_BAD_FORMAT;
		goto out;
	}
	tmpl[n_tmpl++] = (CK_ATTRIBUTE){ CKA_CLASS, &klass, sizeof(klass) };
	attrs = p11_kit_uri_get_attributes(uri, &n_attrs);
	for (i = 0; i < n_attrs && n_tmpl < 3; i++) {
		if (attrs[i].type == CKA_ID || attrs[i].type == CKA_LABEL)
			tmpl[n_tmpl++] = attrs[i];
	}
	if (n_tmpl == 1) {
		r = CS_ERR_INVALID_ARG;     /* a key URI must name a key, not just a token */
		goto out;
	}
	if ((rv = fn->C_FindObjectsInit(t->session, tmpl, n_tmpl)) != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	rv = fn->C_FindObjects(t->session, objs, 2, &n_found);
	(void)fn->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	if (n_found != 1) {
		r = n_found == 0 ? CS_ERR_NOT_FOUND : CS_ERR_INVALID_ARG;  /* ambiguous */
		goto out;
	}
	ret->handle = objs[0];
	r = tok_read_key_facts(fn, t->session, ret->handle, &ret->type, &ret->always_authenticate,
	                       &ret->modulus_bytes, &ret->curve_nid);
	if (r == 0 && ret->type == CKK_RSA)
		r = read_modulus_bits(fn, t->session, ret);
out:
	p11_kit_uri_free(uri);
	return r;
}

int
tok_read_key_facts(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key,
                   CK_KEY_TYPE *ret_type, CK_BBOOL *ret_always_auth, CK_ULONG *ret_modulus_bytes,
                   int *ret_curve_nid)
{
	CK_BBOOL always = CK_FALSE;
	uint8_t params[128], modulus[MAX_RSA_BYTES];
	CK_ATTRIBUTE a[2] = {
		{ CKA_KEY_TYPE, ret_type, sizeof(*ret_type) },
		{ CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) },
	};
	CK_ATTRIBUTE m = { CKA_MODULUS, modulus, sizeof(modulus) };
	CK_ATTRIBUTE p = { CKA_EC_PARAMS, params, sizeof(params) };
	CK_RV rv;

	*ret_modulus_bytes = 0;
	*ret_curve_nid = 0;
	if ((rv = fn->C_GetAttributeValue(s, key, &a[0], 1)) != CKR_OK)
		return tok_map_rv(rv);
	/* Tokens without the attribute (PKCS#11 2.11) answer an error: then it is false. */
	if (fn->C_GetAttributeValue(s, key, &a[1], 1) != CKR_OK)
		always = CK_FALSE;
	*ret_always_auth = always;
	if (*ret_type == CKK_RSA) {
		if ((rv = fn->C_GetAttributeValue(s, key, &m, 1)) != CKR_OK)
			return tok_map_rv(rv);
		/* Leading zero bytes are not part of the modulus. */
		while (m.ulValueLen > 0 && modulus[0] == 0) {
			memmove(modulus, modulus + 1, --m.ulValueLen);
		}
		*ret_modulus_bytes = m.ulValueLen;
		return 0;
	}
	if (*ret_type == CKK_EC) {
		if ((rv = fn->C_GetAttributeValue(s, key, &p, 1)) != CKR_OK)
			return tok_map_rv(rv);
		return tok_ec_curve_from_params(params, p.ulValueLen, ret_curve_nid);
	}
	return CS_ERR_MECHANISM;
}

/*
 * The key for key_uri on t's logged-in session: from the cache if it holds one
 * for this session, serial and generation, else searched and remembered.
 * fresh: search even if cached (after the module refused a cached handle).
 */
static int
lookup_key(struct tok_ctx *ctx, struct tok_token *t, const char *serial, const char *key_uri,
           int fresh, struct tok_private_key *ret_key)
{
	/* Read before the search: an event during it leaves the entry stale, not trusted. */
	unsigned long generation = tok_ctx_generation(ctx);
	int r;

	if (fresh)
		tok_keycache_clear(t);
	else if (tok_keycache_get(t, serial, generation, key_uri, ret_key))
		return 0;
	if ((r = find_private_key(t, key_uri, ret_key)) != 0)
		return r;
	tok_keycache_put(t, serial, generation, key_uri, ret_key);
	ret_key->cached = 0;
	return 0;
}

/* Locks the token of uri, logs in and finds the key. On success the token stays locked. */
static int
begin_op(struct tok_ctx *ctx, const char *key_uri, tok_pin_cb cb, void *arg,
         struct tok_token **ret_t, char serial[17], struct tok_private_key *ret_key)
{
	struct tok_token_info info;
	struct tok_token *t;
	int r;

	*ret_t = NULL;
	if ((r = tok_lock_token_for_uri_info(ctx, key_uri, &t, &info)) != 0)
		return r;
	memcpy(serial, info.serial, sizeof(info.serial));
	if ((r = tok_token_prepare(ctx, t, cb, arg)) != 0 ||
	    (r = lookup_key(ctx, t, serial, key_uri, 0, ret_key)) != 0) {
		tok_token_finish(ctx, t, r);
		pthread_mutex_unlock(&t->lock);
		return r;
	}
	*ret_t = t;
	return 0;
}

static void
end_op(struct tok_ctx *ctx, struct tok_token *t, int result)
{
	tok_token_finish(ctx, t, result);
	pthread_mutex_unlock(&t->lock);
}

/*
 * After an *Init on a CKA_ALWAYS_AUTHENTICATE key: the context-specific login.
 * Returns 0 or CS_ERR_*; on failure the caller's operation is abandoned.
 */
static int
maybe_context_login(struct tok_token *t, const struct tok_private_key *key, tok_pin_cb cb, void *arg)
{
	if (!key->always_authenticate)
		return 0;
	return tok_token_context_login(t, cb, arg);
}

int
tok_sign(struct tok_ctx *ctx, const struct tok_sign_request *req, tok_pin_cb cb, void *arg,
         uint8_t *sig, size_t *sig_len)
{
	struct tok_token *t;
	struct tok_private_key key;
	CK_FUNCTION_LIST *fn;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_RSA_PKCS_PSS_PARAMS pss;
	uint8_t input[128], raw[MAX_RSA_BYTES];
	size_t input_len;
	CK_ULONG out_len = sizeof(raw);
	char serial[17];
	CK_RV rv;
	int r, retried = 0;

	if ((r = begin_op(ctx, req->key_uri, cb, arg, &t, serial, &key)) != 0)
		return r;
	fn = t->module->fn;
again:
	input_len = 0;
	mech = (CK_MECHANISM){ 0, NULL, 0 };
	switch (req->scheme) {
	case TOK_SIGN_RSA_PKCS1:
		r = key.type == CKK_RSA ? 0 : CS_ERR_MECHANISM;
		if (r == 0)
			r = tok_digestinfo(req->md_nid, req->digest, req->digest_len, input,
			                   sizeof(input), &input_len);
		mech.mechanism = CKM_RSA_PKCS;
		break;
	case TOK_SIGN_RSA_PSS:
		r = key.type == CKK_RSA ? 0 : CS_ERR_MECHANISM;
		if (r == 0)
			r = tok_pss_params(req->md_nid, req->mgf1_nid, req->salt_len,
			                   key.modulus_bits, &pss);
		mech.mechanism = CKM_RSA_PKCS_PSS;
		mech.pParameter = &pss;
		mech.ulParameterLen = sizeof(pss);
		if (r == 0 && req->digest_len <= sizeof(input)) {
			memcpy(input, req->digest, req->digest_len);
			input_len = req->digest_len;
		}
		break;
	case TOK_SIGN_ECDSA:
		r = key.type == CKK_EC ? 0 : CS_ERR_MECHANISM;
		mech.mechanism = CKM_ECDSA;
		if (r == 0 && req->digest_len <= sizeof(input)) {
			memcpy(input, req->digest, req->digest_len);
			input_len = req->digest_len;
		}
		break;
	default:
		r = CS_ERR_MECHANISM;
		break;
	}
	if (r == 0 && input_len == 0)
		r = CS_ERR_INVALID_ARG;
	if (r != 0)
		goto out;
	if ((rv = fn->C_SignInit(t->session, &mech, key.handle)) != CKR_OK) {
		if (tok_stale_handle(rv) && key.cached && !retried) {
			retried = 1;
			if ((r = lookup_key(ctx, t, serial, req->key_uri, 1, &key)) != 0)
				goto out;
			goto again;
		}
		r = tok_map_rv(rv);
		goto out;
	}
	if ((r = maybe_context_login(t, &key, cb, arg)) != 0) {
		/* The only portable way to end an initialised operation is to finish it. */
		(void)fn->C_Sign(t->session, input, input_len, NULL, &out_len);
		tok_token_drop_session(t);
		goto out;
	}
	if ((rv = fn->C_Sign(t->session, input, input_len, raw, &out_len)) != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	if (req->scheme == TOK_SIGN_ECDSA) {
		r = tok_ecdsa_raw_to_der(raw, out_len, sig, *sig_len, sig_len);
	} else if (out_len > *sig_len) {
		r = CS_ERR_TOO_LARGE;
	} else {
		memcpy(sig, raw, out_len);
		*sig_len = out_len;
	}
out:
	end_op(ctx, t, r);
	return r;
}

/*
 * Whether to retry a failed OAEP attempt as raw RSA with decoding here.
 * Tokens say "I cannot do this OAEP variant" in many ways (SoftHSM:
 * CKR_ARGUMENTS_BAD for a non-SHA-1 hash, CKR_GENERAL_ERROR for a label), so
 * every failure qualifies except those about the token, the PIN or the user.
 * A ciphertext that is simply bad fails the same way on both paths.
 */
static int
oaep_unsupported(CK_RV rv)
{
	switch (rv) {
	case CKR_OK:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_PIN_INCORRECT:
	case CKR_PIN_LOCKED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_FUNCTION_CANCELED:
		return 0;
	default:
		return 1;
	}
}

/* One C_DecryptInit + C_Decrypt into out (size in *out_len). */
static CK_RV
decrypt_once(struct tok_token *t, const struct tok_private_key *key, CK_MECHANISM *mech,
             const struct tok_decrypt_request *req, tok_pin_cb cb, void *arg, uint8_t *out,
             CK_ULONG *out_len, int *ret_login_err)
{
	CK_FUNCTION_LIST *fn = t->module->fn;
	CK_RV rv;

	*ret_login_err = 0;
	if ((rv = fn->C_DecryptInit(t->session, mech, key->handle)) != CKR_OK)
		return rv;
	if ((*ret_login_err = maybe_context_login(t, key, cb, arg)) != 0) {
		CK_ULONG dummy = 0;

		(void)fn->C_Decrypt(t->session, (CK_BYTE_PTR)req->in, req->in_len, NULL, &dummy);
		tok_token_drop_session(t);
		return CKR_FUNCTION_CANCELED;
	}
	return fn->C_Decrypt(t->session, (CK_BYTE_PTR)req->in, req->in_len, out, out_len);
}

int
tok_decrypt(struct tok_ctx *ctx, const struct tok_decrypt_request *req, tok_pin_cb cb, void *arg,
            struct cs_secret **ret_key)
{
	struct tok_token *t;
	struct tok_private_key key;
	CK_MECHANISM mech = { CKM_RSA_PKCS, NULL, 0 };
	CK_RSA_PKCS_OAEP_PARAMS oaep;
	uint8_t out[MAX_RSA_BYTES];
	CK_ULONG out_len;
	char serial[17];
	CK_RV rv;
	int r, login_err, retried = 0;

	*ret_key = NULL;
	if ((r = begin_op(ctx, req->key_uri, cb, arg, &t, serial, &key)) != 0)
		return r;
again:
	mech = (CK_MECHANISM){ CKM_RSA_PKCS, NULL, 0 };
	out_len = sizeof(out);
	if (key.type != CKK_RSA || req->in_len != key.modulus_bytes) {
		r = key.type != CKK_RSA ? CS_ERR_MECHANISM : CS_ERR_DECRYPT;
		goto out;
	}
	if (req->padding == TOK_PAD_OAEP) {
		if ((r = tok_oaep_params(req->md_nid, req->mgf1_nid, req->label, req->label_len,
		                         &oaep)) != 0)
			goto out;
		mech.mechanism = CKM_RSA_PKCS_OAEP;
		mech.pParameter = &oaep;
		mech.ulParameterLen = sizeof(oaep);
	} else if (req->padding != TOK_PAD_PKCS1) {
		r = CS_ERR_MECHANISM;
		goto out;
	}
	rv = decrypt_once(t, &key, &mech, req, cb, arg, out, &out_len, &login_err);
	if (login_err != 0) {
		r = login_err;
		goto out;
	}
	if (tok_stale_handle(rv) && key.cached && !retried) {
		retried = 1;
		if ((r = lookup_key(ctx, t, serial, req->key_uri, 1, &key)) != 0)
			goto out;
		goto again;
	}
	if (req->padding == TOK_PAD_OAEP && oaep_unsupported(rv)) {
		/* Raw RSA on the token, OAEP decoded here in constant time; the raw result stays here. */
		mech = (CK_MECHANISM){ CKM_RSA_X_509, NULL, 0 };
		out_len = sizeof(out);
		rv = decrypt_once(t, &key, &mech, req, cb, arg, out, &out_len, &login_err);
		if (login_err != 0) {
			r = login_err;
			goto out;
		}
		if (rv == CKR_OK && out_len <= key.modulus_bytes) {
			/* Some modules drop leading zero bytes of the raw result: restore them. */
			memmove(out + (key.modulus_bytes - out_len), out, out_len);
			memset(out, 0, key.modulus_bytes - out_len);
			r = tok_oaep_decode(out, key.modulus_bytes, req->md_nid, req->mgf1_nid,
			                    req->label, req->label_len, ret_key);
		} else {
			r = rv == CKR_OK ? CS_ERR_DECRYPT : tok_map_rv(rv);
		}
		goto out;
	}
	if (rv != CKR_OK) {
		r = tok_map_rv(rv);
		/*
		 * Every padding failure looks the same from outside; tokens report them
		 * variously (SoftHSM: CKR_GENERAL_ERROR), so anything that is not about
		 * the token's presence, the PIN or the mechanism is a decryption error.
		 */
		if (r == CS_ERR_TOKEN || (r == CS_ERR_MECHANISM && rv != CKR_MECHANISM_INVALID))
			r = CS_ERR_DECRYPT;
		goto out;
	}
	if ((*ret_key = cs_secret_from(out, out_len)) == NULL)
		r = CS_ERR_NOMEM;
out:
	cs_wipe(out, sizeof(out));
	end_op(ctx, t, r);
	return r;
}

/* The size of a shared secret (the x coordinate) on a curve we support. */
static size_t
ec_field_bytes(int curve_nid)
{
	switch (curve_nid) {
	case NID_X9_62_prime256v1:
		return 32;
	case NID_secp384r1:
		return 48;
	case NID_secp521r1:
		return 66;
	default:
		return 0;
	}
}

int
tok_derive(struct tok_ctx *ctx, const char *key_uri, const uint8_t *peer, size_t peer_len,
           tok_pin_cb cb, void *arg, struct cs_secret **ret_secret)
{
	struct tok_token *t;
	struct tok_private_key key;
	CK_FUNCTION_LIST *fn;
	CK_ECDH1_DERIVE_PARAMS params;
	CK_MECHANISM mech = { CKM_ECDH1_DERIVE, &params, sizeof(params) };
	CK_OBJECT_CLASS klass = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG field_len = 0;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &klass, sizeof(klass) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_SENSITIVE, &no, sizeof(no) },
		{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
		{ CKA_VALUE_LEN, &field_len, sizeof(field_len) },
	};
	CK_OBJECT_HANDLE derived = CK_INVALID_HANDLE;
	uint8_t value[80], point[1 + 2 * 66];
	size_t point_len = 0;
	CK_ATTRIBUTE va = { CKA_VALUE, value, sizeof(value) };
	char serial[17];
	CK_RV rv;
	int r, retried = 0;

	*ret_secret = NULL;
	if ((r = begin_op(ctx, key_uri, cb, arg, &t, serial, &key)) != 0)
		return r;
	fn = t->module->fn;
again:
	if (key.type != CKK_EC) {
		r = CS_ERR_MECHANISM;
		goto out;
	}
	/* An off-curve point is an invalid-curve attack on the token's key: refuse it first. */
	if ((r = tok_ec_point_check(key.curve_nid, peer, peer_len)) != 0)
		goto out;
	/* Not every token takes a compressed point: hand it the uncompressed form. */
	if ((r = tok_ec_point_uncompressed(key.curve_nid, peer, peer_len, point, sizeof(point),
	                                   &point_len)) != 0)
		goto out;
	field_len = (CK_ULONG)ec_field_bytes(key.curve_nid);
	memset(&params, 0, sizeof(params));
	params.kdf = CKD_NULL;
	params.pPublicData = point;
	params.ulPublicDataLen = point_len;
	/* C_DeriveKey has no Init step: the per-operation login comes right before it. */
	if (key.always_authenticate && (r = tok_token_context_login(t, cb, arg)) != 0)
		goto out;
	rv = fn->C_DeriveKey(t->session, &mech, key.handle, tmpl, sizeof(tmpl) / sizeof(tmpl[0]),
	                     &derived);
	if (tok_stale_handle(rv) && key.cached && !retried) {
		retried = 1;
		if ((r = lookup_key(ctx, t, serial, key_uri, 1, &key)) != 0)
			goto out;
		goto again;
	}
	if (rv != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	if ((rv = fn->C_GetAttributeValue(t->session, derived, &va, 1)) != CKR_OK) {
		r = tok_map_rv(rv);
		goto out;
	}
	if ((*ret_secret = cs_secret_from(value, va.ulValueLen)) == NULL)
		r = CS_ERR_NOMEM;
out:
	if (derived != CK_INVALID_HANDLE)
		(void)fn->C_DestroyObject(t->session, derived);
	cs_wipe(value, sizeof(value));
	end_op(ctx, t, r);
	return r;
}
