/* CERTS_LIST, CERTS_EXPORT, CERTS_REMOVE, CERTS_INSTALL: the certificate store for clients. */
#include "cs_error.h"
#include "daemon.h"

void
handle_certs_list(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}

void
handle_certs_export(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}

void
handle_certs_remove(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}

void
handle_certs_install(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}
