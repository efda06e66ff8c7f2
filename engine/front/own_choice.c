/* Automatic and manual choice of the user's own certificates; see own_choice.h. */
#include "own_choice.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "cs_error.h"
#include "policy.h"

#define MAX_REASONS 8

/* One identity judged for a purpose. */
struct verdict {
	char reason[MAX_REASONS][200];
	size_t n;
	int policy_only;            /* every reason is a policy's */
	const char *policy;         /* the first policy that refused */
};

/* Records a reason; policy names the policy key when it is a policy's. */
static void
add_reason(struct verdict *v, const char *policy, const char *text)
{
	if (v->n == MAX_REASONS)
		return;
	if (policy != NULL)
		snprintf(v->reason[v->n], sizeof(v->reason[v->n]), "policy %s: %s", policy, text);
	else
		snprintf(v->reason[v->n], sizeof(v->reason[v->n]), "%s", text);
	if (policy == NULL)
		v->policy_only = 0;
	else if (v->policy == NULL)
		v->policy = policy;
	v->n++;
}

/* CRLs are checked when configured; an issuer without one is "unknown", not a failure here. */
static int
chain_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok && X509_STORE_CTX_get_error(ctx) == X509_V_ERR_UNABLE_TO_GET_CRL)
		return 1;
	return ok;
}

/* Why cert does not chain to a trust anchor, or NULL when it does. */
static const char *
chain_problem(struct daemon *d, X509 *cert, STACK_OF(X509) *untrusted)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	const char *problem = NULL;

	if (ctx == NULL || d->trust == NULL ||
	    X509_STORE_CTX_init(ctx, d->trust, cert, untrusted) != 1) {
		problem = "its chain could not be checked";
		goto out;
	}
	X509_STORE_CTX_set_verify_cb(ctx, chain_cb);
	if (X509_verify_cert(ctx) != 1)
		problem = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
out:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return problem;
}

static void
time_text(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, size, "?");
}

static void
judge(struct daemon *d, const struct cs_policy *pol, const struct front_identity *id,
      int purpose, STACK_OF(X509) *untrusted, struct verdict *v)
{
	uint32_t ku = X509_get_key_usage(id->cert), want;
	EVP_PKEY *pub = X509_get0_pubkey(id->cert);
	int key_id = pub != NULL ? EVP_PKEY_get_base_id(pub) : EVP_PKEY_NONE;
	const char *why;
	char when[32], text[200];

	memset(v, 0, sizeof(*v));
	v->policy_only = 1;
	if (X509_cmp_current_time(X509_get0_notBefore(id->cert)) >= 0) {
		time_text(X509_get0_notBefore(id->cert), when, sizeof(when));
		snprintf(text, sizeof(text), "not valid before %s", when);
		add_reason(v, NULL, text);
	}
	if (X509_cmp_current_time(X509_get0_notAfter(id->cert)) <= 0) {
		time_text(X509_get0_notAfter(id->cert), when, sizeof(when));
		snprintf(text, sizeof(text), "expired on %s", when);
		add_reason(v, NULL, text);
	}
	want = purpose == CERT_FOR_SIGNING ? (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)
	                                   : (KU_KEY_ENCIPHERMENT | KU_KEY_AGREEMENT);
	if (ku != UINT32_MAX && (ku & want) == 0)
		add_reason(v, NULL, purpose == CERT_FOR_SIGNING ? "its key usage does not allow signing"
		                                                : "its key usage does not allow encryption");
	if ((X509_get_extension_flags(id->cert) & EXFLAG_XKUSAGE) &&
	    (X509_get_extended_key_usage(id->cert) & (XKU_SMIME | XKU_ANYEKU)) == 0)
		add_reason(v, NULL, "its extended key usage lacks emailProtection");
	/*
	 * The key's own usage flags are not judged: before login keyd describes
	 * a private key from its public key, whose flags cards set unreliably
	 * (EC public keys rarely say "derive"). The certificate's usage decides;
	 * the token refuses what its key cannot do.
	 */
	if ((why = chain_problem(d, id->cert, untrusted)) != NULL) {
		snprintf(text, sizeof(text), "does not chain to a trust anchor: %s", why);
		add_reason(v, NULL, text);
	}
	if (!pol->allow_soft_certs && !policy_key_is_hardware(pol, id->module, id->key_flags, &why))
		add_reason(v, "allow-soft-certs", why);
	if (purpose == CERT_FOR_SIGNING) {
		if (!(pol->signature_algs & POLICY_SIG_SHA256))
			add_reason(v, "signature-algorithms",
			           "the engine signs with SHA-256, which the policy does not allow");
		if (key_id == EVP_PKEY_RSA && !(pol->signature_algs & POLICY_SIG_RSA))
			add_reason(v, "signature-algorithms", "RSA signatures are not allowed");
		if (key_id == EVP_PKEY_EC && !(pol->signature_algs & POLICY_SIG_ECDSA))
			add_reason(v, "signature-algorithms", "ECDSA signatures are not allowed");
	}
	if (v->n == 0)
		v->policy_only = 0;
}

