/*
 * The JSON scanner (see jsonscan.h). The validator is a single loop that
 * keeps the open containers as one bit each, so nesting costs no
 * recursion. String bodies are skipped eight bytes at a time until a byte
 * that needs a look ('"', '\\', a control character or a non-ASCII byte)
 * shows up. Only libc: the C worker library is built from this file too.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "common/jsonscan.h"

_Static_assert(JSONSCAN_RESULT_MAX_DEPTH == JSONSCAN_MAX_DEPTH - 4,
    "a reply wraps a result in up to four levels");

/* Bytes that may stand for themselves inside a JSON string and stay ASCII. */
static const unsigned char jsonscan_plain_byte[256] = {
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

/* Non-zero if some byte of v is not plain (see jsonscan_plain_byte). */
static inline uint64_t
word_special(uint64_t v)
{
	return (v & HIGHS) | ((v - 0x20 * ONES) & ~v & HIGHS) |
	    HAS_ZERO(v ^ ('"' * ONES)) | HAS_ZERO(v ^ ('\\' * ONES));
}

/*
 * Skip plain string bytes: a word at a time, then byte by byte. In the
 * word that holds one, the lowest bit of word_special() marks the first
 * byte that is not plain (no borrow reaches it from below), so on a
 * little-endian machine that byte is found without a byte loop.
 */
static inline const unsigned char *
skip_plain(const unsigned char *s, const unsigned char *e)
{
	uint64_t	v, m;

	while (e - s >= 8) {
		memcpy(&v, s, sizeof v);
		if ((m = word_special(v)) != 0) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			return s + (__builtin_ctzll(m) >> 3);
#else
			break;
#endif
		}
		s += 8;
	}
	while (s < e && jsonscan_plain_byte[*s])
		s++;
	return s;
}

size_t
jsonscan_utf8_len(const unsigned char *s, const unsigned char *e)
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

/* Encode code point cp (at most U+10FFFF) as UTF-8; returns its length. */
static size_t
utf8_put(unsigned char out[4], long cp)
{
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
}

/* Decode a \u escape (s just past the 'u'); 0 if it is not valid. */
static size_t
unicode_decode(const char **sp, const char *end, unsigned char out[4])
{
	const char	*s = *sp;
	long		 cp, lo;

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
	return utf8_put(out, cp);
}

size_t
jsonscan_escape_decode(const char **sp, const char *end, unsigned char out[4])
{
	const char	*s = *sp + 1;

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
		*sp = s;
		return unicode_decode(sp, end, out);
	default:
		return 0;
	}
	*sp = s;
	return 1;
}

