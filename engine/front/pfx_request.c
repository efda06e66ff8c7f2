/* PFX_IMPORT: a PKCS#12 file onto a token, through keyd. */
#include "cs_error.h"
#include "daemon.h"

void
handle_pfx_import(struct request *rq)
{
	client_send_error(rq->cl, rq->id, CS_ERR_UNKNOWN_TYPE, NULL);
}
