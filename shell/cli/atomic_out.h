/*
 * Output files that appear whole or not at all: written to a temporary file
 * beside the target (same directory, so rename is atomic), synced, then
 * renamed into place by atomic_out_commit(); atomic_out_abort() removes it.
 * "-" (or NULL) is standard output, and an existing device or pipe is
 * written in place: neither can be taken back.
 */
#ifndef CS_ATOMIC_OUT_H
#define CS_ATOMIC_OUT_H

#include <limits.h>

struct atomic_out {
	int fd;
	int is_stdout;          /* written in place: standard output, a device, a pipe */
	char path[PATH_MAX];
	char tmp[PATH_MAX];
};

int atomic_out_open(struct atomic_out *o, const char *path);
int atomic_out_commit(struct atomic_out *o);
void atomic_out_abort(struct atomic_out *o);

#endif
