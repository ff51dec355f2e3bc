/*
 * The job queue: the one seam between the job engine (supervisor/
 * dispatch.c) and where jobs are kept. Behind it sit implementations that
 * each keep a private state behind the same table of operations, chosen
 * once at start-up from `store` (as redis's ae.c picks its backend):
 *
 *   memory   jobs live in this process; a stop drops what was unfinished;
 *   sqlite   the same queues, plus a durable log (store.h) written by one
 *            group commit per loop iteration, read back at start.
 *
 * A third (Redis, shared by several supervisors) plugs in here: dispatch
 * never asks which implementation it runs on.
 *
 * Jobs (job.h) are objects in this process whatever the implementation:
 * the queue owns every job it was given, except while the engine holds it
 * between queue_claim() and queue_requeue() or queue_finished(); it frees
 * a finished record past result_ttl or result_max. Each pool has a struct
 * queue_pool, embedded in the core's pool and attached to the queue, that
 * holds its counters and, for the implementations here, its FIFO.
 *
 * When each call happens, and what it may cost: every call runs on the
 * supervisor's loop and none blocks it. push, claim, started, requeue,
 * cancel, finished and lookup are in-memory operations; an implementation
 * that writes somewhere does it in queue_commit(), which the supervisor
 * calls once per loop iteration just before the loop blocks (a durable
 * implementation's disk writes are bounded by what one iteration changed;
 * a remote one would send them asynchronously). Whatever the queue decides
 * on its own later (a commit queued pending submits, a delayed retry came
 * due, a recovered job failed) it reports through struct queue_events.
 *
 * Errors follow the project's convention: a call that can fail for a
 * user-visible reason returns -1 and sets an error code string (the remote
 * protocol's: queue_full, store_error, ...) or an allocated cause.
 */
#ifndef MPSUP_QUEUE_H
#define MPSUP_QUEUE_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "store/job.h"

struct config;
struct queue;
struct queue_ack;

/*
 * A pool's flow control (store/queue_flow.c). The core sets the settings
 * from the pool's config (a reload applies at the next claim); the rest
 * is the queue's.
 */
struct queue_flow {
	int			 group_concurrency; /* per group, 0: no limit */
	double			 rate_interval;	/* 1 / rate_limit, 0: none */
	double			 rate_burst;	/* jobs at once, >= 1 */
	int			 rate_per_group;
	double			 aging;		/* priority_aging, 0: none */
	/* The queue's. */
	struct queue		*q;
	struct queue_group	*none;		/* jobs without a group */
	struct queue_group	**groups;	/* by name (chained) */
	size_t			 ngroups, nbuckets;
	TAILQ_HEAD(, queue_group) ring;		/* groups with work, in turn */
	size_t			 active;	/* groups on the ring */
	double			 tat;		/* GCRA, the pool's */
	size_t			 throttled;	/* held back at the last claim */
	size_t			 holding;	/* taken, not yet released */
	int			 behind;	/* held since the queue emptied */
	size_t			 depth[JOB_PRIORITY_LEVELS]; /* queued */
	int			 due_mark;
	ev_timer		 throttle_timer;
};

/*
 * One pool's part of the queue. The core embeds it in its pool and reads
 * the counters; only the queue and job.c (its state counters) write it.
 */
struct queue_pool {
	struct job_owner	 jobs;		/* first: see job_queue_pool() */
	uint64_t		 submitted;	/* accepted, ever */
	uint64_t		 retried;	/* attempts that were retried */
	uint64_t		 rejected;	/* submits refused */
	long			 max_queue;	/* queued + pending, at most */
	/*
	 * What the pool's workers hold at most (workers x prefetch) and its
	 * max_attempts: a cluster queue takes that many jobs at a time from
	 * the shared queue, and tells the other nodes.
	 */
	unsigned		 capacity;
	unsigned		 max_attempts;
	int			 removed;	/* refuse and cancel: pool is gone */
	size_t			 queue_len;	/* claimable now */
	size_t			 pending_len;	/* submitted, awaiting commit */
	struct queue_flow	 flow;		/* claimable jobs, and the rules */
	double			 dead_ttl;	/* keep dead letters; 0: none */
	size_t			 ndead;
	struct job_list		 dead;		/* dead letters, oldest first */
	struct queue_pool	*next;		/* the queue's list of pools */
};

