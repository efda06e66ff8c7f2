/*
 * What valid signed mail tells about its signers, into the store (RFC 8551
 * 2.7.1): each signer's certificate, the encryption certificate its
 * SMIMEEncryptionKeyPreference names (or its own, when that may encrypt),
 * its capabilities and signing time, keyed by its public key. Used by READ
 * (when the account's harvest setting is on) and CERTS_INSTALL (always).
 */
#ifndef CS_HARVEST_H
#define CS_HARVEST_H

#include "cs_smime.h"
#include "daemon.h"
#include "identities.h"
#include "json.h"
#include "store.h"

#define HARVEST_MAX CS_READ_MAX_LAYERS

struct harvest_item {
	char address[256];          /* the sender address the signer matched */
	char fingerprint[65];       /* the encryption certificate's, "" if none */
	char signer_fingerprint[65];
	char subject[512];          /* the encryption certificate's (else the signer's) */
	enum cs_record_outcome outcome;
	int usable;                 /* the encryption certificate may encrypt to address now */
};

struct harvest_result {
	struct harvest_item items[HARVEST_MAX];
	size_t n;
};

/*
 * The account a message was sent to: its first To or Cc address that one of
 * the user's identities names, or NULL (the defaults' settings).
 */
const char *harvest_account(const struct cs_read_report *rep, const struct front_identity *ids,
                            size_t n_ids);

/*
 * Records the signer of every signed layer whose verdict is valid (the
 * user's own signatures aside) with the given source; one item per layer
 * in res. Returns 0 or the store's CS_ERR_*.
 */
int harvest_layers(struct daemon *d, const struct cs_read_report *rep,
                   const struct front_identity *ids, size_t n_ids, enum cs_cert_source source,
                   struct harvest_result *res);

/* The reason an item was not recorded ("signing-time-in-future", "older-than-record"), or NULL. */
const char *harvest_outcome_reason(enum cs_record_outcome o);

#endif
