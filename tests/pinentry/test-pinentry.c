/*
 * Tests of the pinentry driver against the scripted fake pinentry.
 *
 * Usage: test-pinentry FAKE_PINENTRY GROUP, GROUP one of basic, confirm,
 * keypad, env, serial, hang, hang-noterm, start. The groups are separate
 * meson tests so the slow ones (a hanging pinentry is waited out) run beside
 * the others.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cs_error.h"
#include "cs_secret.h"
#include "pinentry.h"
#include "tap.h"

static char *fake_path;

/* A directory with the fake under the name "pinentry" and its settings beside it. */
struct fake {
	char dir[64];
	char program[128];
	char env[160];
	char log[160];
	char script[160];
};

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL)
		return -1;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* Replaces the fake's settings (its log stays). */
static int
fake_settings(struct fake *f, const char *settings)
{
	char text[2048];

	snprintf(text, sizeof(text), "FAKE_PINENTRY_LOG=%s\n%s", f->log, settings);
	return write_file(f->env, text);
}

/* settings: NAME=VALUE lines for the fake, besides its log. */
static int
fake_setup(struct fake *f, const char *settings)
{
	snprintf(f->dir, sizeof(f->dir), "/tmp/cs-pinentry-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->program, sizeof(f->program), "%s/pinentry", f->dir);
	snprintf(f->env, sizeof(f->env), "%s/pinentry.env", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log", f->dir);
	snprintf(f->script, sizeof(f->script), "%s/script", f->dir);
	if (symlink(fake_path, f->program) != 0)
		return -1;
	return fake_settings(f, settings);
}

/* The log so far ("" if the fake never ran); the caller frees it. */
static char *
fake_log(const struct fake *f)
{
	FILE *fp = fopen(f->log, "r");
	char *text = calloc(1, 1 << 16);
	size_t n = 0;

	if (text == NULL)
		abort();
	if (fp != NULL) {
		n = fread(text, 1, (1 << 16) - 1, fp);
		fclose(fp);
	}
	text[n] = '\0';
	return text;
}

static void
fake_cleanup(struct fake *f)
{
	char state[200];

	snprintf(state, sizeof(state), "%s.state", f->script);
	unlink(f->program);
	unlink(f->env);
	unlink(f->log);
	unlink(f->script);
	unlink(state);
	rmdir(f->dir);
}

static int
log_has(const struct fake *f, const char *needle)
{
	char *log = fake_log(f);
	int found = strstr(log, needle) != NULL;

	free(log);
	return found;
}

static void
req_init(struct cs_pin_request *req, const char *program)
{
	memset(req, 0, sizeof(*req));
	req->pinentry_program = program;
	req->token_label = "Alice Card";
	req->operation = "Sign";
	req->summary = "From: alice@example.org\nSubject: Quarterly report";
	req->timeout_seconds = 30;
}

static double
now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Runs one GETPIN against a fake doing action; returns the result, *ret_pin on success. */
static int
get_pin_with(const char *action, struct cs_pin_request *tweak, struct cs_secret **ret_pin,
             struct fake *f)
{
	struct cs_pin_request req;
	char settings[512];

	snprintf(settings, sizeof(settings), "FAKE_PINENTRY_ACTION=%s\n", action);
	if (fake_setup(f, settings) != 0)
		return 1000;
	if (tweak != NULL) {
		req = *tweak;
		req.pinentry_program = f->program;
	} else {
		req_init(&req, f->program);
	}
	return cs_pinentry_get_pin(&req, ret_pin);
}

static void
check_pin(const char *action, const char *want, const char *what)
{
	struct cs_secret *pin = NULL;
	struct fake f = {.dir = ""};
	int r = get_pin_with(action, NULL, &pin, &f);

	CHECK_EQ_INT(r, 0, "%s: PIN returned", what);
	CHECK(pin != NULL && cs_secret_equal(pin, want, strlen(want)), "%s: PIN exactly as typed",
	      what);
	CHECK(!log_has(&f, want), "%s: the PIN is not in the pinentry's log", what);
	cs_secret_free(pin);
	fake_cleanup(&f);
}

static void
check_fails(const char *action, int want, const char *what)
{
	struct cs_secret *pin = NULL;
	struct fake f = {.dir = ""};
	int r = get_pin_with(action, NULL, &pin, &f);

	CHECK_EQ_INT(r, want, "%s", what);
	CHECK(pin == NULL, "%s: no PIN handed out", what);
	CHECK(log_has(&f, "END"), "%s: the pinentry ended", what);
	fake_cleanup(&f);
}

static void
test_pins(void)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	int r;

	check_pin("pin:123456", "123456", "simple PIN");
	check_pin("pin:1%2 3%25 äöü €✓", "1%2 3%25 äöü €✓", "PIN with %, spaces and UTF-8");
	check_pin("pin:+a+%0A", "+a+%0A", "PIN with + and a literal %0A");

	r = get_pin_with("rawd:ab%0Ac%25", NULL, &pin, &f);
	CHECK(r == 0 && pin != NULL && cs_secret_equal(pin, "ab\nc%", 5),
	      "escaped D line decoded into the secret");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	r = get_pin_with("pin:", NULL, &pin, &f);
	CHECK(r == 0 && pin != NULL && cs_secret_len(pin) == 0, "empty PIN (OK without data)");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	r = get_pin_with("longpin:256", NULL, &pin, &f);
	CHECK(r == 0 && pin != NULL && cs_secret_len(pin) == 256,
	      "PIN of CS_PINENTRY_PIN_MAX bytes");
	CHECK(pin != NULL && cs_secret_is_locked(pin), "PIN lives in a locked secret");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	check_fails("longpin:257", CS_ERR_TOO_LARGE, "PIN over the cap refused");
	check_fails("rawd:12%4", CS_ERR_PINENTRY, "truncated escape in the D line is garbage");
	check_fails("rawd:12%zz", CS_ERR_PINENTRY, "bad hex in the D line is garbage");
	check_fails("rawd:12%0034", CS_ERR_PINENTRY, "NUL in the PIN is garbage");

	/* The GETPIN ran in the dialog: SETDESC and the rest came first. */
	r = get_pin_with("pin:42", NULL, &pin, &f);
	CHECK_EQ_INT(r, 0, "dialog for the log checks");
	CHECK(log_has(&f, "CMD SETTITLE Cardseal"), "title is Cardseal");
	CHECK(log_has(&f, "CMD SETDESC Sign using the token \"Alice Card\".%0AEnter the PIN to "
	                  "allow it.%0A%0AFrom: alice@example.org%0ASubject: Quarterly report\n"),
	      "description: operation, label and summary, newlines escaped");
	CHECK(log_has(&f, "CMD SETPROMPT PIN:"), "prompt set");
	CHECK(log_has(&f, "CMD SETTIMEOUT 30"), "timeout passed on");
	CHECK(!log_has(&f, "SETERROR"), "no error line for a first try");
	CHECK(!log_has(&f, "SETKEYINFO") && !log_has(&f, "allow-external-password-cache"),
	      "nothing that would let pinentry cache the PIN");
	CHECK(log_has(&f, "CMD GETPIN\n") && log_has(&f, "CMD BYE"), "GETPIN, then BYE");
	CHECK(!log_has(&f, "TOOLONG"), "every line within the Assuan limit");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	/* No timeout: no SETTIMEOUT. */
	req_init(&req, f.program);
	req.timeout_seconds = 0;
	r = get_pin_with("pin:42", &req, &pin, &f);
	CHECK(r == 0 && !log_has(&f, "SETTIMEOUT"), "timeout 0 sends no SETTIMEOUT");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);
}

