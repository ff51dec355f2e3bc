/*
 * Flow control inside the queue (see queue.h, queue_claim): the order in
 * which a pool's claimable jobs leave, and when delayed jobs come due.
 *
 * Each pool keeps its claimable jobs in groups (the submit field "group";
 * jobs without one share the pool's own group), each group a FIFO per
 * priority level. Groups with claimable work sit on a ring and take turns;
 * a group at group_concurrency leaves the ring until one of its jobs stops
 * running. A rate limit is a GCRA (the generic cell rate algorithm): with
 * T = 1 / rate and tau = (burst - 1) T, a job may start at time t when
 * TAT - tau <= t, and then TAT = max(TAT, t) + T; a job that may not start
 * yet waits in its queue, never dropped, and one timer per pool says when
 * it may. Priority aging: a job gains one level per `aging` seconds it has
 * waited, so no stream of higher-priority work parks a job for ever.
 *
 * A pool with no groups, one priority and no rate limit takes its jobs
 * from one FIFO: a claim costs what it did before flow control existed.
 *
 * Delayed jobs (a "delay", a "not_before", a retry's back-off) wait in one
 * heap per queue, ordered by due time, with one timer for the first.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/xmalloc.h"
#include "store/queue.h"
#include "store/queue_impl.h"

struct queue_group {
	char			*name;		/* NULL: the pool's own */
	struct queue_pool	*qp;
	struct job_list		 level[JOB_PRIORITY_LEVELS];
	uint32_t		 levels;	/* bit i: level[i] has jobs */
	size_t			 queued;
	int			 running;	/* claimed, not yet released */
	int			 on_ring;
	double			 tat;		/* GCRA, per group */
	TAILQ_ENTRY(queue_group) ring;
	struct queue_group	*hnext;
};

/* How late a throttled start may be and still keep the rate's schedule. */
#define QUEUE_RATE_JITTER	0.05

#define LEVEL(job)	((job)->flow.priority - JOB_PRIORITY_MIN)

static void	queue_throttle_cb(struct ev_loop *, ev_timer *, int);
static void	queue_due_cb(struct ev_loop *, ev_timer *, int);

static double
queue_clock_ev(void *arg)
{
	return ev_now((struct ev_loop *)arg);
}

double
queue_now(const struct queue *q)
{
	return q->clock(q->clock_arg);
}

void
queue_set_clock(struct queue *q, double (*now)(void *), void *arg)
{
	q->clock = now != NULL ? now : queue_clock_ev;
	q->clock_arg = now != NULL ? arg : q->loop;
}

static struct queue_group *
queue_group_new(struct queue_pool *qp, const char *name)
{
	struct queue_group	*g = xcalloc(1, sizeof *g);
	int			 i;

	g->name = name != NULL ? xstrdup(name) : NULL;
	g->qp = qp;
	for (i = 0; i < JOB_PRIORITY_LEVELS; i++)
		TAILQ_INIT(&g->level[i]);
	return g;
}

void
queue_flow_attach(struct queue *q, struct queue_pool *qp)
{
	struct queue_flow	*fl = &qp->flow;

	fl->q = q;
	TAILQ_INIT(&fl->ring);
	fl->none = queue_group_new(qp, NULL);
	ev_timer_init(&fl->throttle_timer, queue_throttle_cb, 0, 0);
	fl->throttle_timer.data = qp;
}

/* An idle group (no job queued or running) whose rate state has expired. */
static int
queue_group_idle(const struct queue_group *g, double now)
{
	return g->queued == 0 && g->running == 0 && g->tat <= now;
}

static void
queue_group_unlink(struct queue_flow *fl, struct queue_group *g)
{
	struct queue_group	**gp;

	gp = &fl->groups[hash_str(g->name) % fl->nbuckets];
	for (; *gp != NULL; gp = &(*gp)->hnext)
		if (*gp == g) {
			*gp = g->hnext;
			fl->ngroups--;
			break;
		}
	free(g->name);
	free(g);
}

