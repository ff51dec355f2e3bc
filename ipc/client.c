/*
 * Blocking listener client (see client.h). Replies are read in large
 * chunks into a buffer and split into frames there, so streaming millions
 * of small replies costs few system calls.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/addr.h"
#include "ipc/auth.h"
#include "ipc/client.h"
#include "ipc/frame.h"

#define IPC_CLIENT_READ_SIZE	65536
#define IPC_CLIENT_KEEP		(1024 * 1024)	/* kept when idle */

/*
 * A frame longer than one read is received straight into the message
 * handed to the caller (big), once its header is in: no growing of the
 * input buffer by doubling, no copy of the whole payload out of it.
 */
struct ipc_client {
	int		 fd;
	struct buf	 in;		/* received, not yet returned */
	struct buf	 out;		/* queued, not yet sent */
	char		*big;		/* a long payload being received */
	size_t		 big_len;
	size_t		 big_have;
};

/* Wrap a connected, authenticated socket; takes ownership of fd. */
struct ipc_client *
ipc_client_open(int fd)
{
	struct ipc_client	*c;

	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	return c;
}

/*
 * Connect to the listener at spec and authenticate with key (flags as for
 * auth_client_handshake()). Returns the client, or NULL with cause set.
 */
struct ipc_client *
ipc_client_connect(const char *spec, const unsigned char *key, size_t keylen,
    int flags, char **cause)
{
	struct addr	 a;
	char		*why;
	int		 fd;

	if (addr_parse(spec, &a, cause) == -1)
		return NULL;
	if ((fd = addr_connect(&a, cause)) == -1) {
		addr_free(&a);
		return NULL;
	}
	if (auth_client_handshake(fd, key, keylen, flags, &why) == -1) {
		xasprintf(cause, "%s: %s", a.display, why);
		free(why);
		close(fd);
		addr_free(&a);
		return NULL;
	}
	addr_free(&a);
	return ipc_client_open(fd);
}

/* The socket, for poll(). */
int
ipc_client_fd(const struct ipc_client *c)
{
	return c->fd;
}

/* Bound each blocking read and write by ms (0 = wait forever). */
int
ipc_client_set_timeout(struct ipc_client *c, int ms)
{
	struct timeval	tv;

	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
		return -1;
	return 0;
}

/* Append one frame to the send queue; nothing is written yet. */
void
ipc_client_queue(struct ipc_client *c, const void *p, size_t len)
{
	frame_append(&c->out, p, len);
}

/* Bytes queued and not yet sent. */
size_t
ipc_client_pending(const struct ipc_client *c)
{
	return buf_used(&c->out);
}

/*
 * Send queued bytes. Blocking unless dontwait, which stops at the first
 * EAGAIN. Returns 0, or -1 with errno set.
 */
static int
ipc_client_write(struct ipc_client *c, int dontwait)
{
	ssize_t	n;
	int	flags = MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0);

	while (buf_used(&c->out) > 0) {
		n = send(c->fd, buf_head(&c->out), buf_used(&c->out), flags);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (dontwait && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				return 0;
			return -1;
		}
		buf_consume(&c->out, n);
	}
	buf_trim(&c->out, IPC_CLIENT_KEEP);
	return 0;
}

/* Blocking: send everything queued. Returns 0, or -1 with errno set. */
int
ipc_client_flush(struct ipc_client *c)
{
	return ipc_client_write(c, 0);
}

/* Send what the socket takes now; see ipc_client_pending() for the rest. */
int
ipc_client_try_flush(struct ipc_client *c)
{
	return ipc_client_write(c, 1);
}

/*
 * Blocking: send one frame (after anything queued) with one system call
 * where the kernel allows. Returns 0, or -1 with errno set.
 */
int
ipc_client_send(struct ipc_client *c, const void *p, size_t len)
{
	if (ipc_client_flush(c) == -1)
		return -1;
	return frame_send_fd(c->fd, p, len);
}

/*
 * Take one whole frame off the input buffer: 1 with an allocated,
 * NUL-terminated copy in *msg, 0 if none is complete, -1 on a protocol
 * error.
 */
