/*
 * libFuzzer harness for ipc/frame.c, the first code to see a peer's bytes.
 * The input is a byte stream from a client, looked at whole, cut at every
 * length and delivered in two reads split at every position, under several
 * caps. A header is 4 or 12 bytes, its payload never over the cap; a whole
 * frame is exactly header plus payload and never reaches past the bytes
 * given; a prefix of the stream is never a different frame; splitting the
 * stream never changes the frames read from it; and a frame built from a
 * payload reads back as that payload.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/frame.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

/* Split points tried at most, spread over long inputs. */
#define FUZZ_MAX_SPLITS	32

static const uint64_t	caps[] = { 0, 8, 300, FRAME_SHORT_MAX, UINT64_MAX };
#define NCAPS	(sizeof caps / sizeof caps[0])

/* What frame_peek() said about some bytes. */
struct peek {
	int		 r;
	size_t		 off;		/* of the payload */
	size_t		 paylen;
	size_t		 framelen;
};

/* Peek at p[0..n) and check what comes back against the header alone. */
static struct peek
peek(const unsigned char *p, size_t n, uint64_t max)
{
	struct peek	 pk;
	const void	*payload = NULL;
	const char	*err = NULL, *herr = NULL;
	size_t		 hl = 0;
	uint64_t	 hpl = 0;
	int		 hr;

	memset(&pk, 0, sizeof pk);
	hr = frame_parse_header(p, n, max, &hl, &hpl, &herr);
	CHECK(hr == -1 || hr == 0 || hr == 1);
	if (hr == 0)
		CHECK(n < 4 || (n < FRAME_HEADER_MAX &&
		    memcmp(p, "\xff\xff\xff\xff", 4) == 0));
	if (hr == -1)
		CHECK(herr != NULL && n >= 4);
	if (hr == 1) {
		CHECK(hl == 4 || hl == FRAME_HEADER_MAX);
		CHECK(hl <= n && hpl <= max);
	}

	pk.r = frame_peek(p, n, max, &payload, &pk.paylen, &pk.framelen,
	    &err);
	if (hr != 1)
		CHECK(pk.r == hr);
	else if (n - hl < hpl)
		CHECK(pk.r == 0);
	else
		CHECK(pk.r == 1);
	if (pk.r == -1)
		CHECK(err != NULL);
	if (pk.r == 1) {
		CHECK(payload == p + hl && pk.paylen == hpl);
		CHECK(pk.framelen == hl + pk.paylen && pk.framelen <= n);
		pk.off = hl;
	}
	return pk;
}

/* The canonical header of a frame must be what the encoder writes. */
static void
check_encode(const unsigned char *p, const struct peek *pk)
{
	unsigned char	hdr[FRAME_HEADER_MAX];
	size_t		hl;

	hl = frame_header_encode(pk->paylen, hdr);
	if (pk->off == 4 || pk->paylen > FRAME_SHORT_MAX)
		CHECK(hl == pk->off && memcmp(hdr, p, hl) == 0);
}

/* Re-frame a payload with frame_append() and read it back. */
static void
check_append(const unsigned char *payload, size_t len)
{
	struct buf	 b = BUF_INIT;
	struct peek	 pk;

	buf_append(&b, "x", 1);
	buf_consume(&b, 1);
	frame_append(&b, payload, len);
	pk = peek((const unsigned char *)buf_head(&b), buf_used(&b),
	    UINT64_MAX);
	CHECK(pk.r == 1 && pk.framelen == buf_used(&b) && pk.paylen == len);
	CHECK(len == 0 || memcmp(buf_head(&b) + pk.off, payload, len) == 0);
	buf_free(&b);
}

/*
 * Read frames the way the listener does: append what arrived, take every
 * whole frame from the front, stop at the first error. Records each
 * frame's offset in the stream and length; returns how many, or -1 after
 * an error.
 */
static int
drain(struct buf *b, size_t *consumed, uint64_t max, size_t *offs,
    size_t *lens, int n, int cap)
{
	struct peek	 pk;

	for (;;) {
		pk = peek((const unsigned char *)buf_head(b), buf_used(b), max);
		if (pk.r == -1)
			return -1;
		if (pk.r == 0)
			return n;
		CHECK(n < cap);
		offs[n] = *consumed + pk.off;
		lens[n] = pk.paylen;
		n++;
		*consumed += pk.framelen;
		buf_consume(b, pk.framelen);
	}
}

/* Read the whole stream in two pieces split at k; -1 or frame count. */
static int
stream(const unsigned char *data, size_t size, size_t k, uint64_t max,
    size_t *offs, size_t *lens, int cap)
{
	struct buf	b = BUF_INIT;
	size_t		consumed = 0;
	int		n;

	buf_reserve(&b, 1);		/* buf_head() of no buffer is NULL + 0 */
	buf_append(&b, data, k);
	n = drain(&b, &consumed, max, offs, lens, 0, cap);
	if (n != -1) {
		buf_append(&b, data + k, size - k);
		n = drain(&b, &consumed, max, offs, lens, n, cap);
	}
	buf_free(&b);
	return n;
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct peek	 whole, part;
	size_t		*offs, *lens, *offs2, *lens2, k, step;
	size_t		 i, c;
	int		 cap = (int)(size / 4 + 1), n, n2;

	offs = calloc(cap, sizeof *offs);
	lens = calloc(cap, sizeof *lens);
	offs2 = calloc(cap, sizeof *offs2);
	lens2 = calloc(cap, sizeof *lens2);
	CHECK(offs != NULL && lens != NULL && offs2 != NULL && lens2 != NULL);

	for (c = 0; c < NCAPS; c++) {
		whole = peek(data, size, caps[c]);
		if (whole.r == 1) {
			check_encode(data, &whole);
			check_append(data + whole.off, whole.paylen);
		}
		/* Every prefix is "need more", the same frame, or an error. */
		for (k = 0; k <= size; k++) {
			part = peek(data, k, caps[c]);
			if (whole.r == 1 && k >= whole.framelen)
				CHECK(part.r == 1 &&
				    part.framelen == whole.framelen &&
				    part.paylen == whole.paylen);
			else if (whole.r == -1)
				CHECK(part.r == 0 || part.r == -1);
			else
				CHECK(part.r == 0);
		}

		/* Splitting the stream anywhere reads the same frames. */
		n = stream(data, size, size, caps[c], offs, lens, cap);
		step = size / FUZZ_MAX_SPLITS + 1;
		for (k = 0; k <= size; k += step) {
			n2 = stream(data, size, k, caps[c], offs2, lens2, cap);
			CHECK(n2 == n);
			for (i = 0; n2 > 0 && i < (size_t)n2; i++)
				CHECK(offs2[i] == offs[i] &&
				    lens2[i] == lens[i]);
		}
	}
	free(offs);
	free(lens);
	free(offs2);
	free(lens2);
	return 0;
}
