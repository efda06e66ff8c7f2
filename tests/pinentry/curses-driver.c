/*
 * Runs one real PIN dialog on the terminal it is started in, for the tmux
 * test (test-curses.sh): hints.term is "xterm" and hints.ttyname is this
 * terminal. Writes "rc=N len=N sha256=HEX" to OUTFILE; never the PIN.
 *
 * Usage: curses-driver PINENTRY OUTFILE [LABEL [TIMEOUT_SECONDS [keypad]]]
 *
 * With "keypad" it shows the PIN-pad message instead, keeps it up until the
 * file OUTFILE.go appears (the test's cue that it has seen it; at most 30 s)
 * and closes it, as keyd does when the reader's login returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cs_error.h"
#include "cs_secret.h"
#include "pinentry.h"

static int
keypad_message(const struct cs_pin_request *req, const char *outfile)
{
	struct cs_pinentry_message *msg = NULL;
	char go[4096];
	int r, i;

	snprintf(go, sizeof(go), "%s.go", outfile);
	if ((r = cs_pinentry_message_open(req, &msg)) != 0)
		return r;
	for (i = 0; i < 300 && access(go, F_OK) != 0; i++)
		usleep(100000);
	return cs_pinentry_message_close(msg);
}

int
main(int argc, char **argv)
{
	struct cs_display_hints hints = {0};
	struct cs_pin_request req = {0};
	struct cs_secret *pin = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0, i;
	char hex[2 * EVP_MAX_MD_SIZE + 1] = "";
	const char *tty = ttyname(STDIN_FILENO);
	char tmp[4096];
	FILE *out;
	int r;

	if (argc < 3 || argc > 6 || tty == NULL) {
		fprintf(stderr, "usage: %s PINENTRY OUTFILE [LABEL [TIMEOUT [keypad]]]\n", argv[0]);
		return 2;
	}
	hints.term = "xterm";
	hints.ttyname = tty;
	hints.lc_ctype = "C.UTF-8";
	req.pinentry_program = argv[1];
	req.hints = &hints;
	req.operation = "Sign";
	req.token_label = argc >= 4 ? argv[3] : "Cardseal Test Card";
	req.summary = "From: alice@example.org\nSubject: tmux test";
	req.timeout_seconds = argc == 5 ? (unsigned)strtoul(argv[4], NULL, 10) : 60;
	if (argc == 6 && strcmp(argv[5], "keypad") == 0)
		r = keypad_message(&req, argv[2]);
	else
		r = cs_pinentry_get_pin(&req, &pin);
	if (r == 0 && pin != NULL &&
	    EVP_Digest(cs_secret_data(pin), cs_secret_len(pin), md, &md_len, EVP_sha256(), NULL) !=
	        1)
		r = CS_ERR_INTERNAL;
	for (i = 0; i < md_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	/* Written aside and renamed, so the test never reads half a line. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", argv[2]);
	if ((out = fopen(tmp, "w")) == NULL)
		return 1;
	fprintf(out, "rc=%d len=%zu sha256=%s\n", r, pin != NULL ? cs_secret_len(pin) : (size_t)0,
	        hex);
	if (fclose(out) != 0 || rename(tmp, argv[2]) != 0)
		return 1;
	printf("driver finished: %s\n", cs_error_name(r));
	cs_secret_free(pin);
	return 0;
}
