/*
 * The job engine (see dispatch.h).
 *
 * Hot path: a submit appends the job to its pool's queue; dispatch_run()
 * pops it to the first worker with room and appends its line to that
 * worker's job buffer; dispatch_flush(), run once per loop iteration just
 * before the loop blocks, writes each worker's buffer in one write(2). A
 * result line is checked (a valid JSON object with id, ok and result or
 * error) without building a tree and its result text kept as is.
 *
 * With a durable store a submitted job waits in the pending list, out of
 * every queue and out of the id table, until dispatch_commit() (run once
 * per loop iteration, before the worker buffers are written) has committed
 * it together with every state change of the iteration: only then is it
 * queued, counted and acknowledged. A failed commit refuses the pending
 * jobs (counted as rejected) and keeps the state changes of acknowledged
 * jobs for the next attempt.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/jobline.h"
#include "ipc/jsontext.h"
#include "supervisor/dispatch.h"
#include "supervisor/job.h"
#include "supervisor/pool.h"
#include "supervisor/store.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

/* How much longer than job_timeout an exec worker gets to report it. */
#define DISPATCH_EXEC_GRACE	5.0
/* After a failed commit, state changes alone are retried this much later. */
#define DISPATCH_STORE_RETRY	0.25
/*
 * State changes (a job started, finished, was pruned) acknowledge nothing,
 * so they are written at most this often: a job that starts and ends in
 * between costs one row update instead of two.
 */
#define DISPATCH_STORE_DELAY	0.01
/*
 * Submits wait for the commit at the end of the loop iteration, or this
 * long at most when one iteration runs longer (many busy clients).
 */
#define DISPATCH_COMMIT_MAX	0.005

struct dispatch_ack {
	TAILQ_ENTRY(dispatch_ack) entry;
	void			(*cb)(void *, const char *);
	void			*arg;
};

static struct {
	struct supervisor	*sv;
	struct store		*store;		/* durable, else NULL */
	struct job_list		 pending;	/* submitted, not committed */
	TAILQ_HEAD(, dispatch_ack) acks;	/* replies waiting for it */
	uint64_t		*putseg;	/* segment of each record put */
	size_t			 putseg_cap;
	int			 failing;	/* the last commit failed */
	double			 failed_log_at;
	size_t			 refused;	/* since the last log line */
	ev_timer		 retry_timer;
	ev_timer		 delay_timer;	/* state changes are due */
	int			 changes_due;
	double			 pending_since;	/* first pending submit */
	struct job_list		 finished;	/* oldest first */
	size_t			 nfinished;
	ev_timer		 prune_timer;
	TAILQ_HEAD(, worker)	 dirty;
} d;

static void	dispatch_prune_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_finish(struct job *, enum job_state, char *error);
static void	dispatch_retry_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_store_retry_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_store_delay_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_retain(struct job *);

void
dispatch_init(struct supervisor *sv, struct store *store)
{
	d.sv = sv;
	d.store = store != NULL && store_durable(store) ? store : NULL;
	TAILQ_INIT(&d.finished);
	TAILQ_INIT(&d.dirty);
	TAILQ_INIT(&d.pending);
	TAILQ_INIT(&d.acks);
	ev_timer_init(&d.prune_timer, dispatch_prune_cb, 0, 0);
	ev_timer_init(&d.retry_timer, dispatch_store_retry_cb, 0, 0);
	ev_timer_init(&d.delay_timer, dispatch_store_delay_cb, 0, 0);
	job_changed_track(d.store != NULL);
}

/* Forget a job for good: out of the id table, the store and memory. */
static void
dispatch_forget(struct job *job)
{
	job_table_remove(job);
	if (d.store != NULL && job->seg != 0)
		store_release(d.store, job->seg);
	job_free(job);
}

/* Free every job still known (at exit). */
void
dispatch_shutdown(void)
{
	struct job	*job;
	struct pool	*pool;
	size_t		 i;
	int		 j;

	ev_timer_stop(d.sv->loop, &d.prune_timer);
	ev_timer_stop(d.sv->loop, &d.retry_timer);
	ev_timer_stop(d.sv->loop, &d.delay_timer);
	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		job_free(job);
	}
	free(d.putseg);
	d.putseg = NULL;
	d.putseg_cap = 0;
	job_changed_track(0);
	while ((job = TAILQ_FIRST(&d.finished)) != NULL) {
		TAILQ_REMOVE(&d.finished, job, entry);
		job_table_remove(job);
		job_free(job);
	}
	for (i = 0; i < d.sv->npools; i++) {
		pool = d.sv->pools[i];
		while ((job = TAILQ_FIRST(&pool->queue)) != NULL) {
			TAILQ_REMOVE(&pool->queue, job, entry);
			job_table_remove(job);
			job_free(job);
		}
		for (j = 0; j < pool->nslots; j++) {
			struct worker *w = pool->slots[j];
			while ((job = TAILQ_FIRST(&w->inflight)) != NULL) {
				TAILQ_REMOVE(&w->inflight, job, entry);
				job_table_remove(job);
				job_free(job);
			}
		}
	}
}