static int
key_is_rsa(X509 *cert)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);

	return pub != NULL && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA;
}

/* Whether a beats b in an automatic choice (both valid). */
static int
better(const struct front_identity *a, const struct front_identity *b)
{
	int c = ASN1_TIME_compare(X509_get0_notBefore(a->cert), X509_get0_notBefore(b->cert));

	if (c != 0)
		return c > 0;           /* the newest notBefore */
	if (a->present != b->present)
		return a->present;      /* then a key whose card is in */
	return key_is_rsa(a->cert) && !key_is_rsa(b->cert);
}

static void
json_candidate(struct cs_json *j, const struct front_identity *id, const struct verdict *v)
{
	char name[256], when[32];
	size_t i;

	cs_json_object_begin(j, NULL);
	cs_json_string(j, "key_uri", id->key_uri);
	X509_NAME_oneline(X509_get_subject_name(id->cert), name, sizeof(name));
	cs_json_string(j, "subject", name);
	time_text(X509_get0_notBefore(id->cert), when, sizeof(when));
	cs_json_string(j, "not_before", when);
	time_text(X509_get0_notAfter(id->cert), when, sizeof(when));
	cs_json_string(j, "not_after", when);
	cs_json_string(j, "token", id->token_label);
	cs_json_bool(j, "present", id->present);
	cs_json_bool(j, "valid", v->n == 0);
	cs_json_array_begin(j, "reasons");
	for (i = 0; i < v->n; i++)
		cs_json_string(j, NULL, v->reason[i]);
	cs_json_array_end(j);
	cs_json_object_end(j);
}

static int
is_candidate(const struct front_identity *id, const char *account)
{
	return account == NULL || account[0] == '\0' || cert_has_email(id->cert, account);
}

