/*
 * The conformance suite of the queue seam (store/queue.h): the same tests
 * run against every implementation ("memory", and "sqlite:" on a temp
 * file of its own per test), on a real libev loop, with the events the
 * queue reports recorded (queue_harness.c). What only a durable queue
 * does is tested in check_queue_durable.c, part of the same suite.
 *
 * The engine's part is played by the tests: they move jobs with
 * job_set_state() and hand them back with queue_requeue() or
 * queue_finished(), as supervisor/dispatch.c does; the jobs they claim
 * are theirs to give back or free.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/queue_harness.h"

static int
never(void)
{
	return 0;
}

static int
finish_fired(void)
{
	return qt.finished > 0;
}

/* The job a test waits to see come back from its retry delay. */
static struct job	*retrying;

static int
retry_came_due(void)
{
	return retrying->state != JOB_DELAYED || qt.runnable_a > 0;
}

static int
no_records_kept(void)
{
	return queue_finished_count(qt.q) == 0;
}

START_TEST(test_name_and_durability_are_those_of_the_implementation)
{
	ck_assert_str_eq(queue_name(qt.q), qt.impl->name);
	ck_assert_int_eq(queue_durable(qt.q), qt.impl->durable);
	ck_assert_int_eq(queue_readonly(qt.q), 0);
}
END_TEST

START_TEST(test_claim_gives_each_pools_jobs_in_submission_order)
{
	struct job	*a1, *a2, *a3, *b1, *b2, *out[10];

	a1 = qt_push(&qt.a, "1");
	b1 = qt_push(&qt.b, "2");
	a2 = qt_push(&qt.a, "3");
	b2 = qt_push(&qt.b, "4");
	a3 = qt_push(&qt.a, "5");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(qt.a.queue_len, 3);
	ck_assert_uint_eq(qt.b.queue_len, 2);
	ck_assert_uint_eq(qt.a.submitted, 3);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_QUEUED], 3);
	ck_assert_uint_eq(qt.b.jobs.state[JOB_QUEUED], 2);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 10), 3);
	ck_assert_ptr_eq(out[0], a1);
	ck_assert_ptr_eq(out[1], a2);
	ck_assert_ptr_eq(out[2], a3);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	for (int i = 0; i < 3; i++)
		qt_finish(out[i], JOB_DONE);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.b, out, 10), 2);
	ck_assert_ptr_eq(out[0], b1);
	ck_assert_ptr_eq(out[1], b2);
	qt_finish(b1, JOB_DONE);
	qt_finish(b2, JOB_FAILED);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 10), 0);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_DONE], 3);
	ck_assert_uint_eq(qt.b.jobs.state[JOB_FAILED], 1);
}
END_TEST

START_TEST(test_claim_takes_at_most_the_number_asked)
{
	struct job	*j[5], *out[5];

	for (int i = 0; i < 5; i++)
		j[i] = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 2);
	ck_assert_ptr_eq(out[0], j[0]);
	ck_assert_ptr_eq(out[1], j[1]);
	ck_assert_uint_eq(qt.a.queue_len, 3);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 2, 2), 2);
	ck_assert_ptr_eq(out[2], j[2]);
	ck_assert_ptr_eq(out[3], j[3]);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 4, 2), 1);
	ck_assert_ptr_eq(out[4], j[4]);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 0), 0);
	for (int i = 0; i < 5; i++)
		qt_finish(out[i], JOB_DONE);
}
END_TEST

/*
 * Past max_queue a submit is refused with queue_full, counted as
 * rejected, and the job freed (its key forgotten with it). Jobs still
 * waiting for a commit count; jobs that started do not.
 */
