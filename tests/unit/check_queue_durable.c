/*
 * The queue suite's tests of what only a durable queue does (SQLite
 * today): a submit is pending until the commit that writes it, acks,
 * and recovery after a restart. Run by check_queue.c with a "sqlite:"
 * queue on a temp file of its own per test.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tests/unit/queue_harness.h"

/* What the acks were told. */
static struct {
	int	n;
	char	cause[128];
} acked;

static void
ack_cb(void *arg, const char *cause)
{
	ck_assert_ptr_eq(arg, &qt);
	acked.n++;
	snprintf(acked.cause, sizeof acked.cause, "%s",
	    cause != NULL ? cause : "(null)");
}

static int
runnable_a_fired(void)
{
	return qt.runnable_a > 0;
}

/*
 * SQLite: a submit waits for the commit that writes it; only then is it
 * queued, counted, known by id and acknowledged, and the queue says
 * runnable on the next loop turn.
 */
START_TEST(test_sqlite_push_is_pending_until_the_commit_acks_it)
{
	struct job	*j1, *out[1];

	memset(&acked, 0, sizeof acked);
	j1 = qt_push(&qt.a, "{}");
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 1);
	ck_assert_uint_eq(qt.a.pending_len, 1);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	ck_assert_uint_eq(qt.a.submitted, 0);
	ck_assert_ptr_null(queue_lookup(qt.q, j1->id, JOB_ID_LEN));
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 0);
	/* In no queue yet: there is nothing to cancel (and nothing broken). */
	ck_assert_int_eq(queue_cancel(qt.q, j1), -1);
	ck_assert_uint_eq(qt.a.pending_len, 1);
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert_int_eq(acked.n, 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(acked.n, 1);
	ck_assert_str_eq(acked.cause, "(null)");
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 0);
	ck_assert_uint_eq(qt.a.pending_len, 0);
	ck_assert_uint_eq(qt.a.submitted, 1);
	ck_assert_ptr_eq(queue_lookup(qt.q, j1->id, JOB_ID_LEN), j1);
	ck_assert(qt_run_until(runnable_a_fired, 5.0));
	ck_assert_int_eq(qt.runnable_b, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	ck_assert_ptr_eq(out[0], j1);
	qt_finish(j1, JOB_DONE);
	ck_assert_int_eq(acked.n, 1);
}
END_TEST

START_TEST(test_sqlite_cancelled_ack_is_not_called)
{
	struct queue_ack	*ack;

	memset(&acked, 0, sizeof acked);
	qt_push(&qt.a, "{}");
	ack = queue_ack_new(qt.q, ack_cb, &qt);
	queue_ack_cancel(qt.q, ack);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(acked.n, 0);
	ck_assert_uint_eq(qt.a.queue_len, 1);
}
END_TEST

/*
 * A commit that fails (here: the file may not grow) refuses the pending
 * submits, counted as rejected, and tells their acks why; the next
 * commit works again.
 */
START_TEST(test_sqlite_failed_commit_refuses_pending_jobs_and_tells_acks)
{
	struct queue_stats	 st;
	struct rlimit		 lim, old;
	struct job		*j;
	size_t			 len = 4 << 20;
	char			*big;

	memset(&acked, 0, sizeof acked);
	signal(SIGXFSZ, SIG_IGN);
	big = malloc(len + 1);
	memset(big, ' ', len);
	big[0] = '"';
	big[len - 1] = '"';
	big[len] = '\0';
	qt_push(&qt.a, big);
	free(big);
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(acked.n, 1);
	ck_assert_ptr_nonnull(strstr(acked.cause, qt.dir));
	ck_assert_uint_eq(qt.a.rejected, 1);
	ck_assert_uint_eq(qt.a.submitted, 0);
	ck_assert_uint_eq(qt.a.pending_len, 0);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_QUEUED], 0);
	ck_assert_uint_eq(job_table_count(), 0);
	queue_stats(qt.q, &st);
	ck_assert_int_eq(st.failing, 1);
	ck_assert_uint_eq(st.commit_errors, 1);

	j = qt_push(&qt.a, "{}");
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(acked.n, 2);
	ck_assert_str_eq(acked.cause, "(null)");
	ck_assert_ptr_eq(queue_lookup(qt.q, j->id, JOB_ID_LEN), j);
	queue_stats(qt.q, &st);
	ck_assert_int_eq(st.failing, 0);
}
END_TEST

