/*
 * Jobs (see job.h): ids, the id table, state changes and records.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/slab.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "store/job.h"

/*
 * Job data shorter than this lives in the job's own block (one
 * allocation); longer data gets a block of its own, freed when the job
 * ends, so that kept finished records do not hold on to big inputs.
 */
#define JOB_DATA_INLINE	256

/*
 * Jobs and their extension blocks come from caches of fixed-size objects
 * (common/slab.h): a job is made and freed for every submit, a block for
 * every job that runs. Jobs are grouped by size in steps of 8 bytes, so
 * that one with short data takes what it needs and no malloc header.
 */
#define JOB_SIZE_STEP	8
#define JOB_SIZE_CLASSES \
	((offsetof(struct job, text) + JOB_DATA_INLINE) / JOB_SIZE_STEP + 1)

static struct slab	*job_slabs[JOB_SIZE_CLASSES];
static struct slab	*job_ext_slab;

static struct {
	struct job	**buckets;
	size_t		  nbuckets;
	size_t		  count;
} keys;

static struct {
	int		  on;
	struct job	**jobs;
	size_t		  n;
	size_t		  cap;
} changed;

/* The changed set a commit under way took (see job_changed_take). */
static struct {
	struct job	**jobs;
	size_t		  n;
	size_t		  cap;
} flight;

static struct {
	uint64_t	last_ms;
	unsigned	seq;
	int		cluster;
	uint64_t	node;
} ids;

const struct job_ext	job_ext_none;

const char *
job_state_name(enum job_state s)
{
	static const char *const names[JOB_NSTATES] = {
		"queued", "running", "done", "failed", "timed_out", "cancelled",
		"delayed"
	};

	return (unsigned)s < JOB_NSTATES ? names[s] : "?";
}

int
job_state_terminal(enum job_state s)
{
	return s >= JOB_DONE && s <= JOB_CANCELLED;
}

/*
 * SPEC section 6: queued -> running | cancelled; running -> done | failed
 * | timed_out | cancelled, or back to queued (a retry); a terminal state
 * goes nowhere. Beyond it: delayed -> queued | cancelled, and queued ->
 * delayed (a retry that waits for its back-off). Staying where it is is allowed: job_set_state() does
 * nothing then.
 */
int
job_transition_legal(enum job_state from, enum job_state to)
{
	if ((unsigned)from >= JOB_NSTATES || (unsigned)to >= JOB_NSTATES)
		return 0;
	if (from == to)
		return 1;
	switch (from) {
	case JOB_QUEUED:
		return to == JOB_RUNNING || to == JOB_CANCELLED ||
		    to == JOB_DELAYED;
	case JOB_DELAYED:
		return to == JOB_QUEUED || to == JOB_CANCELLED;
	case JOB_RUNNING:
		return 1;
	default:
		return 0;
	}
}

/*
 * The 8 lowercase hex digits of x, as the bytes of a word in memory
 * order: each nibble spread into a byte, then '0' or 'a' - 10 added to
 * all eight at once.
 */
static uint64_t
job_hex_word(uint32_t x)
{
	uint64_t	v = x, ge10;

	v = ((v & 0xffff0000ULL) << 16) | (v & 0xffffULL);
	v = ((v & 0x0000ff000000ff00ULL) << 8) | (v & 0x000000ff000000ffULL);
	v = ((v & 0x00f000f000f000f0ULL) << 4) | (v & 0x000f000f000f000fULL);
	/* Now byte i holds nibble i (the lowest first): 1 where it is >= 10. */
	ge10 = ((v + 0x0606060606060606ULL) >> 4) & 0x0101010101010101ULL;
	v += 0x3030303030303030ULL + ge10 * ('a' - '0' - 10);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return __builtin_bswap64(v);	/* the highest nibble first */
#else
	return v;
#endif
}

/* v as 16 hex digits and a NUL. */
static void
job_id_hex(uint64_t v, char *out)
{
	uint64_t	hi = job_hex_word((uint32_t)(v >> 32));
	uint64_t	lo = job_hex_word((uint32_t)v);

	memcpy(out, &hi, 8);
	memcpy(out + 8, &lo, 8);
	out[JOB_ID_LEN] = '\0';
}

