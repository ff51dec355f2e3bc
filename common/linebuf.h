/*
 * The line assembler: turns the bytes a worker writes to a pipe into whole
 * lines. A line longer than the limit comes out in pieces of exactly the
 * limit, each but the last marked LINE_CONT; what is left when the stream
 * ends without a newline comes out marked LINE_NOEOL. Memory per stream is
 * bounded by the limit (plus one read).
 */
#ifndef MPSUP_LINEBUF_H
#define MPSUP_LINEBUF_H

#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"

#define LINE_CONT	0x1	/* the line continues in the next piece */
#define LINE_NOEOL	0x2	/* the stream ended without a newline */

struct linebuf {
	struct buf	buf;
	size_t		max;	/* longest piece */
	size_t		scan;	/* bytes of buf already searched for '\n' */
};

void	linebuf_init(struct linebuf *, size_t max);
void	linebuf_free(struct linebuf *);
/* Append bytes (tests and callers that read elsewhere). */
void	linebuf_feed(struct linebuf *, const void *, size_t);
/* One read(2) from fd, never past the limit; as read(2). */
ssize_t	linebuf_read(struct linebuf *, int fd);
/*
 * Next line or piece: 1 with line, len and flags set (borrowed until the next
 * call), 0 when no whole line is buffered. With eof set, a trailing
 * partial line is returned too.
 */
int	linebuf_next(struct linebuf *, int eof, const char **line,
	    size_t *len, int *flags);

#endif