/* Twice the buckets; idle groups whose rate state expired are dropped. */
static void
queue_groups_grow(struct queue_flow *fl, double now)
{
	struct queue_group	**old = fl->groups, *g, *next;
	size_t			  n = fl->nbuckets, i, b;

	fl->nbuckets = n ? n * 2 : 64;
	fl->groups = xcalloc(fl->nbuckets, sizeof *fl->groups);
	fl->ngroups = 0;
	for (i = 0; i < n; i++)
		for (g = old[i]; g != NULL; g = next) {
			next = g->hnext;
			if (queue_group_idle(g, now)) {
				free(g->name);
				free(g);
				continue;
			}
			b = hash_str(g->name) % fl->nbuckets;
			g->hnext = fl->groups[b];
			fl->groups[b] = g;
			fl->ngroups++;
		}
	free(old);
}

/* The group of that name, made if it is not known. */
static struct queue_group *
queue_group_get(struct queue_pool *qp, const char *name)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g;
	size_t			 b;

	if (name == NULL)
		return fl->none;
	if (fl->nbuckets > 0) {
		b = hash_str(name) % fl->nbuckets;
		for (g = fl->groups[b]; g != NULL; g = g->hnext)
			if (strcmp(g->name, name) == 0)
				return g;
	}
	if (fl->ngroups >= fl->nbuckets)
		queue_groups_grow(fl, queue_now(fl->q));
	g = queue_group_new(qp, name);
	b = hash_str(name) % fl->nbuckets;
	g->hnext = fl->groups[b];
	fl->groups[b] = g;
	fl->ngroups++;
	return g;
}

/* The group a job waits or runs in (most jobs: the pool's own). */
static inline struct queue_group *
queue_group_of(struct queue_pool *qp, const struct job *job)
{
	return job_x(job)->flow_ext == NULL ? qp->flow.none :
	    queue_group_get(qp, job_group(job));
}

/* A named group with nothing left goes, unless its rate state holds. */
static void
queue_group_check(struct queue_group *g)
{
	struct queue_flow	*fl = &g->qp->flow;

	if (g->name != NULL && queue_group_idle(g, queue_now(fl->q)))
		queue_group_unlink(fl, g);
}

/* Whether a group may take its turn: work, and room under the limit. */
static void
queue_group_ring_update(struct queue_group *g)
{
	struct queue_flow	*fl = &g->qp->flow;
	int			 want;

	want = g->queued > 0 && (fl->group_concurrency == 0 ||
	    g->running < fl->group_concurrency);
	if (want && !g->on_ring) {
		TAILQ_INSERT_TAIL(&fl->ring, g, ring);
		fl->active++;
	} else if (!want && g->on_ring) {
		TAILQ_REMOVE(&fl->ring, g, ring);
		fl->active--;
	}
	g->on_ring = want;
}

void
queue_flow_add(struct queue_pool *qp, struct job *job, int head)
{
	struct queue_group	*g;
	int			 l = LEVEL(job);

	g = queue_group_of(qp, job);
	job->flow.queued = 1;
	if (head)
		TAILQ_INSERT_HEAD(&g->level[l], job, entry);
	else
		TAILQ_INSERT_TAIL(&g->level[l], job, entry);
	g->levels |= 1U << l;
	g->queued++;
	qp->flow.depth[l]++;
	qp->queue_len++;
	if (!g->on_ring)
		queue_group_ring_update(g);
}

/* Take job out of its group's level (it is there). */
static void
queue_group_unqueue(struct queue_group *g, struct job *job)
{
	int	l = LEVEL(job);

	job->flow.queued = 0;
	TAILQ_REMOVE(&g->level[l], job, entry);
	if (TAILQ_EMPTY(&g->level[l]))
		g->levels &= ~(1U << l);
	g->queued--;
	g->qp->flow.depth[l]--;
	g->qp->queue_len--;
}

void
queue_flow_remove(struct queue_pool *qp, struct job *job)
{
	struct queue_group	*g = queue_group_of(qp, job);

	queue_group_unqueue(g, job);
	queue_group_ring_update(g);
	queue_group_check(g);
}

/*
 * The job a group gives next: the head of its one level, or of the level
 * whose head ranks first (its priority plus what it gained by waiting;
 * among equals the one that waited longest, then the higher level).
 */
