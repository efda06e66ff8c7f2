/*
 * vcard-bridge: a virtual CAC smartcard in a virtual reader, for the tests.
 *
 * Debian ships the two halves but not the link between them: libcacard
 * emulates a CAC card whose keys live in an NSS database (here one that
 * names a SoftHSM token), and vsmartcard's vpcd is a pcscd reader driver
 * that listens on a local TCP port for a card. This program is the card's
 * side of that socket: vpcd sends frames of a 2-byte big-endian length and
 * a payload; a 1-byte payload is a command (0 power off, 1 power on,
 * 2 reset, 4 get ATR, which alone is answered), anything longer is a
 * command APDU answered with its response APDU.
 *
 * vpcd treats a closed connection as a card taken out of the reader, and a
 * new connection as a card put in. Commands on the control channel (a FIFO
 * given with --control, or standard input) do that on request:
 *   remove         power the card off and take it out (close the connection);
 *                  also disarms remove-at
 *   insert         put it back (connect again; vpcd powers it on)
 *   remove-at INS  take it out when the next APDU with instruction byte INS
 *                  (hex) arrives, leaving that APDU unanswered: the card is
 *                  pulled while it works
 *   quit           exit
 * Every change is written to standard output as one line ("ready",
 * "inserted", "removed", "pulled INS") for the test to wait on.
 *
 * vpcd asks for the ATR every few hundred milliseconds to see whether the
 * card is still there, and each APDU is a small request and answer, so
 * Nagle's algorithm and delayed ACKs would stall every exchange by up to
 * 40 ms: the socket sets TCP_NODELAY once and TCP_QUICKACK after every
 * receive (the kernel clears QUICKACK again on its own).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <libcacard.h>

#define VPCD_DEFAULT_PORT 35963
#define VPCD_CTRL_OFF 0
#define VPCD_CTRL_ON 1
#define VPCD_CTRL_RESET 2
#define VPCD_CTRL_ATR 4
#define MAX_FRAME 0xFFFF
#define MAX_ATR 40
#define MAX_CERTS 8
#define RECONNECT_MS 100
#define CONTROL_LINE 128

struct bridge {
	VReader *reader;
	unsigned short port;
	int sock;                /* connection to vpcd, -1 while the card is out */
	int want_inserted;       /* the card should be in the reader */
	int pull_at_ins;         /* -1, or the INS byte whose APDU pulls the card */
	int control;             /* control channel */
	char line[CONTROL_LINE]; /* a control line being assembled */
	size_t line_len;
	unsigned char atr[MAX_ATR];
	int atr_len;
	unsigned char in[MAX_FRAME];
	unsigned char out[MAX_FRAME + 2];
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* libcacard queues reader and card events for a front end; nobody here reads them. */
static void
drain_events(void)
{
	VEvent *e;

	while ((e = vevent_get_next_vevent()) != NULL)
		vevent_delete(e);
}

static int
set_tcp_flag(int fd, int opt)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, opt, &one, sizeof(one));
}

