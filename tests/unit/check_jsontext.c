/*
 * Unit tests of ipc/jsontext.c: what the validator accepts and refuses
 * (RFC 8259, UTF-8, nesting), the exact spans the iterators hand out, key
 * lookup, decoding, number conversion and escaping, plus two randomized
 * properties: escaped output is always valid JSON, and the validator
 * agrees with jansson on short mutated documents.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"

/* A test input that may hold NUL bytes. */
struct text {
	const char	*s;
	size_t		 len;
};

#define T(x)	{ x, sizeof(x) - 1 }

/* Scan s as a whole document and return its span (test must be valid). */
static struct jsontext_span
span_of(const char *s)
{
	struct jsontext_span	 sp;
	const char		*end = s + strlen(s);

	ck_assert_msg(jsontext_scan(s, end, &sp) != NULL, "scan failed: %s",
	    s);
	return sp;
}

/* A span over a C string of the given type, without scanning it. */
static struct jsontext_span
raw_span(const char *s, enum jsontext_type type)
{
	struct jsontext_span	sp;

	sp.p = s;
	sp.len = strlen(s);
	sp.type = type;
	return sp;
}

/* Check that the span is exactly the text want. */
static void
assert_span(const struct jsontext_span *sp, const char *want,
    enum jsontext_type type)
{
	ck_assert_uint_eq(sp->len, strlen(want));
	ck_assert_msg(memcmp(sp->p, want, sp->len) == 0, "span '%.*s' != '%s'",
	    (int)sp->len, sp->p, want);
	ck_assert_int_eq(sp->type, type);
}

