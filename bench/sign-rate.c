/*
 * Signatures per second from one persistent client: one connection to a
 * running cardseald (the client library of the public protocol), then
 * PROTECT --sign of the same small message again and again for a fixed
 * time, each output thrown away. There is no "sign this digest" request in
 * the public protocol, so every signature here is a whole S/MIME signing:
 * MIME canonicalization, the CMS SignedData with its attributes and
 * certificates, and the private-key operation in keyd.
 *
 * Usage: sign-rate SOCKET MESSAGE SECONDS
 * Prints one line: "<signatures> <seconds> <signatures per second>".
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cs_client.h"
#include "cs_error.h"
#include "cs_proto.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
open_null(void *arg, uint32_t stream)
{
	(void)stream;
	return *(int *)arg;
}

int
main(int argc, char **argv)
{
	struct cs_client *c = NULL;
	struct cs_client_outputs outputs;
	double seconds, start, elapsed;
	unsigned long count = 0;
	char *json = NULL;
	int in_fd, null_fd, r;

	if (argc != 4) {
		fprintf(stderr, "usage: sign-rate SOCKET MESSAGE SECONDS\n");
		return 2;
	}
	seconds = atof(argv[3]);
	if ((in_fd = open(argv[2], O_RDONLY)) < 0 || (null_fd = open("/dev/null", O_WRONLY)) < 0) {
		perror("sign-rate");
		return 1;
	}
	outputs.open = open_null;
	outputs.arg = &null_fd;
	if ((r = cs_client_connect(argv[1], 0, &c)) != 0) {
		fprintf(stderr, "sign-rate: connect: %s\n", cs_strerror(r));
		return 1;
	}
	start = now();
	do {
		if (lseek(in_fd, 0, SEEK_SET) != 0) {
			perror("sign-rate: lseek");
			return 1;
		}
		if ((r = cs_client_protect(c, CS_PROTECT_SIGN, NULL, in_fd, &outputs, &json)) != 0) {
			fprintf(stderr, "sign-rate: protect: %s %s\n", cs_strerror(r),
			        cs_client_error_details(c));
			return 1;
		}
		free(json);
		json = NULL;
		count++;
		elapsed = now() - start;
	} while (elapsed < seconds);
	printf("%lu %.3f %.1f\n", count, elapsed, (double)count / elapsed);
	cs_client_close(c);
	return 0;
}