START_TEST(test_push_past_max_queue_is_refused_and_the_job_freed)
{
	struct job	*j1, *j2, *j3, *out[2];
	const char	*err = NULL;

	qt.a.max_queue = 2;
	j1 = qt_push(&qt.a, "{}");
	j2 = qt_push(&qt.a, "{}");
	j3 = job_new(&qt.a.jobs, "{}", 2, ev_now(qt.loop));
	job_key_set(j3, "k3");
	ck_assert_int_eq(queue_push(qt.q, &qt.a, j3, &err), -1);
	ck_assert_str_eq(err, "queue_full");
	ck_assert_uint_eq(qt.a.rejected, 1);
	ck_assert_ptr_null(queue_lookup_key(qt.q, NULL, "k3"));
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(qt.a.submitted, 2);
	ck_assert_uint_eq(qt.a.queue_len, 2);
	/* The other pool has room of its own. */
	qt_push(&qt.b, "{}");
	queue_commit(qt.q, 0);
	/* A claimed job that started leaves room for one more. */
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ck_assert_ptr_eq(out[0], j1);
	qt_start(j1);
	qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(qt.a.submitted, 3);
	ck_assert_uint_eq(qt.a.rejected, 1);
	qt_finish(j1, JOB_DONE);
	(void)j2;
}
END_TEST

START_TEST(test_requeue_at_once_puts_the_job_at_the_head)
{
	struct job	*j1, *j2, *j3, *out[3];

	j1 = qt_push(&qt.a, "{}");
	j2 = qt_push(&qt.a, "{}");
	j3 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	job_set_state(j1, JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, j1, 0, 1);
	ck_assert_uint_eq(qt.a.retried, 1);
	ck_assert_uint_eq(qt.a.queue_len, 3);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 3), 3);
	ck_assert_ptr_eq(out[0], j1);
	ck_assert_ptr_eq(out[1], j2);
	ck_assert_ptr_eq(out[2], j3);
	/* An attempt that does not count is no retry. */
	qt_start(j2);
	job_set_state(j2, JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, j2, 0, 0);
	ck_assert_uint_eq(qt.a.retried, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out + 1, 1), 1);
	ck_assert_ptr_eq(out[1], j2);
	for (int i = 0; i < 3; i++)
		qt_finish(out[i], JOB_DONE);
	ck_assert_int_eq(qt.runnable_a, 0);
}
END_TEST

/*
 * A retry with a delay is out of reach until the delay ran out; then the
 * queue says runnable, and the job is at the head, before the jobs that
 * waited in the queue meanwhile.
 */
START_TEST(test_requeue_with_a_delay_is_claimable_only_after_it)
{
	struct job	*j1, *j2, *j3, *out[3];

	j1 = qt_push(&qt.a, "{}");
	j2 = qt_push(&qt.a, "{}");
	j3 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	/* What the commit made runnable is told first: not counted here. */
	ev_run(qt.loop, EVRUN_NOWAIT);
	qt.runnable_a = 0;
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	job_set_state(j1, JOB_QUEUED, ev_now(qt.loop));
	ev_now_update(qt.loop);
	queue_requeue(qt.q, j1, 0.02, 1);
	ck_assert_uint_eq(qt.a.retried, 1);
	ck_assert_uint_eq(qt.a.queue_len, 2);
	ck_assert_ptr_eq(queue_lookup(qt.q, j1->id, JOB_ID_LEN), j1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ck_assert_ptr_eq(out[0], j2);
	qt_finish(j2, JOB_DONE);
	retrying = j1;
	ck_assert(qt_run_until(retry_came_due, 5.0));
	ck_assert_int_eq(qt.runnable_a, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 3), 2);
	ck_assert_ptr_eq(out[0], j1);
	ck_assert_ptr_eq(out[1], j3);
	ck_assert(job_x(j1)->flow_ext == NULL ||
	    job_x(j1)->flow_ext->heap == 0);
	qt_finish(j1, JOB_DONE);
	qt_finish(j3, JOB_DONE);
}
END_TEST

