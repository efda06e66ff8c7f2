#include "identities.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "cs_error.h"
#include "cs_provider.h"

void
front_identities_free(struct front_identity *ids, size_t n)
{
	size_t i;

	for (i = 0; ids != NULL && i < n; i++) {
		free(ids[i].key_uri);
		free(ids[i].token_label);
		free(ids[i].token_serial);
		free(ids[i].module);
		X509_free(ids[i].cert);
	}
	free(ids);
}

/*
 * What this engine already wrote to the store, so that listing identities
 * (on every PROTECT and READ) writes only what is new: a fingerprint of each
 * CA certificate imported and of each identity remembered.
 */
#define SEEN_MAX 256
static struct {
	pthread_mutex_t lock;
	unsigned char md[SEEN_MAX][32];
	size_t n;
} seen = { PTHREAD_MUTEX_INITIALIZER, { { 0 } }, 0 };

/* Returns 1 if this digest (of a certificate, or of a URI and certificate) was seen before. */
static int
seen_before(const unsigned char md[32])
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&seen.lock);
	for (i = 0; i < seen.n && !found; i++)
		found = memcmp(seen.md[i], md, 32) == 0;
	if (!found && seen.n < SEEN_MAX)
		memcpy(seen.md[seen.n++], md, 32);
	pthread_mutex_unlock(&seen.lock);
	return found;
}

/*
 * Takes a digest back out after its write failed, so that the next listing
 * tries again: otherwise a CA certificate whose import failed once (a busy
 * store) stayed out of the store for the engine's life, and the card's own
 * certificates did not chain.
 */
static void
seen_forget(const unsigned char md[32])
{
	size_t i;

	pthread_mutex_lock(&seen.lock);
	for (i = 0; i < seen.n; i++) {
		if (memcmp(seen.md[i], md, 32) == 0) {
			memcpy(seen.md[i], seen.md[--seen.n], 32);
			break;
		}
	}
	pthread_mutex_unlock(&seen.lock);
}

/* Like seen_before, for an identity (its URI and certificate); md is its digest. */
static int
seen_identity(const char *key_uri, const uint8_t *der, size_t len, unsigned char md[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	         EVP_DigestUpdate(c, key_uri, strlen(key_uri) + 1) == 1 &&
	         EVP_DigestUpdate(c, der, len) == 1 && EVP_DigestFinal_ex(c, md, NULL) == 1;

	EVP_MD_CTX_free(c);
	return ok && seen_before(md);
}

static int store_version(struct daemon *d, sqlite3_int64 *ret_changes,
                         sqlite3_int64 *ret_data_version);

/*
 * The identities remembered in the store, as last read, with the store's
 * version then (see the chain cache below for why that version changes with
 * every write to the store): reading them decodes every certificate, on
 * every PROTECT and READ.
 */
static struct {
	pthread_mutex_t lock;
	int valid;
	sqlite3_int64 changes, data_version;
	struct cs_store_identity *ids;
	size_t n;
} kept_cache = { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, NULL, 0 };

/* A deep copy (strings duplicated, certificates referenced) of n identities. */
static int
kept_copy(const struct cs_store_identity *src, size_t n, struct cs_store_identity **ret)
{
	struct cs_store_identity *out = calloc(n + 1, sizeof(*out));
	size_t i;

	*ret = NULL;
	if (out == NULL)
		return CS_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		out[i] = src[i];
		out[i].key_uri = src[i].key_uri != NULL ? strdup(src[i].key_uri) : NULL;
		out[i].token_label = src[i].token_label != NULL ? strdup(src[i].token_label) : NULL;
		out[i].token_serial = src[i].token_serial != NULL ? strdup(src[i].token_serial) : NULL;
		if (out[i].cert != NULL && X509_up_ref(out[i].cert) != 1)
			out[i].cert = NULL;
		if ((src[i].key_uri != NULL && out[i].key_uri == NULL) ||
		    (src[i].token_label != NULL && out[i].token_label == NULL) ||
		    (src[i].token_serial != NULL && out[i].token_serial == NULL) ||
		    (src[i].cert != NULL && out[i].cert == NULL)) {
			cs_store_identities_free(out, i + 1);
			return CS_ERR_NOMEM;
		}
	}
	*ret = out;
	return 0;
}

