/*
 * Message framing of Python's multiprocessing.connection over sockets: a
 * 4-byte big-endian signed length, then the payload. The length -1 means an
 * 8-byte big-endian unsigned length follows (the large-message escape); any
 * other negative length is a protocol error.
 *
 * The codec is pure and works on buffers, so the supervisor's event loop can
 * use it on whatever it has read so far. frame_send_fd() and frame_recv_fd()
 * are blocking helpers for clients and tests.
 */
#ifndef MPSUP_FRAME_H
#define MPSUP_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define FRAME_HEADER_MAX	12		/* -1, then 8 bytes */
#define FRAME_SHORT_MAX		0x7fffffffU	/* 4-byte form max */

int	frame_parse_header(const void *, size_t, uint64_t, size_t *,
	    uint64_t *, const char **);
int	frame_peek(const void *, size_t, uint64_t, const void **, size_t *,
	    size_t *, const char **);
size_t	frame_header_encode(uint64_t, unsigned char[FRAME_HEADER_MAX]);
void	frame_append(struct buf *, const void *, size_t);
/*
 * Frame body into out and free body. When out is empty and body has
 * FRAME_HEADER_MAX bytes free in front (buf_reset_headroom), body becomes
 * out with the header put in front: a big message is not copied.
 */
void	frame_append_buf(struct buf *out, struct buf *body);

int	frame_send_fd(int, const void *, size_t);
int	frame_recv_fd(int, uint64_t, char **, size_t *, char **);

#endif
