/* Per-account settings (for now the defaults only; the settings table comes next). */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "settings.h"

int
settings_get(struct daemon *d, const char *account, struct account_settings *ret)
{
	(void)d;
	(void)account;
	memset(ret, 0, sizeof(*ret));
	ret->sign_cert = strdup("auto");
	ret->encrypt_cert = strdup("auto");
	ret->harvest = 1;
	if (ret->sign_cert == NULL || ret->encrypt_cert == NULL) {
		account_settings_clear(ret);
		return CS_ERR_NOMEM;
	}
	return 0;
}

void
account_settings_clear(struct account_settings *s)
{
	free(s->sign_cert);
	free(s->encrypt_cert);
	memset(s, 0, sizeof(*s));
}
