#include "pinentry.h"
#include "pinentry_child.h"
#include "pinentry_text.h"
#include "cs_buf.h"
#include "cs_error.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <assuan.h>
#include <gpg-error.h>

_Static_assert(CS_PE_LINE_MAX == ASSUAN_LINELENGTH - 2, "one Assuan line, without its LF");

/* Replies longer than this many lines are a pinentry gone wrong. */
#define REPLY_MAX_LINES 64

/* Longest SETTIMEOUT we pass on (pinentry reads it with atoi). */
#define TIMEOUT_MAX_SECONDS (24u * 3600)

enum dialog_kind {
	DIALOG_PIN,
	DIALOG_CONFIRM,
	DIALOG_KEYPAD,
	DIALOG_PASSWORD,    /* a file's password, for an import */
};

/*
 * The dialog slot: a flag under a mutex rather than a mutex held for the
 * dialog, because a keypad message is given back by
 * cs_pinentry_message_close(), which may run on another thread.
 */
static pthread_mutex_t dialog_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dialog_free = PTHREAD_COND_INITIALIZER;
static int dialog_busy;

/* Waits for the dialog slot: 0, or CS_ERR_CANCELLED if *cancel is set meanwhile. */
static int
dialog_acquire(const volatile int *cancel)
{
	struct timespec slice;
	int r = 0;

	pthread_mutex_lock(&dialog_lock);
	while (dialog_busy) {
		if (cancel != NULL && *cancel) {
			r = CS_ERR_CANCELLED;
			break;
		}
		clock_gettime(CLOCK_REALTIME, &slice);
		slice.tv_nsec += 100 * 1000000L;
		if (slice.tv_nsec >= 1000000000L) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000L;
		}
		(void)pthread_cond_timedwait(&dialog_free, &dialog_lock, &slice);
	}
	if (r == 0)
		dialog_busy = 1;
	pthread_mutex_unlock(&dialog_lock);
	return r;
}

static void
dialog_release(void)
{
	pthread_mutex_lock(&dialog_lock);
	dialog_busy = 0;
	pthread_cond_signal(&dialog_free);
	pthread_mutex_unlock(&dialog_lock);
}

/*
 * A pinentry that dies makes our next write raise SIGPIPE. keyd's
 * disposition is not ours to change, so the calling thread blocks it while
 * it talks to pinentry and discards one that arrived meanwhile.
 */
struct sigpipe_guard {
	sigset_t old;
	int was_pending;
};

static void
sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, &g->old);
	g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

