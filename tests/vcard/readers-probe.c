/*
 * readers-probe MODULE: the slot and reader watchers of tokens/ on their
 * own, for test-vcard.sh. Prints every event as a line ("reader
 * card-removed NAME", "token absent LABEL") until standard input closes,
 * then stops the watchers and prints "stopped in N ms": the reader thread
 * sits in SCardGetStatusChange, and SCardCancel must end that wait at once
 * rather than when its 2 s timeout runs out.
 */
#include <poll.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cs_error.h"
#include "tok.h"
#include "tok_watch.h"

static long
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct tok_ctx *ctx = NULL;
	struct tok_watch *w = NULL;
	struct tok_event e;
	struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
	uint64_t seq;
	char buf[64];
	long start;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: readers-probe MODULE\n");
		return 2;
	}
	if ((r = tok_ctx_new(argv[1], &ctx)) != 0 || (r = tok_watch_start(ctx, 500, &w)) != 0) {
		fprintf(stderr, "readers-probe: %s\n", cs_strerror(r));
		tok_ctx_free(ctx);
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("watching\n");
	seq = tok_watch_last_seq(w);
	for (;;) {
		while (tok_watch_next(w, seq, 0, NULL, &e) == 0) {
			seq = e.seq;
			if (e.kind == TOK_EVENT_READER)
				printf("reader %s %s\n", tok_reader_change_name(e.change),
				       e.reader);
			else
				printf("token %s %s\n", e.present ? "present" : "absent", e.label);
		}
		if (poll(&in, 1, 100) > 0 && read(STDIN_FILENO, buf, sizeof(buf)) <= 0)
			break;
	}
	start = now_ms();
	tok_watch_stop(w);
	printf("stopped in %ld ms\n", now_ms() - start);
	tok_ctx_free(ctx);
	return 0;
}
