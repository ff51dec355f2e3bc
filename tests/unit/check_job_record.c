/*
 * Unit tests for the job record (store/job_record.c, SPEC section 6): its
 * exact JSON for every kind of job, and where a job keeps its result.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "store/job.h"

/* 2023-11-14T22:13:20Z: exact in a double, as are the fractions used. */
#define T0	1700000000.0

/* A new job of o, counted as queued the way a queue counts what it accepts. */
static struct job *
job_make(struct job_owner *o, const char *data, double now)
{
	struct job	*job = job_new(o, data, strlen(data), now);

	o->state[JOB_QUEUED]++;
	return job;
}

/* Free a job made by job_make, uncounting it. */
static void
job_unmake(struct job *job)
{
	job->owner->state[job->state]--;
	job_free(job);
}

/* The record of job, NUL-terminated, for the caller to free. */
static char *
record_of(const struct job *job)
{
	struct buf	b = BUF_INIT;

	job_record_append(job, &b);
	buf_append(&b, "", 1);
	return b.data;
}

START_TEST(test_record_of_a_new_stream_job_has_null_times_and_result)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r = record_of(job), want[512];

	snprintf(want, sizeof want, "{\"id\":\"%s\",\"pool\":\"p\","
	    "\"client\":null,\"state\":\"queued\",\"attempts\":0,"
	    "\"submitted_at\":\"2023-11-14T22:13:20.000Z\","
	    "\"started_at\":null,\"finished_at\":null,\"duration_ms\":null,"
	    "\"worker\":null,\"result\":null,\"error\":null}", job->id);
	ck_assert_str_eq(r, want);
	free(r);
	job_unmake(job);
}
END_TEST

START_TEST(test_record_of_a_done_stream_job_carries_its_result)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r, want[512];

	job_set_state(job, JOB_RUNNING, T0 + 0.25);
	job->attempts = 2;
	job->worker = 3;
	job_set_result(job, strdup("{\"x\":[1,\"a\"]}"));
	job->client = job_client_hold("ops \"team\"");
	job_set_state(job, JOB_DONE, T0 + 1.5);
	r = record_of(job);
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"pool\":\"p\","
	    "\"client\":\"ops \\\"team\\\"\",\"state\":\"done\",\"attempts\":2,"
	    "\"submitted_at\":\"2023-11-14T22:13:20.000Z\","
	    "\"started_at\":\"2023-11-14T22:13:20.250Z\","
	    "\"finished_at\":\"2023-11-14T22:13:21.500Z\","
	    "\"duration_ms\":1250.000,\"worker\":3,"
	    "\"result\":{\"x\":[1,\"a\"]},\"error\":null}", job->id);
	ck_assert_str_eq(r, want);
	free(r);
	job_unmake(job);
}
END_TEST

/* The duration of a record, as its text. */
static void
duration_is(double run, const char *want)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r, *p, *e;

	job_set_state(job, JOB_RUNNING, T0 + 0.5);
	job_set_state(job, JOB_FAILED, T0 + 0.5 + run);
	r = record_of(job);
	ck_assert_ptr_nonnull(p = strstr(r, "\"duration_ms\":"));
	p += strlen("\"duration_ms\":");
	ck_assert_ptr_nonnull(e = strchr(p, ','));
	*e = '\0';
	ck_assert_str_eq(p, want);
	free(r);
	job_unmake(job);
}

START_TEST(test_duration_ms_has_three_decimals_of_whole_microseconds)
{
	duration_is(0, "0.000");
	duration_is(1.0 / 8192, "0.122");	/* 122.07 us */
	duration_is(1.0 / 131072, "0.008");	/* 7.63 us, rounded */
	duration_is(0.25, "250.000");
	duration_is(3600, "3600000.000");
}
END_TEST

START_TEST(test_record_of_a_job_that_never_started_has_null_duration)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r;

	job_set_state(job, JOB_CANCELLED, T0 + 1);
	r = record_of(job);
	ck_assert_ptr_nonnull(strstr(r, "\"state\":\"cancelled\",\"attempts\":0,"
	    "\"submitted_at\":\"2023-11-14T22:13:20.000Z\",\"started_at\":null,"
	    "\"finished_at\":\"2023-11-14T22:13:21.000Z\","
	    "\"duration_ms\":null,\"worker\":null,"));
	free(r);
	job_unmake(job);
}
END_TEST

START_TEST(test_record_of_an_exec_job_without_result_has_null_outputs)
{
	struct job_owner	 o = { .name = "x", .exec = 1 };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r = record_of(job), want[512];

	snprintf(want, sizeof want, "{\"id\":\"%s\",\"pool\":\"x\","
	    "\"client\":null,\"state\":\"queued\",\"attempts\":0,"
	    "\"submitted_at\":\"2023-11-14T22:13:20.000Z\","
	    "\"started_at\":null,\"finished_at\":null,\"duration_ms\":null,"
	    "\"worker\":null,\"exit_code\":null,\"signal\":null,"
	    "\"stdout\":null,\"stderr\":null,\"truncated\":false,"
	    "\"error\":null}", job->id);
	ck_assert_str_eq(r, want);
	free(r);
	job_unmake(job);
}
END_TEST

