/*
 * Unit tests of ipc/addr.c and ipc/client.c: address specs, listening
 * (stale and live unix sockets, modes, flags), connecting, and the blocking
 * client against the handshake state machine.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "ipc/addr.h"
#include "ipc/auth.h"
#include "ipc/client.h"
#include "ipc/frame.h"

/* Parse spec, which must succeed. */
static void
parse_ok(const char *spec, struct addr *a)
{
	char	*cause = NULL;

	ck_assert_msg(addr_parse(spec, a, &cause) == 0, "%s: %s", spec, cause);
	ck_assert_str_eq(a->display, spec);
}

/* Parse spec, which must fail with exactly want. */
static void
parse_fails(const char *spec, const char *want)
{
	struct addr	 a;
	char		*cause = NULL;

	ck_assert_int_eq(addr_parse(spec, &a, &cause), -1);
	ck_assert_ptr_nonnull(cause);
	ck_assert_str_eq(cause, want);
	ck_assert_ptr_null(a.display);
	free(cause);
}

START_TEST(test_parse_unix)
{
	struct addr		 a;
	struct sockaddr_un	*sun;

	parse_ok("unix:/run/mpsup/mpsup.sock", &a);
	ck_assert_int_eq(a.family, AF_UNIX);
	sun = (struct sockaddr_un *)&a.ss;
	ck_assert_int_eq(sun->sun_family, AF_UNIX);
	ck_assert_str_eq(sun->sun_path, "/run/mpsup/mpsup.sock");
	addr_free(&a);
	parse_ok("unix:relative.sock", &a);
	ck_assert_str_eq(((struct sockaddr_un *)&a.ss)->sun_path,
	    "relative.sock");
	addr_free(&a);
}
END_TEST

START_TEST(test_parse_unix_bad)
{
	struct addr	a;
	char		spec[200], want[300];

	parse_fails("unix:", "unix:: missing socket path");
	memset(spec, 'p', sizeof spec);
	memcpy(spec, "unix:", 5);
	spec[5 + 108] = '\0';
	snprintf(want, sizeof want, "%s: socket path too long (at most 107 "
	    "bytes)", spec);
	parse_fails(spec, want);
	spec[5 + 107] = '\0';
	parse_ok(spec, &a);
	addr_free(&a);
}
END_TEST

START_TEST(test_parse_ipv4)
{
	struct addr		 a;
	struct sockaddr_in	*sin;

	parse_ok("127.0.0.1:7300", &a);
	ck_assert_int_eq(a.family, AF_INET);
	ck_assert_uint_eq(a.len, sizeof *sin);
	sin = (struct sockaddr_in *)&a.ss;
	ck_assert_uint_eq(ntohs(sin->sin_port), 7300);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	addr_free(&a);
	parse_ok("0.0.0.0:65535", &a);
	ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&a.ss)->sin_port),
	    65535);
	addr_free(&a);
	parse_ok("10.1.2.3:0", &a);
	addr_free(&a);
}
END_TEST

START_TEST(test_parse_ipv6)
{
	struct addr		 a;
	struct sockaddr_in6	*sin6;

	parse_ok("[::1]:7300", &a);
	ck_assert_int_eq(a.family, AF_INET6);
	sin6 = (struct sockaddr_in6 *)&a.ss;
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 7300);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	addr_free(&a);
	parse_ok("[::]:1", &a);
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(
	    &((struct sockaddr_in6 *)&a.ss)->sin6_addr));
	addr_free(&a);
}
END_TEST

START_TEST(test_parse_localhost_prefers_ipv4)
{
	struct addr		 a;
	struct sockaddr_in	*sin;

	/* Python's Client(("localhost", port)) is AF_INET only. */
	parse_ok("localhost:7300", &a);
	ck_assert_int_eq(a.family, AF_INET);
	sin = (struct sockaddr_in *)&a.ss;
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	ck_assert_uint_eq(ntohs(sin->sin_port), 7300);
	addr_free(&a);
}
END_TEST

