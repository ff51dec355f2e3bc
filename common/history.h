/*
 * A pool's last hour in fixed buckets: how many jobs ended (done, failed,
 * cancelled) and how long their runs took, one bucket per
 * HISTORY_BUCKET_S seconds of wall-clock time. A ring of HISTORY_BUCKETS
 * slots, each stamped with the bucket it holds, so that a quiet pool
 * costs nothing (no timer) and a slot left from an earlier hour reads as
 * empty. Constant memory whatever the number of jobs.
 */
#ifndef MPSUP_HISTORY_H
#define MPSUP_HISTORY_H

#include <stdint.h>

#define HISTORY_BUCKET_S	10
#define HISTORY_BUCKETS		360	/* an hour */

/* What ended in one bucket. */
struct history_bucket {
	uint32_t	done;
	uint32_t	failed;		/* failed or timed out */
	uint32_t	cancelled;
	uint32_t	runs;		/* of these, how many had run */
	double		run_sum;	/* seconds, over those runs */
	double		run_max;
};

struct history {
	uint64_t		slot[HISTORY_BUCKETS];	/* bucket number + 1; 0 unused */
	struct history_bucket	bucket[HISTORY_BUCKETS];
};

enum history_end { HISTORY_DONE, HISTORY_FAILED, HISTORY_CANCELLED };

/* The bucket number that holds time now (seconds since the epoch). */
uint64_t	history_bucket_at(double now);
/*
 * A job ended at now, how; run is how long its last attempt ran, or
 * negative if it never ran.
 */
void		history_add(struct history *, double now, enum history_end,
		    double run);
/* Bucket number n (all zero if the ring does not hold it). */
void		history_get(const struct history *, uint64_t n,
		    struct history_bucket *out);

#endif
