/*
 * JSON as text (see jsontext.h). The validator is a single loop that keeps
 * the open containers as one bit each in a 64-bit word, so nesting costs
 * no recursion and no memory. String bodies are skipped eight bytes at a
 * time until a byte that needs a look ('"', '\\', a control character or
 * a non-ASCII byte) shows up. The iterators trust their input (it was
 * validated on the way in) and only hunt for quotes and brackets, but they
 * never read outside the span, whatever it holds.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"

/* Bytes that may stand for themselves inside a JSON string and stay ASCII. */
static const unsigned char jsontext_plain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x00 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,	/* 0x10 */
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x20 '"' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x30 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x40 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,	/* 0x50 '\\' */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x60 */
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,	/* 0x70 */
};

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/* Non-zero if some byte of v is zero (exact as a yes/no answer). */
#define HAS_ZERO(v)	(((v) - ONES) & ~(v) & HIGHS)

/* Non-zero if some byte of v is not plain (see jsontext_plain). */
static inline uint64_t
word_special(uint64_t v)
{
	return (v & HIGHS) | ((v - 0x20 * ONES) & ~v & HIGHS) |
	    HAS_ZERO(v ^ ('"' * ONES)) | HAS_ZERO(v ^ ('\\' * ONES));
}

/* Non-zero if some byte of v is a quote or a bracket of either kind. */
static inline uint64_t
word_structural(uint64_t v)
{
	uint64_t	folded;

	folded = v | (0x20 * ONES);	/* '[' is now '{', ']' is '}' */
	return HAS_ZERO(v ^ ('"' * ONES)) | HAS_ZERO(folded ^ ('{' * ONES)) |
	    HAS_ZERO(folded ^ ('}' * ONES));
}

/* Skip plain string bytes: a word at a time, then byte by byte. */
static inline const unsigned char *
skip_plain(const unsigned char *s, const unsigned char *e)
{
	uint64_t	v;

	while (e - s >= 8) {
		memcpy(&v, s, sizeof v);
		if (word_special(v))
			break;
		s += 8;
	}
	while (s < e && jsontext_plain[*s])
		s++;
	return s;
}

/* Skip JSON white space. */
static inline const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' ||
	    *p == '\t'))
		p++;
	return p;
}

/* The type of the value that starts with c. */
static enum jsontext_type
type_of(char c)
{
	switch (c) {
	case '{':
		return JSONTEXT_OBJECT;
	case '[':
		return JSONTEXT_ARRAY;
	case '"':
		return JSONTEXT_STRING;
	case 't':
		return JSONTEXT_TRUE;
	case 'f':
		return JSONTEXT_FALSE;
	case 'n':
		return JSONTEXT_NULL;
	case '-':
		return JSONTEXT_NUMBER;
	default:
		if (c >= '0' && c <= '9')
			return JSONTEXT_NUMBER;
		return JSONTEXT_INVALID;
	}
}

size_t
jsontext_utf8_len(const unsigned char *s, const unsigned char *e)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0)
		n = 2;
	else if (s[0] < 0xf0) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] < 0xf5) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(e - s) < n || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return n;
}