static void
test_pin_state(void)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	int r;

	req_init(&req, f.program);
	req.previous_wrong = 1;
	r = get_pin_with("pin:1", &req, &pin, &f);
	CHECK(r == 0 && log_has(&f, "CMD SETERROR Wrong PIN.\n"),
	      "previous wrong: SETERROR Wrong PIN");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	req_init(&req, f.program);
	req.pin_state = CS_PIN_STATE_COUNT_LOW;
	r = get_pin_with("pin:1", &req, &pin, &f);
	CHECK(r == 0 && log_has(&f, "CMD SETERROR Few tries left.\n"), "count low: Few tries left");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	req_init(&req, f.program);
	req.pin_state = CS_PIN_STATE_COUNT_LOW | CS_PIN_STATE_FINAL_TRY;
	req.previous_wrong = 1;
	r = get_pin_with("pin:1", &req, &pin, &f);
	CHECK(r == 0 && log_has(&f, "CMD SETERROR Wrong PIN. This is the last try before the card "
	                            "locks.\n"),
	      "final try after a wrong PIN: both said, final try wins over count low");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	req_init(&req, f.program);
	req.pin_state = CS_PIN_STATE_LOCKED;
	r = get_pin_with("pin:1", &req, &pin, &f);
	CHECK_EQ_INT(r, CS_ERR_PIN_LOCKED, "locked: CS_ERR_PIN_LOCKED");
	CHECK(pin == NULL && !log_has(&f, "START"), "locked: no dialog was started");
	fake_cleanup(&f);
}