/* The queue_pool a job belongs to (jobs is its first member). */
static inline struct queue_pool *
job_queue_pool(const struct job *job)
{
	return (struct queue_pool *)(void *)job->owner;
}

/* What the queue reports to the job engine (callbacks up). */
struct queue_events {
	/* Jobs of qp became claimable (a commit, a retry delay ran out). */
	void	(*runnable)(struct queue_pool *qp, void *arg);
	/*
	 * The queue ends a job it holds on its own (its pool was removed
	 * before a commit queued it; recovery found it out of attempts):
	 * error is allocated (the engine takes it) or NULL.
	 */
	void	(*finish)(struct job *, enum job_state, char *error, void *arg);
	/*
	 * Cluster: another node asks to cancel a job that runs (or waits,
	 * claimed) here; the engine cancels it as a local cancel would.
	 */
	void	(*cancel)(struct job *, void *arg);
};

/* How the queue fares (all 0 for memory). */
struct queue_stats {
	int			durable;
	int			failing;	/* the last commit failed */
	unsigned long long	commits;
	unsigned long long	commit_errors;
	size_t			segments;	/* rows in the segment log */
};

/*
 * Open the queue that `store` names ("memory" or "sqlite:/abs/path";
 * sync_full: synchronous=FULL; mode: of the files it creates). cfgp is
 * the current config (result_ttl, result_max are read at each use, so a
 * reload applies). NULL with *cause on failure (a held database names its
 * holder's pid).
 */
struct queue	*queue_open(const char *store, int sync_full, int mode,
		    struct ev_loop *, struct config *const *cfgp,
		    const struct queue_events *, void *arg, char **cause);
/*
 * The cluster queue (store/queue_redis.c, SPEC section 12): the pools'
 * queues live in Redis, shared by every node that names the same one.
 */
struct queue_cluster_opts {
	const char		*host;		/* TCP, or NULL */
	int			 port;
	const char		*path;		/* unix socket, or NULL */
	int			 db;
	const unsigned char	*password;	/* NULL: no AUTH */
	size_t			 password_len;
	const char		*label;		/* the url, without secrets */
	const char		*node;
	double			 lease;
};
struct queue	*queue_open_cluster(const struct queue_cluster_opts *,
		    struct ev_loop *, struct config *const *cfgp,
		    const struct queue_events *, void *arg, char **cause);
/*
 * A job this process does not hold (cluster): its record is fetched, and
 * cb(arg, job, NULL) called with it (valid during the call; with watch,
 * a job that has not ended is kept, and ends here when it ends on its
 * node, so that it can be waited for), or cb(arg, NULL, NULL) if there
 * is none, or cb(arg, NULL, "unavailable") when the connection drops
 * first. NULL (and no call ever) without a cluster, for an id of the
 * wrong length, or when Redis cannot be reached now.
 */
struct queue_fetch;
struct queue_fetch *queue_fetch(struct queue *, const char *id, size_t len,
		    int watch, void (*cb)(void *, struct job *, const char *),
		    void *arg);
void		 queue_fetch_cancel(struct queue_fetch *);
/*
 * Whether a job is one the cluster keeps elsewhere (accepted here, or
 * fetched): it is cancelled with queue_cancel_remote, not queue_cancel.
 */
int		 queue_job_remote(const struct queue *, const struct job *);
/*
 * Cancel a job wherever it is: cb(arg, state, NULL) with its state after
 * ("cancelled"; "running": its node was told; a terminal state: too
 * late; NULL: no such job), or cb(arg, NULL, "unavailable"); NULL (no
 * call ever) when it cannot be sent (no cluster, pool unknown, Redis
 * away).
 */