static void
sigpipe_restore(struct sigpipe_guard *g)
{
	static const struct timespec zero = {0, 0};
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/*
 * libassuan keeps every line it reads, the PIN's D line among them, in
 * buffers inside its context. These hooks wipe each of its allocations when
 * it is freed, the context included.
 */
union alloc_head {
	size_t size;
	max_align_t align;
};

static void *
wiping_malloc(size_t n)
{
	union alloc_head *h;

	if (n > SIZE_MAX - sizeof(*h) || (h = malloc(sizeof(*h) + n)) == NULL)
		return NULL;
	h->size = n;
	return h + 1;
}

static void
wiping_free(void *p)
{
	union alloc_head *h;

	if (p == NULL)
		return;
	h = (union alloc_head *)p - 1;
	cs_wipe(h, sizeof(*h) + h->size);
	free(h);
}

static void *
wiping_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (p == NULL)
		return wiping_malloc(n);
	old = ((union alloc_head *)p - 1)->size;
	if ((q = wiping_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wiping_free(p);
	return q;
}

static struct assuan_malloc_hooks wiping_hooks = {wiping_malloc, wiping_realloc, wiping_free};

/* libassuan asks before each log line; the answer is always no. */
static int
no_log(assuan_context_t ctx, void *hook, unsigned int cat, const char *msg)
{
	(void)ctx;
	(void)hook;
	(void)cat;
	(void)msg;
	return 0;
}

/* One running pinentry and our Assuan connection to it. */
struct session {
	struct cs_pe_child child;
	assuan_context_t ctx;
	int started;
};

static int
is_word(const char *line, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && memcmp(line, word, n) == 0 && (len == n || line[n] == ' ');
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * Decodes a D line's percent-escaping byte by byte straight into pin, so the
 * PIN exists in clear only there (and in libassuan's wiped line buffer).
 */
static int
take_data(struct cs_secret *pin, const char *p, size_t n)
{
	unsigned char b = 0;
	size_t i;
	int hi = 0, lo = 0, r = 0;

	for (i = 0; i < n && r == 0; i++) {
		b = (unsigned char)p[i];
		if (b == '%') {
			if (n - i < 3 || (hi = hex_value(p[i + 1])) < 0 ||
			    (lo = hex_value(p[i + 2])) < 0) {
				r = CS_ERR_PINENTRY;
				break;
			}
			b = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		/* A PIN goes on as a C string to PKCS#11: a NUL in it is garbage. */
		if (b == 0)
			r = CS_ERR_PINENTRY;
		else
			r = cs_secret_append(pin, &b, 1);
	}
	cs_wipe(&b, sizeof(b));
	cs_wipe(&hi, sizeof(hi));
	cs_wipe(&lo, sizeof(lo));
	return r;
}

/* "ERR <code> [text]": the code, strictly decimal, or CS_ERR_PINENTRY. */
static int
parse_err(const char *p, size_t n, unsigned *ret_code)
{
	unsigned long code = 0;
	size_t i = 0, digits = 0;

	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9' && digits < 10; i++, digits++)
		code = code * 10 + (unsigned long)(p[i] - '0');
	if (digits == 0 || code > 0xffffffffUL || (i < n && p[i] != ' '))
		return CS_ERR_PINENTRY;
	*ret_code = (unsigned)code;
	return 0;
}

static int
map_error(unsigned code)
{
	switch (gpg_err_code(code)) {
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
	case GPG_ERR_ASS_CANCELED:
	case GPG_ERR_NOT_CONFIRMED:
		return CS_ERR_CANCELLED;
	case GPG_ERR_TIMEOUT:
		return CS_ERR_TIMEOUT;
	default:
		return CS_ERR_PINENTRY;
	}
}

/*
 * Reads one reply: 0 for OK; the mapped error for ERR, with its gpg-error
 * code in *ret_code; CS_ERR_IO if the connection failed; CS_ERR_PINENTRY
 * for anything that is not the protocol. D lines go to pin (NULL: none
 * expected), each wiped in libassuan's buffer as soon as it is decoded.
 * Our own reader rather than assuan_transact(): that one reads an ERR line
 * with atoi(), so "ERR x" would pass for success.
 */
static int
read_reply(struct session *s, struct cs_secret *pin, unsigned *ret_code)
{
	unsigned lines, code = 0;
	char *line;
	size_t len;
	int r;

	for (lines = 0; lines < REPLY_MAX_LINES; lines++) {
		if (assuan_read_line(s->ctx, &line, &len) != 0)
			return CS_ERR_IO;
		if (len == 0 || line[0] == '#' || is_word(line, len, "S"))
			continue;
		if (is_word(line, len, "OK"))
			return 0;
		if (is_word(line, len, "ERR")) {
			if ((r = parse_err(line + 3, len - 3, &code)) != 0)
				return r;
			*ret_code = code;
			return map_error(code);
		}
		if (len >= 2 && line[0] == 'D' && line[1] == ' ' && pin != NULL) {
			r = take_data(pin, line + 2, len - 2);
			cs_wipe(line, len);
			if (r != 0)
				return r;
			continue;
		}
		/* INQUIRE (we enable nothing that asks), END, D unasked, or noise. */
		return CS_ERR_PINENTRY;
	}
	return CS_ERR_PINENTRY;
}

static int
command(struct session *s, const char *line, struct cs_secret *pin, unsigned *ret_code)
{
	unsigned code = 0;

	if (ret_code == NULL)
		ret_code = &code;
	*ret_code = 0;
	if (assuan_write_line(s->ctx, line) != 0)
		return CS_ERR_IO;
	return read_reply(s, pin, ret_code);
}

/* A setting an old or different pinentry may not know: that is no failure. */
static int
command_optional(struct session *s, const char *line)
{
	unsigned code;
	int r = command(s, line, NULL, &code);

	if (r != 0 && r != CS_ERR_IO &&
	    (gpg_err_code(code) == GPG_ERR_UNKNOWN_OPTION ||
	     gpg_err_code(code) == GPG_ERR_ASS_UNKNOWN_CMD))
		return 0;
	return r == CS_ERR_IO ? r : (r != 0 ? CS_ERR_PINENTRY : 0);
}

/* A setting the user must see: any refusal fails the dialog. */
static int
command_required(struct session *s, const char *line)
{
	int r = command(s, line, NULL, NULL);

	return r == CS_ERR_IO ? r : (r != 0 ? CS_ERR_PINENTRY : 0);
}

static int
send_option(struct session *s, const char *name, const char *value)
{
	char line[CS_PE_LINE_MAX + 1];

	if (value == NULL || value[0] == '\0')
		return 0;
	/* The value was checked for control characters (cs_pe_hints_check). */
	snprintf(line, sizeof(line), "OPTION %s=%s", name, value);
	return command_optional(s, line);
}

/* The OPTIONs gpg-agent sends, from the same hints the environment came from. */
static int
send_options(struct session *s, const struct cs_display_hints *h)
{
	int r;

	/* Keyboard grab keeps other X clients from reading the PIN as it is typed. */
	if ((r = command_optional(s, "OPTION grab")) != 0 || h == NULL)
		return r;
	if ((r = send_option(s, "ttyname", h->ttyname)) != 0 ||
	    (r = send_option(s, "ttytype", h->term)) != 0 ||
	    (r = send_option(s, "lc-ctype", h->lc_ctype)) != 0 ||
	    (r = send_option(s, "lc-messages", h->lc_messages)) != 0 ||
	    (r = send_option(s, "display", h->display)) != 0)
		return r;
	return 0;
}

/*
 * Starts the pinentry and connects. The start deadline is armed; on failure
 * the caller still calls session_end(). Returns 0, CS_ERR_IO (it never
 * greeted), or the errors of cs_pe_child_start().
 */
static int
session_start(struct session *s, const struct cs_pin_request *req)
{
	int r;

	if ((r = cs_pe_child_start(&s->child, req->pinentry_program, req->hints)) != 0)
		return r;
	s->started = 1;
	cs_pe_child_arm(&s->child, CS_PINENTRY_START_SECONDS);
	if (assuan_new_ext(&s->ctx, GPG_ERR_SOURCE_DEFAULT, &wiping_hooks, no_log, NULL) != 0) {
		s->ctx = NULL;
		return CS_ERR_NOMEM;
	}
	assuan_set_flag(s->ctx, ASSUAN_NO_LOGGING, 1);
	/* libassuan owns the descriptor from here on, also when this fails. */
	r = assuan_socket_connect_fd(s->ctx, s->child.fd, 0) != 0 ? CS_ERR_IO : 0;
	s->child.fd = -1;
	if (r == 0)
		r = send_options(s, req->hints);
	return r;
}

/* Says BYE, closes, and waits for the pinentry to be gone. */
static void
session_end(struct session *s)
{
	if (s->ctx != NULL)
		assuan_release(s->ctx);
	s->ctx = NULL;
	if (s->started)
		cs_pe_child_finish(&s->child);
	s->started = 0;
}

/*
 * What a failure means for the caller. A broken connection after our
 * deadline fired is a timeout if the user had the dialog in front of them,
 * and a broken pinentry if it never got that far.
 */
static int
outcome(struct session *s, int r, int in_dialog)
{
	if (r != CS_ERR_IO)
		return r;
	if (s->started && cs_pe_child_fired(&s->child))
		return in_dialog ? CS_ERR_TIMEOUT : CS_ERR_PINENTRY;
	return CS_ERR_PINENTRY;
}

static int
check_request(const struct cs_pin_request *req)
{
	if (req == NULL || req->pinentry_program == NULL || req->pinentry_program[0] != '/')
		return CS_ERR_INVALID_ARG;
	return cs_pe_hints_check(req->hints);
}

/* The PIN state as sentences, or "" (buf holds at least 128 bytes). */
static const char *
state_text(const struct cs_pin_request *req, char *buf, size_t size)
{
	const char *tries = "";

	if (req->pin_state & CS_PIN_STATE_FINAL_TRY)
		tries = "This is the last try before the card locks.";
	else if (req->pin_state & CS_PIN_STATE_COUNT_LOW)
		tries = "Few tries left.";
	snprintf(buf, size, "%s%s%s", req->previous_wrong ? "Wrong PIN." : "",
	         req->previous_wrong && tries[0] != '\0' ? " " : "", tries);
	return buf;
}

static int
sanitized(const char *s, enum cs_pe_text_kind kind, char **ret)
{
	return cs_pe_sanitize(s, s != NULL ? strlen(s) : 0, kind, ret);
}

/*
 * The dialog's description, in keyd's words around the sanitized strings.
 * Returns 0 and a new string in *ret_desc (free()), or CS_ERR_NOMEM.
 */
static int
describe(const struct cs_pin_request *req, enum dialog_kind kind, char **ret_desc)
{
	char *op = NULL, *label = NULL, *summary = NULL;
	char state[128];
	const char *ask, *st = "";
	int r;

	if ((r = sanitized(req->operation, CS_PE_TEXT_LABEL, &op)) != 0 ||
	    (r = sanitized(req->token_label, CS_PE_TEXT_LABEL, &label)) != 0 ||
	    (r = sanitized(req->summary, kind == DIALOG_PASSWORD ? CS_PE_TEXT_LABEL
	                                                           : CS_PE_TEXT_SUMMARY,
	                   &summary)) != 0)
		goto out;
	if (kind == DIALOG_PASSWORD) {
		/* The summary is the file's name here. */
		if (asprintf(ret_desc, "Password of the certificate file \"%s\" to import onto "
		             "token \"%s\".", summary[0] != '\0' ? summary : "(no name)",
		             label[0] != '\0' ? label : "(no label)") < 0) {
			*ret_desc = NULL;
			r = CS_ERR_NOMEM;
		}
		goto out;
	}
	if (kind == DIALOG_PIN) {
		ask = "Enter the PIN to allow it.";
	} else if (kind == DIALOG_KEYPAD) {
		ask = "Enter the PIN on the reader's keypad.";
		/* A message has no error line: the state goes into the text. */
		st = state_text(req, state, sizeof(state));
	} else {
		ask = "Do you allow it?";
	}
	if (asprintf(ret_desc, "%s using the token \"%s\".\n%s%s%s%s%s", op[0] != '\0' ? op : "Use",
	             label[0] != '\0' ? label : "(no label)", ask, st[0] != '\0' ? "\n" : "", st,
	             summary[0] != '\0' ? "\n\n" : "", summary) < 0) {
		*ret_desc = NULL;
		r = CS_ERR_NOMEM;
	}
out:
	free(op);
	free(label);
	free(summary);
	return r;
}

static int
send_text(struct session *s, const char *cmd, const char *text, int required)
{
	char line[CS_PE_LINE_MAX + 1];
	int r;

	if ((r = cs_pe_command_line(line, sizeof(line), cmd, text)) != 0)
		return CS_ERR_INTERNAL;
	return required ? command_required(s, line) : command_optional(s, line);
}

/* Everything the dialog shows, before the command that shows it. */
static int
send_dialog(struct session *s, const struct cs_pin_request *req, enum dialog_kind kind,
            const char *desc)
{
	char line[CS_PE_LINE_MAX + 1], button[128], state[128], *op = NULL;
	unsigned timeout = req->timeout_seconds;
	int r;

	if (timeout > TIMEOUT_MAX_SECONDS)
		timeout = TIMEOUT_MAX_SECONDS;
	if (kind != DIALOG_KEYPAD && timeout > 0) {
		snprintf(line, sizeof(line), "SETTIMEOUT %u", timeout);
		if ((r = command_optional(s, line)) != 0)
			goto out;
	}
	if ((r = send_text(s, "SETTITLE", "Cardseal", 0)) != 0 ||
	    (r = send_text(s, "SETDESC", desc, 1)) != 0)
		goto out;
	if (kind == DIALOG_PIN) {
		state_text(req, state, sizeof(state));
		if ((r = send_text(s, "SETPROMPT", "PIN:", 1)) != 0 ||
		    (r = send_text(s, "SETOK", "_OK", 0)) != 0 ||
		    (r = send_text(s, "SETCANCEL", "_Cancel", 0)) != 0 ||
		    (state[0] != '\0' && (r = send_text(s, "SETERROR", state, 1)) != 0))
			goto out;
	} else if (kind == DIALOG_PASSWORD) {
		state[0] = '\0';
		if (req->previous_wrong)
			snprintf(state, sizeof(state), "Wrong password. %d %s left.", req->tries_left,
			         req->tries_left == 1 ? "try" : "tries");
		if ((r = send_text(s, "SETPROMPT", "Password:", 1)) != 0 ||
		    (r = send_text(s, "SETOK", "_OK", 0)) != 0 ||
		    (r = send_text(s, "SETCANCEL", "_Cancel", 0)) != 0 ||
		    (state[0] != '\0' && (r = send_text(s, "SETERROR", state, 1)) != 0))
			goto out;
	} else if (kind == DIALOG_CONFIRM) {
		/* The button says what it allows: "Sign", not "OK". */
		if ((r = sanitized(req->operation, CS_PE_TEXT_LABEL, &op)) != 0)
			goto out;
		cs_pe_button_text(button, sizeof(button), op[0] != '\0' ? op : "OK");
		if ((r = send_text(s, "SETOK", button, 0)) != 0 ||
		    (r = send_text(s, "SETCANCEL", "_Cancel", 0)) != 0)
			goto out;
	}
out:
	free(op);
	return r;
}

/*
 * One dialog from start to end: GETPIN with pin, or CONFIRM. Holds the
 * dialog slot throughout, and until the pinentry has exited.
 */
static int
run_dialog(const struct cs_pin_request *req, enum dialog_kind kind, struct cs_secret *pin)
{
	struct sigpipe_guard guard;
	struct session s;
	char *desc = NULL;
	int r, in_dialog = 0;

	memset(&s, 0, sizeof(s));
	if ((r = describe(req, kind, &desc)) != 0)
		return r;
	if ((r = dialog_acquire(req->cancel)) != 0) {
		free(desc);
		return r;
	}
	sigpipe_block(&guard);
	if ((r = session_start(&s, req)) == 0)
		cs_pe_child_set_cancel(&s.child, req->cancel);
	if (r != 0 || (r = send_dialog(&s, req, kind, desc)) != 0)
		goto out;
	/* From here the user has the dialog; a pinentry deaf to SETTIMEOUT still ends. */
	if (req->timeout_seconds > 0)
		cs_pe_child_arm(&s.child, req->timeout_seconds > TIMEOUT_MAX_SECONDS
		                              ? TIMEOUT_MAX_SECONDS + CS_PINENTRY_GRACE_SECONDS
		                              : req->timeout_seconds + CS_PINENTRY_GRACE_SECONDS);
	else
		cs_pe_child_disarm(&s.child);
	in_dialog = 1;
	if (kind == DIALOG_PIN || kind == DIALOG_PASSWORD) {
		assuan_begin_confidential(s.ctx);
		r = command(&s, "GETPIN", pin, NULL);
		assuan_end_confidential(s.ctx);
	} else {
		r = command(&s, "CONFIRM", NULL, NULL);
	}
out:
	r = outcome(&s, r, in_dialog);
	/* Whatever the pinentry answered, a cancelled dialog counts as cancelled. */
	if (s.started && cs_pe_child_cancelled(&s.child))
		r = CS_ERR_CANCELLED;
	session_end(&s);
	sigpipe_restore(&guard);
	dialog_release();
	free(desc);
	return r;
}

int
cs_pinentry_get_pin(const struct cs_pin_request *req, struct cs_secret **ret_pin)
{
	struct cs_secret *pin;
	int r;

	if ((r = check_request(req)) != 0)
		return r;
	if (req->keypad || ret_pin == NULL)
		return CS_ERR_INVALID_ARG;
	if (req->pin_state & CS_PIN_STATE_LOCKED)
		return CS_ERR_PIN_LOCKED;
	if ((pin = cs_secret_new(CS_PINENTRY_PIN_MAX)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = run_dialog(req, DIALOG_PIN, pin)) == 0) {
		*ret_pin = pin;
		pin = NULL;
	}
	cs_secret_free(pin);
	return r;
}

int
cs_pinentry_get_password(const struct cs_pin_request *req, struct cs_secret **ret_password)
{
	struct cs_secret *password;
	int r;

	if ((r = check_request(req)) != 0)
		return r;
	if (ret_password == NULL)
		return CS_ERR_INVALID_ARG;
	if ((password = cs_secret_new(CS_PINENTRY_PIN_MAX)) == NULL)
		return CS_ERR_NOMEM;
	if ((r = run_dialog(req, DIALOG_PASSWORD, password)) == 0) {
		*ret_password = password;
		password = NULL;
	}
	cs_secret_free(password);
	return r;
}

int
cs_pinentry_confirm(const struct cs_pin_request *req)
{
	int r;

	if ((r = check_request(req)) != 0)
		return r;
	return run_dialog(req, DIALOG_CONFIRM, NULL);
}

struct cs_pinentry_message {
	struct session s;
	pthread_t thread;
	int result; /* of MESSAGE; written by the thread before done is set */
	atomic_int done;
};

/* MESSAGE blocks until the user dismisses it or we end the pinentry. */
static void *
message_main(void *arg)
{
	struct cs_pinentry_message *m = arg;

	m->result = command(&m->s, "MESSAGE", NULL, NULL);
	atomic_store(&m->done, 1);
	return NULL;
}

int
cs_pinentry_message_open(const struct cs_pin_request *req, struct cs_pinentry_message **ret_msg)
{
	struct sigpipe_guard guard;
	struct cs_pinentry_message *m = NULL;
	char *desc = NULL;
	int r;

	if ((r = check_request(req)) != 0)
		return r;
	if (ret_msg == NULL)
		return CS_ERR_INVALID_ARG;
	if (req->pin_state & CS_PIN_STATE_LOCKED)
		return CS_ERR_PIN_LOCKED;
	if ((r = describe(req, DIALOG_KEYPAD, &desc)) != 0)
		return r;
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		free(desc);
		return CS_ERR_NOMEM;
	}
	atomic_init(&m->done, 0);
	if ((r = dialog_acquire(req->cancel)) != 0) {
		free(desc);
		free(m);
		return r;
	}
	sigpipe_block(&guard);
	if ((r = session_start(&m->s, req)) != 0 ||
	    (r = send_dialog(&m->s, req, DIALOG_KEYPAD, desc)) != 0)
		goto out;
	/* The message lasts as long as the login on the reader does. */
	cs_pe_child_disarm(&m->s.child);
	r = cs_pe_thread_start(&m->thread, message_main, m);
out:
	if (r != 0) {
		r = outcome(&m->s, r, 0);
		session_end(&m->s);
		dialog_release();
		free(m);
	} else {
		*ret_msg = m;
	}
	sigpipe_restore(&guard);
	free(desc);
	return r;
}

int
cs_pinentry_message_close(struct cs_pinentry_message *m)
{
	struct sigpipe_guard guard;
	int r, ended_before;

	if (m == NULL)
		return 0;
	sigpipe_block(&guard);
	ended_before = atomic_load(&m->done);
	/* pinentry has no command to take a dialog down: it is ended instead. */
	if (!ended_before)
		cs_pe_child_arm(&m->s.child, 0);
	pthread_join(m->thread, NULL);
	if (m->result == 0 || m->result == CS_ERR_CANCELLED)
		r = 0;
	else if (m->result == CS_ERR_IO && !ended_before)
		r = 0;
	else
		r = CS_ERR_PINENTRY;
	session_end(&m->s);
	sigpipe_restore(&guard);
	dialog_release();
	free(m);
	return r;
}
