/*
 * CERTS_CHOOSE: the signer, the sender's own encryption certificate and
 * each recipient's certificate as PROTECT would choose them now, with every
 * candidate and the reasons it was or was not taken.
 */
#include <stdlib.h>
#include <string.h>

#include "cs_error.h"
#include "cs_proto.h"
#include "daemon.h"
#include "identities.h"
#include "json.h"
#include "own_choice.h"
#include "recipients.h"
#include "settings.h"

#define CHOOSE_MAX_RECIPIENTS 1000

void
handle_certs_choose(struct request *rq)
{
	struct daemon *d = rq->cl->d;
	struct front_identity *ids = NULL;
	struct account_settings s;
	struct keyd_op_context ctx;
	struct own_choice choice;
	struct cs_reader rd;
	struct cs_buf out;
	struct cs_json j;
	char *account = NULL, *addr = NULL;
	size_t n_ids = 0;
	uint32_t n, i;
	X509 *cert;
	int r;

	memset(&s, 0, sizeof(s));
	cs_buf_init(&out, 0);
	cs_reader_init(&rd, rq->body, rq->body_len);
	cs_read_str(&rd, CS_PROTO_MAX_STR, &account);
	n = cs_read_u32(&rd);
	if ((r = rd.failed) != 0)
		goto out;
	if (n > CHOOSE_MAX_RECIPIENTS || account[0] == '\0') {
		r = n > CHOOSE_MAX_RECIPIENTS ? CS_ERR_TOO_LARGE : CS_ERR_INVALID_ARG;
		goto out;
	}
	request_set_keyd_context(rq, &ctx, NULL);
	r = front_identities(d, &ids, &n_ids);
	keyd_client_set_thread_context(NULL);
	if (r != 0 || (r = settings_get(d, account, &s)) != 0)
		goto out;
	cs_json_init(&j, &out);
	cs_json_object_begin(&j, NULL);
	cs_json_string(&j, "account", account);
	cs_json_object_begin(&j, "settings");
	settings_json(&s, &j);
	cs_json_object_end(&j);
	cs_json_object_begin(&j, "signer");
	r = own_choose(d, ids, n_ids, account, CERT_FOR_SIGNING, s.sign_cert, &choice, &j);
	cs_json_object_end(&j);
	cs_json_object_begin(&j, "encryption");
	if (r == 0)
		r = own_choose(d, ids, n_ids, account, CERT_FOR_ENCRYPTION, s.encrypt_cert, &choice, &j);
	cs_json_object_end(&j);
	cs_json_array_begin(&j, "recipients");
	for (i = 0; i < n && r == 0; i++) {
		free(addr);
		addr = NULL;
		cs_read_str(&rd, CS_PROTO_MAX_STR, &addr);
		if ((r = rd.failed) != 0)
			break;
		cs_json_object_begin(&j, NULL);
		cs_json_string(&j, "address", addr);
		cert = NULL;
		r = front_choose_recipient(d, ids, n_ids, addr, &cert, &j);
		X509_free(cert);
		cs_json_object_end(&j);
	}
	cs_json_array_end(&j);
	cs_json_object_end(&j);
	if (r == 0)
		r = cs_reader_finish(&rd);
	if (r == 0)
		r = cs_json_finish(&j);
out:
	if (r == 0)
		(void)client_send_ok_json(rq->cl, rq->id, &out);
	else
		client_send_error(rq->cl, rq->id, r, NULL);
	account_settings_clear(&s);
	front_identities_free(ids, n_ids);
	free(account);
	free(addr);
	cs_buf_clear(&out);
}
