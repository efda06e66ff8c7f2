/*
 * The content cipher a recipient can read, from the SMIMECapabilities their
 * newest signed mail listed (RFC 8551 2.7.1, kept by harvesting and Install).
 * PROTECT encrypts with AES-256-GCM unless a recipient's capabilities say
 * they cannot read it and the admin policy lets the engine negotiate down to
 * AES-256-CBC (gpgsm 2.2, for one, lists no GCM).
 */
#ifndef CS_NEGOTIATE_H
#define CS_NEGOTIATE_H

#include <openssl/x509.h>

#include "store.h"

enum peer_cipher {
	PEER_CIPHER_UNKNOWN = 0,    /* no capabilities on record, or none we make */
	PEER_CIPHER_GCM,            /* lists AES-GCM */
	PEER_CIPHER_CBC_ONLY,       /* lists AES-CBC and no AES-GCM */
};

/* What addr's certificate cert says its owner reads; never fails (unknown on any error). */
enum peer_cipher peer_cipher(struct cs_store *s, const char *addr, X509 *cert);

/* The same for a SMIMECapabilities DER (a SEQUENCE OF SMIMECapability). */
enum peer_cipher peer_cipher_of_capabilities(const unsigned char *der, size_t len);

#endif
