/*
 * Recovery's work on the records read back from the SQLite store's
 * segments (store_sqlite.c): keep each job's newest record, then put them
 * in the order store_load() hands them out (see store.h).
 */
#ifndef MPSUP_STORE_RECOVER_H
#define MPSUP_STORE_RECOVER_H

#include <stddef.h>

#include "store/store.h"

/* A record read back, and the segment it came from. */
struct store_rec {
	struct store_record	r;
	size_t			seg;	/* index in the loaded segments */
	size_t			base;	/* merged: 1 + its base's seg, or 0 */
};

/*
 * Whether a record is of a finished job (done, failed, timed_out or
 * cancelled): kept until pruned, in a segment of its own when written.
 */
int		 store_record_finished(const struct store_record *);

/*
 * Keep each id's newest record of the n in recs (later in recs is newer),
 * a start's delta merged with the id's newest whole record before it:
 * the array that replaces recs (freed), *n set to how many it holds.
 */
struct store_rec *store_recover_newest(struct store_rec *recs, size_t *n);

/*
 * Finished records first, by finish time, the newest max_finished of them
 * only; then the others by id. *n is set to how many are left.
 */
void		 store_recover_order(struct store_rec *recs, size_t *n,
		    size_t max_finished);

#endif
