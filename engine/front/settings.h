/*
 * Per-account S/MIME settings, kept by the engine in the store's database:
 * the signing and encryption certificate ("auto" or a pkcs11: URI), always
 * sign, always encrypt, harvest correspondents' certificates automatically.
 */
#ifndef CS_SETTINGS_H
#define CS_SETTINGS_H

#include "daemon.h"
#include "json.h"

struct account_settings {
	char *sign_cert;        /* "auto" or a pkcs11: URI */
	char *encrypt_cert;     /* "auto" or a pkcs11: URI */
	int always_sign;
	int always_encrypt;
	int harvest;            /* harvest certificates from valid signed mail automatically */
};

/*
 * The settings of account (an address; NULL or "" for the defaults of
 * accounts nobody configured). Returns 0 and fills *ret (defaults when
 * nothing is stored), or a negative CS_ERR_*.
 */
int settings_get(struct daemon *d, const char *account, struct account_settings *ret);
void account_settings_clear(struct account_settings *s);

/*
 * Stores one setting (key: sign-cert, encrypt-cert, always-sign,
 * always-encrypt, harvest) in one transaction. Checks the value's form only
 * (auto or a pkcs11: URI; yes or no): whether a URI names a valid identity,
 * or policy allows the change, is the caller's to decide. Returns 0,
 * CS_ERR_INVALID_ARG (unknown key or bad value) or another CS_ERR_*.
 */
int settings_set(struct daemon *d, const char *account, const char *key, const char *value);

/* Every account with stored settings (lower case, sorted); *ret_accounts NULL-terminated. */
int settings_accounts(struct daemon *d, char ***ret_accounts, size_t *ret_n);

/* The settings as members of the JSON object being written. */
void settings_json(const struct account_settings *s, struct cs_json *j);

/* Whether key is one of the setting names. */
int settings_key_known(const char *key);

#endif
