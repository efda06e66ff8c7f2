/*
 * CMS (DER) operations for scripts: SIGN_DATA, VERIFY_DATA, ENCRYPT_DATA and
 * DECRYPT_DATA. Signing and encryption stream through OpenSSL's CMS with
 * CMS_STREAM (constant memory); verification and decryption reuse READ by
 * presenting the DER as an application/pkcs7-mime entity with a binary
 * transfer encoding, so the same streaming parser, checks and verdicts apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <openssl/cms.h>
#include <openssl/err.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "cs_smime.h"
#include "daemon.h"
#include "headers.h"
#include "identities.h"
#include "json.h"
#include "own_choice.h"
#include "policy.h"
#include "recipients.h"
#include "settings.h"

#define INSERT_TOKEN_TIMEOUT 120

static int
reply_json_simple(struct request *rq, const char *key, const char *value)
{
	struct cs_buf out;
	struct cs_json j;
	int r;

	cs_buf_init(&out, 0);
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, key, value);
	cs_json_object_end(&j);
	if ((r = cs_json_finish(&j)) == 0)
		r = client_send_ok_json(rq->cl, rq->id, &out);
	cs_buf_clear(&out);
	return r;
}

/*
 * The admin policy's allow-raw-cms: scripts' CMS operations bypass the
 * per-message rules (require signed, require encrypted), so the policy can
 * turn them off. Returns 1 (and answers) when refused.
 */
static int
raw_cms_refused(struct request *rq, const char *what)
{
	char message[160];

	if (policy_current()->allow_raw_cms)
		return 0;
	snprintf(message, sizeof(message), "the admin policy (allow-raw-cms = no) forbids %s", what);
	policy_send_refusal(rq, "allow-raw-cms", message);
	return 1;
}

/*
 * The account's own identity for purpose, chosen as PROTECT chooses (the
 * account's setting, automatic or manual, and the policy). Answers the
 * request and returns 1 when there is none.
 */
static int
find_own(struct request *rq, struct front_identity *ids, size_t n, const char *account,
         int purpose, struct front_identity **ret)
{
	struct account_settings s;
	struct own_choice choice;
	int r;

	*ret = NULL;
	if ((r = settings_get(rq->cl->d, account, &s)) != 0)
		return r;
	r = own_choose(rq->cl->d, ids, n, account, purpose,
	               purpose == CERT_FOR_SIGNING ? s.sign_cert : s.encrypt_cert, &choice, NULL);
	account_settings_clear(&s);
	if (r != 0)
		return r;
	if (choice.id == NULL) {
		own_choice_send_error(rq, &choice);
		return 1;
	}
	*ret = choice.id;
	return 0;
}

