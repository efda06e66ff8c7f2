/*
 * PIN and consent dialogs through pinentry, for cardseal-keyd only.
 *
 * Each dialog starts the configured pinentry program, speaks the Assuan
 * pinentry protocol with it through libassuan and ends it again: no pinentry
 * outlives its dialog, and nothing is cached. All dialog text is written
 * here, from strings keyd passes in; the token label and the summary are
 * untrusted and are sanitized (pinentry_text.h) before they are shown.
 *
 * One dialog at a time, process-wide: a caller that finds a dialog open waits
 * until it has ended (its pinentry has exited), so two PIN prompts can never
 * be on screen together and a user never types a PIN into the wrong one.
 *
 * The library never logs and never prints: it returns CS_ERR_* and the
 * caller logs. It starts one child process and two helper threads per dialog
 * and reaps the child itself, so the caller must not reap children it did not
 * start (no waitpid(-1) in a SIGCHLD handler). SIGPIPE from a dead pinentry
 * is caught in the calling thread and discarded; the process disposition of
 * SIGPIPE is not changed.
 */
#ifndef CS_PINENTRY_H
#define CS_PINENTRY_H

#include "cs_secret.h"

/*
 * Where the dialog is to appear, from the client's HELLO. Any field may be
 * NULL, and an empty value counts as absent. They are the only source of the
 * pinentry's environment (plus PATH=/usr/bin:/bin); nothing of keyd's own
 * environment reaches it. A value containing a control character, longer
 * than CS_PINENTRY_HINT_MAX, or a ttyname outside /dev/, is refused with
 * CS_ERR_INVALID_ARG: these values travel on Assuan OPTION lines, which
 * pinentry does not unescape.
 */
struct cs_display_hints {
	const char *display;                  /* DISPLAY and OPTION display= */
	const char *wayland_display;          /* WAYLAND_DISPLAY */
	const char *xdg_runtime_dir;          /* XDG_RUNTIME_DIR (where WAYLAND_DISPLAY lives) */
	const char *xauthority;               /* XAUTHORITY */
	const char *dbus_session_bus_address; /* DBUS_SESSION_BUS_ADDRESS */
	const char *term;                     /* TERM and OPTION ttytype= */
	const char *ttyname;                  /* GPG_TTY and OPTION ttyname= */
	const char *lc_ctype;                 /* LC_CTYPE and OPTION lc-ctype= */
	const char *lc_messages;              /* LC_MESSAGES and OPTION lc-messages= */
};

#define CS_PINENTRY_HINT_MAX 512

/* The token's PIN state (CKF_USER_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED). */
#define CS_PIN_STATE_COUNT_LOW 0x1 /* "Few tries left" */
#define CS_PIN_STATE_FINAL_TRY 0x2 /* "This is the last try before the card locks" */
#define CS_PIN_STATE_LOCKED 0x4    /* no dialog at all: CS_ERR_PIN_LOCKED */

/* Longest PIN accepted from the dialog, in bytes (UTF-8). */
#define CS_PINENTRY_PIN_MAX 256

/* How long a pinentry may take to greet us and accept the dialog's settings. */
#define CS_PINENTRY_START_SECONDS 10
/* How long past its own SETTIMEOUT a pinentry may stay silent before it is killed. */
#define CS_PINENTRY_GRACE_SECONDS 5

/*
 * One dialog request. The strings are borrowed for the duration of the call
 * (and, for the keypad message, until cs_pinentry_message_close()).
 */
struct cs_pin_request {
	const char *pinentry_program;         /* absolute path, from keyd's configuration */
	const struct cs_display_hints *hints; /* NULL: no hints at all */
	const char *token_label;              /* from the token: untrusted; NULL is "(no label)" */
	const char *operation;                /* "Sign", "Decrypt", ... written by keyd */
	const char *summary;                  /* From/To/Subject/attachments: attacker-controlled */
	int pin_state;                        /* CS_PIN_STATE_* flags */
	int previous_wrong;                   /* the last PIN for this token was wrong */
	unsigned timeout_seconds;             /* SETTIMEOUT; 0 = the dialog waits for ever */
	int keypad;                           /* protected authentication path: no PIN field */
	const volatile int *cancel;           /* set by another thread: close the dialog (or stop
	                                         waiting for one); CS_ERR_CANCELLED */
	int tries_left;                       /* password dialog: tries left, this one included */
};