size_t
dispatch_unfinished(void)
{
	size_t	i, n = 0;

	for (i = 0; i < d.sv->npools; i++)
		n += d.sv->pools[i]->stats.state[JOB_QUEUED] +
		    d.sv->pools[i]->stats.state[JOB_RUNNING];
	return n;
}

static void
dispatch_timer_stop(struct job *job)
{
	if (job->timer != NULL) {
		ev_timer_stop(d.sv->loop, job->timer);
		free(job->timer);
		job->timer = NULL;
	}
}

static void
dispatch_timer_start(struct job *job, double after,
    void (*cb)(struct ev_loop *, ev_timer *, int))
{
	dispatch_timer_stop(job);
	job->timer = xmalloc(sizeof *job->timer);
	ev_timer_init(job->timer, cb, after, 0);
	job->timer->data = job;
	ev_timer_start(d.sv->loop, job->timer);
}

struct job *
dispatch_submit(struct pool *pool, const char *data, size_t len,
    const char *key, const char **err)
{
	struct job	*job;

	if (key != NULL && (job = job_key_find(key)) != NULL)
		return job;
	if (d.sv->stopping) {
		pool->stats.rejected++;
		*err = "shutting_down";
		return NULL;
	}
	if ((long)(pool->stats.state[JOB_QUEUED] + pool->pending_len) >=
	    pool->pc->max_queue) {
		pool->stats.rejected++;
		*err = "queue_full";
		return NULL;
	}
	job = job_new(pool, data, len, ev_now(d.sv->loop));
	if (key != NULL)
		job_key_set(job, key);
	if (d.store != NULL) {
		if (TAILQ_EMPTY(&d.pending))
			d.pending_since = ev_time();
		TAILQ_INSERT_TAIL(&d.pending, job, entry);
		pool->pending_len++;
		return job;
	}
	pool->stats.submitted++;
	pool->stats.state[JOB_QUEUED]++;
	job_table_add(job);
	TAILQ_INSERT_TAIL(&pool->queue, job, entry);
	pool->queue_len++;
	return job;
}

static void
dispatch_ready_add(struct worker *w)
{
	if (!w->on_ready) {
		TAILQ_INSERT_TAIL(&w->pool->ready, w, ready_entry);
		w->on_ready = 1;
	}
}

static void
dispatch_ready_remove(struct worker *w)
{
	if (w->on_ready) {
		TAILQ_REMOVE(&w->pool->ready, w, ready_entry);
		w->on_ready = 0;
	}
}

void
dispatch_mark_dirty(struct worker *w)
{
	if (!w->dirty) {
		TAILQ_INSERT_TAIL(&d.dirty, w, dirty_entry);
		w->dirty = 1;
	}
}

int
dispatch_job_pending(const struct job *job)
{
	return d.store != NULL && job->seg == 0;
}

struct dispatch_ack *
dispatch_ack_new(void (*cb)(void *, const char *), void *arg)
{
	struct dispatch_ack	*a = xcalloc(1, sizeof *a);

	a->cb = cb;
	a->arg = arg;
	TAILQ_INSERT_TAIL(&d.acks, a, entry);
	return a;
}

void
dispatch_ack_cancel(struct dispatch_ack *a)
{
	TAILQ_REMOVE(&d.acks, a, entry);
	free(a);
}

/* Fill a store record from a job (strings borrowed from it). */
static void
dispatch_store_record(const struct job *job, struct store_record *r)
{
	memcpy(r->id, job->id, JOB_ID_LEN + 1);
	r->pool = job->pool->name;
	r->state = job->state;
	r->attempts = job->attempts;
	r->worker = job->worker;
	r->truncated = job->truncated;
	r->submitted_at = job->submitted_at;
	r->started_at = job->started_at;
	r->finished_at = job->finished_at;
	/* A finished job's data is never sent again. */
	r->data = job_state_terminal(job->state) ? "" : job->data;
	r->data_len = job_state_terminal(job->state) ? 0 : job->data_len;
	r->result = job->result;
	r->error = job->error;
	r->key = job->key;
}

