/*
 * Jobs: what a pool's queue holds, the one place their state changes, and
 * their records. Every accepted job ends in exactly one terminal state;
 * job_set_state() is the only code that moves a job between states, and it
 * keeps each pool's counters so that at every moment
 *   submitted = delayed + queued + running + done + failed + timed_out
 *               + cancelled.
 * Job data and results are opaque, validated JSON text.
 */
#ifndef MPSUP_JOB_H
#define MPSUP_JOB_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/buf.h"

struct pool;
struct worker;
struct job;


/* "0193a1b2c3d4" ms + 4 hex sequence: 16 characters, sortable. */
#define JOB_ID_LEN	16

/*
 * Stores keep these numbers: a new state goes at the end (delayed came
 * after the terminal ones, so job_state_terminal() names them).
 */
enum job_state {
	JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_TIMED_OUT,
	JOB_CANCELLED, JOB_DELAYED,
};
#define JOB_NSTATES	7

/* Priorities: higher first; 0 is the default. */
#define JOB_PRIORITY_MIN	(-10)
#define JOB_PRIORITY_MAX	10
#define JOB_PRIORITY_LEVELS	(JOB_PRIORITY_MAX - JOB_PRIORITY_MIN + 1)
/* A group's name: 1 to this many bytes. */
#define JOB_GROUP_MAX		128

/*
 * How a job flows through its queue (submit fields "priority", "delay" or
 * "not_before", "group"), kept in its record and in the store. The two
 * bytes every job has fill a hole in struct job; the rest, which most
 * jobs never use, is allocated for those that do (job_flow_set, and
 * job_flow_ext for a retry's due time). The queue (store/queue_flow.c)
 * keeps the bits.
 */
struct job_flow {
	int8_t			 priority;
	uint8_t			 head:1;	/* due: back to the head (a retry) */
	uint8_t			 holds:1;	/* counts in its group's running */
	uint8_t			 queued:1;	/* in its group's queue */
};

struct job_flow_ext {
	double			 not_before;	/* due time, or 0 */
	uint32_t		 heap;		/* 1 + index in the due heap, 0 */
	char			 group[];	/* "": none */
};

/* What a submit asks for (NULL group: none; 0 not_before: none). */
struct job_flow_spec {
	int			 priority;
	double			 not_before;
	const char		*group;
};

/*
 * What the jobs of one pool share (the pool embeds it): its name and kind
 * for their records, and the counters job_set_state() keeps.
 */
struct job_owner {
	const char	*name;
	int		 exec;		/* records carry exit status, output */
	/* name quoted for the records (job_record.c), made from name_of */
	const char	*name_of;
	uint8_t		 name_json_len;
	char		 name_json[64];
	uint64_t	 state[JOB_NSTATES];	/* jobs in each state now */
	size_t		 njobs;		/* jobs, kept records too, that point here */
	/* Called when the last of them is freed (or NULL). */
	void		(*empty_cb)(struct job_owner *);
};

/*
 * Someone waiting for a job to finish (a client's result/submit -w): cb
 * is called once, with the job when it ends, or with NULL when it is
 * gone and no record of it will come (job_waiters_gone(), which sets
 * `gone` first).
 */
struct job_waiter {
	LIST_ENTRY(job_waiter)	 entry;
	struct job		*job;
	void			(*cb)(struct job_waiter *, struct job *);
	void			*arg;
	const char		*gone;
};

/*
 * What only some jobs need: a job that runs, finishes, is waited for,
 * has a key or a group, or is kept by a durable store gets this block
 * (job_ext); one that merely waits in a queue does not, so that a queue
 * of a million costs what struct job costs. Read it with the job_*()
 * accessors below (they give the defaults when there is none).
 */
struct job_ext {
	struct worker		*runner;	/* while running */
	double			 started_at;
	double			 finished_at;
	uint64_t		 seg;		/* durable store segment, or 0 */
	uint64_t		 base_seg;	/* of the record seg's extends */
	char			*result;	/* JSON text (see job.c) */
	char			*error;
	ev_timer		*timer;		/* timeout or retry (see below) */
	char			*key;		/* idempotency key, or NULL */
	struct job		*knext;		/* key table chain */
	char			*retry_of;	/* the dead letter it retries */
	LIST_HEAD(, job_waiter)	 waiters;
	struct job_flow_ext	*flow_ext;	/* or NULL: see job_flow_set */
	char			 result_in[24];	/* a short result, kept here */
};

/*
 * A queued job: 80 bytes and its data, in one allocation (an id table
 * slot aside). The flags share a byte with the state; data_out says the
 * data lives in a block of its own, its pointer then stored where short
 * data is kept inline (see job_data()).
 */
