/*
 * The job engine's durable store (see dispatch.h and store.h): pending
 * submits, group commit, commit failures and recovery at start.
 *
 * With a durable store a submitted job waits in the pending list, out of
 * every queue and out of the id table, until dispatch_commit() (run once
 * per loop iteration, before the worker buffers are written) has committed
 * it (with the state changes that are due): only then is it queued,
 * counted and acknowledged. A failed commit refuses the pending jobs
 * (counted as rejected) and keeps the state changes of acknowledged jobs
 * for the next attempt.
 *
 * At start, dispatch_recover() loads the store's jobs back into the
 * queues and the finished records (dispatch.c keeps them from there on).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/dispatch.h"
#include "supervisor/dispatch_impl.h"
#include "supervisor/job.h"
#include "supervisor/pool.h"
#include "store/store.h"

/* After a failed commit, state changes alone are retried this much later. */
#define DISPATCH_STORE_RETRY	0.25
/*
 * A job's end, and the deletion of dead segments, acknowledge nothing, so
 * when no job started they wait this long at most for a commit to go in.
 * (A start is never delayed: see dispatch_commit.)
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
	const struct dispatch_env *env;
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
	unsigned long long	 commits;
	unsigned long long	 commit_errors;
	int			 started;	/* a job started since */
	ev_timer		 run_timer;	/* dispatch what was committed */
} d;

static void	dispatch_store_retry_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_store_delay_cb(struct ev_loop *, ev_timer *, int);
static void	dispatch_store_run_cb(struct ev_loop *, ev_timer *, int);

/* Start the store half; a store that is not durable counts as none. */
void
dispatch_store_init(const struct dispatch_env *env, struct store *store)
{
	d.env = env;
	d.store = store != NULL && store_durable(store) ? store : NULL;
	TAILQ_INIT(&d.pending);
	TAILQ_INIT(&d.acks);
	ev_timer_init(&d.retry_timer, dispatch_store_retry_cb, 0, 0);
	ev_timer_init(&d.delay_timer, dispatch_store_delay_cb, 0, 0);
	ev_timer_init(&d.run_timer, dispatch_store_run_cb, 0, 0);
	/* A read-only store can take no state change: none is kept. */
	job_changed_track(d.store != NULL && !store_readonly(d.store));
}

/* Drop the uncommitted submits and the commit buffers (at exit). */
void
dispatch_store_shutdown(void)
{
	struct job	*job;

	ev_timer_stop(d.env->loop, &d.retry_timer);
	ev_timer_stop(d.env->loop, &d.delay_timer);
	ev_timer_stop(d.env->loop, &d.run_timer);
	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		job_free(job);
	}
	free(d.putseg);
	d.putseg = NULL;
	d.putseg_cap = 0;
	job_changed_track(0);
}

struct store *
dispatch_store_get(void)
{
	return d.store;
}

/* A submitted job waits in the pending list for the next commit. */
void
dispatch_pending_add(struct job *job)
{
	if (TAILQ_EMPTY(&d.pending))
		d.pending_since = ev_time();
	TAILQ_INSERT_TAIL(&d.pending, job, entry);
	job_pool(job)->pending_len++;
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
	r->pool = job_pool(job)->name;
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
	double			 now = ev_now(d.env->loop);
	size_t			 n = 0;

	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		job_pool(job)->pending_len--;
		job_pool(job)->stats.rejected++;
		job_free(job);
		n++;
	}
	/* One line per failure episode, then one every 10 s at most. */
	d.refused += n;
	if (!d.failing || now - d.failed_log_at >= 10.0) {
		log_warnx("store: %s (%zu submitted job%s refused with "
		    "store_error%s)", cause, d.refused, d.refused == 1 ? "" :
		    "s", store_readonly(d.store) ? "" : "; state changes are "
		    "kept for the next commit");
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
		ev_timer_start(d.env->loop, &d.retry_timer);
	}
}

/*
 * One group commit: the pending submits go in one transaction, together
 * with the state changes and the deletion of dead segments when these are
 * due (a job started since the last write, or DISPATCH_STORE_DELAY passed
 * since the first change; `all` writes them now). After a failure, an
 * iteration with no new submit does not try again before the retry timer.
 * Returns 0, or -1 if it failed (the pending jobs are then refused).
 */
