/*
 * Framing of multiprocessing.connection messages (see frame.h).
 *
 * Lengths come from an unauthenticated peer, so every one is checked
 * against the caller's cap before anybody allocates for it.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/frame.h"

/* Read a big-endian 32-bit value. */
static uint32_t
frame_get32(const unsigned char *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* Write a big-endian 32-bit value. */
static void
frame_put32(unsigned char *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * Decode the header at the start of p. Returns 1 with the header and
 * payload lengths when the whole header is there, 0 when more bytes are
 * needed and -1 (err set) for a negative length other than -1 or a payload
 * over max. A payload that would not fit in memory counts as too large.
 */
int
frame_parse_header(const void *p, size_t n, uint64_t max, size_t *hdrlen,
    uint64_t *paylen, const char **err)
{
	const unsigned char	*u = p;
	uint32_t		 v;
	uint64_t		 len;
	size_t			 hl;

	if (n < 4)
		return 0;
	v = frame_get32(u);
	if (v == 0xffffffffU) {
		if (n < FRAME_HEADER_MAX)
			return 0;
		len = ((uint64_t)frame_get32(u + 4) << 32) | frame_get32(u + 8);
		hl = FRAME_HEADER_MAX;
	} else if (v & 0x80000000U) {
		*err = "negative frame length";
		return -1;
	} else {
		len = v;
		hl = 4;
	}
	if (len > max || len > SIZE_MAX - FRAME_HEADER_MAX - 1) {
		*err = "frame too large";
		return -1;
	}
	*hdrlen = hl;
	*paylen = len;
	return 1;
}

/*
 * If p holds a whole frame, point *payload into p (borrowed) at its payload
 * and return 1 with the payload length and the whole frame's length, which
 * is what the caller consumes. 0 and -1 as for frame_parse_header().
 */
int
frame_peek(const void *p, size_t n, uint64_t max, const void **payload,
    size_t *paylen, size_t *framelen, const char **err)
{
	size_t		hl;
	uint64_t	len;
	int		r;

	if ((r = frame_parse_header(p, n, max, &hl, &len, err)) != 1)
		return r;
	if (n - hl < len)
		return 0;
	*payload = (const unsigned char *)p + hl;
	*paylen = len;
	*framelen = hl + len;
	return 1;
}

/*
 * Encode the header for a payload of len bytes into out; returns its size.
 * Like Python 3.8+, the escape is used only when the 4-byte form cannot
 * hold the length.
 */
size_t
frame_header_encode(uint64_t len, unsigned char out[FRAME_HEADER_MAX])
{
	if (len <= FRAME_SHORT_MAX) {
		frame_put32(out, len);
		return 4;
	}
	frame_put32(out, 0xffffffffU);
	frame_put32(out + 4, len >> 32);
	frame_put32(out + 8, len & 0xffffffffU);
	return FRAME_HEADER_MAX;
}

/* Append one frame (header and payload) to b. */
void
frame_append(struct buf *b, const void *payload, size_t len)
{
	unsigned char	hdr[FRAME_HEADER_MAX];
	size_t		hl;

	hl = frame_header_encode(len, hdr);
	buf_reserve(b, hl + len);
	buf_append(b, hdr, hl);
	if (len > 0)
		buf_append(b, payload, len);
}

void
frame_append_buf(struct buf *out, struct buf *body)
{
	unsigned char	hdr[FRAME_HEADER_MAX];

	if (buf_used(out) == 0 && body->off >= FRAME_HEADER_MAX) {
		buf_prepend(body, hdr, frame_header_encode(buf_used(body),
		    hdr));
		buf_free(out);
		*out = *body;
		memset(body, 0, sizeof *body);
		return;
	}
	frame_append(out, buf_head(body), buf_used(body));
	buf_free(body);
}

/*
 * Write all of iov to fd, resuming after short writes and EINTR. Sockets
 * are written with MSG_NOSIGNAL so a vanished peer is EPIPE, not SIGPIPE.
 */
static int
frame_writev_all(int fd, struct iovec *iov, int iovcnt)
{
	struct msghdr	msg;
	ssize_t		n;
	size_t		done;
	int		is_socket = 1;

	while (iovcnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			iovcnt--;
			continue;
		}
		if (is_socket) {
			memset(&msg, 0, sizeof msg);
			msg.msg_iov = iov;
			msg.msg_iovlen = iovcnt;
			n = sendmsg(fd, &msg, MSG_NOSIGNAL);
			if (n == -1 && errno == ENOTSOCK) {
				is_socket = 0;
				continue;
			}
		} else
			n = writev(fd, iov, iovcnt);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done = n;
		while (iovcnt > 0 && done >= iov->iov_len) {
			done -= iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= done;
		}
	}
	return 0;
}

/*
 * Blocking: send one frame on fd with as few writes as the kernel allows
 * (one sendmsg for header and payload, so Nagle never splits them). Returns
 * 0, or -1 with errno set.
 */
int
frame_send_fd(int fd, const void *payload, size_t len)
{
	unsigned char	hdr[FRAME_HEADER_MAX];
	struct iovec	iov[2];

	iov[0].iov_base = hdr;
	iov[0].iov_len = frame_header_encode(len, hdr);
	iov[1].iov_base = (void *)payload;
	iov[1].iov_len = len;
	return frame_writev_all(fd, iov, 2);
}

/*
 * Read exactly n bytes. Returns n, 0 on EOF before the first byte, or -1
 * with cause set (EOF after some bytes, a timeout, an error).
 */
static ssize_t
frame_read_all(int fd, void *p, size_t n, char **cause)
{
	size_t	got = 0;
	ssize_t	r;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r == 0) {
			if (got == 0)
				return 0;
			*cause = xstrdup("connection closed in the middle of a "
			    "message");
			return -1;
		}
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				*cause = xstrdup("timed out waiting for the "
				    "peer");
			else
				xasprintf(cause, "read: %s", strerror(errno));
			return -1;
		}
		got += r;
	}
	return n;
}

