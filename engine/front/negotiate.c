/* A recipient's content ciphers, from the capabilities on record for their certificate. */
#include "negotiate.h"

#include <openssl/objects.h>

enum peer_cipher
peer_cipher_of_capabilities(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;
	STACK_OF(X509_ALGOR) *caps;
	int i, gcm = 0, cbc = 0;

	if (der == NULL || len == 0 || len > 65536 ||
	    (caps = d2i_X509_ALGORS(NULL, &p, (long)len)) == NULL)
		return PEER_CIPHER_UNKNOWN;
	for (i = 0; i < sk_X509_ALGOR_num(caps); i++) {
		const ASN1_OBJECT *oid;

		X509_ALGOR_get0(&oid, NULL, NULL, sk_X509_ALGOR_value(caps, i));
		switch (OBJ_obj2nid(oid)) {
		case NID_aes_256_gcm:
		case NID_aes_128_gcm:
			gcm = 1;
			break;
		case NID_aes_256_cbc:
		case NID_aes_128_cbc:
		case NID_aes_192_cbc:
			cbc = 1;
			break;
		default:
			break;
		}
	}
	sk_X509_ALGOR_pop_free(caps, X509_ALGOR_free);
	return gcm ? PEER_CIPHER_GCM : cbc ? PEER_CIPHER_CBC_ONLY : PEER_CIPHER_UNKNOWN;
}

enum peer_cipher
peer_cipher(struct cs_store *s, const char *addr, X509 *cert)
{
	struct cs_store_cert *certs = NULL;
	enum peer_cipher found = PEER_CIPHER_UNKNOWN;
	size_t n = 0, i;

	if (cs_store_list(s, addr, &certs, &n) != 0)
		return PEER_CIPHER_UNKNOWN;
	for (i = 0; i < n; i++) {
		if (X509_cmp(certs[i].cert, cert) == 0 && certs[i].capabilities != NULL) {
			found = peer_cipher_of_capabilities(certs[i].capabilities,
			                                    certs[i].capabilities_len);
			break;
		}
	}
	cs_store_certs_free(certs, n);
	return found;
}