int
job_id_ok(const char *id, size_t len)
{
	size_t	i;

	if (len != JOB_ID_LEN)
		return 0;
	for (i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return 1;
}

/*
 * Ids are 12 hex digits of milliseconds since the epoch and 4 of sequence:
 * they sort by submission time, and stay unique across restarts because
 * the clock moves on (and the sequence borrows from the next millisecond
 * when more than 65536 jobs arrive within one).
 */
void
job_id_next(char *out, double now)
{
	uint64_t	ms = (uint64_t)(now * 1000.0);
	unsigned	max = ids.cluster ? 0xff : 0xffff;

	if (ms > ids.last_ms) {
		ids.last_ms = ms;
		ids.seq = 0;
	} else if (++ids.seq > max) {
		ids.last_ms++;
		ids.seq = 0;
	}
	job_id_hex(ids.cluster ? (ids.last_ms << 16) | (ids.node << 8) |
	    ids.seq : (ids.last_ms << 16) | ids.seq, out);
}

/*
 * In a cluster, the low 16 bits are the node's number (0-255, unique
 * among the nodes that run) and 8 of sequence, so that two nodes never
 * make the same id in the same millisecond.
 */
void
job_id_cluster(unsigned node)
{
	ids.cluster = 1;
	ids.node = node & 0xff;
}

/* How far ahead of the clock a recovered id may be (a day). */
#define JOB_ID_AHEAD_MS	(24ULL * 3600 * 1000)

void
job_id_seen(const char *id)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < JOB_ID_LEN; i++) {
		char c = id[i];

		v = (v << 4) | (uint64_t)(c >= 'a' ? c - 'a' + 10 :
		    c >= 'A' ? c - 'A' + 10 : c - '0');
	}
	/*
	 * An id from far in the future (a damaged or forged store) would
	 * push every new id after it, up to where they wrap: not followed.
	 */
	if ((v >> 16) > (uint64_t)(time_wall() * 1000.0) + JOB_ID_AHEAD_MS) {
		log_warnx("job %.*s: its id is dated far in the future; new "
		    "ids do not follow it", JOB_ID_LEN, id);
		return;
	}
	if ((v >> 16) > ids.last_ms ||
	    ((v >> 16) == ids.last_ms && (v & 0xffff) > ids.seq)) {
		ids.last_ms = v >> 16;
		ids.seq = (unsigned)(v & 0xffff);
	}
}

/* Bytes of a job holding len bytes of data (data_out: none inline). */
static size_t
job_size(int data_out, size_t len)
{
	if (data_out || len + 1 <= sizeof(((struct job *)0)->text))
		return sizeof(struct job);
	return offsetof(struct job, text) + len + 1;
}

/* The cache of jobs of this size. */
static struct slab *
job_slab(size_t size)
{
	size_t	i = (size - 1) / JOB_SIZE_STEP;

	if (job_slabs[i] == NULL)
		job_slabs[i] = slab_new((i + 1) * JOB_SIZE_STEP);
	return job_slabs[i];
}

struct job *
job_new(struct job_owner *owner, const char *data, size_t len, double now)
{
	int		 out = len >= JOB_DATA_INLINE;
	struct job	*job;
	char		*to;

	job = slab_alloc(job_slab(job_size(out, len)));
	memset(job, 0, sizeof *job);
	if (out) {
		to = job->text.out = xmalloc(len + 1);
		job->data_out = 1;
	} else
		to = job->text.in;
	job_id_next(job->id, now);
	job->owner = owner;
	job->exec = owner->exec != 0;
	owner->njobs++;
	job->state = JOB_QUEUED;
	job->worker = -1;
	job->submitted_at = now;
	memcpy(to, data, len);
	to[len] = '\0';
	job->data_len = (uint32_t)len;
	return job;
}

struct job_ext *
job_ext(struct job *job)
{
	if (job->ext == NULL) {
		if (job_ext_slab == NULL)
			job_ext_slab = slab_new(sizeof *job->ext);
		job->ext = slab_alloc(job_ext_slab);
		memset(job->ext, 0, sizeof *job->ext);
		LIST_INIT(&job->ext->waiters);
	}
	return job->ext;
}

