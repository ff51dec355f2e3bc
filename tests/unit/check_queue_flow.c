/*
 * Flow control through the queue seam (store/queue_flow.c), for every
 * implementation: priority order and aging, delayed jobs and their due
 * times, fair turns between groups, group_concurrency and the GCRA rate
 * limit. Aging and the rate limit read the harness's fake clock (qt.now);
 * due times are real libev timers on the test's loop.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/queue_harness.h"

/* Accept what was pushed (sqlite: the commit) and forget its events. */
static void
flow_commit(void)
{
	queue_commit(qt.q, 0);
	ev_run(qt.loop, EVRUN_NOWAIT);
	qt.runnable_a = qt.runnable_b = 0;
}

static int
a_runnable(void)
{
	return qt.runnable_a > 0;
}

/* The jobs claimed from a, in order, each finished done at once. */
static size_t
claim_all(struct job **out, size_t max)
{
	size_t	n = queue_claim(qt.q, &qt.a, out, max), i;

	for (i = 0; i < n; i++)
		qt_finish(out[i], JOB_DONE);
	return n;
}

/* submitted = delayed + queued + running + done + failed + ... */
static void
check_invariant(const struct queue_pool *qp)
{
	uint64_t	sum = 0;
	int		s;

	for (s = 0; s < JOB_NSTATES; s++)
		sum += qp->jobs.state[s];
	ck_assert_uint_eq(qp->submitted, sum);
}

START_TEST(test_flow_higher_priority_first_and_fifo_within_a_priority)
{
	struct job	*j[5], *out[5];

	qt.a.flow.aging = 0;
	j[0] = qt_push_flow(&qt.a, 0, NULL, 0);
	j[1] = qt_push_flow(&qt.a, 5, NULL, 0);
	j[2] = qt_push_flow(&qt.a, 0, NULL, 0);
	j[3] = qt_push_flow(&qt.a, 5, NULL, 0);
	j[4] = qt_push_flow(&qt.a, -3, NULL, 0);
	flow_commit();
	ck_assert_uint_eq(qt.a.flow.depth[5 - JOB_PRIORITY_MIN], 2);
	ck_assert_uint_eq(qt.a.flow.depth[0 - JOB_PRIORITY_MIN], 2);
	ck_assert_uint_eq(qt.a.flow.depth[-3 - JOB_PRIORITY_MIN], 1);
	ck_assert_uint_eq(claim_all(out, 5), 5);
	ck_assert_ptr_eq(out[0], j[1]);
	ck_assert_ptr_eq(out[1], j[3]);
	ck_assert_ptr_eq(out[2], j[0]);
	ck_assert_ptr_eq(out[3], j[2]);
	ck_assert_ptr_eq(out[4], j[4]);
	ck_assert_uint_eq(qt.a.flow.depth[5 - JOB_PRIORITY_MIN], 0);
	check_invariant(&qt.a);
}
END_TEST

/*
 * Aging: a job gains a level per `aging` seconds waited; at equal rank the
 * one that waited longer goes first, so a stream of higher-priority work
 * cannot park it for ever.
 */
START_TEST(test_flow_aging_lifts_a_job_that_waited)
{
	struct job	*low, *high1, *high2, *out[1];

	qt.a.flow.aging = 10;
	qt.now = 1000;
	low = qt_push_flow(&qt.a, -2, NULL, 0);
	qt.now = 1015;
	high1 = qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	/* 15 s: low ranks -2 + 1 = -1, below high1's 0. */
	ck_assert_uint_eq(claim_all(out, 1), 1);
	ck_assert_ptr_eq(out[0], high1);
	qt.now = 1025;
	high2 = qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	/* 25 s: low ranks -2 + 2 = 0, as high2, and waited longer. */
	ck_assert_uint_eq(claim_all(out, 1), 1);
	ck_assert_ptr_eq(out[0], low);
	ck_assert_uint_eq(claim_all(out, 1), 1);
	ck_assert_ptr_eq(out[0], high2);
}
END_TEST

/*
 * A delayed job costs nothing until it is due: not claimable, counted as
 * delayed; the queue's one timer is armed for the first due job, whatever
 * the order they were pushed in, and each comes due on time.
 */