START_TEST(test_parse_bad_ports)
{
	parse_fails("127.0.0.1", "127.0.0.1: missing port (HOST:PORT, "
	    "[IPV6]:PORT or unix:PATH)");
	parse_fails("127.0.0.1:", "127.0.0.1:: missing port");
	parse_fails("127.0.0.1:abc", "127.0.0.1:abc: bad port \"abc\"");
	parse_fails("127.0.0.1:65536", "127.0.0.1:65536: bad port \"65536\"");
	parse_fails("127.0.0.1:123456", "127.0.0.1:123456: bad port "
	    "\"123456\"");
	parse_fails("127.0.0.1:-1", "127.0.0.1:-1: bad port \"-1\"");
	parse_fails("127.0.0.1:+80", "127.0.0.1:+80: bad port \"+80\"");
	parse_fails("127.0.0.1: 80", "127.0.0.1: 80: bad port \" 80\"");
	parse_fails("127.0.0.1:80x", "127.0.0.1:80x: bad port \"80x\"");
	parse_fails("[::1]", "[::1]: missing port ([ADDRESS]:PORT)");
	parse_fails("[::1]:", "[::1]:: missing port");
	parse_fails("[::1]80", "[::1]80: missing port ([ADDRESS]:PORT)");
}
END_TEST

START_TEST(test_parse_bad_hosts)
{
	parse_fails(":7300", ":7300: missing host");
	parse_fails("[]:7300", "[]:7300: missing host");
	parse_fails("::1:7300", "::1:7300: an IPv6 address must be written "
	    "[ADDRESS]:PORT");
	parse_fails("[::1:7300", "[::1:7300: missing ']'");
	parse_fails("[127.0.0.1]:7300", "[127.0.0.1]:7300: not an IPv6 "
	    "address");
	parse_fails("", ": missing port (HOST:PORT, [IPV6]:PORT or unix:PATH)");
}
END_TEST

START_TEST(test_parse_unresolvable)
{
	struct addr	 a;
	char		*cause = NULL;

	ck_assert_int_eq(addr_parse("no-such-host.invalid:80", &a, &cause), -1);
	ck_assert_msg(strncmp(cause, "no-such-host.invalid:80: cannot "
	    "resolve \"no-such-host.invalid\": ", 55) == 0, "%s", cause);
	free(cause);
}
END_TEST