int
own_choose(struct daemon *d, struct front_identity *ids, size_t n_ids, const char *account,
           int purpose, const char *setting, struct own_choice *ret, struct cs_json *why)
{
	const struct cs_policy *pol = policy_current();
	const char *what = purpose == CERT_FOR_SIGNING ? "signing" : "encryption";
	const char *key = purpose == CERT_FOR_SIGNING ? "sign-cert" : "encrypt-cert";
	STACK_OF(X509) *untrusted = NULL;
	struct front_identity *manual = NULL;
	struct verdict v, manual_v;
	const char *policy_refusal = NULL;
	char policy_reason[200] = "";
	int manual_mode = setting != NULL && strcmp(setting, "auto") != 0;
	size_t i, n_candidates = 0;
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(&manual_v, 0, sizeof(manual_v));
	if (account == NULL)
		account = "";
	if ((r = cs_store_all_certs(d->store, &untrusted)) != 0)
		return r;
	if (why != NULL) {
		cs_json_string(why, "mode", manual_mode ? "manual" : "automatic");
		cs_json_string(why, "setting", manual_mode ? setting : "auto");
		cs_json_array_begin(why, "candidates");
	}
	for (i = 0; i < n_ids; i++) {
		struct front_identity *id = &ids[i];

		if (!is_candidate(id, account))
			continue;
		n_candidates++;
		judge(d, pol, id, purpose, untrusted, &v);
		if (why != NULL)
			json_candidate(why, id, &v);
		if (manual_mode) {
			if (strcmp(id->key_uri, setting) == 0) {
				manual = id;
				manual_v = v;
			}
			continue;
		}
		if (v.n > 0) {
			if (v.policy_only && policy_refusal == NULL) {
				policy_refusal = v.policy;
				snprintf(policy_reason, sizeof(policy_reason), "%s", v.reason[0]);
			}
			continue;
		}
		if (ret->id == NULL || better(id, ret->id))
			ret->id = id;
	}
	if (why != NULL)
		cs_json_array_end(why);
	if (manual_mode && manual != NULL && manual_v.n == 0) {
		ret->id = manual;
	} else if (manual_mode && manual != NULL) {
		/* Reported, never replaced: the user chose this certificate. */
		ret->err = manual_v.policy_only ? CS_ERR_PERMISSION : CS_ERR_NO_KEY;
		ret->policy = manual_v.policy_only ? manual_v.policy : NULL;
		snprintf(ret->message, sizeof(ret->message),
		         "the %s certificate chosen for %s (%s) is not usable: %s%s%s", what,
		         account[0] ? account : "this account", setting, manual_v.reason[0],
		         manual_v.n > 1 ? "; " : "", manual_v.n > 1 ? manual_v.reason[1] : "");
	} else if (manual_mode) {
		ret->err = CS_ERR_NO_KEY;
		snprintf(ret->message, sizeof(ret->message),
		         "the %s certificate chosen for %s (%s) is not among its identities: "
		         "insert its card, or choose another with settings set --%s",
		         what, account[0] ? account : "this account", setting, key);
	} else if (ret->id == NULL && policy_refusal != NULL) {
		ret->err = CS_ERR_PERMISSION;
		ret->policy = policy_refusal;
		snprintf(ret->message, sizeof(ret->message),
		         "the admin policy (%s) refuses every %s certificate of %s (%s)",
		         policy_refusal, what, account[0] ? account : "yours", policy_reason);
	} else if (ret->id == NULL) {
		ret->err = CS_ERR_NO_KEY;
		snprintf(ret->message, sizeof(ret->message), "%s has no valid %s certificate (%zu %s)",
		         account[0] ? account : "you", what, n_candidates,
		         n_candidates == 1 ? "candidate" : "candidates");
	}
	if (why != NULL) {
		cs_json_string(why, "chosen", ret->id != NULL ? ret->id->key_uri : NULL);
		if (ret->id == NULL) {
			cs_json_string(why, "error", cs_error_name(ret->err));
			cs_json_string(why, "policy", ret->policy);
			cs_json_string(why, "message", ret->message);
		}
	}
	sk_X509_pop_free(untrusted, X509_free);
	return 0;
}

int
own_valid_list(struct daemon *d, struct front_identity *ids, size_t n_ids, const char *account,
               int purpose, struct cs_json *j, const char *key)
{
	const struct cs_policy *pol = policy_current();
	STACK_OF(X509) *untrusted = NULL;
	struct verdict v;
	size_t i;
	int r;

	if ((r = cs_store_all_certs(d->store, &untrusted)) != 0)
		return r;
	cs_json_array_begin(j, key);
	for (i = 0; i < n_ids; i++) {
		if (!is_candidate(&ids[i], account))
			continue;
		judge(d, pol, &ids[i], purpose, untrusted, &v);
		if (v.n == 0)
			cs_json_string(j, NULL, ids[i].key_uri);
	}
	cs_json_array_end(j);
	sk_X509_pop_free(untrusted, X509_free);
	return 0;
}

static void
send_details(struct request *rq, int err, const char *policy, const char *message)
{
	struct cs_buf out;
	struct cs_json j;

	cs_buf_init(&out, 0);
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	if (policy != NULL) {
		cs_json_string(&j, "policy", policy);
		cs_json_string(&j, "policy_file", policy_current()->source);
	}
	cs_json_string(&j, "message", message);
	cs_json_object_end(&j);
	(void)client_send_error(rq->cl, rq->id, err,
	                        cs_json_finish(&j) == 0 ? (const char *)out.data : NULL);
	cs_buf_clear(&out);
}

void
own_choice_send_error(struct request *rq, const struct own_choice *c)
{
	send_details(rq, c->err != 0 ? c->err : CS_ERR_NO_KEY, c->policy, c->message);
}

void
policy_send_refusal(struct request *rq, const char *policy, const char *message)
{
	send_details(rq, CS_ERR_PERMISSION, policy, message);
}
