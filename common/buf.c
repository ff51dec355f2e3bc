/*
 * Growable byte buffers (see buf.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/xmalloc.h"

/* Make room for at least n more bytes after len. */
void
buf_reserve(struct buf *b, size_t n)
{
	size_t	want;

	if (b->cap - b->len >= n)
		return;
	if (b->off > 0 && b->off >= b->len / 2 && b->cap - buf_used(b) >= n) {
		memmove(b->data, b->data + b->off, buf_used(b));
		b->len -= b->off;
		b->off = 0;
		return;
	}
	want = b->cap ? b->cap : 256;
	while (want - b->len < n)
		want *= 2;
	b->data = xrealloc(b->data, want);
	b->cap = want;
}

/* buf_append() when the tail has no room (or n is 0). */
void
buf_append_slow(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_reserve(b, n);
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void
buf_appendf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void
buf_append_uint(struct buf *b, unsigned long long v)
{
	/* Two digits per division: half of them. */
	static const char	pairs[] =
	    "00010203040506070809101112131415161718192021222324252627282930"
	    "31323334353637383940414243444546474849505152535455565758596061"
	    "6263646566676869707172737475767778798081828384858687888990919293"
	    "949596979899";
	char			tmp[24];
	size_t			n = sizeof tmp;
	unsigned		i;

	while (v >= 100) {
		i = (unsigned)(v % 100) * 2;
		v /= 100;
		tmp[--n] = pairs[i + 1];
		tmp[--n] = pairs[i];
	}
	if (v >= 10) {
		i = (unsigned)v * 2;
		tmp[--n] = pairs[i + 1];
		tmp[--n] = pairs[i];
	} else
		tmp[--n] = (char)('0' + v);
	buf_append(b, tmp + n, sizeof tmp - n);
}

/* Drop n bytes from the front. */
void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

void
buf_reset_headroom(struct buf *b, size_t n, size_t size)
{
	b->off = b->len = 0;
	buf_reserve(b, n + size);
	b->off = b->len = n;
}

void
buf_prepend(struct buf *b, const void *p, size_t n)
{
	size_t	used = buf_used(b);

	if (b->off < n) {
		buf_reserve(b, n);
		memmove(b->data + n, b->data + b->off, used);
		b->off = n;
		b->len = n + used;
	}
	b->off -= n;
	memcpy(b->data + b->off, p, n);
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

/* Give back memory when an empty buffer grew beyond keep bytes. */
void
buf_trim(struct buf *b, size_t keep)
{
	if (buf_used(b) == 0 && b->cap > keep)
		buf_free(b);
}

/* One read(2) of at most max bytes into the buffer's tail. */
ssize_t
buf_read_fd(struct buf *b, int fd, size_t max)
{
	ssize_t	n;

	buf_reserve(b, max);
	n = read(fd, b->data + b->len, max);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

/* One write(2) of as much as is pending; returns bytes written or -1. */
ssize_t
buf_write_fd(struct buf *b, int fd)
{
	ssize_t	n;

	if (buf_used(b) == 0)
		return 0;
	n = write(fd, buf_head(b), buf_used(b));
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

/*
 * Write everything pending, waiting while fd is full if it is non-blocking.
 * Returns 0, or -1 with errno set, what was not written still pending.
 */
int
buf_flush_fd(struct buf *b, int fd)
{
	struct pollfd	pfd;
	ssize_t		n;

	while (buf_used(b) > 0) {
		if ((n = buf_write_fd(b, fd)) > 0)
			continue;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}
