/*
 * A minimal TAP producer for unit tests (meson runs them with protocol: 'tap').
 * CHECK() reports one test point and keeps going, so one run shows every
 * failure; tap_done() prints the plan and returns the exit status.
 */
#ifndef CS_TAP_H
#define CS_TAP_H

#include <stdio.h>

static int tap_count;
static int tap_failed;

/* cond is evaluated exactly once: it often has side effects (reads, writes). */
#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		int ok_ = (cond) ? 1 : 0;                                       \
		tap_count++;                                                    \
		if (!ok_)                                                       \
			tap_failed++;                                           \
		printf("%s %d - ", ok_ ? "ok" : "not ok", tap_count);           \
		printf(__VA_ARGS__);                                            \
		if (!ok_)                                                       \
			printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond);      \
		printf("\n");                                                   \
		fflush(stdout);                                                 \
	} while (0)

#define CHECK_EQ_INT(got, want, ...)                                            \
	do {                                                                    \
		long long got_ = (long long)(got), want_ = (long long)(want);   \
		CHECK(got_ == want_, __VA_ARGS__);                              \
		if (got_ != want_)                                              \
			printf("#   got %lld, want %lld\n", got_, want_);       \
	} while (0)

static inline int
tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed == 0 ? 0 : 1;
}

#endif