/* Put a job's record into the store; its segment goes in d.putseg[i]. */
static int
dispatch_store_put(const struct job *job, size_t i, char **cause)
{
	struct store_record	r;

	if (i == d.putseg_cap) {
		d.putseg_cap = d.putseg_cap ? d.putseg_cap * 2 : 1024;
		d.putseg = xreallocarray(d.putseg, d.putseg_cap,
		    sizeof *d.putseg);
	}
	dispatch_store_record(job, &r);
	return store_put(d.store, &r, &d.putseg[i], cause);
}

/*
 * Write into the store's transaction the changed jobs (when `changes`)
 * and the pending ones, in that order, and commit.
 */
static int
dispatch_store_write(int changes, char **cause)
{
	struct job	**changed, *job;
	size_t		  n, i, k = 0;

	changed = job_changed_list(&n);
	for (i = 0; changes && i < n; i++)
		if (dispatch_store_put(changed[i], k++, cause) == -1)
			return -1;
	TAILQ_FOREACH(job, &d.pending, entry)
		if (dispatch_store_put(job, k++, cause) == -1)
			return -1;
	return store_commit(d.store, cause);
}

/* The commit of the pending jobs failed: refuse them, answer store_error. */
static void
dispatch_store_failed(char *cause)
{
	struct dispatch_ack	*a;
	struct job		*job;
	double			 now = ev_now(d.sv->loop);
	size_t			 n = 0;

	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		job->pool->pending_len--;
		job->pool->stats.rejected++;
		job_free(job);
		n++;
	}
	/* One line per failure episode, then one every 10 s at most. */
	d.refused += n;
	if (!d.failing || now - d.failed_log_at >= 10.0) {
		log_warnx("store: %s (%zu submitted job%s refused with "
		    "store_error; state changes are kept for the next commit)",
		    cause, d.refused, d.refused == 1 ? "" : "s");
		d.failed_log_at = now;
		d.refused = 0;
	}
	d.failing = 1;
	while ((a = TAILQ_FIRST(&d.acks)) != NULL) {
		TAILQ_REMOVE(&d.acks, a, entry);
		a->cb(a->arg, cause);
		free(a);
	}
	if (!ev_is_active(&d.retry_timer)) {
		ev_timer_set(&d.retry_timer, DISPATCH_STORE_RETRY, 0);
		ev_timer_start(d.sv->loop, &d.retry_timer);
	}
}

/*
 * Group commit, once per loop iteration: the pending submits go in one
 * transaction, together with the state changes and a bounded slice of the
 * pruned records when these are due (DISPATCH_STORE_DELAY after the first
 * one since the last write; `all` writes them now). After a failure, an
 * iteration with no new submit does not try again before the retry timer.
 */
void
dispatch_commit(int all)
{
	struct dispatch_ack	*a;
	struct job		*job;
	struct pool		*pool;
	struct job		**changed;
	size_t			 nchanged, i, k = 0;
	char			*cause = NULL;
	int			 changes;

	if (d.store == NULL)
		return;
	changed = job_changed_list(&nchanged);
	changes = nchanged > 0 || store_has_garbage(d.store);
	if (changes && !all && !d.changes_due) {
		if (!ev_is_active(&d.delay_timer)) {
			ev_timer_set(&d.delay_timer, DISPATCH_STORE_DELAY, 0);
			ev_timer_start(d.sv->loop, &d.delay_timer);
		}
		changes = 0;
	}
	if (TAILQ_EMPTY(&d.pending) && !changes)
		return;
	if (TAILQ_EMPTY(&d.pending) && ev_is_active(&d.retry_timer) && !all)
		return;
	if (dispatch_store_write(changes, &cause) == -1) {
		store_rollback(d.store);
		dispatch_store_failed(cause);
		free(cause);
		return;
	}
	if (d.failing) {
		log_info("store: commits succeed again");
		d.failing = 0;
		ev_timer_stop(d.sv->loop, &d.retry_timer);
	}
	/* Each job's new record supersedes the one it had. */
	if (changes) {
		for (i = 0; i < nchanged; i++, k++) {
			store_release(d.store, changed[i]->seg);
			changed[i]->seg = d.putseg[k];
		}
		job_changed_clear();
		d.changes_due = 0;
		ev_timer_stop(d.sv->loop, &d.delay_timer);
	}
	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		pool = job->pool;
		pool->pending_len--;
		job->seg = d.putseg[k++];
		pool->stats.submitted++;
		pool->stats.state[JOB_QUEUED]++;
		job_table_add(job);
		if (pool->removed) {
			dispatch_finish(job, JOB_CANCELLED,
			    xstrdup("pool removed by a configuration reload"));
			continue;
		}
		TAILQ_INSERT_TAIL(&pool->queue, job, entry);
		pool->queue_len++;
	}
	while ((a = TAILQ_FIRST(&d.acks)) != NULL) {
		TAILQ_REMOVE(&d.acks, a, entry);
		a->cb(a->arg, NULL);
		free(a);
	}
	for (i = 0; i < d.sv->npools; i++)
		if (d.sv->pools[i]->queue_len > 0)
			dispatch_run(d.sv->pools[i]);
}

