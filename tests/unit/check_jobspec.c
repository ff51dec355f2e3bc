/*
 * Unit tests for ipc/jobspec.c: what a submit request's job
 * description becomes on a worker's pipe, for stream and exec pools, and
 * which descriptions are refused with which message.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/jobspec.h"

/* Build the job text of desc; returns the message, *out the text. */
static const char *
build(enum pool_type type, const char *desc, char **out)
{
	struct jsontext_span	 sp;
	struct buf		 b = BUF_INIT;
	const char		*err;

	ck_assert_msg(jsontext_scan(desc, desc + strlen(desc), &sp) != NULL &&
	    sp.type == JSONTEXT_OBJECT, "bad test input: %s", desc);
	buf_append(&b, "prefix", 6);
	buf_consume(&b, 6);
	err = jobspec_build(type, &sp, &b);
	buf_append(&b, "", 1);
	*out = strdup(buf_head(&b));
	buf_free(&b);
	return err;
}

static void
expect_text(enum pool_type type, const char *desc, const char *want)
{
	const char	*err;
	char		*got;

	err = build(type, desc, &got);
	ck_assert_msg(err == NULL, "%s refused: %s", desc, err);
	ck_assert_str_eq(got, want);
	ck_assert(jsontext_valid(got, strlen(got)));
	free(got);
}

static void
expect_error(enum pool_type type, const char *desc, const char *want)
{
	const char	*err;
	char		*got;

	err = build(type, desc, &got);
	ck_assert_msg(err != NULL, "%s accepted as %s", desc, got);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(got, "");
	free(got);
}

START_TEST(test_stream_job_is_its_data_text)
{
	expect_text(POOL_TYPE_STREAM, "{\"op\":\"submit\",\"data\":{\"a\": [1, "
	    "\"x\\u00e9\"]}}", "{\"a\": [1, \"x\\u00e9\"]}");
	expect_text(POOL_TYPE_STREAM, "{\"data\":null}", "null");
	expect_error(POOL_TYPE_STREAM, "{\"args\":[\"true\"]}",
	    "a stream pool's job needs \"data\"");
}
END_TEST

START_TEST(test_exec_job_keeps_known_members_in_fixed_order)
{
	expect_text(POOL_TYPE_EXEC, "{\"stdin\":\"in\",\"op\":\"submit\","
	    "\"cwd\":\"/tmp\",\"env\":{\"A\":\"1\"},\"args\":[\"ls\",\"-l\"],"
	    "\"pool\":\"p\",\"data\":5}",
	    "{\"args\":[\"ls\",\"-l\"],\"env\":{\"A\":\"1\"},\"cwd\":\"/tmp\","
	    "\"stdin\":\"in\"}");
	expect_text(POOL_TYPE_EXEC, "{\"shell\":\"echo hi\"}",
	    "{\"shell\":\"echo hi\"}");
}
END_TEST

START_TEST(test_exec_job_needs_exactly_one_command)
{
	const char	*one = "an exec job needs exactly one of \"args\" and "
	    "\"shell\"";

	expect_error(POOL_TYPE_EXEC, "{}", one);
	expect_error(POOL_TYPE_EXEC, "{\"args\":[\"a\"],\"shell\":\"b\"}", one);
	expect_error(POOL_TYPE_EXEC, "{\"args\":[]}",
	    "\"args\" must not be empty");
	expect_error(POOL_TYPE_EXEC, "{\"args\":\"ls\"}",
	    "\"args\" must be a list of strings");
	expect_error(POOL_TYPE_EXEC, "{\"args\":[\"ls\",1]}",
	    "\"args\" must be a list of strings");
	expect_error(POOL_TYPE_EXEC, "{\"shell\":[\"ls\"]}",
	    "\"shell\" must be a string");
}
END_TEST

START_TEST(test_exec_job_options_are_typed)
{
	expect_error(POOL_TYPE_EXEC, "{\"shell\":\"x\",\"env\":[]}",
	    "\"env\" must be an object of strings");
	expect_error(POOL_TYPE_EXEC, "{\"shell\":\"x\",\"env\":{\"A\":1}}",
	    "\"env\" must be an object of strings");
	expect_error(POOL_TYPE_EXEC, "{\"shell\":\"x\",\"cwd\":null}",
	    "\"cwd\" must be a string");
	expect_error(POOL_TYPE_EXEC, "{\"shell\":\"x\",\"stdin\":7}",
	    "\"stdin\" must be a string");
}
END_TEST

/* A client's line breaks must not split the job's line on the pipe. */
START_TEST(test_line_breaks_in_job_text_become_spaces)
{
	expect_text(POOL_TYPE_STREAM, "{\"data\":[\n{\"id\":\"X\",\"data\":1}"
	    "\r\n]}", "[ {\"id\":\"X\",\"data\":1}  ]");
	expect_text(POOL_TYPE_EXEC, "{\"args\":[\"a\",\n\"b\\n\"],\"env\":"
	    "{\r\"K\":\"v\"}}", "{\"args\":[\"a\", \"b\\n\"],\"env\":{ "
	    "\"K\":\"v\"}}");
}
END_TEST

static Suite *
jobspec_suite(void)
{
	Suite	*s = suite_create("jobspec");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_stream_job_is_its_data_text);
	tcase_add_test(tc, test_exec_job_keeps_known_members_in_fixed_order);
	tcase_add_test(tc, test_exec_job_needs_exactly_one_command);
	tcase_add_test(tc, test_exec_job_options_are_typed);
	tcase_add_test(tc, test_line_breaks_in_job_text_become_spaces);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(jobspec_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
