/*
 * The SQLite queue's recovery (see queue_sqlite.c): at start, the jobs of
 * the store's log go back into the queues, and the finished records kept.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "store/queue.h"
#include "store/queue_impl.h"
#include "store/store.h"

/* Damaged records said one by one; past this, only their count. */
#define QUEUE_SQLITE_DAMAGED_LOG	10

struct queue_sqlite_recovery {
	struct queue	*q;
	unsigned	(*max_attempts)(struct queue_pool *);
	size_t		 queued, delayed, interrupted, failed, unknown;
	size_t		 damaged;	/* data or result not JSON */
};

/* A job as the store has it, known again but in no list yet. */
static struct job *
queue_sqlite_restore(struct queue_pool *qp, const struct store_record *r)
{
	struct job	*job;

	job = job_new(&qp->jobs, r->data, r->data_len, r->submitted_at);
	memcpy(job->id, r->id, JOB_ID_LEN + 1);
	job_id_seen(job->id);
	job->state = (uint8_t)r->state;
	job->attempts = (uint16_t)r->attempts;
	job->worker = (int16_t)r->worker;
	job->truncated = r->truncated != 0;
	job_set_times(job, r->started_at, r->finished_at);
	job_set_result(job, r->result != NULL ? xstrdup(r->result) : NULL);
	job_set_error(job, r->error != NULL ? xstrdup(r->error) : NULL);
	job_set_seg(job, r->seg);
	job_set_base_seg(job, r->base_seg);
	/* Records from before clients existed were the default client's. */
	job->client = job_client_hold(r->client != NULL ? r->client :
	    "default");
	job_flow_set(job, &(struct job_flow_spec){ r->priority,
	    r->not_before, r->group });
	if (r->retry_of != NULL)
		job_set_retry_of(job, r->retry_of);
	if (r->key != NULL && job_key_find(job->client, r->key) == NULL)
		job_key_set(job, r->key);
	qp->submitted++;
	qp->jobs.state[job->state]++;
	job_table_add(job);
	return job;
}

/*
 * A queued job goes back to the tail of its queue (records come in id
 * order, which is submission order); a delayed one waits for its due time
 * again (at once if it passed while mpsup was down). A job that was running when mpsup
 * died has had that attempt counted when it was sent: it is retried, or
 * fails if that was its last attempt.
 */
static void
queue_sqlite_recover_unfinished(struct queue_sqlite_recovery *rc,
    struct queue_pool *qp, const struct store_record *r)
{
	struct queue	*q = rc->q;
	struct job	*job;
	double		 now = ev_now(q->loop);
	char		*error;

	job = queue_sqlite_restore(qp, r);
	if (job->state == JOB_RUNNING) {
		job->worker = -1;
		if (job->attempts >= rc->max_attempts(qp)) {
			xasprintf(&error, "mpsup stopped while the job was "
			    "running (after %u attempt%s)", job->attempts,
			    job->attempts == 1 ? "" : "s");
			job_set_error(job, error);
			job_set_state(job, JOB_FAILED, now);
			queue_memory_finished(q, job);
			rc->failed++;
			return;
		}
		qp->retried++;
		job_set_state(job, JOB_QUEUED, now);
		rc->interrupted++;
	} else if (job->state == JOB_DELAYED) {
		rc->delayed++;
		queue_due_add(q, job);
		return;
	} else
		rc->queued++;
	queue_flow_add(qp, job, 0);
}

/* A record recovery drops: its segments need it no more. */
static void
queue_sqlite_recover_release(struct queue *q, const struct store_record *r)
{
	store_release(q->store, r->seg);
	if (r->base_seg != 0)
		store_release(q->store, r->base_seg);
}

/*
 * Whether a record's data (which job lines carry, and a dead letter
 * keeps) and result (which records carry) are JSON, as they were when
 * they were written: a damaged database must not put into a job line or
 * a reply what a worker or a client cannot parse. A record that is not
 * is left out, said once with its id, and its segment released.
 */