void
dispatch_commit_if_late(void)
{
	if (d.store != NULL && !TAILQ_EMPTY(&d.pending) &&
	    ev_time() - d.pending_since >= DISPATCH_COMMIT_MAX)
		dispatch_commit(0);
}

static void
dispatch_store_delay_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* The next loop iteration writes them (see dispatch_commit). */
	d.changes_due = 1;
}

static void
dispatch_store_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* The next loop iteration commits (see dispatch_commit). */
}

void
dispatch_flush(void)
{
	struct worker	*w;

	while ((w = TAILQ_FIRST(&d.dirty)) != NULL) {
		TAILQ_REMOVE(&d.dirty, w, dirty_entry);
		w->dirty = 0;
		worker_flush_jobs(w);
	}
}

/* A running job's time is up. */
static void
dispatch_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job = t->data;
	struct worker	*w = job->runner;
	char		*why;

	dispatch_timer_stop(job);
	if (w == NULL || job->state != JOB_RUNNING)
		return;
	if (job->pool->pc->type == POOL_TYPE_EXEC)
		xasprintf(&why, "exec worker did not report job %s within "
		    "%.1fs of its timeout", job->id, DISPATCH_EXEC_GRACE);
	else
		xasprintf(&why, "job %s exceeded job_timeout (%.3fs)", job->id,
		    job->pool->pc->job_timeout);
	worker_fail(w, why, job);
	free(why);
}

/* Send one job to a worker with room. */
static void
dispatch_send(struct worker *w, struct job *job)
{
	struct pool_config	*pc = w->pool->pc;
	double			 now = ev_now(d.sv->loop);

	job->attempts++;
	if (job->attempts == 1)
		hist_add(&w->pool->stats.wait, now - job->submitted_at);
	if (w->ninflight == 0 && pc->dynamic)
		ev_timer_stop(d.sv->loop, &w->idle_timer);
	job->worker = (int16_t)w->index;
	job->runner = w;
	TAILQ_INSERT_TAIL(&w->inflight, job, entry);
	w->ninflight++;
	w->assigned++;
	job_set_state(job, JOB_RUNNING, now);
	if (w->state == WORKER_READY)
		w->state = WORKER_BUSY;

	buf_reserve(&w->job_in, job->data_len + JOB_ID_LEN + 48);
	buf_append(&w->job_in, "{\"id\":\"", 7);
	buf_append(&w->job_in, job->id, JOB_ID_LEN);
	buf_append(&w->job_in, "\",\"data\":", 9);
	buf_append(&w->job_in, job->data, job->data_len);
	if (pc->job_timeout > 0) {
		if (pc->type == POOL_TYPE_EXEC) {
			buf_appendf(&w->job_in, ",\"timeout_ms\":%.0f",
			    pc->job_timeout * 1000.0);
			dispatch_timer_start(job, pc->job_timeout +
			    DISPATCH_EXEC_GRACE, dispatch_timeout_cb);
		} else
			dispatch_timer_start(job, pc->job_timeout,
			    dispatch_timeout_cb);
	}
	buf_append(&w->job_in, "}\n", 2);
	dispatch_mark_dirty(w);

	if (w->ninflight >= pc->prefetch)
		dispatch_ready_remove(w);
	if (pc->max_jobs_per_worker > 0 &&
	    w->assigned >= pc->max_jobs_per_worker) {
		w->recycle = 1;
		dispatch_ready_remove(w);
	}
}

void
dispatch_run(struct pool *pool)
{
	struct worker	*w;
	struct job	*job;

	if (pool->paused || d.sv->stopping)
		return;
	while ((job = TAILQ_FIRST(&pool->queue)) != NULL &&
	    (w = TAILQ_FIRST(&pool->ready)) != NULL) {
		TAILQ_REMOVE(&pool->queue, job, entry);
		pool->queue_len--;
		dispatch_send(w, job);
		/* Round robin among workers that still have room. */
		if (w->on_ready && TAILQ_NEXT(w, ready_entry) != NULL) {
			TAILQ_REMOVE(&pool->ready, w, ready_entry);
			TAILQ_INSERT_TAIL(&pool->ready, w, ready_entry);
		}
	}
	if (pool->queue_len > 0 && pool->pc->dynamic)
		pool_grow(pool);
}