START_TEST(test_cancel_takes_a_queued_job_out_of_its_queue)
{
	struct job	*j1, *j2, *j3, *out[3];

	j1 = qt_push(&qt.a, "{}");
	j2 = qt_push(&qt.a, "{}");
	j3 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_cancel(qt.q, j2), 0);
	ck_assert_uint_eq(qt.a.queue_len, 2);
	qt_finish(j2, JOB_CANCELLED);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 3), 2);
	ck_assert_ptr_eq(out[0], j1);
	ck_assert_ptr_eq(out[1], j3);
	/* A running job is not in a queue: not cancelled there. */
	qt_start(j1);
	ck_assert_int_eq(queue_cancel(qt.q, j1), -1);
	qt_finish(j1, JOB_DONE);
	qt_finish(j3, JOB_DONE);
	ck_assert_ptr_eq(queue_lookup(qt.q, j2->id, JOB_ID_LEN), j2);
	ck_assert_int_eq(j2->state, JOB_CANCELLED);
}
END_TEST

START_TEST(test_cancel_of_a_delayed_job_stops_its_retry)
{
	struct job	*j1, *out[1];

	j1 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	job_set_state(j1, JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, j1, 0.02, 1);
	ck_assert_int_eq(queue_cancel(qt.q, j1), 0);
	ck_assert(job_x(j1)->flow_ext == NULL ||
	    job_x(j1)->flow_ext->heap == 0);
	qt_finish(j1, JOB_CANCELLED);
	qt_run_until(never, 0.08);
	ck_assert_int_eq(qt.runnable_a, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 0);
	ck_assert_uint_eq(qt.a.queue_len, 0);
}
END_TEST

/* A retry that comes due after its pool was removed ends cancelled. */
START_TEST(test_delayed_job_of_a_removed_pool_is_cancelled_when_due)
{
	struct job	*j1, *out[1];

	j1 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	job_set_state(j1, JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, j1, 0.02, 1);
	qt.a.removed = 1;
	ck_assert(qt_run_until(finish_fired, 5.0));
	ck_assert_int_eq(qt.finish_state, JOB_CANCELLED);
	ck_assert_str_eq(qt.finish_error,
	    "pool removed by a configuration reload");
	ck_assert_int_eq(j1->state, JOB_CANCELLED);
	ck_assert_int_eq(qt.runnable_a, 0);
	ck_assert_uint_eq(qt.a.queue_len, 0);
}
END_TEST

/*
 * Jobs are found by id while queued, running and finished; the records
 * kept are the newest result_max, oldest pruned first.
 */
START_TEST(test_records_are_found_by_id_and_pruned_beyond_result_max)
{
	struct job	*j[5], *out[5];
	char		 ids[5][JOB_ID_LEN + 1];
	int		 i;

	qt.cfg.result_max = 3;
	for (i = 0; i < 5; i++) {
		j[i] = qt_push(&qt.a, "{}");
		memcpy(ids[i], j[i]->id, sizeof ids[i]);
	}
	queue_commit(qt.q, 0);
	ck_assert_ptr_eq(queue_lookup(qt.q, ids[0], JOB_ID_LEN), j[0]);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 5), 5);
	qt_start(j[0]);
	ck_assert_ptr_eq(queue_lookup(qt.q, ids[0], JOB_ID_LEN), j[0]);
	for (i = 0; i < 5; i++) {
		qt_finish(j[i], JOB_DONE);
		ck_assert_uint_eq(queue_finished_count(qt.q), i < 3 ? i + 1 : 3);
	}
	for (i = 0; i < 5; i++) {
		if (i < 2)
			ck_assert_ptr_null(queue_lookup(qt.q, ids[i],
			    JOB_ID_LEN));
		else {
			ck_assert_ptr_eq(queue_lookup(qt.q, ids[i],
			    JOB_ID_LEN), j[i]);
			ck_assert_int_eq(j[i]->state, JOB_DONE);
		}
	}
	ck_assert_ptr_null(queue_lookup(qt.q, "0000000000000000", JOB_ID_LEN));
	ck_assert_ptr_null(queue_lookup(qt.q, ids[4], JOB_ID_LEN - 1));
	queue_commit(qt.q, 1);
}
END_TEST

