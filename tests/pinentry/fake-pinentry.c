/*
 * A scripted pinentry for the tests. It speaks the pinentry Assuan protocol
 * on stdin/stdout, records what it is told, and at the dialog (GETPIN,
 * CONFIRM, MESSAGE) does what its action says.
 *
 * Settings, each from the environment or, because keyd gives pinentry an
 * environment of display variables only, from NAME=VALUE lines in the file
 * named like the program plus ".env" (the tests start the fake through a
 * symlink in their own directory, with the .env file beside it):
 *
 *   FAKE_PINENTRY_ACTION    the action of every run
 *   FAKE_PINENTRY_SCRIPT    a file of actions, one a line; each run takes the next
 *   FAKE_PINENTRY_STATE     where the number of used lines is kept (SCRIPT.state)
 *   FAKE_PINENTRY_LOG       appends "<pid> START", "<pid> ENV NAME=VALUE",
 *                           "<pid> CMD <line>", "<pid> DIALOG <command>",
 *                           "<pid> TOOLONG" and "<pid> END <why>"
 *   FAKE_PINENTRY_DELAY_MS  waits this long before answering the dialog
 *   FAKE_PINENTRY_REJECT_OPTIONS  answers every OPTION with "unknown option"
 *
 * Actions: pin:VALUE, cancel, timeout, hang (silent until killed),
 * hang-noterm (ignores SIGTERM too), hang-early (never greets), garbage,
 * crash (SIGKILL itself mid-dialog), confirm, deny, dismiss, err:CODE,
 * errtext ("ERR" with no number), rawd:TEXT (sends "D TEXT" as it is),
 * longpin:N (a PIN of N 'x'). Without any, every dialog is cancelled.
 *
 * The PIN it answers is never written to the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define LINE_MAX_ASSUAN 1000
#define CONFIG_MAX 16

static struct {
	char *name;
	char *value;
} config[CONFIG_MAX];
static size_t nconfig;
static int log_fd = -1;

static void
config_load(void)
{
	const char *exe = (const char *)getauxval(AT_EXECFN);
	char path[4096], line[4096], *eq, *nl;
	FILE *f;

	if (exe == NULL || snprintf(path, sizeof(path), "%s.env", exe) >= (int)sizeof(path))
		return;
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (nconfig < CONFIG_MAX && fgets(line, sizeof(line), f) != NULL) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq = '\0';
		config[nconfig].name = strdup(line);
		config[nconfig].value = strdup(eq + 1);
		nconfig++;
	}
	fclose(f);
}

static const char *
setting(const char *name)
{
	size_t i;

	for (i = 0; i < nconfig; i++) {
		if (strcmp(config[i].name, name) == 0)
			return config[i].value;
	}
	return getenv(name);
}

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
log_line(const char *fmt, ...)
{
	char buf[4096];
	int n, m;
	va_list ap;

	if (log_fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%ld ", (long)getpid());
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write per line: with O_APPEND, lines of concurrent runs never mix. */
	(void)!write(log_fd, buf, (size_t)n);
}

static void
say(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			/* The client hung up on us, as it may after a reply it refused. */
			log_line("END hangup");
			_exit(1);
		}
		s += w;
		n -= (size_t)w;
	}
}

static void
on_term(int sig)
{
	static const char end[] = " END term\n";
	char buf[64];
	int n;

	(void)sig;
	if (log_fd >= 0) {
		n = snprintf(buf, sizeof(buf), "%ld%s", (long)getpid(), end);
		(void)!write(log_fd, buf, (size_t)n);
	}
	_exit(0);
}

static void
config_free(void)
{
	while (nconfig > 0) {
		nconfig--;
		free(config[nconfig].name);
		free(config[nconfig].value);
	}
}

static void
hang(void)
{
	for (;;)
		pause();
}

/* Takes the next line of the script, under a lock, for runs that overlap. */
static char *
script_next(const char *script)
{
	const char *state_name = setting("FAKE_PINENTRY_STATE");
	char state_path[4096], line[4096], *nl, *action = NULL;
	long used = 0, i = 0;
	FILE *f;
	int fd;

	if (state_name == NULL) {
		snprintf(state_path, sizeof(state_path), "%s.state", script);
		state_name = state_path;
	}
	if ((fd = open(state_name, O_RDWR | O_CREAT, 0600)) < 0)
		return NULL;
	flock(fd, LOCK_EX);
	if (read(fd, line, sizeof(line) - 1) > 0) {
		line[sizeof(line) - 1] = '\0';
		used = strtol(line, NULL, 10);
	}
	if ((f = fopen(script, "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			if (i++ == used) {
				if ((nl = strchr(line, '\n')) != NULL)
					*nl = '\0';
				action = strdup(line);
				break;
			}
		}
		fclose(f);
	}
	snprintf(line, sizeof(line), "%ld\n", used + 1);
	if (lseek(fd, 0, SEEK_SET) == 0 && ftruncate(fd, 0) == 0)
		(void)!write(fd, line, strlen(line));
	flock(fd, LOCK_UN);
	close(fd);
	return action;
}

