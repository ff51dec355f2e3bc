/*
 * Address specs (see addr.h): parsing, listening and connecting.
 *
 * A host name resolves to its first IPv4 address when it has one, because
 * Python's Client(("name", port)) only ever speaks AF_INET; IPv6 is used
 * for a name only when it has no IPv4 address, and always for [V6]:PORT.
 * Port 0 is accepted (an ephemeral port, for tests); addr_sockname() tells
 * the one the kernel chose.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "ipc/addr.h"

/* Fill a for unix:PATH. */
static int
addr_parse_unix(const char *spec, const char *path, struct addr *a,
    char **cause)
{
	struct sockaddr_un	*sun = (struct sockaddr_un *)&a->ss;

	if (*path == '\0') {
		xasprintf(cause, "%s: missing socket path", spec);
		return -1;
	}
	if (strlen(path) >= sizeof sun->sun_path) {
		xasprintf(cause, "%s: socket path too long (at most %zu bytes)",
		    spec, sizeof sun->sun_path - 1);
		return -1;
	}
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, strlen(path) + 1);
	a->family = AF_UNIX;
	a->len = sizeof *sun;
	return 0;
}

/* Check that port is a decimal number from 0 to 65535. */
static int
addr_check_port(const char *spec, const char *port, char **cause)
{
	const char	*p;
	unsigned long	 n = 0;

	if (*port == '\0') {
		xasprintf(cause, "%s: missing port", spec);
		return -1;
	}
	for (p = port; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || p - port >= 5) {
			xasprintf(cause, "%s: bad port \"%s\"", spec, port);
			return -1;
		}
		n = n * 10 + (*p - '0');
	}
	if (n > 65535) {
		xasprintf(cause, "%s: bad port \"%s\"", spec, port);
		return -1;
	}
	return 0;
}

