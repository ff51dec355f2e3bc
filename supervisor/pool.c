/*
 * Pools: starting, restarting and stopping worker slots (see pool.h).
 *
 * Restarts are throttled per slot: the first restart waits restart_delay,
 * each further quick death (within WORKER_HEALTHY_UPTIME of start) doubles
 * the wait up to restart_delay_max, and a worker that stays up that long
 * resets it. A pool whose workers die quickly POOL_FAILING_DEATHS times in
 * a row is marked failing and logged once; it keeps retrying at the capped
 * delay, as runit and s6 do, and is unmarked when a worker stays up again.
 */
#include "config.h"

#include <signal.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "supervisor/pool.h"
#include "supervisor/worker.h"
#include "supervisor/worker_proc.h"

/* A slot: its worker and the restart policy's memory of it. */
struct pool_slot {
	struct pool	*pool;
	struct worker	*w;
	double		 delay;		/* next restart delay */
	int		 quick_deaths;	/* in a row */
	long		 restarts;
	int		 retire;	/* do not restart (scale down, idle) */
	ev_timer	 restart_timer;
};

static void	pool_worker_gone(struct pool_slot *, double uptime);
static void	pool_worker_healthy(struct pool_slot *);

const char *
pool_state_name(enum pool_state s)
{
	switch (s) {
	case POOL_RUNNING: return "running";
	case POOL_FAILING: return "failing";
	case POOL_STOPPING: return "stopping";
	case POOL_STOPPED: return "stopped";
	case POOL_WAITING: return "waiting";
	}
	return "?";
}

/* The worker callbacks: the pool's own part, then the engine's. */
static void
pool_spawned_cb(struct worker *w, void *arg)
{
	struct pool_slot	*s = arg;

	s->pool->ev->worker_ready(s->pool, w);
}

static int
pool_result_cb(struct worker *w, const char *line, size_t len, void *arg)
{
	struct pool_slot	*s = arg;

	return s->pool->ev->worker_result(w, line, len);
}

static const char *
pool_job_tag_cb(struct worker *w, void *arg)
{
	struct pool_slot	*s = arg;

	return s->pool->ev->worker_job(w);
}

static void
pool_lost_cb(struct worker *w, void *arg)
{
	struct pool_slot	*s = arg;

	s->pool->ev->worker_lost(w);
}

static void
pool_gone_cb(struct worker *w, double uptime, const char *why, void *arg)
{
	struct pool_slot	*s = arg;

	s->pool->ev->worker_gone(w, why);
	pool_worker_gone(s, uptime);
}

static void
pool_healthy_cb(struct worker *w, void *arg)
{
	pool_worker_healthy(arg);
}

static void
pool_idle_cb(struct worker *w, void *arg)
{
	struct pool_slot	*s = arg;

	s->retire = 1;
	worker_stop(w);
}

static const struct worker_cbs pool_worker_cbs = {
	.spawned_cb = pool_spawned_cb,
	.result_cb = pool_result_cb,
	.job_tag_cb = pool_job_tag_cb,
	.lost_cb = pool_lost_cb,
	.gone_cb = pool_gone_cb,
	.healthy_cb = pool_healthy_cb,
	.idle_cb = pool_idle_cb,
};

static struct pool_slot *
pool_slot_new(struct pool *pool, int index)
{
	struct pool_slot	*s = xcalloc(1, sizeof *s);

	s->pool = pool;
	s->delay = pool->pc->restart_delay;
	ev_timer_init(&s->restart_timer, NULL, 0, 0);
	s->w = worker_new(pool->wenv, &pool->pc, index, &pool_worker_cbs, s);
	return s;
}

static void
pool_slot_free(struct pool *pool, struct pool_slot *s)
{
	ev_timer_stop(pool->loop, &s->restart_timer);
	pool->ev->worker_free(s->w);
	worker_free(s->w);
	free(s);
}

