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
#include "supervisor/worker.h"

/* How much longer than job_timeout an exec worker gets to report it. */
#define DISPATCH_EXEC_GRACE	5.0

/* What the engine keeps about one worker (worker_data()). */
struct dispatch_worker {
	struct worker		*w;
	struct pool		*pool;
	struct job_list		 inflight;	/* sent, no result yet */
	int			 ninflight;
	long			 assigned;	/* jobs sent to this process */
	long			 jobs_done;
	int			 on_ready;	/* in pool->ready */
	int			 recycle;	/* take no more jobs */
	struct job		*culprit;	/* the job that overran */
	TAILQ_ENTRY(dispatch_worker) ready_entry;
};

static struct {
	const struct dispatch_env *env;
	struct job_list		 finished;	/* oldest first */
	size_t			 nfinished;
	ev_timer		 prune_timer;
} d;

static void	dispatch_prune_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_retry_cb(struct ev_loop *, ev_timer *, int);

void
dispatch_init(const struct dispatch_env *env, struct store *store)
{
	d.env = env;
	TAILQ_INIT(&d.finished);
	ev_timer_init(&d.prune_timer, dispatch_prune_cb, 0, 0);
	dispatch_store_init(env, store);
}

/* The engine's data about w (NULL before its first start). */
static struct dispatch_worker *
dispatch_dw(const struct worker *w)
{
	return worker_data(w);
}

/* Tell the worker how many jobs it has in flight (BUSY or READY). */
static void
dispatch_dw_count(struct dispatch_worker *dw)
{
	worker_set_inflight(dw->w, dw->ninflight);
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

	ev_timer_stop(d.env->loop, &d.prune_timer);
	dispatch_store_shutdown();
	while ((job = TAILQ_FIRST(&d.finished)) != NULL) {
		TAILQ_REMOVE(&d.finished, job, entry);
		job_table_remove(job);
		job_free(job);
	}
	for (i = 0; i < (*d.env->npools); i++) {
		pool = (*d.env->pools)[i];
		while ((job = TAILQ_FIRST(&pool->queue)) != NULL) {
			TAILQ_REMOVE(&pool->queue, job, entry);
			job_table_remove(job);
			job_free(job);
		}
		for (j = 0; j < pool->nslots; j++) {
			struct dispatch_worker *dw =
			    dispatch_dw(pool_worker(pool, j));
			if (dw == NULL)
				continue;
			while ((job = TAILQ_FIRST(&dw->inflight)) != NULL) {
				TAILQ_REMOVE(&dw->inflight, job, entry);
				job_table_remove(job);
				job_free(job);
			}
			dw->ninflight = 0;
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

	for (i = 0; i < (*d.env->npools); i++)
		n += (*d.env->pools)[i]->jobs.state[JOB_QUEUED] +
		    (*d.env->pools)[i]->jobs.state[JOB_RUNNING];
	return n;
}

static void
dispatch_timer_stop(struct job *job)
{
	if (job->timer != NULL) {
		ev_timer_stop(d.env->loop, job->timer);
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
	ev_timer_start(d.env->loop, job->timer);
}

struct job *
dispatch_submit(struct pool *pool, const char *data, size_t len,
    const char *key, const char **err)
{
	struct job	*job;

	if (key != NULL && (job = job_key_find(key)) != NULL)
		return job;
	if ((*d.env->stopping)) {
		pool->stats.rejected++;
		*err = "shutting_down";
		return NULL;
	}
	if ((long)(pool->jobs.state[JOB_QUEUED] + pool->pending_len) >=
	    pool->pc->max_queue) {
		pool->stats.rejected++;
		*err = "queue_full";
		return NULL;
	}
	job = job_new(&pool->jobs, data, len, ev_now(d.env->loop));
	if (key != NULL)
		job_key_set(job, key);
	if (dispatch_store_get() != NULL) {
		dispatch_pending_add(job);
		return job;
	}
	pool->stats.submitted++;
	pool->jobs.state[JOB_QUEUED]++;
	job_table_add(job);
	TAILQ_INSERT_TAIL(&pool->queue, job, entry);
	pool->queue_len++;
	return job;
}

static void
dispatch_ready_add(struct dispatch_worker *dw)
{
	if (!dw->on_ready) {
		TAILQ_INSERT_TAIL(&dw->pool->ready, dw, ready_entry);
		dw->on_ready = 1;
	}
}

static void
dispatch_ready_remove(struct dispatch_worker *dw)
{
	if (dw->on_ready) {
		TAILQ_REMOVE(&dw->pool->ready, dw, ready_entry);
		dw->on_ready = 0;
	}
}

void
dispatch_flush(void)
{
	worker_flush_all(d.env->wenv);
}

int
dispatch_pool_inflight(const struct pool *pool)
{
	struct dispatch_worker	*dw;
	int			 i, n = 0;

	for (i = 0; i < pool->nslots; i++)
		if ((dw = dispatch_dw(pool_worker(pool, i))) != NULL)
			n += dw->ninflight;
	return n;
}

void
dispatch_worker_info(const struct worker *w, long *jobs_done, int *inflight,
    const char **job)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	*jobs_done = dw != NULL ? dw->jobs_done : 0;
	*inflight = dw != NULL ? dw->ninflight : 0;
	*job = dw != NULL && dw->ninflight > 0 ?
	    TAILQ_FIRST(&dw->inflight)->id : NULL;
}

/* Kill a worker because of one of its jobs, which its death is charged to. */
static void
dispatch_worker_fail(struct worker *w, const char *why, struct job *culprit)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	if (!worker_alive(w))
		return;
	if (dw->culprit == NULL)
		dw->culprit = culprit;
	worker_fail(w, why);
}

/* A running job's time is up. */
static void
dispatch_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job = t->data;
	struct worker	*w = job->runner;
	char		*why;
	struct pool	*pool = job_pool(job);

	dispatch_timer_stop(job);
	if (w == NULL || job->state != JOB_RUNNING)
		return;
	if (pool->pc->type == POOL_TYPE_EXEC)
		xasprintf(&why, "exec worker did not report job %s within "
		    "%.1fs of its timeout", job->id, DISPATCH_EXEC_GRACE);
	else
		xasprintf(&why, "job %s exceeded job_timeout (%.3fs)", job->id,
		    pool->pc->job_timeout);
	dispatch_worker_fail(w, why, job);
	free(why);
}