/*
 * A start that a failing commit carried has not landed: the queue stays
 * busy (the engine holds every job line it has not sent) while commits
 * fail, and lets go once a commit wrote the start, which a restart then
 * counts as an attempt. Without a start to hold, a failing store does
 * not hold the engine.
 */
START_TEST(test_sqlite_failing_commits_hold_job_lines_until_their_start_lands)
{
	struct rlimit	 lim, old;
	struct job	*j1, *out[1];
	char		 id1[JOB_ID_LEN + 1];
	size_t		 len = 4 << 20;
	char		*big;

	memset(&acked, 0, sizeof acked);
	j1 = qt_push(&qt.a, "1");
	memcpy(id1, j1->id, sizeof id1);
	queue_commit(qt.q, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	signal(SIGXFSZ, SIG_IGN);
	big = malloc(len + 1);
	memset(big, ' ', len);
	big[0] = '"';
	big[len - 1] = '"';
	big[len] = '\0';
	qt_push(&qt.a, big);
	free(big);
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(acked.n, 1);
	ck_assert_ptr_nonnull(strstr(acked.cause, qt.dir));
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	/* Before the retry timer, an iteration does not try again. */
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	queue_commit(qt.q, 1);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
	qt_drop(j1);
	qt_restart();
	ck_assert_ptr_nonnull(j1 = queue_lookup(qt.q, id1, JOB_ID_LEN));
	ck_assert_uint_eq(j1->attempts, 1);

	/* A failing commit with no start in it holds nothing. */
	big = malloc(len + 1);
	memset(big, ' ', len);
	big[0] = '"';
	big[len - 1] = '"';
	big[len] = '\0';
	qt_push(&qt.a, big);
	free(big);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
}
END_TEST

/* A submit whose pool was removed before its commit ends cancelled. */
START_TEST(test_sqlite_pending_job_of_a_removed_pool_is_cancelled_at_commit)
{
	struct job	*j1;

	j1 = qt_push(&qt.a, "{}");
	qt.a.removed = 1;
	queue_commit(qt.q, 0);
	ck_assert_int_eq(qt.finished, 1);
	ck_assert_int_eq(qt.finish_state, JOB_CANCELLED);
	ck_assert_int_eq(j1->state, JOB_CANCELLED);
	ck_assert_uint_eq(qt.a.submitted, 1);
	ck_assert_uint_eq(qt.a.queue_len, 0);
	ck_assert_ptr_eq(queue_lookup(qt.q, j1->id, JOB_ID_LEN), j1);
}
END_TEST

/* The ids of the jobs of a recovery scene. */
struct scene {
	char	done[JOB_ID_LEN + 1];		/* a: finished, key "kd" */
	char	ra[JOB_ID_LEN + 1];		/* a: running (3 attempts) */
	char	queued[JOB_ID_LEN + 1];		/* a: queued */
	char	rb[JOB_ID_LEN + 1];		/* b: running (1 attempt) */
};

/*
 * Push, commit, start, commit, finish one, commit, and die: close the
 * queue with two jobs running (the test lets them go, as a dying process
 * does), then reopen and recover.
 */
static void
scene_die_and_recover(struct scene *sc)
{
	struct job	*done, *ra, *rb, *queued, *out[3];
	char		*cause = NULL;

	done = job_new(&qt.a.jobs, "\"d\"", 3, ev_now(qt.loop));
	done->client = job_client_hold("alice");
	job_key_set(done, "kd");
	ck_assert_int_eq(queue_push(qt.q, &qt.a, done, &(const char *){ NULL }),
	    1);
	ra = qt_push(&qt.a, "\"ra\"");
	queued = qt_push(&qt.a, "\"q\"");
	rb = qt_push(&qt.b, "\"rb\"");
	queue_commit(qt.q, 0);
	memcpy(sc->done, done->id, sizeof sc->done);
	memcpy(sc->ra, ra->id, sizeof sc->ra);
	memcpy(sc->queued, queued->id, sizeof sc->queued);
	memcpy(sc->rb, rb->id, sizeof sc->rb);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 2);
	ck_assert_ptr_eq(out[0], done);
	ck_assert_ptr_eq(out[1], ra);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.b, out + 2, 1), 1);
	qt_start(ra);
	qt_start(rb);
	qt_start(done);
	job_set_result(done, strdup("{\"ok\":true}"));
	queue_commit(qt.q, 0);
	qt_finish(done, JOB_DONE);
	queue_commit(qt.q, 1);
	qt_drop(ra);
	qt_drop(rb);
	qt_close();

	qt_open();
	if (queue_recover(qt.q, qt_max_attempts, &cause) == -1)
		ck_abort_msg("queue_recover: %s", cause);
}

