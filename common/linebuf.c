/*
 * Line assembly (see linebuf.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/linebuf.h"

#define LINEBUF_READ	65536
#define LINEBUF_KEEP	(256 * 1024)

void
linebuf_init(struct linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof *lb);
	lb->max = max;
}

void
linebuf_free(struct linebuf *lb)
{
	buf_free(&lb->buf);
	lb->scan = 0;
}

void
linebuf_feed(struct linebuf *lb, const void *p, size_t n)
{
	buf_append(&lb->buf, p, n);
}

/*
 * Never hold more than one piece and its newline. A caller that reads again
 * without draining with linebuf_next() gets -1 and ENOBUFS rather than a 0
 * that would look like end of stream.
 */
ssize_t
linebuf_read(struct linebuf *lb, int fd)
{
	size_t	room = LINEBUF_READ, used = buf_used(&lb->buf);

	if (used >= lb->max + 1) {
		errno = ENOBUFS;
		return -1;
	}
	if (used + room > lb->max + 1)
		room = lb->max + 1 - used;
	return buf_read_fd(&lb->buf, fd, room);
}

int
linebuf_next(struct linebuf *lb, int eof, const char **line, size_t *len,
    int *flags)
{
	struct buf	*b = &lb->buf;
	char		*head, *nl;
	size_t		 used = buf_used(b), n;

	if (used == 0) {
		buf_trim(b, LINEBUF_KEEP);
		lb->scan = 0;
		return 0;
	}
	head = buf_head(b);
	n = used < lb->max + 1 ? used : lb->max + 1;
	nl = lb->scan < n ? memchr(head + lb->scan, '\n', n - lb->scan) : NULL;
	if (nl != NULL) {
		*line = head;
		*len = (size_t)(nl - head);
		*flags = 0;
		buf_consume(b, *len + 1);
		lb->scan = 0;
		return 1;
	}
	if (used > lb->max) {
		*line = head;
		*len = lb->max;
		*flags = LINE_CONT;
		buf_consume(b, lb->max);
		lb->scan = 0;
		return 1;
	}
	lb->scan = used;
	if (!eof)
		return 0;
	*line = head;
	*len = used;
	*flags = LINE_NOEOL;
	buf_consume(b, used);
	lb->scan = 0;
	return 1;
}
