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
 * With a durable store, submits wait for their commit and every state
 * change is written by a group commit: that half is in dispatch_store.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/jobline.h"
#include "ipc/jsontext.h"
#include "supervisor/dispatch.h"
#include "supervisor/dispatch_impl.h"
#include "supervisor/job.h"
#include "supervisor/pool.h"
#include "store/store.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

/* How much longer than job_timeout an exec worker gets to report it. */
#define DISPATCH_EXEC_GRACE	5.0

static struct {
	struct supervisor	*sv;
	struct job_list		 finished;	/* oldest first */
	size_t			 nfinished;
	ev_timer		 prune_timer;
	TAILQ_HEAD(, worker)	 dirty;
} d;

static void	dispatch_prune_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_retry_cb(struct ev_loop *, ev_timer *, int);

void
dispatch_init(struct supervisor *sv, struct store *store)
{
	d.sv = sv;
	TAILQ_INIT(&d.finished);
	TAILQ_INIT(&d.dirty);
	ev_timer_init(&d.prune_timer, dispatch_prune_cb, 0, 0);
	dispatch_store_init(sv, store);
}

/* Forget a job for good: out of the id table, the store and memory. */
static void
dispatch_forget(struct job *job)
{
	struct store	*store = dispatch_store_get();

	job_table_remove(job);
	if (store != NULL && job->seg != 0)
		store_release(store, job->seg);
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
	dispatch_store_shutdown();
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
dispatch_finished_count(void)
{
	return d.nfinished;
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
	if (dispatch_store_get() != NULL) {
		dispatch_pending_add(job);
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
	dispatch_store_started();
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
void
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
void
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