START_TEST(test_flow_delayed_jobs_come_due_in_due_order_on_time)
{
	struct job	*late, *soon, *out[2];
	double		 t0, waited;

	ev_now_update(qt.loop);
	t0 = ev_now(qt.loop);
	late = qt_push_flow(&qt.a, 0, NULL, t0 + 0.12);
	soon = qt_push_flow(&qt.a, 0, NULL, t0 + 0.06);
	flow_commit();
	ck_assert_int_eq(late->state, JOB_DELAYED);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_DELAYED], 2);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	check_invariant(&qt.a);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 0);
	ck_assert(ev_is_active(queue_due_timer(qt.q)));
	ck_assert_double_le(ev_timer_remaining(qt.loop, queue_due_timer(qt.q)),
	    0.061);

	ck_assert(qt_run_until(a_runnable, 2.0));
	ev_now_update(qt.loop);
	waited = ev_now(qt.loop) - t0;
	ck_assert_msg(waited >= 0.059 && waited < 0.11, "due after %.3f s",
	    waited);
	ck_assert_int_eq(soon->state, JOB_QUEUED);
	ck_assert_int_eq(late->state, JOB_DELAYED);
	ck_assert_uint_eq(claim_all(out, 2), 1);
	ck_assert_ptr_eq(out[0], soon);

	qt.runnable_a = 0;
	ck_assert(qt_run_until(a_runnable, 2.0));
	ev_now_update(qt.loop);
	waited = ev_now(qt.loop) - t0;
	ck_assert_msg(waited >= 0.119 && waited < 0.17, "due after %.3f s",
	    waited);
	ck_assert_uint_eq(claim_all(out, 2), 1);
	ck_assert_ptr_eq(out[0], late);
	ck_assert(!ev_is_active(queue_due_timer(qt.q)));
	check_invariant(&qt.a);
}
END_TEST

START_TEST(test_flow_a_delayed_job_is_cancelled_out_of_the_wait)
{
	struct job	*j, *k, *out[1];

	ev_now_update(qt.loop);
	j = qt_push_flow(&qt.a, 0, NULL, ev_now(qt.loop) + 30);
	k = qt_push_flow(&qt.a, 0, NULL, ev_now(qt.loop) + 60);
	flow_commit();
	ck_assert_int_eq(queue_cancel(qt.q, j), 0);
	qt_finish(j, JOB_CANCELLED);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_DELAYED], 1);
	/* The timer follows the one left. */
	ck_assert_double_gt(ev_timer_remaining(qt.loop, queue_due_timer(qt.q)),
	    50);
	ck_assert_int_eq(queue_cancel(qt.q, k), 0);
	qt_finish(k, JOB_CANCELLED);
	ck_assert(!ev_is_active(queue_due_timer(qt.q)));
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 0);
	check_invariant(&qt.a);
}
END_TEST

/* Groups with work take turns, whatever their backlog. */
START_TEST(test_flow_groups_take_turns)
{
	struct job	*big[4], *small[2], *none, *out[7];

	for (int i = 0; i < 4; i++)
		big[i] = qt_push_flow(&qt.a, 0, "big", 0);
	small[0] = qt_push_flow(&qt.a, 0, "small", 0);
	small[1] = qt_push_flow(&qt.a, 0, "small", 0);
	none = qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	ck_assert_uint_eq(queue_groups_with_work(&qt.a), 3);
	ck_assert_uint_eq(claim_all(out, 7), 7);
	ck_assert_ptr_eq(out[0], big[0]);
	ck_assert_ptr_eq(out[1], small[0]);
	ck_assert_ptr_eq(out[2], none);
	ck_assert_ptr_eq(out[3], big[1]);
	ck_assert_ptr_eq(out[4], small[1]);
	ck_assert_ptr_eq(out[5], big[2]);
	ck_assert_ptr_eq(out[6], big[3]);
	ck_assert_uint_eq(queue_groups_with_work(&qt.a), 0);
}
END_TEST

/* Priority orders jobs within a group; the turns are the groups'. */
START_TEST(test_flow_priority_orders_each_groups_jobs)
{
	struct job	*g1lo, *g1hi, *g2lo, *out[3];

	qt.a.flow.aging = 0;
	g1lo = qt_push_flow(&qt.a, -1, "g1", 0);
	g2lo = qt_push_flow(&qt.a, -5, "g2", 0);
	g1hi = qt_push_flow(&qt.a, 7, "g1", 0);
	flow_commit();
	ck_assert_uint_eq(claim_all(out, 3), 3);
	ck_assert_ptr_eq(out[0], g1hi);
	ck_assert_ptr_eq(out[1], g2lo);
	ck_assert_ptr_eq(out[2], g1lo);
}
END_TEST

/*
 * group_concurrency: a group with that many jobs running waits; when one
 * ends, the queue says runnable and the group gets its turn again.
 */
