/*
 * Inside the queue seam (see queue.h): the table of operations each
 * implementation fills and the state every queue shares. Included only by
 * the implementations in store/ (queue.c, queue_sqlite.c).
 */
#ifndef MPSUP_QUEUE_IMPL_H
#define MPSUP_QUEUE_IMPL_H

#include <sys/queue.h>

#include "store/queue.h"

struct store;

/* One implementation: queue.h's calls, each with the meaning given there. */
struct queue_ops {
	const char	*name;
	int		(*push)(struct queue *, struct queue_pool *,
			    struct job *, const char **err);
	int		(*job_pending)(const struct queue *, const struct job *);
	size_t		(*claim)(struct queue *, struct queue_pool *,
			    struct job **, size_t);
	void		(*started)(struct queue *, struct job *);
	void		(*requeue)(struct queue *, struct job *, double delay,
			    int counts);
	int		(*cancel)(struct queue *, struct job *);
	void		(*finished)(struct queue *, struct job *);
	void		(*dead_release)(struct queue *, struct job *);
	/* A record leaves for good (pruned): free what the queue kept of it. */
	void		(*forget)(struct queue *, struct job *);
	struct job	*(*lookup)(struct queue *, const char *, size_t);
	struct job	*(*lookup_key)(struct queue *, const char *client,
			    const char *key);
	void		(*commit)(struct queue *, int all);
	void		(*commit_if_late)(struct queue *);
	/* NULL: commits are never pipelined. */
	void		(*pipeline)(struct queue *, void (*)(void *),
			    void (*)(void *), void *);
	int		(*commit_busy)(const struct queue *);
	int		(*recover)(struct queue *,
			    unsigned (*)(struct queue_pool *), char **);
	void		(*stats)(const struct queue *, struct queue_stats *);
	void		(*close)(struct queue *);
	/* The cluster's (NULL for a queue of one machine). */
	struct queue_fetch *(*fetch)(struct queue *, const char *, size_t,
			    int, void (*)(void *, struct job *, const char *),
			    void *);
	struct queue_fetch *(*cancel_remote)(struct queue *, const char *,
			    const char *, void (*)(void *, const char *,
			    const char *), void *);
	int		(*job_remote)(const struct queue *, const struct job *);
	/* A removed pool's jobs that others can run go back (optional). */
	void		(*pool_release)(struct queue *, struct queue_pool *);
	/* A pool leaves for good (optional): drop what refers to it. */
	void		(*pool_detach)(struct queue *, struct queue_pool *);
};

TAILQ_HEAD(queue_ack_list, queue_ack);

struct queue_ack {
	TAILQ_ENTRY(queue_ack)	 entry;
	struct queue_ack_list	*in;		/* the list it waits in */
	unsigned long long	 mark;		/* pushes before it was made */
	void			(*cb)(void *, const char *);
	void			*arg;
};

struct queue {
	const struct queue_ops	*ops;
	struct ev_loop		*loop;
	struct config *const	*cfgp;
	const struct queue_events *ev;
	void			*arg;
	struct queue_pool	*pools;		/* attached */
	struct job_list		 finished;	/* oldest first */
	size_t			 nfinished;
	ev_timer		 prune_timer;
	struct job		**due;		/* delayed jobs: a heap by due time */
	size_t			 ndue, due_cap;
	ev_timer		 due_timer;	/* for the first of them */
	double			(*clock)(void *);
	void			*clock_arg;
	struct queue_ack_list	 acks;		/* waiting for a commit */
	unsigned long long	 pushes;	/* jobs pushed, ever */
	struct store		*store;		/* the durable log, or NULL */
	int			 readonly;
	void			*impl;		/* the implementation's own */
};

/* The memory implementation's operations, which the others build on. */
extern const struct queue_ops queue_memory_ops;
int		 queue_memory_push(struct queue *, struct queue_pool *,
		    struct job *, const char **);
size_t		 queue_memory_claim(struct queue *, struct queue_pool *,
		    struct job **, size_t);
void		 queue_memory_requeue(struct queue *, struct job *, double,
		    int);
int		 queue_memory_cancel(struct queue *, struct job *);
void		 queue_memory_finished(struct queue *, struct job *);
void		 queue_memory_dead_release(struct queue *, struct job *);
/* A released dead letter (still a finished record) is one again. */
void		 queue_memory_dead_restore(struct queue *, struct job *);
/* Keep a finished record: among the dead letters, or for result_ttl. */
void		 queue_memory_keep_dead(struct queue *, struct job *);
void		 queue_memory_keep(struct queue *, struct job *);
struct job	*queue_memory_lookup(struct queue *, const char *, size_t);
struct job	*queue_memory_lookup_key(struct queue *, const char *,
		    const char *);
void		 queue_memory_close(struct queue *);
/* Put an accepted job at the tail of its pool's FIFO. */
void		 queue_memory_enqueue(struct queue *, struct queue_pool *,
		    struct job *);
/* The attached pool of that name (not removed), or NULL. */
struct queue_pool *queue_pool_find(struct queue *, const char *name);
/* Answer every waiting ack: cause NULL (committed) or the failure. */
void		 queue_acks_done(struct queue *, const char *cause);
/* The same for the acks of one list (moved off q->acks by the caller). */
void		 queue_acks_answer(struct queue_ack_list *, const char *cause);
/* Move every waiting ack to list. */
void		 queue_acks_move(struct queue *, struct queue_ack_list *);
/* Whether a submit to qp would overflow its max_queue. */
int		 queue_full(const struct queue_pool *);

/* Flow control (queue_flow.c): how claimable jobs wait and leave. */
void		 queue_flow_init(struct queue *);
void		 queue_flow_close(struct queue *);
void		 queue_flow_attach(struct queue *, struct queue_pool *);
void		 queue_flow_detach(struct queue *, struct queue_pool *);
double		 queue_now(const struct queue *);
/* A job becomes claimable: at the tail of its level, or the head. */
void		 queue_flow_add(struct queue_pool *, struct job *, int head);
/* A claimable job leaves (cancelled). */
void		 queue_flow_remove(struct queue_pool *, struct job *);
/* The next job to claim, or NULL (none, or all on hold). */
struct job	*queue_flow_take(struct queue_pool *);
/* Any claimable job, whatever the rules (a drain), or NULL. */
struct job	*queue_flow_take_any(struct queue_pool *);
/* A claimed job no longer runs (requeued or finished). */
void		 queue_flow_release(struct job *);
/* Free every claimable job of qp (closing). */
void		 queue_flow_free(struct queue_pool *);
/* A job waits, delayed, until job_not_before(); or leaves the wait. */
void		 queue_due_add(struct queue *, struct job *);
void		 queue_due_remove(struct queue *, struct job *);

/* The Redis implementation (queue_redis.c). */
extern const struct queue_ops queue_redis_ops;
/* What queue_open() and queue_open_cluster() share. */
struct queue	*queue_new(struct ev_loop *, struct config *const *,
		    const struct queue_events *, void *);

/* The SQLite implementation (queue_sqlite.c): opens the log, sets ops. */
int		 queue_sqlite_open(struct queue *, const char *spec,
		    int sync_full, int mode, char **cause);
/* Its recovery (queue_sqlite_recover.c): queue_ops.recover. */
int		 queue_sqlite_recover(struct queue *,
		    unsigned (*)(struct queue_pool *), char **);

#endif
