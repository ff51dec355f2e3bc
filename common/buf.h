/*
 * A growable byte buffer with a read offset, used for pipe and socket I/O:
 * data is appended at the end and consumed from the front without moving
 * the rest until the space is needed.
 */
#ifndef MPSUP_BUF_H
#define MPSUP_BUF_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

struct buf {
	char	*data;
	size_t	 off;	/* first unconsumed byte */
	size_t	 len;	/* end of valid data */
	size_t	 cap;
};

#define BUF_INIT { NULL, 0, 0, 0 }

static inline size_t	 buf_used(const struct buf *b) { return b->len - b->off; }
static inline char	*buf_head(const struct buf *b) { return b->data + b->off; }

void	 buf_reserve(struct buf *, size_t);
void	 buf_append_slow(struct buf *, const void *, size_t);

/*
 * Append n bytes. Inline for the common case of room at the tail: the
 * job records and replies are built from dozens of short appends each.
 */
static inline void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (b->cap - b->len < n || n == 0) {
		buf_append_slow(b, p, n);
		return;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static inline void
buf_append_str(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void	 buf_appendf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Decimal digits of v, without printf. */
void	 buf_append_uint(struct buf *, unsigned long long v);
void	 buf_consume(struct buf *, size_t);
/*
 * Empty b and make room for size bytes, with n bytes left free in front
 * of them: a header found once the rest is written (a frame's length) is
 * then put in front with buf_prepend() without moving the rest.
 */
void	 buf_reset_headroom(struct buf *, size_t n, size_t size);
/* Put n bytes in front of the unconsumed ones. */
void	 buf_prepend(struct buf *, const void *, size_t n);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
void	 buf_trim(struct buf *, size_t);
ssize_t	 buf_read_fd(struct buf *, int, size_t);
ssize_t	 buf_write_fd(struct buf *, int);
/* Write all that is pending, waiting out a full fd; 0 or -1 (errno). */
int	 buf_flush_fd(struct buf *, int);

#endif
