/*
 * Pools: starting, restarting and stopping worker slots (see pool.h).
 *
 * Restarts are throttled per slot: the first restart waits restart_delay,
 * each further quick death (within SUPERVISOR_HEALTHY_UPTIME of start)
 * doubles the wait up to restart_delay_max, and a worker that stays up that
 * long resets it. A pool whose workers die quickly SUPERVISOR_FAILING_DEATHS
 * times in a row is marked failing and logged once; it keeps retrying at
 * the capped delay, as runit and s6 do, and is unmarked when a worker stays
 * up again.
 */
#include "config.h"

#include <stdlib.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

const char *
pool_state_name(enum pool_state s)
{
	switch (s) {
	case POOL_RUNNING: return "running";
	case POOL_FAILING: return "failing";
	case POOL_STOPPING: return "stopping";
	case POOL_STOPPED: return "stopped";
	}
	return "?";
}

struct pool *
pool_new(struct supervisor *sv, struct pool_config *pc)
{
	struct pool	*pool = xcalloc(1, sizeof *pool);
	int		 i;

	pool->sv = sv;
	pool->pc = pc;
	pool->name = pc->name;
	pool->state = POOL_STOPPED;
	pool->nslots = pc->max_workers;
	pool->slots = xcalloc((size_t)pool->nslots, sizeof *pool->slots);
	TAILQ_INIT(&pool->queue);
	TAILQ_INIT(&pool->ready);
	for (i = 0; i < pool->nslots; i++)
		pool->slots[i] = worker_new(pool, i);
	return pool;
}

void
pool_free(struct pool *pool)
{
	int	i;

	for (i = 0; i < pool->nslots; i++)
		worker_free(pool->slots[i]);
	free(pool->slots);
	free(pool);
}

void
pool_start(struct pool *pool)
{
	int	i;

	pool->state = POOL_RUNNING;
	for (i = 0; i < pool->pc->workers; i++)
		worker_spawn(pool->slots[i]);
	log_info("pool %s: started %d %s worker%s", pool->name,
	    pool->pc->workers, pool->pc->type == POOL_TYPE_EXEC ? "exec" :
	    "stream", pool->pc->workers == 1 ? "" : "s");
}

int
pool_live_workers(const struct pool *pool)
{
	int	i, n = 0;

	for (i = 0; i < pool->nslots; i++)
		if (pool->slots[i]->state != WORKER_DEAD)
			n++;
	return n;
}

int
pool_inflight(const struct pool *pool)
{
	int	i, n = 0;

	for (i = 0; i < pool->nslots; i++)
		n += pool->slots[i]->ninflight;
	return n;
}

/*
 * Dynamic pools: jobs are waiting and no worker has room, so start
 * on-demand workers (up to max_workers), enough for the backlog.
 */
void
pool_grow(struct pool *pool)
{
	struct pool_config	*pc = pool->pc;
	struct worker		*w;
	size_t			 want;
	int			 i;

	if (!pc->dynamic || pool->state == POOL_STOPPING ||
	    pool->state == POOL_STOPPED)
		return;
	want = (pool->queue_len + (size_t)pc->prefetch - 1) /
	    (size_t)pc->prefetch;
	for (i = pc->min_workers; i < pool->nslots && want > 0; i++) {
		w = pool->slots[i];
		if (w->state != WORKER_DEAD || ev_is_active(&w->restart_timer))
			continue;
		log_info("pool %s: %zu job%s waiting; starting worker %d", pool->name,
		    pool->queue_len, pool->queue_len == 1 ? "" : "s", i);
		want--;
		worker_spawn(w);
		if (pool->queue_len == 0)
			break;
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
	struct worker		*w;
	int			 i;

	if (pc->max_workers > pool->nslots) {
		pool->slots = xreallocarray(pool->slots,
		    (size_t)pc->max_workers, sizeof *pool->slots);
		for (i = pool->nslots; i < pc->max_workers; i++)
			pool->slots[i] = worker_new(pool, i);
		pool->nslots = pc->max_workers;
	}
	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i];
		if (i < pc->workers) {
			if (w->state == WORKER_DEAD &&
			    !ev_is_active(&w->restart_timer))
				worker_spawn(w);
			continue;
		}
		if (i < pc->max_workers)
			continue;
		ev_timer_stop(pool->sv->loop, &w->restart_timer);
		if (worker_alive(w) && !w->stop_requested) {
			w->retire = 1;
			dispatch_worker_drain(w);
		}
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
		w = pool->slots[i];
		if (worker_alive(w) && w->cfg_gen != pool->cfg_gen &&
		    (w->recycle || w->stop_requested))
			return;		/* one is being replaced */
	}
	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i];
		if (worker_alive(w) && w->cfg_gen != pool->cfg_gen) {
			log_info("%s.%d: replacing it to apply the new "
			    "configuration", pool->name, i);
			dispatch_worker_drain(w);
			return;
		}
	}
}