/* A result kept in the job itself is not freed. */
static void
job_result_free(struct job_ext *x)
{
	if (x->result != x->result_in)
		free(x->result);
	x->result = NULL;
}

void
job_set_result(struct job *job, char *result)
{
	if (job->ext == NULL && result == NULL)
		return;
	job_result_free(job_ext(job));
	job->ext->result = result;
}

/*
 * Most results are short (a number, a word): kept in the job they save a
 * malloc() and a free() per job, and the 32 bytes malloc() takes for one.
 */
void
job_set_result_text(struct job *job, const char *p, size_t len)
{
	struct job_ext	*x = job_ext(job);

	job_result_free(x);
	if (len < sizeof x->result_in) {
		memcpy(x->result_in, p, len);
		x->result_in[len] = '\0';
		x->result = x->result_in;
	} else
		x->result = xstrndup(p, len);
}

void
job_set_error(struct job *job, char *error)
{
	if (job->ext == NULL && error == NULL)
		return;
	free(job_ext(job)->error);
	job->ext->error = error;
}

void
job_set_retry_of(struct job *job, const char *id)
{
	free(job_ext(job)->retry_of);
	job->ext->retry_of = id != NULL ? xstrdup(id) : NULL;
}

void
job_set_runner(struct job *job, struct worker *w)
{
	if (job->ext != NULL || w != NULL)
		job_ext(job)->runner = w;
}

void
job_set_timer(struct job *job, ev_timer *t)
{
	if (job->ext != NULL || t != NULL)
		job_ext(job)->timer = t;
}

void
job_set_seg(struct job *job, uint64_t seg)
{
	if (job->ext != NULL || seg != 0)
		job_ext(job)->seg = seg;
}

void
job_set_base_seg(struct job *job, uint64_t seg)
{
	if (job->ext != NULL || seg != 0)
		job_ext(job)->base_seg = seg;
}

void
job_set_times(struct job *job, double started_at, double finished_at)
{
	if (job->ext == NULL && started_at == 0 && finished_at == 0)
		return;
	job_ext(job)->started_at = started_at;
	job->ext->finished_at = finished_at;
}

static void	job_key_remove(struct job *);
static void	job_changed_remove(struct job *);
static void	job_flight_forget(struct job *);

/* In job->changed: the job is in the flight set (the rest: its index+1). */
#define JOB_FLIGHT	0x80000000u

/* A finished job's data is not needed again: let a big one go. */
void
job_data_drop(struct job *job)
{
	if (job->data_out) {
		free(job->text.out);
		job->data_out = 0;
		job->text.in[0] = '\0';
		job->data_len = 0;
	}
}

void
job_free(struct job *job)
{
	struct job_owner	*owner = job->owner;
	struct job_ext		*x = job->ext;

	job_client_drop(job->client);
	if (job->changed & ~JOB_FLIGHT)
		job_changed_remove(job);
	if (job->changed & JOB_FLIGHT)
		job_flight_forget(job);
	if (x != NULL) {
		if (x->key != NULL) {
			job_key_remove(job);
			free(x->key);
		}
		/*
		 * Whoever armed the timer (the engine's timeout, the queue's
		 * retry) stops it first, on its own loop: an armed one here
		 * is a bug that would leave a freed watcher in a loop.
		 */
		if (x->timer != NULL) {
			if (ev_is_active(x->timer))
				fatalx("BUG: job %s freed with its timer armed",
				    job->id);
			free(x->timer);
		}
		job_result_free(x);
		free(x->error);
		free(x->flow_ext);
		free(x->retry_of);
		slab_free(job_ext_slab, x);
	}
	/* After the drop, a job whose data was out is one of sizeof. */
	job_data_drop(job);
	slab_free(job_slab(job_size(0, job->data_len)), job);
	if (--owner->njobs == 0 && owner->empty_cb != NULL)
		owner->empty_cb(owner);
}

void
job_prefetch_ahead(struct job *const *jobs, size_t i, size_t n)
{
	if (i + 8 < n && jobs[i + 8] != NULL)
		__builtin_prefetch(jobs[i + 8], 1);
	if (i + 4 < n && jobs[i + 4] != NULL && jobs[i + 4]->ext != NULL)
		__builtin_prefetch(jobs[i + 4]->ext, 1);
}