static struct job *
queue_group_pick(struct queue_group *g, double aging, double now)
{
	struct job	*job, *best = NULL;
	double		 rank, best_rank = 0;
	uint32_t	 bits = g->levels;
	int		 l;

	if ((bits & (bits - 1)) == 0)
		return TAILQ_FIRST(&g->level[__builtin_ctz(bits)]);
	for (l = JOB_PRIORITY_LEVELS - 1; l >= 0; l--) {
		if ((bits & (1U << l)) == 0)
			continue;
		job = TAILQ_FIRST(&g->level[l]);
		rank = l;
		if (aging > 0 && now > job_ready_at(job))
			rank += floor((now - job_ready_at(job)) / aging);
		if (best == NULL || rank > best_rank || (rank == best_rank &&
		    job_ready_at(job) < job_ready_at(best))) {
			best = job;
			best_rank = rank;
		}
	}
	return best;
}

/* GCRA: how long before a job may start under tat (<= 0: now). */
static double
queue_gcra_wait(const struct queue_flow *fl, double tat, double now)
{
	double	burst = fl->rate_burst > 1 ? fl->rate_burst : 1;

	return tat - (burst - 1) * fl->rate_interval - now;
}

/*
 * A job starts: TAT = max(TAT, now) + T. While the rate holds jobs back
 * (fl->behind), a start late by less than QUEUE_RATE_JITTER keeps to the
 * schedule instead, so that a busy loop waking after TAT does not lower
 * the rate over time; a queue that emptied starts afresh.
 */
static void
queue_gcra_take(const struct queue_flow *fl, double *tat, double now)
{
	double	slack = fl->behind ? QUEUE_RATE_JITTER : 0;

	*tat = (*tat > now - slack ? *tat : now) + fl->rate_interval;
}

/* Jobs are held back for wait seconds: say so, and look again then. */
static struct job *
queue_throttle(struct queue_pool *qp, double wait, size_t held)
{
	struct queue_flow	*fl = &qp->flow;
	struct ev_loop		*loop = fl->q->loop;

	fl->throttled = held;
	fl->behind = 1;
	if (wait < 0.0005)
		wait = 0.0005;
	if (!ev_is_active(&fl->throttle_timer) ||
	    ev_timer_remaining(loop, &fl->throttle_timer) > wait) {
		ev_timer_stop(loop, &fl->throttle_timer);
		ev_timer_set(&fl->throttle_timer, wait, 0);
		ev_timer_start(loop, &fl->throttle_timer);
	}
	return NULL;
}

static void
queue_throttle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct queue_pool	*qp = t->data;

	if (qp->queue_len > 0)
		qp->flow.q->ev->runnable(qp, qp->flow.q->arg);
}

/* The group whose turn it is, or NULL (throttle armed if that is why). */
static struct queue_group *
queue_flow_turn(struct queue_pool *qp, double now)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g;
	double			 w, wait = -1;
	size_t			 held = 0;

	if (fl->rate_interval > 0 && !fl->rate_per_group &&
	    (w = queue_gcra_wait(fl, fl->tat, now)) > 0)
		return queue_throttle(qp, w, qp->queue_len), NULL;
	TAILQ_FOREACH(g, &fl->ring, ring) {
		if (fl->rate_interval > 0 && fl->rate_per_group &&
		    (w = queue_gcra_wait(fl, g->tat, now)) > 0) {
			if (wait < 0 || w < wait)
				wait = w;
			held += g->queued;
			continue;
		}
		fl->throttled = 0;
		return g;
	}
	if (wait > 0)
		queue_throttle(qp, wait, held);
	return NULL;
}

struct job *
queue_flow_take(struct queue_pool *qp)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g;
	struct job		*job;
	double			 now = 0;
	int			 plain;

	/* The cheap path: one group, no limit on it, no rate. */
	plain = fl->rate_interval == 0 && fl->group_concurrency == 0;
	if (plain && (g = TAILQ_FIRST(&fl->ring)) != NULL &&
	    TAILQ_NEXT(g, ring) == NULL && (g->levels & (g->levels - 1)) == 0)
		job = TAILQ_FIRST(&g->level[__builtin_ctz(g->levels)]);
	else {
		now = queue_now(fl->q);
		if ((g = queue_flow_turn(qp, now)) == NULL)
			return NULL;
		job = queue_group_pick(g, fl->aging, now);
		if (fl->rate_interval > 0)
			queue_gcra_take(fl, fl->rate_per_group ? &g->tat :
			    &fl->tat, now);
	}
	queue_group_unqueue(g, job);
	if (qp->queue_len == 0)
		fl->behind = 0;
	g->running++;
	qp->flow.holding++;
	job->flow.holds = 1;
	/* Its turn is over: to the back of the ring, or off it. */
	if (g->on_ring && TAILQ_NEXT(g, ring) != NULL) {
		TAILQ_REMOVE(&fl->ring, g, ring);
		TAILQ_INSERT_TAIL(&fl->ring, g, ring);
	}
	if (g->queued == 0 || fl->group_concurrency > 0)
		queue_group_ring_update(g);
	return job;
}

