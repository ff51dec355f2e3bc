/*
 * Unit tests of ipc/jobline.c, the parser of the result lines workers
 * write: the members it hands out, the lines it refuses (which get a
 * worker replaced), and results nested too deep, which fail only their
 * job, however deep the line goes.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonscan.h"
#include "ipc/jobline.h"

/* A result line with id "J" and a result of n arrays around a 0. */
static char *
deep_line(int n, const char *ok, const char *extra)
{
	struct buf	b = BUF_INIT;
	int		i;

	buf_appendf(&b, "{\"id\":\"J\",\"ok\":%s%s,\"result\":", ok, extra);
	for (i = 0; i < n; i++)
		buf_append(&b, "[", 1);
	buf_append(&b, "0", 1);
	for (i = 0; i < n; i++)
		buf_append(&b, "]", 1);
	buf_append(&b, "}", 2);	/* and the NUL */
	return b.data;
}

/* Check that the span is exactly want. */
static void
assert_span(const struct jsontext_span *sp, const char *want)
{
	ck_assert_msg(sp->len == strlen(want) && memcmp(sp->p, want,
	    sp->len) == 0, "span '%.*s' != '%s'", (int)sp->len, sp->p, want);
}

START_TEST(test_members_are_handed_out_as_spans)
{
	struct jobline_result	 r;
	const char		*ok = " {\"ok\":true,\"x\":[1],\"result\":{\"a\":1},"
				    "\"id\":\"J1\"}\t\r";
	const char		*bad = "{\"id\":\"J2\",\"ok\":false,\"error\":\"no\"}";
	const char		*bare = "{\"id\":\"J3\",\"ok\":true}";

	ck_assert_int_eq(jobline_parse_result(ok, strlen(ok), &r), 0);
	ck_assert_int_eq(r.ok, 1);
	assert_span(&r.id, "\"J1\"");
	assert_span(&r.result, "{\"a\":1}");
	ck_assert_int_eq(r.result.type, JSONTEXT_OBJECT);
	ck_assert_int_eq(r.error.type, JSONTEXT_INVALID);
	ck_assert_int_eq(jobline_parse_result(bad, strlen(bad), &r), 0);
	ck_assert_int_eq(r.ok, 0);
	assert_span(&r.error, "\"no\"");
	ck_assert_int_eq(jobline_parse_result(bare, strlen(bare), &r), 0);
	assert_span(&r.result, "null");
}
END_TEST

START_TEST(test_malformed_lines_are_refused)
{
	static const char *const lines[] = {
		"", "  ", "[]", "1", "not json", "{}",
		"{\"id\":\"J\"}",
		"{\"ok\":true}",
		"{\"id\":1,\"ok\":true}",
		"{\"id\":\"J\",\"ok\":1}",
		"{\"id\":\"J\",\"ok\":true} x",
		"{\"id\":\"J\",\"ok\":true}\n",
		"{\"id\":\"J\",\"ok\":true,\"result\":[1,}",
		"{\"id\":\"J\",\"ok\":true,\"result\":\"\xff\"}",
		"{\"id\":\"J\",\"ok\":true,}",
		"{\"id\":\"J\",,\"ok\":true}",
		"{\"id\":\"J\" \"ok\":true}",
		"{\"id\" \"J\",\"ok\":true}",
		"{\"id\":,\"ok\":true}",
		"{1:2,\"id\":\"J\",\"ok\":true}",
		"{\"\\x\":2,\"id\":\"J\",\"ok\":true}",
		"{\"\xff\":2,\"id\":\"J\",\"ok\":true}",
		"{\"id\":\"J\",\"ok\":true",
		"{\"id\":\"J\",\"ok\":true ",
		"{\"id\":\"J\",\"ok\":tru}",
		"{\"id\":\"J\",\"ok\"",
		"{ ",
	};
	struct jobline_result	r;
	size_t			i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ck_assert_msg(jobline_parse_result(lines[i], strlen(lines[i]),
		    &r) == -1, "accepted: %s", lines[i]);
}
END_TEST

