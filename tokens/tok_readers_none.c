/* The reader watcher when Cardseal is built without pcsclite: readers are not followed. */
#include <stddef.h>

#include "tok_readers.h"

int
tok_readers_start(struct tok_watch *w, struct tok_readers **ret)
{
	(void)w;
	*ret = NULL;
	return 0;
}

void
tok_readers_stop(struct tok_readers *r)
{
	(void)r;
}