/*
 * A queued job comes back queued, a running one counts its attempt and
 * comes back queued (a retry), or failed when that was its last; a
 * finished record is kept, found by id and by key.
 */
START_TEST(test_sqlite_recovery_round_trip)
{
	struct scene	 sc;
	struct job	*j, *out[4];

	scene_die_and_recover(&sc);
	ck_assert_uint_eq(qt.a.submitted, 3);
	ck_assert_uint_eq(qt.a.retried, 1);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_QUEUED], 2);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_DONE], 1);
	ck_assert_uint_eq(qt.b.jobs.state[JOB_FAILED], 1);
	ck_assert_uint_eq(queue_finished_count(qt.q), 2);
	/* In submission order: the interrupted one, then the queued one. */
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 2);
	ck_assert_str_eq(out[0]->id, sc.ra);
	ck_assert_int_eq(out[0]->state, JOB_QUEUED);
	ck_assert_uint_eq(out[0]->attempts, 1);
	ck_assert_int_eq(out[0]->worker, -1);
	ck_assert_str_eq(job_data(out[0]), "\"ra\"");
	ck_assert_str_eq(out[1]->id, sc.queued);
	ck_assert_uint_eq(out[1]->attempts, 0);
	ck_assert_str_eq(job_data(out[1]), "\"q\"");
	qt_finish(out[0], JOB_DONE);
	qt_finish(out[1], JOB_DONE);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.b, out, 4), 0);
	ck_assert_ptr_nonnull(j = queue_lookup(qt.q, sc.rb, JOB_ID_LEN));
	ck_assert_int_eq(j->state, JOB_FAILED);
	ck_assert_str_eq(job_error(j),
	    "mpsup stopped while the job was running (after 1 attempt)");
	ck_assert_ptr_nonnull(j = queue_lookup(qt.q, sc.done, JOB_ID_LEN));
	ck_assert_int_eq(j->state, JOB_DONE);
	ck_assert_str_eq(job_result(j), "{\"ok\":true}");
	/* Its client comes back with it, and the key is still the client's. */
	ck_assert_str_eq(j->client, "alice");
	ck_assert_ptr_eq(queue_lookup_key(qt.q, "alice", "kd"), j);
	ck_assert_ptr_null(queue_lookup_key(qt.q, "bob", "kd"));
	ck_assert_ptr_null(queue_lookup_key(qt.q, NULL, "kd"));
	/* New ids sort after every recovered one. */
	j = qt_push(&qt.a, "{}");
	ck_assert_int_gt(strcmp(j->id, sc.rb), 0);
	queue_commit(qt.q, 1);
}
END_TEST

/*
 * What recovery decided is written back: after one more restart the
 * retried job is queued with its one attempt (not counted again) and the
 * failed one stays failed.
 */
START_TEST(test_sqlite_recovery_outcomes_survive_another_restart)
{
	struct scene	 sc;
	struct job	*j, *out[4];

	scene_die_and_recover(&sc);
	queue_commit(qt.q, 1);
	qt_restart();
	ck_assert_uint_eq(qt.a.retried, 0);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_QUEUED], 2);
	ck_assert_uint_eq(qt.b.jobs.state[JOB_FAILED], 1);
	ck_assert_uint_eq(qt.b.jobs.state[JOB_QUEUED], 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 4), 2);
	ck_assert_str_eq(out[0]->id, sc.ra);
	ck_assert_uint_eq(out[0]->attempts, 1);
	ck_assert_str_eq(out[1]->id, sc.queued);
	qt_finish(out[0], JOB_DONE);
	qt_finish(out[1], JOB_DONE);
	ck_assert_ptr_nonnull(j = queue_lookup(qt.q, sc.rb, JOB_ID_LEN));
	ck_assert_int_eq(j->state, JOB_FAILED);
	queue_commit(qt.q, 1);
	/* And the records of the jobs that ended since are kept too. */
	qt_restart();
	ck_assert_uint_eq(queue_finished_count(qt.q), 4);
	ck_assert_uint_eq(qt.a.jobs.state[JOB_DONE], 3);
	ck_assert_uint_eq(qt.a.queue_len, 0);
}
END_TEST

