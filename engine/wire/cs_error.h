/*
 * Error codes shared by every Cardseal component and carried on the wire.
 *
 * Functions return 0 on success or one of these negative values. On the wire an
 * error travels as its absolute value, so the numbers are part of the protocol:
 * never renumber, only append (docs/protocol.md lists them).
 */
#ifndef CS_ERROR_H
#define CS_ERROR_H

enum cs_error {
	CS_OK = 0,
	CS_ERR_INTERNAL = -1,        /* a bug or an impossible state */
	CS_ERR_NOMEM = -2,           /* allocation failed */
	CS_ERR_TRUNCATED = -3,       /* input ended inside a field */
	CS_ERR_TOO_LARGE = -4,       /* a length is over its limit */
	CS_ERR_TRAILING = -5,        /* bytes left after the last field */
	CS_ERR_BAD_FORMAT = -6,      /* a field has a value it may not have */
	CS_ERR_UNKNOWN_TYPE = -7,    /* a message type nobody defined */
	CS_ERR_IO = -8,              /* read or write on a descriptor failed */
	CS_ERR_EOF = -9,             /* the peer closed the connection */
	CS_ERR_AGAIN = -10,          /* not enough bytes yet; call again */
	CS_ERR_INVALID_ARG = -11,    /* the caller passed something unusable */
	CS_ERR_NOT_FOUND = -12,      /* no such key, certificate, token or object */
	CS_ERR_NO_TOKEN = -13,       /* the token that holds the key is absent */
	CS_ERR_TOKEN_REMOVED = -14,  /* the token went away during the operation */
	CS_ERR_PIN_INCORRECT = -15,  /* the token rejected the PIN */
	CS_ERR_PIN_LOCKED = -16,     /* the token refuses further PIN attempts */
	CS_ERR_CANCELLED = -17,      /* the user (or the client) cancelled */
	CS_ERR_TIMEOUT = -18,        /* nobody answered in time */
	CS_ERR_MECHANISM = -19,      /* the token cannot do this operation */
	CS_ERR_TOKEN = -20,          /* the token failed for another reason */
	CS_ERR_DECRYPT = -21,        /* decryption failed; deliberately says no more */
	CS_ERR_PERMISSION = -22,     /* policy or the peer's identity forbids it */
	CS_ERR_PINENTRY = -23,       /* the PIN dialog program failed */
	CS_ERR_BUSY = -24,           /* a per-client limit was reached */
	CS_ERR_PROTOCOL = -25,       /* a message arrived out of order */
	CS_ERR_PKCS12 = -26,         /* a PKCS#12 file could not be read */
	CS_ERR_NO_RECIPIENT_CERT = -27, /* recipients without a usable encryption certificate */
	CS_ERR_NO_KEY = -28,         /* no usable key (identity) for this operation */
};

/* A short English description of err; never NULL, also for unknown values. */
const char *cs_strerror(int err);

/* The stable name of err, e.g. "CS_ERR_NO_TOKEN"; "CS_ERR_UNKNOWN" if undefined. */
const char *cs_error_name(int err);

#endif