/* The pool's last job was freed: a removed pool can go. */
static void
pool_jobs_empty_cb(struct job_owner *owner)
{
	struct pool	*pool = pool_of_queue((struct queue_pool *)(void *)owner);

	if (pool->removed)
		pool->ev->unused(pool);
}

struct pool *
pool_new(struct pool_config *pc, const struct pool_events *ev,
    struct worker_env *wenv, struct queue *q)
{
	struct pool	*pool = xcalloc(1, sizeof *pool);
	int		 i;

	pool->ev = ev;
	pool->wenv = wenv;
	pool->loop = wenv->loop;
	queue_pool_attach(q, &pool->q, pc->name, pc->type == POOL_TYPE_EXEC);
	pool->q.jobs.empty_cb = pool_jobs_empty_cb;
	pool_set_config(pool, pc);
	pool->state = POOL_STOPPED;
	pool->nslots = pc->max_workers;
	pool->slots = xcalloc((size_t)pool->nslots, sizeof *pool->slots);
	TAILQ_INIT(&pool->ready);
	for (i = 0; i < pool->nslots; i++)
		pool->slots[i] = pool_slot_new(pool, i);
	return pool;
}

void
pool_free(struct pool *pool)
{
	int	i;

	for (i = 0; i < pool->nslots; i++)
		pool_slot_free(pool, pool->slots[i]);
	free(pool->slots);
	worker_proc_free(pool->proc);
	if (pool->own_pc != NULL)
		config_pool_free(pool->own_pc);
	free(pool);
}

void
pool_set_config(struct pool *pool, struct pool_config *pc)
{
	pool->pc = pc;
	/* Its workers' argv and environment, built once for all of them. */
	worker_proc_free(pool->proc);
	pool->proc = worker_proc_new(pc, pool->wenv->self_exe);
	pool->restarting = 0;
	pool->name = pc->name;
	pool->q.jobs.name = pc->name;
	pool->q.jobs.exec = pc->type == POOL_TYPE_EXEC;
	pool->q.max_queue = pc->max_queue;
	pool->q.capacity = (unsigned)pc->max_workers * (unsigned)pc->prefetch;
	pool->q.max_attempts = (unsigned)pc->max_attempts;
	pool->q.flow.group_concurrency = pc->group_concurrency;
	pool->q.flow.rate_interval = pc->rate_limit > 0 ? 1.0 / pc->rate_limit :
	    0;
	pool->q.flow.rate_burst = pc->rate_burst;
	pool->q.flow.rate_per_group = pc->rate_per_group;
	pool->q.flow.aging = pc->priority_aging;
	pool->q.dead_ttl = pc->dead_ttl;
	if (pool->own_pc != NULL && pool->own_pc != pc) {
		config_pool_free(pool->own_pc);
		pool->own_pc = NULL;
	}
}

void
pool_set_gateway_config(struct pool *pool, struct pool_config *pc)
{
	pool_set_config(pool, pc);
	pool->own_pc = pc;
}

struct worker *
pool_worker(const struct pool *pool, int i)
{
	return pool->slots[i]->w;
}

long
pool_worker_restarts(const struct pool *pool, int i)
{
	return pool->slots[i]->restarts;
}

/* Start slot s's worker; a failed spawn counts as a death at once. */
static void
pool_slot_spawn(struct pool_slot *s)
{
	if (s->pool->down)
		return;
	if (worker_spawn(s->w, s->pool->cfg_gen, s->pool->proc) == -1)
		pool_worker_gone(s, 0);
}

void
pool_start(struct pool *pool)
{
	int	i;

	pool->state = POOL_RUNNING;
	for (i = 0; i < pool->pc->workers; i++)
		pool_slot_spawn(pool->slots[i]);
	log_info("pool %s: started %d %s worker%s", pool->name,
	    pool->pc->workers, pool->pc->type == POOL_TYPE_EXEC ? "exec" :
	    "stream", pool->pc->workers == 1 ? "" : "s");
}

void
pool_wait(struct pool *pool, const char *waiting_for)
{
	pool->state = POOL_WAITING;
	log_info("pool %s: waiting for pool %s to have a ready worker "
	    "(depends_on)", pool->name, waiting_for);
}

