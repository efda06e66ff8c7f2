#include "cs_error.h"

#include <stddef.h>

struct error_entry {
	int code;
	const char *name;
	const char *text;
};

static const struct error_entry error_table[] = {
	{ CS_OK, "CS_OK", "success" },
	{ CS_ERR_INTERNAL, "CS_ERR_INTERNAL", "internal error" },
	{ CS_ERR_NOMEM, "CS_ERR_NOMEM", "out of memory" },
	{ CS_ERR_TRUNCATED, "CS_ERR_TRUNCATED", "message truncated" },
	{ CS_ERR_TOO_LARGE, "CS_ERR_TOO_LARGE", "length over the limit" },
	{ CS_ERR_TRAILING, "CS_ERR_TRAILING", "unexpected bytes after the message" },
	{ CS_ERR_BAD_FORMAT, "CS_ERR_BAD_FORMAT", "malformed field" },
	{ CS_ERR_UNKNOWN_TYPE, "CS_ERR_UNKNOWN_TYPE", "unknown message type" },
	{ CS_ERR_IO, "CS_ERR_IO", "input/output error" },
	{ CS_ERR_EOF, "CS_ERR_EOF", "connection closed" },
	{ CS_ERR_AGAIN, "CS_ERR_AGAIN", "incomplete, more input needed" },
	{ CS_ERR_INVALID_ARG, "CS_ERR_INVALID_ARG", "invalid argument" },
	{ CS_ERR_NOT_FOUND, "CS_ERR_NOT_FOUND", "not found" },
	{ CS_ERR_NO_TOKEN, "CS_ERR_NO_TOKEN", "token not present" },
	{ CS_ERR_TOKEN_REMOVED, "CS_ERR_TOKEN_REMOVED", "token removed during the operation" },
	{ CS_ERR_PIN_INCORRECT, "CS_ERR_PIN_INCORRECT", "incorrect PIN" },
	{ CS_ERR_PIN_LOCKED, "CS_ERR_PIN_LOCKED", "PIN locked" },
	{ CS_ERR_CANCELLED, "CS_ERR_CANCELLED", "cancelled" },
	{ CS_ERR_TIMEOUT, "CS_ERR_TIMEOUT", "timed out" },
	{ CS_ERR_MECHANISM, "CS_ERR_MECHANISM", "operation not supported by the token" },
	{ CS_ERR_TOKEN, "CS_ERR_TOKEN", "token error" },
	{ CS_ERR_DECRYPT, "CS_ERR_DECRYPT", "decryption failed" },
	{ CS_ERR_PERMISSION, "CS_ERR_PERMISSION", "not permitted" },
	{ CS_ERR_PINENTRY, "CS_ERR_PINENTRY", "PIN dialog failed" },
	{ CS_ERR_BUSY, "CS_ERR_BUSY", "too many requests" },
	{ CS_ERR_PROTOCOL, "CS_ERR_PROTOCOL", "protocol violation" },
	{ CS_ERR_PKCS12, "CS_ERR_PKCS12", "PKCS#12 file unreadable" },
	{ CS_ERR_NO_RECIPIENT_CERT, "CS_ERR_NO_RECIPIENT_CERT",
	  "recipients without a usable encryption certificate" },
	{ CS_ERR_NO_KEY, "CS_ERR_NO_KEY", "no usable key or token" },
};

static const struct error_entry *
find_error(int err)
{
	size_t i;

	for (i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++) {
		if (error_table[i].code == err)
			return &error_table[i];
	}
	return NULL;
}

const char *
cs_strerror(int err)
{
	const struct error_entry *e = find_error(err);

	return e != NULL ? e->text : "unknown error";
}

const char *
cs_error_name(int err)
{
	const struct error_entry *e = find_error(err);

	return e != NULL ? e->name : "CS_ERR_UNKNOWN";
}
