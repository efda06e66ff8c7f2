/* The table of requests in progress, so that CANCEL can reach them. */
#include <stdlib.h>
#include <unistd.h>

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

int
keyd_requests_cancel_all(struct keyd *k, unsigned wait_ms)
{
	struct keyd_active *a;
	unsigned waited = 0;
	int left;

	pthread_mutex_lock(&k->requests_lock);
	for (a = k->active; a != NULL; a = a->next)
		a->cancel = 1;
	pthread_mutex_unlock(&k->requests_lock);
	for (;;) {
		pthread_mutex_lock(&k->requests_lock);
		left = k->active != NULL;
		pthread_mutex_unlock(&k->requests_lock);
		if (!left || waited >= wait_ms)
			return left;
		usleep(20 * 1000);
		waited += 20;
	}
}