/* A fresh temporary directory. */
static char *
tmpdir(void)
{
	static char	dir[64];

	strcpy(dir, "/tmp/check_addr.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

/* Check the flags every listening fd must have. */
static void
check_listen_flags(int fd)
{
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	ck_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* Accept one connection on a non-blocking listener, waiting for it. */
static int
accept_one(int lfd)
{
	struct pollfd	pfd = { lfd, POLLIN, 0 };

	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
}

START_TEST(test_listen_unix_mode_and_connect)
{
	struct addr	 a;
	struct stat	 st;
	char		*dir = tmpdir(), spec[128], *cause = NULL, *name;
	int		 lfd, cfd, sfd;

	snprintf(spec, sizeof spec, "unix:%s/s.sock", dir);
	parse_ok(spec, &a);
	umask(0);	/* the mode must not depend on the umask */
	lfd = addr_listen(&a, 16, &cause);
	ck_assert_msg(lfd != -1, "%s", cause);
	check_listen_flags(lfd);
	ck_assert_int_eq(stat(spec + 5, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, ADDR_UNIX_MODE);
	ck_assert_ptr_nonnull(name = addr_sockname(lfd));
	ck_assert_str_eq(name, spec);
	free(name);

	cfd = addr_connect(&a, &cause);
	ck_assert_msg(cfd != -1, "%s", cause);
	ck_assert(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
	ck_assert(!(fcntl(cfd, F_GETFL) & O_NONBLOCK));
	sfd = accept_one(lfd);
	ck_assert_int_ne(sfd, -1);
	ck_assert_int_eq(write(cfd, "x", 1), 1);
	close(sfd);
	close(cfd);
	close(lfd);
	addr_unlink(&a);
	ck_assert_int_eq(access(spec + 5, F_OK), -1);
	addr_free(&a);
	rmdir(dir);
}
END_TEST

START_TEST(test_listen_unix_replaces_stale_refuses_live)
{
	struct addr	 a;
	char		*dir = tmpdir(), spec[128], want[256];
	char		*cause = NULL;
	int		 lfd, lfd2, fd;

	snprintf(spec, sizeof spec, "unix:%s/s.sock", dir);
	parse_ok(spec, &a);

	/* A socket file left by a dead process is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a.ss, a.len), 0);
	close(fd);
	ck_assert_int_eq(access(spec + 5, F_OK), 0);
	lfd = addr_listen(&a, 16, &cause);
	ck_assert_msg(lfd != -1, "%s", cause);

	/* A live one is not. */
	snprintf(want, sizeof want, "%s: address in use (another process is "
	    "listening)", spec);
	ck_assert_int_eq(addr_listen(&a, 16, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	/* ... and still answers. */
	fd = addr_connect(&a, &cause);
	ck_assert_int_ne(fd, -1);
	close(fd);
	close(lfd);

	/* Nor is a file that is not a socket. */
	unlink(spec + 5);
	fd = open(spec + 5, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(want, sizeof want, "%s: file exists and is not a socket",
	    spec);
	ck_assert_int_eq(lfd2 = addr_listen(&a, 16, &cause), -1);
	ck_assert_str_eq(cause, want);
	free(cause);
	ck_assert_int_eq(access(spec + 5, F_OK), 0);
	unlink(spec + 5);
	addr_free(&a);
	rmdir(dir);
}
END_TEST

/* Entries of dir other than . and .. */
static int
dir_entries(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*e;
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/*
 * The socket file appears listening (it is renamed into place after
 * listen()), and no temporary name is ever left: after a start, after a
 * refusal, and with a path too long for the temporary name (then bound
 * in place).
 */
START_TEST(test_listen_unix_leaves_no_temporary_file)
{
	struct addr	 a, b;
	char		*dir = tmpdir(), spec[160], *cause = NULL;
	int		 lfd, fd;
	size_t		 n;

	snprintf(spec, sizeof spec, "unix:%s/s.sock", dir);
	parse_ok(spec, &a);
	ck_assert_int_ne(lfd = addr_listen(&a, 16, &cause), -1);
	ck_assert_int_eq(dir_entries(dir), 1);
	ck_assert_int_ne(fd = addr_connect(&a, &cause), -1);
	close(fd);
	ck_assert_int_eq(addr_listen(&a, 16, &cause), -1);
	free(cause);
	ck_assert_int_eq(dir_entries(dir), 1);
	close(lfd);
	unlink(spec + 5);

	/* A name that fills sun_path but for the temporary suffix. */
	n = snprintf(spec, sizeof spec, "unix:%s/", dir);
	while (n < 5 + sizeof ((struct sockaddr_un *)NULL)->sun_path - 4)
		spec[n++] = 'x';
	spec[n] = '\0';
	parse_ok(spec, &b);
	ck_assert_msg((lfd = addr_listen(&b, 16, &cause)) != -1, "%s", cause);
	ck_assert_int_eq(dir_entries(dir), 1);
	ck_assert_int_ne(fd = addr_connect(&b, &cause), -1);
	close(fd);
	close(lfd);
	unlink(spec + 5);
	addr_free(&a);
	addr_free(&b);
	rmdir(dir);
}
END_TEST

START_TEST(test_listen_tcp_v4_and_v6)
{
	static const char	*specs[] = { "127.0.0.1:0", "[::1]:0" };
	struct addr		 a, b;
	char			*cause = NULL, *name;
	socklen_t		 len;
	size_t			 i;
	int			 lfd, cfd, sfd, on;

	for (i = 0; i < 2; i++) {
		parse_ok(specs[i], &a);
		lfd = addr_listen(&a, 16, &cause);
		ck_assert_msg(lfd != -1, "%s", cause);
		check_listen_flags(lfd);
		on = 0;
		len = sizeof on;
		ck_assert_int_eq(getsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on,
		    &len), 0);
		ck_assert_int_ne(on, 0);
		if (a.family == AF_INET6) {
			on = 0;
			ck_assert_int_eq(getsockopt(lfd, IPPROTO_IPV6,
			    IPV6_V6ONLY, &on, &len), 0);
			ck_assert_int_ne(on, 0);
		}
		ck_assert_ptr_nonnull(name = addr_sockname(lfd));
		ck_assert_msg(strncmp(name, i == 0 ? "127.0.0.1:" : "[::1]:",
		    i == 0 ? 10 : 6) == 0 && strcmp(name, specs[i]) != 0,
		    "%s", name);
		parse_ok(name, &b);
		cfd = addr_connect(&b, &cause);
		ck_assert_msg(cfd != -1, "%s", cause);
		ck_assert(fcntl(cfd, F_GETFD) & FD_CLOEXEC);
		ck_assert(!(fcntl(cfd, F_GETFL) & O_NONBLOCK));
		sfd = accept_one(lfd);
		ck_assert_int_ne(sfd, -1);
		close(sfd);
		close(cfd);
		close(lfd);

		/* Once it is gone, connecting is refused. */
		ck_assert_int_eq(addr_connect(&b, &cause), -1);
		ck_assert_msg(strstr(cause, ": connect: Connection refused") !=
		    NULL, "%s", cause);
		free(cause);
		free(name);
		addr_free(&b);
		addr_free(&a);
	}
}
END_TEST

#define KEY	((const unsigned char *)"client-test-key-0123456789")
#define KEYLEN	26

/*
 * Serve one connection in a child: authenticate with the state machine,
 * then echo every frame back until EOF.
 */
static pid_t
echo_child(int lfd, int legacy)
{
	struct auth_server	*as;
	struct buf		 out = BUF_INIT;
	const char		*err;
	char			*msg, *cause;
	size_t			 len;
	pid_t			 pid;
	int			 fd, r = AUTH_MORE;

	if ((pid = fork()) != 0)
		return pid;
	if ((fd = accept_one(lfd)) == -1)
		_exit(2);
	as = auth_server_new(&(struct auth_key){ KEY, KEYLEN }, 1, legacy);
	auth_server_start(as, &out);
	while (r == AUTH_MORE) {
		if (buf_used(&out) > 0 && send(fd, buf_head(&out),
		    buf_used(&out), MSG_NOSIGNAL) != (ssize_t)buf_used(&out))
			_exit(2);
		buf_reset(&out);
		if (frame_recv_fd(fd, AUTH_MSG_MAX, &msg, &len, &cause) == -1)
			_exit(3);
		r = auth_server_feed(as, msg, len, &out, &err);
		free(msg);
	}
	if (buf_used(&out) > 0)
		send(fd, buf_head(&out), buf_used(&out), MSG_NOSIGNAL);
	if (r != AUTH_OK)
		_exit(4);
	while (frame_recv_fd(fd, 64 << 20, &msg, &len, &cause) == 0) {
		if (frame_send_fd(fd, msg, len) == -1)
			_exit(5);
		free(msg);
	}
	_exit(0);
}

/* Reap an echo child and check its exit code. */
static void
echo_wait(pid_t pid, int want)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), want);
}

START_TEST(test_client_roundtrip_and_batch)
{
	struct ipc_client	*c;
	struct addr		 a;
	char			*dir = tmpdir(), spec[128];
	char			*cause = NULL, *msg;
	char			 req[64], *big;
	size_t			 len, i, n = 20000;
	pid_t			 pid;
	int			 lfd;

	snprintf(spec, sizeof spec, "unix:%s/s.sock", dir);
	parse_ok(spec, &a);
	ck_assert_int_ne(lfd = addr_listen(&a, 16, &cause), -1);
	pid = echo_child(lfd, 0);

	c = ipc_client_connect(spec, KEY, KEYLEN, 0, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert(fcntl(ipc_client_fd(c), F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(ipc_client_send(c, "hello", 5), 0);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 16, &cause), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(msg, "hello");
	free(msg);
	ck_assert_int_eq(ipc_client_send(c, "", 0), 0);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 16, &cause), 0);
	ck_assert_uint_eq(len, 0);
	free(msg);

	/* Many small frames, pipelined full duplex with poll(). */
	for (i = 0; i < n; i++) {
		len = snprintf(req, sizeof req, "{\"op\":\"status\",\"n\":%zu}",
		    i);
		ipc_client_queue(c, req, len);
	}
	ck_assert_uint_gt(ipc_client_pending(c), 0);
	i = 0;
	while (i < n) {
		struct pollfd	pfd = { ipc_client_fd(c), POLLIN, 0 };
		int		r;

		if (ipc_client_pending(c) > 0)
			pfd.events |= POLLOUT;
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		if (pfd.revents & POLLOUT)
			ck_assert_int_eq(ipc_client_try_flush(c), 0);
		while ((r = ipc_client_try_recv(c, &msg, &len, 64,
		    &cause)) == 1) {
			snprintf(req, sizeof req,
			    "{\"op\":\"status\",\"n\":%zu}", i);
			ck_assert_str_eq(msg, req);
			free(msg);
			i++;
		}
		ck_assert_int_eq(r, 0);
	}
	ck_assert_uint_eq(ipc_client_pending(c), 0);

	/* A large frame, and the receive cap. */
	big = malloc(4 << 20);
	memset(big, 'b', 4 << 20);
	ck_assert_int_eq(ipc_client_send(c, big, 4 << 20), 0);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 4 << 20, &cause), 0);
	ck_assert_uint_eq(len, 4 << 20);
	ck_assert(memcmp(msg, big, len) == 0);
	free(msg);
	ipc_client_queue(c, big, 100);
	ck_assert_int_eq(ipc_client_flush(c), 0);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 99, &cause), -1);
	ck_assert_str_eq(cause, "frame too large");
	free(cause);
	free(big);
	ipc_client_close(c);
	echo_wait(pid, 0);
	close(lfd);
	addr_unlink(&a);
	addr_free(&a);
	rmdir(dir);
}
END_TEST

/* Write frames of these sizes (payload byte i % 251) to fd, then close. */
static pid_t
frames_child(int fd, const size_t *sizes, size_t n, size_t cut)
{
	struct buf	 b = BUF_INIT;
	char		*p;
	size_t		 i, j;
	pid_t		 pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid != 0)
		return pid;
	for (i = 0; i < n; i++) {
		p = malloc(sizes[i] ? sizes[i] : 1);
		for (j = 0; j < sizes[i]; j++)
			p[j] = (char)(j % 251);
		frame_append(&b, p, sizes[i]);
		free(p);
	}
	if (cut > 0)
		b.len -= cut;
	if (write(fd, buf_head(&b), buf_used(&b)) != (ssize_t)buf_used(&b))
		_exit(1);
	_exit(0);
}