void
handle_sign_data(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct front_identity *ids = NULL, *signer;
	struct keyd_op_context ctx;
	struct cs_reader rd;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	BIO *in = NULL, *out = NULL;
	char *account = NULL, summary[512];
	uint32_t flags;
	size_t n_ids = 0;
	int r;

	cs_reader_init(&rd, rq->body, rq->body_len);
	flags = cs_read_u32(&rd);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &account);
	if ((r = cs_reader_finish(&rd)) != 0 || (r = raw_cms_refused(rq, "SIGN_DATA")) != 0)
		goto out;
	snprintf(summary, sizeof(summary), "Sign data (CMS) as %s", account[0] ? account : "you");
	request_set_keyd_context(rq, &ctx, summary);
	if ((r = front_identities(d, &ids, &n_ids)) != 0 ||
	    (r = find_own(rq, ids, n_ids, account, CERT_FOR_SIGNING, &signer)) != 0)
		goto out;
	if ((r = front_identity_key(d, signer, INSERT_TOKEN_TIMEOUT, &key)) != 0)
		goto out;
	chain = front_chain(d, signer->cert);
	if ((in = request_input_bio(rq)) == NULL || (out = request_output_bio(rq, 0)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	/* CMS_STREAM: the content passes through once; memory stays bounded. */
	cms = CMS_sign(signer->cert, key, chain, in,
	               CMS_BINARY | CMS_STREAM | ((flags & CS_DATA_DETACHED) ? CMS_DETACHED : 0));
	if (cms == NULL || i2d_CMS_bio_stream(out, cms, in, CMS_BINARY | CMS_STREAM) != 1) {
		r = rq->cancel ? CS_ERR_CANCELLED : CS_ERR_INTERNAL;
		goto out;
	}
	if ((r = request_end_stream(rq, 0)) == 0)
		r = reply_json_simple(rq, "signer", signer->key_uri);
out:
	/* A key operation that failed inside OpenSSL's CMS code: say what keyd said. */
	if (r == CS_ERR_INTERNAL && keyd_client_thread_error() != 0)
		r = keyd_client_thread_error();
	keyd_client_set_thread_context(NULL);
	if (r < 0)
		client_send_error(rq->cl, rq->id, r, NULL);
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	EVP_PKEY_free(key);
	sk_X509_pop_free(chain, X509_free);
	BIO_free(in);
	BIO_free(out);
	front_identities_free(ids, n_ids);
	free(account);
}

/* The content cipher against the policy, as PROTECT checks it; 1 (answered) when refused. */
static int
cipher_refused(struct request *rq, uint32_t flags)
{
	const char *policy = NULL;
	char message[160];
	unsigned alg = (flags & CS_DATA_CBC) ? POLICY_ENC_AES256_CBC : POLICY_ENC_AES256_GCM;

	if (policy_cipher_negotiable(policy_current(), alg, &policy))
		return 0;
	snprintf(message, sizeof(message), "the admin policy (%s) does not allow %s here", policy,
	         alg == POLICY_ENC_AES256_CBC ? "AES-256-CBC" : "AES-256-GCM");
	policy_send_refusal(rq, policy, message);
	return 1;
}

void
handle_encrypt_data(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct front_identity *ids = NULL, *own;
	struct keyd_op_context ctx;
	struct cs_reader rd;
	CMS_ContentInfo *cms = NULL;
	STACK_OF(X509) *recips = sk_X509_new_null();
	BIO *in = NULL, *out = NULL;
	char *account = NULL, *addr = NULL;
	uint32_t flags, n, i;
	size_t n_ids = 0;
	X509 *cert;
	int r;

	cs_reader_init(&rd, rq->body, rq->body_len);
	flags = cs_read_u32(&rd);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &account);
	n = cs_read_u32(&rd);
	if (recips == NULL || n > 1000) {
		r = recips == NULL ? CS_ERR_NOMEM : CS_ERR_TOO_LARGE;
		goto out;
	}
	if ((r = raw_cms_refused(rq, "ENCRYPT_DATA")) != 0 ||
	    (r = cipher_refused(rq, flags)) != 0)
		goto out;
	request_set_keyd_context(rq, &ctx, "Encrypt data");
	if ((r = front_identities(d, &ids, &n_ids)) != 0)
		goto out;
	/* The account, when named, can read what it encrypts. */
	if (account != NULL && account[0] != '\0') {
		if ((r = find_own(rq, ids, n_ids, account, CERT_FOR_ENCRYPTION, &own)) != 0)
			goto out;
		if (X509_up_ref(own->cert) != 1 || !sk_X509_push(recips, own->cert)) {
			r = CS_ERR_NOMEM;
			goto out;
		}
	}
	for (i = 0; i < n && r == 0; i++) {
		free(addr);
		cs_read_str(&rd, CS_PROTO_MAX_STR, &addr);
		if (rd.failed != 0)
			break;
		if ((r = front_choose_recipient(d, NULL, 0, addr, &cert, NULL)) != 0)
			break;
		if (cert == NULL) {
			struct cs_buf details;
			struct cs_json j;

			cs_buf_init(&details, 0);
			cs_json_init(&j, &details);
			cs_json_object_begin(&j, NULL);
			cs_json_array_begin(&j, "missing");
			cs_json_string(&j, NULL, addr);
			cs_json_array_end(&j);
			cs_json_object_end(&j);
			(void)client_send_error(rq->cl, rq->id, CS_ERR_NO_RECIPIENT_CERT,
			                        cs_json_finish(&j) == 0 ? (char *)details.data : NULL);
			cs_buf_clear(&details);
			r = 1;          /* answered */
			goto out;
		}
		if (!sk_X509_push(recips, cert)) {
			X509_free(cert);
			r = CS_ERR_NOMEM;
		}
	}
	if (r == 0)
		r = cs_reader_finish(&rd);
	if (r != 0)
		goto out;
	if (sk_X509_num(recips) == 0) {
		r = CS_ERR_INVALID_ARG;
		goto out;
	}
	if ((in = request_input_bio(rq)) == NULL || (out = request_output_bio(rq, 0)) == NULL) {
		r = CS_ERR_NOMEM;
		goto out;
	}
	cms = CMS_encrypt(recips, in,
	                  (flags & CS_DATA_CBC) ? EVP_aes_256_cbc() : EVP_aes_256_gcm(),
	                  CMS_BINARY | CMS_STREAM);
	if (cms == NULL || i2d_CMS_bio_stream(out, cms, in, CMS_BINARY | CMS_STREAM) != 1) {
		r = rq->cancel ? CS_ERR_CANCELLED : CS_ERR_INTERNAL;
		goto out;
	}
	if ((r = request_end_stream(rq, 0)) == 0)
		r = reply_json_simple(rq, "cipher", (flags & CS_DATA_CBC) ? "AES-256-CBC" : "AES-256-GCM");
out:
	keyd_client_set_thread_context(NULL);
	if (r < 0)
		client_send_error(rq->cl, rq->id, r, NULL);
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	sk_X509_pop_free(recips, X509_free);
	BIO_free(in);
	BIO_free(out);
	front_identities_free(ids, n_ids);
	free(account);
	free(addr);
}

