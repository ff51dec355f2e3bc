/*
 * The queue seam (see queue.h): the calls dispatch makes, each forwarded
 * through the implementation's table, and the memory implementation,
 * whose in-memory queues the SQLite one (queue_sqlite.c) builds on.
 *
 * Memory: each pool's claimable jobs wait in the order of queue_flow.c;
 * a delayed job (its not_before ahead, or a retry's back-off) waits in
 * the due heap, then becomes claimable (a retry at the head of its
 * level); finished records are kept for result_ttl, result_max of them at
 * most, oldest first, with one timer for the oldest.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "store/queue.h"
#include "store/queue_impl.h"

static void	queue_prune_cb(struct ev_loop *, ev_timer *, int);

struct queue *
queue_new(struct ev_loop *loop, struct config *const *cfgp,
    const struct queue_events *ev, void *arg)
{
	struct queue	*q = xcalloc(1, sizeof *q);

	q->ops = &queue_memory_ops;
	q->loop = loop;
	q->cfgp = cfgp;
	q->ev = ev;
	q->arg = arg;
	TAILQ_INIT(&q->finished);
	TAILQ_INIT(&q->acks);
	queue_flow_init(q);
	ev_timer_init(&q->prune_timer, queue_prune_cb, 0, 0);
	q->prune_timer.data = q;
	return q;
}

struct queue *
queue_open(const char *store, int sync_full, int mode, struct ev_loop *loop,
    struct config *const *cfgp, const struct queue_events *ev, void *arg,
    char **cause)
{
	struct queue	*q = queue_new(loop, cfgp, ev, arg);

	if (strcmp(store, "memory") == 0)
		return q;
	if (strncmp(store, "sqlite:", 7) != 0) {
		xasprintf(cause, "store = %s: not memory or sqlite:PATH", store);
		free(q);
		return NULL;
	}
	if (queue_sqlite_open(q, store, sync_full, mode, cause) == -1) {
		free(q);
		return NULL;
	}
	return q;
}

void
queue_close(struct queue *q)
{
	if (q != NULL)
		q->ops->close(q);
}

const char *
queue_name(const struct queue *q)
{
	return q->ops->name;
}

int
queue_durable(const struct queue *q)
{
	return q->store != NULL;
}

int
queue_readonly(const struct queue *q)
{
	return q->readonly;
}

void
queue_pool_attach(struct queue *q, struct queue_pool *qp, const char *name,
    int exec)
{
	qp->jobs.name = name;
	qp->jobs.exec = exec;
	queue_flow_attach(q, qp);
	TAILQ_INIT(&qp->dead);
	qp->next = q->pools;
	q->pools = qp;
}

void
queue_pool_detach(struct queue *q, struct queue_pool *qp)
{
	struct queue_pool	**pp;

	for (pp = &q->pools; *pp != NULL; pp = &(*pp)->next)
		if (*pp == qp) {
			*pp = qp->next;
			break;
		}
	queue_flow_detach(q, qp);
	if (q->ops->pool_detach != NULL)
		q->ops->pool_detach(q, qp);
}

struct queue_pool *
queue_pool_find(struct queue *q, const char *name)
{
	struct queue_pool	*qp;

	for (qp = q->pools; qp != NULL; qp = qp->next)
		if (!qp->removed && strcmp(qp->jobs.name, name) == 0)
			return qp;
	return NULL;
}

int
queue_full(const struct queue_pool *qp)
{
	return (long)(qp->jobs.state[JOB_QUEUED] + qp->jobs.state[JOB_DELAYED] +
	    qp->pending_len) >= qp->max_queue;
}

/* The calls of queue.h, through the implementation's table. */

int
queue_push(struct queue *q, struct queue_pool *qp, struct job *job,
    const char **err)
{
	/* Not counted yet: it is counted where it is accepted. */
	if (job_x(job)->flow_ext != NULL &&
	    job_not_before(job) > ev_now(q->loop))
		job->state = JOB_DELAYED;
	q->pushes++;
	return q->ops->push(q, qp, job, err);
}

struct queue_fetch *
queue_fetch(struct queue *q, const char *id, size_t len, int watch,
    void (*cb)(void *, struct job *, const char *), void *arg)
{
	if (q->ops->fetch == NULL)
		return NULL;
	return q->ops->fetch(q, id, len, watch, cb, arg);
}

struct queue_fetch *
queue_cancel_remote(struct queue *q, const char *pool, const char *id,
    void (*cb)(void *, const char *, const char *), void *arg)
{
	if (q->ops->cancel_remote == NULL)
		return NULL;
	return q->ops->cancel_remote(q, pool, id, cb, arg);
}

