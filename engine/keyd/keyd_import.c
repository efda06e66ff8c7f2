/*
 * CS_KMSG_IMPORT_P12. The password is read in place from the request body
 * (which the request thread wipes when the handler returns) straight into a
 * cs_secret, so no other heap copy of it exists; the file itself is
 * encrypted, and tokens/ wipes everything it decrypts from it.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_keyd_msg.h"
#include "keyd_import.h"
#include "tok_pkcs12.h"

/* The password field (a str on the wire) as a new secret; NULL when empty. */
static void
read_password(struct cs_reader *rd, struct cs_secret **ret)
{
	const uint8_t *p;
	size_t n;

	*ret = NULL;
	cs_read_bytes(rd, CS_SECRET_MAX, &p, &n);
	if (n == 0)
		return;
	/* A str may not hold NUL; OpenSSL would cut the password there. */
	if (memchr(p, 0, n) != NULL) {
		cs_reader_fail(rd, CS_ERR_BAD_FORMAT);
		return;
	}
	if ((*ret = cs_secret_from(p, n)) == NULL)
		cs_reader_fail(rd, CS_ERR_NOMEM);
}

void
keyd_handle_import_p12(struct keyd *k, uint32_t id, struct cs_reader *rd,
                       const volatile int *cancel)
{
	struct keyd_context ctx;
	struct keyd_pin_arg pin = { k, id, &ctx, "import", cancel, NULL };
	struct cs_secret *password = NULL;
	char *token_uri = NULL, *label = NULL, *key_uri = NULL, *cert_uri = NULL;
	const uint8_t *p12;
	size_t p12_len;
	struct cs_buf b;
	int r;

	cs_buf_init(&b, 0);
	keyd_read_context(rd, &ctx);
	cs_read_str(rd, CS_KEYD_MAX_STR, &token_uri);
	cs_read_bytes(rd, TOK_PKCS12_MAX, &p12, &p12_len);
	read_password(rd, &password);
	cs_read_str(rd, CS_KEYD_MAX_STR, &label);
	if ((r = cs_reader_finish(rd)) != 0)
		goto out;
	r = tok_import_pkcs12(k->tokens, token_uri, p12, p12_len, password, label,
	                      keyd_pin_callback, &pin, &key_uri, &cert_uri);
	keyd_pin_done(&pin);
	/* A failed import has no key URI: the log names the token it was aimed at. */
	keyd_audit(k, &ctx, "import", key_uri != NULL ? key_uri : token_uri, r);
	if (r == 0 && (r = cs_buf_put_str(&b, key_uri)) == 0 &&
	    (r = cs_buf_put_str(&b, cert_uri)) == 0)
		r = keyd_send(k, CS_KMSG_OK, id, &b);
out:
	if (r != 0)
		keyd_send_error(k, id, r);
	cs_secret_free(password);
	keyd_context_clear(&ctx);
	free(token_uri);
	free(label);
	free(key_uri);
	free(cert_uri);
	cs_buf_clear(&b);
}
