/*
 * A pool: its configuration, its worker slots, and (with the job engine)
 * its queue. The pool decides when slots are (re)started and notices when
 * it cannot keep its workers up.
 */
#ifndef MPSUP_POOL_H
#define MPSUP_POOL_H

#include <ev.h>

#include "config/config.h"

struct supervisor;
struct worker;

enum pool_state {
	POOL_RUNNING,
	POOL_FAILING,		/* workers keep dying right after start */
	POOL_STOPPING,
	POOL_STOPPED,
};

struct pool {
	struct supervisor	*sv;
	struct pool_config	*pc;		/* borrowed from sv->cfg */
	const char		*name;
	enum pool_state		 state;
	struct worker		**slots;
	int			 nslots;
	long			 restarts;
};

struct pool	*pool_new(struct supervisor *, struct pool_config *);
void		 pool_free(struct pool *);
void		 pool_start(struct pool *);
void		 pool_stop(struct pool *);
/* Number of slots with a live process. */
int		 pool_live_workers(const struct pool *);
/* Called by a worker slot when its process is gone for good. */
void		 pool_worker_gone(struct pool *, struct worker *, double uptime);
/* Called when a worker has been up long enough to count as healthy. */
void		 pool_worker_healthy(struct pool *, struct worker *);
const char	*pool_state_name(enum pool_state);

#endif
