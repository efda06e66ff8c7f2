/*
 * Per-account S/MIME settings, kept by the engine in the store's database:
 * the signing and encryption certificate ("auto" or a pkcs11: URI), always
 * sign, always encrypt, harvest correspondents' certificates automatically.
 */
#ifndef CS_SETTINGS_H
#define CS_SETTINGS_H

#include "daemon.h"

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

#endif
