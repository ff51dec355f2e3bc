/*
 * JSON as text (see jsontext.h). Validation is the common scanner's
 * (common/jsonscan.c); what is here trusts its input (it was validated on
 * the way in): the iterators only hunt for quotes and brackets, but they
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
#include "common/jsonscan.h"
#include "ipc/jsontext.h"

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/* Non-zero if some byte of v is zero (exact as a yes/no answer). */
#define HAS_ZERO(v)	(((v) - ONES) & ~(v) & HIGHS)

/* Non-zero if some byte of v is a quote or a bracket of either kind. */
static inline uint64_t
word_structural(uint64_t v)
{
	uint64_t	folded;

	folded = v | (0x20 * ONES);	/* '[' is now '{', ']' is '}' */
	return HAS_ZERO(v ^ ('"' * ONES)) | HAS_ZERO(folded ^ ('{' * ONES)) |
	    HAS_ZERO(folded ^ ('}' * ONES));
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

enum jsontext_type
jsontext_type_of(char c)
{
	return type_of(c);
}

/* Validate one value and find where it ends (see jsontext.h). */
const char *
jsontext_scan(const char *p, const char *end, struct jsontext_span *out)
{
	struct jsonscan	 js = { JSONSCAN_MAX_DEPTH, NULL, 0, JSONSCAN_OK };
	const char	*start;

	start = p = jsonscan_ws(p, end);
	if (p == end || (p = jsonscan_value(&js, p, end)) == NULL)
		return NULL;
	if (out != NULL) {
		out->p = start;
		out->len = p - start;
		out->type = type_of(*start);
	}
	return p;
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
	return jsonscan_ws(p, end) == end;
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

const char *
jsontext_skip(const char *p, const char *end)
{
	return skip_value(p, end);
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
	p = jsonscan_ws(c->p + state, close);
	if (p < close && *p == ',')
		p = jsonscan_ws(p + 1, close);
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
	p = jsonscan_ws(p, close);
	if (p >= close || *p != ':')
		goto done;
	p = jsonscan_ws(p + 1, close);
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
		if ((n = jsonscan_escape_decode(&p, end, tmp)) == 0 ||
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

void
jsontext_members_index(struct jsontext_members *m,
    const struct jsontext_span *obj)
{
	struct jsontext_span	k, v;
	size_t			state = 0;

	m->obj = *obj;
	m->n = 0;
	m->complete = 1;
	while (jsontext_object_next(obj, &state, &k, &v)) {
		if (m->n == JSONTEXT_MEMBERS_MAX) {
			m->complete = 0;
			return;
		}
		m->key[m->n] = k;
		m->val[m->n++] = v;
	}
}

const char *
jsontext_members_scan(struct jsontext_members *m, const char *p,
    const char *end)
{
	/* The object is one level: its values get one less. */
	struct jsonscan	 js = { JSONSCAN_MAX_DEPTH - 1, NULL, 0, JSONSCAN_OK };
	const char	*start, *q;

	start = p = jsonscan_ws(p, end);
	if (p == end || *p != '{')
		return NULL;
	m->n = 0;
	m->complete = 1;
	p = jsonscan_ws(p + 1, end);
	while (p == end || *p != '}') {
		if (p == end || *p != '"' || (q = jsonscan_string(p, end)) == NULL)
			return NULL;
		if (m->n < JSONTEXT_MEMBERS_MAX) {
			m->key[m->n].p = p;
			m->key[m->n].len = (size_t)(q - p);
			m->key[m->n].type = JSONTEXT_STRING;
		}
		p = jsonscan_ws(q, end);
		if (p == end || *p != ':')
			return NULL;
		p = jsonscan_ws(p + 1, end);
		if (p == end || (q = jsonscan_value(&js, p, end)) == NULL)
			return NULL;
		if (m->n < JSONTEXT_MEMBERS_MAX) {
			m->val[m->n].p = p;
			m->val[m->n].len = (size_t)(q - p);
			m->val[m->n++].type = type_of(*p);
		} else
			m->complete = 0;
		p = jsonscan_ws(q, end);
		if (p < end && *p == ',') {
			p = jsonscan_ws(p + 1, end);
			if (p < end && *p == '}')
				return NULL;	/* a trailing comma */
		} else if (p == end || *p != '}')
			return NULL;
	}
	m->obj.p = start;
	m->obj.len = (size_t)(p + 1 - start);
	m->obj.type = JSONTEXT_OBJECT;
	return p + 1;
}

int
jsontext_members_get(const struct jsontext_members *m, const char *key,
    struct jsontext_span *val)
{
	size_t	i = m->n, keylen = strlen(key);

	if (!m->complete)
		return jsontext_object_get(&m->obj, key, val);
	while (i-- > 0)		/* the last of duplicate keys wins */
		if (string_eq(&m->key[i], key, keylen)) {
			*val = m->val[i];
			return 1;
		}
	return 0;
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
		n = jsonscan_escape_decode(&p, end, tmp);
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
	    jsonscan_number(n->p, n->p + n->len) != n->p + n->len)
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
	const char	*p = s, *e = s + len, *stop;

	while (p < e) {
		/* Straight into the buffer, a bounded round at a time. */
		stop = (size_t)(e - p) > ESCAPE_CHUNK ? p + ESCAPE_CHUNK : e;
		buf_reserve(b, 6 * (stop - p) + 3);
		b->len = jsonscan_escape(b->data + b->len, &p, stop, e) -
		    b->data;
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
