/* The CLI's shared pieces: exit codes for engine errors, events, files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_out.h"
#include "cli.h"
#include "cs_error.h"
#include "cs_proto.h"
#include "progress.h"

const char *cli_socket_path;
int cli_quiet;
int
exit_for(int err)
{
	switch (err) {
	case CS_ERR_NO_RECIPIENT_CERT:
		return EXIT_NO_RECIPIENT_CERT;
	case CS_ERR_CANCELLED:
		return EXIT_CANCELLED;
	case CS_ERR_NO_KEY:
	case CS_ERR_NO_TOKEN:
	case CS_ERR_PIN_LOCKED:
	case CS_ERR_NOT_FOUND:
		return EXIT_NO_KEY;
	default:
		return EXIT_OTHER;
	}
}
static void
on_event(void *arg, int kind, uint64_t value, const char *detail)
{
	(void)arg;
	if (cli_quiet)
		return;
	if (kind != CS_EVENT_PROGRESS)
		progress_end(stderr);
	switch (kind) {
	case CS_EVENT_INSERT_TOKEN:
		fprintf(stderr, "cardseal: insert your smartcard \"%s\"\n", detail);
		break;
	case CS_EVENT_WAITING_FOR_PIN:
		fprintf(stderr, "cardseal: waiting for the PIN of \"%s\"\n", detail);
		break;
	case CS_EVENT_PIN_STATE:
		/* A PIN-pad reader: no dialog asks for the PIN, the reader does. */
		if (strcmp(detail, "keypad") == 0)
			fprintf(stderr, "cardseal: enter your PIN on the reader's keypad\n");
		else
			fprintf(stderr, "cardseal: PIN state: %s\n", detail);
		break;
	case CS_EVENT_NOTICE:
		fprintf(stderr, "cardseal: %s\n", detail);
		break;
	case CS_EVENT_TOKEN_CHANGED:
	case CS_EVENT_READER_CHANGED:
		printf("%s\n", detail);
		fflush(stdout);
		break;
	case CS_EVENT_PROGRESS:
		(void)progress_draw(stderr, value);
		break;
	default:
		break;
	}
}
int
connect_engine(struct cs_client **ret)
{
	int r = cs_client_connect(cli_socket_path, 1, ret);

	if (r != 0)
		fprintf(stderr, "cardseal: cannot reach the engine: %s\n", cs_strerror(r));
	else
		cs_client_set_event_cb(*ret, on_event, NULL);
	return r;
}
/* Reads a whole (small) file; certificates are capped at 1 MiB. */
int
read_small_file(const char *path, uint8_t **ret, size_t *ret_len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (f == NULL)
		return CS_ERR_IO;
	buf = malloc(1024 * 1024 + 1);
	n = buf != NULL ? fread(buf, 1, 1024 * 1024 + 1, f) : 0;
	fclose(f);
	if (buf == NULL)
		return CS_ERR_NOMEM;
	if (n > 1024 * 1024) {
		free(buf);
		return CS_ERR_TOO_LARGE;
	}
	*ret = buf;
	*ret_len = n;
	return 0;
}
/* Opens IN (or standard input for NULL or "-"). */
int
open_input(const char *path)
{
	struct stat st;
	int fd = 0;

	if (path != NULL && strcmp(path, "-") != 0 &&
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "cardseal: %s: %s\n", path, strerror(errno));
		return fd;
	}
	/* A regular file's size lets the progress bar show how far along it is. */
	progress_set_total(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0);
	return fd;
}
void
print_missing(const char *details)
{
	/* {"missing":["a@b", ...]}: name them, one per line. */
	const char *p = strstr(details, "[");

	fprintf(stderr, "cardseal: no encryption certificate for these recipients:\n");
	while (p != NULL && (p = strchr(p, '"')) != NULL) {
		const char *end = strchr(p + 1, '"');

		if (end == NULL)
			break;
		fprintf(stderr, "  %.*s\n", (int)(end - p - 1), p + 1);
		p = end + 1;
	}
	fprintf(stderr, "cardseal: import their certificates (cardseal certs import) or use "
	                "--drop-missing\n");
}
int
write_report(const char *path, const char *json)
{
	struct atomic_out o;
	size_t n = strlen(json);
	int r;

	if ((r = atomic_out_open(&o, path)) != 0)
		return r;
	if (write(o.fd, json, n) != (ssize_t)n || write(o.fd, "\n", 1) != 1) {
		atomic_out_abort(&o);
		return CS_ERR_IO;
	}
	return atomic_out_commit(&o);
}
