/*
 * Unit tests for jobs (store/job.c): the state machine of SPEC section 6
 * and the per-pool counters it keeps, waiters, the id table and ids,
 * idempotency keys and the changed set (the record: check_job_record.c).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "store/job.h"

/* 2023-11-14T22:13:20Z: exact in a double, as are the fractions used. */
#define T0	1700000000.0

/* What was logged (warnings of refused moves, of ids from the future). */
static struct {
	char	last[512];
	int	n;
} logged;

static void
log_capture_cb(enum log_level level, const char *msg, void *arg)
{
	snprintf(logged.last, sizeof logged.last, "%s", msg);
	logged.n++;
}

static void
setup(void)
{
	memset(&logged, 0, sizeof logged);
	log_set_sink(log_capture_cb, NULL);
}

static void
teardown(void)
{
	log_set_sink(NULL, NULL);
}

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

/* Bring a queued job to `state` through legal moves only. */
static void
job_drive(struct job *job, enum job_state state)
{
	if (state == JOB_QUEUED)
		return;
	if (state == JOB_CANCELLED) {
		job_set_state(job, JOB_CANCELLED, T0 + 2);
		return;
	}
	job_set_state(job, JOB_RUNNING, T0 + 1);
	job_set_state(job, state, T0 + 2);
	ck_assert_int_eq(job->state, state);
}

static uint64_t
owner_total(const struct job_owner *o)
{
	uint64_t	sum = 0;

	for (int i = 0; i < JOB_NSTATES; i++)
		sum += o->state[i];
	return sum;
}


START_TEST(test_transition_table_is_spec_section_6)
{
	/* from (rows) -> to (columns), in enum order (delayed last). */
	static const int legal[JOB_NSTATES][JOB_NSTATES] = {
		/* queued */	{ 1, 1, 0, 0, 0, 1, 1 },
		/* running */	{ 1, 1, 1, 1, 1, 1, 1 },
		/* done */	{ 0, 0, 1, 0, 0, 0, 0 },
		/* failed */	{ 0, 0, 0, 1, 0, 0, 0 },
		/* timed_out */	{ 0, 0, 0, 0, 1, 0, 0 },
		/* cancelled */	{ 0, 0, 0, 0, 0, 1, 0 },
		/* delayed */	{ 1, 0, 0, 0, 0, 1, 1 },
	};

	for (int from = 0; from < JOB_NSTATES; from++)
		for (int to = 0; to < JOB_NSTATES; to++)
			ck_assert_msg(job_transition_legal(from, to) ==
			    legal[from][to], "%s -> %s: expected %s",
			    job_state_name(from), job_state_name(to),
			    legal[from][to] ? "legal" : "illegal");
}
END_TEST

START_TEST(test_transition_from_or_to_an_unknown_state_is_illegal)
{
	ck_assert_int_eq(job_transition_legal(JOB_NSTATES, JOB_QUEUED), 0);
	ck_assert_int_eq(job_transition_legal(JOB_RUNNING, JOB_NSTATES), 0);
	ck_assert_int_eq(job_transition_legal(JOB_NSTATES, JOB_NSTATES), 0);
}
END_TEST

/*
 * Every pair of states, through job_set_state(): a legal move is made, an
 * illegal one is logged as a bug naming both states and leaves the job and
 * the counters as they were.
 */
START_TEST(test_set_state_makes_legal_moves_and_refuses_illegal_ones)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job;
	char			 want[128];
	int			 nlog;

	for (int from = 0; from < JOB_NSTATES; from++) {
		for (int to = 0; to < JOB_NSTATES; to++) {
			job = job_make(&o, "{}", T0);
			job_drive(job, from);
			nlog = logged.n;
			job_set_state(job, to, T0 + 3);
			if (job_transition_legal(from, to)) {
				ck_assert_int_eq(job->state, to);
				ck_assert_int_eq(logged.n, nlog);
			} else {
				ck_assert_msg(job->state == from,
				    "%s -> %s was made", job_state_name(from),
				    job_state_name(to));
				ck_assert_int_eq(logged.n, nlog + 1);
				snprintf(want, sizeof want, "BUG: job %s: "
				    "illegal transition %s -> %s", job->id,
				    job_state_name(from), job_state_name(to));
				ck_assert_str_eq(logged.last, want);
			}
			ck_assert_uint_eq(o.state[job->state], 1);
			ck_assert_uint_eq(owner_total(&o), 1);
			job_unmake(job);
			ck_assert_uint_eq(owner_total(&o), 0);
		}
	}
}
END_TEST

