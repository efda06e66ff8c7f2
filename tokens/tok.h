/*
 * tokens/: the PKCS#11 layer, linked into cardseal-keyd only.
 *
 * A tok_ctx holds the loaded modules and, for every token seen, one
 * tok_token with its own lock and at most one open session: PKCS#11 login
 * state belongs to the token, so one session per token and a lock around it
 * keep the login state simple and the calls thread-safe. Keys and
 * certificates are named by RFC 7512 pkcs11: URIs (p11-kit's parser).
 *
 * Every function returns 0 or a negative CS_ERR_*; where a CK_RV explains
 * a failure it is stored in the context's last_rv for the caller's log.
 */
#ifndef TOK_H
#define TOK_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "cs_secret.h"

struct tok_ctx;
struct tok_token;

/* Token and slot facts as a client sees them (copied; no pointers into the ctx). */
struct tok_token_info {
	char module_path[256];
	CK_SLOT_ID slot_id;
	int present;
	int removable;
	int hardware_slot;          /* reported by the module; not proof of hardware */
	char label[33];             /* trailing blanks removed */
	char serial[17];
	char manufacturer[33];
	char model[17];
	int login_required;
	int protected_auth_path;    /* a PIN pad: the PIN is typed on the reader */
	int pin_count_low;
	int pin_final_try;
	int pin_locked;
	int logged_in;              /* by keyd, within the cache time */
};

enum tok_key_type {
	TOK_KEY_RSA = 1,
	TOK_KEY_EC = 2,
};

/* A certificate with its private key on a token, paired by CKA_ID. */
struct tok_identity {
	char *key_uri;              /* pkcs11:token=...;serial=...;id=...;type=private */
	char *cert_uri;
	uint8_t *cert_der;
	size_t cert_len;
	char *label;                /* the key's CKA_LABEL */
	struct tok_token_info token;
	enum tok_key_type key_type;
	int always_authenticate;    /* CKA_ALWAYS_AUTHENTICATE: a login per operation */
	int local;                  /* CKA_LOCAL: generated on the token */
	int can_sign;
	int can_decrypt;
	int can_derive;
};

void tok_identity_clear(struct tok_identity *id);
void tok_identities_free(struct tok_identity *ids, size_t n);

/* What the PIN callback is told. */
struct tok_pin_prompt {
	const char *token_label;
	int previous_wrong;         /* the last PIN tried on this token was wrong */
	int count_low;
	int final_try;
	int context_specific;       /* a per-operation login (CKA_ALWAYS_AUTHENTICATE) */
	int keypad;                 /* protected authentication path: no PIN is asked */
};

/*
 * Asks the user for a PIN. Returns 0 with a new secret in *ret_pin, or a
 * negative CS_ERR_* (CS_ERR_CANCELLED, CS_ERR_TIMEOUT...) that ends the
 * operation. With prompt->keypad set it is a notice: return 0 and NULL.
 */
typedef int (*tok_pin_cb)(void *arg, const struct tok_pin_prompt *prompt,
                          struct cs_secret **ret_pin);

/*
 * Loads modules: "p11-kit" (or NULL) for the modules registered with
 * p11-kit, or a ';'-separated list of module paths. Returns 0 and *ret_ctx.
 */
int tok_ctx_new(const char *modules, struct tok_ctx **ret_ctx);

/* Logs out, closes sessions, finalises and unloads the modules. NULL is fine. */
void tok_ctx_free(struct tok_ctx *ctx);

/* The CK_RV behind the last failure seen in this thread (0 if none). */
CK_RV tok_last_rv(void);

/* Seconds of idleness after which keyd logs out of a token (0: every time). */
void tok_set_login_ttl(struct tok_ctx *ctx, unsigned seconds);

/*
 * Rescans every module's slot list (needed after slot events: OpenSC wants
 * it before a re-inserted card works). Returns 0 or a negative CS_ERR_*.
 */
int tok_rescan(struct tok_ctx *ctx);

/* All slots with their token facts; *ret_list is freed with free(). */
int tok_list_tokens(struct tok_ctx *ctx, struct tok_token_info **ret_list, size_t *ret_n);

/*
 * Every certificate whose private key (same CKA_ID) is on a present token.
 * Listing private keys may need a login on tokens that mark them private;
 * identities are found from certificates and public keys, which need none.
 */
int tok_list_identities(struct tok_ctx *ctx, struct tok_identity **ret_ids, size_t *ret_n);