static void
test_failures(void)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	char settings[256];
	int r;

	check_fails("cancel", CS_ERR_CANCELLED, "cancel is CS_ERR_CANCELLED");
	check_fails("timeout", CS_ERR_TIMEOUT, "pinentry's own timeout is CS_ERR_TIMEOUT");
	check_fails("garbage", CS_ERR_PINENTRY, "garbage reply is CS_ERR_PINENTRY");
	check_fails("errtext", CS_ERR_PINENTRY, "ERR without a number is CS_ERR_PINENTRY");
	check_fails("err:83886246", CS_ERR_PINENTRY, "ERR with another code is CS_ERR_PINENTRY");
	check_fails("crash", CS_ERR_PINENTRY, "crash mid-dialog is CS_ERR_PINENTRY");

	/* Cancel is reported, never retried: one dialog only. */
	r = get_pin_with("cancel", NULL, &pin, &f);
	{
		char *log = fake_log(&f), *p = log;
		int dialogs = 0;

		while ((p = strstr(p, "DIALOG")) != NULL) {
			dialogs++;
			p++;
		}
		CHECK(r == CS_ERR_CANCELLED && dialogs == 1, "no retry after cancel");
		free(log);
	}
	fake_cleanup(&f);

	fake_setup(&f, "FAKE_PINENTRY_ACTION=pin:1\n");
	req_init(&req, f.program);
	snprintf(settings, sizeof(settings), "%s/does-not-exist", f.dir);
	req.pinentry_program = settings;
	r = cs_pinentry_get_pin(&req, &pin);
	CHECK_EQ_INT(r, CS_ERR_PINENTRY, "missing program is CS_ERR_PINENTRY");
	req.pinentry_program = "pinentry";
	CHECK_EQ_INT(cs_pinentry_get_pin(&req, &pin), CS_ERR_INVALID_ARG, "relative path refused");
	req.pinentry_program = NULL;
	CHECK_EQ_INT(cs_pinentry_get_pin(&req, &pin), CS_ERR_INVALID_ARG, "no program refused");
	req_init(&req, f.program);
	req.keypad = 1;
	CHECK_EQ_INT(cs_pinentry_get_pin(&req, &pin), CS_ERR_INVALID_ARG,
	             "keypad request never gets a PIN field");
	CHECK(pin == NULL && !log_has(&f, "START"), "refused requests start no pinentry");
	fake_cleanup(&f);

	/* A pinentry that knows none of our OPTIONs still works. */
	fake_setup(&f, "FAKE_PINENTRY_ACTION=pin:77\nFAKE_PINENTRY_REJECT_OPTIONS=1\n");
	req_init(&req, f.program);
	r = cs_pinentry_get_pin(&req, &pin);
	CHECK(r == 0 && pin != NULL && cs_secret_equal(pin, "77", 2),
	      "unknown OPTIONs are tolerated");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);
}

static void
test_text(void)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	char *summary, *log;
	size_t i;
	int r;

	req_init(&req, f.program);
	req.token_label = "Evil\nEnter the PIN to allow it.\x1b[2J";
	req.summary = "Attachment: invoice\u202Egpj.exe\r\nFrom: a\x1b]0;x\a b\n100% sure\\";
	r = get_pin_with("pin:1", &req, &pin, &f);
	CHECK_EQ_INT(r, 0, "hostile label and summary: dialog shown");
	CHECK(
	    log_has(&f,
	            "CMD SETDESC Sign using the token \"Evil Enter the PIN to allow it.[2J\".%0A"),
	    "label: one line, escape removed");
	CHECK(log_has(&f, "%0A%0AAttachment: invoicegpj.exe%0AFrom: a]0;x b%0A100%25 sure%5C\n"),
	      "summary: RLO, CR, ESC, BEL removed; %% and backslash escaped");
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	/* A summary far beyond one Assuan line is cut to fit, never split. */
	summary = malloc(5000);
	for (i = 0; i < 4999; i++)
		summary[i] = i % 50 == 49 ? '\n' : "%\xc3\xa9"[i % 3];
	summary[4999] = '\0';
	req_init(&req, f.program);
	req.summary = summary;
	r = get_pin_with("pin:1", &req, &pin, &f);
	log = fake_log(&f);
	CHECK(r == 0 && strstr(log, "CMD SETDESC ") != NULL && strstr(log, "TOOLONG") == NULL,
	      "long summary: SETDESC within the line limit");
	CHECK(strstr(log, "...\n") != NULL, "long summary: cut marked with ...");
	free(log);
	free(summary);
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);
}

