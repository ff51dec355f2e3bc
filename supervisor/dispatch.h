/*
 * The job engine: jobs claimed from the queue (store/queue.h) are handed
 * to workers with room over their own pipes; results are matched by id;
 * attempts that end without one are retried or failed, overruns timed
 * out, cancels sent. Where jobs wait and what is kept of them is the
 * queue's; the engine calls it through that seam only.
 */
#ifndef MPSUP_DISPATCH_H
#define MPSUP_DISPATCH_H

#include <ev.h>
#include <stddef.h>

struct config;
struct pool;
struct pool_events;
struct worker;
struct worker_env;
struct job;
struct job_flow_spec;
struct queue;
struct queue_events;
struct dispatch_ack;
struct queue;

/*
 * What the job engine reads of the supervisor, borrowed for its whole life
 * (pointers, so that a reload's new config and pools are seen).
 */
struct dispatch_env {
	struct ev_loop		*loop;
	struct config *const	*cfg;
	struct pool **const	*pools;
	const size_t		*npools;
	const int		*stopping;	/* a graceful stop began */
	struct worker_env	*wenv;
	struct queue		*queue;		/* where jobs wait and are kept */
	/* While stopping: a running job ended. */
	void			(*job_ended)(void *arg);
	/* A stopping pool has no live workers left. */
	void			(*pool_stopped)(void *arg, struct pool *);
	/* A removed pool's last job or record is gone. */
	void			(*pool_unused)(void *arg, struct pool *);
	/* A worker of the pool became ready (took its first job, or can). */
	void			(*worker_ready)(void *arg, struct pool *);
	void			*arg;
};

/* How the engine hears about the pools' workers (for pool_new()). */
extern const struct pool_events dispatch_pool_events;
/* How the engine hears from the queue (for queue_open()). */
extern const struct queue_events dispatch_queue_events;

/* Start the engine on env->queue. */
void	dispatch_init(const struct dispatch_env *);
void	dispatch_shutdown(void);
/*
 * Load what the queue kept at start-up (pools exist, nothing runs yet):
 * queued jobs in order, interrupted ones count an attempt. -1 with *cause.
 */
int	dispatch_recover(char **cause);
/*
 * Accept a job of client (a name, or NULL for none) into pool's queue:
 * data is validated JSON text. Returns the job, or NULL with *err set to
 * an error code (queue_full, shutting_down). A key the client already
 * used returns its job (of the same pool: request.c refuses a key of
 * another pool's job). With a durable queue the job is pending
 * (dispatch_job_pending) until the next dispatch_commit(). flow (NULL:
 * the defaults) gives its priority, due time and group (copied).
 */
struct job *dispatch_submit(struct pool *, const char *data, size_t len,
	    const char *client, const char *key,
	    const struct job_flow_spec *flow, const char **err);
/* Whether a job waits for its commit before it may be acknowledged. */
int	dispatch_job_pending(const struct job *);
/* A job by id (queued, running or finished), or NULL. */
struct job *dispatch_job_find(const char *id, size_t len);
/*
 * Call cb(arg, NULL) once the pending jobs are committed, or
 * cb(arg, message) if the commit failed (the jobs are then refused).
 */
/* The queue (the remote layer asks it of jobs held elsewhere). */
struct queue *dispatch_queue(void);
struct dispatch_ack *dispatch_ack_new(void (*cb)(void *, const char *),
	    void *arg);
void	dispatch_ack_cancel(struct dispatch_ack *);
/*
 * The queue's group commit, once per loop iteration; `all` also writes
 * the state changes that would otherwise wait a little (at exit).
 */
void	dispatch_commit(int all);
/* Commit now if submits have waited for it too long (a long iteration). */
void	dispatch_commit_if_late(void);

/* How the durable queue fares (all 0 with the memory queue). */
struct dispatch_store_stats {
	int			durable;
	int			failing;	/* the last commit failed */
	unsigned long long	commits;
	unsigned long long	commit_errors;
	size_t			segments;	/* rows in the segment log */
};
void	dispatch_store_stats(struct dispatch_store_stats *);
/* End every queued job of a pool as cancelled, with why as its error. */
void	dispatch_cancel_queue(struct pool *, const char *why);
/* Hand queued jobs to workers that have room. */
void	dispatch_run(struct pool *);
/* Cancel a job; -1 with *err if it has already finished. */
int	dispatch_cancel(struct job *, const char **err);
/* Write every worker's buffered job lines (once per loop iteration). */
void	dispatch_flush(void);
/*
 * With pipelined commits (queue_pipeline()): a commit starts that records
 * the starts of every job line queued so far, which are set apart; it
 * landed, and those go (later ones wait for the next commit).
 */
void	dispatch_sealed(void *);
void	dispatch_landed(void *);
/* Jobs queued or running across all pools. */
size_t	dispatch_unfinished(void);
/* Jobs running on a pool's workers. */
int	dispatch_pool_inflight(const struct pool *);
/*
 * What the engine knows of a worker: jobs it finished, jobs in flight and
 * the oldest of them (NULL if none).
 */
void	dispatch_worker_info(const struct worker *, long *jobs_done,
	    int *inflight, const char **job);

#endif
