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