START_TEST(test_flow_group_concurrency_holds_a_group_at_its_limit)
{
	struct job	*big[3], *small, *out[4];

	qt.a.flow.group_concurrency = 1;
	for (int i = 0; i < 3; i++)
		big[i] = qt_push_flow(&qt.a, 0, "big", 0);
	small = qt_push_flow(&qt.a, 0, "small", 0);
	flow_commit();
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 2);
	ck_assert_ptr_eq(out[0], big[0]);
	ck_assert_ptr_eq(out[1], small);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 2, 2), 0);
	ck_assert_uint_eq(queue_groups_with_work(&qt.a), 0);
	qt_finish(big[0], JOB_DONE);
	ck_assert(qt_run_until(a_runnable, 2.0));
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 2, 2), 1);
	ck_assert_ptr_eq(out[2], big[1]);
	/* A retry gives its slot back too. */
	qt_start(big[1]);
	job_set_state(big[1], JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, big[1], 0, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 2, 2), 1);
	ck_assert_ptr_eq(out[2], big[1]);
	qt_finish(big[1], JOB_DONE);
	qt_finish(small, JOB_DONE);
	ck_assert_uint_eq(claim_all(out, 4), 1);
	ck_assert_ptr_eq(out[0], big[2]);
	check_invariant(&qt.a);
}
END_TEST

/*
 * GCRA with rate 10/s (T = 0.1 s) and burst 2 (tau = 0.1 s): two at once,
 * then one per 0.1 s; what waits is held, counted as throttled, and the
 * queue wakes the engine when it may go.
 */
START_TEST(test_flow_rate_limit_spaces_claims_by_gcra)
{
	struct job	*out[6];
	size_t		 n;
	double		 t0;
	int		 tries;

	qt.a.flow.rate_interval = 0.1;
	qt.a.flow.rate_burst = 2;
	qt.now = 1000;
	for (int i = 0; i < 6; i++)
		qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	ck_assert_uint_eq(claim_all(out, 6), 2);
	ck_assert_uint_eq(qt.a.flow.throttled, 4);
	qt.now = 1000.05;
	ck_assert_uint_eq(claim_all(out, 6), 0);
	qt.now = 1000.1;
	ck_assert_uint_eq(claim_all(out, 6), 1);
	qt.now = 1000.19;
	ck_assert_uint_eq(claim_all(out, 6), 0);
	qt.now = 1000.2;
	ck_assert_uint_eq(claim_all(out, 6), 1);
	/* Idle time refills the burst, no more. */
	qt.now = 1010;
	ck_assert_uint_eq(claim_all(out, 6), 2);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	/*
	 * On the real clock: the held job is claimable 0.1 s after the
	 * burst, and the queue's wake-ups get it there (an earlier one,
	 * armed under the fake clock, finds it still held).
	 */
	qt.now = 0;
	for (int i = 0; i < 3; i++)
		qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	ev_now_update(qt.loop);
	t0 = ev_now(qt.loop);
	ck_assert_uint_eq(claim_all(out, 6), 2);
	ck_assert_uint_eq(claim_all(out, 6), 0);
	for (n = 0, tries = 0; n == 0 && tries < 10; tries++) {
		qt.runnable_a = 0;
		ck_assert(qt_run_until(a_runnable, 2.0));
		n = claim_all(out, 6);
	}
	ck_assert_uint_eq(n, 1);
	ev_now_update(qt.loop);
	ck_assert_double_ge(ev_now(qt.loop) - t0, 0.099);
	ck_assert_uint_eq(qt.a.flow.throttled, 0);
	check_invariant(&qt.a);
}
END_TEST

/* rate_per_group: each group has the whole rate; one's wait holds no other. */
START_TEST(test_flow_rate_per_group_throttles_each_group_alone)
{
	struct job	*out[6];

	qt.a.flow.rate_interval = 1;
	qt.a.flow.rate_burst = 1;
	qt.a.flow.rate_per_group = 1;
	qt.now = 2000;
	for (int i = 0; i < 3; i++) {
		qt_push_flow(&qt.a, 0, "x", 0);
		qt_push_flow(&qt.a, 0, "y", 0);
	}
	flow_commit();
	ck_assert_uint_eq(claim_all(out, 6), 2);
	ck_assert_str_eq(job_group(out[0]), "x");
	ck_assert_str_eq(job_group(out[1]), "y");
	ck_assert_uint_eq(qt.a.flow.throttled, 4);
	qt.now = 2000.5;
	ck_assert_uint_eq(claim_all(out, 6), 0);
	qt.now = 2001;
	ck_assert_uint_eq(claim_all(out, 6), 2);
}
END_TEST

/* A retry's back-off is a delay like any other: delayed, then at the head. */
START_TEST(test_flow_retry_back_off_is_a_delay)
{
	struct job	*j1, *j2, *out[2];

	j1 = qt_push_flow(&qt.a, 0, NULL, 0);
	j2 = qt_push_flow(&qt.a, 0, NULL, 0);
	flow_commit();
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	job_set_state(j1, JOB_QUEUED, ev_now(qt.loop));
	ev_now_update(qt.loop);
	queue_requeue(qt.q, j1, 0.03, 1);
	ck_assert_int_eq(j1->state, JOB_DELAYED);
	ck_assert_double_eq_tol(job_not_before(j1), ev_now(qt.loop) + 0.03,
	    0.001);
	check_invariant(&qt.a);
	ck_assert(qt_run_until(a_runnable, 2.0));
	ck_assert_uint_eq(claim_all(out, 2), 2);
	ck_assert_ptr_eq(out[0], j1);
	ck_assert_ptr_eq(out[1], j2);
}
END_TEST

