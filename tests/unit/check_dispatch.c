/*
 * Unit tests for the job engine and the pool's sizing, through the
 * core's seams: a hand-built supervisor (core_fixture.h) whose workers are
 * fakes (fake_worker.h) that the test plays, and a clock that stands
 * still (timers are fired by the test).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "tests/unit/core_fixture.h"
#include "tests/unit/fake_worker.h"

#define NJOBS	8

static struct job	*jobs[NJOBS];

/*
 * Submit n jobs to pool p (jobs[]) and hand them out, as a request does;
 * then their lines go, as at the end of a loop turn.
 */
static void
submit(struct pool *p, int n)
{
	const char	*err = NULL;
	int		 i;

	for (i = 0; i < n; i++) {
		jobs[i] = dispatch_submit(p, "{\"n\":1}", 7, NULL, NULL, NULL, &err);
		ck_assert_msg(jobs[i] != NULL, "submit: %s", err);
	}
	dispatch_run(p);
	dispatch_flush();
}

static enum job_state
state_of(int i)
{
	return (enum job_state)jobs[i]->state;
}

static void
teardown(void)
{
	fake_worker_fail_spawns(0);
	fixture_stop();
}

START_TEST(test_jobs_go_out_in_submission_order)
{
	struct pool	*p;
	struct worker	*w;
	int		 i;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n");
	p = fx.pools[0];
	submit(p, 5);
	pool_start(p);
	w = pool_worker(p, 0);
	for (i = 0; i < 5; i++) {
		/* prefetch = 1: one job at a time, oldest first. */
		ck_assert_int_eq(fake_worker_nsent(w), i + 1);
		ck_assert_str_eq(fake_worker_sent(w, i), jobs[i]->id);
		ck_assert_int_eq(state_of(i), JOB_RUNNING);
		ck_assert_int_eq(fake_worker_answer(w, jobs[i]->id, 1), 0);
		ck_assert_int_eq(state_of(i), JOB_DONE);
		ck_assert_str_eq(job_result(jobs[i]), "[1,2]");
	}
	ck_assert_int_eq(fake_worker_nsent(w), 5);
	ck_assert_int_eq(worker_state(w), WORKER_READY);
}
END_TEST

START_TEST(test_prefetch_fills_each_worker_then_waits_for_room)
{
	struct pool	*p;
	struct worker	*w0, *w1;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 2\n"
	    "prefetch = 3\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 8);
	w0 = pool_worker(p, 0);
	w1 = pool_worker(p, 1);
	/* Round robin among workers with room, 3 in flight each at most. */
	ck_assert_int_eq(fake_worker_nsent(w0), 3);
	ck_assert_int_eq(fake_worker_nsent(w1), 3);
	ck_assert_uint_eq(p->q.queue_len, 2);
	ck_assert_int_eq(worker_state(w0), WORKER_BUSY);
	ck_assert_int_eq(fake_worker_answer(w0, fake_worker_sent(w0, 0), 1), 0);
	ck_assert_int_eq(fake_worker_nsent(w0), 4);
	ck_assert_uint_eq(p->q.queue_len, 1);
	ck_assert_int_eq(dispatch_pool_inflight(p), 6);
}
END_TEST

START_TEST(test_a_dead_workers_job_is_retried_with_doubling_delays)
{
	struct pool	*p;
	struct worker	*w0, *w1;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 2\n"
	    "max_attempts = 3\nretry_delay = 2s\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 1);
	w0 = pool_worker(p, 0);
	w1 = pool_worker(p, 1);
	ck_assert_int_eq(fake_worker_nsent(w0), 1);

	/* Attempt 1 dies with its worker: delayed, queued again 2s later. */
	fake_worker_die(w0, 5.0);
	ck_assert_int_eq(state_of(0), JOB_DELAYED);
	ck_assert_uint_eq(jobs[0]->attempts, 1);
	ck_assert_uint_eq(p->q.jobs.state[JOB_DELAYED], 1);
	ck_assert_uint_eq(p->q.retried, 1);
	ck_assert_double_eq_tol(fixture_remaining(queue_due_timer(fx.queue)),
	    2.0, 0.05);
	ck_assert_int_eq(fake_worker_nsent(w1), 0);
	fixture_fire(queue_due_timer(fx.queue));
	ck_assert_int_eq(fake_worker_nsent(w1), 1);
	ck_assert_int_eq(state_of(0), JOB_RUNNING);

	/* Attempt 2: 4s. */
	fake_worker_die(w1, 5.0);
	ck_assert_double_eq_tol(fixture_remaining(queue_due_timer(fx.queue)),
	    4.0, 0.05);
	ck_assert_uint_eq(p->q.retried, 2);
	/* No worker has room yet: it waits in the queue, not lost. */
	fixture_fire(queue_due_timer(fx.queue));
	ck_assert_int_eq(state_of(0), JOB_QUEUED);
	ck_assert_uint_eq(p->q.queue_len, 1);
}
END_TEST

