/*
 * What the store's files share (store.c: opening, transactions, importing;
 * store_identities.c: the user's identities; store_signers.c: harvested
 * signer records; store_list.c: listing, export, removal). Not for the rest
 * of the front: it uses store.h.
 */
#ifndef CS_STORE_PRIV_H
#define CS_STORE_PRIV_H

#include <pthread.h>

#include <openssl/x509.h>
#include <sqlite3.h>

#include "store.h"
struct cs_store {
	sqlite3 *db;
	/*
	 * One connection serves every request thread: a transaction is open on
	 * the connection, not on a thread, so writers take turns here. Without
	 * it a second BEGIN fails, and another thread's statements would join
	 * (and roll back with) the open transaction.
	 */
	pthread_mutex_t write_lock;
};

/*
 * Inserts one certificate; *ret_added is 1 if it was new. A certificate
 * the user chose (imported, installed) that was only harvested before takes
 * the user's source. Inside the caller's transaction.
 */
int store_insert_cert(struct cs_store *s, X509 *cert, enum cs_cert_source source, int *ret_added);

#endif
