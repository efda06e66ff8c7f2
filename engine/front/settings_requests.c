/* SETTINGS_GET, SETTINGS_SET, POLICY_GET: per-account settings and the admin policy. */
#include "cs_error.h"
#include "daemon.h"

void
handle_settings_get(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}

void
handle_settings_set(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}

void
handle_policy_get(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}
