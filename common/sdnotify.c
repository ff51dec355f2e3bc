/*
 * sd_notify's datagram protocol (see sdnotify.h), as documented in
 * sd_notify(3): no credentials or descriptors are passed, so a plain
 * sendto() of the text is the whole of it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sdnotify.h"
#include "common/xmalloc.h"

/* Where the notifications go; fd -1 when nobody asked for them. */
static struct {
	int			fd;
	struct sockaddr_un	addr;
	socklen_t		addrlen;
	double			watchdog;	/* seconds between pings, or 0 */
	int			warned;		/* a send failure was logged */
} sdn = { -1, { 0 }, 0, 0, 0 };

/* A whole unsigned decimal number in s, or -1. */
static long long
sdnotify_number(const char *s)
{
	char		*end;
	long long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return v;
}

/* Fill sdn.addr from the variable's value; -1 with *cause. */
static int
sdnotify_address(const char *path, char **cause)
{
	size_t	len = strlen(path);

	if (path[0] != '/' && path[0] != '@') {
		xasprintf(cause, "NOTIFY_SOCKET=%s: expected an absolute "
		    "path or @abstract-name", path);
		return -1;
	}
	if (len < 2 || len >= sizeof sdn.addr.sun_path) {
		xasprintf(cause, "NOTIFY_SOCKET=%s: the name must be 1 to %zu "
		    "bytes", path, sizeof sdn.addr.sun_path - 2);
		return -1;
	}
	memset(&sdn.addr, 0, sizeof sdn.addr);
	sdn.addr.sun_family = AF_UNIX;
	memcpy(sdn.addr.sun_path, path, len);
	/* An abstract name starts with a NUL and is exactly len bytes. */
	if (path[0] == '@')
		sdn.addr.sun_path[0] = '\0';
	sdn.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    len + (path[0] == '/' ? 1 : 0));
	return 0;
}

/* Read $WATCHDOG_USEC and $WATCHDOG_PID; -1 with *cause. */
static int
sdnotify_watchdog_env(char **cause)
{
	const char	*usec = getenv("WATCHDOG_USEC");
	const char	*pid = getenv("WATCHDOG_PID");
	long long	 v;

	sdn.watchdog = 0;
	if (usec == NULL)
		return 0;
	if ((v = sdnotify_number(usec)) <= 0) {
		xasprintf(cause, "WATCHDOG_USEC=%s: expected a positive "
		    "number of microseconds", usec);
		return -1;
	}
	if (pid != NULL) {
		long long p = sdnotify_number(pid);

		if (p <= 0) {
			xasprintf(cause, "WATCHDOG_PID=%s: expected a process "
			    "id", pid);
			return -1;
		}
		/* The watchdog is another process's (we were forked off). */
		if (p != (long long)getpid())
			return 0;
	}
	sdn.watchdog = (double)v / 1e6 / 2;
	return 0;
}

int
sdnotify_open(char **cause)
{
	const char	*path = getenv("NOTIFY_SOCKET");

	sdnotify_close();
	if (path == NULL || *path == '\0')
		goto done;
	if (sdnotify_address(path, cause) == -1)
		return -1;
	if (sdnotify_watchdog_env(cause) == -1)
		return -1;
	if ((sdn.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) == -1) {
		xasprintf(cause, "NOTIFY_SOCKET: socket: %s", strerror(errno));
		return -1;
	}
done:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return 0;
}

void
sdnotify_close(void)
{
	if (sdn.fd != -1)
		close(sdn.fd);
	sdn.fd = -1;
	sdn.watchdog = 0;
	sdn.warned = 0;
}

int
sdnotify_enabled(void)
{
	return sdn.fd != -1;
}

double
sdnotify_watchdog_interval(void)
{
	return sdn.fd != -1 ? sdn.watchdog : 0;
}

void
sdnotify_send(const char *msg)
{
	ssize_t	n;

	if (sdn.fd == -1)
		return;
	n = sendto(sdn.fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sdn.addr, sdn.addrlen);
	if (n == -1 && !sdn.warned) {
		sdn.warned = 1;
		log_warn("NOTIFY_SOCKET: cannot send \"%.40s\"", msg);
	}
}

void
sdnotify_sendf(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	sdnotify_send(msg);
	free(msg);
}