/* A finished record older than result_ttl is not brought back. */
START_TEST(test_sqlite_recovery_drops_records_past_result_ttl)
{
	struct scene	 sc;

	scene_die_and_recover(&sc);
	ck_assert_ptr_nonnull(queue_lookup(qt.q, sc.done, JOB_ID_LEN));
	queue_commit(qt.q, 1);
	qt.cfg.result_ttl = 0.001;
	usleep(10000);
	ev_now_update(qt.loop);
	qt_restart();
	ck_assert_uint_eq(queue_finished_count(qt.q), 0);
	ck_assert_ptr_null(queue_lookup(qt.q, sc.done, JOB_ID_LEN));
	ck_assert_ptr_null(queue_lookup(qt.q, sc.rb, JOB_ID_LEN));
	ck_assert_ptr_null(queue_lookup_key(qt.q, "alice", "kd"));
	ck_assert_uint_eq(qt.a.queue_len, 2);
}
END_TEST

/* Dead letters come back with their data; a retried one does not. */
START_TEST(test_sqlite_dead_letters_survive_a_restart)
{
	struct job	*j[2], *out[2];
	char		 ids[2][JOB_ID_LEN + 1];
	int		 i;

	qt.dead_ttl = qt.a.dead_ttl = 3600;
	for (i = 0; i < 2; i++) {
		j[i] = qt_push(&qt.a, i ? "[2]" : "[1]");
		memcpy(ids[i], j[i]->id, sizeof ids[i]);
	}
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 2);
	qt_finish(j[0], JOB_FAILED);
	qt_finish(j[1], JOB_TIMED_OUT);
	queue_commit(qt.q, 1);
	qt_restart();
	ck_assert_uint_eq(qt.a.ndead, 2);
	j[0] = queue_dead_next(&qt.a, NULL);
	ck_assert_str_eq(j[0]->id, ids[0]);
	ck_assert_str_eq(job_data(j[0]), "[1]");
	ck_assert_int_eq(queue_dead_next(&qt.a, j[0])->state, JOB_TIMED_OUT);
	queue_dead_release(qt.q, j[0]);
	queue_commit(qt.q, 1);
	qt_restart();
	ck_assert_uint_eq(qt.a.ndead, 1);
	ck_assert_str_eq(queue_dead_next(&qt.a, NULL)->id, ids[1]);
	j[0] = queue_lookup(qt.q, ids[0], JOB_ID_LEN);
	ck_assert(j[0] != NULL && !j[0]->dead && j[0]->state == JOB_FAILED);
}
END_TEST

/* A retry refused with its commit leaves its dead letter in place. */
START_TEST(test_sqlite_refused_retry_keeps_its_dead_letter)
{
	struct rlimit	 lim, old;
	struct job	*dead, *retry, *out[1];
	size_t		 len = 4 << 20;
	char		*big, id[JOB_ID_LEN + 1];

	signal(SIGXFSZ, SIG_IGN);
	big = malloc(len + 1);
	memset(big, ' ', len);
	big[0] = '"';
	big[len - 1] = '"';
	big[len] = '\0';
	qt.dead_ttl = qt.a.dead_ttl = 3600;
	dead = qt_push(&qt.a, big);
	memcpy(id, dead->id, sizeof id);
	queue_commit(qt.q, 0);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_finish(dead, JOB_FAILED);
	queue_commit(qt.q, 1);
	/* What dead_retry() does: a new job, the old one released. */
	retry = qt_push(&qt.a, big);
	job_set_retry_of(retry, id);
	queue_dead_release(qt.q, dead);
	ck_assert_uint_eq(qt.a.ndead, 0);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_uint_eq(qt.a.rejected, 1);
	ck_assert_uint_eq(qt.a.ndead, 1);
	ck_assert_ptr_eq(queue_dead_next(&qt.a, NULL), dead);
	ck_assert(dead->dead && strcmp(job_data(dead), big) == 0);
	queue_commit(qt.q, 1);
	qt_restart();
	ck_assert_uint_eq(qt.a.ndead, 1);
	dead = queue_dead_next(&qt.a, NULL);
	ck_assert_str_eq(dead->id, id);
	ck_assert(strcmp(job_data(dead), big) == 0);
	free(big);
}
END_TEST