/* A tiny fixed-seed generator, so failures reproduce. */
static uint64_t
rng_next(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

static const struct text valid_values[] = {
	T("true"), T("false"), T("null"), T(" \t\r\n true \n\t\r "),
	T("0"), T("-0"), T("1"), T("-1"), T("10"), T("1e5"), T("1E+5"),
	T("1e-5"), T("1E05"), T("0.5"), T("-0.5"), T("123.456e-78"), T("0e0"),
	T("1e400"), T("-1e-400"), T("99999999999999999999999999"),
	T("\"\""), T("\"abc\""), T("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""),
	T("\"\\u0041\""), T("\"\\u00e9\\u00E9\""), T("\"\\uD83D\\uDE00\""),
	T("\"\\ud83d\\ude00\""), T("\"\\uDBFF\\uDFFF\""), T("\"\\u0000\""),
	T("\"\\uFFFF\""), T("\"\xc3\xa9\""), T("\"\xe2\x82\xac\""),
	T("\"\xf0\x9f\x98\x80\""), T("\"\x7f\""), T("\"\xc2\x80\""),
	T("\"\xdf\xbf\""), T("\"\xe0\xa0\x80\""), T("\"\xed\x9f\xbf\""),
	T("\"\xee\x80\x80\""), T("\"\xef\xbf\xbf\""),
	T("\"\xf0\x90\x80\x80\""), T("\"\xf4\x8f\xbf\xbf\""),
	T("\"a long string of plain text that spans several words: "
	    "0123456789 abcdefghijklmnopqrstuvwxyz\""),
	T("[]"), T("[ ]"), T("{}"), T("{ }"), T("[1,2]"), T("[[],{}]"),
	T("{\"a\":1,\"b\":[true,false,null]}"),
	T(" { \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : \"x\" } "),
	T("{\"a\":1,\"a\":2}"), T("{\"\":0}"),
	T("[\"]\",\"[\",\"}\",\"{\",\"\\\"\"]"),
	T("\n[\n\t1\r\n,\n\t2\n]\n"),
};

START_TEST(test_valid_values_are_accepted)
{
	const struct text	*t = &valid_values[_i];

	ck_assert_msg(jsontext_valid(t->s, t->len), "refused: %s", t->s);
}
END_TEST

static const struct text invalid_values[] = {
	T(""), T(" "), T("\t\r\n"), T("tru"), T("True"), T("nul"), T("nulll"),
	T("truex"), T("NaN"), T("nan"), T("Infinity"), T("-Infinity"),
	T("undefined"), T("\v1"), T("\f1"), T("1\v"), T("\xc2\xa0" "1"),
	/* numbers */
	T("-"), T("01"), T("-01"), T("00"), T("1."), T(".5"), T("1e"),
	T("1e+"), T("1E-"), T("+1"), T("0x10"), T("1.e5"), T("--1"),
	T("1..2"), T("1 2"), T("- 1"), T("1e5.5"), T("0.5.5"), T("1ee5"),
	T("-.5"), T("1,"),
	/* strings */
	T("'abc'"), T("\"abc"), T("\""), T("\"\\\""), T("\"\\x\""),
	T("\"\\u12\""), T("\"\\u12G4\""), T("\"\\U0041\""),
	T("\"\\uD800\""), T("\"\\uDC00\""), T("\"\\uDFFF\""),
	T("\"\\uD800\\u0041\""), T("\"\\uD800x\""), T("\"\\uDBFF\\uDBFF\""),
	T("\"\\uD800\\\""), T("\"\\uD800\\uDC0\""), T("\"\\uDC00\\uD800\""),
	T("\"a\nb\""), T("\"a\tb\""), T("\"\x01\""), T("\"\x1f\""),
	T("\"\0\""), T("\"\xc0\x80\""), T("\"\xc1\xbf\""),
	T("\"\xe0\x80\x80\""), T("\"\xe0\x9f\xbf\""), T("\"\xed\xa0\x80\""),
	T("\"\xed\xbf\xbf\""), T("\"\xf0\x80\x80\x80\""),
	T("\"\xf0\x8f\xbf\xbf\""), T("\"\xf4\x90\x80\x80\""),
	T("\"\xf5\x80\x80\x80\""), T("\"\xff\""), T("\"\xfe\""),
	T("\"\x80\""), T("\"\xbf\""), T("\"\xe2\x82\""), T("\"\xf0\x9f\x98\""),
	T("\"\xc3\""), T("\"\xc3"), T("\"\xe2\x82"), T("\"\xc3" "a\""),
	T("\"\xe2\x28\xa1\""),
	/* containers */
	T("[1,]"), T("[,1]"), T("[,]"), T("[1 2]"), T("[1,,2]"),
	T("{\"a\":1,}"), T("{,\"a\":1}"), T("{\"a\"}"), T("{\"a\":}"),
	T("{a:1}"), T("{'a':1}"), T("{\"a\" 1}"), T("{1:2}"), T("{\"a\"::1}"),
	T("{\"a\":1 \"b\":2}"), T("["), T("{"), T("[1"), T("{\"a\":1"),
	T("{\"a\""), T("{\"a\":"), T("]"), T("}"), T("[}"), T("{]"),
	T("[1]]"), T("{}}"), T("{}{}"), T("[][]"), T("[1] x"),
	T("{\"a\":1]"), T("[\"a\":1]"), T("{\"a\",1}"),
};

START_TEST(test_invalid_values_are_refused)
{
	const struct text	*t = &invalid_values[_i];

	ck_assert_msg(!jsontext_valid(t->s, t->len), "accepted #%d: %.*s", _i,
	    (int)t->len, t->s);
}
END_TEST

/* n nested arrays or objects around a 1. */
static char *
nested(int n, int objects)
{
	struct buf	b = BUF_INIT;
	int		i;

	for (i = 0; i < n; i++)
		buf_append_str(&b, objects ? "{\"k\": " : "[ ");
	buf_append_str(&b, "1");
	for (i = 0; i < n; i++)
		buf_append_str(&b, objects ? "}" : "]");
	buf_append(&b, "", 1);
	return b.data;
}

START_TEST(test_depth_limit_is_64)
{
	char	*s;
	int	 objects;

	for (objects = 0; objects <= 1; objects++) {
		s = nested(JSONSCAN_MAX_DEPTH, objects);
		ck_assert_msg(jsontext_valid(s, strlen(s)), "64 refused");
		free(s);
		s = nested(JSONSCAN_MAX_DEPTH + 1, objects);
		ck_assert_msg(!jsontext_valid(s, strlen(s)), "65 accepted");
		free(s);
		s = nested(1000, objects);
		ck_assert(!jsontext_valid(s, strlen(s)));
		free(s);
	}
}
END_TEST

START_TEST(test_depth_counts_open_containers_only)
{
	struct buf	b = BUF_INIT;
	int		i;

	/* Many siblings at depth 64 do not add up. */
	for (i = 0; i < JSONSCAN_MAX_DEPTH - 1; i++)
		buf_append_str(&b, "[");
	for (i = 0; i < 100; i++)
		buf_append_str(&b, i ? ",[]" : "[]");
	for (i = 0; i < JSONSCAN_MAX_DEPTH - 1; i++)
		buf_append_str(&b, "]");
	ck_assert(jsontext_valid(b.data, b.len));
	buf_free(&b);
}
END_TEST

START_TEST(test_scan_skips_leading_space_not_trailing)
{
	const char		*s = " \t\r\n{\"a\":[1, 2]}  \n", *p;
	struct jsontext_span	 sp;

	p = jsontext_scan(s, s + strlen(s), &sp);
	ck_assert_ptr_nonnull(p);
	assert_span(&sp, "{\"a\":[1, 2]}", JSONTEXT_OBJECT);
	ck_assert_ptr_eq(p, sp.p + sp.len);
	ck_assert_int_eq(*p, ' ');
}
END_TEST

START_TEST(test_scan_stops_after_one_value)
{
	const char		*s = "12x", *t = "true false", *p;
	struct jsontext_span	 sp;

	p = jsontext_scan(s, s + 3, &sp);
	ck_assert_ptr_eq(p, s + 2);
	assert_span(&sp, "12", JSONTEXT_NUMBER);
	p = jsontext_scan(t, t + strlen(t), NULL);
	ck_assert_ptr_eq(p, t + 4);
	ck_assert_ptr_null(jsontext_scan(s + 2, s + 3, &sp));
}
END_TEST

START_TEST(test_scan_reports_each_type)
{
	static const struct {
		const char		*s;
		enum jsontext_type	 type;
	} cases[] = {
		{ "{}", JSONTEXT_OBJECT }, { "[]", JSONTEXT_ARRAY },
		{ "\"\"", JSONTEXT_STRING }, { "-1.5e3", JSONTEXT_NUMBER },
		{ "0", JSONTEXT_NUMBER }, { "true", JSONTEXT_TRUE },
		{ "false", JSONTEXT_FALSE }, { "null", JSONTEXT_NULL },
	};
	struct jsontext_span	sp;
	size_t			i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		sp = span_of(cases[i].s);
		assert_span(&sp, cases[i].s, cases[i].type);
	}
}
END_TEST

START_TEST(test_scan_honours_end)
{
	const char	*s = "[1,2]", *t = "\"ab\"", *u = "true";

	/* The text past end must not be looked at. */
	ck_assert_ptr_null(jsontext_scan(s, s + 4, NULL));
	ck_assert_ptr_null(jsontext_scan(t, t + 3, NULL));
	ck_assert_ptr_null(jsontext_scan(u, u + 3, NULL));
	ck_assert(!jsontext_valid("1.5", 2));
	ck_assert(jsontext_valid("1.5", 1));
	ck_assert(!jsontext_valid(NULL, 0));
}
END_TEST

START_TEST(test_object_iteration_spans_are_exact)
{
	static const char	*s = " { \"a\" : 1 ,\n\"b\\\"c\"\t:\t"
	    "[ 1 , {} ] , \"d\":{ \"e\" : \"}\" } , \"f\" : -2.5e3 ,"
	    "\"g\":true,\"h\":null ,\"i\":false , \"j\" : \"x\\\\\" } ";
	static const struct {
		const char		*key, *val;
		enum jsontext_type	 type;
	} want[] = {
		{ "\"a\"", "1", JSONTEXT_NUMBER },
		{ "\"b\\\"c\"", "[ 1 , {} ]", JSONTEXT_ARRAY },
		{ "\"d\"", "{ \"e\" : \"}\" }", JSONTEXT_OBJECT },
		{ "\"f\"", "-2.5e3", JSONTEXT_NUMBER },
		{ "\"g\"", "true", JSONTEXT_TRUE },
		{ "\"h\"", "null", JSONTEXT_NULL },
		{ "\"i\"", "false", JSONTEXT_FALSE },
		{ "\"j\"", "\"x\\\\\"", JSONTEXT_STRING },
	};
	struct jsontext_span	 obj, k, v;
	size_t			 state = 0, n = 0;

	ck_assert(jsontext_valid(s, strlen(s)));
	obj = span_of(s);
	while (jsontext_object_next(&obj, &state, &k, &v)) {
		ck_assert_uint_lt(n, sizeof want / sizeof want[0]);
		assert_span(&k, want[n].key, JSONTEXT_STRING);
		assert_span(&v, want[n].val, want[n].type);
		n++;
	}
	ck_assert_uint_eq(n, sizeof want / sizeof want[0]);
	ck_assert_int_eq(jsontext_object_next(&obj, &state, &k, &v), 0);
}
END_TEST

START_TEST(test_array_iteration_spans_are_exact)
{
	static const char	*s = "[ \"a,]\" , 1,[2 ,3] ,{\"x\":[]}\n,"
	    "\ttrue,false , null,-0.0 ]";
	static const struct {
		const char		*val;
		enum jsontext_type	 type;
	} want[] = {
		{ "\"a,]\"", JSONTEXT_STRING }, { "1", JSONTEXT_NUMBER },
		{ "[2 ,3]", JSONTEXT_ARRAY }, { "{\"x\":[]}", JSONTEXT_OBJECT },
		{ "true", JSONTEXT_TRUE }, { "false", JSONTEXT_FALSE },
		{ "null", JSONTEXT_NULL }, { "-0.0", JSONTEXT_NUMBER },
	};
	struct jsontext_span	 arr, v;
	size_t			 state = 0, n = 0;

	arr = span_of(s);
	while (jsontext_array_next(&arr, &state, &v)) {
		ck_assert_uint_lt(n, sizeof want / sizeof want[0]);
		assert_span(&v, want[n].val, want[n].type);
		n++;
	}
	ck_assert_uint_eq(n, sizeof want / sizeof want[0]);
	ck_assert_int_eq(jsontext_array_next(&arr, &state, &v), 0);
}
END_TEST

START_TEST(test_iteration_of_empty_and_wrong_types)
{
	struct jsontext_span	 sp, k, v;
	size_t			 state;
	const char		*empties[] = { "{}", "{ \n }", "[]", "[\t]" };
	size_t			 i;

	for (i = 0; i < 4; i++) {
		sp = span_of(empties[i]);
		state = 0;
		ck_assert_int_eq(jsontext_object_next(&sp, &state, &k, &v), 0);
		state = 0;
		ck_assert_int_eq(jsontext_array_next(&sp, &state, &v), 0);
	}
	sp = span_of("\"{\\\"a\\\":1}\"");
	state = 0;
	ck_assert_int_eq(jsontext_object_next(&sp, &state, &k, &v), 0);
	ck_assert_int_eq(jsontext_object_get(&sp, "a", &v), 0);
	sp = span_of("[1]");
	state = 0;
	ck_assert_int_eq(jsontext_object_next(&sp, &state, &k, &v), 0);
	sp = span_of("{\"a\":1}");
	state = 0;
	ck_assert_int_eq(jsontext_array_next(&sp, &state, &v), 0);
}
END_TEST

START_TEST(test_iteration_of_deep_and_long_values)
{
	struct buf		 b = BUF_INIT;
	struct jsontext_span	 arr, v;
	size_t			 state = 0;
	char			*deep = nested(JSONSCAN_MAX_DEPTH - 1, 1);
	int			 i;

	buf_append_str(&b, "[");
	buf_append_str(&b, deep);
	buf_append_str(&b, ",\"");
	for (i = 0; i < 1000; i++)
		buf_append_str(&b, i % 7 ? "[{x}]" : "\\\"\\\\");
	buf_append_str(&b, "\",2]");
	ck_assert(jsontext_valid(b.data, b.len));
	arr.p = b.data;
	arr.len = b.len;
	arr.type = JSONTEXT_ARRAY;
	ck_assert(jsontext_array_next(&arr, &state, &v));
	ck_assert_uint_eq(v.len, strlen(deep));
	ck_assert(memcmp(v.p, deep, v.len) == 0);
	ck_assert(jsontext_array_next(&arr, &state, &v));
	ck_assert_int_eq(v.type, JSONTEXT_STRING);
	ck_assert(jsontext_array_next(&arr, &state, &v));
	assert_span(&v, "2", JSONTEXT_NUMBER);
	ck_assert(!jsontext_array_next(&arr, &state, &v));
	free(deep);
	buf_free(&b);
}
END_TEST

START_TEST(test_object_get_finds_top_level_keys)
{
	struct jsontext_span	obj, v;

	obj = span_of("{\"id\": 7, \"data\": {\"fn\": \"x\", \"id\": 9},"
	    " \"name\" : \"job\" }");
	ck_assert_int_eq(jsontext_object_get(&obj, "id", &v), 1);
	assert_span(&v, "7", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "data", &v), 1);
	assert_span(&v, "{\"fn\": \"x\", \"id\": 9}", JSONTEXT_OBJECT);
	ck_assert_int_eq(jsontext_object_get(&obj, "name", &v), 1);
	assert_span(&v, "\"job\"", JSONTEXT_STRING);
	ck_assert_int_eq(jsontext_object_get(&obj, "fn", &v), 0);
	ck_assert_int_eq(jsontext_object_get(&obj, "i", &v), 0);
	ck_assert_int_eq(jsontext_object_get(&obj, "idx", &v), 0);
	ck_assert_int_eq(jsontext_object_get(&obj, "", &v), 0);
}
END_TEST

