/*
 * read-driver: runs cs_read from a file to a file with software identities,
 * for the memory test, the gpgsm interop test and trying things by hand.
 * Prints the report as one JSON-ish line on stdout; with -v, bytes, seconds
 * and throughput on stderr. Exits 0 when cs_read returned 0, else 1.
 *
 *   read-driver [-v] [--anchors PEM] [--crl PEM] [--untrusted PEM]
 *               [--id KEY CERT] [--p12 FILE PASSWORD] [--spill-dir DIR] IN OUT
 *
 * Options may repeat. OUT is created even when reading fails (then with
 * whatever cs_read wrote, which for a failed GCM layer is nothing).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>

#include "cs_error.h"
#include "cs_smime.h"
#include "test-read-util.h"

static void
usage(void)
{
	fprintf(stderr, "usage: read-driver [-v] [--anchors PEM] [--crl PEM] [--untrusted PEM] "
	                "[--id KEY CERT] [--p12 FILE PASSWORD] [--spill-dir DIR] IN OUT\n");
	exit(2);
}

static void
progress(void *arg, uint64_t done)
{
	*(uint64_t *)arg = done;
}

int
main(int argc, char **argv)
{
	struct cs_read_report rep;
	struct timespec t0, t1;
	struct rt t;
	uint64_t done = 0;
	BIO *in, *out;
	double secs;
	int i, r, verbose = 0, bad = 0;

	rt_init(&t);
	t.o.progress = progress;
	t.o.progress_arg = &done;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-v") == 0)
			verbose = 1;
		else if (strcmp(a, "--anchors") == 0 && i + 1 < argc)
			bad |= rt_add_anchors(&t, argv[++i]);
		else if (strcmp(a, "--crl") == 0 && i + 1 < argc)
			bad |= rt_add_crl(&t, argv[++i]);
		else if (strcmp(a, "--untrusted") == 0 && i + 1 < argc)
			bad |= rt_add_untrusted(&t, argv[++i]);
		else if (strcmp(a, "--id") == 0 && i + 2 < argc)
			bad |= rt_add_identity(&t, argv[i + 1], argv[i + 2]), i += 2;
		else if (strcmp(a, "--p12") == 0 && i + 2 < argc)
			bad |= rt_add_p12(&t, argv[i + 1], argv[i + 2]), i += 2;
		else if (strcmp(a, "--spill-dir") == 0 && i + 1 < argc)
			t.o.spill_dir = argv[++i];
		else
			usage();
	}
	if (bad != 0 || argc - i != 2)
		usage();
	if ((in = BIO_new_file(argv[i], "rb")) == NULL ||
	    (out = BIO_new_file(argv[i + 1], "wb")) == NULL) {
		fprintf(stderr, "read-driver: cannot open %s or %s\n", argv[i], argv[i + 1]);
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = cs_read(in, out, &t.o, &rep);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	BIO_free(in);
	BIO_free(out);
	rt_print_report(stdout, r, &rep);
	if (verbose) {
		secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
		fprintf(stderr, "read-driver: %llu bytes in %.2f s, %.1f MB/s\n",
		        (unsigned long long)done, secs, secs > 0 ? (double)done / secs / 1e6 : 0.0);
	}
	cs_read_report_clear(&rep);
	rt_free(&t);
	return r == 0 ? 0 : 1;
}
