/*
 * What a process and those it started cost now, read from /proc (Linux):
 * resident memory and CPU time, for the status document's workers. A
 * worker's jobs run in its children (exec pools) or in the worker itself,
 * so a worker is measured with its live descendants; the CPU time of the
 * ones already reaped is in their parents' counters, so the sum only grows.
 */
#ifndef MPSUP_PROCSTAT_H
#define MPSUP_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* Descendants visited per process tree at most (a fork bomb costs no more). */
#define PROCSTAT_MAX_PROCS	256

struct procstat {
	uint64_t	rss;		/* bytes resident */
	double		cpu;		/* seconds, user and system, reaped children too */
	unsigned	procs;		/* processes counted */
};

/*
 * pid and its descendants, at most PROCSTAT_MAX_PROCS of them; 0, or -1
 * if pid itself cannot be read (gone, or /proc missing or hidden).
 */
int	procstat_tree(pid_t pid, struct procstat *out);

/* Slots of the cache procstat_tree_cached() keeps, by pid. */
#define PROCSTAT_CACHE_SLOTS	256

/*
 * The same, read again only when what was read for pid is older than
 * max_age seconds on the caller's clock (now): a flood of status requests
 * costs /proc one walk per worker and period.
 */
int	procstat_tree_cached(pid_t pid, double now, double max_age,
	    struct procstat *out);

#endif