/* The one-pass index answers exactly as jsontext_object_get(). */
static void
assert_members_agree(const char *text, const char *const *keys)
{
	struct jsontext_members	m, ms;
	struct jsontext_span	obj, a, b;
	int			fa, fb;

	obj = span_of(text);
	jsontext_members_index(&m, &obj);
	/* The index made while validating holds the same. */
	ck_assert_ptr_eq(jsontext_members_scan(&ms, text, text +
	    strlen(text)), obj.p + obj.len);
	ck_assert_ptr_eq(ms.obj.p, obj.p);
	ck_assert_uint_eq(ms.obj.len, obj.len);
	ck_assert_int_eq(ms.complete, m.complete);
	for (; *keys != NULL; keys++) {
		memset(&a, 0, sizeof a);
		memset(&b, 0, sizeof b);
		fa = jsontext_object_get(&obj, *keys, &a);
		fb = jsontext_members_get(&m, *keys, &b);
		ck_assert_msg(fa == fb, "%s in %s: %d vs %d", *keys, text, fa,
		    fb);
		if (fa) {
			ck_assert_ptr_eq(a.p, b.p);
			ck_assert_uint_eq(a.len, b.len);
			ck_assert_int_eq(a.type, b.type);
		}
		memset(&b, 0, sizeof b);
		ck_assert_int_eq(jsontext_members_get(&ms, *keys, &b), fa);
		if (fa) {
			ck_assert_ptr_eq(a.p, b.p);
			ck_assert_uint_eq(a.len, b.len);
			ck_assert_int_eq(a.type, b.type);
		}
	}
}