struct job {
	char			 id[JOB_ID_LEN + 1];
	struct job_flow		 flow;
	uint8_t			 state:3;	/* enum job_state */
	uint8_t			 cancel_sent:1;
	uint8_t			 truncated:1;	/* exec */
	uint8_t			 exec:1;	/* an exec job's record */
	uint8_t			 dead:1;	/* in its pool's dead letters */
	uint8_t			 data_out:1;	/* data in its own block */
	int16_t			 worker;	/* last worker index, or -1 */
	uint16_t		 attempts;
	uint32_t		 data_len;
	uint32_t		 changed;	/* 1 + index in the changed set */
	struct job_owner	*owner;		/* its pool's (see job_pool()) */
	const char		*client;	/* who submitted it (interned) */
	double			 submitted_at;
	TAILQ_ENTRY(job)	 entry;		/* queue, in-flight or finished */
	struct job_ext		*ext;		/* or NULL: see job_ext() */
	/*
	 * JSON text, NUL-terminated: here when short, else (data_out) a
	 * pointer to its own block, freed when the job ends (a finished job
	 * is never sent).
	 */
	union {
		char		*out;
		char		 in[sizeof(char *)];
	}			 text;
};

TAILQ_HEAD(job_list, job);

const char	*job_state_name(enum job_state);
int		 job_state_terminal(enum job_state);
/*
 * Whether a job may move from one state to another (SPEC section 6; the
 * same state is allowed, as a no-op).
 */
int		 job_transition_legal(enum job_state from, enum job_state to);

/* A new queued job (not yet in any list) with a fresh id. */
struct job	*job_new(struct job_owner *, const char *data, size_t len,
		    double now);
void		 job_free(struct job *);
/*
 * Move a job to a new state, keeping its pool's counters; a move that
 * job_transition_legal() refuses is logged as a bug and not made.
 */
void		 job_set_state(struct job *, enum job_state, double now);

/*
 * A finished job's data is not needed again: let a big one go. A job
 * that ends failed or timed_out keeps it until its queue says whether it
 * is a dead letter (which may be retried, data and all).
 */
void		 job_data_drop(struct job *);

/* Its data (JSON text, NUL-terminated; "" once dropped). */
static inline const char *
job_data(const struct job *job)
{
	return job->data_out ? job->text.out : job->text.in;
}

/* Its rarely used fields, allocated (zeroed) if it had none. */
struct job_ext	*job_ext(struct job *);

/* Defaults of a job without them (all zero). */
extern const struct job_ext	job_ext_none;

static inline const struct job_ext *
job_x(const struct job *job)
{
	return job->ext != NULL ? job->ext : &job_ext_none;
}

static inline struct worker *
job_runner(const struct job *job)
{
	return job_x(job)->runner;
}

static inline double
job_started_at(const struct job *job)
{
	return job_x(job)->started_at;
}

static inline double
job_finished_at(const struct job *job)
{
	return job_x(job)->finished_at;
}

static inline uint64_t
job_seg(const struct job *job)
{
	return job_x(job)->seg;
}

/*
 * When the job's newest committed record is a start that carries only
 * what changed (store_codec.h), the segment of the whole record it
 * extends, which must stay; else 0.
 */
static inline uint64_t
job_base_seg(const struct job *job)
{
	return job_x(job)->base_seg;
}

static inline const char *
job_result(const struct job *job)
{
	return job_x(job)->result;
}

static inline const char *
job_error(const struct job *job)
{
	return job_x(job)->error;
}

static inline ev_timer *
job_timer(const struct job *job)
{
	return job_x(job)->timer;
}

static inline const char *
job_key(const struct job *job)
{
	return job_x(job)->key;
}

static inline const char *
job_retry_of(const struct job *job)
{
	return job_x(job)->retry_of;
}

/*
 * Setters: result and error take text the job then owns (freeing what it
 * had; NULL clears); retry_of copies; the timer is its owner's to stop
 * and free (job_free() frees a stopped one).
 */
void		 job_set_result(struct job *, char *);
/* A copy of len bytes of result text: a short one kept in the job. */
void		 job_set_result_text(struct job *, const char *, size_t len);
void		 job_set_error(struct job *, char *);
void		 job_set_retry_of(struct job *, const char *id);
void		 job_set_runner(struct job *, struct worker *);
void		 job_set_timer(struct job *, ev_timer *);
void		 job_set_seg(struct job *, uint64_t);
void		 job_set_base_seg(struct job *, uint64_t);
/* Times read back from a store. */
void		 job_set_times(struct job *, double started_at,
		    double finished_at);

/*
 * The oldest kept records are pruned one per finished job (result_max):
 * called with the one to go next, it asks the CPU for what that prune will
 * read (its extension, its id table slot, the job after it), so that the
 * prune finds them in cache instead of missing on each.
 */
void		 job_prefetch_next(const struct job *);
/*
 * A pass over an array of jobs (NULLs allowed) at i of n asks for the
 * job 8 ahead and the extension of the one 4 ahead, which the pass would
 * otherwise miss on in turn (the store's passes over a commit's jobs).
 */
void		 job_prefetch_ahead(struct job *const *, size_t i, size_t n);