/*
 * Whatever moves are asked for, legal or not, each counter is the number
 * of jobs in its state and they add up to the jobs created.
 */
START_TEST(test_counters_match_the_jobs_through_any_sequence_of_moves)
{
	enum { NJOBS = 40, NMOVES = 4000 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[NJOBS];
	uint64_t		 count[JOB_NSTATES];
	unsigned		 seed = 12345;
	int			 i, k;

	for (i = 0; i < NJOBS; i++)
		jobs[i] = job_make(&o, "{}", T0);
	for (k = 0; k < NMOVES; k++) {
		seed = seed * 1103515245 + 12345;
		i = (int)((seed >> 8) % NJOBS);
		job_set_state(jobs[i], (enum job_state)((seed >> 20) %
		    JOB_NSTATES), T0 + k);
		memset(count, 0, sizeof count);
		for (i = 0; i < NJOBS; i++)
			count[jobs[i]->state]++;
		for (i = 0; i < JOB_NSTATES; i++)
			ck_assert_uint_eq(o.state[i], count[i]);
		ck_assert_uint_eq(owner_total(&o), NJOBS);
	}
	/* The sequence did try illegal moves, and did end jobs. */
	ck_assert_int_gt(logged.n, 0);
	ck_assert_uint_lt(o.state[JOB_QUEUED] + o.state[JOB_RUNNING], NJOBS);
	for (i = 0; i < NJOBS; i++)
		job_unmake(jobs[i]);
	ck_assert_uint_eq(owner_total(&o), 0);
}
END_TEST

/* What a waiter saw. */
struct seen {
	int		 calls;
	struct job	*job;
	int		 state;
};

static void
waiter_cb(struct job_waiter *w, struct job *job)
{
	struct seen	*s = w->arg;

	s->calls++;
	s->job = job;
	s->state = job->state;
	ck_assert_ptr_null(w->job);
}

START_TEST(test_waiters_fire_exactly_once_on_reaching_a_terminal_state)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	struct seen		 s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
	struct job_waiter	 w1 = { .cb = waiter_cb, .arg = &s1 };
	struct job_waiter	 w2 = { .cb = waiter_cb, .arg = &s2 };
	struct job_waiter	 w3 = { .cb = waiter_cb, .arg = &s3 };

	job_waiter_add(job, &w1);
	job_waiter_add(job, &w2);
	job_waiter_add(job, &w3);
	job_waiter_remove(&w3);
	ck_assert_ptr_null(w3.job);
	/* A retry is no end. */
	job_set_state(job, JOB_RUNNING, T0 + 1);
	job_set_state(job, JOB_QUEUED, T0 + 2);
	job_set_state(job, JOB_RUNNING, T0 + 3);
	ck_assert_int_eq(s1.calls + s2.calls, 0);
	job_set_state(job, JOB_DONE, T0 + 4);
	ck_assert_int_eq(s1.calls, 1);
	ck_assert_int_eq(s2.calls, 1);
	ck_assert_ptr_eq(s1.job, job);
	ck_assert_int_eq(s1.state, JOB_DONE);
	ck_assert_int_eq(s3.calls, 0);
	/* Nothing more: not the same state again, not another end. */
	job_set_state(job, JOB_DONE, T0 + 5);
	job_set_state(job, JOB_FAILED, T0 + 5);
	ck_assert_int_eq(s1.calls, 1);
	ck_assert_int_eq(s2.calls, 1);
	/* Removing a waiter that fired is harmless. */
	job_waiter_remove(&w1);
	ck_assert_int_eq(s1.calls, 1);
	job_unmake(job);
}
END_TEST

START_TEST(test_waiter_fires_when_a_queued_job_is_cancelled)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);
	struct seen		 s = { 0 };
	struct job_waiter	 w = { .cb = waiter_cb, .arg = &s };

	job_waiter_add(job, &w);
	job_set_state(job, JOB_CANCELLED, T0 + 1);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.state, JOB_CANCELLED);
	job_unmake(job);
}
END_TEST

START_TEST(test_running_stamps_start_and_an_end_stamps_finish_and_runner)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*job = job_make(&o, "{}", T0);

	ck_assert(job->submitted_at == T0);
	ck_assert(job_started_at(job) == 0 && job_finished_at(job) == 0);
	ck_assert_int_eq(job->worker, -1);
	job_set_state(job, JOB_RUNNING, T0 + 1);
	ck_assert(job_started_at(job) == T0 + 1);
	job_set_runner(job, (struct worker *)(void *)&o);
	job_set_state(job, JOB_TIMED_OUT, T0 + 2);
	ck_assert(job_finished_at(job) == T0 + 2);
	ck_assert_ptr_null(job_runner(job));
	job_unmake(job);
}
END_TEST