/*
 * jsontext_members_scan() accepts what jsontext_scan() accepts, when it
 * is an object with only white space before it, and nothing else.
 */
static void
assert_members_scan_as_scan(const char *s, size_t len)
{
	struct jsontext_members	 m;
	struct jsontext_span	 v;
	const char		*a, *b;

	a = jsontext_scan(s, s + len, &v);
	if (a != NULL && v.type != JSONTEXT_OBJECT)
		a = NULL;
	b = jsontext_members_scan(&m, s, s + len);
	ck_assert_msg(a == b, "%.*s: %p vs %p", (int)len, s, (void *)a,
	    (void *)b);
}

START_TEST(test_members_scan_validates_as_scan)
{
	static const struct text	more[] = {
		T("{\"a\":1,}"), T("{\"a\":1,,\"b\":2}"), T("{ , }"),
		T("{\"a\":1} x"), T("  {\"a\" : [1, {\"b\": \"}\"}] , \"c\":{}}"),
		T("{\"\xff\":1}"), T("{\"a\\q\":1}"), T("{\"a\":1"),
		T("{\"a\":"), T("{\"a\""), T("{\"a\":1 , "), T("{ }"),
	};
	size_t	i;
	char	*d;
	int	 n;

	for (i = 0; i < sizeof valid_values / sizeof *valid_values; i++)
		assert_members_scan_as_scan(valid_values[i].s,
		    valid_values[i].len);
	for (i = 0; i < sizeof invalid_values / sizeof *invalid_values; i++)
		assert_members_scan_as_scan(invalid_values[i].s,
		    invalid_values[i].len);
	for (i = 0; i < sizeof more / sizeof *more; i++)
		assert_members_scan_as_scan(more[i].s, more[i].len);
	/* The depth limit counts the object itself: 64 in all, not 65. */
	for (n = JSONSCAN_MAX_DEPTH - 1; n <= JSONSCAN_MAX_DEPTH + 1; n++) {
		d = nested(n, 1);
		assert_members_scan_as_scan(d, strlen(d));
		free(d);
	}
	d = nested(JSONSCAN_MAX_DEPTH, 1);
	ck_assert_ptr_nonnull(jsontext_members_scan(&(struct jsontext_members){
	    0 }, d, d + strlen(d)));
	free(d);
	d = nested(JSONSCAN_MAX_DEPTH + 1, 1);
	ck_assert_ptr_null(jsontext_members_scan(&(struct jsontext_members){
	    0 }, d, d + strlen(d)));
	free(d);
}
END_TEST

START_TEST(test_members_index_agrees_with_object_get)
{
	static const char *const	keys[] = { "op", "pool", "jobs", "k",
	    "wait", "timeout", "b", "", "x17", "x0", NULL };
	struct jsontext_members		m;
	struct jsontext_span		obj, v;
	struct buf			big = BUF_INIT;
	int				i;

	assert_members_agree("{\"op\": \"submit_many\", \"pool\": \"p\", "
	    "\"jobs\": [{\"k\": 1}, {\"pool\": 2}], \"wait\": true}", keys);
	assert_members_agree("{\"k\": 1, \"x\": 0, \"k\": [2], "
	    "\"\\u006b\": 3 }", keys);
	assert_members_agree("{}", keys);
	assert_members_agree("{\"a\": {\"b\": 1}, \"c\": [{\"b\": 2}]}", keys);
	/* More members than the index holds: the slow way, same answers. */
	buf_append_str(&big, "{");
	for (i = 0; i < JSONTEXT_MEMBERS_MAX + 4; i++)
		buf_appendf(&big, "%s\"x%d\": %d", i ? ", " : "", i, i);
	buf_append_str(&big, ", \"x0\": \"last\"}");
	buf_append(&big, "", 1);
	assert_members_agree(buf_head(&big), keys);
	obj = span_of(buf_head(&big));
	jsontext_members_index(&m, &obj);
	ck_assert_int_eq(m.complete, 0);
	ck_assert_int_eq(jsontext_members_get(&m, "x0", &v), 1);
	assert_span(&v, "\"last\"", JSONTEXT_STRING);
	ck_assert_int_eq(jsontext_members_get(&m, "x17", &v), 1);
	assert_span(&v, "17", JSONTEXT_NUMBER);
	buf_free(&big);
}
END_TEST

START_TEST(test_object_get_nested_key_not_matched)
{
	struct jsontext_span	obj, v;

	obj = span_of("{\"a\": {\"b\": 1}, \"c\": [{\"b\": 2}],"
	    " \"d\": \"\\\"b\\\": 3\"}");
	ck_assert_int_eq(jsontext_object_get(&obj, "b", &v), 0);
}
END_TEST