/*
 * The same; *ret_partial is set to 1 when a present token was busy and had
 * never been listed while free, so that its identities are missing (a busy
 * token's identities are otherwise those it held when last free).
 */
int tok_list_identities_partial(struct tok_ctx *ctx, struct tok_identity **ret_ids, size_t *ret_n,
                                int *ret_partial);

/* A certificate found on a token. */
struct tok_cert {
	uint8_t *der;
	size_t len;
};

void tok_certs_free(struct tok_cert *certs, size_t n);

/*
 * The certificates on present tokens that have no private key beside them:
 * the CA certificates cards carry, which complete signers' chains.
 */
int tok_list_ca_certs(struct tok_ctx *ctx, struct tok_cert **ret_certs, size_t *ret_n);

/*
 * The same; a busy token's CA certificates are those it held when last free,
 * and *ret_partial is set to 1 when a busy token had never been listed free.
 */
int tok_list_ca_certs_partial(struct tok_ctx *ctx, struct tok_cert **ret_certs, size_t *ret_n,
                              int *ret_partial);

/*
 * Finds the identity a key URI names (token by label/serial/model/manufacturer,
 * key by id and/or object label). CS_ERR_NO_TOKEN when the token is absent,
 * CS_ERR_NOT_FOUND when it is present but holds no such key.
 */
int tok_find_identity(struct tok_ctx *ctx, const char *key_uri, struct tok_identity *ret_id);

/* Signature requests: the digest is computed by the caller. */
struct tok_sign_request {
	const char *key_uri;
	int scheme;                 /* TOK_SIGN_* */
	int md_nid;
	int mgf1_nid;               /* PSS */
	int salt_len;               /* PSS */
	const uint8_t *digest;
	size_t digest_len;
};

enum {
	TOK_SIGN_RSA_PKCS1 = 1,
	TOK_SIGN_RSA_PSS = 2,
	TOK_SIGN_ECDSA = 3,         /* output converted to DER */
};

/*
 * Signs on the token, logging in through pin_cb when needed. On entry
 * *sig_len is the size of sig. Returns 0, CS_ERR_NO_TOKEN, CS_ERR_NOT_FOUND,
 * CS_ERR_PIN_INCORRECT, CS_ERR_PIN_LOCKED, CS_ERR_CANCELLED, CS_ERR_TIMEOUT,
 * CS_ERR_TOKEN_REMOVED, CS_ERR_MECHANISM or CS_ERR_TOKEN.
 */
int tok_sign(struct tok_ctx *ctx, const struct tok_sign_request *req, tok_pin_cb pin_cb,
             void *pin_arg, uint8_t *sig, size_t *sig_len);

enum {
	TOK_PAD_PKCS1 = 1,
	TOK_PAD_OAEP = 2,
};

struct tok_decrypt_request {
	const char *key_uri;
	int padding;                /* TOK_PAD_* */
	int md_nid;                 /* OAEP */
	int mgf1_nid;               /* OAEP */
	const uint8_t *label;       /* OAEP */
	size_t label_len;
	const uint8_t *in;
	size_t in_len;
};

/*
 * Decrypts a wrapped key on the token. When the token lacks the OAEP
 * variant, raw RSA runs on the token and OAEP is decoded here in constant
 * time; no raw RSA result leaves this function. Every padding failure is
 * CS_ERR_DECRYPT. *ret_key is a new secret.
 */
int tok_decrypt(struct tok_ctx *ctx, const struct tok_decrypt_request *req, tok_pin_cb pin_cb,
                void *pin_arg, struct cs_secret **ret_key);

/*
 * ECDH on the token with the peer's public point (uncompressed octets),
 * checked to be on the key's curve first. *ret_secret is the shared x.
 */
int tok_derive(struct tok_ctx *ctx, const char *key_uri, const uint8_t *peer, size_t peer_len,
               tok_pin_cb pin_cb, void *pin_arg, struct cs_secret **ret_secret);

/*
 * Whether the token of key_uri lists mech (C_GetMechanismList): 1 if it
 * does, 0 if not, or a negative CS_ERR_* (CS_ERR_NO_TOKEN when absent).
 * Needs no login, so it can run before the PIN dialog. *ret_info describes
 * the token (for a message that names it and its module).
 */
int tok_mechanism_offered(struct tok_ctx *ctx, const char *key_uri, CK_MECHANISM_TYPE mech,
                          struct tok_token_info *ret_info);

/* Logs out of every token (e.g. on the user's request or a lock screen). */
void tok_logout_all(struct tok_ctx *ctx);

#endif
