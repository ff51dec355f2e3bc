/*
 * A test peer for tests/integration/test_ipc_python.py: listens on an
 * address, serves connections one at a time, authenticates each with the
 * ipc/auth.c state machine and then echoes every frame back until EOF.
 *
 * It drives the handshake the way the supervisor's event loop does: a
 * non-blocking socket, buffers, frame_peek() on whatever has arrived, a
 * handshake deadline, AUTH_MSG_MAX during the handshake and a larger cap
 * after it. Each connection's outcome is printed on stdout, one line:
 * "auth ok role=user|admin legacy=0|1", "auth failed: REASON",
 * "protocol error: REASON", "auth timeout", then "closed".
 *
 * usage: ipc_echo_server [-l] [-t SECS] [-a ADMINKEYFILE] -k KEYFILE ADDRESS
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "ipc/addr.h"
#include "ipc/auth.h"
#include "ipc/authkey.h"
#include "ipc/frame.h"

#define ECHO_MAX_MESSAGE	(64ULL << 20)
#define ECHO_OUT_HIGH		(1 << 20)	/* then stop reading */

struct echo_conf {
	unsigned char	*key;
	size_t		 keylen;
	unsigned char	*admin_key;
	size_t		 admin_keylen;
	int		 legacy;
	double		 auth_timeout;
};

static void	echo_event(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* Print one event line and flush it, so the test sees it at once. */
static void
echo_event(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Try to send what is pending in out once more before closing. */
static void
echo_drain(int fd, struct buf *out)
{
	struct pollfd	pfd = { fd, POLLOUT, 0 };

	while (buf_used(out) > 0 && poll(&pfd, 1, 1000) == 1)
		if (buf_write_fd(out, fd) <= 0)
			break;
}

/*
 * Handle the frames in in: handshake messages while authenticating, echoes
 * afterwards. Returns 0 to go on, -1 to close.
 */
static int
echo_frames(int fd, struct buf *in, struct buf *out, struct auth_server **as)
{
	const void	*payload;
	const char	*err;
	size_t		 plen, flen;
	int		 r;

	for (;;) {
		r = frame_peek(buf_head(in), buf_used(in), *as != NULL ?
		    AUTH_MSG_MAX : ECHO_MAX_MESSAGE, &payload, &plen, &flen,
		    &err);
		if (r == 0)
			return 0;
		if (r == -1) {
			echo_event("protocol error: %s", err);
			return -1;
		}
		if (*as == NULL)
			frame_append(out, payload, plen);
		else {
			r = auth_server_feed(*as, payload, plen, out, &err);
			if (r == AUTH_FAIL) {
				echo_event("auth failed: %s", err);
				echo_drain(fd, out);
				return -1;
			}
			if (r == AUTH_OK) {
				echo_event("auth ok role=%s legacy=%d",
				    auth_server_key(*as) == 1 ?
				    "admin" : "user", auth_server_legacy(*as));
				auth_server_free(*as);
				*as = NULL;
			}
		}
		buf_consume(in, flen);
	}
}

/* Serve one connection until EOF, failure or the handshake deadline. */
static void
echo_serve(int fd, const struct echo_conf *conf)
{
	struct auth_server	*as;
	struct auth_key		 keys[2] = {
		{ conf->key, conf->keylen }, { conf->admin_key, conf->admin_keylen }
	};
	struct buf		 in = BUF_INIT, out = BUF_INIT;
	struct pollfd		 pfd;
	double			 deadline;
	ssize_t			 n;
	int			 ms, r;

	as = auth_server_new(keys, conf->admin_key != NULL ? 2 : 1,
	    conf->legacy);
	auth_server_start(as, &out);
	deadline = time_mono() + conf->auth_timeout;
	for (;;) {
		pfd.fd = fd;
		pfd.events = 0;
		if (buf_used(&out) < ECHO_OUT_HIGH)
			pfd.events |= POLLIN;
		if (buf_used(&out) > 0)
			pfd.events |= POLLOUT;
		ms = -1;
		if (as != NULL) {
			ms = (deadline - time_mono()) * 1000;
			if (ms < 0)
				ms = 0;
		}
		if ((r = poll(&pfd, 1, ms)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		if (r == 0) {
			echo_event("auth timeout");
			break;
		}
		if (pfd.revents & POLLOUT) {
			if (buf_write_fd(&out, fd) == -1 && errno != EAGAIN)
				break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = buf_read_fd(&in, fd, 65536);
			if (n == 0)
				break;
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				break;
			}
			if (echo_frames(fd, &in, &out, &as) == -1)
				break;
		}
	}
	echo_event("closed");
	auth_server_free(as);
	buf_free(&in);
	buf_free(&out);
	close(fd);
}

/* Load a key file or exit. */
static void
echo_key(const char *path, unsigned char **key, size_t *len)
{
	char	*cause;

	if (authkey_load(path, 0, key, len, &cause) == -1)
		fatalx("%s", cause);
}

int
main(int argc, char **argv)
{
	struct echo_conf	 conf;
	struct addr		 a;
	struct pollfd		 pfd;
	char			*cause, *name;
	const char		*keyfile = NULL, *adminfile = NULL;
	int			 ch, lfd, fd;

	log_init("ipc_echo_server", 0);
	memset(&conf, 0, sizeof conf);
	conf.auth_timeout = 5;
	while ((ch = getopt(argc, argv, "a:k:lt:")) != -1) {
		switch (ch) {
		case 'a':
			adminfile = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'l':
			conf.legacy = 1;
			break;
		case 't':
			conf.auth_timeout = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (keyfile == NULL || argc - optind != 1)
		goto usage;
	echo_key(keyfile, &conf.key, &conf.keylen);
	if (adminfile != NULL)
		echo_key(adminfile, &conf.admin_key, &conf.admin_keylen);
	signal(SIGPIPE, SIG_IGN);

	if (addr_parse(argv[optind], &a, &cause) == -1)
		fatalx("%s", cause);
	if ((lfd = addr_listen(&a, 16, &cause)) == -1)
		fatalx("%s", cause);
	if ((name = addr_sockname(lfd)) == NULL)
		fatal("getsockname");
	echo_event("listening %s", name);
	free(name);

	for (;;) {
		pfd.fd = lfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				continue;
			fatal("accept4");
		}
		echo_serve(fd, &conf);
	}

usage:
	fprintf(stderr, "usage: ipc_echo_server [-l] [-t SECS] "
	    "[-a ADMINKEYFILE] -k KEYFILE ADDRESS\n");
	return 2;
}