/* Value of the four hex digits at s, or -1. */
static long
hex4(const char *s, const char *end)
{
	long	v = 0;
	int	i;
	char	c;

	if (end - s < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = s[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return -1;
	}
	return v;
}

/*
 * Decode the escape at *sp (its backslash) into out as UTF-8, moving *sp
 * past it. Returns the number of bytes written (1 to 4), 0 if the escape
 * is not valid, including a surrogate that is not part of a pair.
 */
static size_t
escape_decode(const char **sp, const char *end, unsigned char out[4])
{
	const char	*s = *sp + 1;
	long		 cp, lo;

	if (s >= end)
		return 0;
	switch (*s++) {
	case '"':
		out[0] = '"';
		break;
	case '\\':
		out[0] = '\\';
		break;
	case '/':
		out[0] = '/';
		break;
	case 'b':
		out[0] = '\b';
		break;
	case 'f':
		out[0] = '\f';
		break;
	case 'n':
		out[0] = '\n';
		break;
	case 'r':
		out[0] = '\r';
		break;
	case 't':
		out[0] = '\t';
		break;
	case 'u':
		if ((cp = hex4(s, end)) == -1)
			return 0;
		s += 4;
		if (cp >= 0xdc00 && cp <= 0xdfff)
			return 0;
		if (cp >= 0xd800 && cp <= 0xdbff) {
			if (end - s < 6 || s[0] != '\\' || s[1] != 'u')
				return 0;
			lo = hex4(s + 2, end);
			if (lo < 0xdc00 || lo > 0xdfff)
				return 0;
			s += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		}
		*sp = s;
		if (cp < 0x80) {
			out[0] = cp;
			return 1;
		}
		if (cp < 0x800) {
			out[0] = 0xc0 | (cp >> 6);
			out[1] = 0x80 | (cp & 0x3f);
			return 2;
		}
		if (cp < 0x10000) {
			out[0] = 0xe0 | (cp >> 12);
			out[1] = 0x80 | ((cp >> 6) & 0x3f);
			out[2] = 0x80 | (cp & 0x3f);
			return 3;
		}
		out[0] = 0xf0 | (cp >> 18);
		out[1] = 0x80 | ((cp >> 12) & 0x3f);
		out[2] = 0x80 | ((cp >> 6) & 0x3f);
		out[3] = 0x80 | (cp & 0x3f);
		return 4;
	default:
		return 0;
	}
	*sp = s;
	return 1;
}

/* Validate a string body after its opening quote; returns past its end. */
static const char *
scan_string(const char *p, const char *end)
{
	const unsigned char	*s = (const unsigned char *)p;
	const unsigned char	*e = (const unsigned char *)end;
	const char		*q;
	unsigned char		 tmp[4];
	size_t			 n;

	for (;;) {
		s = skip_plain(s, e);
		if (s == e)
			return NULL;
		if (*s == '"')
			return (const char *)s + 1;
		if (*s == '\\') {
			q = (const char *)s;
			if (escape_decode(&q, end, tmp) == 0)
				return NULL;
			s = (const unsigned char *)q;
		} else if (*s < 0x20)
			return NULL;
		else {
			if ((n = jsontext_utf8_len(s, e)) == 0)
				return NULL;
			s += n;
		}
	}
}

/* Skip a run of at least one digit, or return NULL. */
static const char *
scan_digits(const char *p, const char *end)
{
	if (p == end || *p < '0' || *p > '9')
		return NULL;
	do
		p++;
	while (p < end && *p >= '0' && *p <= '9');
	return p;
}

/* Validate a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static const char *
scan_number(const char *p, const char *end)
{
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if ((p = scan_digits(p, end)) == NULL)
		return NULL;
	if (p < end && *p == '.') {
		if ((p = scan_digits(p + 1, end)) == NULL)
			return NULL;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if ((p = scan_digits(p, end)) == NULL)
			return NULL;
	}
	return p;
}

/* Match the literal word w of n bytes at p. */
static const char *
scan_word(const char *p, const char *end, const char *w, size_t n)
{
	if ((size_t)(end - p) < n || memcmp(p, w, n) != 0)
		return NULL;
	return p + n;
}

/* Validate a value that is not a container. */
static const char *
scan_scalar(const char *p, const char *end)
{
	switch (*p) {
	case '"':
		return scan_string(p + 1, end);
	case 't':
		return scan_word(p, end, "true", 4);
	case 'f':
		return scan_word(p, end, "false", 5);
	case 'n':
		return scan_word(p, end, "null", 4);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return scan_number(p, end);
	default:
		return NULL;
	}
}

/* Validate an object key and the colon after it; returns at the value. */
static const char *
scan_key(const char *p, const char *end)
{
	if (p == end || *p != '"')
		return NULL;
	if ((p = scan_string(p + 1, end)) == NULL)
		return NULL;
	p = skip_ws(p, end);
	if (p == end || *p != ':')
		return NULL;
	return skip_ws(p + 1, end);
}

/* Validate one value and find where it ends (see jsontext.h). */
const char *
jsontext_scan(const char *p, const char *end, struct jsontext_span *out)
{
	const char	*start;
	uint64_t	 objects = 0;	/* bit i: depth i is an object */
	unsigned int	 depth = 0;
	int		 in_object;
	char		 c;

	p = skip_ws(p, end);
	start = p;
	for (;;) {
		/* At the start of a value. */
		if (p == end)
			return NULL;
		c = *p;
		if (c == '{' || c == '[') {
			if (depth == JSONTEXT_MAX_DEPTH)
				return NULL;
			if (c == '{')
				objects |= 1ULL << depth;
			else
				objects &= ~(1ULL << depth);
			depth++;
			p = skip_ws(p + 1, end);
			if (p < end && *p == (c == '{' ? '}' : ']')) {
				p++;
				depth--;
			} else {
				if (c == '{' && (p = scan_key(p, end)) == NULL)
					return NULL;
				continue;
			}
		} else if ((p = scan_scalar(p, end)) == NULL)
			return NULL;

		/* After a value: close what ends here, stop at a comma. */
		for (;;) {
			if (depth == 0) {
				if (out != NULL) {
					out->p = start;
					out->len = p - start;
					out->type = type_of(*start);
				}
				return p;
			}
			p = skip_ws(p, end);
			if (p == end)
				return NULL;
			in_object = (objects >> (depth - 1)) & 1;
			if (*p == ',')
				break;
			if (*p != (in_object ? '}' : ']'))
				return NULL;
			p++;
			depth--;
		}
		p = skip_ws(p + 1, end);
		if (in_object && (p = scan_key(p, end)) == NULL)
			return NULL;
	}
}

/* True if s[0..len) is one value with only white space around it. */
int
jsontext_valid(const char *s, size_t len)
{
	const char	*end, *p;

	if (len == 0)
		return 0;
	end = s + len;
	if ((p = jsontext_scan(s, end, NULL)) == NULL)
		return 0;
	return skip_ws(p, end) == end;
}

/*
 * Skip a string in text assumed valid, from its opening quote; returns
 * past the closing quote (or end). A quote ends the string when an even
 * number of backslashes precedes it.
 */
static const char *
skip_string(const char *p, const char *end)
{
	const char	*body = p + 1, *r;
	uint64_t	 v;

	for (p = body; p < end; p++) {
		/* Strings are mostly short: a word loop beats memchr(). */
		while (end - p >= 8) {
			memcpy(&v, p, sizeof v);
			if (HAS_ZERO(v ^ ('"' * ONES)))
				break;
			p += 8;
		}
		while (p < end && *p != '"')
			p++;
		if (p == end)
			break;
		for (r = p; r > body && r[-1] == '\\'; r--)
			;
		if ((p - r) % 2 == 0)
			return p + 1;
	}
	return end;
}

/* Skip a value in text assumed valid; returns past it (or end). */
static const char *
skip_value(const char *p, const char *end)
{
	uint64_t	v;
	size_t		depth = 0;
	char		c;

	if (p == end)
		return end;
	switch (*p) {
	case '"':
		return skip_string(p, end);
	case '{':
	case '[':
		break;
	default:
		while (p < end && *p != ',' && *p != '}' && *p != ']' &&
		    *p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
			p++;
		return p;
	}
	while (p < end) {
		if (end - p >= 8) {
			memcpy(&v, p, sizeof v);
			if (!word_structural(v)) {
				p += 8;
				continue;
			}
			/* One of these eight bytes stops the walk. */
			while (*p != '"' && (*p | 0x20) != '{' &&
			    (*p | 0x20) != '}')
				p++;
		}
		c = *p;
		if (c == '"')
			p = skip_string(p, end);
		else if (c == '{' || c == '[') {
			depth++;
			p++;
		} else if (c == '}' || c == ']') {
			p++;
			if (--depth == 0)
				return p;
		} else
			p++;
	}
	return end;
}

/*
 * Where the next item of an iteration over the container c of the given
 * type starts (after white space and a comma), or NULL at the end.
 */
static const char *
iter_start(const struct jsontext_span *c, enum jsontext_type type,
    size_t state)
{
	const char	*p, *close;

	if (c->type != type || c->len < 2)
		return NULL;
	close = c->p + c->len - 1;
	if (state == 0)
		state = 1;
	if (state >= c->len - 1)
		return NULL;
	p = skip_ws(c->p + state, close);
	if (p < close && *p == ',')
		p = skip_ws(p + 1, close);
	if (p >= close)
		return NULL;
	return p;
}

/* Hand out the next member of a valid object. */
int
jsontext_object_next(const struct jsontext_span *obj, size_t *state,
    struct jsontext_span *key, struct jsontext_span *val)
{
	const char	*p, *close;

	if ((p = iter_start(obj, JSONTEXT_OBJECT, *state)) == NULL ||
	    *p != '"')
		goto done;
	close = obj->p + obj->len - 1;
	key->p = p;
	p = skip_string(p, close);
	key->len = p - key->p;
	key->type = JSONTEXT_STRING;
	p = skip_ws(p, close);
	if (p >= close || *p != ':')
		goto done;
	p = skip_ws(p + 1, close);
	if (p >= close)
		goto done;
	val->p = p;
	p = skip_value(p, close);
	val->len = p - val->p;
	val->type = type_of(*val->p);
	*state = p - obj->p;
	return 1;

done:
	*state = obj->len;
	return 0;
}

/* Hand out the next element of a valid array. */
int
jsontext_array_next(const struct jsontext_span *arr, size_t *state,
    struct jsontext_span *val)
{
	const char	*p, *close;

	if ((p = iter_start(arr, JSONTEXT_ARRAY, *state)) == NULL) {
		*state = arr->len;
		return 0;
	}
	close = arr->p + arr->len - 1;
	val->p = p;
	p = skip_value(p, close);
	val->len = p - val->p;
	val->type = type_of(*val->p);
	*state = p - arr->p;
	return 1;
}

/*
 * Compare the string span s with key[0..keylen) after decoding escapes.
 * A decoded NUL never matches, as no byte of key is NUL.
 */
static int
string_eq(const struct jsontext_span *s, const char *key, size_t keylen)
{
	const char	*p, *end, *k = key, *kend = key + keylen;
	unsigned char	 tmp[4];
	size_t		 n;

	if (s->type != JSONTEXT_STRING || s->len < 2 || s->p[0] != '"')
		return 0;
	p = s->p + 1;
	end = s->p + s->len - 1;
	if ((size_t)(end - p) < keylen)
		return 0;	/* decoding never makes text longer */
	while (p < end) {
		if (*p != '\\') {
			if (k == kend || *p != *k)
				return 0;
			p++;
			k++;
			continue;
		}
		if ((n = escape_decode(&p, end, tmp)) == 0 ||
		    (size_t)(kend - k) < n || memcmp(k, tmp, n) != 0)
			return 0;
		k += n;
	}
	return k == kend;
}

/* Compare a string span with a C string, escapes decoded. */
int
jsontext_string_eq(const struct jsontext_span *s, const char *key)
{
	return string_eq(s, key, strlen(key));
}

/* Find the value of the last member named key. */
int
jsontext_object_get(const struct jsontext_span *obj, const char *key,
    struct jsontext_span *val)
{
	struct jsontext_span	 k, v;
	size_t			 state = 0, keylen = strlen(key);
	int			 found = 0;

	while (jsontext_object_next(obj, &state, &k, &v)) {
		if (string_eq(&k, key, keylen)) {
			*val = v;
			found = 1;
		}
	}
	return found;
}

/* Decode a string span into a new C string; NULL if it holds a NUL. */
char *
jsontext_string_decode(const struct jsontext_span *s, size_t *len)
{
	const char	*p, *end, *bs;
	unsigned char	 tmp[4];
	char		*out;
	size_t		 n, o = 0;

	if (len != NULL)
		*len = 0;
	if (s->type != JSONTEXT_STRING || s->len < 2 || s->p[0] != '"')
		return NULL;
	p = s->p + 1;
	end = s->p + s->len - 1;
	out = xmalloc(end - p + 1);	/* decoding never lengthens text */
	while (p < end) {
		if ((bs = memchr(p, '\\', end - p)) == NULL)
			bs = end;
		memcpy(out + o, p, bs - p);
		o += bs - p;
		if ((p = bs) == end)
			break;
		n = escape_decode(&p, end, tmp);
		if (n == 0 || (n == 1 && tmp[0] == '\0')) {
			free(out);
			return NULL;
		}
		memcpy(out + o, tmp, n);
		o += n;
	}
	out[o] = '\0';
	if (len != NULL)
		*len = o;
	return out;
}

/* Longest number text handed to strtod as is; longer ones are condensed. */
#define NUMBER_TEXT_MAX		1024
/* Significant digits kept when condensing: more than a double ever needs. */
#define NUMBER_DIGITS_MAX	800

/*
 * Condense a valid number of NUMBER_TEXT_MAX bytes or more into
 * "[-]0.DDDe[-]X" with at most NUMBER_DIGITS_MAX significant digits and a
 * final 1 standing for any non-zero digits dropped. strtod() still rounds
 * exactly: a value halfway between two doubles has at most 767 significant
 * digits, so the extra 1 only tells "above" from "exactly at", as the full
 * text would.
 */
static void
number_condense(const char *p, const char *end, char *out, size_t size)
{
	long long	 exp10 = 0, lit = 0;
	size_t		 kept = 0;
	int		 sticky = 0, seen = 0, frac = 0, neg = 0;
	char		*o = out;

	if (*p == '-') {
		*o++ = '-';
		p++;
	}
	*o++ = '0';
	*o++ = '.';
	for (; p < end && *p != 'e' && *p != 'E'; p++) {
		if (*p == '.') {
			frac = 1;
			continue;
		}
		if (!seen && *p == '0') {
			if (frac)
				exp10--;
			continue;
		}
		seen = 1;
		if (!frac)
			exp10++;
		if (kept < NUMBER_DIGITS_MAX)
			o[kept++] = *p;
		else if (*p != '0')
			sticky = 1;
	}
	if (!seen) {
		o[-1] = '\0';	/* all zeros: "0" or "-0" */
		return;
	}
	o += kept;
	if (sticky)
		*o++ = '1';
	if (p < end) {
		p++;
		if (*p == '+' || *p == '-')
			neg = *p++ == '-';
		for (; p < end; p++) {
			if (lit < 1000000000LL)
				lit = lit * 10 + (*p - '0');
		}
		exp10 += neg ? -lit : lit;
	}
	if (exp10 > 1000000000LL)
		exp10 = 1000000000LL;
	else if (exp10 < -1000000000LL)
		exp10 = -1000000000LL;
	snprintf(o, size - (o - out), "e%lld", exp10);
}

/*
 * Parse a number span as a double, of any length and without allocating.
 * mpsup never calls setlocale(), so strtod() reads '.' as the point.
 */
int
jsontext_number(const struct jsontext_span *n, double *out)
{
	char	 text[NUMBER_TEXT_MAX], *ep;
	double	 d;

	if (n->type != JSONTEXT_NUMBER || n->len == 0 ||
	    scan_number(n->p, n->p + n->len) != n->p + n->len)
		return -1;
	if (n->len < sizeof text) {
		memcpy(text, n->p, n->len);
		text[n->len] = '\0';
	} else
		number_condense(n->p, n->p + n->len, text, sizeof text);
	errno = 0;
	d = strtod(text, &ep);
	if (*ep != '\0' || (errno == ERANGE && isinf(d)))
		return -1;
	*out = d;
	return 0;
}

/* Parse an integer literal in [min, max] without strtoll(). */
int
jsontext_integer(const struct jsontext_span *n, int64_t min, int64_t max,
    int64_t *out)
{
	const char	*p = n->p, *end = n->p + n->len;
	uint64_t	 mag = 0, limit = (uint64_t)INT64_MAX;
	int64_t		 v;
	int		 neg = 0;

	if (n->type != JSONTEXT_NUMBER || n->len == 0)
		return -1;
	if (*p == '-') {
		neg = 1;
		limit++;
		p++;
	}
	if (p == end)
		return -1;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (mag > (limit - (*p - '0')) / 10)
			return -1;
		mag = mag * 10 + (*p - '0');
	}
	if (neg)
		v = mag == 0 ? 0 : -(int64_t)(mag - 1) - 1;
	else
		v = (int64_t)mag;
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Input escaped per round: bounds what one round reserves (6 bytes each). */
#define ESCAPE_CHUNK	4096

/* Append bytes as a JSON string body, always valid UTF-8. */
void
jsontext_escape_append(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p, *e, *stop, *run;
	char			*o;
	size_t			 n;

	p = (const unsigned char *)s;
	e = p + len;
	while (p < e) {
		/*
		 * Write straight into the buffer: each input byte becomes at
		 * most six output bytes, and a UTF-8 sequence that crosses
		 * stop adds at most three.
		 */
		stop = (size_t)(e - p) > ESCAPE_CHUNK ? p + ESCAPE_CHUNK : e;
		buf_reserve(b, 6 * (stop - p) + 3);
		o = b->data + b->len;
		while (p < stop) {
			run = p;
			p = skip_plain(p, stop);
			while (p < stop && *p >= 0x80 &&
			    (n = jsontext_utf8_len(p, e)) != 0)
				p = skip_plain(p + n, stop);
			memcpy(o, run, p - run);
			o += p - run;
			if (p >= stop)
				break;
			*o++ = '\\';
			switch (*p) {
			case '"':
			case '\\':
				*o++ = *p;
				break;
			case '\b':
				*o++ = 'b';
				break;
			case '\f':
				*o++ = 'f';
				break;
			case '\n':
				*o++ = 'n';
				break;
			case '\r':
				*o++ = 'r';
				break;
			case '\t':
				*o++ = 't';
				break;
			default:
				if (*p >= 0x80) {
					/* Not UTF-8: U+FFFD for the byte. */
					o[-1] = '\xef';
					*o++ = '\xbf';
					*o++ = '\xbd';
				} else {
					memcpy(o, "u00", 3);
					o[3] = hex[*p >> 4];
					o[4] = hex[*p & 0xf];
					o += 5;
				}
				break;
			}
			p++;
		}
		b->len = o - b->data;
	}
}

/* Append bytes as a quoted JSON string. */
void
jsontext_string_append(struct buf *b, const char *s, size_t len)
{
	buf_append(b, "\"", 1);
	jsontext_escape_append(b, s, len);
	buf_append(b, "\"", 1);
}
