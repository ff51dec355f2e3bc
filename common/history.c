/*
 * The per-pool ring of the last hour (see history.h).
 */
#include "config.h"

#include <string.h>

#include "common/history.h"

uint64_t
history_bucket_at(double now)
{
	return now > 0 ? (uint64_t)now / HISTORY_BUCKET_S : 0;
}

void
history_add(struct history *h, double now, enum history_end how, double run)
{
	uint64_t		 n = history_bucket_at(now);
	unsigned		 i = (unsigned)(n % HISTORY_BUCKETS);
	struct history_bucket	*b = &h->bucket[i];

	if (h->slot[i] != n + 1) {
		/* A slot from an earlier turn of the ring: start it afresh. */
		h->slot[i] = n + 1;
		memset(b, 0, sizeof *b);
	}
	switch (how) {
	case HISTORY_DONE:
		b->done++;
		break;
	case HISTORY_FAILED:
		b->failed++;
		break;
	case HISTORY_CANCELLED:
		b->cancelled++;
		break;
	}
	if (run >= 0) {
		b->runs++;
		b->run_sum += run;
		if (run > b->run_max)
			b->run_max = run;
	}
}

void
history_get(const struct history *h, uint64_t n, struct history_bucket *out)
{
	unsigned	i = (unsigned)(n % HISTORY_BUCKETS);

	if (h->slot[i] == n + 1)
		*out = h->bucket[i];
	else
		memset(out, 0, sizeof *out);
}
