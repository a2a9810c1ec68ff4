/*
 * Logging shared by every podrunner process (after OpenBSD's log.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int	 log_debug_mode;	/* log to stderr */
static int	 log_verbose;
static const char *log_procname;	/* NULL: the parent */

static void	 log_line(int, const char *);

void
log_init(int debug, int facility)
{
	log_debug_mode = debug;
	if (!debug) {
		/* LOG_NDELAY: connect to /dev/log now, before any chroot. */
		openlog("podrunner", LOG_PID | LOG_NDELAY, facility);
	}
	tzset();
}

void
log_procinit(const char *title)
{
	log_procname = title;
}

void
log_setverbose(int v)
{
	log_verbose = v;
}

int
log_getdebug(void)
{
	return log_debug_mode;
}

int
log_getverbose(void)
{
	return log_verbose;
}

static void
log_line(int pri, const char *msg)
{
	struct timespec	ts;
	char		line[2300], stamp[32];
	int		n;

	if (!log_debug_mode) {
		syslog(pri, "%s: %s", log_procname ? log_procname : "parent",
		    msg);
		return;
	}
	/*
	 * One write(2) per line keeps lines of concurrent processes whole.
	 * Debugging at -vv, lines carry the monotonic clock (ms, the same
	 * in every process) to follow a pod's start across processes.
	 */
	if (log_verbose > 1) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		(void)snprintf(stamp, sizeof(stamp), "%lld.%03ld ",
		    (long long)ts.tv_sec % 100000, ts.tv_nsec / 1000000);
	} else
		stamp[0] = '\0';
	if (log_procname == NULL)
		n = snprintf(line, sizeof(line), "%spodrunner: %s\n", stamp,
		    msg);
	else
		n = snprintf(line, sizeof(line), "%spodrunner[%s]: %s\n",
		    stamp, log_procname, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, line, n);
}

void
vlog(int pri, const char *fmt, va_list ap)
{
	char	buf[2048];
	int	saved_errno = errno;

	(void)vsnprintf(buf, sizeof(buf), fmt, ap);
	log_line(pri, buf);
	errno = saved_errno;
}

static void
vlog_errno(int pri, const char *fmt, va_list ap)
{
	char	buf[2048], out[2200];
	int	saved_errno = errno;

	if (fmt == NULL)
		(void)snprintf(out, sizeof(out), "%s", strerror(saved_errno));
	else {
		(void)vsnprintf(buf, sizeof(buf), fmt, ap);
		(void)snprintf(out, sizeof(out), "%s: %s", buf,
		    strerror(saved_errno));
	}
	log_line(pri, out);
	errno = saved_errno;
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
	va_end(ap);
}

__dead void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog_errno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

__dead void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}
