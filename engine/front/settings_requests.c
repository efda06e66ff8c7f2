/*
 * SETTINGS_GET, SETTINGS_SET, POLICY_GET: per-account settings and the admin
 * policy. A manual certificate must name a valid identity of the account
 * when it is set (the refusal lists the valid ones); a toggle the policy
 * locks cannot be changed (the refusal names the policy).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "daemon.h"
#include "identities.h"
#include "json.h"
#include "own_choice.h"
#include "policy.h"
#include "settings.h"

/* Which policy key, if any, locks a setting at a value other than value. */
static const char *
locked_by(const char *key, const char *value)
{
	const struct cs_policy *p = policy_current();
	int yes = strcmp(value, "yes") == 0;

	if (strcmp(key, "always-sign") == 0) {
		if (p->lock_sign && yes != p->require_signed)
			return "lock-toggles";
		if (p->require_signed && !yes)
			return "require-signed";
	}
	if (strcmp(key, "always-encrypt") == 0) {
		if (p->lock_encrypt && yes != p->require_encrypted)
			return "lock-toggles";
		if (p->require_encrypted && !yes)
			return "require-encrypted";
	}
	return NULL;
}

static void
json_locked(struct cs_json *j)
{
	const struct cs_policy *p = policy_current();

	cs_json_array_begin(j, "locked");
	if (p->lock_sign || p->require_signed)
		cs_json_string(j, NULL, "always-sign");
	if (p->lock_encrypt || p->require_encrypted)
		cs_json_string(j, NULL, "always-encrypt");
	cs_json_array_end(j);
}

static int
json_account(struct daemon *d, struct cs_json *j, const char *account)
{
	struct account_settings s;
	int r;

	if ((r = settings_get(d, account, &s)) != 0)
		return r;
	cs_json_string(j, "account", account);
	settings_json(&s, j);
	account_settings_clear(&s);
	return 0;
}

void
handle_settings_get(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct cs_reader rd;
	struct cs_buf out;
	struct cs_json j;
	char *account = NULL, **accounts = NULL;
	size_t n = 0, i;
	int r;

	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &account);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	if (account[0] != '\0') {
		r = json_account(d, &j, account);
	} else if ((r = settings_accounts(d, &accounts, &n)) == 0) {
		cs_json_array_begin(&j, "accounts");
		for (i = 0; i < n && r == 0; i++) {
			cs_json_object_begin(&j, NULL);
			r = json_account(d, &j, accounts[i]);
			cs_json_object_end(&j);
		}
		cs_json_array_end(&j);
		cs_json_object_begin(&j, "defaults");
		if (r == 0)
			r = json_account(d, &j, "");
		cs_json_object_end(&j);
	}
	json_locked(&j);
	cs_json_object_end(&j);
	if (r == 0)
		r = cs_json_finish(&j);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	for (i = 0; i < n; i++)
		free(accounts[i]);
	free(accounts);
	free(account);
	cs_buf_clear(&out);
}

/* Refuses a manual URI that names no valid identity of the account, listing the valid ones. */
static int
check_manual(struct request *rq, const char *account, const char *key, const char *uri)
{
	struct daemon *d = rq->cl->d;
	int purpose = strcmp(key, "sign-cert") == 0 ? CERT_FOR_SIGNING : CERT_FOR_ENCRYPTION;
	struct front_identity *ids = NULL;
	struct keyd_op_context ctx;
	struct own_choice choice;
	struct cs_buf out;
	struct cs_json j;
	size_t n_ids = 0;
	int r;

	cs_buf_init(&out, 0);
	request_set_keyd_context(rq, &ctx, NULL);
	r = front_identities(d, &ids, &n_ids);
	keyd_client_set_thread_context(NULL);
	if (r != 0 || (r = own_choose(d, ids, n_ids, account, purpose, uri, &choice, NULL)) != 0)
		goto out;
	if (choice.id != NULL)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "message", choice.message);
	cs_json_string(&j, "policy", choice.policy);
	if ((r = own_valid_list(d, ids, n_ids, account, purpose, &j, "valid")) != 0)
		goto out;
	cs_json_object_end(&j);
	if ((r = cs_json_finish(&j)) != 0)
		goto out;
	(void)client_send_error(rq->cl, rq->id,
	                        choice.err == CS_ERR_PERMISSION ? CS_ERR_PERMISSION
	                                                        : CS_ERR_INVALID_ARG,
	                        (const char *)out.data);
	r = 1;          /* answered */
out:
	front_identities_free(ids, n_ids);
	cs_buf_clear(&out);
	return r;
}

static void
send_invalid(struct request *rq, const char *message)
{
	struct cs_buf out;
	struct cs_json j;

	cs_buf_init(&out, 0);
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "message", message);
	cs_json_object_end(&j);
	(void)client_send_error(rq->cl, rq->id, CS_ERR_INVALID_ARG,
	                        cs_json_finish(&j) == 0 ? (const char *)out.data : NULL);
	cs_buf_clear(&out);
}

void
handle_settings_set(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct cs_reader rd;
	struct cs_buf out;
	struct cs_json j;
	char *account = NULL, *key = NULL, *value = NULL, message[256];
	const char *policy;
	int r;

	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &account);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &key);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &value);
	if ((r = cs_reader_finish(&rd)) != 0)
		goto out;
	if (strchr(account, '@') == NULL) {
		send_invalid(rq, "settings belong to an account: give its address");
		r = 1;
		goto out;
	}
	if (!settings_key_known(key)) {
		snprintf(message, sizeof(message),
		         "unknown setting '%.64s' (sign-cert, encrypt-cert, always-sign, "
		         "always-encrypt, harvest)", key);
		send_invalid(rq, message);
		r = 1;
		goto out;
	}
	if ((policy = locked_by(key, value)) != NULL) {
		snprintf(message, sizeof(message), "the admin policy (%s) locks %s", policy, key);
		policy_send_refusal(rq, policy, message);
		r = 1;
		goto out;
	}
	if ((strcmp(key, "sign-cert") == 0 || strcmp(key, "encrypt-cert") == 0) &&
	    strcmp(value, "auto") != 0 && (r = check_manual(rq, account, key, value)) != 0)
		goto out;
	if ((r = settings_set(d, account, key, value)) == CS_ERR_INVALID_ARG) {
		snprintf(message, sizeof(message), "%s takes %s", key,
		         strstr(key, "-cert") != NULL ? "auto or a pkcs11: URI" : "yes or no");
		send_invalid(rq, message);
		r = 1;
		goto out;
	}
	if (r != 0)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	r = json_account(d, &j, account);
	json_locked(&j);
	cs_json_object_end(&j);
	if (r == 0)
		r = cs_json_finish(&j);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else if (r < 0)
		client_send_error(rq->cl, rq->id, r, NULL);
	free(account);
	free(key);
	free(value);
	cs_buf_clear(&out);
}

void
handle_policy_get(struct request *rq)
{
	struct cs_buf out;
	struct cs_json j;
	int r = rq->body_len == 0 ? 0 : CS_ERR_TRAILING;

	cs_buf_init(&out, 0);
	if (r == 0) {
		cs_json_init(&j, &out);
		cs_json_object_begin(&j, NULL);
		policy_json(policy_current(), &j);
		cs_json_object_end(&j);
		r = cs_json_finish(&j);
	}
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	cs_buf_clear(&out);
}