START_TEST(test_big_data_is_let_go_when_the_job_ends_small_data_stays)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*big, *small;
	char			 data[1000];

	memset(data, 'x', sizeof data - 3);
	data[0] = '"';
	data[sizeof data - 3] = '"';
	data[sizeof data - 2] = '\0';
	big = job_make(&o, data, T0);
	small = job_make(&o, "[1,2]", T0);
	ck_assert_uint_eq(big->data_len, strlen(data));
	ck_assert_str_eq(job_data(big), data);
	job_set_state(big, JOB_RUNNING, T0);
	ck_assert_str_eq(job_data(big), data);
	job_set_state(big, JOB_DONE, T0);
	ck_assert_uint_eq(big->data_len, 0);
	ck_assert_str_eq(job_data(big), "");
	job_set_state(small, JOB_CANCELLED, T0);
	ck_assert_str_eq(job_data(small), "[1,2]");
	job_unmake(big);
	job_unmake(small);
}
END_TEST

START_TEST(test_id_table_adds_finds_and_removes_across_growth)
{
	enum { N = 3000 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[N];
	size_t			 base = job_table_count();
	int			 i;

	for (i = 0; i < N; i++) {
		jobs[i] = job_make(&o, "{}", T0);
		job_table_add(jobs[i]);
	}
	ck_assert_uint_eq(job_table_count(), base + N);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(job_table_find(jobs[i]->id, JOB_ID_LEN),
		    jobs[i]);
	/* Only a whole id finds a job. */
	ck_assert_ptr_null(job_table_find(jobs[0]->id, JOB_ID_LEN - 1));
	ck_assert_ptr_null(job_table_find("ffffffffffffffff", JOB_ID_LEN));
	for (i = 0; i < N; i += 2)
		job_table_remove(jobs[i]);
	ck_assert_uint_eq(job_table_count(), base + N / 2);
	for (i = 0; i < N; i++)
		ck_assert_ptr_eq(job_table_find(jobs[i]->id, JOB_ID_LEN),
		    i % 2 ? jobs[i] : NULL);
	/* Removing a job that is not there changes nothing. */
	job_table_remove(jobs[0]);
	ck_assert_uint_eq(job_table_count(), base + N / 2);
	for (i = 0; i < N; i++) {
		if (i % 2)
			job_table_remove(jobs[i]);
		job_unmake(jobs[i]);
	}
	ck_assert_uint_eq(job_table_count(), base);
}
END_TEST

/*
 * Ids are 16 lowercase hex digits and each sorts after the one before,
 * also beyond 65536 within one millisecond and when the clock goes back.
 */
START_TEST(test_ids_are_unique_and_sort_in_creation_order)
{
	char	prev[JOB_ID_LEN + 1], id[JOB_ID_LEN + 1];

	job_id_next(prev, T0);
	ck_assert_uint_eq(strlen(prev), JOB_ID_LEN);
	ck_assert_uint_eq(strspn(prev, "0123456789abcdef"), JOB_ID_LEN);
	for (int i = 0; i < 70000; i++) {
		job_id_next(id, i < 60000 ? T0 : T0 - 10);
		ck_assert_msg(strcmp(id, prev) > 0, "%s after %s", id, prev);
		memcpy(prev, id, sizeof id);
	}
	/* The clock moving on gives ids of its own time again. */
	job_id_next(id, T0 + 1);
	ck_assert_str_eq(id, "018bcfe56be80000");
}
END_TEST

/* Each id is its millisecond and sequence as 16 lowercase hex digits. */
START_TEST(test_ids_are_the_hex_of_their_millisecond_and_sequence)
{
	char			 id[JOB_ID_LEN + 1], want[JOB_ID_LEN + 1];
	unsigned long long	 ms;
	double			 t;
	int			 i;

	/* Every digit value at every place (ms below 2^48, 8,900 years). */
	for (i = 0, t = T0 + 1e6; i < 2000; i++, t += 1.0 + i * 1.3e5) {
		ms = (unsigned long long)(t * 1000.0);
		job_id_next(id, t);
		snprintf(want, sizeof want, "%012llx0000", ms);
		ck_assert_str_eq(id, want);
		job_id_next(id, t);
		snprintf(want, sizeof want, "%012llx0001", ms);
		ck_assert_str_eq(id, want);
	}
}
END_TEST

START_TEST(test_new_ids_sort_after_an_id_seen_in_a_store)
{
	char		 seen[JOB_ID_LEN + 1], id[JOB_ID_LEN + 1];
	uint64_t	 ms = (uint64_t)(time_wall() * 1000.0) + 60000;

	/* A minute ahead of the clock (another host's, a clock step back). */
	snprintf(seen, sizeof seen, "%012llx0007", (unsigned long long)ms);
	job_id_seen(seen);
	job_id_next(id, time_wall());
	ck_assert_msg(strcmp(id, seen) > 0, "%s after %s", id, seen);
	ck_assert_int_eq(logged.n, 0);
}
END_TEST

START_TEST(test_id_dated_far_in_the_future_is_not_followed)
{
	char		 seen[JOB_ID_LEN + 1], id[JOB_ID_LEN + 1];
	uint64_t	 ms = (uint64_t)(time_wall() * 1000.0) +
	    2ULL * 24 * 3600 * 1000;

	snprintf(seen, sizeof seen, "%012llx0000", (unsigned long long)ms);
	job_id_seen(seen);
	ck_assert_int_eq(logged.n, 1);
	ck_assert_ptr_nonnull(strstr(logged.last, seen));
	job_id_next(id, time_wall());
	ck_assert_msg(strcmp(id, seen) < 0, "%s before %s", id, seen);
}
END_TEST

START_TEST(test_idempotency_key_is_found_until_its_job_is_freed)
{
	enum { N = 600 };
	struct job_owner	 o = { .name = "p" };
	struct job		*jobs[N];
	char			 key[32];
	int			 i;

	ck_assert_ptr_null(job_key_find(NULL, "k0"));
	for (i = 0; i < N; i++) {
		jobs[i] = job_make(&o, "{}", T0);
		snprintf(key, sizeof key, "k%d", i);
		job_key_set(jobs[i], key);
	}
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_ptr_eq(job_key_find(NULL, key), jobs[i]);
		ck_assert_str_eq(job_key(jobs[i]), key);
	}
	ck_assert_ptr_null(job_key_find(NULL, "k"));
	ck_assert_ptr_null(job_key_find(NULL, ""));
	for (i = 0; i < N; i += 2)
		job_unmake(jobs[i]);
	for (i = 0; i < N; i++) {
		snprintf(key, sizeof key, "k%d", i);
		ck_assert_ptr_eq(job_key_find(NULL, key), i % 2 ? jobs[i] : NULL);
	}
	for (i = 1; i < N; i += 2)
		job_unmake(jobs[i]);
	ck_assert_ptr_null(job_key_find(NULL, "k1"));
}
END_TEST