START_TEST(test_object_get_duplicate_last_wins)
{
	struct jsontext_span	obj, v;

	obj = span_of("{\"k\": 1, \"x\": 0, \"k\": [2], \"\\u006b\": 3 }");
	ck_assert_int_eq(jsontext_object_get(&obj, "k", &v), 1);
	assert_span(&v, "3", JSONTEXT_NUMBER);
	obj = span_of("{\"k\": 1, \"k\": \"two\"}");
	ck_assert_int_eq(jsontext_object_get(&obj, "k", &v), 1);
	assert_span(&v, "\"two\"", JSONTEXT_STRING);
}
END_TEST

START_TEST(test_object_get_escaped_key)
{
	struct jsontext_span	obj, v;

	obj = span_of("{\"\\u0069\\u0064\": 1, \"a\\\"b\": 2, \"t\\tab\": 3,"
	    " \"\\u00e9\": 4, \"\\ud83d\\ude00\": 5, \"\\u0000x\": 6, \"\": 7,"
	    " \"a\\\\\": 8}");
	ck_assert_int_eq(jsontext_object_get(&obj, "id", &v), 1);
	assert_span(&v, "1", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "a\"b", &v), 1);
	assert_span(&v, "2", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "t\tab", &v), 1);
	assert_span(&v, "3", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "\xc3\xa9", &v), 1);
	assert_span(&v, "4", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "\xf0\x9f\x98\x80", &v), 1);
	assert_span(&v, "5", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "x", &v), 0);
	ck_assert_int_eq(jsontext_object_get(&obj, "", &v), 1);
	assert_span(&v, "7", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_object_get(&obj, "a\\", &v), 1);
	assert_span(&v, "8", JSONTEXT_NUMBER);
}
END_TEST

START_TEST(test_string_eq_compares_decoded_text)
{
	struct jsontext_span	s;

	s = span_of("\"\\u0041\"");
	ck_assert(jsontext_string_eq(&s, "A"));
	ck_assert(!jsontext_string_eq(&s, "a"));
	ck_assert(!jsontext_string_eq(&s, "\\u0041"));
	ck_assert(!jsontext_string_eq(&s, ""));
	ck_assert(!jsontext_string_eq(&s, "AA"));
	s = span_of("\"a\\/b\\n\"");
	ck_assert(jsontext_string_eq(&s, "a/b\n"));
	s = span_of("\"\\uD83D\\uDE00!\"");
	ck_assert(jsontext_string_eq(&s, "\xf0\x9f\x98\x80!"));
	s = span_of("\"\\u0000\"");
	ck_assert(!jsontext_string_eq(&s, ""));
	s = span_of("\"\"");
	ck_assert(jsontext_string_eq(&s, ""));
	ck_assert(!jsontext_string_eq(&s, "a"));
	s = span_of("7");
	ck_assert(!jsontext_string_eq(&s, "7"));
}
END_TEST

START_TEST(test_string_decode_escapes)
{
	struct jsontext_span	 s;
	char			*d;
	size_t			 len;

	s = span_of("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC"
	    "\\uD83D\\uDE00 \xc3\xa9\"");
	d = jsontext_string_decode(&s, &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, strlen(d));
	ck_assert_str_eq(d, "a\"b\\c/d\b\f\n\r\tA\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80 \xc3\xa9");
	free(d);

	s = span_of("\"\"");
	d = jsontext_string_decode(&s, &len);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(len, 0);
	ck_assert_str_eq(d, "");
	free(d);

	s = span_of("\"plain text, nothing to decode\"");
	d = jsontext_string_decode(&s, NULL);
	ck_assert_str_eq(d, "plain text, nothing to decode");
	free(d);
}
END_TEST

START_TEST(test_string_decode_refuses_nul)
{
	struct jsontext_span	s;
	size_t			len = 99;

	s = span_of("\"ab\\u0000cd\"");
	ck_assert_ptr_null(jsontext_string_decode(&s, &len));
	ck_assert_uint_eq(len, 0);
	len = 99;
	s = span_of("\"\\u0000\"");
	ck_assert_ptr_null(jsontext_string_decode(&s, &len));
	ck_assert_uint_eq(len, 0);
	len = 99;
	s = span_of("12");
	ck_assert_ptr_null(jsontext_string_decode(&s, &len));
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_number_parses_doubles)
{
	struct jsontext_span	s;
	double			d;

	s = span_of("0.5");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == 0.5);
	s = span_of("-0");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == 0 && signbit(d));
	s = span_of("1e5");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == 100000);
	s = span_of("1E+5");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == 100000);
	s = span_of("-12.25e-2");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == -0.1225);
	s = span_of("1e-400");
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert(d == 0);
	s = span_of("1e400");
	ck_assert_int_eq(jsontext_number(&s, &d), -1);
	s = span_of("-1e400");
	ck_assert_int_eq(jsontext_number(&s, &d), -1);
	s = span_of("true");
	ck_assert_int_eq(jsontext_number(&s, &d), -1);
	s = raw_span("0x10", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_number(&s, &d), -1);
	s = raw_span("inf", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_number(&s, &d), -1);
}
END_TEST

/* Check jsontext_number on text against strtod on a plain copy. */
static void
assert_number_like_strtod(const char *text)
{
	struct jsontext_span	s;
	double			d, want;

	s = span_of(text);
	ck_assert_uint_eq(s.len, strlen(text));
	want = strtod(text, NULL);
	if (isinf(want)) {
		ck_assert_int_eq(jsontext_number(&s, &d), -1);
		return;
	}
	ck_assert_int_eq(jsontext_number(&s, &d), 0);
	ck_assert_msg(d == want && signbit(d) == signbit(want),
	    "%.17g != %.17g for %.60s...", d, want, text);
}

