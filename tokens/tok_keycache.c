/* The per-token cache of private-key handles; what invalidates it is in tok_keycache.h. */
#include "tok_keycache.h"

#include <stdlib.h>
#include <string.h>

static int
same_instance(const struct tok_keycache *c, const struct tok_token *t, const char *serial,
              unsigned long generation)
{
	return c->session == t->session && t->session != CK_INVALID_HANDLE &&
	       c->generation == generation && strcmp(c->serial, serial) == 0;
}

void
tok_keycache_clear(struct tok_token *t)
{
	struct tok_keycache *c = &t->keys;
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->entries[i].uri);
	memset(c, 0, sizeof(*c));
	c->session = CK_INVALID_HANDLE;
}

int
tok_keycache_get(struct tok_token *t, const char *serial, unsigned long generation,
                 const char *uri, struct tok_private_key *ret_key)
{
	struct tok_keycache *c = &t->keys;
	size_t i;

	if (c->n == 0)
		return 0;
	if (!same_instance(c, t, serial, generation)) {
		tok_keycache_clear(t);
		return 0;
	}
	for (i = 0; i < c->n; i++) {
		if (strcmp(c->entries[i].uri, uri) == 0) {
			*ret_key = c->entries[i].key;
			ret_key->cached = 1;
			return 1;
		}
	}
	return 0;
}

void
tok_keycache_put(struct tok_token *t, const char *serial, unsigned long generation,
                 const char *uri, const struct tok_private_key *key)
{
	struct tok_keycache *c = &t->keys;
	size_t slot;
	char *copy;

	if (strlen(serial) >= sizeof(c->serial) || (copy = strdup(uri)) == NULL)
		return;
	if (c->n > 0 && !same_instance(c, t, serial, generation))
		tok_keycache_clear(t);
	if (c->n == 0) {
		c->session = t->session;
		c->generation = generation;
		memcpy(c->serial, serial, strlen(serial) + 1);
	}
	/* Full: the oldest entry makes room (a user has a handful of keys). */
	if (c->n < TOK_KEYCACHE_SIZE) {
		slot = c->n++;
	} else {
		slot = c->next;
		free(c->entries[slot].uri);
		c->next = (c->next + 1) % TOK_KEYCACHE_SIZE;
	}
	c->entries[slot].uri = copy;
	c->entries[slot].key = *key;
}

unsigned long
tok_ctx_generation(struct tok_ctx *ctx)
{
	return __atomic_load_n(&ctx->generation, __ATOMIC_SEQ_CST);
}

void
tok_ctx_bump_generation(struct tok_ctx *ctx)
{
	__atomic_add_fetch(&ctx->generation, 1, __ATOMIC_SEQ_CST);
}

int
tok_stale_handle(CK_RV rv)
{
	return rv == CKR_OBJECT_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID;
}