struct job *
queue_flow_take_any(struct queue_pool *qp)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g = fl->none;
	struct job		*job;
	size_t			 i;

	for (i = 0; g == NULL || g->queued == 0; i++) {
		if (i == fl->nbuckets)
			return NULL;
		for (g = fl->groups[i]; g != NULL && g->queued == 0;
		    g = g->hnext)
			;
	}
	job = TAILQ_FIRST(&g->level[__builtin_ctz(g->levels)]);
	queue_flow_remove(qp, job);
	return job;
}

void
queue_flow_release(struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);
	struct queue_group	*g;

	if (!job->flow.holds)
		return;
	job->flow.holds = 0;
	qp->flow.holding--;
	g = queue_group_of(qp, job);
	g->running--;
	if (g->queued > 0 && !g->on_ring) {
		queue_group_ring_update(g);
		/* A slot came free: the engine may claim from this group. */
		if (g->on_ring && !ev_is_active(&qp->flow.throttle_timer)) {
			ev_timer_set(&qp->flow.throttle_timer, 0, 0);
			ev_timer_start(qp->flow.q->loop,
			    &qp->flow.throttle_timer);
		}
	}
	queue_group_check(g);
}

static void
queue_group_free_jobs(struct queue_group *g)
{
	struct job	*job;
	int		 l;

	for (l = 0; l < JOB_PRIORITY_LEVELS; l++)
		while ((job = TAILQ_FIRST(&g->level[l])) != NULL) {
			TAILQ_REMOVE(&g->level[l], job, entry);
			job_table_remove(job);
			job_free(job);
		}
}

void
queue_flow_free(struct queue_pool *qp)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g;
	size_t			 i;

	if (fl->none == NULL)
		return;
	queue_group_free_jobs(fl->none);
	for (i = 0; i < fl->nbuckets; i++)
		for (g = fl->groups[i]; g != NULL; g = g->hnext)
			queue_group_free_jobs(g);
}

/* Forget the groups (their jobs are gone, or belong to a claimant). */
void
queue_flow_detach(struct queue *q, struct queue_pool *qp)
{
	struct queue_flow	*fl = &qp->flow;
	struct queue_group	*g, *next;
	size_t			 i;

	if (fl->none == NULL)
		return;
	ev_timer_stop(q->loop, &fl->throttle_timer);
	for (i = 0; i < fl->nbuckets; i++)
		for (g = fl->groups[i]; g != NULL; g = next) {
			next = g->hnext;
			free(g->name);
			free(g);
		}
	free(fl->groups);
	free(fl->none);
	fl->groups = NULL;
	fl->none = NULL;
	fl->nbuckets = fl->ngroups = fl->active = 0;
	TAILQ_INIT(&fl->ring);
}

size_t
queue_groups_with_work(const struct queue_pool *qp)
{
	return qp->flow.active;
}

/*
 * The due heap: the job due first at due[0]; flow_ext->heap = 1 + index
 * (a delayed job always has its flow_ext: its due time is there).
 */

static int
queue_due_before(const struct job *a, const struct job *b)
{
	double	an = job_not_before(a), bn = job_not_before(b);

	if (an != bn)
		return an < bn;
	return strcmp(a->id, b->id) < 0;
}

static void
queue_due_set(struct queue *q, size_t i, struct job *job)
{
	q->due[i] = job;
	job_x(job)->flow_ext->heap = (uint32_t)(i + 1);
}

