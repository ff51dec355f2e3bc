/*
 * Unit tests for the first line of stderr that the dashboard's job list
 * shows (supervisor/monitor/jobview.h), on exec results as the job record
 * holds them: escapes, blank lines, line ends, bytes, the length cap; and
 * for the record /job sends with its output cut.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "supervisor/monitor/jobview.h"

/* The line for members, or NULL if there is none (static storage). */
static const char *
line_of(const char *members)
{
	static char	out[2048];
	struct buf	b = BUF_INIT;

	if (jobview_stderr_line(members, strlen(members), &b) == -1) {
		buf_free(&b);
		return NULL;
	}
	ck_assert_uint_lt(b.len, sizeof out);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

START_TEST(test_first_line_that_says_something)
{
	ck_assert_str_eq(line_of("\"exit_code\":1,\"signal\":null,"
	    "\"stdout\":\"x\\ny\",\"stderr\":\"boom\\nmore\",\"truncated\":false"),
	    "boom");
	/* Blank lines skipped; CR LF ends a line; the tab kept (escaped). */
	ck_assert_str_eq(line_of("\"stderr\":\"\\n  \\r\\n\\tbad: x\\r\\nmore\""),
	    "\\tbad: x");
	/* Escapes decode: \u00e9 is written back as UTF-8. */
	ck_assert_str_eq(line_of("\"stderr\":\"caf\\u00e9 \\\"q\\\"\""),
	    "caf\xc3\xa9 \\\"q\\\"");
	/* stderr after other members whose strings hold "stderr". */
	ck_assert_str_eq(line_of("\"stdout\":\"\\\"stderr\\\":\\\"no\\\"\","
	    "\"stderr\":\"yes\""), "yes");
}
END_TEST

START_TEST(test_bytes_are_decoded_and_bad_utf8_replaced)
{
	/* base64 of "caf\xe9 \xff\nnext". */
	ck_assert_str_eq(line_of("\"stderr\":{\"$bytes\":\"Y2Fm6SD/Cm5leHQ=\"}"),
	    "caf\xef\xbf\xbd \xef\xbf\xbd");
}
END_TEST

START_TEST(test_nothing_to_show)
{
	ck_assert_ptr_null(line_of("\"stderr\":null"));
	ck_assert_ptr_null(line_of("\"stderr\":\"\""));
	ck_assert_ptr_null(line_of("\"stderr\":\"\\n \\n\\t\\r\\n\""));
	ck_assert_ptr_null(line_of("\"exit_code\":0,\"stdout\":\"hi\""));
	ck_assert_ptr_null(line_of(""));
}
END_TEST

START_TEST(test_a_long_line_is_cut)
{
	char		 members[8192];
	const char	*got;
	size_t		 n;

	n = (size_t)snprintf(members, sizeof members, "\"stderr\":\"");
	memset(members + n, 'x', 3000);
	strcpy(members + n + 3000, "\"");
	got = line_of(members);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(strlen(got), JOBVIEW_LINE_MAX);
}
END_TEST

/* The record rec with its output cut to max (static storage). */
static const char *
cut(const char *rec, uint64_t max)
{
	static char	out[2048];
	struct buf	b = BUF_INIT;

	jobview_record_cut(rec, strlen(rec), max, &b);
	ck_assert_uint_lt(b.len, sizeof out);
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	buf_free(&b);
	return out;
}

START_TEST(test_output_is_cut_between_characters)
{
	static const char	rec[] = "{\"id\":\"x\",\"stdout\":\"ab\\n\\u00e9\","
	    "\"stderr\":{\"$bytes\":\"AAECAwQFBgc=\"},\"error\":null}";

	/* Nothing to cut: the record as it is. */
	ck_assert_str_eq(cut(rec, 100), "{\"id\":\"x\",\"stdout\":\"ab\\n\\u00e9\","
	    "\"stderr\":{\"$bytes\":\"AAECAwQFBgc=\"},\"error\":null}\n");
	/* 4 bytes: "ab\n" and not half of the e-acute; 3 bytes of base64 data. */
	ck_assert_str_eq(cut(rec, 4), "{\"id\":\"x\",\"stdout\":\"ab\\n\","
	    "\"stderr\":{\"$bytes\":\"AAEC\"},\"error\":null,\"output_cut\":true}\n");
	ck_assert_str_eq(cut(rec, 2), "{\"id\":\"x\",\"stdout\":\"ab\","
	    "\"stderr\":{\"$bytes\":\"\"},\"error\":null,\"output_cut\":true}\n");
	/* Raw UTF-8 in the text is not split either. */
	ck_assert_str_eq(cut("{\"stderr\":\"\xc3\xa9\xc3\xa9\"}", 3),
	    "{\"stderr\":\"\xc3\xa9\",\"output_cut\":true}\n");
	/* A stream job's record has no output to cut. */
	ck_assert_str_eq(cut("{\"result\":{\"stdout\":\"long\"}}", 0),
	    "{\"result\":{\"stdout\":\"long\"}}\n");
}
END_TEST

static Suite *
jobview_suite(void)
{
	Suite	*s = suite_create("jobview");
	TCase	*tc = tcase_create("stderr_line");

	tcase_add_test(tc, test_first_line_that_says_something);
	tcase_add_test(tc, test_bytes_are_decoded_and_bad_utf8_replaced);
	tcase_add_test(tc, test_nothing_to_show);
	tcase_add_test(tc, test_a_long_line_is_cut);
	tcase_add_test(tc, test_output_is_cut_between_characters);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(jobview_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