/*
 * Blocking: read one frame of at most max payload bytes from fd. On success
 * returns 0 with *msg an allocated, NUL-terminated copy of the payload (the
 * caller frees it) and *len its length. Returns -1 with cause set on EOF,
 * a protocol error, a timeout (SO_RCVTIMEO) or a read error. Reads exactly
 * one frame and nothing after it.
 */
int
frame_recv_fd(int fd, uint64_t max, char **msg, size_t *len, char **cause)
{
	unsigned char	 hdr[FRAME_HEADER_MAX];
	const char	*err;
	size_t		 hl, have = 4;
	uint64_t	 pl;
	ssize_t		 r;
	char		*p;
	int		 done;

	if ((r = frame_read_all(fd, hdr, 4, cause)) <= 0) {
		if (r == 0)
			*cause = xstrdup("connection closed");
		return -1;
	}
	while ((done = frame_parse_header(hdr, have, max, &hl, &pl,
	    &err)) == 0) {
		if ((r = frame_read_all(fd, hdr + have, FRAME_HEADER_MAX - have,
		    cause)) <= 0) {
			if (r == 0)
				*cause = xstrdup("connection closed in the "
				    "middle of a message");
			return -1;
		}
		have = FRAME_HEADER_MAX;
	}
	if (done == -1) {
		*cause = xstrdup(err);
		return -1;
	}
	p = xmalloc(pl + 1);
	if (pl > 0 && (r = frame_read_all(fd, p, pl, cause)) <= 0) {
		if (r == 0)
			*cause = xstrdup("connection closed in the middle of "
			    "a message");
		free(p);
		return -1;
	}
	p[pl] = '\0';
	*msg = p;
	*len = pl;
	return 0;
}
