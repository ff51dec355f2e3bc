/*
 * libFuzzer harness for ipc/jsontext.c. Whatever the validator accepts
 * must be safe to walk, look up, decode and convert, and every span the
 * iterators hand out must itself be exactly one valid value; escaping any
 * bytes at all must give valid JSON that decodes back to the same text.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void	walk(const struct jsontext_span *, int);

/* Check that sp is exactly one valid value of its type. */
static void
check_span(const struct jsontext_span *sp)
{
	struct jsontext_span	 again;
	const char		*end = sp->p + sp->len;

	CHECK(sp->len > 0);
	CHECK(jsontext_scan(sp->p, end, &again) == end);
	CHECK(again.p == sp->p && again.len == sp->len);
	CHECK(again.type == sp->type);
}

/* Decode a string and compare it every way the API allows. */
static void
check_string(const struct jsontext_span *sp)
{
	char	*d;
	size_t	 len;

	CHECK(sp->type == JSONTEXT_STRING);
	d = jsontext_string_decode(sp, &len);
	if (d == NULL) {
		CHECK(len == 0);
		return;
	}
	CHECK(len <= sp->len - 2 && d[len] == '\0');
	if (strlen(d) == len)
		CHECK(jsontext_string_eq(sp, d));
	free(d);
}

/* Convert a number both ways and check they agree. */
static void
check_number(const struct jsontext_span *sp)
{
	double	d;
	int64_t	i;

	if (jsontext_integer(sp, INT64_MIN, INT64_MAX, &i) == 0) {
		CHECK(memchr(sp->p, '.', sp->len) == NULL);
		CHECK(jsontext_number(sp, &d) == 0 && d == (double)i);
	} else
		(void)jsontext_number(sp, &d);
}

/* Visit every member of an object, checking lookups as well. */
static void
walk_object(const struct jsontext_span *obj, int depth)
{
	struct jsontext_span	 k, v, got;
	size_t			 state = 0, last = 0;
	char			*key;
	size_t			 len;

	while (jsontext_object_next(obj, &state, &k, &v)) {
		CHECK(state > last && state <= obj->len);
		last = state;
		check_span(&k);
		check_string(&k);
		walk(&v, depth + 1);
		key = jsontext_string_decode(&k, &len);
		if (key != NULL && strlen(key) == len) {
			/* The last member with this key is at v or after it. */
			CHECK(jsontext_object_get(obj, key, &got) == 1);
			CHECK(got.p >= v.p && got.p < obj->p + obj->len);
			check_span(&got);
		}
		free(key);
	}
	CHECK(!jsontext_object_next(obj, &state, &k, &v));
}

/* Visit every value under sp. */
static void
walk(const struct jsontext_span *sp, int depth)
{
	struct jsontext_span	 v;
	size_t			 state = 0;

	CHECK(depth <= JSONSCAN_MAX_DEPTH);
	check_span(sp);
	switch (sp->type) {
	case JSONTEXT_OBJECT:
		walk_object(sp, depth);
		break;
	case JSONTEXT_ARRAY:
		while (jsontext_array_next(sp, &state, &v))
			walk(&v, depth + 1);
		CHECK(!jsontext_array_next(sp, &state, &v));
		break;
	case JSONTEXT_STRING:
		check_string(sp);
		break;
	case JSONTEXT_NUMBER:
		check_number(sp);
		break;
	case JSONTEXT_TRUE:
	case JSONTEXT_FALSE:
	case JSONTEXT_NULL:
		break;
	default:
		CHECK(0);
	}
}

/*
 * An independent UTF-8 check, written as decoding rather than as byte
 * ranges: true if s[0..len) is well-formed and holds no NUL.
 */
static int
ref_text(const unsigned char *s, size_t len)
{
	static const uint32_t	 least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t		 cp;
	size_t			 i = 0, n, j;

	while (i < len) {
		if (s[i] == 0)
			return 0;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = s[i] & 0x07;
		} else
			return 0;
		if (len - i < n)
			return 0;
		for (j = 1; j < n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < least[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

/* Escape the raw bytes; the result must be valid and stable. */
static void
check_escape(const char *s, size_t len)
{
	struct buf		 b = BUF_INIT, again = BUF_INIT;
	struct jsontext_span	 sp;
	char			*d;
	size_t			 dlen;

	jsontext_string_append(&b, s, len);
	CHECK(jsontext_valid(b.data, b.len));
	sp.p = b.data;
	sp.len = b.len;
	sp.type = JSONTEXT_STRING;
	d = jsontext_string_decode(&sp, &dlen);
	if (memchr(s, '\0', len) != NULL) {
		CHECK(d == NULL);
	} else {
		CHECK(d != NULL);
		/* Valid UTF-8 comes back unchanged, anything else is stable. */
		if (ref_text((const unsigned char *)s, len))
			CHECK(dlen == len && memcmp(d, s, len) == 0);
		jsontext_string_append(&again, d, dlen);
		CHECK(again.len == b.len && memcmp(again.data, b.data,
		    b.len) == 0);
	}
	free(d);
	buf_free(&b);
	buf_free(&again);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data, *p;
	struct jsontext_span	 sp;
	int			 valid;

	if (size == 0)
		return 0;
	valid = jsontext_valid(s, size);
	p = jsontext_scan(s, s + size, &sp);
	if (valid) {
		CHECK(p != NULL);
		while (p < s + size && (*p == ' ' || *p == '\t' ||
		    *p == '\n' || *p == '\r'))
			p++;
		CHECK(p == s + size);
		walk(&sp, 0);
	}
	check_escape(s, size);
	return 0;
}