void
dispatch_worker_ready(struct worker *w)
{
	TAILQ_INIT(&w->inflight);
	w->ninflight = 0;
	w->assigned = 0;
	w->recycle = 0;
	dispatch_ready_add(w);
	dispatch_run(w->pool);
}

void
dispatch_worker_drain(struct worker *w)
{
	dispatch_ready_remove(w);
	w->recycle = 1;
	if (w->ninflight == 0)
		worker_stop(w);
}

void
dispatch_worker_lost(struct worker *w)
{
	dispatch_ready_remove(w);
	if (w->dirty) {
		TAILQ_REMOVE(&d.dirty, w, dirty_entry);
		w->dirty = 0;
	}
}

/* Put a job back at the head of its queue (now or after a delay). */
static void
dispatch_requeue_now(struct job *job)
{
	struct pool	*pool = job->pool;

	job->delayed = 0;
	TAILQ_INSERT_HEAD(&pool->queue, job, entry);
	pool->queue_len++;
	dispatch_run(pool);
}

static void
dispatch_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job = t->data;

	dispatch_timer_stop(job);
	if (job->pool->removed)
		dispatch_finish(job, JOB_CANCELLED,
		    xstrdup("pool removed by a configuration reload"));
	else
		dispatch_requeue_now(job);
}

void
dispatch_cancel_queue(struct pool *pool, const char *why)
{
	struct job	*job;

	while ((job = TAILQ_FIRST(&pool->queue)) != NULL) {
		TAILQ_REMOVE(&pool->queue, job, entry);
		pool->queue_len--;
		dispatch_finish(job, JOB_CANCELLED, xstrdup(why));
	}
}

/*
 * An attempt ended without an answer: retry while attempts remain
 * (waiting retry_delay, doubled per attempt), else end it in state.
 */
static void
dispatch_attempt_failed(struct job *job, enum job_state state,
    const char *why, int counts)
{
	struct pool_config	*pc = job->pool->pc;
	double			 delay;
	char			*err;

	dispatch_timer_stop(job);
	job->runner = NULL;
	if (!counts)
		job->attempts--;
	if (job->cancel_sent) {
		dispatch_finish(job, JOB_CANCELLED, NULL);
		return;
	}
	if (job->attempts >= pc->max_attempts) {
		if (pc->max_attempts > 1)
			xasprintf(&err, "%s (after %u attempts)", why,
			    job->attempts);
		else
			err = xstrdup(why);
		dispatch_finish(job, state, err);
		return;
	}
	if (job->pool->removed) {
		dispatch_finish(job, JOB_CANCELLED,
		    xstrdup("pool removed by a configuration reload"));
		return;
	}
	job_set_state(job, JOB_QUEUED, ev_now(d.sv->loop));
	if (counts) {
		job->pool->stats.retried++;
		delay = pc->retry_delay;
		for (unsigned i = 1; i < job->attempts && delay < 3600; i++)
			delay *= 2;
	} else
		delay = 0;
	log_info("%s: job %s will be retried%s (%s)", job->pool->name, job->id,
	    delay > 0 ? " after a delay" : "", why);
	if (delay > 0) {
		job->delayed = 1;
		dispatch_timer_start(job, delay, dispatch_retry_cb);
	} else
		dispatch_requeue_now(job);
}

/*
 * A worker is gone: what it had in flight goes back to the queue. The
 * death counts as an attempt only against the job it was working on: the
 * one that overran or was cancelled, else the oldest in flight (a worker
 * answers in order, so the others were still waiting in its prefetch).
 * A job that kills its worker every time thus fails after max_attempts,
 * while the jobs queued behind it do not pay for it.
 */
void
dispatch_worker_gone(struct worker *w)
{
	struct job	*job, *charged;
	const char	*why = w->gone_reason ? w->gone_reason : "worker died";
	enum job_state	 end;

	dispatch_worker_lost(w);
	charged = w->culprit != NULL ? w->culprit : TAILQ_FIRST(&w->inflight);
	/* Newest first: each goes back to the head, so they keep their order. */
	while ((job = TAILQ_LAST(&w->inflight, job_list)) != NULL) {
		TAILQ_REMOVE(&w->inflight, job, entry);
		w->ninflight--;
		end = job == w->culprit &&
		    job->pool->pc->type == POOL_TYPE_STREAM &&
		    !job->cancel_sent ? JOB_TIMED_OUT : JOB_FAILED;
		dispatch_attempt_failed(job, end, why, job == charged);
	}
	w->culprit = NULL;
	free(w->gone_reason);
	w->gone_reason = NULL;
}

