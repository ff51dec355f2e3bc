/*
 * Unit tests for the recent-jobs query (supervisor/joblist.c): newest
 * first, the pool, state and since filters, the caller's visibility test
 * applied before the limit, and the state list parser.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/job.h"
#include "supervisor/joblist.h"

#define T0	1700000000.0
#define NJOBS	40

static struct job_owner	 pool_a = { .name = "a" };
static struct job_owner	 pool_b = { .name = "b" };
static struct job	*jobs[NJOBS];

/*
 * NJOBS jobs, submitted one second apart: even ones in pool a, odd in b;
 * every third one failed (finished at T0 + 1000 + i), the rest queued.
 */
static void
setup(void)
{
	for (int i = 0; i < NJOBS; i++) {
		struct job_owner	*o = i % 2 ? &pool_b : &pool_a;

		jobs[i] = job_new(o, "{}", 2, T0 + i);
		o->state[JOB_QUEUED]++;
		if (i % 3 == 0) {
			job_set_state(jobs[i], JOB_RUNNING, T0 + 500 + i);
			job_set_state(jobs[i], JOB_FAILED, T0 + 1000 + i);
		}
		job_table_add(jobs[i]);
	}
}

static void
teardown(void)
{
	for (int i = 0; i < NJOBS; i++) {
		job_table_remove(jobs[i]);
		jobs[i]->owner->state[jobs[i]->state]--;
		job_free(jobs[i]);
	}
}

static size_t
query(const struct joblist_filter *f, const struct job ***out)
{
	size_t	n = joblist_query(f, out);

	for (size_t i = 1; i < n; i++)
		ck_assert_msg(memcmp((*out)[i - 1]->id, (*out)[i]->id,
		    JOB_ID_LEN) > 0, "not newest first at %zu", i);
	return n;
}

START_TEST(test_every_job_newest_first_without_a_filter)
{
	struct joblist_filter	 f = { 0 };
	const struct job	**out;
	size_t			 n = query(&f, &out);

	ck_assert_uint_eq(n, NJOBS);
	ck_assert_ptr_eq(out[0], jobs[NJOBS - 1]);
	ck_assert_ptr_eq(out[NJOBS - 1], jobs[0]);
	free(out);
}
END_TEST

START_TEST(test_limit_keeps_the_newest)
{
	struct joblist_filter	 f = { .limit = 5 };
	const struct job	**out;
	size_t			 n = query(&f, &out);

	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++)
		ck_assert_ptr_eq(out[i], jobs[NJOBS - 1 - i]);
	free(out);
}
END_TEST

START_TEST(test_pool_and_state_filters_combine)
{
	struct joblist_filter	 f = { .pool = "b",
	    .states = JOBLIST_STATE(JOB_FAILED) };
	const struct job	**out;
	size_t			 n = query(&f, &out), want = 0;

	for (int i = 0; i < NJOBS; i++)
		want += i % 2 == 1 && i % 3 == 0;
	ck_assert_uint_eq(n, want);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(out[i]->owner->name, "b");
		ck_assert_int_eq(out[i]->state, JOB_FAILED);
	}
	free(out);
	f.pool = "nosuch";
	ck_assert_uint_eq(joblist_query(&f, &out), 0);
	ck_assert_ptr_null(out);
}
END_TEST

START_TEST(test_since_counts_the_last_change_not_the_submission)
{
	/* Failed jobs changed at T0 + 1000 + i; queued ones at T0 + i. */
	struct joblist_filter	 f = { .since = T0 + 1030 };
	const struct job	**out;
	size_t			 n = query(&f, &out);

	ck_assert_uint_eq(n, 4);
	ck_assert_ptr_eq(out[0], jobs[39]);
	ck_assert_ptr_eq(out[1], jobs[36]);
	ck_assert_ptr_eq(out[2], jobs[33]);
	ck_assert_ptr_eq(out[3], jobs[30]);
	free(out);
	ck_assert(joblist_changed_at(jobs[1]) == T0 + 1);
	ck_assert(joblist_changed_at(jobs[3]) == T0 + 1003);
}
END_TEST

static int
only_pool_a_cb(const struct job *job, void *arg)
{
	(*(int *)arg)++;
	return job->owner == &pool_a;
}

START_TEST(test_visibility_applies_before_the_limit)
{
	int			 calls = 0;
	struct joblist_filter	 f = { .limit = 4, .visible = only_pool_a_cb,
	    .arg = &calls };
	const struct job	**out;
	size_t			 n = query(&f, &out);

	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(calls, NJOBS);
	for (size_t i = 0; i < n; i++)
		ck_assert_ptr_eq(out[i], jobs[NJOBS - 2 - 2 * i]);
	free(out);
}
END_TEST

START_TEST(test_state_lists_parse_and_unknown_names_are_refused)
{
	unsigned	 states;
	const char	*err = NULL;

	ck_assert_int_eq(joblist_parse_states("failed", 6, &states, &err), 0);
	ck_assert_uint_eq(states, JOBLIST_STATE(JOB_FAILED));
	ck_assert_int_eq(joblist_parse_states("failed,timed_out,queued", 23,
	    &states, &err), 0);
	ck_assert_uint_eq(states, JOBLIST_STATE(JOB_FAILED) |
	    JOBLIST_STATE(JOB_TIMED_OUT) | JOBLIST_STATE(JOB_QUEUED));
	ck_assert_int_eq(joblist_parse_states("fail", 4, &states, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown state"));
	ck_assert_int_eq(joblist_parse_states("", 0, &states, &err), -1);
	ck_assert_int_eq(joblist_parse_states("done,", 5, &states, &err), -1);
	ck_assert_int_eq(joblist_parse_states("failedx", 6, &states, &err), 0);
}
END_TEST

static Suite *
joblist_suite(void)
{
	Suite	*s = suite_create("joblist");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_job_newest_first_without_a_filter);
	tcase_add_test(tc, test_limit_keeps_the_newest);
	tcase_add_test(tc, test_pool_and_state_filters_combine);
	tcase_add_test(tc, test_since_counts_the_last_change_not_the_submission);
	tcase_add_test(tc, test_visibility_applies_before_the_limit);
	tcase_add_test(tc,
	    test_state_lists_parse_and_unknown_names_are_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(joblist_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
