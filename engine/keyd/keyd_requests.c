/* The table of requests in progress, so that CANCEL can reach them. */
#include <stdlib.h>

#include "cs_error.h"
#include "keyd.h"

struct keyd_active *
keyd_request_begin(struct keyd *k, uint32_t id)
{
	struct keyd_active *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->id = id;
	pthread_mutex_lock(&k->requests_lock);
	a->next = k->active;
	k->active = a;
	pthread_mutex_unlock(&k->requests_lock);
	return a;
}

void
keyd_request_end(struct keyd *k, struct keyd_active *a)
{
	struct keyd_active **p;

	if (a == NULL)
		return;
	pthread_mutex_lock(&k->requests_lock);
	for (p = &k->active; *p != NULL; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&k->requests_lock);
	free(a);
}

int
keyd_request_cancel(struct keyd *k, uint32_t id)
{
	struct keyd_active *a;
	int r = CS_ERR_NOT_FOUND;

	pthread_mutex_lock(&k->requests_lock);
	for (a = k->active; a != NULL; a = a->next) {
		if (a->id == id) {
			a->cancel = 1;
			r = 0;
		}
	}
	pthread_mutex_unlock(&k->requests_lock);
	return r;
}