START_TEST(test_number_long_text_rounds_like_strtod)
{
	struct buf	b = BUF_INIT;
	unsigned char	pow5[800];
	int		i, n, carry, sticky;

	/* A long run of digits that is just past a halfway case. */
	buf_append_str(&b, "9007199254740993");
	for (i = 0; i < 2000; i++)
		buf_append_str(&b, "0");
	buf_append_str(&b, "1e-2001");
	buf_append(&b, "", 1);
	assert_number_like_strtod(b.data);
	buf_reset(&b);

	/* The same halfway case exactly: ties to even. */
	buf_append_str(&b, "9007199254740993.");
	for (i = 0; i < 2000; i++)
		buf_append_str(&b, "0");
	buf_append(&b, "", 1);
	assert_number_like_strtod(b.data);
	buf_reset(&b);

	/*
	 * 5^1076 * 10^-1075 is halfway between the two smallest subnormals
	 * above 2^-1074: 753 significant digits, all of which must count.
	 */
	memset(pow5, 0, sizeof pow5);
	pow5[0] = 1;
	for (n = 0; n < 1076; n++) {
		for (i = 0, carry = 0; i < (int)sizeof pow5; i++) {
			carry += pow5[i] * 5;
			pow5[i] = carry % 10;
			carry /= 10;
		}
	}
	for (n = sizeof pow5 - 1; pow5[n] == 0; n--)
		;
	for (sticky = 0; sticky <= 1; sticky++) {
		for (i = n; i >= 0; i--)
			buf_appendf(&b, "%d", pow5[i]);
		for (i = 0; i < 300; i++)
			buf_append_str(&b, "0");
		buf_appendf(&b, "%se-%d", sticky ? "1" : "", 1075 + 300 + sticky);
		buf_append(&b, "", 1);
		assert_number_like_strtod(b.data);
		buf_reset(&b);
	}

	/* Many leading fraction zeros, with and without an exponent. */
	for (n = 0; n < 3; n++) {
		buf_append_str(&b, n == 1 ? "-0." : "0.");
		for (i = 0; i < 1500; i++)
			buf_append_str(&b, "0");
		buf_append_str(&b, "123456789");
		buf_append_str(&b, n == 0 ? "" : n == 1 ? "e1400" : "E+1600");
		buf_append(&b, "", 1);
		assert_number_like_strtod(b.data);
		buf_reset(&b);
	}

	/* Long integers: in range, and overflowing to infinity. */
	for (n = 300; n <= 1200; n += 450) {
		buf_append_str(&b, "-");
		for (i = 0; i < n; i++)
			buf_append_str(&b, i % 3 ? "7" : "1");
		buf_append_str(&b, n == 300 ? ".5e-10" : "");
		buf_append(&b, "", 1);
		assert_number_like_strtod(b.data);
		buf_reset(&b);
	}

	/* Long zeros. */
	buf_append_str(&b, "-0.");
	for (i = 0; i < 1500; i++)
		buf_append_str(&b, "0");
	buf_append_str(&b, "e99999999999999999999");
	buf_append(&b, "", 1);
	assert_number_like_strtod(b.data);
	buf_reset(&b);

	/* A huge exponent literal on a long mantissa. */
	buf_append_str(&b, "1.");
	for (i = 0; i < 1100; i++)
		buf_append_str(&b, "5");
	buf_append_str(&b, "e-99999999999999999999999");
	buf_append(&b, "", 1);
	assert_number_like_strtod(b.data);
	buf_free(&b);
}
END_TEST

START_TEST(test_integer_accepts_only_integer_literals)
{
	struct jsontext_span	s;
	int64_t			v;

	s = span_of("0");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), 0);
	ck_assert_int_eq(v, 0);
	s = span_of("-0");
	ck_assert_int_eq(jsontext_integer(&s, 0, 0, &v), 0);
	ck_assert_int_eq(v, 0);
	s = span_of("42");
	ck_assert_int_eq(jsontext_integer(&s, 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	s = span_of("-17");
	ck_assert_int_eq(jsontext_integer(&s, -17, -17, &v), 0);
	ck_assert_int_eq(v, -17);
	s = span_of("9223372036854775807");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MAX);
	s = span_of("-9223372036854775808");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MIN);

	v = 5;
	s = span_of("9223372036854775808");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), -1);
	s = span_of("-9223372036854775809");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), -1);
	s = span_of("100000000000000000000000");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), -1);
	s = span_of("1.0");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), -1);
	s = span_of("1e2");
	ck_assert_int_eq(jsontext_integer(&s, INT64_MIN, INT64_MAX, &v), -1);
	s = span_of("101");
	ck_assert_int_eq(jsontext_integer(&s, 0, 100, &v), -1);
	s = span_of("-1");
	ck_assert_int_eq(jsontext_integer(&s, 0, 100, &v), -1);
	s = span_of("\"1\"");
	ck_assert_int_eq(jsontext_integer(&s, 0, 100, &v), -1);
	s = raw_span("-", JSONTEXT_NUMBER);
	ck_assert_int_eq(jsontext_integer(&s, -1, 1, &v), -1);
	ck_assert_int_eq(v, 5);
}
END_TEST

/* Escape in[0..len) and compare with want. */
static void
assert_escapes_to(const char *in, size_t len, const char *want)
{
	struct buf	b = BUF_INIT;

	jsontext_escape_append(&b, in, len);
	ck_assert_msg(b.len == strlen(want) &&
	    (b.len == 0 || memcmp(b.data, want, b.len) == 0),
	    "escaped to '%.*s', want '%s'", (int)b.len, b.data, want);
	buf_free(&b);
}