START_TEST(test_record_of_an_exec_job_carries_its_result_fields)
{
	struct job_owner	 o = { .name = "x", .exec = 1 };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r, want[512];

	job_set_state(job, JOB_RUNNING, T0);
	job->attempts = 1;
	job->worker = 0;
	job_set_result(job, strdup("\"exit_code\":1,\"signal\":null,"
	    "\"stdout\":\"hi\\n\",\"stderr\":\"\",\"truncated\":true"));
	job_set_error(job, strdup("exited with status 1"));
	job_set_state(job, JOB_FAILED, T0 + 0.125);
	r = record_of(job);
	snprintf(want, sizeof want, "{\"id\":\"%s\",\"pool\":\"x\","
	    "\"client\":null,\"state\":\"failed\",\"attempts\":1,"
	    "\"submitted_at\":\"2023-11-14T22:13:20.000Z\","
	    "\"started_at\":\"2023-11-14T22:13:20.000Z\","
	    "\"finished_at\":\"2023-11-14T22:13:20.125Z\","
	    "\"duration_ms\":125.000,\"worker\":0,"
	    "\"exit_code\":1,\"signal\":null,\"stdout\":\"hi\\n\","
	    "\"stderr\":\"\",\"truncated\":true,"
	    "\"error\":\"exited with status 1\"}", job->id);
	ck_assert_str_eq(r, want);
	free(r);
	job_unmake(job);
}
END_TEST

/*
 * Records quote the pool's name once per pool and name: a long one (not
 * kept) and a pool whose name changes read right each time; flow fields
 * follow the worker.
 */
START_TEST(test_record_pool_names_long_and_changed_and_flow_fields)
{
	char			 longname[101];
	struct job_owner	 o = { .name = "first" };
	struct job		*job = job_make(&o, "{}", T0);
	struct job_flow_spec	 flow = { -3, T0 + 2.5, "g\"1" };
	char			*r, want[256];

	memset(longname, 'n', 100);
	longname[100] = '\0';
	job_flow_set(job, &flow);
	r = record_of(job);
	ck_assert_ptr_nonnull(strstr(r, "\"pool\":\"first\","));
	ck_assert_ptr_nonnull(strstr(r, "\"worker\":null,\"priority\":-3,"
	    "\"group\":\"g\\\"1\",\"not_before\":\"2023-11-14T22:13:22.500Z\","
	    "\"result\":null,"));
	free(r);
	o.name = longname;
	r = record_of(job);
	snprintf(want, sizeof want, "\"pool\":\"%s\",\"client\":", longname);
	ck_assert_ptr_nonnull(strstr(r, want));
	free(r);
	o.name = "x\ty";
	r = record_of(job);
	ck_assert_ptr_nonnull(strstr(r, "\"pool\":\"x\\ty\",\"client\":null,"));
	free(r);
	job_unmake(job);
}
END_TEST

START_TEST(test_record_escapes_pool_name_and_error)
{
	struct job_owner	 o = { .name = "a\"b\\c" };
	struct job		*job = job_make(&o, "{}", T0);
	char			*r;

	job_set_state(job, JOB_RUNNING, T0);
	job_set_error(job, strdup("bad \"x\"\n\t\x01"));
	job_set_state(job, JOB_FAILED, T0);
	r = record_of(job);
	ck_assert_ptr_nonnull(strstr(r, "\"pool\":\"a\\\"b\\\\c\","));
	ck_assert_ptr_nonnull(strstr(r,
	    ",\"result\":null,\"error\":\"bad \\\"x\\\"\\n\\t\\u0001\"}"));
	free(r);
	job_unmake(job);
}
END_TEST

/*
 * A result's text is copied, short or long, and replaces the one before
 * (kept in the job or not, copied or handed over): the record always
 * carries the last one, and freeing the job frees what it owns (the
 * sanitizer build checks that nothing leaks or is freed twice).
 */
START_TEST(test_result_text_is_copied_and_replaced_short_or_long)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	char			 in[200], *r;
	const char		*longer = "[\"a result too long to be kept in "
	    "the job itself\"]";

	job_set_state(job, JOB_RUNNING, T0 + 0.25);
	strcpy(in, "42xxx");
	job_set_result_text(job, in, 2);
	in[0] = '7';
	ck_assert_str_eq(job_result(job), "42");
	job_set_result_text(job, longer, strlen(longer));
	ck_assert_str_eq(job_result(job), longer);
	memset(in, 'y', sizeof in);
	memcpy(in, "\"", 1);
	memcpy(in + 22, "\"", 1);
	job_set_result_text(job, in, 23);
	in[1] = 'z';
	ck_assert_uint_eq(strlen(job_result(job)), 23);
	ck_assert_int_eq(job_result(job)[1], 'y');
	job_set_result(job, strdup("true"));
	job_set_result_text(job, "null", 4);
	job_set_state(job, JOB_DONE, T0 + 1);
	r = record_of(job);
	ck_assert_ptr_nonnull(strstr(r, ",\"result\":null,\"error\":null}"));
	free(r);
	job_set_result_text(job, "{\"k\":1}", 7);
	job_unmake(job);
}
END_TEST

static Suite *
job_record_suite(void)
{
	Suite	*s = suite_create("job_record");
	TCase	*tc = tcase_create("job_record");

	tcase_add_test(tc, test_record_of_a_new_stream_job_has_null_times_and_result);
	tcase_add_test(tc, test_record_of_a_done_stream_job_carries_its_result);
	tcase_add_test(tc, test_duration_ms_has_three_decimals_of_whole_microseconds);
	tcase_add_test(tc, test_record_of_a_job_that_never_started_has_null_duration);
	tcase_add_test(tc, test_record_of_an_exec_job_without_result_has_null_outputs);
	tcase_add_test(tc, test_record_of_an_exec_job_carries_its_result_fields);
	tcase_add_test(tc, test_record_pool_names_long_and_changed_and_flow_fields);
	tcase_add_test(tc, test_record_escapes_pool_name_and_error);
	tcase_add_test(tc, test_result_text_is_copied_and_replaced_short_or_long);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(job_record_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