START_TEST(test_records_are_pruned_after_result_ttl)
{
	struct job	*j1, *out[1];

	qt.cfg.result_ttl = 0.02;
	j1 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ev_now_update(qt.loop);
	qt_finish(j1, JOB_DONE);
	ck_assert_uint_eq(queue_finished_count(qt.q), 1);
	ck_assert(qt_run_until(no_records_kept, 5.0));
	ck_assert_uint_eq(job_table_count(), 0);
}
END_TEST

static int
no_dead_letters(void)
{
	return qt.a.ndead == 0 && job_table_count() == 0;
}

START_TEST(test_failed_and_timed_out_jobs_are_dead_letters_until_retried)
{
	static const enum job_state	 end[4] = { JOB_DONE, JOB_FAILED,
	    JOB_TIMED_OUT, JOB_CANCELLED };
	struct job			*j[4], *out[4], *jb;
	char				 big[400];
	int				 i;

	/* Data too big to live inside the job: dropped when not needed. */
	memset(big, 0, sizeof big);
	memset(big, '7', sizeof big - 1);
	qt.a.dead_ttl = 3600;
	for (i = 0; i < 4; i++)
		j[i] = qt_push(&qt.a, big);
	jb = qt_push(&qt.b, big);
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 4);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.b, out, 1), 1);
	for (i = 0; i < 4; i++)
		qt_finish(j[i], end[i]);
	qt_finish(jb, JOB_FAILED);
	/* Pool b keeps none (dead_ttl 0): its failed job is a record. */
	ck_assert_uint_eq(qt.a.ndead, 2);
	ck_assert_uint_eq(qt.b.ndead, 0);
	ck_assert(!jb->dead && jb->data_len == 0);
	ck_assert_uint_eq(queue_finished_count(qt.q), 3);
	ck_assert_ptr_eq(queue_dead_next(&qt.a, NULL), j[1]);
	ck_assert_ptr_eq(queue_dead_next(&qt.a, j[1]), j[2]);
	ck_assert_ptr_null(queue_dead_next(&qt.a, j[2]));
	/* A dead letter keeps its data, to be retried with it. */
	ck_assert(j[1]->dead && j[2]->dead && !j[0]->dead && !j[3]->dead);
	ck_assert_str_eq(job_data(j[1]), big);
	ck_assert_uint_eq(j[0]->data_len, 0);
	queue_dead_release(qt.q, j[1]);
	ck_assert_uint_eq(qt.a.ndead, 1);
	ck_assert(!j[1]->dead);
	ck_assert_ptr_eq(queue_dead_next(&qt.a, NULL), j[2]);
	ck_assert_uint_eq(queue_finished_count(qt.q), 4);
	ck_assert_ptr_eq(queue_lookup(qt.q, j[1]->id, JOB_ID_LEN), j[1]);
	queue_commit(qt.q, 1);
}
END_TEST

START_TEST(test_dead_letters_go_after_dead_ttl_not_result_ttl)
{
	struct job	*j1, *out[1];

	qt.cfg.result_ttl = 3600;
	qt.a.dead_ttl = 0.02;
	j1 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ev_now_update(qt.loop);
	qt_finish(j1, JOB_FAILED);
	ck_assert_uint_eq(qt.a.ndead, 1);
	ck_assert(qt_run_until(no_dead_letters, 5.0));
}
END_TEST

START_TEST(test_dead_letters_are_bounded_by_result_max_per_pool)
{
	struct job	*j[4], *out[4];
	int		 i;

	qt.cfg.result_max = 2;
	qt.a.dead_ttl = 3600;
	for (i = 0; i < 4; i++)
		j[i] = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 4);
	for (i = 0; i < 4; i++)
		qt_finish(j[i], JOB_FAILED);
	ck_assert_uint_eq(qt.a.ndead, 2);
	ck_assert_ptr_eq(queue_dead_next(&qt.a, NULL), j[2]);
	queue_commit(qt.q, 1);
}
END_TEST

