/* The progress bar: one line, redrawn in place, only on a terminal and only for large input. */
#include "progress.h"

#include <unistd.h>

/* Below this nothing is drawn: small messages finish before a bar helps anyone. */
#define PROGRESS_MIN_BYTES (16u << 20)
#define PROGRESS_WIDTH 30

static uint64_t total_bytes;
static int shown;

void
progress_set_total(uint64_t total)
{
	total_bytes = total;
}

int
progress_draw(FILE *out, uint64_t done)
{
	char bar[PROGRESS_WIDTH + 1];
	unsigned filled, i;

	if (!isatty(fileno(out)) || done < PROGRESS_MIN_BYTES)
		return 0;
	if (total_bytes == 0 || done > total_bytes) {
		fprintf(out, "\rcardseal: %llu MiB", (unsigned long long)(done >> 20));
	} else {
		filled = (unsigned)(done * PROGRESS_WIDTH / total_bytes);
		for (i = 0; i < PROGRESS_WIDTH; i++)
			bar[i] = i < filled ? '#' : '.';
		bar[PROGRESS_WIDTH] = '\0';
		fprintf(out, "\rcardseal: [%s] %3u%% %llu/%llu MiB", bar,
		        (unsigned)(done * 100 / total_bytes), (unsigned long long)(done >> 20),
		        (unsigned long long)(total_bytes >> 20));
	}
	fflush(out);
	shown = 1;
	return 1;
}

void
progress_end(FILE *out)
{
	if (shown)
		fputc('\n', out);
	shown = 0;
}