void
job_prefetch_next(const struct job *job)
{
	const struct job	*next = TAILQ_NEXT(job, entry);

	if (job->ext != NULL)
		__builtin_prefetch(job->ext, 1);
	job_table_prefetch(job->id);
	if (next != NULL)
		__builtin_prefetch(next, 1);
}

void
job_set_state(struct job *job, enum job_state state, double now)
{
	struct job_owner	*o = job->owner;
	struct job_waiter	*w;

	if (job->state == state)
		return;
	/*
	 * Only the engine moves jobs, so an illegal move is its bug: said
	 * loudly, and refused, so that a finished job's record never
	 * changes again and no job runs without having been queued.
	 */
	if (!job_transition_legal(job->state, state)) {
		log_warnx("BUG: job %s: illegal transition %s -> %s", job->id,
		    job_state_name(job->state), job_state_name(state));
		return;
	}
	o->state[job->state]--;
	o->state[state]++;
	job->state = state;
	if (changed.on && job_seg(job) != 0)
		job_changed_add(job);
	if (state == JOB_RUNNING)
		job_ext(job)->started_at = now;
	else if (job_state_terminal(state)) {
		job_ext(job)->finished_at = now;
		job->ext->runner = NULL;
		while ((w = LIST_FIRST(&job->ext->waiters)) != NULL) {
			LIST_REMOVE(w, entry);
			w->job = NULL;
			w->cb(w, job);
		}
		/* A dead letter may be retried: queue_finished() decides. */
		if (state != JOB_FAILED && state != JOB_TIMED_OUT)
			job_data_drop(job);
	}
}

void
job_key_set(struct job *job, const char *key)
{
	struct job	**old = keys.buckets, *j, *next;
	size_t		  oldn = keys.nbuckets, i, b;

	if (keys.count >= keys.nbuckets) {
		keys.nbuckets = oldn ? oldn * 2 : 256;
		keys.buckets = xcalloc(keys.nbuckets, sizeof *keys.buckets);
		for (i = 0; i < oldn; i++) {
			for (j = old[i]; j != NULL; j = next) {
				next = j->ext->knext;
				b = hash_bytes(j->ext->key, strlen(j->ext->key)) &
				    (keys.nbuckets - 1);
				j->ext->knext = keys.buckets[b];
				keys.buckets[b] = j;
			}
		}
		free(old);
	}
	job_ext(job)->key = xstrdup(key);
	b = hash_bytes(key, strlen(key)) & (keys.nbuckets - 1);
	job->ext->knext = keys.buckets[b];
	keys.buckets[b] = job;
	keys.count++;
}

static void
job_key_remove(struct job *job)
{
	struct job	**pp;
	size_t		  b;

	b = hash_bytes(job->ext->key, strlen(job->ext->key)) &
	    (keys.nbuckets - 1);
	for (pp = &keys.buckets[b]; *pp != NULL; pp = &(*pp)->ext->knext) {
		if (*pp == job) {
			*pp = job->ext->knext;
			keys.count--;
			return;
		}
	}
}

struct job *
job_key_find(const char *client, const char *key)
{
	struct job	*job;
	size_t		 b;

	/* A name no job holds has no key (NULL is a namespace of its own). */
	if (keys.nbuckets == 0 ||
	    (client != NULL && (client = job_client_find(client)) == NULL))
		return NULL;
	b = hash_bytes(key, strlen(key)) & (keys.nbuckets - 1);
	for (job = keys.buckets[b]; job != NULL; job = job->ext->knext)
		if (job->client == client && strcmp(job->ext->key, key) == 0)
			return job;
	return NULL;
}

void
job_changed_track(int on)
{
	changed.on = on;
	if (!on) {
		job_changed_clear();
		job_flight_end(0);
		free(changed.jobs);
		free(flight.jobs);
		changed.jobs = flight.jobs = NULL;
		changed.cap = flight.cap = 0;
	}
}

