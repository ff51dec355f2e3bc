/*
 * Latency histograms and finish rates (see hist.h).
 */
#include "config.h"

#include "common/hist.h"

/*
 * Bucket b holds [2^b, 2^(b+1)) microseconds (0 and 1 in bucket 0): b is
 * the index of the highest bit set, found by one instruction rather than
 * by shifting (two calls per job).
 */
void
hist_add(struct hist *h, double seconds)
{
	double	us;
	int	b;

	if (!(seconds > 0))		/* negative (clock went back), NaN */
		seconds = 0;
	us = seconds * 1e6;
	if (us >= (double)(1ULL << (HIST_BUCKETS - 1)))
		b = HIST_BUCKETS - 1;
	else if (us < 2)
		b = 0;
	else
		b = 63 - __builtin_clzll((uint64_t)us);
	h->bucket[b]++;
	h->count++;
	h->sum += seconds;
	if (seconds > h->max)
		h->max = seconds;
}

double
hist_percentile_ms(const struct hist *h, double p)
{
	uint64_t	seen = 0;
	double		ms;
	int		i;

	if (h->count == 0)
		return 0;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if ((double)seen >= p * (double)h->count) {
			/* The last bucket is open-ended: only max bounds it. */
			if (i == HIST_BUCKETS - 1)
				break;
			ms = (double)(2ULL << i) / 1000.0;
			return ms < h->max * 1000.0 ? ms : h->max * 1000.0;
		}
	}
	return h->max * 1000.0;
}

void
rate_add(struct rate *r, double now)
{
	uint64_t	sec = (uint64_t)now;
	unsigned	slot = (unsigned)(sec % 60);

	if (r->second[slot] != sec) {
		r->second[slot] = sec;
		r->count[slot] = 0;
	}
	r->count[slot]++;
}

double
rate_per_s(const struct rate *r, double now)
{
	uint64_t	sec = (uint64_t)now, total = 0;
	int		i;

	for (i = 0; i < 60; i++)
		if (r->second[i] + 60 > sec)
			total += r->count[i];
	return (double)total / 60.0;
}