int
queue_job_remote(const struct queue *q, const struct job *job)
{
	return q->ops->job_remote != NULL && q->ops->job_remote(q, job);
}

int
queue_job_pending(const struct queue *q, const struct job *job)
{
	return q->ops->job_pending(q, job);
}

size_t
queue_claim(struct queue *q, struct queue_pool *qp, struct job **out,
    size_t max)
{
	return q->ops->claim(q, qp, out, max);
}

void
queue_started(struct queue *q, struct job *job)
{
	q->ops->started(q, job);
}

void
queue_requeue(struct queue *q, struct job *job, double delay, int counts)
{
	q->ops->requeue(q, job, delay, counts);
}

int
queue_cancel(struct queue *q, struct job *job)
{
	return q->ops->cancel(q, job);
}

void
queue_finished(struct queue *q, struct job *job)
{
	q->ops->finished(q, job);
}

int
queue_dead_letter(const struct job *job, enum job_state state)
{
	return (state == JOB_FAILED || state == JOB_TIMED_OUT) &&
	    job_queue_pool(job)->dead_ttl > 0;
}

struct job *
queue_dead_next(const struct queue_pool *qp, const struct job *prev)
{
	return prev == NULL ? TAILQ_FIRST(&qp->dead) : TAILQ_NEXT(prev, entry);
}

void
queue_dead_release(struct queue *q, struct job *job)
{
	if (job->dead)
		q->ops->dead_release(q, job);
}

struct job *
queue_lookup(struct queue *q, const char *id, size_t len)
{
	return q->ops->lookup(q, id, len);
}

struct job *
queue_lookup_key(struct queue *q, const char *client, const char *key)
{
	return q->ops->lookup_key(q, client, key);
}

void
queue_commit(struct queue *q, int all)
{
	q->ops->commit(q, all);
}

void
queue_pipeline(struct queue *q, void (*committing)(void *),
    void (*committed)(void *), void *arg)
{
	if (q->ops->pipeline != NULL)
		q->ops->pipeline(q, committing, committed, arg);
}

int
queue_commit_busy(const struct queue *q)
{
	return q->ops->commit_busy != NULL && q->ops->commit_busy(q);
}

void
queue_commit_if_late(struct queue *q)
{
	q->ops->commit_if_late(q);
}

int
queue_recover(struct queue *q, unsigned (*max_attempts)(struct queue_pool *),
    char **cause)
{
	return q->ops->recover(q, max_attempts, cause);
}

void
queue_stats(const struct queue *q, struct queue_stats *st)
{
	memset(st, 0, sizeof *st);
	q->ops->stats(q, st);
}

size_t
queue_finished_count(const struct queue *q)
{
	return q->nfinished;
}

struct queue_ack *
queue_ack_new(struct queue *q, void (*cb)(void *, const char *), void *arg)
{
	struct queue_ack	*a = xcalloc(1, sizeof *a);

	a->cb = cb;
	a->arg = arg;
	a->in = &q->acks;
	a->mark = q->pushes;
	TAILQ_INSERT_TAIL(&q->acks, a, entry);
	return a;
}

void
queue_ack_cancel(struct queue *q, struct queue_ack *a)
{
	TAILQ_REMOVE(a->in, a, entry);
	free(a);
}

void
queue_acks_answer(struct queue_ack_list *list, const char *cause)
{
	struct queue_ack	*a;

	while ((a = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, a, entry);
		a->cb(a->arg, cause);
		free(a);
	}
}

void
queue_acks_done(struct queue *q, const char *cause)
{
	queue_acks_answer(&q->acks, cause);
}

void
queue_acks_move(struct queue *q, struct queue_ack_list *list)
{
	struct queue_ack	*a;

	while ((a = TAILQ_FIRST(&q->acks)) != NULL) {
		TAILQ_REMOVE(&q->acks, a, entry);
		a->in = list;
		TAILQ_INSERT_TAIL(list, a, entry);
	}
}

void
queue_drain(struct queue *q, struct queue_pool *qp,
    void (*fn)(struct job *, void *), void *arg)
{
	struct job	*job;

	if (q->ops->pool_release != NULL)
		q->ops->pool_release(q, qp);
	/* Past group_concurrency and the rate limit: they hold no drain. */
	while ((job = queue_flow_take_any(qp)) != NULL)
		fn(job, arg);
}

/* The memory implementation. */