/* Nothing of ours reaches stderr, on success or failure. */
static void
test_silent(void)
{
	struct cs_secret *pin = NULL;
	char path[] = "/tmp/cs-pinentry-stderr-XXXXXX";
	struct stat st;
	struct fake f1 = {.dir = ""}, f2 = {.dir = ""};
	int fd = mkstemp(path), saved = dup(2), r1, r2;

	fflush(stderr);
	dup2(fd, 2);
	r1 = get_pin_with("pin:secret-pin", NULL, &pin, &f1);
	cs_secret_free(pin);
	pin = NULL;
	r2 = get_pin_with("garbage", NULL, &pin, &f2);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	CHECK(r1 == 0 && r2 == CS_ERR_PINENTRY && fstat(fd, &st) == 0 && st.st_size == 0,
	      "nothing written to stderr");
	close(fd);
	unlink(path);
	fake_cleanup(&f1);
	fake_cleanup(&f2);
}

static void
group_basic(void)
{
	test_pins();
	test_pin_state();
	test_failures();
	test_text();
	test_silent();
}

static int
confirm_with(const char *action, struct fake *f)
{
	struct cs_pin_request req;
	char settings[256];

	snprintf(settings, sizeof(settings), "FAKE_PINENTRY_ACTION=%s\n", action);
	if (fake_setup(f, settings) != 0)
		return 1000;
	req_init(&req, f->program);
	req.operation = "Sign_now";
	return cs_pinentry_confirm(&req);
}

static void
group_confirm(void)
{
	struct fake f = {.dir = ""};

	CHECK_EQ_INT(confirm_with("confirm", &f), 0, "confirm: yes");
	CHECK(log_has(&f, "CMD CONFIRM\n"), "confirm: CONFIRM sent");
	CHECK(log_has(&f, "CMD SETDESC Sign_now using the token \"Alice Card\".%0ADo you allow "
	                  "it?%0A%0AFrom: alice@example.org%0ASubject: Quarterly report\n"),
	      "confirm: the summary is shown");
	CHECK(log_has(&f, "CMD SETOK Sign__now\n"),
	      "confirm: button names the operation, _ doubled");
	CHECK(!log_has(&f, "GETPIN"), "confirm: no PIN asked");
	fake_cleanup(&f);
	CHECK_EQ_INT(confirm_with("deny", &f), CS_ERR_CANCELLED, "confirm: no is CS_ERR_CANCELLED");
	fake_cleanup(&f);
	CHECK_EQ_INT(confirm_with("cancel", &f), CS_ERR_CANCELLED, "confirm: cancel");
	fake_cleanup(&f);
	CHECK_EQ_INT(confirm_with("timeout", &f), CS_ERR_TIMEOUT, "confirm: timeout");
	fake_cleanup(&f);
	CHECK_EQ_INT(confirm_with("garbage", &f), CS_ERR_PINENTRY, "confirm: garbage");
	fake_cleanup(&f);
	CHECK_EQ_INT(confirm_with("crash", &f), CS_ERR_PINENTRY, "confirm: crash");
	fake_cleanup(&f);
}