/* Send one job to a worker with room. */
static void
dispatch_send(struct dispatch_worker *dw, struct job *job)
{
	struct pool		*pool = dw->pool;
	struct pool_config	*pc = pool->pc;
	double			 now = ev_now(d.env->loop), timeout_ms = 0;

	job->attempts++;
	if (job->attempts == 1)
		hist_add(&pool->stats.wait, now - job->submitted_at);
	job->worker = (int16_t)worker_index(dw->w);
	job->runner = dw->w;
	TAILQ_INSERT_TAIL(&dw->inflight, job, entry);
	dw->ninflight++;
	dw->assigned++;
	job_set_state(job, JOB_RUNNING, now);
	dispatch_store_started();
	dispatch_dw_count(dw);

	if (pc->job_timeout > 0) {
		if (pc->type == POOL_TYPE_EXEC) {
			timeout_ms = pc->job_timeout * 1000.0;
			dispatch_timer_start(job, pc->job_timeout +
			    DISPATCH_EXEC_GRACE, dispatch_timeout_cb);
		} else
			dispatch_timer_start(job, pc->job_timeout,
			    dispatch_timeout_cb);
	}
	worker_send_job(dw->w, job->id, JOB_ID_LEN, job->data, job->data_len,
	    timeout_ms);

	if (dw->ninflight >= pc->prefetch)
		dispatch_ready_remove(dw);
	if (pc->max_jobs_per_worker > 0 &&
	    dw->assigned >= pc->max_jobs_per_worker) {
		dw->recycle = 1;
		dispatch_ready_remove(dw);
	}
}