/* Resolve host and port with getaddrinfo(); 0, EAI_* on failure. */
static int
addr_lookup(const char *host, const char *port, int family, int flags,
    struct addr *a)
{
	struct addrinfo	 hints, *res;
	int		 error;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = flags | AI_NUMERICSERV;
	if ((error = getaddrinfo(host, port, &hints, &res)) != 0)
		return error;
	if (res->ai_addrlen > sizeof a->ss) {
		freeaddrinfo(res);
		return EAI_FAMILY;
	}
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	a->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

/* Fill a for HOST:PORT or [V6]:PORT. */
static int
addr_parse_inet(const char *spec, struct addr *a, char **cause)
{
	char		*copy, *host, *port, *end;
	int		 bracketed = 0, error, rv = -1;

	copy = xstrdup(spec);
	if (*copy == '[') {
		bracketed = 1;
		host = copy + 1;
		if ((end = strchr(host, ']')) == NULL) {
			xasprintf(cause, "%s: missing ']'", spec);
			goto out;
		}
		*end = '\0';
		if (end[1] != ':') {
			xasprintf(cause, "%s: missing port ([ADDRESS]:PORT)",
			    spec);
			goto out;
		}
		port = end + 2;
	} else {
		host = copy;
		if ((end = strrchr(copy, ':')) == NULL) {
			xasprintf(cause, "%s: missing port (HOST:PORT, "
			    "[IPV6]:PORT or unix:PATH)", spec);
			goto out;
		}
		*end = '\0';
		port = end + 1;
		if (strchr(host, ':') != NULL) {
			xasprintf(cause, "%s: an IPv6 address must be written "
			    "[ADDRESS]:PORT", spec);
			goto out;
		}
	}
	if (*host == '\0') {
		xasprintf(cause, "%s: missing host", spec);
		goto out;
	}
	if (addr_check_port(spec, port, cause) == -1)
		goto out;

	if (bracketed) {
		error = addr_lookup(host, port, AF_INET6, AI_NUMERICHOST, a);
		if (error != 0) {
			xasprintf(cause, "%s: not an IPv6 address", spec);
			goto out;
		}
	} else if (addr_lookup(host, port, AF_INET, AI_NUMERICHOST, a) != 0 &&
	    addr_lookup(host, port, AF_INET, 0, a) != 0 &&
	    (error = addr_lookup(host, port, AF_INET6, 0, a)) != 0) {
		xasprintf(cause, "%s: cannot resolve \"%s\": %s", spec, host,
		    gai_strerror(error));
		goto out;
	}
	rv = 0;
out:
	free(copy);
	return rv;
}

/*
 * Parse spec into a. Returns 0, or -1 with cause naming the spec. A host
 * name is resolved now, once.
 */
int
addr_parse(const char *spec, struct addr *a, char **cause)
{
	int	rv;

	memset(a, 0, sizeof *a);
	if (strncmp(spec, "unix:", 5) == 0)
		rv = addr_parse_unix(spec, spec + 5, a, cause);
	else
		rv = addr_parse_inet(spec, a, cause);
	if (rv == -1) {
		memset(a, 0, sizeof *a);
		return -1;
	}
	a->display = xstrdup(spec);
	return 0;
}

/* Free what addr_parse() allocated. */
void
addr_free(struct addr *a)
{
	free(a->display);
	a->display = NULL;
}

/* The path of a unix address. */
static const char *
addr_path(const struct addr *a)
{
	return ((const struct sockaddr_un *)&a->ss)->sun_path;
}

/*
 * Is something accepting connections on the unix socket? Anything but a
 * plain "refused" or "gone" counts as alive, so a busy server's socket is
 * never taken over.
 */
static int
addr_unix_alive(const struct addr *a)
{
	int	fd, alive;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 1;
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		alive = 1;
	else
		alive = errno != ECONNREFUSED && errno != ENOENT;
	close(fd);
	return alive;
}

/*
 * Bind a unix socket, replacing a stale socket file that nobody answers on
 * (a crashed previous run) but never a live one or a non-socket. The umask
 * is set around bind() so the file is created with ADDR_UNIX_MODE whatever
 * the process umask is, with no window where it is more open; mpsup is
 * single-threaded, so changing the umask briefly is safe.
 */
static int
addr_bind_unix(int fd, const struct addr *a, char **cause)
{
	const char	*path = addr_path(a);
	struct stat	 st;
	mode_t		 old;
	int		 r, tries;

	for (tries = 0;; tries++) {
		old = umask(0777 & ~ADDR_UNIX_MODE);
		r = bind(fd, (const struct sockaddr *)&a->ss, a->len);
		umask(old);
		if (r == 0)
			return 0;
		if (errno != EADDRINUSE || tries >= 2)
			break;
		if (lstat(path, &st) == -1) {
			if (errno == ENOENT)
				continue;
			break;
		}
		if (!S_ISSOCK(st.st_mode)) {
			xasprintf(cause, "%s: file exists and is not a socket",
			    a->display);
			return -1;
		}
		if (addr_unix_alive(a)) {
			xasprintf(cause, "%s: address in use (another process "
			    "is listening)", a->display);
			return -1;
		}
		if (unlink(path) == -1 && errno != ENOENT)
			break;
	}
	xasprintf(cause, "%s: bind: %s", a->display, strerror(errno));
	return -1;
}

/*
 * A unix socket is bound and listening under a temporary name in the same
 * folder, then renamed to its path: a client that sees the file can
 * connect (between bind() and listen() it would be refused). A live
 * socket or a non-socket at the path is never replaced; a stale one is.
 * 0, or -1 with cause; the temporary file never stays.
 */
static int
addr_listen_unix(int fd, const struct addr *a, int backlog, char **cause)
{
	struct addr	 tmp = *a;
	struct stat	 st;
	char		*t;
	int		 n;

	n = snprintf(((struct sockaddr_un *)&tmp.ss)->sun_path,
	    sizeof ((struct sockaddr_un *)&tmp.ss)->sun_path, "%s.%ld.tmp",
	    addr_path(a), (long)getpid());
	if (n < 0 || (size_t)n >= sizeof ((struct sockaddr_un *)NULL)->sun_path)
		tmp.len = 0;	/* no room for the longer name */
	else
		tmp.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    (size_t)n + 1);
	if (tmp.len == 0) {
		/* The path alone: bound, then listening (a short window). */
		if (addr_bind_unix(fd, a, cause) == -1)
			return -1;
	} else {
		unlink(addr_path(&tmp));
		if (addr_bind_unix(fd, &tmp, cause) == -1)
			return -1;
	}
	if (listen(fd, backlog) == -1) {
		xasprintf(cause, "%s: listen: %s", a->display, strerror(errno));
		unlink(addr_path(tmp.len != 0 ? &tmp : a));
		return -1;
	}
	if (tmp.len == 0)
		return 0;
	t = xstrdup(addr_path(&tmp));
	if (lstat(addr_path(a), &st) == 0 && !S_ISSOCK(st.st_mode))
		xasprintf(cause, "%s: file exists and is not a socket",
		    a->display);
	else if (lstat(addr_path(a), &st) == 0 && addr_unix_alive(a))
		xasprintf(cause, "%s: address in use (another process is "
		    "listening)", a->display);
	else if (rename(t, addr_path(a)) == -1)
		xasprintf(cause, "%s: rename: %s", a->display, strerror(errno));
	else {
		free(t);
		return 0;
	}
	unlink(t);
	free(t);
	return -1;
}