/* Keep a finished record for result_ttl, at most result_max of them. */
static void
dispatch_retain(struct job *job)
{
	struct config	*cfg = d.sv->cfg;
	struct job	*old;

	TAILQ_INSERT_TAIL(&d.finished, job, entry);
	d.nfinished++;
	while (d.nfinished > (size_t)cfg->result_max &&
	    (old = TAILQ_FIRST(&d.finished)) != NULL) {
		TAILQ_REMOVE(&d.finished, old, entry);
		d.nfinished--;
		dispatch_forget(old);
	}
	if (!ev_is_active(&d.prune_timer) && d.nfinished > 0) {
		old = TAILQ_FIRST(&d.finished);
		ev_timer_set(&d.prune_timer, old->finished_at +
		    cfg->result_ttl - ev_now(d.sv->loop) + 0.001, 0);
		ev_timer_start(d.sv->loop, &d.prune_timer);
	}
}

/* Drop records older than result_ttl; re-arm for the next oldest. */
static void
dispatch_prune_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job;
	double		 ttl = d.sv->cfg->result_ttl, now = ev_now(loop);

	while ((job = TAILQ_FIRST(&d.finished)) != NULL &&
	    job->finished_at + ttl <= now) {
		TAILQ_REMOVE(&d.finished, job, entry);
		d.nfinished--;
		dispatch_forget(job);
	}
	if (job != NULL) {
		ev_timer_set(t, job->finished_at + ttl - now + 0.001, 0);
		ev_timer_start(loop, t);
	}
}

/* End a job in a terminal state (takes ownership of error). */
static void
dispatch_finish(struct job *job, enum job_state state, char *error)
{
	struct pool_stats	*st = &job->pool->stats;
	double			 now = ev_now(d.sv->loop);

	if (job->state == JOB_RUNNING)
		hist_add(&st->run, now - job->started_at);
	rate_add(&st->finished, now);
	dispatch_timer_stop(job);
	free(job->error);
	job->error = error;
	job->delayed = 0;
	job_set_state(job, state, ev_now(d.sv->loop));
	dispatch_retain(job);
}

/* After a result: room for another job, or time to recycle. */
static void
dispatch_worker_after_result(struct worker *w)
{
	if (w->ninflight == 0 && w->state == WORKER_BUSY)
		w->state = WORKER_READY;
	if (w->recycle) {
		if (w->ninflight == 0) {
			log_info("%s.%d: recycling after %ld jobs "
			    "(max_jobs_per_worker)", w->pool->name, w->index,
			    w->assigned);
			worker_stop(w);
		}
		return;
	}
	if (w->state == WORKER_READY || w->state == WORKER_BUSY)
		dispatch_ready_add(w);
	if (w->ninflight == 0)
		worker_idle_check(w);
	if (d.sv->stopping)
		supervisor_job_ended(d.sv);
	else
		dispatch_run(w->pool);
}

/*
 * Exec worker results: {"exit_code":N|null,"signal":N|null,"stdout":..,
 * "stderr":..,"truncated":bool,"timed_out":bool,"cancelled":bool,
 * "spawn_error":..}. Builds the record fragment and picks the end state.
 */
static int
dispatch_exec_result(struct job *job, const struct jsontext_span *res,
    enum job_state *state, char **error)
{
	struct jsontext_span	 v, code, sig, out, err, spawn;
	struct buf		 b = BUF_INIT;
	int64_t			 n;
	int			 timed_out, cancelled;

	if (res->type != JSONTEXT_OBJECT ||
	    !jsontext_object_get(res, "exit_code", &code) ||
	    !jsontext_object_get(res, "signal", &sig))
		return -1;
	timed_out = jsontext_object_get(res, "timed_out", &v) &&
	    v.type == JSONTEXT_TRUE;
	cancelled = jsontext_object_get(res, "cancelled", &v) &&
	    v.type == JSONTEXT_TRUE;
	job->truncated = jsontext_object_get(res, "truncated", &v) &&
	    v.type == JSONTEXT_TRUE;
	if (!jsontext_object_get(res, "stdout", &out))
		out.p = "null", out.len = 4;
	if (!jsontext_object_get(res, "stderr", &err))
		err.p = "null", err.len = 4;
	buf_append_str(&b, "\"exit_code\":");
	buf_append(&b, code.p, code.len);
	buf_append_str(&b, ",\"signal\":");
	buf_append(&b, sig.p, sig.len);
	buf_append_str(&b, ",\"stdout\":");
	buf_append(&b, out.p, out.len);
	buf_append_str(&b, ",\"stderr\":");
	buf_append(&b, err.p, err.len);
	buf_appendf(&b, ",\"truncated\":%s", job->truncated ? "true" : "false");
	buf_append(&b, "", 1);
	free(job->result);
	job->result = b.data;