/* Pipelined commits: what the engine's hooks were told. */
static int	sealed_n, landed_n;

static void
sealed_cb(void *arg)
{
	ck_assert_ptr_eq(arg, &qt);
	sealed_n++;
}

static void
landed_cb(void *arg)
{
	ck_assert_ptr_eq(arg, &qt);
	landed_n++;
}

static int
acked_once(void)
{
	return acked.n >= 1;
}

static int
landed_once(void)
{
	return landed_n >= 1;
}

static int
landed_twice(void)
{
	return landed_n >= 2;
}

static int
never(void)
{
	return 0;
}

static void
pipeline_on(void)
{
	memset(&acked, 0, sizeof acked);
	sealed_n = landed_n = 0;
	queue_pipeline(qt.q, sealed_cb, landed_cb, &qt);
}

/*
 * Pipelined, a commit runs while the loop goes on: its submits are
 * acknowledged (and queued) only once it landed, one commit at a time, and
 * a submit that comes meanwhile waits for the next one.
 */
START_TEST(test_sqlite_pipelined_commit_acks_only_once_it_landed)
{
	struct job	*j1, *j2;

	pipeline_on();
	j1 = qt_push(&qt.a, "1");
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	ck_assert_int_eq(sealed_n, 1);
	ck_assert_int_eq(acked.n, 0);
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 1);
	j2 = qt_push(&qt.a, "2");
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(sealed_n, 1);
	ck_assert(qt_run_until(landed_once, 5.0));
	ck_assert_int_eq(acked.n, 1);
	ck_assert_str_eq(acked.cause, "(null)");
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 0);
	ck_assert_int_eq(queue_job_pending(qt.q, j2), 1);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
	ck_assert_uint_eq(qt.a.queue_len, 1);
	/* Landed from the loop: the engine hears at once it may claim. */
	ck_assert_int_gt(qt.runnable_a, 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(sealed_n, 2);
	ck_assert(qt_run_until(landed_twice, 5.0));
	ck_assert_int_eq(acked.n, 2);
	ck_assert_int_eq(queue_job_pending(qt.q, j2), 0);
	ck_assert_uint_eq(qt.a.submitted, 2);
}
END_TEST

/*
 * An ack made while a commit runs, for a job that commit carries (a
 * submit repeating the key of one in flight): the next commit answers it
 * even with nothing to write.
 */
START_TEST(test_sqlite_ack_made_during_a_commit_of_its_job_is_answered)
{
	struct queue_stats	 st;
	struct job		*j1;

	pipeline_on();
	j1 = qt_push(&qt.a, "1");
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 1);
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert(qt_run_until(landed_once, 5.0));
	ck_assert_int_eq(acked.n, 1);
	ck_assert_int_eq(queue_job_pending(qt.q, j1), 0);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(acked.n, 2);
	ck_assert_str_eq(acked.cause, "(null)");
	queue_stats(qt.q, &st);
	ck_assert_uint_eq(st.commits, 1);
}
END_TEST

/*
 * A commit that waits (a clean stop's last one) first lands the one under
 * way: when it returns, everything is acknowledged and on disk.
 */