static void
drained_cb(struct job *job, void *arg)
{
	(*(int *)arg)++;
	job_set_state(job, JOB_CANCELLED, ev_now(qt.loop));
	queue_finished(qt.q, job);
}

/* A drain (pool removed, queue cancelled) takes every job, held or not. */
START_TEST(test_flow_drain_takes_jobs_the_rules_hold)
{
	struct job	*out[1];
	int		 n = 0;

	qt.a.flow.group_concurrency = 1;
	qt.a.flow.rate_interval = 100;
	qt.now = 3000;
	for (int i = 0; i < 3; i++)
		qt_push_flow(&qt.a, i, "g", 0);
	qt_push_flow(&qt.a, 0, NULL, 0);
	qt_push_flow(&qt.a, 0, "h", 0);
	flow_commit();
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 0);
	queue_drain(qt.q, &qt.a, drained_cb, &n);
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_CANCELLED], 4);
	qt_finish(out[0], JOB_DONE);
	check_invariant(&qt.a);
}
END_TEST

void
qt_flow_tests_add(TCase *tc)
{
	tcase_add_test(tc, test_flow_drain_takes_jobs_the_rules_hold);
	tcase_add_test(tc,
	    test_flow_higher_priority_first_and_fifo_within_a_priority);
	tcase_add_test(tc, test_flow_aging_lifts_a_job_that_waited);
	tcase_add_test(tc, test_flow_delayed_jobs_come_due_in_due_order_on_time);
	tcase_add_test(tc, test_flow_a_delayed_job_is_cancelled_out_of_the_wait);
	tcase_add_test(tc, test_flow_groups_take_turns);
	tcase_add_test(tc, test_flow_priority_orders_each_groups_jobs);
	tcase_add_test(tc,
	    test_flow_group_concurrency_holds_a_group_at_its_limit);
	tcase_add_test(tc, test_flow_rate_limit_spaces_claims_by_gcra);
	tcase_add_test(tc, test_flow_rate_per_group_throttles_each_group_alone);
	tcase_add_test(tc, test_flow_retry_back_off_is_a_delay);
}

/*
 * A restart keeps each job's flow fields; a delayed job waits again for
 * its time (one whose time passed while down is due at once).
 */
START_TEST(test_flow_fields_and_delays_survive_a_restart)
{
	struct job	*out[3];
	char		 id_late[JOB_ID_LEN + 1], id_due[JOB_ID_LEN + 1];
	char		 id_q[JOB_ID_LEN + 1];
	struct job	*late, *due, *q;
	double		 t0;

	ev_now_update(qt.loop);
	t0 = ev_now(qt.loop);
	late = qt_push_flow(&qt.a, 3, "tenant", t0 + 60);
	due = qt_push_flow(&qt.a, -4, NULL, t0 + 0.05);
	q = qt_push_flow(&qt.a, 9, "other", 0);
	memcpy(id_late, late->id, sizeof id_late);
	memcpy(id_due, due->id, sizeof id_due);
	memcpy(id_q, q->id, sizeof id_q);
	flow_commit();
	queue_commit(qt.q, 1);
	qt_restart();
	late = queue_lookup(qt.q, id_late, JOB_ID_LEN);
	due = queue_lookup(qt.q, id_due, JOB_ID_LEN);
	q = queue_lookup(qt.q, id_q, JOB_ID_LEN);
	ck_assert_ptr_nonnull(late);
	ck_assert_ptr_nonnull(due);
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(late->state, JOB_DELAYED);
	ck_assert_int_eq(late->flow.priority, 3);
	ck_assert_str_eq(job_group(late), "tenant");
	ck_assert_double_eq_tol(job_not_before(late), t0 + 60, 1e-6);
	ck_assert_int_eq(due->flow.priority, -4);
	ck_assert_ptr_null(job_group(due));
	ck_assert_int_eq(q->state, JOB_QUEUED);
	ck_assert_str_eq(job_group(q), "other");
	check_invariant(&qt.a);
	ck_assert_uint_eq(claim_all(out, 3), 1);
	ck_assert_ptr_eq(out[0], q);
	ck_assert(qt_run_until(a_runnable, 2.0));
	ck_assert_uint_eq(claim_all(out, 3), 1);
	ck_assert_ptr_eq(out[0], due);
	ck_assert_int_eq(late->state, JOB_DELAYED);
}
END_TEST

void
qt_flow_durable_tests_add(TCase *tc)
{
	tcase_add_test(tc, test_flow_fields_and_delays_survive_a_restart);
}