int
pool_has_ready_worker(const struct pool *pool)
{
	enum worker_state	ws;
	int			i;

	for (i = 0; i < pool->nslots; i++) {
		ws = worker_state(pool->slots[i]->w);
		if (ws == WORKER_READY || ws == WORKER_BUSY)
			return 1;
	}
	return 0;
}

void
pool_kill(struct pool *pool)
{
	int	i;

	for (i = 0; i < pool->nslots; i++)
		worker_kill(pool->slots[i]->w);
}

int
pool_live_workers(const struct pool *pool)
{
	int	i, n = 0;

	for (i = 0; i < pool->nslots; i++)
		if (worker_state(pool->slots[i]->w) != WORKER_DEAD)
			n++;
	return n;
}

/* Whether slot s waits neither for a process nor for a restart. */
static int
pool_slot_idle(const struct pool_slot *s)
{
	return worker_state(s->w) == WORKER_DEAD &&
	    !ev_is_active(&s->restart_timer);
}

/*
 * Dynamic pools: jobs are waiting and no worker has room, so start
 * on-demand workers (up to max_workers), enough for the backlog.
 */
void
pool_grow(struct pool *pool, size_t backlog)
{
	struct pool_config	*pc = pool->pc;
	size_t			 want;
	int			 i;

	if (!pc->dynamic || pool->state == POOL_STOPPING ||
	    pool->state == POOL_STOPPED || pool->state == POOL_WAITING)
		return;
	want = (backlog + (size_t)pc->prefetch - 1) / (size_t)pc->prefetch;
	for (i = pc->min_workers; i < pool->nslots && want > 0; i++) {
		if (!pool_slot_idle(pool->slots[i]))
			continue;
		log_info("pool %s: %zu job%s waiting; starting worker %d",
		    pool->name, pool->q.queue_len, pool->q.queue_len == 1 ? "" :
		    "s", i);
		want--;
		pool_slot_spawn(pool->slots[i]);
		if (pool->q.queue_len == 0)
			break;
	}
}

/* Retire slot s's worker: it takes no more jobs and stops when done. */
static void
pool_slot_retire(struct pool_slot *s)
{
	ev_timer_stop(s->pool->loop, &s->restart_timer);
	if (worker_alive(s->w) && !worker_stopping(s->w)) {
		s->retire = 1;
		s->pool->ev->worker_drain(s->w);
	}
}

/*
 * Match the slots to the config: new permanent slots start at once;
 * surplus workers take no more jobs and stop when theirs are done.
 */
void
pool_resize(struct pool *pool)
{
	struct pool_config	*pc = pool->pc;
	int			 i;

	if (pc->max_workers > pool->nslots) {
		pool->slots = xreallocarray(pool->slots,
		    (size_t)pc->max_workers, sizeof *pool->slots);
		for (i = pool->nslots; i < pc->max_workers; i++)
			pool->slots[i] = pool_slot_new(pool, i);
		pool->nslots = pc->max_workers;
	}
	for (i = 0; i < pool->nslots; i++) {
		if (i < pc->workers) {
			if (pool->state != POOL_WAITING &&
			    pool_slot_idle(pool->slots[i]))
				pool_slot_spawn(pool->slots[i]);
			continue;
		}
		if (i < pc->max_workers)
			continue;
		pool_slot_retire(pool->slots[i]);
	}
}

/*
 * A reload changed how this pool's workers run: replace them one at a
 * time, each finishing its jobs first, so the pool keeps serving and its
 * queue is never lost.
 */
void
pool_roll_next(struct pool *pool)
{
	struct worker	*w;
	int		 i;

	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED)
		return;
	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i]->w;
		if (worker_alive(w) && worker_gen(w) != pool->cfg_gen &&
		    (pool->ev->worker_recycling(w) || worker_stopping(w)))
			return;		/* one is being replaced */
	}
	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i]->w;
		if (worker_alive(w) && worker_gen(w) != pool->cfg_gen) {
			log_info("%s.%d: replacing it %s", pool->name, i,
			    pool->restarting ? "(ctl restart)" :
			    "to apply the new configuration");
			pool->ev->worker_drain(w);
			return;
		}
	}
}