/* cs_store_identities, from the cache while the store is unchanged. */
static int
kept_identities(struct daemon *d, struct cs_store_identity **ret_ids, size_t *ret_n)
{
	struct cs_store_identity *copy = NULL;
	sqlite3_int64 changes = 0, data_version = 0;
	int r, versioned;

	*ret_ids = NULL;
	*ret_n = 0;
	/* The version first: a write during the read leaves the entry stale, not trusted. */
	versioned = store_version(d, &changes, &data_version);
	pthread_mutex_lock(&kept_cache.lock);
	if (versioned && kept_cache.valid && kept_cache.changes == changes &&
	    kept_cache.data_version == data_version) {
		r = kept_copy(kept_cache.ids, kept_cache.n, ret_ids);
		if (r == 0)
			*ret_n = kept_cache.n;
		pthread_mutex_unlock(&kept_cache.lock);
		return r;
	}
	pthread_mutex_unlock(&kept_cache.lock);
	if ((r = cs_store_identities(d->store, ret_ids, ret_n)) != 0 || !versioned ||
	    kept_copy(*ret_ids, *ret_n, &copy) != 0)
		return r;
	pthread_mutex_lock(&kept_cache.lock);
	cs_store_identities_free(kept_cache.ids, kept_cache.n);
	kept_cache.ids = copy;
	kept_cache.n = *ret_n;
	kept_cache.changes = changes;
	kept_cache.data_version = data_version;
	kept_cache.valid = 1;
	pthread_mutex_unlock(&kept_cache.lock);
	return 0;
}

int
front_identities(struct daemon *d, struct front_identity **ret_ids, size_t *ret_n)
{
	struct keyd_identity *live = NULL;
	STACK_OF(X509) *cas = NULL;
	struct cs_store_identity *kept = NULL;
	struct front_identity *ids = NULL;
	size_t n_live = 0, n_kept = 0, n = 0, i, j;
	int r;

	*ret_ids = NULL;
	*ret_n = 0;
	if ((r = keyd_client_list_identities_cached(d->keyd, &live, &n_live, &cas)) != 0)
		return r;
	/* The CA certificates cards carry complete chains: the store keeps them. */
	for (i = 0; cas != NULL && i < (size_t)sk_X509_num(cas); i++) {
		unsigned char *der = NULL, md[32];
		unsigned int md_len = 0;
		int len, added, count;

		if (X509_digest(sk_X509_value(cas, i), EVP_sha256(), md, &md_len) != 1 ||
		    md_len != 32 || seen_before(md))
			continue;
		len = i2d_X509(sk_X509_value(cas, i), &der);
		if (len <= 0 || cs_store_import(d->store, der, (size_t)len, &added, &count) != 0)
			seen_forget(md);
		OPENSSL_free(der);
	}
	for (i = 0; i < n_live; i++) {
		const unsigned char *p = live[i].cert_der;
		unsigned char md[32] = {0};
		X509 *x;

		if (seen_identity(live[i].key_uri, live[i].cert_der, live[i].cert_len, md))
			continue;
		x = d2i_X509(NULL, &p, (long)live[i].cert_len);

		if (x == NULL ||
		    cs_store_remember_identity(d->store, live[i].key_uri, live[i].token_label,
		                               live[i].token_serial, x) != 0)
			seen_forget(md);
		X509_free(x);
	}
	if ((r = kept_identities(d, &kept, &n_kept)) != 0)
		goto out;
	if ((ids = calloc(n_kept + 1, sizeof(*ids))) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < n_kept; i++, n++) {
		ids[n].key_uri = kept[i].key_uri;
		ids[n].token_label = kept[i].token_label;
		ids[n].token_serial = kept[i].token_serial;
		ids[n].cert = kept[i].cert;
		memset(&kept[i], 0, sizeof(kept[i]));
		for (j = 0; j < n_live; j++) {
			if (strcmp(live[j].key_uri, ids[n].key_uri) != 0)
				continue;
			ids[n].present = 1;
			ids[n].key_flags = live[j].flags;
			/* Taken, not copied: the live list is freed below. */
			if (ids[n].module == NULL) {
				ids[n].module = live[j].module;
				live[j].module = NULL;
			}
		}
	}
	*ret_ids = ids;
	*ret_n = n;
	ids = NULL;
out:
	front_identities_free(ids, n);
	cs_store_identities_free(kept, n_kept);
	keyd_identities_free(live, n_live);
	sk_X509_pop_free(cas, X509_free);
	return r;
}