START_TEST(test_escape_special_characters)
{
	const char	*line = "a long line of log output, more than a word "
	    "\"quoted\"\n";

	assert_escapes_to("", 0, "");
	assert_escapes_to("plain text", 10, "plain text");
	assert_escapes_to("a\"b\\c/", 6, "a\\\"b\\\\c/");
	assert_escapes_to("\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f");
	assert_escapes_to("\x01\x1f\x7f", 3, "\\u0001\\u001f\x7f");
	assert_escapes_to("a\0b", 3, "a\\u0000b");
	assert_escapes_to("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
	    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_escapes_to("\xe2\x80\xa8\xe2\x80\xa9", 6,
	    "\xe2\x80\xa8\xe2\x80\xa9");
	assert_escapes_to(line, strlen(line), "a long line of log output, more"
	    " than a word \\\"quoted\\\"\\n");
}
END_TEST

START_TEST(test_escape_replaces_each_invalid_byte)
{
	assert_escapes_to("\xff", 1, "\xef\xbf\xbd");
	assert_escapes_to("\x80", 1, "\xef\xbf\xbd");
	assert_escapes_to("\xc0\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd");
	assert_escapes_to("\xed\xa0\x80", 3,
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	assert_escapes_to("\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd");
	assert_escapes_to("a\xe2\x82", 3, "a\xef\xbf\xbd\xef\xbf\xbd");
	assert_escapes_to("\xc3" "a\xc3\xa9", 4, "\xef\xbf\xbd" "a\xc3\xa9");
	assert_escapes_to("\xf0\x9f\x98" "\"", 4, "\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd\\\"");
}
END_TEST

START_TEST(test_escape_across_chunk_boundaries)
{
	static const char	 tail[] = "\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\xff\n\"\x01" "bbbbbbbbbb";
	static const char	 want_tail[] = "\xc3\xa9\xe2\x82\xac"
	    "\xf0\x9f\x98\x80\xef\xbf\xbd\\n\\\"\\u0001bbbbbbbbbb";
	struct buf		 in = BUF_INIT, want = BUF_INIT;
	struct buf		 out = BUF_INIT;
	size_t			 k, i;

	/* Long input is escaped in rounds; sequences may straddle them. */
	for (k = 4080; k <= 4100; k++) {
		buf_reset(&in);
		buf_reset(&want);
		buf_reset(&out);
		for (i = 0; i < k; i++) {
			buf_append(&in, "a", 1);
			buf_append(&want, "a", 1);
		}
		buf_append(&in, tail, sizeof tail - 1);
		buf_append(&want, want_tail, sizeof want_tail - 1);
		buf_append(&out, "x", 1);
		jsontext_escape_append(&out, in.data, in.len);
		ck_assert_uint_eq(out.len, want.len + 1);
		ck_assert(memcmp(out.data + 1, want.data, want.len) == 0);
	}
	buf_free(&in);
	buf_free(&want);
	buf_free(&out);
}
END_TEST

START_TEST(test_string_append_round_trips)
{
	static const struct text	 cases[] = {
		T(""), T("x"), T("\"\\/"), T("line\nnext\r\n\ttab"),
		T("\x01\x02\x1e\x1f\x7f"), T("\xc3\xa9t\xc3\xa9 \xe2\x82\xac"),
		T("\xf4\x8f\xbf\xbf\xef\xbf\xbd"),
	};
	struct buf			 b = BUF_INIT;
	struct jsontext_span		 s;
	char				*d;
	size_t				 i, len;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&b);
		jsontext_string_append(&b, cases[i].s, cases[i].len);
		ck_assert(jsontext_valid(b.data, b.len));
		ck_assert_int_eq(b.data[0], '"');
		ck_assert_int_eq(b.data[b.len - 1], '"');
		s.p = b.data;
		s.len = b.len;
		s.type = JSONTEXT_STRING;
		d = jsontext_string_decode(&s, &len);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(len, cases[i].len);
		ck_assert(memcmp(d, cases[i].s, len) == 0);
		ck_assert(jsontext_string_eq(&s, cases[i].s));
		free(d);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_escape_of_random_bytes_is_valid_json)
{
	struct buf	b = BUF_INIT;
	uint64_t	rng = 0x9e3779b97f4a7c15ULL;
	unsigned char	in[96];
	size_t		len, i;
	int		round;

	for (round = 0; round < 20000; round++) {
		len = rng_next(&rng) % sizeof in;
		for (i = 0; i < len; i++) {
			/* Bias towards the interesting bytes. */
			switch (rng_next(&rng) % 4) {
			case 0:
				in[i] = rng_next(&rng) % 0x20;
				break;
			case 1:
				in[i] = 0x80 | (rng_next(&rng) % 0x80);
				break;
			case 2:
				in[i] = "\"\\/ab\xc3\xa9\xed\xf4\xf0"[
				    rng_next(&rng) % 10];
				break;
			default:
				in[i] = rng_next(&rng);
				break;
			}
		}
		buf_reset(&b);
		jsontext_string_append(&b, (const char *)in, len);
		ck_assert_msg(jsontext_valid(b.data, b.len),
		    "round %d: invalid output", round);
	}
	buf_free(&b);
}
END_TEST

/* Append the UTF-8 form of the code point cp. */
static void
append_utf8(struct buf *b, uint32_t cp)
{
	unsigned char	u[4];

	if (cp < 0x80) {
		u[0] = cp;
		buf_append(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = 0xc0 | (cp >> 6);
		u[1] = 0x80 | (cp & 0x3f);
		buf_append(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | (cp >> 12);
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		buf_append(b, u, 3);
	} else {
		u[0] = 0xf0 | (cp >> 18);
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		buf_append(b, u, 4);
	}
}

START_TEST(test_escape_of_random_text_decodes_back)
{
	struct buf		 in = BUF_INIT, out = BUF_INIT;
	struct jsontext_span	 s;
	uint64_t		 rng = 12345;
	uint32_t		 cp;
	char			*d;
	size_t			 len;
	int			 round, i, n;

	for (round = 0; round < 5000; round++) {
		buf_reset(&in);
		n = rng_next(&rng) % 40;
		for (i = 0; i < n; i++) {
			switch (rng_next(&rng) % 4) {
			case 0:
				cp = 1 + rng_next(&rng) % 0x7f;
				break;
			case 1:
				cp = 0x80 + rng_next(&rng) % 0x780;
				break;
			case 2:
				cp = 0x800 + rng_next(&rng) % 0xf800;
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = 0xfffd;
				break;
			default:
				cp = 0x10000 + rng_next(&rng) % 0x100000;
				break;
			}
			append_utf8(&in, cp);
		}
		buf_reset(&out);
		jsontext_string_append(&out, in.data, in.len);
		ck_assert(jsontext_valid(out.data, out.len));
		s.p = out.data;
		s.len = out.len;
		s.type = JSONTEXT_STRING;
		d = jsontext_string_decode(&s, &len);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(len, in.len);
		ck_assert(len == 0 || memcmp(d, in.data, len) == 0);
		free(d);
	}
	buf_free(&in);
	buf_free(&out);
}
END_TEST

/* What jansson thinks of s; -1 where it refuses for its own limits. */
static int
jansson_valid(const char *s, size_t len)
{
	json_error_t	 err;
	json_t		*j;

	j = json_loadb(s, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	if (j != NULL) {
		json_decref(j);
		return 1;
	}
	if (strstr(err.text, "overflow") != NULL ||
	    strstr(err.text, "too big") != NULL ||
	    strstr(err.text, "NUL") != NULL ||
	    strstr(err.text, "nesting") != NULL)
		return -1;
	return 0;
}

START_TEST(test_validator_agrees_with_jansson)
{
	static const char	*seeds[] = {
		"{\"a\":[1,-2.5e3,true,false,null],\"b\":{\"c\":\"d\\n\"}}",
		"[\"\\u00e9\\uD83D\\uDE00\",\"\xc3\xa9\",0,-0,1E+2,{}]",
		"{\"k\":\"v\",\"k\":[[]],\"\":\"\\\"\"}",
		" [ 1 , 2 ] ", "\"x\"", "0.5", "null",
	};
	static const char	 alphabet[] = "{}[],:\"\\ \t\n01-+.eEtrufalsn"
	    "u0dD8\xc3\xa9\xed\xa0\x80\x01";
	const char		*seed;
	char			 doc[128];
	uint64_t		 rng = 42;
	size_t			 len, pos;
	int			 round, m, want, agree = 0, valid = 0;

	for (round = 0; round < 200000; round++) {
		seed = seeds[rng_next(&rng) % 7];
		len = strlen(seed);
		memcpy(doc, seed, len);
		for (m = 1 + rng_next(&rng) % 3; m > 0; m--) {
			pos = len ? rng_next(&rng) % len : 0;
			switch (rng_next(&rng) % 3) {
			case 0:		/* replace */
				if (len > 0)
					doc[pos] = alphabet[rng_next(&rng) %
					    (sizeof alphabet - 1)];
				break;
			case 1:		/* delete */
				if (len > 0) {
					memmove(doc + pos, doc + pos + 1,
					    len - pos - 1);
					len--;
				}
				break;
			default:	/* insert */
				if (len < sizeof doc - 1) {
					memmove(doc + pos + 1, doc + pos,
					    len - pos);
					doc[pos] = alphabet[rng_next(&rng) %
					    (sizeof alphabet - 1)];
					len++;
				}
				break;
			}
		}
		if ((want = jansson_valid(doc, len)) == -1)
			continue;
		ck_assert_msg(jsontext_valid(doc, len) == want,
		    "round %d: jansson says %d for '%.*s'", round, want,
		    (int)len, doc);
		agree++;
		valid += want;
	}
	/* The mutations must exercise both answers. */
	ck_assert_int_gt(agree, 190000);
	ck_assert_int_gt(valid, 10000);
}
END_TEST

static Suite *
jsontext_suite(void)
{
	Suite	*s = suite_create("jsontext");
	TCase	*tc;

	tc = tcase_create("validate");
	tcase_add_loop_test(tc, test_valid_values_are_accepted, 0,
	    sizeof valid_values / sizeof valid_values[0]);
	tcase_add_loop_test(tc, test_invalid_values_are_refused, 0,
	    sizeof invalid_values / sizeof invalid_values[0]);
	tcase_add_test(tc, test_depth_limit_is_64);
	tcase_add_test(tc, test_depth_counts_open_containers_only);
	tcase_add_test(tc, test_scan_skips_leading_space_not_trailing);
	tcase_add_test(tc, test_scan_stops_after_one_value);
	tcase_add_test(tc, test_scan_reports_each_type);
	tcase_add_test(tc, test_scan_honours_end);
	suite_add_tcase(s, tc);

	tc = tcase_create("iterate");
	tcase_add_test(tc, test_object_iteration_spans_are_exact);
	tcase_add_test(tc, test_array_iteration_spans_are_exact);
	tcase_add_test(tc, test_iteration_of_empty_and_wrong_types);
	tcase_add_test(tc, test_iteration_of_deep_and_long_values);
	tcase_add_test(tc, test_object_get_finds_top_level_keys);
	tcase_add_test(tc, test_object_get_nested_key_not_matched);
	tcase_add_test(tc, test_object_get_duplicate_last_wins);
	tcase_add_test(tc, test_object_get_escaped_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("convert");
	tcase_add_test(tc, test_string_eq_compares_decoded_text);
	tcase_add_test(tc, test_string_decode_escapes);
	tcase_add_test(tc, test_string_decode_refuses_nul);
	tcase_add_test(tc, test_number_parses_doubles);
	tcase_add_test(tc, test_number_long_text_rounds_like_strtod);
	tcase_add_test(tc, test_integer_accepts_only_integer_literals);
	suite_add_tcase(s, tc);

	tc = tcase_create("escape");
	tcase_add_test(tc, test_escape_special_characters);
	tcase_add_test(tc, test_escape_replaces_each_invalid_byte);
	tcase_add_test(tc, test_escape_across_chunk_boundaries);
	tcase_add_test(tc, test_string_append_round_trips);
	tcase_add_test(tc, test_escape_of_random_bytes_is_valid_json);
	tcase_add_test(tc, test_escape_of_random_text_decodes_back);
	tcase_add_test(tc, test_validator_agrees_with_jansson);
	tcase_add_test(tc, test_members_index_agrees_with_object_get);
	tcase_add_test(tc, test_members_scan_validates_as_scan);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(jsontext_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
