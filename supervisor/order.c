/*
 * The order pools start in (depends_on): a pool whose named pools do not
 * all have a ready worker yet waits (POOL_WAITING) and starts when the
 * last of them gets one. The order applies when a pool starts, at
 * start-up or when a reload adds it; a pool that is running already is
 * not stopped when a pool it depends on loses its workers later.
 */
#include "config.h"

#include <string.h>

#include "config/config.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

/* The first pool pool depends on with no ready worker, or NULL. */
static const char *
order_unmet(const struct supervisor *sv, const struct pool *pool)
{
	const struct pool_config	*pc = pool->pc;
	size_t				 i, j;

	for (i = 0; i < pc->ndepends_on; i++) {
		for (j = 0; j < sv->npools; j++)
			if (!sv->pools[j]->removed &&
			    strcmp(sv->pools[j]->name, pc->depends_on[i]) == 0 &&
			    pool_has_ready_worker(sv->pools[j]))
				break;
		if (j == sv->npools)
			return pc->depends_on[i];
	}
	return NULL;
}

/* Start a new pool, or let it wait for the pools it depends on. */
void
supervisor_pool_begin(struct supervisor *sv, struct pool *pool)
{
	const char	*unmet;

	if ((unmet = order_unmet(sv, pool)) != NULL)
		pool_wait(pool, unmet);
	else
		pool_start(pool);
}

/* A worker of some pool became ready: start the pools that waited for it. */
void
supervisor_pool_ready(void *arg, struct pool *ready)
{
	struct supervisor	*sv = arg;
	struct pool		*pool;
	size_t			 i;

	if (sv->stopping)
		return;
	for (i = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		if (pool->state == POOL_WAITING && !pool->removed &&
		    order_unmet(sv, pool) == NULL)
			pool_start(pool);
	}
}
