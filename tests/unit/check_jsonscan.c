/*
 * Unit tests of common/jsonscan.c beyond what check_jsontext covers
 * through jsontext_scan(): how deep a value went, telling "too deep"
 * from "malformed", scanning deeper than 64 levels into levels the
 * caller provides, escaping in rounds that split a UTF-8 sequence, and
 * reading the id off a job line that cannot be parsed.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"

/* n levels alternating arrays and objects around a 0, in a new string. */
static char *
nested(int n)
{
	char	*s = malloc(8 * (size_t)n + 2), *o = s;
	int	 i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++) {
		if (i % 2) {
			memcpy(o, "{\"k\":", 5);
			o += 5;
		} else
			*o++ = '[';
	}
	*o++ = '0';
	for (i = n - 1; i >= 0; i--)
		*o++ = i % 2 ? '}' : ']';
	*o = '\0';
	return s;
}

/* Scan s with the given limit (and levels); return the scan. */
static struct jsonscan
scan(const char *s, unsigned int max, uint64_t *levels, const char **endp)
{
	struct jsonscan	js = { max, levels, 0, JSONSCAN_OK };

	*endp = jsonscan_value(&js, s, s + strlen(s));
	return js;
}

START_TEST(test_depth_is_reported)
{
	static const struct { const char *s; unsigned int depth; } cases[] = {
		{ "1", 0 }, { "\"[\"", 0 }, { "[]", 1 }, { "{}", 1 },
		{ "[[],[[]],{}]", 3 }, { "{\"a\":{\"b\":[1]},\"c\":2}", 3 },
	};
	struct jsonscan	 js;
	const char	*end;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		js = scan(cases[i].s, JSONSCAN_MAX_DEPTH, NULL, &end);
		ck_assert_ptr_eq(end, cases[i].s + strlen(cases[i].s));
		ck_assert_int_eq(js.error, JSONSCAN_OK);
		ck_assert_uint_eq(js.depth, cases[i].depth);
	}
}
END_TEST

START_TEST(test_too_deep_is_told_from_malformed)
{
	struct jsonscan	 js;
	const char	*end;
	char		*s = nested(JSONSCAN_MAX_DEPTH + 1);

	js = scan(s, JSONSCAN_MAX_DEPTH, NULL, &end);
	ck_assert_ptr_null(end);
	ck_assert_int_eq(js.error, JSONSCAN_TOO_DEEP);
	ck_assert_uint_eq(js.depth, JSONSCAN_MAX_DEPTH);
	/* A lower limit of the caller's own. */
	js = scan("[[[1]]]", 2, NULL, &end);
	ck_assert_int_eq(js.error, JSONSCAN_TOO_DEEP);
	js = scan("[[[1]]]", 3, NULL, &end);
	ck_assert_int_eq(js.error, JSONSCAN_OK);
	js = scan("[[1,]]", 3, NULL, &end);
	ck_assert_ptr_null(end);
	ck_assert_int_eq(js.error, JSONSCAN_MALFORMED);
	/* Without levels, no scan goes beyond 64, whatever it asks. */
	js = scan(s, 1000, NULL, &end);
	ck_assert_int_eq(js.error, JSONSCAN_TOO_DEEP);
	free(s);
}
END_TEST

/* With levels, objects and arrays are still told apart deep down. */
START_TEST(test_levels_scan_deeper_than_64)
{
	uint64_t	 levels[JSONSCAN_LEVEL_WORDS(300)];
	struct jsonscan	 js;
	const char	*end;
	char		*s = nested(300), *bad;

	js = scan(s, 300, levels, &end);
	ck_assert_int_eq(js.error, JSONSCAN_OK);
	ck_assert_ptr_eq(end, s + strlen(s));
	ck_assert_uint_eq(js.depth, 300);
	js = scan(s, 299, levels, &end);
	ck_assert_int_eq(js.error, JSONSCAN_TOO_DEEP);
	/* Swap a closing bracket at level 200 for the other kind. */
	bad = strdup(s);
	end = strchr(bad, '0') + 100;
	ck_assert(*end == '}' || *end == ']');
	bad[end - bad] = *end == '}' ? ']' : '}';
	js = scan(bad, 300, levels, &end);
	ck_assert_ptr_null(end);
	ck_assert_int_eq(js.error, JSONSCAN_MALFORMED);
	free(bad);
	free(s);
}
END_TEST

/* Escape src in rounds of at most round bytes; return the text. */
static char *
escape_in_rounds(const char *src, size_t len, size_t round)
{
	const char	*p = src, *e = src + len, *stop;
	char		*out = malloc(6 * len + 4), *o = out;

	ck_assert_ptr_nonnull(out);
	while (p < e) {
		stop = (size_t)(e - p) > round ? p + round : e;
		o = jsonscan_escape(o, &p, stop, e);
		ck_assert(p >= stop);
	}
	*o = '\0';
	return out;
}

START_TEST(test_escape_keeps_utf8_split_across_rounds)
{
	const char	*src = "a\xc3\xa9" "b\xf0\x9f\x98\x80\"\\\n\x01\xff";
	const char	*want = "a\xc3\xa9" "b\xf0\x9f\x98\x80\\\"\\\\\\n\\u0001"
			    "\xef\xbf\xbd";
	char		*out;
	size_t		 round;

	for (round = 1; round <= strlen(src); round++) {
		out = escape_in_rounds(src, strlen(src), round);
		ck_assert_msg(strcmp(out, want) == 0, "round %zu: %s", round,
		    out);
		free(out);
	}
}
END_TEST