int
front_identity_key(struct daemon *d, const struct front_identity *id, unsigned timeout_seconds,
                   EVP_PKEY **ret_key)
{
	int r;

	*ret_key = NULL;
	/*
	 * Asked of keyd even when the listing says present: the listing may come
	 * from the front's cache, up to one poll of keyd's watch behind a card
	 * just pulled. keyd checks the token itself, answers at once when it is
	 * there, and otherwise tells the client "insert token" and waits.
	 */
	if ((r = keyd_client_wait_token(d->keyd, id->key_uri, timeout_seconds)) != 0)
		return r == CS_ERR_TIMEOUT ? CS_ERR_NO_TOKEN : r;
	return cs_provider_token_key(d->provider, id->key_uri, id->cert, ret_key);
}

int
cert_has_email(X509 *cert, const char *addr)
{
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(cert);
	int i, found = 0;

	for (i = 0; emails != NULL && i < sk_OPENSSL_STRING_num(emails) && !found; i++)
		found = strcasecmp(sk_OPENSSL_STRING_value(emails, i), addr) == 0;
	X509_email_free(emails);
	return found;
}

int
cert_usable(X509 *cert, const char *addr, int purpose)
{
	uint32_t ku = X509_get_key_usage(cert), xku;
	uint32_t want;

	if (X509_cmp_current_time(X509_get0_notBefore(cert)) >= 0 ||
	    X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0)
		return 0;
	if (addr != NULL && !cert_has_email(cert, addr))
		return 0;
	want = purpose == CERT_FOR_SIGNING ? (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)
	                                   : (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT);
	/* UINT32_MAX: no keyUsage extension, any use allowed. */
	if (ku != UINT32_MAX && (ku & want) == 0)
		return 0;
	/* An EKU, when present, must allow email (anyExtendedKeyUsage does). */
	if (X509_get_extension_flags(cert) & EXFLAG_XKUSAGE) {
		xku = X509_get_extended_key_usage(cert);
		if ((xku & (XKU_SMIME | XKU_ANYEKU)) == 0)
			return 0;
	}
	return 1;
}

X509 *
choose_cert(STACK_OF(X509) *candidates, const char *addr, int purpose)
{
	X509 *best = NULL, *x;
	int i;

	for (i = 0; candidates != NULL && i < sk_X509_num(candidates); i++) {
		x = sk_X509_value(candidates, i);
		if (!cert_usable(x, addr, purpose))
			continue;
		/* Among several, the newest (notBefore) wins. */
		if (best == NULL ||
		    ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(best)) > 0)
			best = x;
	}
	return best;
}

/* Loads every CRL file of dir into store; returns how many. */
static int
load_crls(X509_STORE *store, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	int count = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		X509_LOOKUP *lookup;

		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path))
			continue;
		lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
		if (lookup == NULL)
			continue;
		if (X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) > 0 ||
		    X509_load_crl_file(lookup, path, X509_FILETYPE_ASN1) > 0)
			count++;
		ERR_clear_error();
	}
	closedir(d);
	return count;
}