void
dispatch_run(struct pool *pool)
{
	struct dispatch_worker	*dw;
	struct job		*job;

	if (pool->paused || *d.env->stopping)
		return;
	while ((job = TAILQ_FIRST(&pool->queue)) != NULL &&
	    (dw = TAILQ_FIRST(&pool->ready)) != NULL) {
		TAILQ_REMOVE(&pool->queue, job, entry);
		pool->queue_len--;
		dispatch_send(dw, job);
		/* Round robin among workers that still have room. */
		if (dw->on_ready && TAILQ_NEXT(dw, ready_entry) != NULL) {
			TAILQ_REMOVE(&pool->ready, dw, ready_entry);
			TAILQ_INSERT_TAIL(&pool->ready, dw, ready_entry);
		}
	}
	if (pool->queue_len > 0 && pool->pc->dynamic)
		pool_grow(pool, pool->queue_len);
}

/* A worker process started: it has room. */
static void
dispatch_worker_ready(struct pool *pool, struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	if (dw == NULL) {
		dw = xcalloc(1, sizeof *dw);
		dw->w = w;
		worker_set_data(w, dw);
	}
	dw->pool = pool;
	TAILQ_INIT(&dw->inflight);
	dw->ninflight = 0;
	dw->assigned = 0;
	dw->recycle = 0;
	dw->culprit = NULL;
	dispatch_ready_add(dw);
	dispatch_run(pool);
}

/* Send a worker nothing more and stop it once its jobs are done. */
static void
dispatch_worker_drain(struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	dispatch_ready_remove(dw);
	dw->recycle = 1;
	if (dw->ninflight == 0)
		worker_stop(w);
}

/* A worker process died or is being killed: send it nothing more. */
static void
dispatch_worker_lost(struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	if (dw != NULL)
		dispatch_ready_remove(dw);
}

static int
dispatch_worker_recycling(struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	return dw != NULL && dw->recycle;
}

static void
dispatch_worker_free(struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	if (dw != NULL) {
		dispatch_ready_remove(dw);
		free(dw);
		worker_set_data(w, NULL);
	}
}

/* The job to tag a worker's log lines with: the one in flight, if one. */
static const char *
dispatch_worker_job(struct worker *w)
{
	struct dispatch_worker	*dw = dispatch_dw(w);

	return dw != NULL && dw->ninflight == 1 ?
	    TAILQ_FIRST(&dw->inflight)->id : NULL;
}

/* Put a job back at the head of its queue (now or after a delay). */
static void
dispatch_requeue_now(struct job *job)
{
	struct pool	*pool = job_pool(job);

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
	if (job_pool(job)->removed)
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
	struct pool_config	*pc = job_pool(job)->pc;
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
	if (job_pool(job)->removed) {
		dispatch_finish(job, JOB_CANCELLED,
		    xstrdup("pool removed by a configuration reload"));
		return;
	}
	job_set_state(job, JOB_QUEUED, ev_now(d.env->loop));
	if (counts) {
		job_pool(job)->stats.retried++;
		delay = pc->retry_delay;
		for (unsigned i = 1; i < job->attempts && delay < 3600; i++)
			delay *= 2;
	} else
		delay = 0;
	log_info("%s: job %s will be retried%s (%s)", job_pool(job)->name, job->id,
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
static void
dispatch_worker_gone(struct worker *w, const char *why)
{
	struct dispatch_worker	*dw = dispatch_dw(w);
	struct job		*job, *charged;
	enum job_state		 end;

	if (dw == NULL)
		return;
	if (why == NULL)
		why = "worker died";
	dispatch_worker_lost(w);
	charged = dw->culprit != NULL ? dw->culprit :
	    TAILQ_FIRST(&dw->inflight);
	/* Newest first: each goes back to the head, so they keep their order. */
	while ((job = TAILQ_LAST(&dw->inflight, job_list)) != NULL) {
		TAILQ_REMOVE(&dw->inflight, job, entry);
		dw->ninflight--;
		end = job == dw->culprit &&
		    job_pool(job)->pc->type == POOL_TYPE_STREAM &&
		    !job->cancel_sent ? JOB_TIMED_OUT : JOB_FAILED;
		dispatch_attempt_failed(job, end, why, job == charged);
	}
	dw->culprit = NULL;
}

/* Keep a finished record for result_ttl, at most result_max of them. */
void
dispatch_retain(struct job *job)
{
	struct config	*cfg = *d.env->cfg;
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
		    cfg->result_ttl - ev_now(d.env->loop) + 0.001, 0);
		ev_timer_start(d.env->loop, &d.prune_timer);
	}
}

