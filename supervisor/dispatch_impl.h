/*
 * Internals shared by the two halves of the job engine (see dispatch.h):
 * dispatch.c (queues, workers, results, retention) and dispatch_store.c
 * (pending submits, group commit, recovery). Included only by those two.
 */
#ifndef MPSUP_DISPATCH_IMPL_H
#define MPSUP_DISPATCH_IMPL_H

#include "supervisor/job.h"

struct dispatch_env;
struct store;

/* dispatch.c */
/* End a job in a terminal state (takes ownership of error). */
void	dispatch_finish(struct job *, enum job_state, char *error);
/* Keep a finished record for result_ttl, at most result_max of them. */
void	dispatch_retain(struct job *);
/* How many finished records are kept. */
size_t	dispatch_finished_count(void);

/* dispatch_store.c */
/* Start and stop the store half (from dispatch_init, dispatch_shutdown). */
void	dispatch_store_init(const struct dispatch_env *, struct store *);
void	dispatch_store_shutdown(void);
/* The durable store, or NULL (memory store, or none). */
struct store *dispatch_store_get(void);
/* Hold a submitted job out of its queue until the next commit. */
void	dispatch_pending_add(struct job *);
/* A job started: its start goes in the next commit, undelayed. */
void	dispatch_store_started(void);

#endif