void
pool_remove(struct pool *pool)
{
	int	i;

	pool->removed = 1;
	pool->q.removed = 1;
	for (i = 0; i < pool->nslots; i++)
		pool_slot_retire(pool->slots[i]);
	if (pool_live_workers(pool) == 0)
		pool->state = POOL_STOPPED;
	else
		pool->state = POOL_STOPPING;
}

/*
 * Undo pool_remove() for a pool that may still be finishing its jobs:
 * workers that were draining come back with the new config once their
 * jobs are done (those beyond max_workers do not), and dead slots start
 * now. Its counters and records carry on, as if it had never gone.
 */
void
pool_revive(struct pool *pool, struct pool_config *pc)
{
	int	i;

	pool->removed = 0;
	pool->q.removed = 0;
	pool->paused = 0;
	pool_set_config(pool, pc);
	pool->cfg_gen++;
	pool->state = POOL_RUNNING;
	for (i = 0; i < pool->nslots && i < pc->max_workers; i++)
		pool->slots[i]->retire = 0;
	pool_resize(pool);
}


void
pool_set_paused(struct pool *pool, int pause)
{
	pool->paused = pause;
	log_info("pool %s: %s", pool->name, pause ? "paused" : "resumed");
}

int
pool_set_down(struct pool *pool, int down, const char **err)
{
	int	i;

	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED) {
		*err = "the pool is stopping";
		return -1;
	}
	if (pool->down == down)
		return 1;
	pool->down = down;
	log_info("pool %s: %s", pool->name, down ? "down: stopping its "
	    "workers, keeping its queue" : "up: starting its workers");
	if (!down) {
		/* Draining workers of the first slots come back when done. */
		for (i = 0; i < pool->nslots && i < pool->pc->workers; i++)
			pool->slots[i]->retire = 0;
		pool_resize(pool);
		return 0;
	}
	for (i = 0; i < pool->nslots; i++)
		pool_slot_retire(pool->slots[i]);
	return 0;
}

int
pool_restart(struct pool *pool, const char **err)
{
	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED) {
		*err = "the pool is stopping";
		return -1;
	}
	if (pool->down) {
		*err = "the pool is down (ctl up starts its workers)";
		return -1;
	}
	log_info("pool %s: restarting its workers one at a time", pool->name);
	pool->cfg_gen++;
	pool->restarting = 1;
	pool_roll_next(pool);
	return 0;
}

int
pool_signal(struct pool *pool, int sig)
{
	pid_t	pid;
	int	i, n = 0;

	for (i = 0; i < pool->nslots; i++) {
		if (!worker_alive(pool->slots[i]->w) ||
		    (pid = worker_pid(pool->slots[i]->w)) <= 0)
			continue;
		if (kill(pid, sig) == 0)
			n++;
	}
	log_info("pool %s: sent signal %d (SIG%s) to %d worker%s",
	    pool->name, sig, signal_name(sig), n, n == 1 ? "" : "s");
	return n;
}

/*
 * Resize a fixed-size pool: new slots start at once; surplus workers take
 * no more jobs and stop when the ones they have are done.
 */
int
pool_scale(struct pool *pool, int n, const char **err)
{
	struct pool_config	*pc = pool->pc;
	int			 old = pc->workers;

	if (pc->dynamic) {
		*err = "a dynamic pool sizes itself between min_workers and "
		    "max_workers";
		return -1;
	}
	if (n < 1 || n > 4096) {
		*err = "workers must be between 1 and 4096";
		return -1;
	}
	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED) {
		*err = "the pool is stopping";
		return -1;
	}
	pc->workers = pc->min_workers = pc->max_workers = n;
	log_info("pool %s: scaling from %d to %d workers", pool->name, old, n);
	pool_resize(pool);
	return 0;
}