static char *
choose_action(void)
{
	const char *a = setting("FAKE_PINENTRY_ACTION");
	const char *script = setting("FAKE_PINENTRY_SCRIPT");
	char *s;

	if (a != NULL)
		return strdup(a);
	if (script != NULL && (s = script_next(script)) != NULL)
		return s;
	return strdup("cancel");
}

/* Sends a D line for value, escaped as Assuan wants. */
static void
send_data(const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	char buf[3 * LINE_MAX_ASSUAN + 4];
	size_t n = 0;

	buf[n++] = 'D';
	buf[n++] = ' ';
	for (; *value != '\0' && n < sizeof(buf) - 4; value++) {
		unsigned char c = (unsigned char)*value;

		if (c == '%' || c == '\r' || c == '\n') {
			buf[n++] = '%';
			buf[n++] = hex[c >> 4];
			buf[n++] = hex[c & 0xf];
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	say(buf);
}

static void
dialog(const char *cmd, const char *action)
{
	const char *delay = setting("FAKE_PINENTRY_DELAY_MS");
	char buf[64];

	log_line("DIALOG %s", cmd);
	if (delay != NULL) {
		long ms = strtol(delay, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (strncmp(action, "pin:", 4) == 0) {
		if (strcmp(cmd, "GETPIN") == 0 && action[4] != '\0')
			send_data(action + 4);
		say("OK\n");
	} else if (strncmp(action, "longpin:", 8) == 0) {
		long i, n = strtol(action + 8, NULL, 10);
		char *pin = malloc((size_t)n + 1);

		if (pin == NULL)
			_exit(1);
		for (i = 0; i < n; i++)
			pin[i] = 'x';
		pin[n] = '\0';
		send_data(pin);
		free(pin);
		say("OK\n");
	} else if (strncmp(action, "rawd:", 5) == 0) {
		say("D ");
		say(action + 5);
		say("\nOK\n");
	} else if (strncmp(action, "err:", 4) == 0) {
		snprintf(buf, sizeof(buf), "ERR %s Some error <Pinentry>\n", action + 4);
		say(buf);
	} else if (strcmp(action, "cancel") == 0) {
		say("ERR 83886179 Operation cancelled <Pinentry>\n");
	} else if (strcmp(action, "timeout") == 0) {
		say("ERR 83886142 Timeout <Pinentry>\n");
	} else if (strcmp(action, "deny") == 0) {
		say("ERR 83886194 Not confirmed <Pinentry>\n");
	} else if (strcmp(action, "confirm") == 0 || strcmp(action, "dismiss") == 0) {
		say("OK\n");
	} else if (strcmp(action, "garbage") == 0) {
		say("Hello, this is not Assuan\n");
	} else if (strcmp(action, "errtext") == 0) {
		say("ERR no number here\n");
	} else if (strcmp(action, "crash") == 0) {
		log_line("END crash");
		raise(SIGKILL);
	} else if (strcmp(action, "hang") == 0 || strcmp(action, "hang-noterm") == 0) {
		hang();
	} else {
		say("ERR 83886179 Unknown action <Pinentry>\n");
	}
}

static int
is_cmd(const char *line, const char *cmd)
{
	size_t n = strlen(cmd);

	return strncmp(line, cmd, n) == 0 && (line[n] == '\0' || line[n] == ' ');
}

int
main(void)
{
	const char *log_path, *reject;
	char line[4 * LINE_MAX_ASSUAN], *nl, **e, *action;
	int bye = 0;

	config_load();
	if ((log_path = setting("FAKE_PINENTRY_LOG")) != NULL)
		log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	reject = setting("FAKE_PINENTRY_REJECT_OPTIONS");
	log_line("START");
	for (e = environ; *e != NULL; e++)
		log_line("ENV %s", *e);
	action = choose_action();
	if (strcmp(action, "hang-noterm") == 0)
		signal(SIGTERM, SIG_IGN);
	else
		signal(SIGTERM, on_term);
	/* A client gone away is not worth dying of. */
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(action, "hang-early") == 0)
		hang();

	say("OK Pleased to meet you\n");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if ((nl = strchr(line, '\n')) == NULL || nl - line > LINE_MAX_ASSUAN) {
			log_line("TOOLONG");
			say("ERR 536871175 Line too long <Pinentry>\n");
			continue;
		}
		*nl = '\0';
		log_line("CMD %s", line);
		if (is_cmd(line, "BYE")) {
			/* The client need not wait for this reply: log first. */
			log_line("END bye");
			say("OK closing connection\n");
			bye = 1;
			break;
		} else if (is_cmd(line, "GETPIN") || is_cmd(line, "CONFIRM") ||
		           is_cmd(line, "MESSAGE")) {
			dialog(line, action);
		} else if (is_cmd(line, "OPTION") && reject != NULL) {
			say("ERR 83886254 Unknown option <Pinentry>\n");
		} else if (is_cmd(line, "OPTION") || strncmp(line, "SET", 3) == 0 ||
		           is_cmd(line, "RESET")) {
			say("OK\n");
		} else if (is_cmd(line, "GETINFO")) {
			snprintf(line, sizeof(line), "D %ld\nOK\n", (long)getpid());
			say(line);
		} else {
			say("ERR 536871187 Unknown IPC command <Pinentry>\n");
		}
	}
	if (!bye)
		log_line("END eof");
	free(action);
	config_free();
	return 0;
}