static int
dispatch_commit_once(int all)
{
	struct dispatch_ack	*a;
	struct job		*job;
	struct pool		*pool;
	struct job		**changed;
	size_t			 nchanged, i, k = 0;
	char			*cause = NULL;
	int			 changes, queued = 0;

	changed = job_changed_list(&nchanged);
	changes = nchanged > 0 || store_has_garbage(d.store);
	if (changes && !all && !d.changes_due && !d.started) {
		if (!ev_is_active(&d.delay_timer)) {
			ev_timer_set(&d.delay_timer, DISPATCH_STORE_DELAY, 0);
			ev_timer_start(d.env->loop, &d.delay_timer);
		}
		changes = 0;
	}
	if (TAILQ_EMPTY(&d.pending) && !changes)
		return 0;
	if (TAILQ_EMPTY(&d.pending) && ev_is_active(&d.retry_timer) && !all)
		return 0;
	if (dispatch_store_write(changes, &cause) == -1) {
		store_rollback(d.store);
		d.commit_errors++;
		dispatch_store_failed(cause);
		free(cause);
		return -1;
	}
	d.commits++;
	if (d.failing) {
		log_info("store: commits succeed again");
		d.failing = 0;
		ev_timer_stop(d.env->loop, &d.retry_timer);
	}
	/* Each job's new record supersedes the one it had. */
	if (changes) {
		for (i = 0; i < nchanged; i++, k++) {
			store_release(d.store, changed[i]->seg);
			changed[i]->seg = d.putseg[k];
		}
		job_changed_clear();
		d.changes_due = 0;
		d.started = 0;
		ev_timer_stop(d.env->loop, &d.delay_timer);
	}
	while ((job = TAILQ_FIRST(&d.pending)) != NULL) {
		TAILQ_REMOVE(&d.pending, job, entry);
		pool = job_pool(job);
		pool->pending_len--;
		job->seg = d.putseg[k++];
		pool->stats.submitted++;
		pool->jobs.state[JOB_QUEUED]++;
		job_table_add(job);
		if (pool->removed) {
			dispatch_finish(job, JOB_CANCELLED,
			    xstrdup("pool removed by a configuration reload"));
			continue;
		}
		TAILQ_INSERT_TAIL(&pool->queue, job, entry);
		pool->queue_len++;
		queued = 1;
	}
	while ((a = TAILQ_FIRST(&d.acks)) != NULL) {
		TAILQ_REMOVE(&d.acks, a, entry);
		a->cb(a->arg, NULL);
		free(a);
	}
	/* Their starts go in the next commit, before they reach a worker. */
	if (queued && !ev_is_active(&d.run_timer)) {
		ev_timer_set(&d.run_timer, 0, 0);
		ev_timer_start(d.env->loop, &d.run_timer);
	}
	return 0;
}

/* The next loop turn: hand the jobs the last commit queued to workers. */
static void
dispatch_store_run_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	size_t	i;

	for (i = 0; i < (*d.env->npools); i++)
		if ((*d.env->pools)[i]->queue_len > 0)
			dispatch_run((*d.env->pools)[i]);
}

/*
 * A job is written to its worker's pipe only after the commit that
 * records its start (the prepare watcher commits, then flushes): so a
 * job that was running when mpsup died always has that attempt counted,
 * and a job that kills mpsup cannot do it forever. Starts are therefore
 * never delayed, and the jobs a commit queued are handed to workers in
 * the next loop turn, whose commit records their starts.
 */
void
dispatch_commit(int all)
{
	if (d.store != NULL)
		(void)dispatch_commit_once(all);
}

void
dispatch_store_started(void)
{
	d.started = 1;
}

void
dispatch_store_stats(struct dispatch_store_stats *st)
{
	memset(st, 0, sizeof *st);
	st->durable = d.store != NULL;
	st->failing = d.failing;
	st->commits = d.commits;
	st->commit_errors = d.commit_errors;
	st->segments = d.store != NULL ? store_segments(d.store) : 0;
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

struct dispatch_recovery {
	size_t	queued, interrupted, failed, finished, unknown;
};

static struct pool *
dispatch_pool_find(const char *name)
{
	size_t	i;

	for (i = 0; i < (*d.env->npools); i++)
		if (!(*d.env->pools)[i]->removed &&
		    strcmp((*d.env->pools)[i]->name, name) == 0)
			return (*d.env->pools)[i];
	return NULL;
}

/* A job as the store has it, known again but in no list yet. */
static struct job *
dispatch_job_restore(struct pool *pool, const struct store_record *r)
{
	struct job	*job;

	job = job_new(&pool->jobs, r->data, r->data_len, r->submitted_at);
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
	pool->jobs.state[job->state]++;
	job_table_add(job);
	return job;
}

/*
 * A queued job goes back to the tail of its queue (records come in id order,
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
	double				 now = ev_now(d.env->loop);

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
	if (r->finished_at + (*d.env->cfg)->result_ttl <= ev_now(d.env->loop) ||
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
	size_t				 kept;

	if (d.store == NULL)
		return 0;
	memset(&rc, 0, sizeof rc);
	if (store_load(d.store, (size_t)(*d.env->cfg)->result_max,
	    dispatch_recover_cb, &rc, cause) == -1)
		return -1;
	/*
	 * A pruned record may come back (its segment held others still
	 * kept) and be pruned again at once: count what is kept.
	 */
	kept = dispatch_finished_count();
	if (rc.queued + rc.interrupted + rc.failed + kept > 0)
		log_info("store: recovered %zu queued job%s, %zu interrupted "
		    "(retried), %zu failed after their last attempt; %zu "
		    "finished record%s kept", rc.queued,
		    rc.queued == 1 ? "" : "s", rc.interrupted, rc.failed, kept,
		    kept == 1 ? "" : "s");
	if (rc.unknown > 0)
		log_warnx("store: %zu job%s of pools not in the config left "
		    "untouched in the store", rc.unknown,
		    rc.unknown == 1 ? "" : "s");
	return 0;
}
