/*
 * Recent jobs: the query behind `mpsup jobs`, the jobs op and the
 * dashboard. It reads the id table (store/job.h), which holds every job
 * the queue knows: queued, running and the finished records it keeps.
 * Jobs come back newest first (ids sort by submission time), filtered by
 * pool, state, how recently they changed, and a visibility test the
 * caller supplies (the request layer's per-client rule), applied before
 * the limit so that a client's page is full of what it may see.
 *
 * The jobs returned are borrowed: valid until the loop runs again (the
 * queue frees expired records between iterations, never during a call).
 */
#ifndef MPSUP_JOBLIST_H
#define MPSUP_JOBLIST_H

#include <stddef.h>

#include "store/job.h"

/* A state's bit in joblist_filter.states. */
#define JOBLIST_STATE(s)	(1u << (s))
#define JOBLIST_ALL_STATES	((1u << JOB_NSTATES) - 1)
/* The most jobs one query returns (and the default limit). */
#define JOBLIST_MAX		10000

struct joblist_filter {
	const char	*pool;		/* only this pool's jobs, or NULL */
	unsigned	 states;	/* JOBLIST_STATE() bits; 0: every state */
	double		 since;		/* changed at or after (ev_now() clock); 0: any */
	size_t		 limit;		/* at most (0 or above JOBLIST_MAX: JOBLIST_MAX) */
	/* Whether a job may be listed (NULL: every job). */
	int		(*visible)(const struct job *, void *arg);
	void		*arg;
};

/*
 * The jobs that pass the filter, newest first, at most its limit: returns
 * how many and sets *out to an allocated array of them (the caller frees
 * the array, never the jobs; NULL when none). Costs one pass over the id
 * table and O(n log limit).
 */
size_t		 joblist_query(const struct joblist_filter *,
		    const struct job ***out);
/* The last time a job changed: finished, else started, else submitted. */
double		 joblist_changed_at(const struct job *);
/*
 * Parse a comma-separated list of state names ("failed,timed_out") into
 * JOBLIST_STATE() bits: 0, or -1 with *err naming what is wrong.
 */
int		 joblist_parse_states(const char *s, size_t len,
		    unsigned *states, const char **err);

#endif