/* White space anywhere JSON allows it; the last of duplicate keys wins. */
START_TEST(test_spacing_and_duplicates)
{
	struct jobline_result	 r;
	const char		*line = "{ \"id\" :\t\"J0\" ,\r\n\"ok\" : false , "
				    "\"id\":\"J1\", \"ok\":true ,\"result\" : [ 1 , 2 ] }";

	ck_assert_int_eq(jobline_parse_result(line, strlen(line), &r), 0);
	assert_span(&r.id, "\"J1\"");
	ck_assert_int_eq(r.ok, 1);
	assert_span(&r.result, "[ 1 , 2 ]");
	ck_assert_int_eq(r.result.type, JSONTEXT_ARRAY);
}
END_TEST

/* Up to the limit, a result is a result. */
/*
 * The form the worker libraries write, {"id":..,"ok":true,"result":..},
 * is read by a shortcut: it must agree with the general walk, which reads
 * the same line with a space after the brace.
 */
START_TEST(test_plain_form_agrees_with_the_general_walk)
{
	static const char *const lines[] = {
		"{\"id\":\"0a1b\",\"ok\":true,\"result\":1}",
		"{\"id\":\"0a1b\",\"ok\":true,\"result\":\"s\"}",
		"{\"id\":\"0a1b\",\"ok\":true,\"result\":{\"a\":[1, 2]}}",
		"{\"id\":\"0a1b\",\"ok\":true,\"result\":null} \t",
		"{\"id\":\"J\\u0041\",\"ok\":true,\"result\":1}",
		"{\"id\":\"\",\"ok\":true,\"result\":1}",
		"{\"id\":\"J\",\"ok\":true,\"result\":1,\"result\":2}",
		"{\"id\":\"J\",\"ok\":true,\"result\":1,\"error\":\"e\"}",
		"{\"id\":\"J\",\"ok\":true,\"result\": 1 }",
		"{\"id\":\"J\",\"ok\":true,\"result\":}",
		"{\"id\":\"J\",\"ok\":true,\"result\":1",
		"{\"id\":\"J\",\"ok\":true,\"result\":1}}",
		"{\"id\":\"J\",\"ok\":true,\"result\":tru}",
		"{\"id\":\"J\x01\",\"ok\":true,\"result\":1}",
		"{\"id\":\"J\xc3\xa9\",\"ok\":true,\"result\":1}",
		"{\"id\":\"J\",\"ok\":true,\"result\":\"\xff\"}",
	};
	struct jobline_result	 a, b;
	char			 spaced[256];
	size_t			 i;
	int			 ra, rb;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		snprintf(spaced, sizeof spaced, "{ %s", lines[i] + 1);
		ra = jobline_parse_result(lines[i], strlen(lines[i]), &a);
		rb = jobline_parse_result(spaced, strlen(spaced), &b);
		ck_assert_msg(ra == rb, "%s: %d, spaced %d", lines[i], ra, rb);
		if (ra != 0)
			continue;
		ck_assert_int_eq(a.ok, b.ok);
		ck_assert_int_eq(a.id.type, b.id.type);
		ck_assert_int_eq(a.result.type, b.result.type);
		ck_assert_int_eq(a.error.type, b.error.type);
		ck_assert_uint_eq(a.id.len, b.id.len);
		ck_assert_uint_eq(a.result.len, b.result.len);
		ck_assert_mem_eq(a.id.p, b.id.p, a.id.len);
		ck_assert_mem_eq(a.result.p, b.result.p, a.result.len);
	}
	/* And what the shortcut hands out is right, not only the same. */
	ck_assert_int_eq(jobline_parse_result(lines[2], strlen(lines[2]), &a),
	    0);
	assert_span(&a.id, "\"0a1b\"");
	assert_span(&a.result, "{\"a\":[1, 2]}");
	ck_assert_int_eq(a.ok, 1);
}
END_TEST

