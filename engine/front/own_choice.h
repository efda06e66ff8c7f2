/*
 * The choice of the user's own certificate for an account: the signer
 * (PROTECT, SIGN_DATA) and the sender's own encryption certificate (PROTECT,
 * ENCRYPT_DATA), automatic or manual as the account's settings say, and its
 * explanation (CERTS_CHOOSE).
 *
 * A candidate is one of the user's identities whose certificate names the
 * account's address. It is valid when its certificate is valid now, chains
 * to a trust anchor, has the key usage and EKU for the purpose, and the
 * admin policy allows it (hardware keys only, signature algorithms). Automatic: the valid one with the newest notBefore
 * (ties: a present token, then RSA, which every peer reads). Manual: the
 * identity the setting names, if it is valid; if it is not, the choice fails
 * naming the certificate and why: it is never silently replaced.
 */
#ifndef CS_OWN_CHOICE_H
#define CS_OWN_CHOICE_H

#include "daemon.h"
#include "identities.h"
#include "json.h"

struct own_choice {
	struct front_identity *id;  /* the choice (points into the ids given), or NULL */
	int err;                    /* when id is NULL: CS_ERR_NO_KEY or CS_ERR_PERMISSION */
	const char *policy;         /* with CS_ERR_PERMISSION: the policy key that refused */
	char message[768];          /* when id is NULL: why, for the error */
};

/*
 * Chooses account's identity for purpose (CERT_FOR_SIGNING or
 * CERT_FOR_ENCRYPTION); setting is "auto" or a key URI (manual). account ""
 * accepts any address (SIGN_DATA without an account). When why is not NULL
 * the choice is explained as members of the JSON object being written there
 * ("mode", "setting", "candidates" with each one's reasons, "chosen").
 * Returns 0 with *ret filled (ret->id NULL when nothing is usable), or a
 * negative CS_ERR_* when the choice could not be made at all.
 */
int own_choose(struct daemon *d, struct front_identity *ids, size_t n_ids, const char *account,
               int purpose, const char *setting, struct own_choice *ret, struct cs_json *why);

/*
 * The key URIs of account's valid identities for purpose, as a JSON array
 * member named key (SETTINGS_SET lists them when refusing a manual URI).
 */
int own_valid_list(struct daemon *d, struct front_identity *ids, size_t n_ids,
                   const char *account, int purpose, struct cs_json *j, const char *key);

/*
 * Sends the ERROR for a failed choice: CS_ERR_PERMISSION with details
 * {"policy":..,"message":..} or CS_ERR_NO_KEY with {"message":..}.
 */
void own_choice_send_error(struct request *rq, const struct own_choice *c);

/* Sends CS_ERR_PERMISSION with details {"policy": policy, "message": message}. */
void policy_send_refusal(struct request *rq, const char *policy, const char *message);

#endif
