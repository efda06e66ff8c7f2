/*
 * Counts of the calls the module forwarded and the token completed, so that a test can
 * prove the token did the work. The counts live in this process only: two processes that
 * use the module each count their own calls, and the counters file shows the counts of the
 * process that wrote it last.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "faultp11.h"

/*
 * A lock of its own, held across the file rewrite: a snapshot written by one thread must
 * not overtake a newer one written by another. The state lock is taken before this one,
 * never after.
 */
static pthread_mutex_t counters_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long counts[FP_FN_COUNT];
static char *counters_path;

/*
 * Writes the counts to counters_path with a temp file and a rename, so that a reader never
 * sees half a file. Called with counters_lock held. Returns 0 or a negative errno.
 */
static int
write_file(void)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd = -1;
	int r;

	if (counters_path == NULL)
		return 0;
	if (asprintf(&tmp, "%s.tmp.%ld", counters_path, (long)getpid()) < 0) {
		tmp = NULL;
		r = -ENOMEM;
		goto out;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		r = -errno;
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		r = -errno;
		goto out;
	}
	fd = -1;
	for (unsigned int i = 0; i < FP_FN_COUNT; i++) {
		if (counts[i] != 0)
			fprintf(f, "%s %lu\n", fp_fn_name((enum fp_fn)i), counts[i]);
	}
	r = fclose(f) == 0 ? 0 : -errno;
	f = NULL;
	if (r == 0 && rename(tmp, counters_path) != 0)
		r = -errno;
out:
	if (f != NULL)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (r != 0 && tmp != NULL) {
		unlink(tmp);
		/* A test that reads a stale count would blame the code under test. */
		fprintf(stderr, "faultp11: cannot write %s: %s\n", counters_path, strerror(-r));
	}
	free(tmp);
	return r;
}

int
fp_counters_set_file(const char *path)
{
	char *copy = NULL;

	if (path != NULL && path[0] != '\0' && (copy = strdup(path)) == NULL)
		return -ENOMEM;
	pthread_mutex_lock(&counters_lock);
	free(counters_path);
	counters_path = copy;
	pthread_mutex_unlock(&counters_lock);
	return 0;
}

void
fp_counters_add(enum fp_fn fn)
{
	if ((unsigned int)fn >= FP_FN_COUNT)
		return;
	pthread_mutex_lock(&counters_lock);
	counts[fn]++;
	write_file();
	pthread_mutex_unlock(&counters_lock);
}

void
fp_counters_reset(void)
{
	pthread_mutex_lock(&counters_lock);
	memset(counts, 0, sizeof(counts));
	write_file();
	pthread_mutex_unlock(&counters_lock);
}