/* The id table. */
void		 job_table_add(struct job *);
void		 job_table_remove(struct job *);
struct job	*job_table_find(const char *id, size_t len);
size_t		 job_table_count(void);
/* How many slots the table has now (it grows, never shrinks). */
size_t		 job_table_capacity(void);
/*
 * For tests: the salt of ids' homes (see job_table.c) in place of the
 * one drawn at random, so that a test can aim ids at a home. Before the
 * first job is added.
 */
void		 job_table_salt_set(uint64_t lo, uint64_t hi);
/* Ask the CPU for the slots where id would be found. */
void		 job_table_prefetch(const char *id);
/*
 * Call fn on every job of the id table, in no order; fn must neither add
 * nor remove (a removal moves other jobs between slots).
 */
void		 job_table_foreach(void (*fn)(struct job *, void *), void *arg);

/*
 * Client names as jobs keep them (job_client.c): the one copy of name
 * (NULL stays NULL), held for a job, whose job->client it becomes; freeing
 * the job drops it, and a name no job holds is freed.
 */
const char	*job_client_hold(const char *name);
void		 job_client_drop(const char *client);
/* The copy jobs hold of name, or NULL if no job holds it. */
const char	*job_client_find(const char *name);
/* A held name's quoted JSON form (not NUL-terminated), and its length. */
const char	*job_client_json(const char *client, size_t *len);
/* Names held now. */
size_t		 job_client_count(void);

/*
 * Idempotency keys, one namespace per client: a job submitted with a key
 * is found by its client and key for as long as the job is known. Set the
 * job's client first. job_free() forgets the key.
 */
void		 job_key_set(struct job *, const char *key);
struct job	*job_key_find(const char *client, const char *key);

/*
 * The changed set: with a durable store, jobs whose state (or attempts,
 * result) changed since the last commit. job_set_state() adds to it;
 * job_free() removes from it.
 */
void		 job_changed_track(int on);
void		 job_changed_add(struct job *);
struct job	**job_changed_list(size_t *n);
void		 job_changed_clear(void);
/*
 * The flight set: the changed set as a commit took it (one at a time),
 * while the commit runs. job_changed_take() moves the changed set there
 * (same order) and starts an empty one; a job freed meanwhile leaves a
 * NULL in it; job_flight_end() empties it, putting its jobs back into
 * the changed set if the commit failed.
 */
struct job	**job_changed_take(size_t *n);
struct job	**job_flight_list(size_t *n);
void		 job_flight_end(int failed);

void		 job_waiter_add(struct job *, struct job_waiter *);
/*
 * The job will not end here and no record of it will come (a cluster's
 * shadow whose job left Redis, a submit Redis did not answer): every
 * waiter is told, with a NULL job and `gone` set to why, an error code,
 * ": " and what became of the job ("not_found: ended elsewhere ...").
 */
void		 job_waiters_gone(struct job *, const char *why);
void		 job_waiter_remove(struct job_waiter *);

/* Give a new job its flow fields (group copied). */
void		 job_flow_set(struct job *, const struct job_flow_spec *);
/* Its rarely used flow fields, allocated if it had none. */
struct job_flow_ext *job_flow_ext(struct job *);

/* Its due time (delay, not_before, a retry's back-off), or 0. */
static inline double
job_not_before(const struct job *job)
{
	const struct job_flow_ext	*fx = job_x(job)->flow_ext;

	return fx != NULL ? fx->not_before : 0;
}

/* Its group, or NULL. */
static inline const char *
job_group(const struct job *job)
{
	const struct job_flow_ext	*fx = job_x(job)->flow_ext;

	return fx != NULL && fx->group[0] != '\0' ? fx->group : NULL;
}

/* Since when a job could run: its due time, if it was delayed. */
static inline double
job_ready_at(const struct job *job)
{
	double	nb = job_not_before(job);

	return nb > job->submitted_at ? nb : job->submitted_at;
}

/* Append the job record (SPEC section 6) as JSON to b. */
void		 job_record_append(const struct job *, struct buf *b);
/*
 * Whether a job's data, or its result (exec: an exec job's), read back
 * from a store may go into job lines and records as it is: one JSON
 * value, nested no deeper than a submit or a worker may nest it (an
 * exec job's result: the members of one object).
 */
int		 job_data_ok(const char *, size_t);
int		 job_result_ok(const char *, size_t, int exec);

/*
 * Whether len bytes at id are an id of the form mpsup makes: JOB_ID_LEN
 * lowercase hex digits. For ids read from outside (Redis).
 */
int		 job_id_ok(const char *id, size_t len);
/* Generate the next id into out (JOB_ID_LEN + 1 bytes). */
void		 job_id_next(char *out, double now);
/* Ids of a cluster node: its number goes in each (see job.c). */
void		 job_id_cluster(unsigned node);
/*
 * An id read back from a store: later ids sort after it, whatever the
 * clock; one more than a day ahead of the clock is logged and not followed.
 */
void		 job_id_seen(const char *id);

#endif