static void
group_keypad(void)
{
	struct cs_pinentry_message *msg = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	double t0, t1;
	int r;

	fake_setup(&f, "FAKE_PINENTRY_ACTION=hang\n");
	req_init(&req, f.program);
	req.keypad = 1;
	req.pin_state = CS_PIN_STATE_COUNT_LOW;
	req.previous_wrong = 1;
	t0 = now_seconds();
	r = cs_pinentry_message_open(&req, &msg);
	t1 = now_seconds();
	CHECK(r == 0 && msg != NULL, "keypad: message opened");
	CHECK(t1 - t0 < 2.0, "keypad: open returns while the message is shown");
	/* The fake logs MESSAGE when it gets it; the open may have returned just before. */
	for (int i = 0; i < 200 && !log_has(&f, "DIALOG MESSAGE"); i++)
		usleep(10000);
	CHECK(log_has(&f, "CMD MESSAGE\n") && !log_has(&f, "GETPIN"),
	      "keypad: MESSAGE, no PIN field");
	CHECK(log_has(&f, "CMD SETDESC Sign using the token \"Alice Card\".%0AEnter the PIN on the "
	                  "reader's keypad.%0AWrong PIN. Few tries left.%0A%0AFrom:"),
	      "keypad: description says keypad and the PIN state");
	t0 = now_seconds();
	r = cs_pinentry_message_close(msg);
	t1 = now_seconds();
	CHECK_EQ_INT(r, 0, "keypad: message closed");
	CHECK(log_has(&f, "END term") && t1 - t0 < 2.0, "keypad: close ended the pinentry at once");
	fake_cleanup(&f);

	/* The user dismissed it first: closing is still fine, and gentle. */
	fake_setup(&f, "FAKE_PINENTRY_ACTION=dismiss\n");
	req_init(&req, f.program);
	req.keypad = 1;
	r = cs_pinentry_message_open(&req, &msg);
	for (int i = 0; i < 200 && !log_has(&f, "DIALOG MESSAGE"); i++)
		usleep(10000);
	CHECK(r == 0 && cs_pinentry_message_close(msg) == 0, "keypad: dismissed message closes");
	CHECK(log_has(&f, "END"), "keypad: a dismissed message's pinentry has ended");
	fake_cleanup(&f);

	fake_setup(&f, "FAKE_PINENTRY_ACTION=hang\n");
	req_init(&req, f.program);
	req.pin_state = CS_PIN_STATE_LOCKED;
	msg = NULL;
	CHECK_EQ_INT(cs_pinentry_message_open(&req, &msg), CS_ERR_PIN_LOCKED,
	             "keypad: locked token, no message");
	CHECK(msg == NULL && !log_has(&f, "START"), "keypad: locked starts nothing");
	CHECK_EQ_INT(cs_pinentry_message_close(NULL), 0, "keypad: close(NULL) is fine");
	fake_cleanup(&f);

	/* The slot is held while the message is up, and given back by close. */
	fake_setup(&f, "FAKE_PINENTRY_ACTION=hang\n");
	req_init(&req, f.program);
	r = cs_pinentry_message_open(&req, &msg);
	CHECK(r == 0 && cs_pinentry_message_close(msg) == 0, "keypad: open and close again");
	fake_cleanup(&f);
	r = get_pin_with("pin:5", NULL, NULL, &f);
	CHECK_EQ_INT(r, CS_ERR_INVALID_ARG, "get_pin without ret_pin refused");
	fake_cleanup(&f);
}

