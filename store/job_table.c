/*
 * The id table (see job.h): every job the supervisor knows, found by id.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/xmalloc.h"
#include "store/job.h"

/*
 * The id table: Robin Hood hashing over a power-of-two array of job
 * pointers, at most 3/4 full. A job's home slot comes from its id's
 * 16 characters read as two words (see job_id_key), without a walk over
 * its text. Beside each slot, a byte keeps how far its job
 * sits from its home: an insert moves on past jobs nearer their home than
 * itself, a probe stops at one nearer than it would be, and a removal
 * shifts the rest of the run back one slot instead of leaving a
 * tombstone, all without reading another job. Insert, find and remove
 * touch a handful of adjacent slots.
 */
#define JOB_TABLE_FAR	255	/* no farther from home: grow instead */

static struct {
	struct job	**slots;
	uint8_t		 *dist;		/* per slot: 1 + distance from home */
	size_t		  mask;		/* slots - 1 */
	unsigned	  shift;	/* 64 - log2(slots) */
	size_t		  count;
	uint64_t	  salt[2];	/* drawn with the first slots */
	int		  salted;
} table;

/*
 * An id's 16 characters as one big-endian number, folded to 64 bits,
 * less its last digit's low 3 bits: the digits that change from one id
 * to the next land in the low bits, which a Fibonacci multiply spreads
 * over the top ones. Decoding the hex first cost 5 times as many
 * instructions for the same spread.
 *
 * Each half is XORed with a salt drawn at random per process before the
 * fold. Ids also come from outside (a cluster's Redis, where any writer
 * may put any job); without the salt, anyone can solve the fold for
 * hundreds of ids with one home at every table size, and an insert that
 * finds no slot within JOB_TABLE_FAR of home grows the table, for ever.
 * With it, ids cannot be aimed at a home: the table's runs stay those of
 * random keys. The salt keeps the 8 ids that differ only in their last
 * digit in one block.
 */
static uint64_t
job_id_key(const char *id)
{
	uint64_t	hi, lo;
	unsigned	last = (unsigned)(unsigned char)id[JOB_ID_LEN - 1];

	memcpy(&hi, id, 8);
	memcpy(&lo, id + 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	hi = __builtin_bswap64(hi);
	lo = __builtin_bswap64(lo);
#endif
	lo = (lo & ~(uint64_t)0xff) | (((last & 0xf) + 9 * (last >> 6)) >> 3);
	lo ^= table.salt[0];
	hi ^= table.salt[1];
	return (lo + hi * 0xff51afd7ed558ccdULL) * 0x9e3779b97f4a7c15ULL;
}

/*
 * The home slot: the key picks a block of 8 slots (one cache line of
 * pointers), the id's last digit a slot in it. The supervisor makes ids
 * in order (job_id_next), so the jobs of a batch are put, waited for and
 * pruned in runs of 8 adjacent slots instead of one cache miss each: in
 * the stream benchmark the table's misses were a sixth of the
 * supervisor's cycles. The price is longer runs (probes of ~5 slots at
 * 3/4 full, against ~1.5), all in adjacent memory.
 */
static size_t
job_table_home(const char *id)
{
	unsigned	last = (unsigned)(unsigned char)id[JOB_ID_LEN - 1];
	size_t		block = (size_t)(job_id_key(id) >> table.shift) & ~(size_t)7;

	return (block | (((last & 0xf) + 9 * (last >> 6)) & 7)) & table.mask;
}

static void	job_table_grow(void);

static void
job_table_put(struct job *job)
{
	size_t		 i = job_table_home(job->id);
	unsigned	 d = 1, t;
	struct job	*j;

	for (;;) {
		if (table.slots[i] == NULL) {
			table.slots[i] = job;
			table.dist[i] = (uint8_t)d;
			return;
		}
		if (table.dist[i] < d) {
			j = table.slots[i], table.slots[i] = job, job = j;
			t = table.dist[i], table.dist[i] = (uint8_t)d, d = t;
		}
		i = (i + 1) & table.mask;
		/* What it carries now is out of the table: grow, then put it. */
		if (++d == JOB_TABLE_FAR) {
			job_table_grow();
			i = job_table_home(job->id);
			d = 1;
		}
	}
}

static void
job_table_grow(void)
{
	struct job	**old = table.slots;
	uint8_t		 *olddist = table.dist;
	size_t		  oldn = old != NULL ? table.mask + 1 : 0, i;
	size_t		  n = oldn ? oldn * 2 : 1024;

	if (old == NULL && !table.salted) {
		table.salt[0] = hash_str("job_table salt 0");
		table.salt[1] = hash_str("job_table salt 1");
		table.salted = 1;
	}
	table.slots = xcalloc(n, sizeof *table.slots);
	table.dist = xcalloc(n, sizeof *table.dist);
	table.mask = n - 1;
	table.shift = 64;
	while (n > 1) {
		n >>= 1;
		table.shift--;
	}
	for (i = 0; i < oldn; i++)
		if (old[i] != NULL)
			job_table_put(old[i]);
	free(old);
	free(olddist);
}

void
job_table_add(struct job *job)
{
	if (table.slots == NULL || table.count + 1 > (table.mask + 1) / 4 * 3)
		job_table_grow();
	job_table_put(job);
	table.count++;
}

/*
 * The slot of job (by pointer) or else of the job whose id is id, or
 * SIZE_MAX: the probe ends at an empty slot or one nearer its home.
 */
static size_t
job_table_slot(const char *id, const struct job *job)
{
	size_t		i;
	unsigned	d;

	if (table.slots == NULL)
		return SIZE_MAX;
	for (i = job_table_home(id), d = 1; table.dist[i] >= d;
	    i = (i + 1) & table.mask, d++) {
		if (job != NULL ? table.slots[i] == job :
		    memcmp(table.slots[i]->id, id, JOB_ID_LEN) == 0)
			return i;
	}
	return SIZE_MAX;
}

void
job_table_remove(struct job *job)
{
	size_t	i = job_table_slot(job->id, job), next;

	if (i == SIZE_MAX)
		return;
	table.count--;
	for (next = (i + 1) & table.mask; table.dist[next] > 1;
	    i = next, next = (next + 1) & table.mask) {
		table.slots[i] = table.slots[next];
		table.dist[i] = (uint8_t)(table.dist[next] - 1);
	}
	table.slots[i] = NULL;
	table.dist[i] = 0;
}

struct job *
job_table_find(const char *id, size_t len)
{
	size_t	i;

	if (len != JOB_ID_LEN || (i = job_table_slot(id, NULL)) == SIZE_MAX)
		return NULL;
	return table.slots[i];
}

size_t
job_table_count(void)
{
	return table.count;
}

void
job_table_prefetch(const char *id)
{
	size_t	i;

	if (table.slots == NULL)
		return;
	i = job_table_home(id);
	__builtin_prefetch(&table.slots[i], 1);
	__builtin_prefetch(&table.dist[i], 1);
}

void
job_table_salt_set(uint64_t lo, uint64_t hi)
{
	table.salt[0] = lo;
	table.salt[1] = hi;
	table.salted = 1;
}

size_t
job_table_capacity(void)
{
	return table.slots != NULL ? table.mask + 1 : 0;
}

void
job_table_foreach(void (*fn)(struct job *, void *), void *arg)
{
	size_t	i, n = table.slots != NULL ? table.mask + 1 : 0;

	for (i = 0; i < n; i++)
		if (table.slots[i] != NULL)
			fn(table.slots[i], arg);
}
