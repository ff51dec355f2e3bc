/*
 * Recovery's in-memory steps for the SQLite store (see store_recover.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "store/job.h"
#include "store/store_recover.h"

int
store_record_finished(const struct store_record *r)
{
	return r->state >= JOB_DONE && r->state <= JOB_CANCELLED;
}

static int
store_recover_finished_cmp(const void *a, const void *b)
{
	const struct store_record *x = &((const struct store_rec *)a)->r;
	const struct store_record *y = &((const struct store_rec *)b)->r;

	if (x->finished_at != y->finished_at)
		return x->finished_at < y->finished_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
store_recover_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_rec *)a)->r.id,
	    ((const struct store_rec *)b)->r.id);
}

/*
 * A start's delta (the newest) over the whole record it extends: the
 * delta's state, attempts, worker and start time, the rest the base's.
 */
static struct store_rec
store_recover_merge(const struct store_rec *base, const struct store_rec *d)
{
	struct store_rec	m = *base;

	m.r.state = d->r.state;
	m.r.truncated = d->r.truncated;
	m.r.attempts = d->r.attempts;
	m.r.worker = d->r.worker;
	m.r.started_at = d->r.started_at;
	m.seg = d->seg;
	m.base = base->seg + 1;
	return m;
}

struct store_rec *
store_recover_newest(struct store_rec *recs, size_t *n)
{
	struct store_rec	*newest;
	size_t			*slot, *full, nslots, i, j, h;

	for (nslots = 16; nslots < *n * 2; nslots *= 2)
		;
	slot = xcalloc(nslots, sizeof *slot);	/* 1 + index, 0 empty */
	full = xcalloc(nslots, sizeof *full);	/* its newest whole one */
	for (i = 0; i < *n; i++) {
		recs[i].base = 0;
		for (h = (size_t)strtoull(recs[i].r.id + 8, NULL, 16) &
		    (nslots - 1); slot[h] != 0; h = (h + 1) & (nslots - 1))
			if (strcmp(recs[slot[h] - 1].r.id, recs[i].r.id) == 0)
				break;
		slot[h] = i + 1;
		if (!recs[i].r.delta)
			full[h] = i + 1;
	}
	newest = xreallocarray(NULL, *n ? *n : 1, sizeof *newest);
	for (i = j = 0; i < nslots; i++) {
		if (slot[i] == 0)
			continue;
		if (!recs[slot[i] - 1].r.delta)
			newest[j++] = recs[slot[i] - 1];
		else if (full[i] != 0)
			newest[j++] = store_recover_merge(&recs[full[i] - 1],
			    &recs[slot[i] - 1]);
		/* A delta without its base cannot be: nothing to restore. */
	}
	free(full);
	free(slot);
	free(recs);
	*n = j;
	return newest;
}

void
store_recover_order(struct store_rec *recs, size_t *n, size_t max_finished)
{
	struct store_rec	rec;
	size_t			i, j, first;

	for (i = j = 0; i < *n; i++)
		if (store_record_finished(&recs[i].r)) {
			rec = recs[j];
			recs[j++] = recs[i];
			recs[i] = rec;
		}
	qsort(recs, j, sizeof *recs, store_recover_finished_cmp);
	qsort(recs + j, *n - j, sizeof *recs, store_recover_id_cmp);
	if (j > max_finished) {
		first = j - max_finished;
		memmove(recs, recs + first, (*n - first) * sizeof *recs);
		*n -= first;
	}
}