START_TEST(test_the_last_attempt_fails_the_job_with_the_reason)
{
	struct pool	*p;
	struct worker	*w;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n"
	    "max_attempts = 1\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 2);
	w = pool_worker(p, 0);
	fake_worker_die(w, 5.0);
	ck_assert_int_eq(state_of(0), JOB_FAILED);
	ck_assert_str_eq(job_error(jobs[0]), "worker died");
	/* Only the job it was working on pays: the next is still queued. */
	ck_assert_int_eq(state_of(1), JOB_QUEUED);
	ck_assert_uint_eq(jobs[1]->attempts, 0);
}
END_TEST

START_TEST(test_a_job_that_overruns_is_killed_and_times_out)
{
	struct pool	*p;
	struct worker	*w;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n"
	    "job_timeout = 3s\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 1);
	w = pool_worker(p, 0);
	ck_assert_double_eq_tol(fixture_remaining(job_timer(jobs[0])), 3.0,
	    0.05);
	fixture_fire(job_timer(jobs[0]));
	ck_assert_ptr_nonnull(fake_worker_why(w));
	ck_assert_ptr_nonnull(strstr(fake_worker_why(w), "exceeded job_timeout"));
	fake_worker_die(w, 5.0);
	ck_assert_int_eq(state_of(0), JOB_TIMED_OUT);
}
END_TEST

/*
 * A job whose line waits for the commit of its start (a durable store's:
 * dispatch_sealed()) has not reached its worker: when its timeout fires
 * it is looked at again later; once the commit landed its time starts,
 * and only then is its worker failed.
 */
START_TEST(test_a_held_job_times_out_only_once_its_line_can_go)
{
	struct pool	*p;
	struct worker	*w;
	const char	*err = NULL;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n"
	    "job_timeout = 3s\n");
	p = fx.pools[0];
	pool_start(p);
	w = pool_worker(p, 0);
	jobs[0] = dispatch_submit(p, "{\"n\":1}", 7, NULL, NULL, NULL, &err);
	dispatch_run(p);
	dispatch_sealed(NULL);
	fixture_fire(job_timer(jobs[0]));
	ck_assert_ptr_null(fake_worker_why(w));
	ck_assert_double_eq_tol(fixture_remaining(job_timer(jobs[0])), 0.25,
	    0.05);
	fixture_fire(job_timer(jobs[0]));
	ck_assert_ptr_null(fake_worker_why(w));
	dispatch_landed(NULL);
	fixture_fire(job_timer(jobs[0]));
	ck_assert_ptr_null(fake_worker_why(w));
	ck_assert_double_eq_tol(fixture_remaining(job_timer(jobs[0])), 3.0,
	    0.05);
	fixture_fire(job_timer(jobs[0]));
	ck_assert_ptr_nonnull(strstr(fake_worker_why(w), "exceeded job_timeout"));
	fake_worker_die(w, 5.0);
	ck_assert_int_eq(state_of(0), JOB_TIMED_OUT);
}
END_TEST

START_TEST(test_cancel_ends_queued_and_running_jobs)
{
	struct pool	*p;
	struct worker	*w;
	const char	*err = NULL;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 2);
	w = pool_worker(p, 0);
	/* Queued: cancelled at once, never sent. */
	ck_assert_int_eq(dispatch_cancel(jobs[1], &err), 0);
	ck_assert_int_eq(state_of(1), JOB_CANCELLED);
	ck_assert_uint_eq(p->q.queue_len, 0);
	/* Running on a stream worker: the worker is killed for it. */
	ck_assert_int_eq(dispatch_cancel(jobs[0], &err), 0);
	ck_assert_ptr_nonnull(fake_worker_why(w));
	fake_worker_die(w, 5.0);
	ck_assert_int_eq(state_of(0), JOB_CANCELLED);
	/* Finished: refused. */
	ck_assert_int_eq(dispatch_cancel(jobs[0], &err), -1);
	ck_assert_int_eq(fake_worker_nsent(w), 1);
}
END_TEST

START_TEST(test_cancel_of_a_running_exec_job_asks_the_exec_worker)
{
	struct pool	*p;
	struct worker	*w;
	const char	*err = NULL;

	fixture_start("[pool:p]\ntype = exec\nworkers = 1\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 1);
	w = pool_worker(p, 0);
	ck_assert_int_eq(dispatch_cancel(jobs[0], &err), 0);
	ck_assert_int_eq(fake_worker_cancels(w), 1);
	ck_assert_ptr_null(fake_worker_why(w));
	/* A second cancel sends nothing more. */
	ck_assert_int_eq(dispatch_cancel(jobs[0], &err), 0);
	ck_assert_int_eq(fake_worker_cancels(w), 1);
}
END_TEST

START_TEST(test_a_result_for_an_unknown_job_is_malformed)
{
	struct pool	*p;
	struct worker	*w;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 1);
	w = pool_worker(p, 0);
	ck_assert_int_eq(fake_worker_answer(w, "0000000000000000", 1), -1);
	ck_assert_ptr_nonnull(fake_worker_why(w));
	ck_assert_int_eq(state_of(0), JOB_RUNNING);
}
END_TEST

