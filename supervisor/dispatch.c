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
 * Where jobs wait, and what is kept of them, is the queue's (store/
 * queue.h): the engine claims jobs from it, hands them to workers, and
 * gives them back to it (requeue) or ends them (finished).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/jobline.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/dispatch_timer.h"
#include "supervisor/pool.h"
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
	struct queue		*q;
} d;

static void	dispatch_finish(struct job *, enum job_state, char *);

void
dispatch_init(const struct dispatch_env *env)
{
	d.env = env;
	d.q = env->queue;
	dispatch_timer_init(env->loop);
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

/* Free the jobs in flight (at exit; the queue frees the others). */
void
dispatch_shutdown(void)
{
	struct dispatch_worker	*dw;
	struct job		*job;
	struct pool		*pool;
	size_t			 i;
	int			 j;

	for (i = 0; i < (*d.env->npools); i++) {
		pool = (*d.env->pools)[i];
		for (j = 0; j < pool->nslots; j++) {
			if ((dw = dispatch_dw(pool_worker(pool, j))) == NULL)
				continue;
			while ((job = TAILQ_FIRST(&dw->inflight)) != NULL) {
				TAILQ_REMOVE(&dw->inflight, job, entry);
				dispatch_timer_stop(job);
				job_table_remove(job);
				job_free(job);
			}
			dw->ninflight = 0;
		}
	}
}

size_t
dispatch_unfinished(void)
{
	size_t	i, n = 0;

	for (i = 0; i < (*d.env->npools); i++)
		n += (*d.env->pools)[i]->q.jobs.state[JOB_QUEUED] +
		    (*d.env->pools)[i]->q.jobs.state[JOB_DELAYED] +
		    (*d.env->pools)[i]->q.jobs.state[JOB_RUNNING];
	return n;
}

struct job *
dispatch_submit(struct pool *pool, const char *data, size_t len,
    const char *client, const char *key, const struct job_flow_spec *flow,
    const char **err)
{
	struct job	*job;

	if (key != NULL && (job = queue_lookup_key(d.q, client, key)) != NULL)
		return job;
	if (*d.env->stopping) {
		pool->q.rejected++;
		*err = "shutting_down";
		return NULL;
	}
	job = job_new(&pool->q.jobs, data, len, ev_now(d.env->loop));
	job->client = job_client_hold(client);
	if (key != NULL)
		job_key_set(job, key);
	if (flow != NULL)
		job_flow_set(job, flow);
	if (queue_push(d.q, &pool->q, job, err) == -1)
		return NULL;
	return job;
}

struct queue *
dispatch_queue(void)
{
	return d.q;
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
	dispatch_timer_flushed();
}

void
dispatch_sealed(void *arg)
{
	worker_seal_all(d.env->wenv);
	dispatch_timer_sealed();
}

void
dispatch_landed(void *arg)
{
	worker_flush_sealed(d.env->wenv);
	dispatch_timer_landed();
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

/* job_timeout, and for an exec worker the time it has to report it. */
static double
dispatch_timeout(const struct pool_config *pc)
{
	return pc->job_timeout + (pc->type == POOL_TYPE_EXEC ?
	    DISPATCH_EXEC_GRACE : 0);
}

/* A running job's time is up. */
static void
dispatch_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct job	*job = t->data;
	struct worker	*w = job_runner(job);
	char		*why;
	struct pool	*pool = job_pool(job);

	if (dispatch_timer_held(t))
		return;
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
		hist_add(&pool->stats.wait, now - job_ready_at(job));
	job->worker = (int16_t)worker_index(dw->w);
	job_set_runner(job, dw->w);
	TAILQ_INSERT_TAIL(&dw->inflight, job, entry);
	dw->ninflight++;
	dw->assigned++;
	job_set_state(job, JOB_RUNNING, now);
	queue_started(d.q, job);
	dispatch_dw_count(dw);

	dispatch_timer_line();
	if (pc->job_timeout > 0) {
		if (pc->type == POOL_TYPE_EXEC)
			timeout_ms = pc->job_timeout * 1000.0;
		dispatch_timer_start(job, dispatch_timeout(pc),
		    dispatch_timeout_cb);
	}
	worker_send_job(dw->w, job->id, JOB_ID_LEN, job_data(job),
	    job->data_len, timeout_ms);

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
	while ((dw = TAILQ_FIRST(&pool->ready)) != NULL &&
	    queue_claim(d.q, &pool->q, &job, 1) == 1) {
		dispatch_send(dw, job);
		/* Round robin among workers that still have room. */
		if (dw->on_ready && TAILQ_NEXT(dw, ready_entry) != NULL) {
			TAILQ_REMOVE(&pool->ready, dw, ready_entry);
			TAILQ_INSERT_TAIL(&pool->ready, dw, ready_entry);
		}
	}
	if (pool->q.queue_len > 0 && pool->pc->dynamic)
		pool_grow(pool, pool->q.queue_len);
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
	if (d.env->worker_ready != NULL)
		d.env->worker_ready(d.env->arg, pool);
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

/* End a job of a removed pool's queue as cancelled. */
static void
dispatch_cancel_one(struct job *job, void *why)
{
	dispatch_finish(job, JOB_CANCELLED, xstrdup(why));
}

void
dispatch_cancel_queue(struct pool *pool, const char *why)
{
	queue_drain(d.q, &pool->q, dispatch_cancel_one, (void *)why);
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
	job_set_runner(job, NULL);
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
	delay = 0;
	if (counts) {
		delay = pc->retry_delay;
		for (unsigned i = 1; i < job->attempts && delay < 3600; i++)
			delay *= 2;
	}
	log_info("%s: job %s will be retried%s (%s)", job_pool(job)->name,
	    job->id, delay > 0 ? " after a delay" : "", why);
	queue_requeue(d.q, job, delay, counts);
	if (delay <= 0)
		dispatch_run(job_pool(job));
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

/* End a job in a terminal state (takes ownership of error). */
static void
dispatch_finish(struct job *job, enum job_state state, char *error)
{
	struct pool_stats	*st = &job_pool(job)->stats;
	double			 now = ev_now(d.env->loop), run = -1;

	if (job->state == JOB_RUNNING)
		hist_add(&st->run, run = now - job_started_at(job));
	rate_add(&st->finished, now);
	history_add(&st->hour, now, state == JOB_DONE ? HISTORY_DONE :
	    state == JOB_CANCELLED ? HISTORY_CANCELLED : HISTORY_FAILED, run);
	dispatch_timer_stop(job);
	job_set_error(job, error);
	/* Known before waiters read the record; queue_finished keeps it. */
	job->dead = (uint8_t)queue_dead_letter(job, state);
	job_set_state(job, state, ev_now(d.env->loop));
	queue_finished(d.q, job);
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
	job_set_result(job, b.data);

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
	if (job == NULL || job_runner(job) != w || job->state != JOB_RUNNING)
		return -1;
	if (rl.ok) {
		res = rl.result;
		if (dw->pool->pc->type == POOL_TYPE_EXEC) {
			if (dispatch_exec_result(job, &res, &state,
			    &error) == -1)
				return -1;
		} else {
			job_set_result_text(job, res.p, res.len);
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
	if (job->state == JOB_QUEUED || job->state == JOB_DELAYED) {
		if (queue_cancel(d.q, job) == -1) {
			*err = "job is not in its queue";
			return -1;
		}
		dispatch_finish(job, JOB_CANCELLED, NULL);
		return 0;
	}
	/* Running. */
	w = job_runner(job);
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

static void
dispatch_pool_unused(struct pool *pool)
{
	d.env->pool_unused(d.env->arg, pool);
}

/* The queue: jobs of a pool can be claimed now. */
static void
dispatch_runnable(struct queue_pool *qp, void *arg)
{
	dispatch_run(pool_of_queue(qp));
}

/* The queue ends a job on its own. */
static void
dispatch_queue_finish(struct job *job, enum job_state state, char *error,
    void *arg)
{
	dispatch_finish(job, state, error);
}

/* The queue: another node asks to cancel a job that runs here. */
static void
dispatch_queue_cancel(struct job *job, void *arg)
{
	const char	*err;

	if (dispatch_cancel(job, &err) == -1)
		log_info("job %s: not cancelled: %s", job->id, err);
}

const struct queue_events dispatch_queue_events = {
	.runnable = dispatch_runnable,
	.finish = dispatch_queue_finish,
	.cancel = dispatch_queue_cancel,
};

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
	.unused = dispatch_pool_unused,
};