static void
group_env(void)
{
	static const char *const want[] = {
	    "ENV PATH=/usr/bin:/bin\n",
	    "ENV DISPLAY=:7\n",
	    "ENV WAYLAND_DISPLAY=wayland-9\n",
	    "ENV XDG_RUNTIME_DIR=/run/user/4242\n",
	    "ENV XAUTHORITY=/tmp/xauth-test\n",
	    "ENV DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/4242/bus\n",
	    "ENV TERM=xterm-test\n",
	    "ENV GPG_TTY=/dev/pts/77\n",
	    "ENV LC_CTYPE=C.UTF-8\n",
	    "ENV LC_MESSAGES=C\n",
	};
	struct cs_display_hints hints = {
	    .display = ":7",
	    .wayland_display = "wayland-9",
	    .xdg_runtime_dir = "/run/user/4242",
	    .xauthority = "/tmp/xauth-test",
	    .dbus_session_bus_address = "unix:path=/run/user/4242/bus",
	    .term = "xterm-test",
	    .ttyname = "/dev/pts/77",
	    .lc_ctype = "C.UTF-8",
	    .lc_messages = "C",
	};
	struct cs_display_hints bad;
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	char *log, *p;
	size_t i, found = 0, env_lines = 0;
	int r;

	/* What keyd's own environment holds must not reach pinentry. */
	setenv("CARDSEAL_CANARY", "leaked", 1);
	setenv("HOME", "/root/canary", 1);
	setenv("LD_PRELOAD", "", 1);
	fake_setup(&f, "FAKE_PINENTRY_ACTION=pin:9\n");
	req_init(&req, f.program);
	req.hints = &hints;
	r = cs_pinentry_get_pin(&req, &pin);
	CHECK_EQ_INT(r, 0, "env: dialog with every hint");
	log = fake_log(&f);
	for (p = log; (p = strstr(p, " ENV ")) != NULL; p++)
		env_lines++;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int has = strstr(log, want[i]) != NULL;

		found += has;
		if (!has)
			printf("# missing %s", want[i]);
	}
	CHECK(found == sizeof(want) / sizeof(want[0]) && env_lines == found,
	      "env: exactly PATH and the hints (%zu of %zu, %zu in all)", found,
	      sizeof(want) / sizeof(want[0]), env_lines);
	CHECK(strstr(log, "CANARY") == NULL && strstr(log, "HOME=") == NULL &&
	          strstr(log, "LD_PRELOAD") == NULL && strstr(log, "_assuan") == NULL,
	      "env: nothing of keyd's own environment");
	CHECK(strstr(log, "CMD OPTION ttyname=/dev/pts/77\n") != NULL &&
	          strstr(log, "CMD OPTION ttytype=xterm-test\n") != NULL &&
	          strstr(log, "CMD OPTION lc-ctype=C.UTF-8\n") != NULL &&
	          strstr(log, "CMD OPTION lc-messages=C\n") != NULL &&
	          strstr(log, "CMD OPTION display=:7\n") != NULL,
	      "env: OPTION ttyname, ttytype, lc-ctype, lc-messages, display");
	free(log);
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	fake_setup(&f, "FAKE_PINENTRY_ACTION=pin:9\n");
	req_init(&req, f.program);
	r = cs_pinentry_get_pin(&req, &pin);
	log = fake_log(&f);
	env_lines = 0;
	for (p = log; (p = strstr(p, " ENV ")) != NULL; p++)
		env_lines++;
	CHECK(r == 0 && env_lines == 1 && strstr(log, "ENV PATH=/usr/bin:/bin\n") != NULL &&
	          strstr(log, "OPTION ttyname") == NULL,
	      "env: no hints, only PATH and no OPTIONs for them");
	free(log);
	cs_secret_free(pin);
	pin = NULL;
	fake_cleanup(&f);

	fake_setup(&f, "FAKE_PINENTRY_ACTION=pin:9\n");
	req_init(&req, f.program);
	req.hints = &bad;
	bad = hints;
	bad.display = ":0\nGETPIN";
	CHECK_EQ_INT(cs_pinentry_get_pin(&req, &pin), CS_ERR_INVALID_ARG,
	             "env: newline in a hint refused (it would be an Assuan command)");
	bad = hints;
	bad.ttyname = "/home/user/file";
	CHECK_EQ_INT(cs_pinentry_get_pin(&req, &pin), CS_ERR_INVALID_ARG,
	             "env: ttyname outside /dev refused");
	bad = hints;
	bad.term = "xterm\x7f";
	CHECK_EQ_INT(cs_pinentry_confirm(&req), CS_ERR_INVALID_ARG, "env: DEL in a hint refused");
	CHECK(pin == NULL && !log_has(&f, "START"), "env: refused hints start nothing");
	fake_cleanup(&f);
	unsetenv("CARDSEAL_CANARY");
}

struct serial_arg {
	const char *program;
	pthread_barrier_t *barrier;
	int result;
	char pin[16];
};

static void *
serial_main(void *arg)
{
	struct serial_arg *a = arg;
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;

	req_init(&req, a->program);
	pthread_barrier_wait(a->barrier);
	a->result = cs_pinentry_get_pin(&req, &pin);
	if (a->result == 0)
		snprintf(a->pin, sizeof(a->pin), "%s", cs_secret_str(pin));
	cs_secret_free(pin);
	return NULL;
}