	*error = NULL;
	if (cancelled)
		*state = JOB_CANCELLED;
	else if (timed_out) {
		*state = JOB_TIMED_OUT;
		xasprintf(error, "timed out after %.3fs",
		    job->pool->pc->job_timeout);
	} else if (code.type == JSONTEXT_NUMBER &&
	    jsontext_integer(&code, -1000, 1000, &n) == 0 && n == 0)
		*state = JOB_DONE;
	else {
		*state = JOB_FAILED;
		if (jsontext_object_get(res, "spawn_error", &spawn) &&
		    spawn.type == JSONTEXT_STRING)
			*error = jsontext_string_decode(&spawn, NULL);
		else if (sig.type == JSONTEXT_NUMBER &&
		    jsontext_integer(&sig, 1, 128, &n) == 0)
			xasprintf(error, "killed by signal %d", (int)n);
		else if (code.type == JSONTEXT_NUMBER &&
		    jsontext_integer(&code, -1000, 1000, &n) == 0)
			xasprintf(error, "exit status %d", (int)n);
		else
			*error = xstrdup("no exit status");
	}
	return 0;
}

int
dispatch_result(struct worker *w, const char *line, size_t len)
{
	struct jobline_result	 rl;
	struct jsontext_span	 id, res;
	struct job		*job;
	enum job_state		 state;
	char			*error = NULL;

	if (jobline_parse_result(line, len, &rl) == -1)
		return -1;
	id = rl.id;
	/* Workers answer in order, mostly: try the oldest job in flight first. */
	job = TAILQ_FIRST(&w->inflight);
	if (job == NULL || id.len != JOB_ID_LEN + 2 ||
	    memcmp(job->id, id.p + 1, JOB_ID_LEN) != 0)
		job = job_table_find(id.p + 1, id.len - 2);
	if (job == NULL || job->runner != w || job->state != JOB_RUNNING)
		return -1;
	if (rl.ok) {
		res = rl.result;
		if (w->pool->pc->type == POOL_TYPE_EXEC) {
			if (dispatch_exec_result(job, &res, &state,
			    &error) == -1)
				return -1;
		} else {
			free(job->result);
			job->result = xstrndup(res.p, res.len);
			state = JOB_DONE;
		}
	} else {
		state = JOB_FAILED;
		if (rl.error.type == JSONTEXT_STRING)
			error = jsontext_string_decode(&rl.error, NULL);
		if (error == NULL)
			error = xstrdup("worker reported failure");
	}
	if (job->cancel_sent && state != JOB_DONE) {
		state = JOB_CANCELLED;
		free(error);
		error = NULL;
	}
	TAILQ_REMOVE(&w->inflight, job, entry);
	w->ninflight--;
	w->jobs_done++;
	dispatch_finish(job, state, error);
	dispatch_worker_after_result(w);
	return 0;
}

int
dispatch_cancel(struct job *job, const char **err)
{
	struct worker	*w;

	if (job_state_terminal(job->state)) {
		*err = "job has already finished";
		return -1;
	}
	if (job->state == JOB_QUEUED) {
		if (!job->delayed) {
			TAILQ_REMOVE(&job->pool->queue, job, entry);
			job->pool->queue_len--;
		}
		dispatch_finish(job, JOB_CANCELLED, NULL);
		return 0;
	}
	/* Running. */
	w = job->runner;
	if (job->cancel_sent || w == NULL)
		return 0;
	job->cancel_sent = 1;
	if (job->pool->pc->type == POOL_TYPE_EXEC && w->job_in_fd != -1) {
		buf_appendf(&w->job_in, "{\"cancel\":\"%s\"}\n", job->id);
		dispatch_mark_dirty(w);
	} else
		worker_fail(w, "job cancelled while running", job);
	return 0;
}

struct dispatch_recovery {
	size_t	queued, interrupted, failed, finished, unknown;
};

static struct pool *
dispatch_pool_find(const char *name)
{
	size_t	i;

	for (i = 0; i < d.sv->npools; i++)
		if (!d.sv->pools[i]->removed &&
		    strcmp(d.sv->pools[i]->name, name) == 0)
			return d.sv->pools[i];
	return NULL;
}