void
job_changed_add(struct job *job)
{
	if (job->changed & ~JOB_FLIGHT)
		return;
	if (changed.n == changed.cap) {
		changed.cap = changed.cap ? changed.cap * 2 : 1024;
		changed.jobs = xreallocarray(changed.jobs, changed.cap,
		    sizeof *changed.jobs);
	}
	changed.jobs[changed.n++] = job;
	job->changed = (job->changed & JOB_FLIGHT) | (uint32_t)changed.n;
}

/* Order does not matter in the set: the last one takes the hole. */
static void
job_changed_remove(struct job *job)
{
	size_t		 i = (job->changed & ~JOB_FLIGHT) - 1;
	struct job	*last = changed.jobs[--changed.n];

	changed.jobs[i] = last;
	last->changed = (last->changed & JOB_FLIGHT) | ((uint32_t)i + 1);
	job->changed &= JOB_FLIGHT;
}

struct job **
job_changed_list(size_t *n)
{
	*n = changed.n;
	return changed.jobs;
}

void
job_changed_clear(void)
{
	size_t	i;

	for (i = 0; i < changed.n; i++)
		changed.jobs[i]->changed &= JOB_FLIGHT;
	changed.n = 0;
}

struct job **
job_changed_take(size_t *n)
{
	struct job	**t = flight.jobs;
	size_t		  cap = flight.cap, i;

	if (flight.n != 0)
		fatalx("BUG: a second commit of changes while one is under way");
	flight.jobs = changed.jobs, flight.cap = changed.cap;
	flight.n = changed.n;
	changed.jobs = t, changed.cap = cap;
	changed.n = 0;
	for (i = 0; i < flight.n; i++)
		flight.jobs[i]->changed = JOB_FLIGHT;
	*n = flight.n;
	return flight.jobs;
}

struct job **
job_flight_list(size_t *n)
{
	*n = flight.n;
	return flight.jobs;
}

void
job_flight_end(int failed)
{
	struct job	*job;
	size_t		 i;

	for (i = 0; i < flight.n; i++) {
		if ((job = flight.jobs[i]) == NULL)
			continue;
		job->changed &= ~JOB_FLIGHT;
		if (failed)
			job_changed_add(job);
	}
	flight.n = 0;
}

/*
 * A job freed while its record is being committed: its slot becomes NULL
 * (the caller releases the record once committed). Rare (a record pruned
 * within a commit's time), so a scan does.
 */
static void
job_flight_forget(struct job *job)
{
	size_t	i;

	for (i = 0; i < flight.n; i++)
		if (flight.jobs[i] == job)
			flight.jobs[i] = NULL;
	job->changed &= ~JOB_FLIGHT;
}

void
job_waiter_add(struct job *job, struct job_waiter *w)
{
	w->job = job;
	LIST_INSERT_HEAD(&job_ext(job)->waiters, w, entry);
}

void
job_waiters_gone(struct job *job, const char *why)
{
	struct job_waiter	*w;

	if (job->ext == NULL)
		return;
	while ((w = LIST_FIRST(&job->ext->waiters)) != NULL) {
		LIST_REMOVE(w, entry);
		w->job = NULL;
		w->gone = why;
		w->cb(w, NULL);
	}
}

void
job_waiter_remove(struct job_waiter *w)
{
	if (w->job != NULL) {
		LIST_REMOVE(w, entry);
		w->job = NULL;
	}
}

void
job_flow_set(struct job *job, const struct job_flow_spec *spec)
{
	size_t			 len = spec->group != NULL ?
				     strlen(spec->group) : 0;

	struct job_flow_ext	*fx;

	job->flow.priority = (int8_t)spec->priority;
	if (len == 0 && spec->not_before == 0)
		return;
	free(job_ext(job)->flow_ext);
	fx = job->ext->flow_ext = xcalloc(1, sizeof *fx + len + 1);
	fx->not_before = spec->not_before;
	memcpy(fx->group, spec->group != NULL ? spec->group : "", len + 1);
}

struct job_flow_ext *
job_flow_ext(struct job *job)
{
	struct job_ext	*x = job_ext(job);

	if (x->flow_ext == NULL)
		x->flow_ext = xcalloc(1, sizeof *x->flow_ext + 1);
	return x->flow_ext;
}
