#include "atomic_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_error.h"

int
atomic_out_open(struct atomic_out *o, const char *path)
{
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->is_stdout = 1;
		o->fd = 1;
		return 0;
	}
	if ((size_t)snprintf(o->path, sizeof(o->path), "%s", path) >= sizeof(o->path) ||
	    (size_t)snprintf(o->tmp, sizeof(o->tmp), "%s.cardseal-XXXXXX", path) >= sizeof(o->tmp))
		return CS_ERR_TOO_LARGE;
	if ((o->fd = mkstemp(o->tmp)) < 0) {
		o->tmp[0] = '\0';
		return CS_ERR_IO;
	}
	/* Like a newly created file: rw for the user (and whatever the umask allows). */
	{
		mode_t mask = umask(0);

		umask(mask);
		(void)fchmod(o->fd, 0666 & ~mask);
	}
	return 0;
}

int
atomic_out_commit(struct atomic_out *o)
{
	int r = 0;

	if (o->is_stdout)
		return 0;
	if (fsync(o->fd) != 0 || close(o->fd) != 0)
		r = CS_ERR_IO;
	o->fd = -1;
	if (r == 0 && rename(o->tmp, o->path) != 0)
		r = CS_ERR_IO;
	if (r != 0)
		(void)unlink(o->tmp);
	o->tmp[0] = '\0';
	return r;
}

void
atomic_out_abort(struct atomic_out *o)
{
	if (o->is_stdout)
		return;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0] != '\0')
		(void)unlink(o->tmp);
	o->tmp[0] = '\0';
}