START_TEST(test_lookup_key_finds_a_job_by_its_idempotency_key)
{
	struct job	*j1, *j2, *out[2];

	j1 = job_new(&qt.a.jobs, "{}", 2, ev_now(qt.loop));
	job_key_set(j1, "order-17");
	ck_assert_int_eq(queue_push(qt.q, &qt.a, j1, &(const char *){ NULL }),
	    qt.impl->push_ret);
	/* Also while a commit has yet to accept it. */
	ck_assert_ptr_eq(queue_lookup_key(qt.q, NULL, "order-17"), j1);
	j2 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_ptr_eq(queue_lookup_key(qt.q, NULL, "order-17"), j1);
	ck_assert_ptr_null(queue_lookup_key(qt.q, NULL, "order-18"));
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 2);
	qt_finish(j1, JOB_DONE);
	qt_finish(j2, JOB_DONE);
	ck_assert_ptr_eq(queue_lookup_key(qt.q, NULL, "order-17"), j1);
	/* A pruned record takes its key with it. */
	qt.cfg.result_max = 1;
	j2 = qt_push(&qt.a, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_finish(j2, JOB_DONE);
	ck_assert_ptr_null(queue_lookup_key(qt.q, NULL, "order-17"));
}
END_TEST

/* What queue_drain handed over. */
static struct job	*drained[8];
static size_t		 ndrained;

static void
drain_cb(struct job *job, void *arg)
{
	ck_assert_ptr_eq(arg, &qt);
	drained[ndrained++] = job;
}

START_TEST(test_drain_hands_over_every_claimable_job_of_the_pool)
{
	struct job	*j[3];

	ndrained = 0;
	for (int i = 0; i < 3; i++)
		j[i] = qt_push(&qt.a, "{}");
	qt_push(&qt.b, "{}");
	queue_commit(qt.q, 0);
	queue_drain(qt.q, &qt.a, drain_cb, &qt);
	ck_assert_uint_eq(ndrained, 3);
	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_eq(drained[i], j[i]);
		qt_finish(j[i], JOB_CANCELLED);
	}
	ck_assert_uint_eq(qt.a.queue_len, 0);
	ck_assert_uint_eq(qt.b.queue_len, 1);
}
END_TEST

/* Closing frees what the queue holds: queued, delayed, finished. */
START_TEST(test_close_frees_every_job_the_queue_holds)
{
	struct job	*j1, *j2, *out[1];

	j1 = qt_push(&qt.a, "{}");
	j2 = qt_push(&qt.a, "{}");
	qt_push(&qt.a, "{}");
	qt_push(&qt.b, "{}");
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_finish(j1, JOB_DONE);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j2);
	job_set_state(j2, JOB_QUEUED, ev_now(qt.loop));
	queue_requeue(qt.q, j2, 60, 1);
	qt_push(&qt.a, "{}");	/* pending, for sqlite: never committed */
	ck_assert_uint_eq(job_table_count(), qt.impl->push_ret ? 4 : 5);
	qt_close();
	ck_assert_uint_eq(job_table_count(), 0);
}
END_TEST

/* A memory queue keeps nothing across a restart. */
START_TEST(test_memory_recovery_finds_nothing)
{
	char	*cause = NULL;

	qt_push(&qt.a, "{}");
	qt_close();
	qt_open();
	ck_assert_int_eq(queue_recover(qt.q, qt_max_attempts, &cause), 0);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	ck_assert_uint_eq(queue_finished_count(qt.q), 0);
}
END_TEST

/*
 * A job that only waits in a memory queue is its one block: the block of
 * what running, results, keys and groups need comes when they do. Its
 * data reads back whole on both sides of the inline limit, and once it
 * runs and ends the record has its times.
 */
