/*
 * The id table (store/job_table.c): exact under churn, found by the id's
 * text only, and whole when many ids share a home slot.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/job.h"

#define T0	1700000000.0

static struct job *
job_make(struct job_owner *o, const char *data, double now)
{
	struct job	*job = job_new(o, data, strlen(data), now);

	o->state[JOB_QUEUED]++;
	return job;
}

static void
job_unmake(struct job *job)
{
	job->owner->state[job->state]--;
	job_free(job);
}

static void
count_visit(struct job *job, void *arg)
{
	size_t	*seen = arg;

	(void)job;
	(*seen)++;
}

/*
 * The id table under churn: jobs come and go in a pseudo-random order
 * (runs of neighbouring slots form, wrap past the array's end and are
 * shifted back on removal); after every step each job is found exactly
 * while it is in the table, and a walk visits each present job once.
 */
START_TEST(test_id_table_stays_exact_under_random_adds_and_removes)
{
	enum { N = 700, STEPS = 20000 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[N];
	char			 in[N] = { 0 };
	size_t			 base = job_table_count(), n = 0, seen;
	uint32_t		 r = 12345;
	int			 i, k;

	for (i = 0; i < N; i++)
		jobs[i] = job_make(&o, "{}", T0);
	for (k = 0; k < STEPS; k++) {
		r = r * 1103515245u + 12345u;
		i = (int)((r >> 8) % N);
		if (in[i])
			job_table_remove(jobs[i]), n--;
		else
			job_table_add(jobs[i]), n++;
		in[i] = !in[i];
		if (k % 1000 != 999)
			continue;
		ck_assert_uint_eq(job_table_count(), base + n);
		for (i = 0; i < N; i++)
			ck_assert_ptr_eq(job_table_find(jobs[i]->id,
			    JOB_ID_LEN), in[i] ? jobs[i] : NULL);
		seen = 0;
		job_table_foreach(count_visit, &seen);
		ck_assert_uint_eq(seen, base + n);
	}
	for (i = 0; i < N; i++) {
		if (in[i])
			job_table_remove(jobs[i]);
		job_unmake(jobs[i]);
	}
	ck_assert_uint_eq(job_table_count(), base);
}
END_TEST

/* An id is found by its exact text only (not in upper case). */
START_TEST(test_id_table_finds_by_exact_text_only)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);

	memcpy(job->id, "00000000abcdef01", JOB_ID_LEN + 1);
	job_table_add(job);
	ck_assert_ptr_eq(job_table_find("00000000abcdef01", JOB_ID_LEN), job);
	ck_assert_ptr_null(job_table_find("00000000ABCDEF01", JOB_ID_LEN));
	ck_assert_ptr_null(job_table_find("00000000abcdef0g", JOB_ID_LEN));
	job_table_remove(job);
	ck_assert_ptr_null(job_table_find("00000000abcdef01", JOB_ID_LEN));
	job_unmake(job);
}
END_TEST

/*
 * The home slot of an id in a table of 1024 slots, as store/job_table.c
 * computes it: its 16 characters' bytes as two big-endian words (the
 * last digit's low 3 bits taken out) pick a block of 8 slots, those bits
 * the slot in it.
 */
static unsigned
home_in_1024(const char *id)
{
	uint64_t	hi = 0, lo = 0, key;
	unsigned	last = (unsigned char)id[15], v;
	int		i;

	for (i = 0; i < 8; i++) {
		hi = hi << 8 | (unsigned char)id[i];
		lo = lo << 8 | (unsigned char)id[8 + i];
	}
	v = (last & 0xf) + 9 * (last >> 6);
	lo = (lo & ~(uint64_t)0xff) | (v >> 3);
	key = (lo + hi * 0xff51afd7ed558ccdULL) * 0x9e3779b97f4a7c15ULL;
	return (unsigned)((key >> 54) & ~(uint64_t)7) | (v & 7);
}

/* N jobs whose ids have home 0 in a 1024-slot table without a salt. */
static void
jobs_aimed_at_one_home(struct job_owner *o, struct job **jobs, int n)
{
	char		id[JOB_ID_LEN + 1];
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < n; i++) {
		do
			snprintf(id, sizeof id, "%015llx0",
			    (unsigned long long)++v);
		while (home_in_1024(id) != 0);
		jobs[i] = job_make(o, "{}", T0);
		memcpy(jobs[i]->id, id, sizeof id);
	}
}

/*
 * 300 ids whose home is the same slot of the first 1024-slot table (the
 * salt set to none, so that the test can aim them): the run grows past
 * how far a job may sit from its home (255), so the table grows though
 * it is far from 3/4 full, and every id is still found, then removed.
 */
START_TEST(test_id_table_holds_ids_that_share_a_home)
{
	enum { N = 300 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[N];
	int			 i;

	ck_assert_uint_eq(job_table_count(), 0);
	job_table_salt_set(0, 0);
	jobs_aimed_at_one_home(&o, jobs, N);
	for (i = 0; i < N; i++)
		job_table_add(jobs[i]);
	ck_assert_uint_eq(job_table_count(), N);
	ck_assert_uint_gt(job_table_capacity(), 1024);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(job_table_find(jobs[i]->id, JOB_ID_LEN),
		    jobs[i]);
	for (i = 0; i < N; i += 3)
		job_table_remove(jobs[i]);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_eq(job_table_find(jobs[i]->id, JOB_ID_LEN),
		    i % 3 ? jobs[i] : NULL);
		if (i % 3)
			job_table_remove(jobs[i]);
		job_unmake(jobs[i]);
	}
	ck_assert_uint_eq(job_table_count(), 0);
}
END_TEST

/*
 * The same ids under the salt each process draws: they are no longer
 * aimed, so they spread like any 300 ids and the table, under a third
 * full, has no reason to grow. (Ids from a cluster's Redis are anyone's
 * who can write there; aimed at one home at every size, they made the
 * table grow until memory ran out.)
 */
START_TEST(test_id_table_salt_spreads_ids_aimed_at_one_home)
{
	enum { N = 300 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[N];
	int			 i;

	ck_assert_uint_eq(job_table_count(), 0);
	jobs_aimed_at_one_home(&o, jobs, N);
	for (i = 0; i < N; i++)
		job_table_add(jobs[i]);
	ck_assert_uint_eq(job_table_capacity(), 1024);
	for (i = 0; i < N; i++) {
		ck_assert_ptr_eq(job_table_find(jobs[i]->id, JOB_ID_LEN),
		    jobs[i]);
		job_table_remove(jobs[i]);
		job_unmake(jobs[i]);
	}
	ck_assert_uint_eq(job_table_count(), 0);
}
END_TEST

static Suite *
job_table_suite(void)
{
	Suite	*s = suite_create("job_table");
	TCase	*tc = tcase_create("job_table");

	tcase_add_test(tc,
	    test_id_table_stays_exact_under_random_adds_and_removes);
	tcase_add_test(tc, test_id_table_finds_by_exact_text_only);
	tcase_add_test(tc, test_id_table_holds_ids_that_share_a_home);
	tcase_add_test(tc, test_id_table_salt_spreads_ids_aimed_at_one_home);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(job_table_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