START_TEST(test_sqlite_waiting_commit_lands_the_one_under_way)
{
	char		 id1[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];
	struct job	*j;

	pipeline_on();
	memcpy(id1, qt_push(&qt.a, "1")->id, sizeof id1);
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	memcpy(id2, qt_push(&qt.a, "2")->id, sizeof id2);
	queue_ack_new(qt.q, ack_cb, &qt);
	queue_commit(qt.q, 1);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
	ck_assert_int_eq(acked.n, 2);
	ck_assert_int_eq(landed_n, 2);
	qt_restart();
	ck_assert_ptr_nonnull(j = queue_lookup(qt.q, id1, JOB_ID_LEN));
	ck_assert_int_eq(j->state, JOB_QUEUED);
	ck_assert_ptr_nonnull(j = queue_lookup(qt.q, id2, JOB_ID_LEN));
	ck_assert_int_eq(j->state, JOB_QUEUED);
}
END_TEST

/*
 * While a commit carries a job's record, the job may change again (its
 * next record goes in the next commit) or be freed (pruned): the pruned
 * one's record stops mattering once committed, so its segment goes.
 */
START_TEST(test_sqlite_job_pruned_while_its_record_is_committed_is_released)
{
	struct queue_stats	 st;
	struct job		*j1, *j2, *out[2];
	char			 id1[JOB_ID_LEN + 1], id2[JOB_ID_LEN + 1];

	pipeline_on();
	qt.cfg.result_max = 1;
	j1 = qt_push(&qt.a, "1");
	j2 = qt_push(&qt.a, "2");
	memcpy(id1, j1->id, sizeof id1);
	memcpy(id2, j2->id, sizeof id2);
	queue_commit(qt.q, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 2), 2);
	qt_start(j1);
	qt_start(j2);
	queue_commit(qt.q, 1);
	qt_finish(j2, JOB_DONE);
	/* A job's end waits a little for a commit to go in. */
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
	qt_run_until(never, 0.05);
	landed_n = 0;
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	/* j1's end prunes j2, whose finished record is being committed. */
	qt_finish(j1, JOB_DONE);
	ck_assert_ptr_null(queue_lookup(qt.q, id2, JOB_ID_LEN));
	ck_assert(qt_run_until(landed_once, 5.0));
	/* j1's finished record, then the deletion of what nothing needs. */
	queue_commit(qt.q, 1);
	queue_commit(qt.q, 1);
	queue_stats(qt.q, &st);
	ck_assert_uint_eq(st.segments, 1);
	qt_restart();
	ck_assert_ptr_nonnull(j1 = queue_lookup(qt.q, id1, JOB_ID_LEN));
	ck_assert_int_eq(j1->state, JOB_DONE);
	ck_assert_uint_eq(j1->attempts, 1);
	ck_assert_ptr_null(queue_lookup(qt.q, id2, JOB_ID_LEN));
}
END_TEST

/*
 * A pipelined commit that fails refuses its submits once it landed, and
 * those that came while it ran (one may have named, by its key, a job it
 * carried), and keeps the state changes it carried for the next commit.
 */
