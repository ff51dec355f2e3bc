/*
 * The queue suites' fixture and the engine's moves (see queue_harness.h).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "tests/unit/queue_harness.h"

struct qt	qt;

/* Where the sqlite tests keep their files (made once per test case). */
static char			qt_topdir[32];

static const struct qt_impl	qt_memory = { "memory", 0, 0 };
static const struct qt_impl	qt_sqlite = { "sqlite", 1, 1 };

static void
qt_runnable_cb(struct queue_pool *qp, void *arg)
{
	ck_assert_ptr_eq(arg, &qt);
	if (qp == &qt.a)
		qt.runnable_a++;
	else if (qp == &qt.b)
		qt.runnable_b++;
	else
		ck_abort_msg("runnable for an unknown pool");
}

/* The queue ends a job on its own: end it as the engine does. */
static void
qt_finish_cb(struct job *job, enum job_state state, char *error, void *arg)
{
	qt.finished++;
	qt.finish_state = state;
	snprintf(qt.finish_error, sizeof qt.finish_error, "%s",
	    error != NULL ? error : "");
	job_set_error(job, error);
	job_set_state(job, state, ev_now(qt.loop));
	queue_finished(qt.q, job);
}

static const struct queue_events qt_events = {
	.runnable = qt_runnable_cb,
	.finish = qt_finish_cb,
};

static void
qt_log_cb(enum log_level level, const char *msg, void *arg)
{
	if (strncmp(msg, "BUG:", 4) == 0)
		qt.bugs++;
}

static void
qt_guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
}

static double
qt_clock_cb(void *arg)
{
	return qt_time();
}

double
qt_time(void)
{
	return qt.now > 0 ? qt.now : ev_now(qt.loop);
}

void
qt_open(void)
{
	char	*cause = NULL;

	memset(&qt.a, 0, sizeof qt.a);
	memset(&qt.b, 0, sizeof qt.b);
	qt.q = queue_open(qt.store, 0, 0600, qt.loop, &qt.cfgp, &qt_events,
	    &qt, &cause);
	if (qt.q == NULL)
		ck_abort_msg("queue_open %s: %s", qt.store, cause);
	queue_set_clock(qt.q, qt_clock_cb, NULL);
	queue_pool_attach(qt.q, &qt.a, "a", 0);
	queue_pool_attach(qt.q, &qt.b, "b", 0);
	qt.a.max_queue = qt.b.max_queue = 100;
	qt.a.dead_ttl = qt.dead_ttl;
}

void
qt_close(void)
{
	queue_close(qt.q);
	qt.q = NULL;
}

void
qt_restart(void)
{
	char	*cause = NULL;

	qt_close();
	qt_open();
	if (queue_recover(qt.q, qt_max_attempts, &cause) == -1)
		ck_abort_msg("queue_recover: %s", cause);
}

unsigned
qt_max_attempts(struct queue_pool *qp)
{
	return qp == &qt.a ? 3 : 1;
}

static void
qt_setup(const struct qt_impl *impl)
{
	memset(&qt, 0, sizeof qt);
	qt.impl = impl;
	log_set_sink(qt_log_cb, NULL);
	if (impl->durable) {
		ck_assert(qt_topdir[0] != '\0');
		snprintf(qt.dir, sizeof qt.dir, "%s/t.XXXXXX", qt_topdir);
		ck_assert_ptr_nonnull(mkdtemp(qt.dir));
		snprintf(qt.store, sizeof qt.store, "sqlite:%s/jobs.db",
		    qt.dir);
	} else
		snprintf(qt.store, sizeof qt.store, "memory");
	qt.cfg.result_ttl = 3600;
	qt.cfg.result_max = 1000;
	qt.cfgp = &qt.cfg;
	ck_assert_ptr_nonnull(qt.loop = ev_loop_new(EVFLAG_AUTO));
	ev_timer_init(&qt.guard, qt_guard_cb, 0.005, 0.005);
	qt_open();
}

/*
 * The folder of the sqlite tests' folders: made and removed in the parent
 * process, so that a test that fails (and skips its teardown) leaves
 * nothing behind either.
 */
void
qt_topdir_create(void)
{
	snprintf(qt_topdir, sizeof qt_topdir, "/tmp/check_queue.XXXXXX");
	if (mkdtemp(qt_topdir) == NULL) {
		perror(qt_topdir);
		exit(EXIT_FAILURE);
	}
}

void
qt_topdir_remove(void)
{
	char	cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", qt_topdir);
	if (system(cmd) != 0)
		fprintf(stderr, "%s: not removed\n", qt_topdir);
	qt_topdir[0] = '\0';
}

void
qt_setup_memory(void)
{
	qt_setup(&qt_memory);
}

void
qt_setup_sqlite(void)
{
	qt_setup(&qt_sqlite);
}

/* Everything the queue held is freed with it; no move was a bug. */
void
qt_teardown(void)
{
	char	cmd[128];

	if (qt.q != NULL)
		qt_close();
	ck_assert_uint_eq(job_table_count(), 0);
	ev_loop_destroy(qt.loop);
	log_set_sink(NULL, NULL);
	if (qt.dir[0] != '\0') {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", qt.dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	ck_assert_int_eq(qt.bugs, 0);
}

struct job *
qt_push(struct queue_pool *qp, const char *data)
{
	struct job	*job;
	const char	*err = NULL;

	job = job_new(&qp->jobs, data, strlen(data), qt_time());
	ck_assert_int_eq(queue_push(qt.q, qp, job, &err), qt.impl->push_ret);
	ck_assert_ptr_null(err);
	return job;
}

struct job *
qt_push_flow(struct queue_pool *qp, int priority, const char *group,
    double not_before)
{
	struct job	*job;
	const char	*err = NULL;

	job = job_new(&qp->jobs, "{}", 2, qt_time());
	job_flow_set(job, &(struct job_flow_spec){ priority, not_before,
	    group });
	ck_assert_int_eq(queue_push(qt.q, qp, job, &err), qt.impl->push_ret);
	ck_assert_ptr_null(err);
	return job;
}

void
qt_start(struct job *job)
{
	job->attempts++;
	job->worker = 0;
	job_set_state(job, JOB_RUNNING, ev_now(qt.loop));
	queue_started(qt.q, job);
}

void
qt_finish(struct job *job, enum job_state state)
{
	if (state != JOB_CANCELLED && job->state == JOB_QUEUED)
		qt_start(job);
	job_set_state(job, state, ev_now(qt.loop));
	queue_finished(qt.q, job);
}

void
qt_drop(struct job *job)
{
	job_table_remove(job);
	job_free(job);
}

int
qt_run_until(int (*cond)(void), double timeout)
{
	double	end;

	ev_now_update(qt.loop);
	end = ev_time() + timeout;
	ev_timer_again(qt.loop, &qt.guard);
	while (!cond() && ev_time() < end)
		ev_run(qt.loop, EVRUN_ONCE);
	ev_timer_stop(qt.loop, &qt.guard);
	return cond();
}