/*
 * Open a non-blocking, close-on-exec listening socket on a. IPv6 sockets
 * are IPv6-only, so "[::]:P" and "0.0.0.0:P" can both be listened on.
 * Returns the fd, or -1 with cause set.
 */
int
addr_listen(const struct addr *a, int backlog, char **cause)
{
	int	fd, on = 1;

	fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		xasprintf(cause, "%s: socket: %s", a->display, strerror(errno));
		return -1;
	}
	if (a->family == AF_UNIX) {
		if (addr_listen_unix(fd, a, backlog, cause) == -1)
			goto fail;
		return fd;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == -1 ||
	    (a->family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof on) == -1)) {
		xasprintf(cause, "%s: setsockopt: %s", a->display,
		    strerror(errno));
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		xasprintf(cause, "%s: bind: %s", a->display, strerror(errno));
		goto fail;
	}
	if (listen(fd, backlog) == -1) {
		xasprintf(cause, "%s: listen: %s", a->display, strerror(errno));
		goto fail;
	}
	return fd;

fail:
	close(fd);
	return -1;
}

/* Remove the socket file of a unix address (at shutdown). */
void
addr_unlink(const struct addr *a)
{
	if (a->family == AF_UNIX)
		unlink(addr_path(a));
}

/* Wait up to ms for a non-blocking connect() on fd to finish. */
static int
addr_connect_wait(int fd, int ms)
{
	struct pollfd	pfd;
	socklen_t	len;
	int		r, error;

	pfd.fd = fd;
	pfd.events = POLLOUT;
	while ((r = poll(&pfd, 1, ms)) == -1 && errno == EINTR)
		;
	if (r == -1)
		return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	len = sizeof error;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) == -1)
		return -1;
	if (error != 0) {
		errno = error;
		return -1;
	}
	return 0;
}

/*
 * Connect to a. Returns a blocking, close-on-exec socket, or -1 with cause
 * set. A TCP connect gives up after ADDR_CONNECT_TIMEOUT_MS.
 */
int
addr_connect(const struct addr *a, char **cause)
{
	int	fd, type, flags, r;

	/* A local connect just waits for a full backlog to drain. */
	type = SOCK_STREAM | SOCK_CLOEXEC;
	if (a->family != AF_UNIX)
		type |= SOCK_NONBLOCK;
	if ((fd = socket(a->family, type, 0)) == -1) {
		xasprintf(cause, "%s: socket: %s", a->display, strerror(errno));
		return -1;
	}
	if (a->family == AF_UNIX) {
		while ((r = connect(fd, (const struct sockaddr *)&a->ss,
		    a->len)) == -1 && errno == EINTR)
			;
		if (r == -1)
			goto fail;
		return fd;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == -1) {
		if (errno != EINPROGRESS && errno != EINTR)
			goto fail;
		if (addr_connect_wait(fd, ADDR_CONNECT_TIMEOUT_MS) == -1)
			goto fail;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;

fail:
	xasprintf(cause, "%s: connect: %s", a->display, strerror(errno));
	close(fd);
	return -1;
}

/*
 * Describe the local address of socket fd in the spec syntax (an allocated
 * string, or NULL), e.g. to report the port a ":0" listener got.
 */
char *
addr_sockname(int fd)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct sockaddr_un	*sun;
	socklen_t		 len = sizeof ss;
	char			 host[INET6_ADDRSTRLEN], *s = NULL;

	memset(&ss, 0, sizeof ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return NULL;
	switch (ss.ss_family) {
	case AF_UNIX:
		sun = (struct sockaddr_un *)&ss;
		xasprintf(&s, "unix:%.*s", (int)sizeof sun->sun_path,
		    sun->sun_path);
		/* Bound under a temporary name, then renamed: its path. */
		snprintf(host, sizeof host, ".%ld.tmp", (long)getpid());
		if (strlen(s) > strlen(host) &&
		    strcmp(s + strlen(s) - strlen(host), host) == 0)
			s[strlen(s) - strlen(host)] = '\0';
		break;
	case AF_INET:
		sin = (struct sockaddr_in *)&ss;
		if (inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host))
			xasprintf(&s, "%s:%u", host, ntohs(sin->sin_port));
		break;
	case AF_INET6:
		sin6 = (struct sockaddr_in6 *)&ss;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host))
			xasprintf(&s, "[%s]:%u", host, ntohs(sin6->sin6_port));
		break;
	}
	return s;
}
