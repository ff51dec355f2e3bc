/*
 * A pool: its configuration, its worker slots, and (with the job engine)
 * its queue. The pool decides when slots are (re)started and notices when
 * it cannot keep its workers up; what its workers do with jobs it reports
 * upward through the events its creator registered.
 */
#ifndef MPSUP_POOL_H
#define MPSUP_POOL_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/hist.h"
#include "common/history.h"
#include "config/config.h"
#include "store/job.h"
#include "store/queue.h"

struct pool;
struct pool_slot;
struct worker;
struct worker_env;
struct worker_proc;

/* Quick deaths in a row after which a pool is marked failing. */
#define POOL_FAILING_DEATHS	5

/*
 * What the job engine measures (SPEC section 9); the job counters are the
 * queue's (struct queue_pool).
 */
struct pool_stats {
	struct hist	run;		/* run time of each attempt that ended */
	struct hist	wait;		/* queue wait before the first attempt */
	struct rate	finished;	/* jobs ending, per second */
	struct history	hour;		/* the last hour, for the dashboard */
};

enum pool_state {
	POOL_RUNNING,
	POOL_FAILING,		/* workers keep dying right after start */
	POOL_STOPPING,
	POOL_STOPPED,
	POOL_WAITING,		/* for the pools it depends_on (not started) */
};

/*
 * What a pool reports about its workers to the job engine and the
 * supervisor (callbacks up, calls down): the same table for every pool.
 */
struct pool_events {
	/* A worker process started: it has room for jobs. */
	void		(*worker_ready)(struct pool *, struct worker *);
	/* One result line from a worker; -1 if it is malformed. */
	int		(*worker_result)(struct worker *, const char *line,
			    size_t len);
	/* The job a worker's log line belongs to, or NULL. */
	const char	*(*worker_job)(struct worker *);
	/* A worker died or is being killed: send it nothing more. */
	void		(*worker_lost)(struct worker *);
	/* A worker is gone for good: retry or fail what it had (why or NULL). */
	void		(*worker_gone)(struct worker *, const char *why);
	/* Send a worker nothing more; stop it once its jobs are done. */
	void		(*worker_drain)(struct worker *);
	/* Whether a worker is being recycled (it takes no more jobs). */
	int		(*worker_recycling)(struct worker *);
	/* A worker object is freed: forget what the engine kept about it. */
	void		(*worker_free)(struct worker *);
	/* A slot was given back: queued jobs may find room now. */
	void		(*room)(struct pool *);
	/* The pool has no live workers left while stopping. */
	void		(*stopped)(struct pool *);
	/* A removed pool's last job (or kept record) is gone. */
	void		(*unused)(struct pool *);
};

struct pool {
	struct pool_config	*pc;		/* borrowed from the config */
	/*
	 * A gateway pool made from the cluster's registry (gateway.c): its
	 * own pc, freed with the pool or when a config's pc replaces it.
	 */
	struct pool_config	*own_pc;
	struct worker_proc	*proc;		/* how its workers start (pc's) */
	const char		*name;
	const struct pool_events *ev;
	struct worker_env	*wenv;
	struct ev_loop		*loop;
	enum pool_state		 state;
	struct pool_slot	**slots;
	int			 nslots;
	long			 restarts;
	int			 paused;
	int			 down;		/* ctl down: no workers wanted */
	int			 removed;	/* by a reload (see reload.c) */
	unsigned		 cfg_gen;	/* bumped when its workers must change */
	int			 restarting;	/* ctl restart, not a reload, rolls */
	struct queue_pool	 q;		/* its part of the queue */
	struct pool_stats	 stats;
	TAILQ_HEAD(, dispatch_worker) ready;	/* workers with room */
};

/* The pool whose part of the queue qp is. */
static inline struct pool *
pool_of_queue(const struct queue_pool *qp)
{
	return (struct pool *)(void *)((char *)qp - offsetof(struct pool, q));
}

/* The pool a job belongs to. */
static inline struct pool *
job_pool(const struct job *job)
{
	return pool_of_queue(job_queue_pool(job));
}

/* The pool is a gateway made from the cluster's registry (no section). */
static inline int
pool_from_cluster(const struct pool *pool)
{
	return pool->own_pc != NULL;
}

/* A new pool (not started) whose part of the queue joins q. */
struct pool	*pool_new(struct pool_config *, const struct pool_events *,
		    struct worker_env *, struct queue *);
void		 pool_free(struct pool *);
/*
 * Take a reload's config for this pool (same name); a gateway pool's own
 * config is freed (the pool is the config's from now on).
 */
void		 pool_set_config(struct pool *, struct pool_config *);
/* Take a gateway pool's config (config_pool_gateway()), and own it. */
void		 pool_set_gateway_config(struct pool *, struct pool_config *);
void		 pool_start(struct pool *);
void		 pool_stop(struct pool *);
/* SIGKILL every worker's process group now (a second SIGTERM). */
void		 pool_kill(struct pool *);
/* Make the slots match pc's worker counts (after scale or reload). */
void		 pool_resize(struct pool *);
/* Replace the workers one at a time with ones of the current config. */
void		 pool_roll_next(struct pool *);
/* Remove the pool (reload): stop once its jobs are done. */
void		 pool_remove(struct pool *);
/* A reload brings a removed pool's name back: serve again, with pc. */
void		 pool_revive(struct pool *, struct pool_config *pc);
/* Hold its queued jobs back (pause) or let them go again. */
void		 pool_set_paused(struct pool *, int);
/*
 * ctl down: its workers finish their jobs and stop, and none starts until
 * ctl up, while its queue keeps accepting; ctl up starts them again. -1
 * with *err if the pool is stopping; 1 if it already was down (or up).
 */
int		 pool_set_down(struct pool *, int down, const char **err);
/*
 * ctl restart: replace every worker, one at a time, each finishing its
 * jobs first (as a reload that changed the pool does). -1 with *err if
 * the pool is stopping or down.
 */
int		 pool_restart(struct pool *, const char **err);
/* Send sig to every live worker's process; returns how many. */
int		 pool_signal(struct pool *, int sig);
/* Resize a fixed-size pool; -1 with *err if that is not possible. */
int		 pool_scale(struct pool *, int, const char **err);
/* Dynamic pools: start on-demand workers for a backlog of jobs. */
void		 pool_grow(struct pool *, size_t backlog);
/* Number of slots with a live process. */
int		 pool_live_workers(const struct pool *);
/* The worker of slot i (0 <= i < nslots) and how often it restarted. */
struct worker	*pool_worker(const struct pool *, int i);
long		 pool_worker_restarts(const struct pool *, int i);
const char	*pool_state_name(enum pool_state);
/* Hold a new pool back until pool_start(): its depends_on is not met. */
void		 pool_wait(struct pool *, const char *waiting_for);
/* Whether some worker of the pool is ready (idle or busy). */
int		 pool_has_ready_worker(const struct pool *);

#endif