void
queue_memory_enqueue(struct queue *q, struct queue_pool *qp, struct job *job)
{
	qp->submitted++;
	qp->jobs.state[job->state]++;
	job_table_add(job);
	if (job->state == JOB_DELAYED)
		queue_due_add(q, job);
	else
		queue_flow_add(qp, job, 0);
}

int
queue_memory_push(struct queue *q, struct queue_pool *qp, struct job *job,
    const char **err)
{
	if (queue_full(qp)) {
		qp->rejected++;
		*err = "queue_full";
		job_free(job);
		return -1;
	}
	queue_memory_enqueue(q, qp, job);
	return 0;
}

static int
queue_memory_job_pending(const struct queue *q, const struct job *job)
{
	return 0;
}

size_t
queue_memory_claim(struct queue *q, struct queue_pool *qp, struct job **out,
    size_t max)
{
	struct job	*job;
	size_t		 n = 0;

	while (n < max && qp->queue_len > 0 &&
	    (job = queue_flow_take(qp)) != NULL)
		out[n++] = job;
	return n;
}

static void
queue_memory_started(struct queue *q, struct job *job)
{
}

/*
 * Back to the head of its level now, or delayed until now + delay (the
 * due heap then makes it claimable, at the head).
 */
void
queue_memory_requeue(struct queue *q, struct job *job, double delay,
    int counts)
{
	struct queue_pool	*qp = job_queue_pool(job);

	if (counts)
		qp->retried++;
	queue_flow_release(job);
	if (delay <= 0) {
		queue_flow_add(qp, job, 1);
		return;
	}
	job_flow_ext(job)->not_before = ev_now(q->loop) + delay;
	job->flow.head = 1;
	job_set_state(job, JOB_DELAYED, ev_now(q->loop));
	queue_due_add(q, job);
}

int
queue_memory_cancel(struct queue *q, struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	if (job->state == JOB_DELAYED && job_x(job)->flow_ext != NULL &&
	    job_x(job)->flow_ext->heap != 0)
		queue_due_remove(q, job);
	else if (job->state == JOB_QUEUED && job->flow.queued)
		queue_flow_remove(qp, job);
	else
		return -1;
	return 0;
}

/* Forget a record for good: out of the id table, the store and memory. */
static void
queue_forget(struct queue *q, struct job *job)
{
	job_table_remove(job);
	q->ops->forget(q, job);
	job_free(job);
}

static void
queue_memory_forget(struct queue *q, struct job *job)
{
}

/* When the first record is due to go (finished or dead), or -1. */
static double
queue_prune_due(const struct queue *q)
{
	const struct queue_pool	*qp;
	const struct job	*old;
	double			 due = -1, t;

	if ((old = TAILQ_FIRST(&q->finished)) != NULL)
		due = job_finished_at(old) + (*q->cfgp)->result_ttl;
	for (qp = q->pools; qp != NULL; qp = qp->next) {
		if ((old = TAILQ_FIRST(&qp->dead)) == NULL)
			continue;
		t = job_finished_at(old) + qp->dead_ttl;
		if (due < 0 || t < due)
			due = t;
	}
	return due;
}

/* Arm the prune timer for the first record due, if it is not armed. */
static void
queue_prune_arm(struct queue *q)
{
	double	due;

	if (ev_is_active(&q->prune_timer) || (due = queue_prune_due(q)) < 0)
		return;
	ev_timer_set(&q->prune_timer, due - ev_now(q->loop) + 0.001, 0);
	ev_timer_start(q->loop, &q->prune_timer);
}

/* A record due at `due` was added: arm the timer earlier if need be. */
static void
queue_prune_soon(struct queue *q, double due)
{
	if (ev_is_active(&q->prune_timer) && ev_now(q->loop) +
	    ev_timer_remaining(q->loop, &q->prune_timer) <= due)
		return;
	ev_timer_stop(q->loop, &q->prune_timer);
	queue_prune_arm(q);
}

/* A job that ran out of attempts goes to the dead letters, if kept. */
void
queue_memory_finished(struct queue *q, struct job *job)
{
	if (queue_dead_letter(job, job->state))
		queue_memory_keep_dead(q, job);
	else {
		job_data_drop(job);
		queue_memory_keep(q, job);
	}
}

void
queue_memory_keep_dead(struct queue *q, struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);
	struct job		*old;

	job->dead = 1;
	TAILQ_INSERT_TAIL(&qp->dead, job, entry);
	qp->ndead++;
	while (qp->ndead > (size_t)(*q->cfgp)->result_max &&
	    (old = TAILQ_FIRST(&qp->dead)) != NULL) {
		TAILQ_REMOVE(&qp->dead, old, entry);
		qp->ndead--;
		queue_forget(q, old);
	}
	queue_prune_soon(q, job_finished_at(job) + qp->dead_ttl);
}