START_TEST(test_idempotency_keys_are_per_client)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*a, *b, *none;
	char			 name[8] = "alice";

	a = job_make(&o, "{}", T0);
	a->client = job_client_hold(name);
	job_key_set(a, "order-1");
	b = job_make(&o, "{}", T0);
	b->client = job_client_hold("bob");
	job_key_set(b, "order-1");
	none = job_make(&o, "{}", T0);
	job_key_set(none, "order-1");
	/* Names are kept once: a caller's buffer may change afterwards. */
	strcpy(name, "carol");
	ck_assert_str_eq(a->client, "alice");
	ck_assert_ptr_eq(job_client_find("alice"), a->client);
	ck_assert_ptr_eq(job_key_find("alice", "order-1"), a);
	ck_assert_ptr_eq(job_key_find("bob", "order-1"), b);
	ck_assert_ptr_eq(job_key_find(NULL, "order-1"), none);
	ck_assert_ptr_null(job_key_find("carol", "order-1"));
	job_unmake(a);
	ck_assert_ptr_null(job_key_find("alice", "order-1"));
	ck_assert_ptr_eq(job_key_find("bob", "order-1"), b);
	job_unmake(b);
	job_unmake(none);
}
END_TEST

/*
 * A name lives while a job holds it: a cluster node takes jobs with any
 * name someone wrote into Redis, and what their names cost must end with
 * the jobs. One name held by many jobs stays one copy.
 */
