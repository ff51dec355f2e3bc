/*
 * Constant-memory latency histograms: bucket i counts durations in
 * [2^i, 2^(i+1)) microseconds, so 40 buckets span a microsecond to about
 * twelve days whatever the number of jobs. Percentiles are read as the
 * upper bound of the bucket that holds them (at most a factor of two
 * high), capped by the largest duration seen.
 */
#ifndef MPSUP_HIST_H
#define MPSUP_HIST_H

#include <stdint.h>

#define HIST_BUCKETS	40

struct hist {
	uint64_t	bucket[HIST_BUCKETS];
	uint64_t	count;
	double		sum;		/* seconds */
	double		max;		/* seconds */
};

void	hist_add(struct hist *, double seconds);
/* The p-th fraction (0..1) in milliseconds; 0 when empty. */
double	hist_percentile_ms(const struct hist *, double p);

/* Jobs finished per second over the last minute, from a ring of seconds. */
struct rate {
	uint32_t	count[60];
	uint64_t	second[60];	/* which second each slot holds */
};

void	rate_add(struct rate *, double now);
double	rate_per_s(const struct rate *, double now);

#endif