void
queue_memory_dead_release(struct queue *q, struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	TAILQ_REMOVE(&qp->dead, job, entry);
	qp->ndead--;
	job->dead = 0;
	/* Its data stays until it is pruned: see queue_memory_dead_restore. */
	queue_memory_keep(q, job);
}

void
queue_memory_dead_restore(struct queue *q, struct job *job)
{
	TAILQ_REMOVE(&q->finished, job, entry);
	q->nfinished--;
	queue_memory_keep_dead(q, job);
}

void
queue_memory_keep(struct queue *q, struct job *job)
{
	struct job	*old;

	queue_flow_release(job);
	TAILQ_INSERT_TAIL(&q->finished, job, entry);
	q->nfinished++;
	while (q->nfinished > (size_t)(*q->cfgp)->result_max &&
	    (old = TAILQ_FIRST(&q->finished)) != NULL) {
		TAILQ_REMOVE(&q->finished, old, entry);
		q->nfinished--;
		queue_forget(q, old);
		if ((old = TAILQ_FIRST(&q->finished)) != NULL)
			job_prefetch_next(old);
	}
	queue_prune_soon(q, job_finished_at(job) + (*q->cfgp)->result_ttl);
}

/* Drop records older than result_ttl; re-arm for the next oldest. */
static void
queue_prune_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct queue		*q = t->data;
	struct queue_pool	*qp;
	struct job		*job;
	double			 ttl = (*q->cfgp)->result_ttl, now = ev_now(loop);

	while ((job = TAILQ_FIRST(&q->finished)) != NULL &&
	    job_finished_at(job) + ttl <= now) {
		TAILQ_REMOVE(&q->finished, job, entry);
		q->nfinished--;
		queue_forget(q, job);
	}
	for (qp = q->pools; qp != NULL; qp = qp->next) {
		while ((job = TAILQ_FIRST(&qp->dead)) != NULL &&
		    job_finished_at(job) + qp->dead_ttl <= now) {
			TAILQ_REMOVE(&qp->dead, job, entry);
			qp->ndead--;
			queue_forget(q, job);
		}
	}
	queue_prune_arm(q);
}

struct job *
queue_memory_lookup(struct queue *q, const char *id, size_t len)
{
	return job_table_find(id, len);
}

struct job *
queue_memory_lookup_key(struct queue *q, const char *client,
    const char *key)
{
	return job_key_find(client, key);
}

static void
queue_memory_commit(struct queue *q, int all)
{
}

static void
queue_memory_commit_if_late(struct queue *q)
{
}

static int
queue_memory_recover(struct queue *q,
    unsigned (*max_attempts)(struct queue_pool *), char **cause)
{
	return 0;
}

static void
queue_memory_stats(const struct queue *q, struct queue_stats *st)
{
}

/* Free a list of jobs the queue holds. */
static void
queue_free_list(struct job_list *list)
{
	struct job	*job;

	while ((job = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, job, entry);
		job_table_remove(job);
		job_free(job);
	}
}

void
queue_memory_close(struct queue *q)
{
	struct queue_pool	*qp;

	ev_timer_stop(q->loop, &q->prune_timer);
	queue_flow_close(q);
	queue_free_list(&q->finished);
	for (qp = q->pools; qp != NULL; qp = qp->next) {
		queue_flow_free(qp);
		queue_flow_detach(q, qp);
		queue_free_list(&qp->dead);
		qp->ndead = 0;
	}
	queue_acks_done(q, "mpsup is shutting down");
	free(q);
}

const struct queue_ops queue_memory_ops = {
	.name = "memory",
	.push = queue_memory_push,
	.job_pending = queue_memory_job_pending,
	.claim = queue_memory_claim,
	.started = queue_memory_started,
	.requeue = queue_memory_requeue,
	.cancel = queue_memory_cancel,
	.finished = queue_memory_finished,
	.dead_release = queue_memory_dead_release,
	.forget = queue_memory_forget,
	.lookup = queue_memory_lookup,
	.lookup_key = queue_memory_lookup_key,
	.commit = queue_memory_commit,
	.commit_if_late = queue_memory_commit_if_late,
	.recover = queue_memory_recover,
	.stats = queue_memory_stats,
	.close = queue_memory_close,
};