static int
ipc_client_next(struct ipc_client *c, char **msg, size_t *len, uint64_t max,
    char **cause)
{
	const void	*payload;
	const char	*err;
	size_t		 plen, flen, hl;
	uint64_t	 blen;
	char		*p;
	int		 r;

	if (c->big != NULL) {
		if (c->big_have < c->big_len)
			return 0;
		c->big[c->big_len] = '\0';
		*msg = c->big;
		*len = c->big_len;
		c->big = NULL;
		return 1;
	}
	r = frame_peek(buf_head(&c->in), buf_used(&c->in), max, &payload,
	    &plen, &flen, &err);
	if (r == -1) {
		*cause = xstrdup(err);
		return -1;
	}
	if (r == 0) {
		/* Incomplete: what is buffered is all this frame's. */
		if (frame_parse_header(buf_head(&c->in), buf_used(&c->in), max,
		    &hl, &blen, &err) == 1 && blen > IPC_CLIENT_READ_SIZE) {
			c->big = xmalloc((size_t)blen + 1);
			c->big_len = (size_t)blen;
			c->big_have = buf_used(&c->in) - hl;
			memcpy(c->big, buf_head(&c->in) + hl, c->big_have);
			buf_consume(&c->in, buf_used(&c->in));
		}
		return 0;
	}
	p = xmalloc(plen + 1);
	if (plen > 0)
		memcpy(p, payload, plen);
	p[plen] = '\0';
	buf_consume(&c->in, flen);
	buf_trim(&c->in, IPC_CLIENT_KEEP);
	*msg = p;
	*len = plen;
	return 1;
}

/*
 * One recv() into the input buffer: bytes read, 0 at EOF, -1 on error
 * (errno set; EAGAIN with dontwait or after a timeout).
 */
static ssize_t
ipc_client_fill(struct ipc_client *c, int dontwait)
{
	ssize_t	n;
	int	flags = dontwait ? MSG_DONTWAIT : 0;

	if (c->big != NULL) {
		do {
			n = recv(c->fd, c->big + c->big_have,
			    c->big_len - c->big_have, flags);
		} while (n == -1 && errno == EINTR);
		if (n > 0)
			c->big_have += n;
		return n;
	}
	buf_reserve(&c->in, IPC_CLIENT_READ_SIZE);
	do {
		n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len,
		    flags);
	} while (n == -1 && errno == EINTR);
	if (n > 0)
		c->in.len += n;
	return n;
}

/* Describe why the connection ended or failed. */
static void
ipc_client_cause(struct ipc_client *c, ssize_t n, char **cause)
{
	if (n == 0 && buf_used(&c->in) == 0 && c->big == NULL)
		*cause = xstrdup("connection closed by the server");
	else if (n == 0)
		*cause = xstrdup("connection closed in the middle of a "
		    "message");
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		*cause = xstrdup("timed out waiting for the server");
	else
		xasprintf(cause, "read: %s", strerror(errno));
}

/*
 * Blocking: receive one frame of at most max bytes. Returns 0 with *msg an
 * allocated, NUL-terminated copy of the payload (the caller frees it) and
 * *len its length, or -1 with cause set (EOF, oversized or malformed frame,
 * timeout, error).
 */
int
ipc_client_recv(struct ipc_client *c, char **msg, size_t *len, uint64_t max,
    char **cause)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = ipc_client_next(c, msg, len, max, cause)) != 0)
			return r == 1 ? 0 : -1;
		if ((n = ipc_client_fill(c, 0)) <= 0) {
			ipc_client_cause(c, n, cause);
			return -1;
		}
	}
}

/*
 * Non-blocking: return 1 with a frame as for ipc_client_recv() if one is
 * complete after reading what is available, 0 if not yet, -1 with cause on
 * EOF or error.
 */
int
ipc_client_try_recv(struct ipc_client *c, char **msg, size_t *len,
    uint64_t max, char **cause)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = ipc_client_next(c, msg, len, max, cause)) != 0)
			return r;
		if ((n = ipc_client_fill(c, 1)) <= 0) {
			if (n == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK))
				return 0;
			ipc_client_cause(c, n, cause);
			return -1;
		}
	}
}

/* Close the connection and free the client. Unsent frames are dropped. */
void
ipc_client_close(struct ipc_client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->big);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
}