struct queue_fetch *queue_cancel_remote(struct queue *, const char *pool,
		    const char *id, void (*cb)(void *, const char *,
		    const char *), void *arg);

/* A node of the cluster, as the last look at the registry saw it. */
struct queue_node_info {
	const char	*consumer;	/* node:boot */
	const char	*info;		/* its registry JSON */
	int		 live;		/* its lease holds */
	int		 self;
};
struct queue_cluster_info {
	const char	*url;
	const char	*node;
	const char	*consumer;
	int		 connected;
	const char	*why;		/* when not */
	double		 lease;
	unsigned long long unavailable, fenced, requeued;
};
/* 0 and *info filled for a cluster queue; -1 otherwise. */
int		 queue_cluster(const struct queue *, struct queue_cluster_info *);
size_t		 queue_cluster_nodes(const struct queue *,
		    struct queue_node_info *, size_t max);
/*
 * Cluster: cb(arg) each time a heartbeat has read the nodes' registry
 * anew (queue_cluster_nodes() gives it then); nothing without a cluster.
 * A registry entry is JSON that any Redis client may have written:
 * readers bound and check everything in it.
 */
void		 queue_cluster_on_registry(struct queue *, void (*cb)(void *),
		    void *arg);
/* Cluster-wide depth of a pool as last seen: 0, or -1 (no cluster). */
int		 queue_cluster_depth(const struct queue *,
		    const struct queue_pool *, long long *queued,
		    long long *running, long long *delayed);

/*
 * The clock that priority aging and rate limits read (tests set a fake
 * one); ev_now() of the queue's loop by default.
 */
void		 queue_set_clock(struct queue *, double (*now)(void *),
		    void *arg);
/* Free every job it holds and close what it opened. */
void		 queue_close(struct queue *);
/* Its name for logs and status ("memory", "sqlite"). */
const char	*queue_name(const struct queue *);
/* Whether jobs outlive the process (a stop keeps the unfinished ones). */
int		 queue_durable(const struct queue *);
/* Opened read-only: serves what it holds, every write fails. */
int		 queue_readonly(const struct queue *);

/* A pool's part joins (or leaves, once empty of claimable jobs) the queue. */
void		 queue_pool_attach(struct queue *, struct queue_pool *,
		    const char *name, int exec);
void		 queue_pool_detach(struct queue *, struct queue_pool *);

/*
 * Accept a new job (job_new(&qp->jobs, ...), its flow fields set); the
 * queue owns it from now on, also when this fails. A job whose
 * due time (job_not_before) is still ahead waits delayed until then. Returns 0 if it is queued now, 1 if it is
 * pending until the next commit (acknowledge it with queue_ack_new()), or
 * -1 with *err = "queue_full" (the job is freed).
 */
int		 queue_push(struct queue *, struct queue_pool *, struct job *,
		    const char **err);
/* Whether a job still waits for the commit that accepts it. */
int		 queue_job_pending(const struct queue *, const struct job *);
/*
 * Take up to max claimable jobs of qp, in order, into out; each leaves the
 * queue until it is requeued or finished. Returns how many. The order:
 * groups with work take turns (those at group_concurrency or held by a
 * per-group rate limit wait); within a group, the highest priority first,
 * where a job gains one level per `aging` seconds it waited, and the
 * oldest among equals. A rate limit that holds jobs back arms a timer
 * and reports runnable when they may go.
 */
size_t		 queue_claim(struct queue *, struct queue_pool *,
		    struct job **out, size_t max);
/* A claimed job was started (its attempt counts): record it before its line leaves. */
void		 queue_started(struct queue *, struct job *);
/*
 * A claimed job goes back to the head of its queue, at once or after delay
 * seconds (delayed until then, then queue_events.runnable says when);
 * counts: the attempt it had counts (a retry, in the pool's "retried").
 */
