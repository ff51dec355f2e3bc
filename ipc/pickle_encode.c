/*
 * JSON text -> pickle: the encoder (see pickle.h). The JSON is validated
 * first, so the walk below trusts it (escapes are well formed, nesting is
 * at most JSONSCAN_MAX_DEPTH).
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "ipc/pickle_impl.h"

/* Append an opcode and an n-byte little-endian argument. */
static void
enc_op(struct buf *b, unsigned char op, uint64_t arg, int n)
{
	unsigned char	t[9];
	int		i;

	t[0] = op;
	for (i = 0; i < n; i++)
		t[1 + i] = (unsigned char)(arg >> (8 * i));
	buf_append(b, t, 1 + n);
}

/* str or bytes of n bytes, with the shortest length form. */
static void
enc_blob(struct buf *b, const void *s, size_t n, int is_str)
{
	if (n < 256)
		enc_op(b, is_str ? OP_SHORT_BINUNICODE : OP_SHORT_BINBYTES, n, 1);
	else if (n <= UINT32_MAX)
		enc_op(b, is_str ? OP_BINUNICODE : OP_BINBYTES, n, 4);
	else
		enc_op(b, is_str ? OP_BINUNICODE8 : OP_BINBYTES8, n, 8);
	buf_append(b, s, n);
}

static unsigned int
hex4(const char *p)
{
	unsigned int	v = 0;
	int		i;

	for (i = 0; i < 4; i++)
		v = v << 4 | (p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	return v;
}

/* Decode a valid JSON string (quotes included) into b; NUL is kept. */
static void
json_unescape(const struct jsontext_span *s, struct buf *b)
{
	const char	*p = s->p + 1, *end = s->p + s->len - 1, *bs;
	unsigned char	 u[4];
	unsigned int	 cp;
	size_t		 n;

	while (p < end) {
		if ((bs = memchr(p, '\\', end - p)) == NULL)
			bs = end;
		buf_append(b, p, bs - p);
		if (bs == end)
			break;
		p = bs + 2;
		switch (bs[1]) {
		case 'b':
			buf_append(b, "\b", 1);
			break;
		case 'f':
			buf_append(b, "\f", 1);
			break;
		case 'n':
			buf_append(b, "\n", 1);
			break;
		case 'r':
			buf_append(b, "\r", 1);
			break;
		case 't':
			buf_append(b, "\t", 1);
			break;
		case 'u':
			cp = hex4(p);
			p += 4;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* The validator saw the low half follow. */
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (hex4(p + 2) - 0xdc00);
				p += 6;
			}
			if (cp < 0x80) {
				u[0] = cp;
				n = 1;
			} else if (cp < 0x800) {
				u[0] = 0xc0 | cp >> 6;
				u[1] = 0x80 | (cp & 0x3f);
				n = 2;
			} else if (cp < 0x10000) {
				u[0] = 0xe0 | cp >> 12;
				u[1] = 0x80 | ((cp >> 6) & 0x3f);
				u[2] = 0x80 | (cp & 0x3f);
				n = 3;
			} else {
				u[0] = 0xf0 | cp >> 18;
				u[1] = 0x80 | ((cp >> 12) & 0x3f);
				u[2] = 0x80 | ((cp >> 6) & 0x3f);
				u[3] = 0x80 | (cp & 0x3f);
				n = 4;
			}
			buf_append(b, u, n);
			break;
		default:	/* '"', '\\', '/' */
			buf_append(b, bs + 1, 1);
			break;
		}
	}
}

/* The value of a base64 digit, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/*
 * Decode canonical base64 (standard alphabet, padded, zero spare bits)
 * into b; -1 if s[0..n) is not exactly that.
 */
static int
b64_decode(const char *s, size_t n, struct buf *b)
{
	unsigned char	t[3];
	uint32_t	v;
	size_t		i, pad = 0;
	int		j, c;

	if (n % 4 != 0)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			if (i + j >= n - pad)
				c = 0;
			else if ((c = b64_value(s[i + j])) < 0)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		t[0] = v >> 16;
		t[1] = v >> 8;
		t[2] = v;
		if (i + 4 < n || pad == 0)
			buf_append(b, t, 3);
		else if ((v & (pad == 2 ? 0xffff : 0xff)) != 0)
			return -1;
		else
			buf_append(b, t, 3 - pad);
	}
	return 0;
}

/* If obj is exactly {"$bytes":"<canonical base64>"}, decode it into b. */
static int
enc_is_bytes(const struct jsontext_span *obj, struct buf *b)
{
	struct jsontext_span	k, v, k2, v2;
	size_t			state = 0;

	if (!jsontext_object_next(obj, &state, &k, &v) ||
	    jsontext_object_next(obj, &state, &k2, &v2) ||
	    v.type != JSONTEXT_STRING || !jsontext_string_eq(&k, "$bytes"))
		return 0;
	buf_reset(b);
	if (b64_decode(v.p + 1, v.len - 2, b) == 0)
		return 1;
	buf_reset(b);
	return 0;
}

/* An integer with the smallest opcode that holds it. */
static void
enc_int64(struct buf *b, int64_t v)
{
	unsigned char	t[8];
	int		i;

	if (v >= 0 && v <= 0xff)
		enc_op(b, OP_BININT1, (uint64_t)v, 1);
	else if (v >= 0 && v <= 0xffff)
		enc_op(b, OP_BININT2, (uint64_t)v, 2);
	else if (v >= INT32_MIN && v <= INT32_MAX)
		enc_op(b, OP_BININT, (uint64_t)v, 4);
	else {
		for (i = 0; i < 8; i++)
			t[i] = (unsigned char)((uint64_t)v >> (8 * i));
		enc_op(b, OP_LONG1, pickle_long_minimal(t, 8), 1);
		buf_append(b, t, pickle_long_minimal(t, 8));
	}
}

