/*
 * Runs a fuzz target over files, for builds without libFuzzer: the seed
 * corpus and every crash ever found stay regression tests this way.
 * Usage: replay FILE|DIR...  Exits non-zero if a file cannot be read.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long size;
	int r = -1;

	if (f == NULL)
		goto out;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	if ((data = malloc((size_t)size + 1)) == NULL)
		goto out;
	if (size > 0 && fread(data, 1, (size_t)size, f) != (size_t)size)
		goto out;
	LLVMFuzzerTestOneInput(data, (size_t)size);
	r = 0;
out:
	if (r != 0)
		fprintf(stderr, "replay: cannot read %s\n", path);
	free(data);
	if (f != NULL)
		fclose(f);
	return r;
}

static int
replay_path(const char *path, int *count)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[4096];
	int r = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: not found\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && r == 0) {
		if (e->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name) >= sizeof(sub))
			r = -1;
		else
			r = replay_path(sub, count);
	}
	closedir(d);
	return r;
}

int
main(int argc, char **argv)
{
	int i, count = 0;

	for (i = 1; i < argc; i++) {
		if (replay_path(argv[i], &count) != 0)
			return 1;
	}
	printf("replayed %d inputs without a crash\n", count);
	return count > 0 ? 0 : 1;
}
