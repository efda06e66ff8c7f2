/* CERTS_CHOOSE: the signer and recipients' certificates PROTECT would use now, and why. */
#include "cs_error.h"
#include "daemon.h"

void
handle_certs_choose(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}
