/* A recipient's encryption certificate: the user's own identities, then the store. */
#include "recipients.h"

#include "cs_error.h"

int
front_choose_recipient(struct daemon *d, const struct front_identity *ids, size_t n_ids,
                       const char *addr, X509 **ret_cert, struct cs_json *why)
{
	STACK_OF(X509) *candidates = NULL;
	X509 *chosen = NULL;
	size_t i;
	int r;

	*ret_cert = NULL;
	for (i = 0; i < n_ids; i++) {
		if (cert_usable(ids[i].cert, addr, CERT_FOR_ENCRYPTION)) {
			chosen = ids[i].cert;
			break;
		}
	}
	if (chosen == NULL) {
		if ((r = cs_store_find_by_email(d->store, addr, &candidates)) != 0)
			return r;
		chosen = choose_cert(candidates, addr, CERT_FOR_ENCRYPTION);
	}
	if (chosen != NULL && X509_up_ref(chosen) != 1)
		chosen = NULL;
	sk_X509_pop_free(candidates, X509_free);
	if (why != NULL)
		cs_json_bool(why, "found", chosen != NULL);
	*ret_cert = chosen;
	return 0;
}