void		 queue_requeue(struct queue *, struct job *, double delay,
		    int counts);
/* Take a queued (or delayed) job out of its queue; -1 if it is not there. */
int		 queue_cancel(struct queue *, struct job *);
/* A job reached its terminal state: keep its record for result_ttl. */
void		 queue_finished(struct queue *, struct job *);
/* Every claimable job of qp leaves the queue: call fn on each. */
void		 queue_drain(struct queue *, struct queue_pool *,
		    void (*fn)(struct job *, void *), void *arg);

/* A job by id (queued, running or finished), or by idempotency key. */
struct job	*queue_lookup(struct queue *, const char *id, size_t len);
struct job	*queue_lookup_key(struct queue *, const char *client,
		    const char *key);

/*
 * Dead letters: a job that ended failed or timed_out (its attempts spent)
 * is kept, data and all, in its pool's dead letters for dead_ttl (when
 * above 0), at most result_max of them per pool, oldest dropped first;
 * other records are kept for result_ttl. queue_dead_next() walks a pool's
 * dead letters, oldest first (NULL for the first); queue_dead_release()
 * takes one out of them (it was retried): an ordinary record from then.
 */
struct job	*queue_dead_next(const struct queue_pool *, const struct job *);
/* Whether a job that ends in state will be kept as a dead letter. */
int		 queue_dead_letter(const struct job *, enum job_state);
void		 queue_dead_release(struct queue *, struct job *);

/*
 * Group commit (once per loop iteration): accept the pending submits and
 * write the state changes that are due; `all` writes every change now
 * (at exit). queue_commit_if_late() commits now if submits have waited
 * for it too long (a long iteration).
 */
void		 queue_commit(struct queue *, int all);
void		 queue_commit_if_late(struct queue *);
/*
 * Pipelined commits, for an engine that can hold job lines: a commit
 * then runs on the store's thread while the loop goes on, one at a time.
 * committing(arg) is called as one starts: it records the start of every
 * job started so far, whose job lines may leave only once committed(arg)
 * is called (the commit landed). A commit that fails is not followed by
 * committed(arg): its job lines stay held for the next commit that lands.
 * Jobs started in between wait for the next commit. queue_commit_busy()
 * says whether one runs, or whether commits fail while a start has not
 * landed: while it says so, the engine holds every job line it has not
 * sent, and queue_commit() starts no commit while one runs (all: waits
 * for it and commits the rest before returning). Without a call to
 * queue_pipeline() (or with a store that has no commit thread: memory, a
 * read-only file, store_sync = full), every commit is waited for.
 */
void		 queue_pipeline(struct queue *, void (*committing)(void *),
		    void (*committed)(void *), void *arg);
int		 queue_commit_busy(const struct queue *);
/*
 * Call cb(arg, NULL) once the pending jobs are committed, or cb(arg,
 * message) if the commit failed (the jobs were then refused).
 */
struct queue_ack *queue_ack_new(struct queue *,
		    void (*cb)(void *, const char *), void *arg);
void		 queue_ack_cancel(struct queue *, struct queue_ack *);

/*
 * Load what the queue kept at start-up (pools attached, nothing runs yet):
 * finished records, then the unfinished jobs in order; an interrupted one
 * counts an attempt against max_attempts(qp). -1 with *cause.
 */
int		 queue_recover(struct queue *,
		    unsigned (*max_attempts)(struct queue_pool *),
		    char **cause);
void		 queue_stats(const struct queue *, struct queue_stats *);
/* Finished records kept now. */
size_t		 queue_finished_count(const struct queue *);
/* The one timer of the delayed jobs: armed for the first due. */
ev_timer	*queue_due_timer(struct queue *);
/* Groups of qp with claimable jobs (those on hold too). */
size_t		 queue_groups_with_work(const struct queue_pool *);

#endif