/* One attempt to reach vpcd on the loopback. Returns the socket or -1. */
static int
connect_vpcd(unsigned short port)
{
	struct sockaddr_in a;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    set_tcp_flag(fd, TCP_NODELAY) != 0 || set_tcp_flag(fd, TCP_QUICKACK) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads exactly len bytes. Returns 0, or -1 on end of stream or an error. */
static int
read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = recv(fd, buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	/* Not permanent: the kernel may fall back to delayed ACKs after any receive. */
	(void)set_tcp_flag(fd, TCP_QUICKACK);
	return 0;
}

static int
write_full(int fd, const unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int
send_frame(struct bridge *b, const unsigned char *payload, size_t len)
{
	if (len > MAX_FRAME)
		return -1;
	b->out[0] = (unsigned char)(len >> 8);
	b->out[1] = (unsigned char)(len & 0xff);
	memcpy(b->out + 2, payload, len);
	return write_full(b->sock, b->out, len + 2);
}

/* The card leaves the reader: its power goes, and with it the login state. */
static void
take_out(struct bridge *b, const char *why)
{
	if (b->sock >= 0) {
		close(b->sock);
		b->sock = -1;
	}
	(void)vreader_power_off(b->reader);
	drain_events();
	say("%s", why);
}

static void
put_in(struct bridge *b)
{
	if (b->sock >= 0 || !b->want_inserted)
		return;
	if ((b->sock = connect_vpcd(b->port)) >= 0)
		say("inserted");
}

/* Handles one frame from vpcd. Returns 0, or -1 when the connection is to be dropped. */
static int
handle_frame(struct bridge *b, size_t len)
{
	unsigned char atr[MAX_ATR];
	int atr_len = MAX_ATR, rlen;

	if (len == 1) {
		switch (b->in[0]) {
		case VPCD_CTRL_OFF:
			(void)vreader_power_off(b->reader);
			return 0;
		case VPCD_CTRL_ON:
		case VPCD_CTRL_RESET:
			/* A reset of the card: libcacard's power-on clears its state. */
			(void)vreader_power_on(b->reader, atr, &atr_len);
			return 0;
		case VPCD_CTRL_ATR:
			/* Asked for again and again as a presence check: never a reset. */
			return send_frame(b, b->atr, (size_t)b->atr_len);
		default:
			return 0; /* unknown commands get no answer, as vpcd expects */
		}
	}
	if (len < 4)
		return -1; /* no APDU is shorter than its header */
	if (b->pull_at_ins >= 0 && b->in[1] == (unsigned char)b->pull_at_ins) {
		say("pulled %02X", b->pull_at_ins);
		b->pull_at_ins = -1;
		b->want_inserted = 0;
		return -1;
	}
	rlen = MAX_FRAME;
	if (vreader_xfr_bytes(b->reader, b->in, (int)len, b->out + 2, &rlen) != VREADER_OK ||
	    rlen < 2 || rlen > MAX_FRAME)
		return -1;
	b->out[0] = (unsigned char)(rlen >> 8);
	b->out[1] = (unsigned char)(rlen & 0xff);
	return write_full(b->sock, b->out, (size_t)rlen + 2);
}

static int
read_vpcd(struct bridge *b)
{
	unsigned char hdr[2];
	size_t len;

	if (read_full(b->sock, hdr, 2) != 0)
		return -1;
	len = ((size_t)hdr[0] << 8) | hdr[1];
	if (len == 0 || read_full(b->sock, b->in, len) != 0)
		return -1;
	return handle_frame(b, len);
}

/* Runs one control command. Returns 1 to quit, else 0. */
static int
run_command(struct bridge *b, const char *cmd)
{
	unsigned long ins;
	char *end;

	if (strcmp(cmd, "remove") == 0) {
		b->want_inserted = 0;
		b->pull_at_ins = -1;
		if (b->sock >= 0)
			take_out(b, "removed");
		else
			say("removed");
	} else if (strcmp(cmd, "insert") == 0) {
		b->want_inserted = 1;
		put_in(b);
	} else if (strncmp(cmd, "remove-at ", 10) == 0) {
		ins = strtoul(cmd + 10, &end, 16);
		if (end == cmd + 10 || *end != '\0' || ins > 0xff) {
			say("error bad INS '%s'", cmd + 10);
			return 0;
		}
		b->pull_at_ins = (int)ins;
		say("armed %02lX", ins);
	} else if (strcmp(cmd, "quit") == 0) {
		return 1;
	} else if (cmd[0] != '\0') {
		say("error unknown command '%s'", cmd);
	}
	return 0;
}

/* Reads what the control channel has. Returns 1 to quit, else 0. */
static int
read_control(struct bridge *b)
{
	char buf[256];
	ssize_t n, i;

	n = read(b->control, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : 1;
	if (n == 0)
		return 1; /* standard input closed: the test is gone */
	for (i = 0; i < n; i++) {
		if (buf[i] == '\n') {
			b->line[b->line_len] = '\0';
			b->line_len = 0;
			if (run_command(b, b->line))
				return 1;
		} else if (b->line_len + 1 < sizeof(b->line)) {
			b->line[b->line_len++] = buf[i];
		}
	}
	return 0;
}

static void
usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: vcard-bridge --db DIR --slot TOKEN --cert NICKNAME [--cert NICKNAME...]\n"
	    "                    [--port N] [--control FIFO]\n"
	    "  --db DIR        NSS database (sql:) that names the PKCS#11 module holding the keys\n"
	    "  --slot TOKEN    the NSS slot (token name) with the keys\n"
	    "  --cert NICK     a certificate nickname in the database; its key (on TOKEN) goes on "
	    "the card\n"
	    "  --port N        vpcd's port on 127.0.0.1 (default %d)\n"
	    "  --control FIFO  read commands from FIFO instead of standard input\n"
	    "Commands: remove, insert, remove-at INS, quit\n",
	    VPCD_DEFAULT_PORT);
}

/* libcacard's option string: one soft card of type CAC in a reader of our own. */
static char *
emul_options(const char *db, const char *slot, char *const *certs, int n_certs)
{
	GString *s = g_string_new(NULL);
	int i;

	g_string_append_printf(s, "db=\"sql:%s\" use_hw=no soft=(%s,Cardseal vCAC,CAC,", db, slot);
	for (i = 0; i < n_certs; i++)
		g_string_append_printf(s, ",%s", certs[i]);
	g_string_append(s, ")");
	return g_string_free(s, FALSE);
}

int
main(int argc, char **argv)
{
	static const struct option options[] = {
	    {"db", required_argument, NULL, 'd'},
	    {"slot", required_argument, NULL, 's'},
	    {"cert", required_argument, NULL, 'c'},
	    {"port", required_argument, NULL, 'p'},
	    {"control", required_argument, NULL, 'C'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct bridge b;
	const char *db = NULL, *slot = NULL, *control = NULL;
	char *certs[MAX_CERTS], *opts = NULL;
	VCardEmulOptions *emul;
	int n_certs = 0, c, status = 1;
	long port = VPCD_DEFAULT_PORT;

	b.sock = -1;
	b.control = -1;
	b.pull_at_ins = -1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 's':
			slot = optarg;
			break;
		case 'c':
			if (n_certs == MAX_CERTS || strpbrk(optarg, ",)") != NULL) {
				fprintf(stderr, "vcard-bridge: bad or too many --cert\n");
				return 2;
			}
			certs[n_certs++] = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'C':
			control = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (db == NULL || slot == NULL || n_certs == 0 || optind != argc || port <= 0 ||
	    port > 65535 || strpbrk(slot, ",)") != NULL || strchr(db, '"') != NULL) {
		usage(stderr);
		return 2;
	}
	b.port = (unsigned short)port;
	signal(SIGPIPE, SIG_IGN);
	/* O_RDWR: the FIFO never reports end-of-file when a writer closes it. */
	b.control = control != NULL ? open(control, O_RDWR | O_CLOEXEC) : STDIN_FILENO;
	if (b.control < 0) {
		fprintf(stderr, "vcard-bridge: %s: %s\n", control, strerror(errno));
		goto out;
	}
	opts = emul_options(db, slot, certs, n_certs);
	if ((emul = vcard_emul_options(opts)) == NULL || vcard_emul_init(emul) != VCARD_EMUL_OK) {
		fprintf(stderr, "vcard-bridge: libcacard cannot make the card (%s)\n", opts);
		goto out;
	}
	if ((b.reader = vreader_get_reader_by_name("Cardseal vCAC")) == NULL ||
	    vreader_card_is_present(b.reader) != VREADER_OK) {
		fprintf(stderr, "vcard-bridge: no card: are the certificates in %s?\n", db);
		goto out;
	}
	/* The ATR never changes: take it once, so presence checks do not reset the card. */
	b.atr_len = MAX_ATR;
	if (vreader_power_on(b.reader, b.atr, &b.atr_len) != VREADER_OK || b.atr_len <= 0) {
		fprintf(stderr, "vcard-bridge: the card gives no ATR\n");
		goto out;
	}
	drain_events();
	say("ready");
	b.want_inserted = 1;
	for (;;) {
		struct pollfd p[2];
		int n = 0, timeout;

		put_in(&b);
		p[n].fd = b.control;
		p[n++].events = POLLIN;
		if (b.sock >= 0) {
			p[n].fd = b.sock;
			p[n++].events = POLLIN;
		}
		/* While the card should be in but vpcd is not there (yet), try again soon. */
		timeout = b.want_inserted && b.sock < 0 ? RECONNECT_MS : -1;
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if ((p[0].revents & (POLLIN | POLLHUP)) && read_control(&b) != 0) {
			status = 0;
			break;
		}
		if (n == 2 && b.sock >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    read_vpcd(&b) != 0)
			take_out(&b, "removed");
	}
out:
	if (b.sock >= 0)
		close(b.sock);
	if (b.reader != NULL)
		vreader_free(b.reader);
	g_free(opts);
	return status;
}
