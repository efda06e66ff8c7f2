#include "atomic_out.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_error.h"

int
atomic_out_open(struct atomic_out *o, const char *path)
{
	struct stat st;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (path == NULL || strcmp(path, "-") == 0) {
		o->is_stdout = 1;
		o->fd = 1;
		return 0;
	}
	/*
	 * Only a regular file (or a new one) can be replaced by renaming; a device
	 * or a pipe (/dev/null, a FIFO) is written in place -- renaming over it
	 * would replace the device node with a file.
	 */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if ((o->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			return CS_ERR_IO;
		o->is_stdout = 1;       /* in place: nothing to rename or take back */
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

	if (o->is_stdout) {
		if (o->fd > 2)
			close(o->fd);
		o->fd = -1;
		return 0;
	}
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
	if (o->is_stdout) {
		if (o->fd > 2)
			close(o->fd);
		o->fd = -1;
		return;
	}
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
	if (o->tmp[0] != '\0')
		(void)unlink(o->tmp);
	o->tmp[0] = '\0';
}