const char *
jsonscan_string(const char *p, const char *end)
{
	const unsigned char	*s = (const unsigned char *)p + 1;
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
			if (jsonscan_escape_decode(&q, end, tmp) == 0)
				return NULL;
			s = (const unsigned char *)q;
		} else if (*s < 0x20)
			return NULL;
		else {
			if ((n = jsonscan_utf8_len(s, e)) == 0)
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

const char *
jsonscan_number(const char *p, const char *end)
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
static inline __attribute__((always_inline)) const char *
scan_scalar(const char *p, const char *end)
{
	switch (*p) {
	case '"':
		return jsonscan_string(p, end);
	case 't':
		return scan_word(p, end, "true", 4);
	case 'f':
		return scan_word(p, end, "false", 5);
	case 'n':
		return scan_word(p, end, "null", 4);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jsonscan_number(p, end);
	default:
		return NULL;
	}
}

/* Validate an object key and the colon after it; returns at the value. */
static inline const char *
scan_key(const char *p, const char *end)
{
	if (p == end || *p != '"')
		return NULL;
	if ((p = jsonscan_string(p, end)) == NULL)
		return NULL;
	p = jsonscan_ws(p, end);
	if (p == end || *p != ':')
		return NULL;
	return jsonscan_ws(p + 1, end);
}

/* Fail a scan for why; returns NULL for the caller to return. */
static const char *
scan_fail(struct jsonscan *js, enum jsonscan_error why, unsigned int deepest)
{
	js->error = why;
	js->depth = deepest;
	return NULL;
}

/*
 * Whether level d is an object: bit d of the scan's own word, or, when the
 * scan has more levels (big), of js->levels. The word stays in a register
 * in the common case, which gets a copy of the loop of its own.
 */
static inline __attribute__((always_inline)) void
level_set(uint64_t *word, uint64_t *levels, int big, unsigned int d,
    int object)
{
	uint64_t	*w = big ? &levels[d / 64] : word;
	uint64_t	 bit = 1ULL << (d % 64);

	if (object)
		*w |= bit;
	else
		*w &= ~bit;
}

static inline __attribute__((always_inline)) int
level_is_object(uint64_t word, const uint64_t *levels, int big,
    unsigned int d)
{
	return ((big ? levels[d / 64] : word) >> (d % 64)) & 1;
}

/*
 * The validator. depth is how many levels are open. A value starts at the
 * top of the outer loop; the inner loop closes what ends after it and
 * stops at a comma.
 */
static inline __attribute__((always_inline)) const char *
scan_value(struct jsonscan *js, const char *p, const char *end,
    unsigned int max, int big)
{
	uint64_t	 word = 0;
	unsigned int	 depth = 0, deepest = 0;
	int		 in_object;
	char		 c;

	for (;;) {
		if (p == end)
			return scan_fail(js, JSONSCAN_MALFORMED, deepest);
		c = *p;
		if (c == '{' || c == '[') {
			if (depth == max)
				return scan_fail(js, JSONSCAN_TOO_DEEP, deepest);
			level_set(&word, js->levels, big, depth, c == '{');
			if (++depth > deepest)
				deepest = depth;
			p = jsonscan_ws(p + 1, end);
			if (p < end && *p == (c == '{' ? '}' : ']')) {
				p++;
				depth--;
			} else {
				if (c == '{' && (p = scan_key(p, end)) == NULL)
					return scan_fail(js, JSONSCAN_MALFORMED,
					    deepest);
				continue;
			}
		} else if ((p = scan_scalar(p, end)) == NULL)
			return scan_fail(js, JSONSCAN_MALFORMED, deepest);

		for (;;) {
			if (depth == 0) {
				js->error = JSONSCAN_OK;
				js->depth = deepest;
				return p;
			}
			p = jsonscan_ws(p, end);
			if (p == end)
				return scan_fail(js, JSONSCAN_MALFORMED, deepest);
			in_object = level_is_object(word, js->levels, big,
			    depth - 1);
			if (*p == ',')
				break;
			if (*p != (in_object ? '}' : ']'))
				return scan_fail(js, JSONSCAN_MALFORMED, deepest);
			p++;
			depth--;
		}
		p = jsonscan_ws(p + 1, end);
		if (in_object && (p = scan_key(p, end)) == NULL)
			return scan_fail(js, JSONSCAN_MALFORMED, deepest);
	}
}

const char *
jsonscan_value(struct jsonscan *js, const char *p, const char *end)
{
	if (js->levels != NULL)
		return scan_value(js, p, end, js->max_depth, 1);
	return scan_value(js, p, end, js->max_depth < 64 ? js->max_depth : 64,
	    0);
}

/* Write byte c, neither plain nor part of valid UTF-8, escaped at o. */
static char *
escape_byte(char *o, unsigned char c)
{
	static const char	hex[] = "0123456789abcdef";

	*o++ = '\\';
	switch (c) {
	case '"':
	case '\\':
		*o++ = c;
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
		if (c >= 0x80) {
			/* Not UTF-8: U+FFFD for the byte. */
			memcpy(o - 1, "\xef\xbf\xbd", 3);
			o += 2;
		} else {
			memcpy(o, "u00", 3);
			o[3] = hex[c >> 4];
			o[4] = hex[c & 0xf];
			o += 5;
		}
		break;
	}
	return o;
}

char *
jsonscan_escape(char *o, const char **sp, const char *stop, const char *end)
{
	const unsigned char	*p = (const unsigned char *)*sp;
	const unsigned char	*s = (const unsigned char *)stop;
	const unsigned char	*e = (const unsigned char *)end;
	const unsigned char	*run;
	size_t			 n;

	while (p < s) {
		run = p;
		p = skip_plain(p, s);
		while (p < s && *p >= 0x80 &&
		    (n = jsonscan_utf8_len(p, e)) != 0)
			p = skip_plain(p + n, s);
		memcpy(o, run, p - run);
		o += p - run;
		if (p >= s)
			break;
		o = escape_byte(o, *p++);
	}
	*sp = (const char *)p;
	return o;
}

size_t
jsonscan_peek_id(const char *line, size_t len, size_t max, const char **id)
{
	static const char	 prefix[] = "{\"id\":\"";
	size_t			 i, plen = sizeof prefix - 1;

	if (len < plen || memcmp(line, prefix, plen) != 0)
		return 0;
	for (i = plen; i < len && i - plen < max; i++) {
		if (line[i] == '"')
			break;
		if (line[i] == '\\' || (unsigned char)line[i] < 0x20)
			return 0;
	}
	if (i == len || line[i] != '"' || i == plen)
		return 0;
	*id = line + plen;
	return i - plen;
}