START_TEST(test_memory_queued_job_is_one_block_until_it_runs)
{
	static const char *const data[] = { "1", "1234567", "12345678",
	    "[\"a string longer than the eight bytes of a pointer\"]" };
	struct job	*j[4], *out[4];
	char		 big[300];
	int		 i;

	for (i = 0; i < 4; i++)
		j[i] = qt_push(&qt.a, data[i]);
	memset(big, '7', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_ptr_nonnull(out[0] = qt_push(&qt.b, big));
	queue_commit(qt.q, 0);
	for (i = 0; i < 4; i++) {
		ck_assert_ptr_null(j[i]->ext);
		ck_assert_str_eq(job_data(j[i]), data[i]);
		ck_assert_uint_eq(j[i]->data_len, strlen(data[i]));
		ck_assert(job_started_at(j[i]) == 0 && job_result(j[i]) == NULL);
	}
	ck_assert_str_eq(job_data(out[0]), big);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 4);
	qt_start(out[0]);
	ck_assert_ptr_nonnull(j[0]->ext);
	ck_assert(job_started_at(j[0]) == ev_now(qt.loop));
	qt_finish(out[0], JOB_DONE);
	ck_assert(job_finished_at(j[0]) >= job_started_at(j[0]));
	for (i = 1; i < 4; i++)
		qt_finish(out[i], JOB_CANCELLED);
}
END_TEST

/* The tests every implementation passes. */
static void
conformance_add(TCase *tc)
{
	tcase_add_test(tc,
	    test_name_and_durability_are_those_of_the_implementation);
	tcase_add_test(tc, test_claim_gives_each_pools_jobs_in_submission_order);
	tcase_add_test(tc, test_claim_takes_at_most_the_number_asked);
	tcase_add_test(tc, test_push_past_max_queue_is_refused_and_the_job_freed);
	tcase_add_test(tc, test_requeue_at_once_puts_the_job_at_the_head);
	tcase_add_test(tc, test_requeue_with_a_delay_is_claimable_only_after_it);
	tcase_add_test(tc, test_cancel_takes_a_queued_job_out_of_its_queue);
	tcase_add_test(tc, test_cancel_of_a_delayed_job_stops_its_retry);
	tcase_add_test(tc,
	    test_delayed_job_of_a_removed_pool_is_cancelled_when_due);
	tcase_add_test(tc,
	    test_records_are_found_by_id_and_pruned_beyond_result_max);
	tcase_add_test(tc, test_records_are_pruned_after_result_ttl);
	tcase_add_test(tc, test_lookup_key_finds_a_job_by_its_idempotency_key);
	tcase_add_test(tc,
	    test_drain_hands_over_every_claimable_job_of_the_pool);
	tcase_add_test(tc, test_close_frees_every_job_the_queue_holds);
	tcase_add_test(tc,
	    test_failed_and_timed_out_jobs_are_dead_letters_until_retried);
	tcase_add_test(tc, test_dead_letters_go_after_dead_ttl_not_result_ttl);
	tcase_add_test(tc, test_dead_letters_are_bounded_by_result_max_per_pool);
}

static Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue");
	TCase	*mem = tcase_create("memory");
	TCase	*sql = tcase_create("sqlite");

	tcase_add_checked_fixture(mem, qt_setup_memory, qt_teardown);
	conformance_add(mem);
	qt_flow_tests_add(mem);
	tcase_add_test(mem, test_memory_recovery_finds_nothing);
	tcase_add_test(mem, test_memory_queued_job_is_one_block_until_it_runs);
	suite_add_tcase(s, mem);

	tcase_add_unchecked_fixture(sql, qt_topdir_create, qt_topdir_remove);
	tcase_add_checked_fixture(sql, qt_setup_sqlite, qt_teardown);
	conformance_add(sql);
	qt_flow_tests_add(sql);
	qt_durable_tests_add(sql);
	qt_flow_durable_tests_add(sql);
	suite_add_tcase(s, sql);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(queue_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
