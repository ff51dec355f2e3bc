/*
 * Diagnostics (see log.h). Formatting happens into a stack buffer so that
 * logging never allocates: it must work when memory is exhausted.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static const char	*log_progname = "mpsup";
static int		 log_debug_on;
static log_sink_fn	 log_sink;
static void		*log_sink_arg;

void
log_init(const char *progname, int debug)
{
	log_progname = progname;
	log_debug_on = debug;
}

void
log_set_sink(log_sink_fn fn, void *arg)
{
	log_sink = fn;
	log_sink_arg = arg;
}

static void
log_emit(enum log_level, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_emit(enum log_level level, int with_errno, const char *fmt, va_list ap)
{
	char	msg[4096];
	int	saved = errno, n;

	n = vsnprintf(msg, sizeof msg, fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	if (with_errno)
		snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
	if (log_sink != NULL && level != LOG_LEVEL_FATAL)
		log_sink(level, msg, log_sink_arg);
	else {
		if (log_sink != NULL)
			log_sink(level, msg, log_sink_arg);
		dprintf(STDERR_FILENO, "%s: %s\n", log_progname, msg);
	}
	errno = saved;
}

#define LOG_BODY(level, with_errno) do {			\
	va_list	ap;						\
	va_start(ap, fmt);					\
	log_emit(level, with_errno, fmt, ap);			\
	va_end(ap);						\
} while (0)

void log_warn(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 1); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, 0); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, 0); }

void
log_debug(const char *fmt, ...)
{
	if (log_debug_on)
		LOG_BODY(LOG_LEVEL_DEBUG, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_FATAL, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_FATAL, 0);
	exit(1);
}
