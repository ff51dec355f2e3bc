/*
 * Jobs: what a pool's queue holds, the one place their state changes, and
 * their records. Every accepted job ends in exactly one terminal state;
 * job_set_state() is the only code that moves a job between states, and it
 * keeps each pool's counters so that at every moment
 *   submitted = queued + running + done + failed + timed_out + cancelled.
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

enum job_state {
	JOB_QUEUED, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_TIMED_OUT,
	JOB_CANCELLED,
};
#define JOB_NSTATES	6

/*
 * What the jobs of one pool share (the pool embeds it): its name and kind
 * for their records, and the counters job_set_state() keeps.
 */
struct job_owner {
	const char	*name;
	int		 exec;		/* records carry exit status, output */
	uint64_t	 state[JOB_NSTATES];	/* jobs in each state now */
	size_t		 njobs;		/* jobs, kept records too, that point here */
	/* Called when the last of them is freed (or NULL). */
	void		(*empty_cb)(struct job_owner *);
};

/* Someone waiting for a job to finish (a client's result/submit -w). */
struct job_waiter {
	LIST_ENTRY(job_waiter)	 entry;
	struct job		*job;
	void			(*cb)(struct job_waiter *, struct job *);
	void			*arg;
};

struct job {
	char			 id[JOB_ID_LEN + 1];
	uint8_t			 state;		/* enum job_state */
	uint8_t			 delayed;	/* queued, waiting to retry */
	uint8_t			 cancel_sent;
	uint8_t			 truncated;	/* exec */
	uint8_t			 exec;		/* an exec job's record */
	uint8_t			 dead;		/* in its pool's dead letters */
	uint32_t		 changed;	/* 1 + index in the changed set */
	int16_t			 worker;	/* last worker index, or -1 */
	uint16_t		 attempts;
	struct job_owner	*owner;		/* its pool's (see job_pool()) */
	struct worker		*runner;	/* while running */
	double			 submitted_at;
	double			 started_at;
	double			 finished_at;
	uint64_t		 seg;		/* durable store segment, 0 none */
	char			*result;	/* JSON text (see job.c) */
	char			*error;
	ev_timer		*timer;		/* timeout or retry (its owner stops it) */
	TAILQ_ENTRY(job)	 entry;		/* queue, in-flight or finished */
	struct job		*hnext;		/* id table chain */
	char			*key;		/* idempotency key, or NULL */
	char			*retry_of;	/* the dead letter it retries, or NULL */
	struct job		*knext;		/* key table chain */
	LIST_HEAD(, job_waiter)	 waiters;
	/*
	 * JSON text, NUL-terminated: in data_inline when short, else its own
	 * block, freed when the job ends (a finished job is never sent).
	 */
	char			*data;
	uint32_t		 data_len;
	char			 data_inline[];
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

/* The id table. */
void		 job_table_add(struct job *);
void		 job_table_remove(struct job *);
struct job	*job_table_find(const char *id, size_t len);
size_t		 job_table_count(void);

/*
 * Idempotency keys: a job submitted with a key is found by it for as long
 * as the job is known. job_free() forgets the key.
 */
void		 job_key_set(struct job *, const char *key);
struct job	*job_key_find(const char *key);

/*
 * The changed set: with a durable store, jobs whose state (or attempts,
 * result) changed since the last commit. job_set_state() adds to it;
 * job_free() removes from it.
 */
void		 job_changed_track(int on);
void		 job_changed_add(struct job *);
struct job	**job_changed_list(size_t *n);
void		 job_changed_clear(void);

void		 job_waiter_add(struct job *, struct job_waiter *);
void		 job_waiter_remove(struct job_waiter *);

/* Append the job record (SPEC section 6) as JSON to b. */
void		 job_record_append(const struct job *, struct buf *b);

/* Generate the next id into out (JOB_ID_LEN + 1 bytes). */
void		 job_id_next(char *out, double now);
/*
 * An id read back from a store: later ids sort after it, whatever the
 * clock; one more than a day ahead of the clock is logged and not followed.
 */
void		 job_id_seen(const char *id);

#endif