/*
 * An integer literal beyond int64 as LONG1, if it fits the decoder's
 * limit; -1 if it does not (the caller writes a float).
 */
static int
enc_bigint(struct buf *b, const struct jsontext_span *num)
{
	unsigned char	 mag[PICKLE_INT_MAX_BYTES + 2];
	const char	*p = num->p, *end = num->p + num->len;
	unsigned int	 x, carry;
	size_t		 i, n;
	int		 neg = 0;

	if (*p == '-') {
		neg = 1;
		p++;
	}
	if (end - p > PICKLE_INT_MAX_BYTES * 3)	/* > 8 * 64 bits */
		return -1;
	memset(mag, 0, sizeof mag);
	for (; p < end; p++) {
		carry = *p - '0';
		for (i = 0; i < sizeof mag; i++) {
			x = mag[i] * 10u + carry;
			mag[i] = x & 0xff;
			carry = x >> 8;
		}
		if (carry != 0)
			return -1;
	}
	if (neg) {
		carry = 1;
		for (i = 0; i < sizeof mag; i++) {
			x = (~mag[i] & 0xffu) + carry;
			mag[i] = x & 0xff;
			carry = x >> 8;
		}
	} else if (mag[sizeof mag - 1] & 0x80)
		return -1;
	if ((n = pickle_long_minimal(mag, sizeof mag)) > PICKLE_INT_MAX_BYTES)
		return -1;
	enc_op(b, OP_LONG1, n, 1);
	buf_append(b, mag, n);
	return 0;
}

static void
enc_float(struct buf *b, double v)
{
	unsigned char	t[9];
	uint64_t	bits;
	int		i;

	memcpy(&bits, &v, sizeof bits);
	t[0] = OP_BINFLOAT;
	for (i = 0; i < 8; i++)
		t[1 + i] = (unsigned char)(bits >> (56 - 8 * i));
	buf_append(b, t, sizeof t);
}

static void
enc_number(struct buf *b, const struct jsontext_span *num)
{
	int64_t	i;
	double	v;

	if (memchr(num->p, '.', num->len) == NULL &&
	    memchr(num->p, 'e', num->len) == NULL &&
	    memchr(num->p, 'E', num->len) == NULL) {
		if (jsontext_integer(num, INT64_MIN, INT64_MAX, &i) == 0) {
			enc_int64(b, i);
			return;
		}
		if (enc_bigint(b, num) == 0)
			return;
	}
	/* Beyond the double range: infinity, as json.loads gives. */
	if (jsontext_number(num, &v) == -1)
		v = num->p[0] == '-' ? -HUGE_VAL : HUGE_VAL;
	enc_float(b, v);
}

static void
enc_value(struct buf *b, struct buf *scratch, const struct jsontext_span *v)
{
	struct jsontext_span	k, e;
	size_t			state = 0;
	int			any = 0;

	switch (v->type) {
	case JSONTEXT_OBJECT:
		if (enc_is_bytes(v, scratch)) {
			enc_blob(b, scratch->data, scratch->len, 0);
			break;
		}
		enc_op(b, OP_EMPTY_DICT, 0, 0);
		while (jsontext_object_next(v, &state, &k, &e)) {
			if (!any++)
				enc_op(b, OP_MARK, 0, 0);
			buf_reset(scratch);
			json_unescape(&k, scratch);
			enc_blob(b, scratch->data, scratch->len, 1);
			enc_value(b, scratch, &e);
		}
		if (any)
			enc_op(b, OP_SETITEMS, 0, 0);
		break;
	case JSONTEXT_ARRAY:
		enc_op(b, OP_EMPTY_LIST, 0, 0);
		while (jsontext_array_next(v, &state, &e)) {
			if (!any++)
				enc_op(b, OP_MARK, 0, 0);
			enc_value(b, scratch, &e);
		}
		if (any)
			enc_op(b, OP_APPENDS, 0, 0);
		break;
	case JSONTEXT_STRING:
		buf_reset(scratch);
		json_unescape(v, scratch);
		enc_blob(b, scratch->data, scratch->len, 1);
		break;
	case JSONTEXT_NUMBER:
		enc_number(b, v);
		break;
	case JSONTEXT_TRUE:
		enc_op(b, OP_NEWTRUE, 0, 0);
		break;
	case JSONTEXT_FALSE:
		enc_op(b, OP_NEWFALSE, 0, 0);
		break;
	default:
		enc_op(b, OP_NONE, 0, 0);
		break;
	}
}

int
pickle_from_json(const char *json, size_t len, struct buf *out, char *err,
    size_t errlen)
{
	struct jsontext_span	v;
	struct buf		scratch = BUF_INIT;

	if (!jsontext_valid(json, len) ||
	    jsontext_scan(json, json + len, &v) == NULL) {
		if (errlen > 0)
			snprintf(err, errlen, "not one valid JSON value");
		return -1;
	}
	enc_op(out, OP_PROTO, 4, 1);
	enc_value(out, &scratch, &v);
	enc_op(out, OP_STOP, 0, 0);
	buf_free(&scratch);
	return 0;
}