static void
frame_is(const char *msg, size_t len, size_t want)
{
	size_t	j;

	ck_assert_uint_eq(len, want);
	ck_assert_int_eq(msg[len], '\0');
	for (j = 0; j < len; j++)
		if (msg[j] != (char)(j % 251))
			ck_abort_msg("byte %zu of a %zu-byte frame", j, len);
}

/*
 * Frames longer than one read go straight into the message: small and
 * long ones back to back arrive whole and in order, blocking or not; a
 * long one cut short by the peer's close is reported as such; a long
 * header over the cap is refused before anything is allocated for it.
 */
START_TEST(test_client_long_frames_arrive_whole_and_in_order)
{
	static const size_t	 sizes[] = { 5, 300000, 0, 70000, 7, 1 << 20 };
	static const size_t	 over[] = { 4 << 20 };
	struct ipc_client	*c;
	char			*msg, *cause = NULL;
	size_t			 len, i;
	int			 sv[2], r;
	pid_t			 pid;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = frames_child(sv[1], sizes, 6, 0);
	close(sv[1]);
	c = ipc_client_open(sv[0]);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 2 << 20,
		    &cause), 0);
		frame_is(msg, len, sizes[i]);
		free(msg);
	}
	for (i = 3; i < 6;) {
		struct pollfd	pfd = { ipc_client_fd(c), POLLIN, 0 };

		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		while (i < 6 && (r = ipc_client_try_recv(c, &msg, &len,
		    2 << 20, &cause)) == 1) {
			frame_is(msg, len, sizes[i++]);
			free(msg);
		}
	}
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 2 << 20, &cause), -1);
	ck_assert_str_eq(cause, "connection closed by the server");
	free(cause);
	ipc_client_close(c);
	echo_wait(pid, 0);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = frames_child(sv[1], sizes + 1, 1, 1000);
	close(sv[1]);
	c = ipc_client_open(sv[0]);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 2 << 20, &cause), -1);
	ck_assert_str_eq(cause, "connection closed in the middle of a message");
	free(cause);
	ipc_client_close(c);
	echo_wait(pid, 0);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = frames_child(sv[1], over, 1, (4 << 20) - 100);
	close(sv[1]);
	c = ipc_client_open(sv[0]);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 1 << 20, &cause), -1);
	ck_assert_str_eq(cause, "frame too large");
	free(cause);
	ipc_client_close(c);
	echo_wait(pid, 0);
}
END_TEST