START_TEST(test_client_names_live_while_jobs_hold_them)
{
	enum { N = 20000 };
	struct job_owner	 o = { .name = "p" };
	struct job		**jobs = calloc(N, sizeof *jobs);
	size_t			 base = job_client_count(), i, len;
	char			 name[32];

	ck_assert_ptr_nonnull(jobs);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof name, "c%zu", i % 2 ? i : 0);
		jobs[i] = job_make(&o, "{}", T0);
		jobs[i]->client = job_client_hold(name);
	}
	ck_assert_uint_eq(job_client_count(), base + N / 2 + 1);
	ck_assert_ptr_eq(jobs[0]->client, jobs[2]->client);
	ck_assert_ptr_eq(job_client_find("c7"), jobs[7]->client);
	/* The quoted form, which is not NUL-terminated. */
	ck_assert_int_eq(memcmp(job_client_json(jobs[7]->client, &len),
	    "\"c7\"", 4), 0);
	ck_assert_uint_eq(len, 4);
	for (i = 1; i < N; i += 2)
		job_unmake(jobs[i]);
	ck_assert_uint_eq(job_client_count(), base + 1);
	ck_assert_ptr_null(job_client_find("c7"));
	ck_assert_ptr_eq(job_client_find("c0"), jobs[0]->client);
	for (i = 0; i < N; i += 2)
		job_unmake(jobs[i]);
	ck_assert_uint_eq(job_client_count(), base);
	ck_assert_ptr_null(job_client_find("c0"));
	free(jobs);
}
END_TEST

/*
 * With tracking on, a move of a stored job (seg != 0) joins the changed
 * set once; an unstored one does not; a freed job leaves it.
 */
START_TEST(test_changed_set_holds_moved_stored_jobs_until_cleared_or_freed)
{
	struct job_owner	 o = { .name = "p" };
	struct job		*a = job_make(&o, "{}", T0);
	struct job		*b = job_make(&o, "{}", T0);
	struct job		*c = job_make(&o, "{}", T0);
	struct job		**list;
	size_t			 n;

	job_set_seg(a, 1);
	job_set_seg(b, 1);
	job_set_state(a, JOB_RUNNING, T0);
	job_changed_list(&n);
	ck_assert_uint_eq(n, 0);
	job_changed_track(1);
	job_set_state(a, JOB_DONE, T0);
	job_set_state(b, JOB_RUNNING, T0);
	job_set_state(b, JOB_QUEUED, T0);
	job_set_state(c, JOB_RUNNING, T0);
	list = job_changed_list(&n);
	ck_assert_uint_eq(n, 2);
	ck_assert_ptr_eq(list[0], a);
	ck_assert_ptr_eq(list[1], b);
	job_unmake(a);
	list = job_changed_list(&n);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(list[0], b);
	ck_assert_uint_eq(b->changed, 1);
	job_changed_clear();
	job_changed_list(&n);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(b->changed, 0);
	job_changed_track(0);
	job_unmake(b);
	job_unmake(c);
}
END_TEST

static Suite *
job_suite(void)
{
	Suite	*s = suite_create("job");
	TCase	*tc = tcase_create("job");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_transition_table_is_spec_section_6);
	tcase_add_test(tc,
	    test_transition_from_or_to_an_unknown_state_is_illegal);
	tcase_add_test(tc,
	    test_set_state_makes_legal_moves_and_refuses_illegal_ones);
	tcase_add_test(tc,
	    test_counters_match_the_jobs_through_any_sequence_of_moves);
	tcase_add_test(tc,
	    test_waiters_fire_exactly_once_on_reaching_a_terminal_state);
	tcase_add_test(tc, test_waiter_fires_when_a_queued_job_is_cancelled);
	tcase_add_test(tc,
	    test_running_stamps_start_and_an_end_stamps_finish_and_runner);
	tcase_add_test(tc,
	    test_big_data_is_let_go_when_the_job_ends_small_data_stays);
	tcase_add_test(tc, test_id_table_adds_finds_and_removes_across_growth);
	tcase_add_test(tc, test_ids_are_unique_and_sort_in_creation_order);
	tcase_add_test(tc, test_ids_are_the_hex_of_their_millisecond_and_sequence);
	tcase_add_test(tc, test_new_ids_sort_after_an_id_seen_in_a_store);
	tcase_add_test(tc, test_id_dated_far_in_the_future_is_not_followed);
	tcase_add_test(tc,
	    test_idempotency_key_is_found_until_its_job_is_freed);
	tcase_add_test(tc, test_idempotency_keys_are_per_client);
	tcase_add_test(tc, test_client_names_live_while_jobs_hold_them);
	tcase_add_test(tc,
	    test_changed_set_holds_moved_stored_jobs_until_cleared_or_freed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(job_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