/*
 * VERIFY_DATA and DECRYPT_DATA: the DER goes through READ as the body of an
 * application/pkcs7-mime entity with a binary transfer encoding.
 */
static void
read_der(struct request *rq, int decrypt)
{
	static const char verify_head[] =
		"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n"
		"Content-Transfer-Encoding: binary\r\n\r\n";
	static const char decrypt_head[] =
		"Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n"
		"Content-Transfer-Encoding: binary\r\n\r\n";
	struct cs_reader rd;
	struct cs_buf head;
	BIO *in = NULL, *upload = NULL;
	int r;

	cs_reader_init(&rd, rq->body, rq->body_len);
	(void)cs_read_u32(&rd);         /* flags: none defined yet */
	cs_buf_init(&head, 0);
	if (raw_cms_refused(rq, decrypt ? "DECRYPT_DATA" : "VERIFY_DATA"))
		goto out;
	if ((r = cs_reader_finish(&rd)) == 0)
		r = cs_buf_put(&head, decrypt ? decrypt_head : verify_head,
		               decrypt ? sizeof(decrypt_head) - 1 : sizeof(verify_head) - 1);
	if (r == 0 && ((upload = request_input_bio(rq)) == NULL ||
	               (in = concat_bio_new(&head, upload)) == NULL))
		r = CS_ERR_NOMEM;
	if (r == 0)
		read_request_run(rq, in, decrypt ? READ_DECRYPT_DATA : READ_VERIFY_DATA);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
out:
	BIO_free(in);
	BIO_free(upload);
	cs_buf_clear(&head);
}

void
handle_verify_data(struct request *rq)
{
	read_der(rq, 0);
}

void
handle_decrypt_data(struct request *rq)
{
	read_der(rq, 1);
}