START_TEST(test_recycling_stops_a_worker_after_max_jobs)
{
	struct pool	*p;
	struct worker	*w;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n"
	    "max_jobs_per_worker = 2\n");
	p = fx.pools[0];
	pool_start(p);
	submit(p, 3);
	w = pool_worker(p, 0);
	ck_assert_int_eq(fake_worker_answer(w, jobs[0]->id, 1), 0);
	ck_assert_int_eq(fake_worker_answer(w, jobs[1]->id, 1), 0);
	ck_assert_int_eq(worker_state(w), WORKER_STOPPING);
	ck_assert_int_eq(state_of(2), JOB_QUEUED);
	/* Replaced at once (no back-off), and the new one takes the job. */
	fake_worker_die(w, 0.5);
	ck_assert_int_eq(worker_state(w), WORKER_BUSY);
	ck_assert_str_eq(fake_worker_sent(w, 0), jobs[2]->id);
}
END_TEST

START_TEST(test_dynamic_pool_grows_for_a_backlog_and_retires_idle_workers)
{
	struct pool	*p;
	int		 i;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nmin_workers = 1\n"
	    "max_workers = 4\nprefetch = 2\n");
	p = fx.pools[0];
	pool_start(p);
	ck_assert_int_eq(pool_live_workers(p), 1);
	/* 7 jobs, 2 a worker: the on-demand slots start as needed. */
	submit(p, 7);
	ck_assert_int_eq(pool_live_workers(p), 4);
	ck_assert_uint_eq(p->q.queue_len, 0);
	for (i = 0; i < 7; i++)
		ck_assert_int_eq(state_of(i), JOB_RUNNING);
	/* An on-demand worker that went idle is retired, not restarted. */
	for (i = 0; i < fake_worker_nsent(pool_worker(p, 3)); i++)
		fake_worker_answer(pool_worker(p, 3),
		    fake_worker_sent(pool_worker(p, 3), i), 1);
	ck_assert_int_eq(worker_state(pool_worker(p, 3)), WORKER_READY);
	fake_worker_idle(pool_worker(p, 3));
	ck_assert_int_eq(worker_state(pool_worker(p, 3)), WORKER_STOPPING);
	fake_worker_die(pool_worker(p, 3), 5.0);
	ck_assert_int_eq(worker_state(pool_worker(p, 3)), WORKER_DEAD);
	ck_assert_int_eq(pool_live_workers(p), 3);
	/* A backlog brings it back. */
	submit(p, 3);
	ck_assert_int_eq(pool_live_workers(p), 4);
}
END_TEST

START_TEST(test_scale_up_and_down_a_fixed_pool)
{
	struct pool	*p;
	const char	*err = NULL;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 2\n");
	p = fx.pools[0];
	pool_start(p);
	ck_assert_int_eq(pool_scale(p, 4, &err), 0);
	ck_assert_int_eq(pool_live_workers(p), 4);
	ck_assert_int_eq(pool_scale(p, 1, &err), 0);
	/* Surplus workers with nothing in flight stop at once. */
	ck_assert_int_eq(worker_state(pool_worker(p, 1)), WORKER_STOPPING);
	ck_assert_int_eq(worker_state(pool_worker(p, 0)), WORKER_READY);
	ck_assert_int_eq(pool_scale(p, 0, &err), -1);
	ck_assert_str_eq(err, "workers must be between 1 and 4096");
}
END_TEST

START_TEST(test_a_failed_spawn_counts_as_a_quick_death)
{
	struct pool	*p;

	fixture_start("[pool:p]\ntype = stream\ncommand = w\nworkers = 1\n");
	p = fx.pools[0];
	fake_worker_fail_spawns(1);
	pool_start(p);
	ck_assert_int_eq(pool_live_workers(p), 0);
	ck_assert_int_eq(p->state, POOL_RUNNING);
	submit(p, 1);
	ck_assert_int_eq(state_of(0), JOB_QUEUED);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("dispatch");
	TCase	*tc = tcase_create("dispatch");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_jobs_go_out_in_submission_order);
	tcase_add_test(tc, test_prefetch_fills_each_worker_then_waits_for_room);
	tcase_add_test(tc,
	    test_a_dead_workers_job_is_retried_with_doubling_delays);
	tcase_add_test(tc, test_the_last_attempt_fails_the_job_with_the_reason);
	tcase_add_test(tc, test_a_job_that_overruns_is_killed_and_times_out);
	tcase_add_test(tc, test_a_held_job_times_out_only_once_its_line_can_go);
	tcase_add_test(tc, test_cancel_ends_queued_and_running_jobs);
	tcase_add_test(tc,
	    test_cancel_of_a_running_exec_job_asks_the_exec_worker);
	tcase_add_test(tc, test_a_result_for_an_unknown_job_is_malformed);
	tcase_add_test(tc, test_recycling_stops_a_worker_after_max_jobs);
	tcase_add_test(tc,
	    test_dynamic_pool_grows_for_a_backlog_and_retires_idle_workers);
	tcase_add_test(tc, test_scale_up_and_down_a_fixed_pool);
	tcase_add_test(tc, test_a_failed_spawn_counts_as_a_quick_death);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