int
front_trust_store(const struct cs_config *cfg, X509_STORE **ret_store, int *ret_have_crls)
{
	X509_STORE *store = X509_STORE_new();
	char *list, *item, *save = NULL;
	int r = 0;

	*ret_store = NULL;
	*ret_have_crls = 0;
	if (store == NULL || (list = strdup(cfg->anchors)) == NULL) {
		X509_STORE_free(store);
		return CS_ERR_NOMEM;
	}
	for (item = strtok_r(list, ";", &save); item != NULL && r == 0;
	     item = strtok_r(NULL, ";", &save)) {
		while (*item == ' ')
			item++;
		if (*item != '\0' && X509_STORE_load_file(store, item) != 1)
			r = CS_ERR_NOT_FOUND;   /* a configured anchor file we cannot read */
	}
	free(list);
	/*
	 * The system store only on request: on Debian it is the web's TLS roots
	 * (ca-certificates), which were never vetted for email. OpenSSL's default
	 * paths are /etc/ssl/certs and its bundle, or SSL_CERT_FILE / SSL_CERT_DIR.
	 */
	if (r == 0 && cfg->system_anchors && X509_STORE_set_default_paths(store) != 1)
		r = CS_ERR_NOT_FOUND;
	if (r == 0 && cfg->crl_dir[0] != '\0' && load_crls(store, cfg->crl_dir) > 0) {
		X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
		*ret_have_crls = 1;
	}
	if (r != 0) {
		X509_STORE_free(store);
		return r;
	}
	*ret_store = store;
	return 0;
}

/*
 * The chains front_chain built, by leaf certificate. A chain depends on the
 * leaf, the trust anchors (loaded once, at start) and the certificates in the
 * store (the intermediates); building one decodes every certificate of the
 * store and verifies signatures, about a quarter of the engine's CPU time per
 * signature. An entry holds while the store is unchanged: sqlite3's count
 * of rows this connection changed (every writer of the store in this engine
 * uses the one connection) and PRAGMA data_version (commits by any other
 * connection) are both what they were when the chain was built. And for at
 * most a minute: the build checks validity dates, so a certificate of the
 * chain that expires drops out within that time.
 */
#define CHAIN_CACHE_SIZE 8
#define CHAIN_CACHE_SECONDS 60
static struct {
	pthread_mutex_t lock;
	size_t n, next;
	struct {
		unsigned char leaf[32];
		sqlite3_int64 changes, data_version;
		time_t built;           /* CLOCK_MONOTONIC seconds */
		STACK_OF(X509) *chain;
	} e[CHAIN_CACHE_SIZE];
} chains = { PTHREAD_MUTEX_INITIALIZER, 0, 0, { { { 0 }, 0, 0, 0, NULL } } };

static time_t
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * The store's version now; 0 if it cannot be read, or while a transaction is
 * open on the connection (then nothing is cached or served: what a query sees
 * may still be rolled back, and a rollback does not lower the change count).
 */