void
pool_stop(struct pool *pool)
{
	int	i;

	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED)
		return;
	pool->state = POOL_STOPPING;
	for (i = 0; i < pool->nslots; i++) {
		ev_timer_stop(pool->loop, &pool->slots[i]->restart_timer);
		worker_stop(pool->slots[i]->w);
	}
	if (pool_live_workers(pool) == 0) {
		pool->state = POOL_STOPPED;
		pool->ev->stopped(pool);
	}
}

/* Bring slot s's worker back, unless the pool is stopping. */
static void
pool_slot_restart(struct pool_slot *s)
{
	if (s->pool->state == POOL_STOPPING || s->pool->state == POOL_STOPPED)
		return;
	s->restarts++;
	s->pool->restarts++;
	pool_slot_spawn(s);
}

static void
pool_restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	pool_slot_restart(t->data);
}

/* Back off: double the delay for each quick death, mark a failing pool. */
static double
pool_backoff(struct pool_slot *s, double uptime)
{
	struct pool		*pool = s->pool;
	struct pool_config	*pc = pool->pc;
	double			 delay;

	if (uptime >= WORKER_HEALTHY_UPTIME) {
		s->delay = pc->restart_delay;
		s->quick_deaths = 0;
	} else
		s->quick_deaths++;
	delay = s->delay;
	if (s->quick_deaths > 0) {
		s->delay *= 2;
		if (s->delay > pc->restart_delay_max)
			s->delay = pc->restart_delay_max;
	}
	if (s->quick_deaths >= POOL_FAILING_DEATHS &&
	    pool->state == POOL_RUNNING) {
		pool->state = POOL_FAILING;
		log_warnx("pool %s: workers keep dying within %.1fs of start; "
		    "backing off (up to %.1fs between restarts)", pool->name,
		    WORKER_HEALTHY_UPTIME, pc->restart_delay_max);
	}
	return delay;
}

/* Slot s's process is gone for good: restart it, or let it rest. */
static void
pool_worker_gone(struct pool_slot *s, double uptime)
{
	struct pool		*pool = s->pool;
	struct pool_config	*pc = pool->pc;
	double			 delay;
	int			 index = worker_index(s->w);

	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED) {
		if (pool_live_workers(pool) == 0 &&
		    pool->state == POOL_STOPPING) {
			pool->state = POOL_STOPPED;
			pool->ev->stopped(pool);
		}
		return;
	}
	if (s->retire) {
		s->retire = 0;
		pool->ev->room(pool);
		return;
	}
	if (pc->dynamic && index >= pc->min_workers) {
		/* On-demand workers come back when the queue needs them. */
		pool->ev->room(pool);
		return;
	}
	if (pool->ev->worker_recycling(s->w) && uptime > 0) {
		/* Recycled on purpose: no back-off. */
		s->restarts++;
		pool->restarts++;
		pool_slot_spawn(s);
		pool_roll_next(pool);
		return;
	}
	delay = pool_backoff(s, uptime);
	log_info("%s.%d: restarting in %.0fms", pool->name, index,
	    delay * 1000.0);
	if (delay <= 0) {
		/* restart_delay = 0: now, before the gone worker's sweep. */
		pool_slot_restart(s);
		return;
	}
	ev_timer_init(&s->restart_timer, pool_restart_cb, delay, 0);
	s->restart_timer.data = s;
	ev_timer_start(pool->loop, &s->restart_timer);
}

/* Slot s's worker has been up long enough to count as healthy. */
static void
pool_worker_healthy(struct pool_slot *s)
{
	struct pool	*pool = s->pool;
	int		 i;

	s->delay = pool->pc->restart_delay;
	s->quick_deaths = 0;
	if (pool->state != POOL_FAILING)
		return;
	for (i = 0; i < pool->nslots; i++)
		if (pool->slots[i]->quick_deaths >= POOL_FAILING_DEATHS)
			return;
	pool->state = POOL_RUNNING;
	log_info("pool %s: workers are staying up again", pool->name);
}
