/* cardseald's log: stderr in the foreground, syslog otherwise. Never a PIN or plaintext. */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "daemon.h"

static int log_foreground = 1;

void
cs_log_init(int foreground)
{
	log_foreground = foreground;
	if (!foreground)
		openlog("cardseald", LOG_PID, LOG_DAEMON);
}

void
cs_log(int priority, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_foreground) {
		fprintf(stderr, "cardseald: ");
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}