START_TEST(test_escape_decode_and_utf8)
{
	unsigned char	 out[4];
	const char	*s;

	s = "\\u00e9";
	ck_assert_uint_eq(jsonscan_escape_decode(&s, s + 6, out), 2);
	ck_assert(out[0] == 0xc3 && out[1] == 0xa9 && *s == '\0');
	s = "\\ud83d\\ude00";
	ck_assert_uint_eq(jsonscan_escape_decode(&s, s + 12, out), 4);
	ck_assert(memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
	s = "\\ud83d";
	ck_assert_uint_eq(jsonscan_escape_decode(&s, s + 6, out), 0);
	s = "\\x";
	ck_assert_uint_eq(jsonscan_escape_decode(&s, s + 2, out), 0);
	ck_assert_uint_eq(jsonscan_utf8_len((const unsigned char *)"\xe2\x82",
	    (const unsigned char *)"\xe2\x82" + 2), 0);
	ck_assert_uint_eq(jsonscan_utf8_len((const unsigned char *)"\xe2\x82\xac",
	    (const unsigned char *)"\xe2\x82\xac" + 3), 3);
	ck_assert_ptr_null(jsonscan_string("\"a", "\"a" + 2));
	ck_assert_ptr_null(jsonscan_number("-", "-" + 1));
}
END_TEST

/*
 * "\"", k plain bytes, then mid, then "\"" and padding: where
 * jsonscan_string stops (NULL: refused), relative to the start.
 */
static long
string_end(int k, const char *mid)
{
	char		 s[64];
	const char	*end;
	size_t		 n = 0;

	s[n++] = '"';
	memset(s + n, 'a', (size_t)k);
	n += (size_t)k;
	memcpy(s + n, mid, strlen(mid));
	n += strlen(mid);
	s[n++] = '"';
	memset(s + n, 'z', 16);		/* words reach past the string */
	end = jsonscan_string(s, s + n + 16);
	return end == NULL ? -1 : (long)(end - s);
}

/* What stops a string is found at every place of a word. */
START_TEST(test_string_stops_at_each_place_of_a_word)
{
	int	k;

	for (k = 0; k < 24; k++) {
		ck_assert_int_eq(string_end(k, ""), k + 2);
		ck_assert_int_eq(string_end(k, "\\n"), k + 4);
		ck_assert_int_eq(string_end(k, "\\\"bc"), k + 6);
		ck_assert_int_eq(string_end(k, "\xc3\xa9"), k + 4);	/* e acute */
		ck_assert_int_eq(string_end(k, "\xe2\x82\xac" "b"), k + 6);
		ck_assert_int_eq(string_end(k, "\x01"), -1);
		ck_assert_int_eq(string_end(k, "b\x1f"), -1);
		ck_assert_int_eq(string_end(k, "\n"), -1);
		ck_assert_int_eq(string_end(k, "\xff"), -1);
		ck_assert_int_eq(string_end(k, "\xc3"), -1);
		ck_assert_int_eq(string_end(k, "\\q"), -1);
	}
}
END_TEST

START_TEST(test_peek_id_reads_only_what_the_supervisor_writes)
{
	static const struct { const char *line; size_t max; const char *id; }
	    cases[] = {
		{ "{\"id\":\"J1\",\"data\":[[[", 16, "J1" },
		{ "{\"id\":\"J1\"", 16, "J1" },
		{ "{\"id\":\"0123456789\",", 10, "0123456789" },
		{ "{\"id\":\"0123456789\",", 9, NULL },
		{ "{\"id\":\"\",\"data\":1}", 16, NULL },
		{ "{\"id\":\"a\\\"b\",\"data\":1}", 16, NULL },
		{ "{\"id\":\"a\tb\",\"data\":1}", 16, NULL },
		{ "{\"id\":\"unterminated", 64, NULL },
		{ "{ \"id\":\"J1\"", 16, NULL },
		{ "{\"data\":1,\"id\":\"J1\"}", 16, NULL },
	};
	const char	*id;
	size_t		 i, n;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = jsonscan_peek_id(cases[i].line, strlen(cases[i].line),
		    cases[i].max, &id);
		if (cases[i].id == NULL)
			ck_assert_msg(n == 0, "%s: got an id", cases[i].line);
		else
			ck_assert_msg(n == strlen(cases[i].id) &&
			    memcmp(id, cases[i].id, n) == 0, "%s: %zu",
			    cases[i].line, n);
	}
}
END_TEST

static Suite *
jsonscan_suite(void)
{
	Suite	*s = suite_create("jsonscan");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_depth_is_reported);
	tcase_add_test(tc, test_too_deep_is_told_from_malformed);
	tcase_add_test(tc, test_levels_scan_deeper_than_64);
	tcase_add_test(tc, test_escape_keeps_utf8_split_across_rounds);
	tcase_add_test(tc, test_escape_decode_and_utf8);
	tcase_add_test(tc, test_peek_id_reads_only_what_the_supervisor_writes);
	tcase_add_test(tc, test_string_stops_at_each_place_of_a_word);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(jsonscan_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