/* Drop records older than result_ttl; re-arm for the next oldest. */
static void
dispatch_prune_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job;
	double		 ttl = (*d.env->cfg)->result_ttl, now = ev_now(loop);

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
	struct pool_stats	*st = &job_pool(job)->stats;
	double			 now = ev_now(d.env->loop);

	if (job->state == JOB_RUNNING)
		hist_add(&st->run, now - job->started_at);
	rate_add(&st->finished, now);
	dispatch_timer_stop(job);
	free(job->error);
	job->error = error;
	job->delayed = 0;
	job_set_state(job, state, ev_now(d.env->loop));
	dispatch_retain(job);
}

/* After a result: room for another job, or time to recycle. */
static void
dispatch_worker_after_result(struct dispatch_worker *dw)
{
	enum worker_state	state;

	dispatch_dw_count(dw);
	if (dw->recycle) {
		if (dw->ninflight == 0) {
			log_info("%s.%d: recycling after %ld jobs "
			    "(max_jobs_per_worker)", dw->pool->name,
			    worker_index(dw->w), dw->assigned);
			worker_stop(dw->w);
		}
		return;
	}
	state = worker_state(dw->w);
	if (state == WORKER_READY || state == WORKER_BUSY)
		dispatch_ready_add(dw);
	if (*d.env->stopping)
		d.env->job_ended(d.env->arg);
	else
		dispatch_run(dw->pool);
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
		    job_pool(job)->pc->job_timeout);
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

/* One line from a worker's result channel; -1 if it is malformed. */
static int
dispatch_result(struct worker *w, const char *line, size_t len)
{
	struct dispatch_worker	*dw = dispatch_dw(w);
	struct jobline_result	 rl;
	struct jsontext_span	 id, res;
	struct job		*job;
	enum job_state		 state;
	char			*error = NULL;

	if (jobline_parse_result(line, len, &rl) == -1)
		return -1;
	id = rl.id;
	/* Workers answer in order, mostly: try the oldest job in flight first. */
	job = TAILQ_FIRST(&dw->inflight);
	if (job == NULL || id.len != JOB_ID_LEN + 2 ||
	    memcmp(job->id, id.p + 1, JOB_ID_LEN) != 0)
		job = job_table_find(id.p + 1, id.len - 2);
	if (job == NULL || job->runner != w || job->state != JOB_RUNNING)
		return -1;
	if (rl.ok) {
		res = rl.result;
		if (dw->pool->pc->type == POOL_TYPE_EXEC) {
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
	TAILQ_REMOVE(&dw->inflight, job, entry);
	dw->ninflight--;
	dw->jobs_done++;
	dispatch_finish(job, state, error);
	dispatch_worker_after_result(dw);
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
			TAILQ_REMOVE(&job_pool(job)->queue, job, entry);
			job_pool(job)->queue_len--;
		}
		dispatch_finish(job, JOB_CANCELLED, NULL);
		return 0;
	}
	/* Running. */
	w = job->runner;
	if (job->cancel_sent || w == NULL)
		return 0;
	job->cancel_sent = 1;
	if (job_pool(job)->pc->type != POOL_TYPE_EXEC ||
	    worker_send_cancel(w, job->id) == -1)
		dispatch_worker_fail(w, "job cancelled while running", job);
	return 0;
}

static void
dispatch_room(struct pool *pool)
{
	dispatch_run(pool);
}

static void
dispatch_pool_stopped(struct pool *pool)
{
	d.env->pool_stopped(d.env->arg, pool);
}

const struct pool_events dispatch_pool_events = {
	.worker_ready = dispatch_worker_ready,
	.worker_result = dispatch_result,
	.worker_job = dispatch_worker_job,
	.worker_lost = dispatch_worker_lost,
	.worker_gone = dispatch_worker_gone,
	.worker_drain = dispatch_worker_drain,
	.worker_recycling = dispatch_worker_recycling,
	.worker_free = dispatch_worker_free,
	.room = dispatch_room,
	.stopped = dispatch_pool_stopped,
};
