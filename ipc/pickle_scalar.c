/*
 * Pickle -> JSON text: the scalars (see pickle_dec.h). Each reads its
 * argument at d->p, appends the value's JSON text to the arena and pushes
 * it: ints of any size up to PICKLE_INT_MAX_BYTES in decimal, floats in
 * their shortest exact form, str after a strict UTF-8 check, bytes as the
 * {"$bytes":"<base64>"} object.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "ipc/pickle_dec.h"
#include "ipc/pickle_impl.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* An int that fits in 64 bits. */
int
dec_int64(struct dec *d, int64_t v)
{
	char		 text[24], *p = text + sizeof text;
	uint64_t	 u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	size_t		 start = d->arena.len;

	/* Not printf: this runs once per int, and lists of ints are common. */
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	buf_append(&d->arena, p, text + sizeof text - p);
	return dec_push_text(d, PT_INT, start);
}

/* Drop the sign-extension bytes of a little-endian two's complement. */
size_t
pickle_long_minimal(const unsigned char *b, size_t n)
{
	while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) ||
	    (b[n - 1] == 0xff && (b[n - 2] & 0x80))))
		n--;
	return n;
}

/* LONG1, LONG4: n bytes of little-endian two's complement at d->p. */
int
dec_long(struct dec *d, size_t n)
{
	unsigned char	 mag[PICKLE_INT_MAX_BYTES];
	uint32_t	 limbs[PICKLE_INT_MAX_BYTES / 3 + 1];	/* base 1e9 */
	const unsigned char *b = d->p;
	uint64_t	 u, cur, rem;
	size_t		 i, nl = 0, start;
	unsigned int	 x, carry = 1;
	int		 neg;

	d->p += n;
	if ((n = pickle_long_minimal(b, n)) == 0)
		return dec_int64(d, 0);
	neg = b[n - 1] >> 7;
	if (n <= 8) {
		u = neg ? UINT64_MAX : 0;
		for (i = n; i-- > 0;)
			u = u << 8 | b[i];
		return dec_int64(d, neg ? -(int64_t)(~u) - 1 : (int64_t)u);
	}
	if (n > PICKLE_INT_MAX_BYTES)
		return dec_fail(d, "integer too large: more than %d bits (%s "
		    "at offset %zu)", PICKLE_INT_MAX_BYTES * 8, dec_op_name(d->op),
		    d->op_off);
	for (i = 0; i < n; i++) {
		x = neg ? (~b[i] & 0xffu) + carry : b[i];
		mag[i] = x & 0xff;
		carry = x >> 8;
	}
	while (n > 0 && mag[n - 1] == 0)
		n--;
	while (n > 0) {
		rem = 0;
		for (i = n; i-- > 0;) {
			cur = rem << 8 | mag[i];
			mag[i] = (unsigned char)(cur / 1000000000);
			rem = cur % 1000000000;
		}
		limbs[nl++] = (uint32_t)rem;
		while (n > 0 && mag[n - 1] == 0)
			n--;
	}
	start = d->arena.len;
	buf_appendf(&d->arena, "%s%" PRIu32, neg ? "-" : "", limbs[nl - 1]);
	for (i = nl - 1; i-- > 0;)
		buf_appendf(&d->arena, "%09" PRIu32, limbs[i]);
	return dec_push_text(d, PT_INT, start);
}

/* Shortest text that reads back as v, always with a '.' or an exponent. */
static void
float_text(double v, char *s, size_t size)
{
	int	prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(s, size, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	if (prec == 17)
		snprintf(s, size, "%.17g", v);
	if (strpbrk(s, ".e") == NULL)
		strncat(s, ".0", size - strlen(s) - 1);
}

/* BINFLOAT: a big-endian double. */
int
dec_float(struct dec *d)
{
	char		text[40];
	uint64_t	bits = 0;
	double		v;
	size_t		start;
	int		i;

	for (i = 0; i < 8; i++)
		bits = bits << 8 | *d->p++;
	memcpy(&v, &bits, sizeof v);
	if (!isfinite(v))
		return dec_fail(d, "float %s at offset %zu cannot be represented "
		    "in JSON", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf",
		    d->op_off);
	float_text(v, text, sizeof text);
	start = d->arena.len;
	buf_append_str(&d->arena, text);
	return dec_push_text(d, PT_FLOAT, start);
}

/* Strict UTF-8: shortest forms, no surrogates, nothing above U+10FFFF. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t		i = 0, k, j;
	uint32_t	cp, least;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			k = 1;
			cp = s[i] & 0x1f;
			least = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			k = 2;
			cp = s[i] & 0x0f;
			least = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			k = 3;
			cp = s[i] & 0x07;
			least = 0x10000;
		} else
			return 0;
		if (n - i - 1 < k)
			return 0;
		for (j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

/* A str of n bytes at d->p. */
int
dec_str(struct dec *d, uint64_t n)
{
	size_t	start;

	if (dec_need(d, n) == -1)
		return -1;
	if (!utf8_valid(d->p, n))
		return dec_fail(d, "str at offset %zu is not valid UTF-8 (lone "
		    "surrogates are refused too)", d->op_off);
	if (dec_room(d, n + 2) == -1)
		return -1;
	start = d->arena.len;
	jsontext_string_append(&d->arena, (const char *)d->p, n);
	d->p += n;
	return dec_push_text(d, PT_STR, start);
}

/* Append standard, padded base64 of s[0..n). */
static void
b64_append(struct buf *b, const unsigned char *s, size_t n)
{
	char		*o;
	uint32_t	 v;
	size_t		 i;

	buf_reserve(b, (n + 2) / 3 * 4);
	o = b->data + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = b64_alphabet[(v >> 6) & 63];
		*o++ = b64_alphabet[v & 63];
	}
	if (i < n) {
		v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		*o++ = b64_alphabet[v >> 18];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len = o - b->data;
}

/* Bytes or a bytearray of n bytes at d->p, as the tagged object. */
int
dec_bytes(struct dec *d, uint64_t n, enum ptype type)
{
	size_t	start;

	if (dec_need(d, n) == -1 || dec_room(d, n / 3 * 4 + 16) == -1)
		return -1;
	start = d->arena.len;
	buf_append_str(&d->arena, "{\"$bytes\":\"");
	b64_append(&d->arena, d->p, n);
	buf_append_str(&d->arena, "\"}");
	d->p += n;
	return dec_push_text(d, type, start);
}