/*
 * Asks for the PIN. On success returns 0 and stores a new secret in
 * *ret_pin, which the caller owns and frees with cs_secret_free(); the PIN
 * may be empty if the user entered nothing. *ret_pin is untouched on failure.
 *
 * Returns CS_ERR_CANCELLED (the user cancelled), CS_ERR_TIMEOUT (the dialog's
 * timeout ran out, or the pinentry stayed silent CS_PINENTRY_GRACE_SECONDS
 * past it and was killed), CS_ERR_PINENTRY (program missing, crashed, an ERR
 * with another code, a malformed reply, or silence while starting),
 * CS_ERR_PIN_LOCKED (pin_state has CS_PIN_STATE_LOCKED: nothing is shown),
 * CS_ERR_TOO_LARGE (the PIN is longer than CS_PINENTRY_PIN_MAX),
 * CS_ERR_INVALID_ARG (a bad request, or req->keypad: a PIN-pad reader gets
 * cs_pinentry_message_open(), never a PIN field) or CS_ERR_NOMEM.
 * Never retries on its own.
 */
int cs_pinentry_get_pin(const struct cs_pin_request *req, struct cs_secret **ret_pin);

/*
 * Asks for the password of a file to import (a PKCS#12 file onto a token):
 * "Password of the certificate file "NAME" to import onto token "LABEL"."
 * req->summary is the file's name and req->token_label the token's, both
 * untrusted and sanitized as one-line labels. With req->previous_wrong the
 * dialog's error line says the last password was wrong and how many tries
 * are left (req->tries_left). operation, pin_state and keypad are not used.
 * Nothing is cached: pinentry gets no cache key (SETKEYINFO), so it offers
 * no password store. Returns as cs_pinentry_get_pin(), the password (which
 * may be empty) in *ret_password.
 */
int cs_pinentry_get_password(const struct cs_pin_request *req, struct cs_secret **ret_password);

/*
 * Asks the user to confirm the operation (pinentry CONFIRM), showing the
 * summary. Returns 0 when confirmed, CS_ERR_CANCELLED when refused or
 * cancelled, CS_ERR_TIMEOUT, CS_ERR_PINENTRY, CS_ERR_INVALID_ARG or
 * CS_ERR_NOMEM, with the same meanings as for cs_pinentry_get_pin().
 * pin_state, previous_wrong and keypad are not used.
 */
int cs_pinentry_confirm(const struct cs_pin_request *req);

struct cs_pinentry_message;

/*
 * For a PIN-pad reader: shows "enter the PIN on the reader's keypad" (with
 * the PIN state and the summary) and returns at once, while the message
 * stays on screen; the caller then starts the login on the reader and calls
 * cs_pinentry_message_close() when it has returned. The message holds the
 * process-wide dialog slot until it is closed. timeout_seconds is not used:
 * the message lasts as long as the login does.
 *
 * Returns 0 and a new handle in *ret_msg (owned by the caller, freed only by
 * cs_pinentry_message_close()); or CS_ERR_PIN_LOCKED, CS_ERR_PINENTRY,
 * CS_ERR_INVALID_ARG or CS_ERR_NOMEM, with *ret_msg untouched. A failure here
 * need not stop the login: the keypad works without the message.
 */
int cs_pinentry_message_open(const struct cs_pin_request *req,
                             struct cs_pinentry_message **ret_msg);

/*
 * Takes the message down (the pinentry gets SIGTERM, then SIGKILL if it
 * lingers), waits for it to end and frees msg. Returns 0, also when the user
 * had dismissed the message already, or CS_ERR_PINENTRY if the pinentry had
 * failed while showing it. NULL is fine and returns 0.
 */
int cs_pinentry_message_close(struct cs_pinentry_message *msg);

#endif