static int
queue_sqlite_recover_sane(struct queue_sqlite_recovery *rc,
    const struct queue_pool *qp, const struct store_record *r)
{
	const char	*what = NULL;

	if ((r->state == JOB_QUEUED || r->state == JOB_RUNNING ||
	    r->state == JOB_DELAYED || r->dead) &&
	    !job_data_ok(r->data, r->data_len))
		what = "data";
	else if (r->result != NULL && !job_result_ok(r->result,
	    strlen(r->result), qp->jobs.exec))
		what = "result";
	if (what == NULL)
		return 1;
	if (rc->damaged++ < QUEUE_SQLITE_DAMAGED_LOG)
		log_warnx("store: job %s of pool %s: its %s is not JSON (a "
		    "damaged database): left out", r->id, r->pool, what);
	queue_sqlite_recover_release(rc->q, r);
	return 0;
}

static void
queue_sqlite_recover_cb(const struct store_record *r, void *arg)
{
	struct queue_sqlite_recovery	*rc = arg;
	struct queue			*q = rc->q;
	struct queue_pool		*qp;
	struct job			*job;

	if ((qp = queue_pool_find(q, r->pool)) == NULL ||
	    r->state < JOB_QUEUED || r->state >= JOB_NSTATES) {
		rc->unknown++;
		return;
	}
	if (job_table_find(r->id, JOB_ID_LEN) != NULL) {
		queue_sqlite_recover_release(q, r);
		return;
	}
	if (!queue_sqlite_recover_sane(rc, qp, r))
		return;
	if (r->state == JOB_QUEUED || r->state == JOB_RUNNING ||
	    r->state == JOB_DELAYED) {
		queue_sqlite_recover_unfinished(rc, qp, r);
		return;
	}
	/* A dead letter is kept for dead_ttl, other records for result_ttl. */
	if (r->dead && qp->dead_ttl > 0 &&
	    r->finished_at + qp->dead_ttl > ev_now(q->loop)) {
		queue_memory_keep_dead(q, queue_sqlite_restore(qp, r));
		return;
	}
	if (r->finished_at + (*q->cfgp)->result_ttl <= ev_now(q->loop)) {
		queue_sqlite_recover_release(q, r);
		return;
	}
	job = queue_sqlite_restore(qp, r);
	job_data_drop(job);
	queue_memory_keep(q, job);
}

/*
 * Read the store back before anything is served: finished records first
 * (in order of finish time, so that retention prunes the oldest), then
 * the unfinished jobs in submission order.
 */
int
queue_sqlite_recover(struct queue *q,
    unsigned (*max_attempts)(struct queue_pool *), char **cause)
{
	struct queue_sqlite_recovery	 rc;
	size_t				 kept;

	memset(&rc, 0, sizeof rc);
	rc.q = q;
	rc.max_attempts = max_attempts;
	if (store_load(q->store, (size_t)(*q->cfgp)->result_max,
	    queue_sqlite_recover_cb, &rc, cause) == -1)
		return -1;
	/*
	 * A pruned record may come back (its segment held others still
	 * kept) and be pruned again at once: count what is kept.
	 */
	kept = q->nfinished;
	if (rc.queued + rc.delayed + rc.interrupted + rc.failed + kept > 0)
		log_info("store: recovered %zu queued job%s, %zu delayed, %zu "
		    "interrupted (retried), %zu failed after their last "
		    "attempt; %zu finished record%s kept", rc.queued,
		    rc.queued == 1 ? "" : "s", rc.delayed, rc.interrupted,
		    rc.failed, kept, kept == 1 ? "" : "s");
	if (rc.damaged > QUEUE_SQLITE_DAMAGED_LOG)
		log_warnx("store: %zu jobs in all left out: their data or "
		    "result is not JSON", rc.damaged);
	if (rc.unknown > 0)
		log_warnx("store: %zu job%s of pools not in the config left "
		    "untouched in the store", rc.unknown,
		    rc.unknown == 1 ? "" : "s");
	return 0;
}