START_TEST(test_client_errors)
{
	struct ipc_client	*c;
	struct addr		 a;
	char			*dir = tmpdir(), spec[128], want[256];
	char			*cause = NULL, *msg;
	size_t			 len;
	pid_t			 pid;
	int			 lfd;

	/* Nobody listening. */
	snprintf(spec, sizeof spec, "unix:%s/s.sock", dir);
	snprintf(want, sizeof want, "%s: connect: No such file or directory",
	    spec);
	ck_assert_ptr_null(ipc_client_connect(spec, KEY, KEYLEN, 0, &cause));
	ck_assert_str_eq(cause, want);
	free(cause);
	/* A bad spec. */
	ck_assert_ptr_null(ipc_client_connect("nowhere", KEY, KEYLEN, 0,
	    &cause));
	ck_assert_str_eq(cause, "nowhere: missing port (HOST:PORT, "
	    "[IPV6]:PORT or unix:PATH)");
	free(cause);

	/* A legacy client against a server with legacy off. */
	parse_ok(spec, &a);
	ck_assert_int_ne(lfd = addr_listen(&a, 16, &cause), -1);
	pid = echo_child(lfd, 0);
	snprintf(want, sizeof want, "%s: the server rejected our digest "
	    "(wrong authkey?)", spec);
	ck_assert_ptr_null(ipc_client_connect(spec, KEY, KEYLEN,
	    IPC_CLIENT_LEGACY, &cause));
	ck_assert_str_eq(cause, want);
	free(cause);
	echo_wait(pid, 4);

	/* The legacy client with legacy on works; then the server hangs up. */
	pid = echo_child(lfd, 1);
	c = ipc_client_connect(spec, KEY, KEYLEN, IPC_CLIENT_LEGACY, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_int_eq(ipc_client_set_timeout(c, 200), 0);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 16, &cause), -1);
	ck_assert_str_eq(cause, "timed out waiting for the server");
	free(cause);
	shutdown(ipc_client_fd(c), SHUT_WR);
	ck_assert_int_eq(ipc_client_recv(c, &msg, &len, 16, &cause), -1);
	ck_assert_str_eq(cause, "connection closed by the server");
	free(cause);
	ipc_client_close(c);
	echo_wait(pid, 0);
	close(lfd);
	addr_unlink(&a);
	addr_free(&a);
	rmdir(dir);
}
END_TEST

static Suite *
addr_suite(void)
{
	Suite	*s = suite_create("addr");
	TCase	*tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_unix);
	tcase_add_test(tc, test_parse_unix_bad);
	tcase_add_test(tc, test_parse_ipv4);
	tcase_add_test(tc, test_parse_ipv6);
	tcase_add_test(tc, test_parse_localhost_prefers_ipv4);
	tcase_add_test(tc, test_parse_bad_ports);
	tcase_add_test(tc, test_parse_bad_hosts);
	tcase_add_test(tc, test_parse_unresolvable);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_add_test(tc, test_listen_unix_mode_and_connect);
	tcase_add_test(tc, test_listen_unix_replaces_stale_refuses_live);
	tcase_add_test(tc, test_listen_unix_leaves_no_temporary_file);
	tcase_add_test(tc, test_listen_tcp_v4_and_v6);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_test(tc, test_client_roundtrip_and_batch);
	tcase_add_test(tc, test_client_errors);
	tcase_add_test(tc, test_client_long_frames_arrive_whole_and_in_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(addr_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