static void
group_serial(void)
{
	struct serial_arg args[3];
	pthread_barrier_t barrier;
	pthread_t threads[3];
	struct fake f = {.dir = ""};
	char *log, *p, *line;
	int i, open = 0, overlap = 0, starts = 0;

	char text[512];

	fake_setup(&f, "");
	write_file(f.script, "pin:first\npin:second\npin:third\n");
	/* A slow pinentry, so overlapping dialogs could not go unnoticed. */
	snprintf(text, sizeof(text), "FAKE_PINENTRY_SCRIPT=%s\nFAKE_PINENTRY_DELAY_MS=300\n",
	         f.script);
	fake_settings(&f, text);
	pthread_barrier_init(&barrier, NULL, 3);
	for (i = 0; i < 3; i++) {
		args[i].program = f.program;
		args[i].barrier = &barrier;
		pthread_create(&threads[i], NULL, serial_main, &args[i]);
	}
	for (i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);
	pthread_barrier_destroy(&barrier);
	CHECK(args[0].result == 0 && args[1].result == 0 && args[2].result == 0,
	      "serial: three concurrent callers each got a PIN");
	CHECK(strcmp(args[0].pin, args[1].pin) != 0 && strcmp(args[1].pin, args[2].pin) != 0 &&
	          strcmp(args[0].pin, args[2].pin) != 0,
	      "serial: each caller got its own dialog's PIN");
	log = fake_log(&f);
	for (p = log; (line = strtok(p, "\n")) != NULL; p = NULL) {
		if (strstr(line, " START") != NULL) {
			starts++;
			overlap |= open;
			open = 1;
		} else if (strstr(line, " END") != NULL) {
			open = 0;
		}
	}
	CHECK(starts == 3 && !overlap, "serial: each dialog started after the last one ended");
	free(log);
	fake_cleanup(&f);
}

/* A pinentry that ignores SETTIMEOUT is ended by our own deadline. */
static void
hang_case(const char *action, double most)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	double t0, took;
	char settings[128];
	int r;

	snprintf(settings, sizeof(settings), "FAKE_PINENTRY_ACTION=%s\n", action);
	fake_setup(&f, settings);
	req_init(&req, f.program);
	req.timeout_seconds = 1;
	t0 = now_seconds();
	r = cs_pinentry_get_pin(&req, &pin);
	took = now_seconds() - t0;
	CHECK_EQ_INT(r, CS_ERR_TIMEOUT, "%s: CS_ERR_TIMEOUT", action);
	CHECK(took >= 1.0 + CS_PINENTRY_GRACE_SECONDS - 0.5 && took < most,
	      "%s: ended by the driver after timeout + grace (%.1f s)", action, took);
	CHECK(pin == NULL, "%s: no PIN", action);
	fake_cleanup(&f);
}

static void
group_hang(void)
{
	hang_case("hang", 1.0 + CS_PINENTRY_GRACE_SECONDS + 2.0);
}

static void
group_hang_noterm(void)
{
	/* SIGTERM ignored: SIGKILL follows CS_PE_TERM_SECONDS (2) later. */
	hang_case("hang-noterm", 1.0 + CS_PINENTRY_GRACE_SECONDS + 2.0 + 2.0);
}

static void
group_start(void)
{
	struct cs_secret *pin = NULL;
	struct cs_pin_request req;
	struct fake f = {.dir = ""};
	double t0, took;
	int r;

	fake_setup(&f, "FAKE_PINENTRY_ACTION=hang-early\n");
	req_init(&req, f.program);
	req.timeout_seconds = 0;
	t0 = now_seconds();
	r = cs_pinentry_get_pin(&req, &pin);
	took = now_seconds() - t0;
	CHECK_EQ_INT(r, CS_ERR_PINENTRY, "silent at start: CS_ERR_PINENTRY (no dialog was shown)");
	CHECK(took >= CS_PINENTRY_START_SECONDS - 0.5 && took < CS_PINENTRY_START_SECONDS + 2.0,
	      "silent at start: ended after the start deadline (%.1f s)", took);
	fake_cleanup(&f);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} groups[] = {
	    {"basic", group_basic},
	    {"confirm", group_confirm},
	    {"keypad", group_keypad},
	    {"env", group_env},
	    {"serial", group_serial},
	    {"hang", group_hang},
	    {"hang-noterm", group_hang_noterm},
	    {"start", group_start},
	};
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: %s FAKE_PINENTRY GROUP\n", argv[0]);
		return 2;
	}
	/* meson passes a path relative to the build directory; the symlinks need it whole. */
	if ((fake_path = realpath(argv[1], NULL)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", argv[0], argv[1], strerror(errno));
		return 2;
	}
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (strcmp(argv[2], groups[i].name) == 0) {
			groups[i].run();
			free(fake_path);
			return tap_done();
		}
	}
	fprintf(stderr, "unknown group %s\n", argv[2]);
	return 2;
}