void
pool_remove(struct pool *pool)
{
	int	i;

	pool->removed = 1;
	dispatch_cancel_queue(pool, "pool removed by a configuration reload");
	for (i = 0; i < pool->nslots; i++) {
		ev_timer_stop(pool->sv->loop, &pool->slots[i]->restart_timer);
		if (worker_alive(pool->slots[i])) {
			pool->slots[i]->retire = 1;
			dispatch_worker_drain(pool->slots[i]);
		}
	}
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
	pool->paused = 0;
	pool->pc = pc;
	pool->name = pc->name;
	pool->cfg_gen++;
	pool->state = POOL_RUNNING;
	for (i = 0; i < pool->nslots && i < pc->max_workers; i++)
		pool->slots[i]->retire = 0;
	pool_resize(pool);
}

/* A job of the pool was freed; a removed pool's last one lets it go. */
void
pool_job_freed(struct pool *pool)
{
	if (--pool->njobs == 0 && pool->removed)
		supervisor_sweep_soon(pool->sv);
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
		ev_timer_stop(pool->sv->loop, &pool->slots[i]->restart_timer);
		worker_stop(pool->slots[i]);
	}
	if (pool_live_workers(pool) == 0) {
		pool->state = POOL_STOPPED;
		supervisor_pool_stopped(pool->sv, pool);
	}
}

static void
pool_restart_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	if (w->pool->state == POOL_STOPPING || w->pool->state == POOL_STOPPED)
		return;
	w->restarts++;
	w->pool->restarts++;
	worker_spawn(w);
}

void
pool_worker_gone(struct pool *pool, struct worker *w, double uptime)
{
	struct pool_config	*pc = pool->pc;
	double			 delay;

	w->state = WORKER_DEAD;
	if (pool->state == POOL_STOPPING || pool->state == POOL_STOPPED) {
		if (pool_live_workers(pool) == 0 &&
		    pool->state == POOL_STOPPING) {
			pool->state = POOL_STOPPED;
			supervisor_pool_stopped(pool->sv, pool);
		}
		return;
	}
	if (w->retire) {
		w->retire = 0;
		dispatch_run(pool);
		return;
	}
	if (pc->dynamic && w->index >= pc->min_workers) {
		/* On-demand workers come back when the queue needs them. */
		dispatch_run(pool);
		return;
	}
	if (w->recycle && uptime > 0) {
		/* Recycled on purpose: no back-off. */
		w->restarts++;
		pool->restarts++;
		worker_spawn(w);
		pool_roll_next(pool);
		return;
	}
	if (uptime >= SUPERVISOR_HEALTHY_UPTIME) {
		w->delay = pc->restart_delay;
		w->quick_deaths = 0;
	} else
		w->quick_deaths++;
	delay = w->delay;
	if (w->quick_deaths > 0) {
		w->delay *= 2;
		if (w->delay > pc->restart_delay_max)
			w->delay = pc->restart_delay_max;
	}
	if (w->quick_deaths >= SUPERVISOR_FAILING_DEATHS &&
	    pool->state == POOL_RUNNING) {
		pool->state = POOL_FAILING;
		log_warnx("pool %s: workers keep dying within %.1fs of start; "
		    "backing off (up to %.1fs between restarts)", pool->name,
		    SUPERVISOR_HEALTHY_UPTIME, pc->restart_delay_max);
	}
	log_info("%s.%d: restarting in %.0fms", pool->name, w->index,
	    delay * 1000.0);
	ev_timer_init(&w->restart_timer, pool_restart_cb, delay, 0);
	w->restart_timer.data = w;
	ev_timer_start(pool->sv->loop, &w->restart_timer);
}

void
pool_worker_healthy(struct pool *pool, struct worker *w)
{
	int	i;

	w->delay = pool->pc->restart_delay;
	w->quick_deaths = 0;
	if (pool->state != POOL_FAILING)
		return;
	for (i = 0; i < pool->nslots; i++)
		if (pool->slots[i]->quick_deaths >= SUPERVISOR_FAILING_DEATHS)
			return;
	pool->state = POOL_RUNNING;
	log_info("pool %s: workers are staying up again", pool->name);
}