static void
queue_due_up(struct queue *q, size_t i)
{
	struct job	*job = q->due[i];

	while (i > 0 && queue_due_before(job, q->due[(i - 1) / 2])) {
		queue_due_set(q, i, q->due[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	queue_due_set(q, i, job);
}

static void
queue_due_down(struct queue *q, size_t i)
{
	struct job	*job = q->due[i];
	size_t		 c;

	while ((c = 2 * i + 1) < q->ndue) {
		if (c + 1 < q->ndue && queue_due_before(q->due[c + 1], q->due[c]))
			c++;
		if (!queue_due_before(q->due[c], job))
			break;
		queue_due_set(q, i, q->due[c]);
		i = c;
	}
	queue_due_set(q, i, job);
}

/* The timer follows the first due job (one timer, however many wait). */
static void
queue_due_arm(struct queue *q)
{
	double	after;

	ev_timer_stop(q->loop, &q->due_timer);
	if (q->ndue == 0)
		return;
	after = job_x(q->due[0])->flow_ext->not_before - ev_now(q->loop);
	ev_timer_set(&q->due_timer, after > 0 ? after : 0, 0);
	ev_timer_start(q->loop, &q->due_timer);
}

void
queue_due_add(struct queue *q, struct job *job)
{
	job_flow_ext(job);
	if (q->ndue == q->due_cap) {
		q->due_cap = q->due_cap ? q->due_cap * 2 : 64;
		q->due = xreallocarray(q->due, q->due_cap, sizeof *q->due);
	}
	queue_due_set(q, q->ndue++, job);
	queue_due_up(q, q->ndue - 1);
	if (q->due[0] == job)
		queue_due_arm(q);
}

void
queue_due_remove(struct queue *q, struct job *job)
{
	struct job	*last;
	size_t		 i = job_x(job)->flow_ext->heap - 1;
	int		 first = i == 0;

	job_x(job)->flow_ext->heap = 0;
	if (i != --q->ndue) {
		last = q->due[q->ndue];
		queue_due_set(q, i, last);
		queue_due_up(q, i);
		queue_due_down(q, job_x(last)->flow_ext->heap - 1);
	}
	if (first)
		queue_due_arm(q);
}

/* A delayed job is due: claimable (a retry at the head), or cancelled. */
static void
queue_due_one(struct queue *q, struct job *job, double now)
{
	struct queue_pool	*qp = job_queue_pool(job);

	if (qp->removed) {
		q->ev->finish(job, JOB_CANCELLED,
		    xstrdup("pool removed by a configuration reload"), q->arg);
		return;
	}
	job_set_state(job, JOB_QUEUED, now);
	queue_flow_add(qp, job, job->flow.head);
	job->flow.head = 0;
	qp->flow.due_mark = 1;
}

/*
 * The first delayed job is due (the timer was armed for it), and so are
 * those due by now (within half a millisecond: libev may wake a bit
 * early): they become claimable, then their pools are told, once each.
 */
static void
queue_due_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct queue		*q = t->data;
	struct queue_pool	*qp;
	struct job		*job;
	double			 now = ev_now(loop);
	int			 first = 1;

	while (q->ndue > 0 && (first ||
	    job_x(q->due[0])->flow_ext->not_before <= now + 0.0005)) {
		first = 0;
		job = q->due[0];
		queue_due_remove(q, job);
		queue_due_one(q, job, now);
	}
	queue_due_arm(q);
	for (qp = q->pools; qp != NULL; qp = qp->next)
		if (qp->flow.due_mark) {
			qp->flow.due_mark = 0;
			if (qp->queue_len > 0)
				q->ev->runnable(qp, q->arg);
		}
}

void
queue_flow_init(struct queue *q)
{
	queue_set_clock(q, NULL, NULL);
	ev_timer_init(&q->due_timer, queue_due_cb, 0, 0);
	q->due_timer.data = q;
}

/* Free the delayed jobs (closing). */
void
queue_flow_close(struct queue *q)
{
	struct job	*job;

	ev_timer_stop(q->loop, &q->due_timer);
	while (q->ndue > 0) {
		job = q->due[--q->ndue];
		job_x(job)->flow_ext->heap = 0;
		job_table_remove(job);
		job_free(job);
	}
	free(q->due);
	q->due = NULL;
}

ev_timer *
queue_due_timer(struct queue *q)
{
	return &q->due_timer;
}