/* A job as the store has it, known again but in no list yet. */
static struct job *
dispatch_job_restore(struct pool *pool, const struct store_record *r)
{
	struct job	*job;

	job = job_new(pool, r->data, r->data_len, r->submitted_at);
	memcpy(job->id, r->id, JOB_ID_LEN + 1);
	job_id_seen(job->id);
	job->state = (uint8_t)r->state;
	job->attempts = (uint16_t)r->attempts;
	job->worker = (int16_t)r->worker;
	job->truncated = r->truncated != 0;
	job->started_at = r->started_at;
	job->finished_at = r->finished_at;
	job->result = r->result != NULL ? xstrdup(r->result) : NULL;
	job->error = r->error != NULL ? xstrdup(r->error) : NULL;
	job->seg = r->seg;
	if (r->key != NULL && job_key_find(r->key) == NULL)
		job_key_set(job, r->key);
	pool->stats.submitted++;
	pool->stats.state[job->state]++;
	job_table_add(job);
	return job;
}

/*
 * A queued job goes back to the tail of its queue (rows come in id order,
 * which is submission order). A job that was running when mpsup died
 * has had that attempt counted when it was sent: it is retried, or fails
 * if that was its last attempt.
 */
static void
dispatch_recover_unfinished_cb(const struct store_record *r, void *arg)
{
	struct dispatch_recovery	*rc = arg;
	struct pool			*pool;
	struct job			*job;
	double				 now = ev_now(d.sv->loop);

	if ((pool = dispatch_pool_find(r->pool)) == NULL ||
	    (r->state != JOB_QUEUED && r->state != JOB_RUNNING)) {
		rc->unknown++;
		return;
	}
	if (job_table_find(r->id, JOB_ID_LEN) != NULL) {
		store_release(d.store, r->seg);
		return;
	}
	job = dispatch_job_restore(pool, r);
	if (job->state == JOB_RUNNING) {
		job->worker = -1;
		if (job->attempts >= pool->pc->max_attempts) {
			free(job->error);
			xasprintf(&job->error, "mpsup stopped while the job was "
			    "running (after %u attempt%s)", job->attempts,
			    job->attempts == 1 ? "" : "s");
			job_set_state(job, JOB_FAILED, now);
			dispatch_retain(job);
			rc->failed++;
			return;
		}
		pool->stats.retried++;
		job_set_state(job, JOB_QUEUED, now);
		rc->interrupted++;
	} else
		rc->queued++;
	TAILQ_INSERT_TAIL(&pool->queue, job, entry);
	pool->queue_len++;
}

/* A finished record is kept until result_ttl after it finished. */
static void
dispatch_recover_finished_cb(const struct store_record *r, void *arg)
{
	struct dispatch_recovery	*rc = arg;
	struct pool			*pool;

	if ((pool = dispatch_pool_find(r->pool)) == NULL ||
	    r->state < JOB_DONE || r->state >= JOB_NSTATES) {
		rc->unknown++;
		return;
	}
	if (r->finished_at + d.sv->cfg->result_ttl <= ev_now(d.sv->loop) ||
	    job_table_find(r->id, JOB_ID_LEN) != NULL) {
		store_release(d.store, r->seg);
		return;
	}
	dispatch_retain(dispatch_job_restore(pool, r));
	rc->finished++;
}

static void
dispatch_recover_cb(const struct store_record *r, void *arg)
{
	if (r->state == JOB_QUEUED || r->state == JOB_RUNNING)
		dispatch_recover_unfinished_cb(r, arg);
	else
		dispatch_recover_finished_cb(r, arg);
}

/*
 * Read the store back before anything is served: finished records first
 * (in order of finish time, so that retention prunes the oldest), then
 * the unfinished jobs in submission order.
 */
int
dispatch_recover(char **cause)
{
	struct dispatch_recovery	 rc;

	if (d.store == NULL)
		return 0;
	memset(&rc, 0, sizeof rc);
	if (store_load(d.store, dispatch_recover_cb, &rc, cause) == -1)
		return -1;
	if (rc.queued + rc.interrupted + rc.failed + rc.finished > 0)
		log_info("store: recovered %zu queued job%s, %zu interrupted "
		    "(retried), %zu failed after their last attempt, %zu "
		    "finished record%s", rc.queued, rc.queued == 1 ? "" : "s",
		    rc.interrupted, rc.failed, rc.finished,
		    rc.finished == 1 ? "" : "s");
	if (rc.unknown > 0)
		log_warnx("store: %zu job%s of pools not in the config left "
		    "untouched in the store", rc.unknown,
		    rc.unknown == 1 ? "" : "s");
	return 0;
}