static int
store_version(struct daemon *d, sqlite3_int64 *ret_changes, sqlite3_int64 *ret_data_version)
{
	sqlite3 *db = cs_store_db(d->store);
	sqlite3_stmt *st = NULL;
	int ok = 0;

	if (db == NULL || !sqlite3_get_autocommit(db) ||
	    sqlite3_prepare_v2(db, "PRAGMA data_version", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret_data_version = sqlite3_column_int64(st, 0);
		*ret_changes = sqlite3_total_changes64(db);
		ok = 1;
	}
	sqlite3_finalize(st);
	return ok;
}

/* A copy (new references) of a chain; NULL if out of memory. */
static STACK_OF(X509) *
chain_copy(STACK_OF(X509) *chain)
{
	STACK_OF(X509) *out = sk_X509_new_null();
	int i;

	for (i = 0; out != NULL && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (X509_up_ref(x) != 1)
			continue;
		if (!sk_X509_push(out, x)) {
			X509_free(x);
			sk_X509_pop_free(out, X509_free);
			out = NULL;
		}
	}
	return out;
}

/* The cached chain of leaf at this store version (a copy), or NULL. */
static STACK_OF(X509) *
chain_cached(const unsigned char leaf[32], sqlite3_int64 changes, sqlite3_int64 data_version)
{
	STACK_OF(X509) *out = NULL;
	time_t now = monotonic_seconds();
	size_t i;

	pthread_mutex_lock(&chains.lock);
	for (i = 0; i < chains.n && out == NULL; i++) {
		if (memcmp(chains.e[i].leaf, leaf, 32) == 0 && chains.e[i].changes == changes &&
		    chains.e[i].data_version == data_version &&
		    now - chains.e[i].built < CHAIN_CACHE_SECONDS)
			out = chain_copy(chains.e[i].chain);
	}
	pthread_mutex_unlock(&chains.lock);
	return out;
}

static void
chain_remember(const unsigned char leaf[32], sqlite3_int64 changes, sqlite3_int64 data_version,
               STACK_OF(X509) *chain)
{
	STACK_OF(X509) *copy = chain_copy(chain);
	size_t i;

	if (copy == NULL)
		return;
	pthread_mutex_lock(&chains.lock);
	/* The leaf's entry is replaced; otherwise a free one, or the oldest. */
	for (i = 0; i < chains.n && memcmp(chains.e[i].leaf, leaf, 32) != 0; i++)
		;
	if (i == chains.n) {
		if (chains.n < CHAIN_CACHE_SIZE) {
			i = chains.n++;
		} else {
			i = chains.next;
			chains.next = (chains.next + 1) % CHAIN_CACHE_SIZE;
		}
	}
	sk_X509_pop_free(chains.e[i].chain, X509_free);
	memcpy(chains.e[i].leaf, leaf, 32);
	chains.e[i].changes = changes;
	chains.e[i].data_version = data_version;
	chains.e[i].built = monotonic_seconds();
	chains.e[i].chain = copy;
	pthread_mutex_unlock(&chains.lock);
}

static STACK_OF(X509) *build_chain(struct daemon *d, X509 *cert);

STACK_OF(X509) *
front_chain(struct daemon *d, X509 *cert)
{
	unsigned char leaf[32];
	unsigned int leaf_len = 0;
	sqlite3_int64 changes = 0, data_version = 0;
	STACK_OF(X509) *out;
	int cacheable;

	/* The version first: a change during the build leaves the entry stale, not trusted. */
	cacheable = X509_digest(cert, EVP_sha256(), leaf, &leaf_len) == 1 && leaf_len == 32 &&
	            store_version(d, &changes, &data_version);
	if (cacheable && (out = chain_cached(leaf, changes, data_version)) != NULL)
		return out;
	out = build_chain(d, cert);
	if (cacheable && out != NULL && sk_X509_num(out) > 0)
		chain_remember(leaf, changes, data_version, out);
	return out;
}

/* front_chain without the cache. */
static STACK_OF(X509) *
build_chain(struct daemon *d, X509 *cert)
{
	STACK_OF(X509) *untrusted = NULL, *chain = NULL, *out = sk_X509_new_null();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int i, n;

	if (out == NULL || ctx == NULL || d->trust == NULL)
		goto done;
	(void)cs_store_all_certs(d->store, &untrusted);
	if (X509_STORE_CTX_init(ctx, d->trust, cert, untrusted) != 1)
		goto done;
	/* The chain is what we include in the message, not a verdict: no CRL needed here. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_clear_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_CRL_CHECK);
	if (X509_verify_cert(ctx) != 1)
		goto done;
	chain = X509_STORE_CTX_get0_chain(ctx);
	n = sk_X509_num(chain);
	/* Skip the leaf (index 0) and the anchor (the last, self-signed). */
	for (i = 1; i < n; i++) {
		X509 *x = sk_X509_value(chain, i);

		if (i == n - 1 && X509_check_issued(x, x) == X509_V_OK)
			break;
		if (X509_up_ref(x) == 1 && !sk_X509_push(out, x))
			X509_free(x);
	}
done:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_pop_free(untrusted, X509_free);
	return out;
}