START_TEST(test_sqlite_pipelined_commit_that_fails_refuses_its_submits)
{
	struct rlimit	 lim, old;
	struct job	*j1, *out[1];
	char		 id1[JOB_ID_LEN + 1];
	size_t		 len = 4 << 20;
	char		*big;

	pipeline_on();
	j1 = qt_push(&qt.a, "1");
	memcpy(id1, j1->id, sizeof id1);
	queue_commit(qt.q, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	signal(SIGXFSZ, SIG_IGN);
	big = malloc(len + 1);
	memset(big, ' ', len);
	big[0] = '"';
	big[len - 1] = '"';
	big[len] = '\0';
	qt_push(&qt.a, big);
	free(big);
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	landed_n = 0;
	queue_commit(qt.q, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	ck_assert_int_eq(acked.n, 0);
	/* Submitted while it runs, for the next commit: refused with it. */
	qt_push(&qt.a, "2");
	queue_ack_new(qt.q, ack_cb, &qt);
	ck_assert(qt_run_until(acked_once, 5.0));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(acked.n, 2);
	ck_assert_ptr_nonnull(strstr(acked.cause, qt.dir));
	ck_assert_uint_eq(qt.a.rejected, 2);
	ck_assert_uint_eq(qt.a.pending_len, 0);
	/*
	 * j1's start did not land: its job line stays held (no committed
	 * call, the queue still busy) until the next commit writes it.
	 */
	ck_assert_int_eq(landed_n, 0);
	ck_assert_int_eq(queue_commit_busy(qt.q), 1);
	queue_commit(qt.q, 1);
	ck_assert_int_eq(landed_n, 1);
	ck_assert_int_eq(queue_commit_busy(qt.q), 0);
	qt_drop(j1);
	qt_restart();
	ck_assert_ptr_nonnull(j1 = queue_lookup(qt.q, id1, JOB_ID_LEN));
	ck_assert_int_eq(j1->state, JOB_QUEUED);
	ck_assert_uint_eq(j1->attempts, 1);
	ck_assert_uint_eq(qt.a.retried, 1);
}
END_TEST

/*
 * A start is written as a delta over the job's queued record: both
 * segments stay while it is the newest; recovery gives the job back whole
 * (data, key) with its attempt counted, and the job's next whole record
 * lets both segments go.
 */
START_TEST(test_sqlite_start_written_as_a_delta_recovers_whole)
{
	struct queue_stats	 st;
	struct job		*j1, *out[1];
	char			 id1[JOB_ID_LEN + 1];

	j1 = qt_push(&qt.a, "{\"big\":\"data of j1\"}");
	job_key_set(j1, "k1");
	memcpy(id1, j1->id, sizeof id1);
	queue_commit(qt.q, 1);
	ck_assert_uint_eq(queue_claim(qt.q, &qt.a, out, 1), 1);
	qt_start(j1);
	queue_commit(qt.q, 1);
	ck_assert_uint_ne(job_base_seg(j1), 0);
	ck_assert_uint_gt(job_seg(j1), job_base_seg(j1));
	queue_stats(qt.q, &st);
	ck_assert_uint_eq(st.segments, 2);
	qt_drop(j1);
	qt_restart();
	ck_assert_ptr_nonnull(j1 = queue_lookup(qt.q, id1, JOB_ID_LEN));
	ck_assert_int_eq(j1->state, JOB_QUEUED);
	ck_assert_uint_eq(j1->attempts, 1);
	ck_assert_uint_eq(qt.a.retried, 1);
	ck_assert_str_eq(job_data(j1), "{\"big\":\"data of j1\"}");
	ck_assert_ptr_eq(queue_lookup_key(qt.q, "default", "k1"), j1);
	/* Requeued: its whole record supersedes the two. */
	queue_commit(qt.q, 1);
	ck_assert_uint_eq(job_base_seg(j1), 0);
	queue_commit(qt.q, 1);
	queue_stats(qt.q, &st);
	ck_assert_uint_eq(st.segments, 1);
}
END_TEST

void
qt_durable_tests_add(TCase *tc)
{
	tcase_add_test(tc, test_sqlite_push_is_pending_until_the_commit_acks_it);
	tcase_add_test(tc, test_sqlite_cancelled_ack_is_not_called);
	tcase_add_test(tc,
	    test_sqlite_failed_commit_refuses_pending_jobs_and_tells_acks);
	tcase_add_test(tc,
	    test_sqlite_pending_job_of_a_removed_pool_is_cancelled_at_commit);
	tcase_add_test(tc, test_sqlite_recovery_round_trip);
	tcase_add_test(tc,
	    test_sqlite_recovery_outcomes_survive_another_restart);
	tcase_add_test(tc, test_sqlite_recovery_drops_records_past_result_ttl);
	tcase_add_test(tc, test_sqlite_dead_letters_survive_a_restart);
	tcase_add_test(tc, test_sqlite_refused_retry_keeps_its_dead_letter);
	tcase_add_test(tc,
	    test_sqlite_pipelined_commit_acks_only_once_it_landed);
	tcase_add_test(tc, test_sqlite_waiting_commit_lands_the_one_under_way);
	tcase_add_test(tc, test_sqlite_start_written_as_a_delta_recovers_whole);
	tcase_add_test(tc,
	    test_sqlite_ack_made_during_a_commit_of_its_job_is_answered);
	tcase_add_test(tc,
	    test_sqlite_job_pruned_while_its_record_is_committed_is_released);
	tcase_add_test(tc,
	    test_sqlite_pipelined_commit_that_fails_refuses_its_submits);
	tcase_add_test(tc,
	    test_sqlite_failing_commits_hold_job_lines_until_their_start_lands);
}
