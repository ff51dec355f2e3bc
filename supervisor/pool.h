/*
 * A pool: its configuration, its worker slots, and (with the job engine)
 * its queue. The pool decides when slots are (re)started and notices when
 * it cannot keep its workers up.
 */
#ifndef MPSUP_POOL_H
#define MPSUP_POOL_H

#include <ev.h>
#include <stdint.h>
#include <sys/queue.h>

#include "config/config.h"
#include "common/hist.h"
#include "supervisor/job.h"

struct supervisor;
struct worker;

/* Counters behind the status document (SPEC section 9). */
struct pool_stats {
	uint64_t	submitted;
	uint64_t	retried;
	uint64_t	rejected;
	uint64_t	state[JOB_NSTATES];	/* jobs in each state now */
	struct hist	run;		/* run time of each attempt that ended */
	struct hist	wait;		/* queue wait before the first attempt */
	struct rate	finished;	/* jobs ending, per second */
};

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
	int			 paused;
	int			 removed;	/* by a reload (see reload.c) */
	size_t			 njobs;		/* jobs, kept records too, that
						   point at it */
	unsigned		 cfg_gen;	/* bumped when its workers must change */
	struct pool_stats	 stats;
	struct job_list		 queue;		/* FIFO of queued jobs */
	size_t			 queue_len;
	size_t			 pending_len;	/* submitted, awaiting commit */
	TAILQ_HEAD(, worker)	 ready;		/* workers with room */
};

struct pool	*pool_new(struct supervisor *, struct pool_config *);
void		 pool_free(struct pool *);
void		 pool_start(struct pool *);
void		 pool_stop(struct pool *);
/* Make the slots match pc's worker counts (after scale or reload). */
void		 pool_resize(struct pool *);
/* Replace the workers one at a time with ones of the current config. */
void		 pool_roll_next(struct pool *);
/* Remove the pool (reload): cancel its queue, stop once jobs are done. */
void		 pool_remove(struct pool *);
/* A reload brings a removed pool's name back: serve again, with pc. */
void		 pool_revive(struct pool *, struct pool_config *pc);
/* One of its jobs was freed (job_free). */
void		 pool_job_freed(struct pool *);
/* Resize a fixed-size pool; -1 with *err if that is not possible. */
int		 pool_scale(struct pool *, int, const char **err);
/* Dynamic pools: start on-demand workers for a backlog. */
void		 pool_grow(struct pool *);
/* Number of slots with a live process. */
int		 pool_live_workers(const struct pool *);
/* Jobs running on the pool's workers. */
int		 pool_inflight(const struct pool *);
/* Called by a worker slot when its process is gone for good. */
void		 pool_worker_gone(struct pool *, struct worker *, double uptime);
/* Called when a worker has been up long enough to count as healthy. */
void		 pool_worker_healthy(struct pool *, struct worker *);
const char	*pool_state_name(enum pool_state);

#endif