START_TEST(test_result_as_deep_as_the_limit_is_taken)
{
	struct jobline_result	 r;
	char			*line = deep_line(JSONSCAN_RESULT_MAX_DEPTH,
				    "true", "");

	ck_assert_int_eq(jobline_parse_result(line, strlen(line), &r), 0);
	ck_assert_int_eq(r.ok, 1);
	ck_assert_int_eq(r.result.type, JSONTEXT_ARRAY);
	ck_assert_uint_eq(r.result.len, 2 * JSONSCAN_RESULT_MAX_DEPTH + 1);
	free(line);
}
END_TEST

/*
 * One level more fails the job with an error that names the limit, and
 * so does a result too deep for the line to fit in JSONSCAN_MAX_DEPTH.
 */
START_TEST(test_result_deeper_than_the_limit_fails_the_job)
{
	static const int	 depths[] = { 61, 62, 63, 64, 100, 512, 5000 };
	struct jobline_result	 r;
	char			*line, *error;
	size_t			 i;

	for (i = 0; i < sizeof depths / sizeof depths[0]; i++) {
		line = deep_line(depths[i], i % 2 ? "false" : "true", "");
		ck_assert_msg(jobline_parse_result(line, strlen(line), &r) == 0,
		    "depth %d refused", depths[i]);
		ck_assert_int_eq(r.ok, 0);
		assert_span(&r.id, "\"J\"");
		assert_span(&r.result, "null");
		ck_assert_int_eq(r.error.type, JSONTEXT_STRING);
		error = jsontext_string_decode(&r.error, NULL);
		ck_assert_str_eq(error, "result nested deeper than 60 levels");
		free(error);
		free(line);
	}
}
END_TEST

/* A deep line is still held to everything else. */
START_TEST(test_deep_lines_must_be_well_formed)
{
	struct jobline_result	 r;
	struct buf		 b = BUF_INIT;
	char			*line;
	int			 i;

	/* Unclosed. */
	line = deep_line(100, "true", "");
	line[strlen(line) - 2] = '\0';
	ck_assert_int_eq(jobline_parse_result(line, strlen(line), &r), -1);
	free(line);
	/* Bracket kinds that do not match, 70 levels down. */
	line = deep_line(100, "true", "");
	line[strlen(line) - 71] = '}';
	ck_assert_int_eq(jobline_parse_result(line, strlen(line), &r), -1);
	free(line);
	/* No usable id or ok. */
	line = deep_line(100, "1", "");
	ck_assert_int_eq(jobline_parse_result(line, strlen(line), &r), -1);
	free(line);
	/* Deep somewhere else, with a shallow result. */
	buf_append_str(&b, "{\"id\":\"J\",\"ok\":true,\"result\":1,\"x\":");
	for (i = 0; i < 100; i++)
		buf_append(&b, "{\"k\":", 5);
	buf_append(&b, "0", 1);
	for (i = 0; i < 100; i++)
		buf_append(&b, "}", 1);
	buf_append(&b, "}", 1);
	ck_assert_int_eq(jobline_parse_result(buf_head(&b), buf_used(&b), &r),
	    -1);
	buf_free(&b);
	/* Trailing garbage. */
	line = deep_line(100, "true", "");
	buf_append_str(&b, line);
	buf_append_str(&b, " x");
	ck_assert_int_eq(jobline_parse_result(buf_head(&b), buf_used(&b), &r),
	    -1);
	buf_free(&b);
	free(line);
}
END_TEST

static Suite *
jobline_suite(void)
{
	Suite	*s = suite_create("jobline");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_members_are_handed_out_as_spans);
	tcase_add_test(tc, test_malformed_lines_are_refused);
	tcase_add_test(tc, test_spacing_and_duplicates);
	tcase_add_test(tc, test_plain_form_agrees_with_the_general_walk);
	tcase_add_test(tc, test_result_as_deep_as_the_limit_is_taken);
	tcase_add_test(tc, test_result_deeper_than_the_limit_fails_the_job);
	tcase_add_test(tc, test_deep_lines_must_be_well_formed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(jobline_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
