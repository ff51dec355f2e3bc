/*
 * The SQLite queue (see queue.h and store.h): the memory queues, plus a
 * durable log of every job's record, written by group commit.
 *
 * A submitted job waits in the pending list, out of every queue and out
 * of the id table, until a commit (at the end of a loop iteration, or as
 * soon as the one under way ended; the workers' job lines of the starts
 * it carries are written only after it) has written it together with the
 * state changes that are due: only then is it queued, counted and
 * acknowledged. A failed commit refuses its pending jobs and those
 * submitted while it ran (counted as rejected), and keeps the state
 * changes of acknowledged jobs for the next attempt. Pipelined
 * (queue_pipeline()), commits run on the store's thread while the loop
 * goes on; the loop thread alone touches what is here.
 *
 * At start, recovery (queue_sqlite_recover.c) loads the log's jobs back
 * into the queues and the finished records.
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

/* After a failed commit, state changes alone are retried this much later. */
#define QUEUE_SQLITE_RETRY	0.25
/*
 * A job's end, and the deletion of dead segments, acknowledge nothing, so
 * when no job started they wait this long at most for a commit to go in.
 * (A start is never delayed: see queue_sqlite_commit.)
 */
#define QUEUE_SQLITE_DELAY	0.01
/*
 * Submits wait for the commit at the end of the loop iteration, or this
 * long at most when one iteration runs longer (many busy clients).
 */
#define QUEUE_SQLITE_COMMIT_MAX	0.005

/* The SQLite queue's own state (queue->impl). */
struct queue_sqlite {
	struct queue		*q;
	struct store		*store;
	struct job_list		 pending;	/* submitted, not committed */
	uint64_t		*putseg;	/* segment of each record put */
	uint8_t			*putdelta;	/* and whether a start's delta */
	size_t			 putseg_cap;
	int			 failing;	/* the last commit failed */
	double			 failed_log_at;
	size_t			 refused;	/* since the last log line */
	ev_timer		 retry_timer;
	ev_timer		 delay_timer;	/* state changes are due */
	int			 changes_due;
	double			 pending_since;	/* first pending submit */
	unsigned long long	 commits;
	unsigned long long	 commit_errors;
	int			 started;	/* a job started since */
	/*
	 * Starts counted: all of them, those the commit under way writes,
	 * and those a commit that landed wrote. While commits fail, the job
	 * lines of starts not landed are held (queue_sqlite_commit_busy).
	 */
	unsigned long long	 starts;
	unsigned long long	 starts_writing;
	unsigned long long	 starts_landed;
	int			 writing_changes;	/* it writes the changes */
	ev_timer		 run_timer;	/* dispatch what was committed */
	/* The commit under way (see queue_sqlite_commit_once). */
	int			 in_flight;
	int			 empty;		/* it had nothing to write */
	struct job_list		 committing;	/* its submits */
	struct queue_ack_list	 acks_flight;	/* their acks */
	ev_io			 commit_io;	/* the store says it ended */
	int			 pipelined;	/* the engine holds job lines */
	void			(*committing_cb)(void *);
	void			(*committed_cb)(void *);
	void			*hook_arg;
};

static void	queue_sqlite_retry_cb(struct ev_loop *, ev_timer *, int);
static void	queue_sqlite_delay_cb(struct ev_loop *, ev_timer *, int);
static void	queue_sqlite_run_cb(struct ev_loop *, ev_timer *, int);
static void	queue_sqlite_runnable(struct queue *);

#define QS(q)	((struct queue_sqlite *)(q)->impl)

static int
queue_sqlite_push(struct queue *q, struct queue_pool *qp, struct job *job,
    const char **err)
{
	struct queue_sqlite	*qs = QS(q);

	if (queue_full(qp)) {
		qp->rejected++;
		*err = "queue_full";
		job_free(job);
		return -1;
	}
	if (TAILQ_EMPTY(&qs->pending))
		qs->pending_since = ev_time();
	TAILQ_INSERT_TAIL(&qs->pending, job, entry);
	qp->pending_len++;
	return 1;
}

static int
queue_sqlite_job_pending(const struct queue *q, const struct job *job)
{
	return job_seg(job) == 0;
}

/* A pending job is in no queue yet (and not findable): nothing to take out. */
static int
queue_sqlite_cancel(struct queue *q, struct job *job)
{
	if (job_seg(job) == 0)
		return -1;
	return queue_memory_cancel(q, job);
}

/*
 * A start is written as a delta (store_codec.h) when the rest is in the
 * job's newest committed record, a whole one: the job has no result,
 * error, finish or due time that record might lack (a retry's would).
 */
static int
queue_sqlite_delta(const struct job *job)
{
	return job->state == JOB_RUNNING && job_seg(job) != 0 &&
	    job_base_seg(job) == 0 && job_result(job) == NULL &&
	    job_error(job) == NULL && job_finished_at(job) == 0 &&
	    job_not_before(job) == 0 && !job->dead;
}

/* The job's committed records stop mattering (superseded, or pruned). */
static void
queue_sqlite_release(struct store *store, const struct job *job)
{
	if (job_seg(job) != 0)
		store_release(store, job_seg(job));
	if (job_base_seg(job) != 0)
		store_release(store, job_base_seg(job));
}

/* Fill a store record from a job (strings borrowed from it). */
static void
queue_sqlite_record(const struct job *job, struct store_record *r)
{
	memcpy(r->id, job->id, JOB_ID_LEN + 1);
	r->pool = job->owner->name;
	r->state = job->state;
	r->attempts = job->attempts;
	r->worker = job->worker;
	r->truncated = job->truncated;
	r->submitted_at = job->submitted_at;
	r->started_at = job_started_at(job);
	r->finished_at = job_finished_at(job);
	/* A finished job's data is never sent again, but a dead letter's may. */
	r->data = job_state_terminal(job->state) && !job->dead ? "" :
	    job_data(job);
	r->data_len = job_state_terminal(job->state) && !job->dead ? 0 :
	    job->data_len;
	r->result = job_result(job);
	r->error = job_error(job);
	r->key = job_key(job);
	r->client = job->client;
	r->priority = job->flow.priority;
	r->not_before = job_not_before(job);
	r->group = job_group(job);
	r->dead = job->dead;
	r->retry_of = job_retry_of(job);
	r->delta = queue_sqlite_delta(job);
}

/* Put a job's record into the store; its segment goes in qs->putseg[i]. */
static int
queue_sqlite_put(struct queue_sqlite *qs, const struct job *job, size_t i,
    char **cause)
{
	struct store_record	r;

	if (i == qs->putseg_cap) {
		qs->putseg_cap = qs->putseg_cap ? qs->putseg_cap * 2 : 1024;
		qs->putseg = xreallocarray(qs->putseg, qs->putseg_cap,
		    sizeof *qs->putseg);
		qs->putdelta = xreallocarray(qs->putdelta, qs->putseg_cap,
		    sizeof *qs->putdelta);
	}
	queue_sqlite_record(job, &r);
	qs->putdelta[i] = (uint8_t)r.delta;
	return store_put(qs->store, &r, &qs->putseg[i], cause);
}

/*
 * Write into the store's transaction the changed jobs (when `changes`)
 * and the submits to commit, in that order.
 */
static int
queue_sqlite_write(struct queue_sqlite *qs, int changes, char **cause)
{
	struct job	**changed, *job;
	size_t		  n, i, k = 0;

	changed = job_changed_list(&n);
	for (i = 0; changes && i < n; i++) {
		job_prefetch_ahead(changed, i, n);
		if (queue_sqlite_put(qs, changed[i], k++, cause) == -1)
			return -1;
	}
	TAILQ_FOREACH(job, &qs->committing, entry)
		if (queue_sqlite_put(qs, job, k++, cause) == -1)
			return -1;
	return 0;
}

/*
 * A retry of a dead letter was refused with its commit: the dead letter,
 * released in the same transaction, is one again (it still has its data).
 */
static void
queue_sqlite_unretry(struct queue *q, const struct job *job)
{
	struct job	*old;

	if (job_retry_of(job) == NULL ||
	    (old = job_table_find(job_retry_of(job), JOB_ID_LEN)) == NULL ||
	    old->dead || !queue_dead_letter(old, old->state))
		return;
	queue_memory_dead_restore(q, old);
	if (job_seg(old) != 0 && !q->readonly)
		job_changed_add(old);
}

/* Refuse the jobs of list (never committed, never acknowledged). */
static size_t
queue_sqlite_refuse(struct queue *q, struct job_list *list)
{
	struct queue_pool	*qp;
	struct job		*job;
	size_t			 n = 0;

	while ((job = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, job, entry);
		qp = job_queue_pool(job);
		qp->pending_len--;
		qp->rejected++;
		queue_sqlite_unretry(q, job);
		job_free(job);
		n++;
	}
	return n;
}

/*
 * The commit of the submits in qs->committing failed: refuse them, and
 * answer their acks with store_error. What was submitted while it ran
 * goes too, acks and jobs: a submit there may have named, by its key, a
 * job that commit carried and that is gone now, and a batch is accepted
 * whole or not at all. (It is called between requests, where every
 * pending job's submit has made its ack.)
 */
static void
queue_sqlite_failed(struct queue_sqlite *qs, char *cause)
{
	struct queue		*q = qs->q;
	double			 now = ev_now(q->loop);
	size_t			 n;

	n = queue_sqlite_refuse(q, &qs->committing);
	n += queue_sqlite_refuse(q, &qs->pending);
	/* One line per failure episode, then one every 10 s at most. */
	qs->refused += n;
	if (!qs->failing || now - qs->failed_log_at >= 10.0) {
		log_warnx("store: %s (%zu submitted job%s refused with "
		    "store_error%s)", cause, qs->refused, qs->refused == 1 ? "" :
		    "s", q->readonly ? "" : "; state changes are "
		    "kept for the next commit");
		qs->failed_log_at = now;
		qs->refused = 0;
	}
	qs->failing = 1;
	queue_acks_answer(&qs->acks_flight, cause);
	queue_acks_done(q, cause);
	if (!ev_is_active(&qs->retry_timer)) {
		ev_timer_set(&qs->retry_timer, QUEUE_SQLITE_RETRY, 0);
		ev_timer_start(q->loop, &qs->retry_timer);
	}
}

/*
 * Whether this commit writes the state changes: they are due when a job
 * started since the last write, or QUEUE_SQLITE_DELAY passed since the
 * first change; `all` writes them now.
 */
static int
queue_sqlite_changes_due(struct queue_sqlite *qs, int all, size_t nchanged)
{
	if (nchanged == 0 && !store_has_garbage(qs->store))
		return 0;
	if (all || qs->changes_due || qs->started)
		return 1;
	if (!ev_is_active(&qs->delay_timer)) {
		ev_timer_set(&qs->delay_timer, QUEUE_SQLITE_DELAY, 0);
		ev_timer_start(qs->q->loop, &qs->delay_timer);
	}
	return 0;
}

/*
 * After a commit: each job's new record supersedes the one it had (a
 * start's delta keeps the whole record it extends, which the next whole
 * record releases); the record of a job freed (pruned) while it was being
 * committed matters no more either.
 */
static size_t
queue_sqlite_supersede(struct queue_sqlite *qs)
{
	struct job	**flight;
	size_t		  i, n;

	flight = job_flight_list(&n);
	for (i = 0; i < n; i++) {
		job_prefetch_ahead(flight, i, n);
		if (flight[i] == NULL) {
			store_release(qs->store, qs->putseg[i]);
			continue;
		}
		if (qs->putdelta[i])
			job_set_base_seg(flight[i], job_seg(flight[i]));
		else {
			queue_sqlite_release(qs->store, flight[i]);
			job_set_base_seg(flight[i], 0);
		}
		job_set_seg(flight[i], qs->putseg[i]);
	}
	job_flight_end(0);
	return n;
}

/* After a commit: the pending jobs are accepted; 1 if one was queued. */
static int
queue_sqlite_accept(struct queue_sqlite *qs, size_t k)
{
	struct queue		*q = qs->q;
	struct queue_pool	*qp;
	struct job		*job;
	int			 queued = 0;

	while ((job = TAILQ_FIRST(&qs->committing)) != NULL) {
		TAILQ_REMOVE(&qs->committing, job, entry);
		qp = job_queue_pool(job);
		qp->pending_len--;
		job_set_seg(job, qs->putseg[k++]);
		if (qp->removed) {
			qp->submitted++;
			qp->jobs.state[job->state]++;
			job_table_add(job);
			q->ev->finish(job, JOB_CANCELLED, xstrdup("pool removed "
			    "by a configuration reload"), q->arg);
			continue;
		}
		queue_memory_enqueue(q, qp, job);
		queued = 1;
	}
	return queued;
}

/*
 * The commit under way ended (block: wait for it): its submits are
 * queued and acknowledged and its records supersede the older ones, and
 * the engine may send the job lines it held; or it failed and they are
 * refused, the state changes kept for the next commit, and the job lines
 * of its starts stay held until a commit that writes them lands (SPEC
 * section 8: a job that reached a worker has its attempt counted).
 */
static void
queue_sqlite_land(struct queue_sqlite *qs, int block)
{
	struct queue	*q = qs->q;
	char		*cause = NULL;
	int		 rc;

	if ((rc = store_commit_result(qs->store, block, &cause)) == 1)
		return;
	qs->in_flight = 0;
	ev_io_stop(q->loop, &qs->commit_io);
	if (rc == -1) {
		qs->commit_errors++;
		job_flight_end(1);
		/* Its starts are written again at once. */
		if (qs->writing_changes)
			qs->started = 1;
		queue_sqlite_failed(qs, cause);
		free(cause);
		return;
	} else {
		if (qs->writing_changes)
			qs->starts_landed = qs->starts_writing;
		qs->commits += !qs->empty;
		if (qs->failing) {
			log_info("store: commits succeed again");
			qs->failing = 0;
			ev_timer_stop(q->loop, &qs->retry_timer);
		}
		/*
		 * Their starts go in the next commit, before they reach a
		 * worker: landed from the loop, dispatch them now, so that
		 * the commit that follows at once records their starts;
		 * landed inside a commit, in the next loop turn.
		 */
		if (queue_sqlite_accept(qs, queue_sqlite_supersede(qs))) {
			if (!block)
				queue_sqlite_runnable(q);
			else if (!ev_is_active(&qs->run_timer)) {
				ev_timer_set(&qs->run_timer, 0, 0);
				ev_timer_start(q->loop, &qs->run_timer);
			}
		}
		queue_acks_answer(&qs->acks_flight, NULL);
	}
	if (qs->committed_cb != NULL)
		qs->committed_cb(qs->hook_arg);
}

static void
queue_sqlite_commit_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	queue_sqlite_land(io->data, 0);
}

/*
 * One group commit: the pending submits go in one transaction, together
 * with the state changes and the deletion of dead segments when these are
 * due. After a failure, an iteration with no new submit does not try again
 * before the retry timer. The pending jobs are refused if it fails.
 *
 * Pipelined (the engine asked for it), the transaction is built here and
 * committed by the store's thread while the loop goes on: its submits,
 * their acks and its changed jobs are set apart (qs->committing,
 * acks_flight, the flight set) from those that come meanwhile, which the
 * next commit takes once this one landed. One commit at a time: its
 * records' segments are known only then. `all` (or no pipelining) waits.
 */
static void
queue_sqlite_commit_once(struct queue_sqlite *qs, int all)
{
	struct queue	*q = qs->q;
	size_t		 nchanged;
	char		*cause = NULL;
	int		 changes, block = all || !qs->pipelined;

	if (qs->in_flight) {
		if (!all)
			return;
		queue_sqlite_land(qs, 1);
	}
	(void)job_changed_list(&nchanged);
	changes = queue_sqlite_changes_due(qs, all, nchanged);
	/*
	 * An ack made while a commit ran may wait for a job that commit
	 * carried (a submit repeating its key): with nothing else to write,
	 * an empty commit answers it at once.
	 */
	if (TAILQ_EMPTY(&qs->pending) && !changes && TAILQ_EMPTY(&q->acks))
		return;
	if (TAILQ_EMPTY(&qs->pending) && ev_is_active(&qs->retry_timer) && !all)
		return;
	TAILQ_CONCAT(&qs->committing, &qs->pending, entry);
	queue_acks_move(q, &qs->acks_flight);
	if (queue_sqlite_write(qs, changes, &cause) == -1) {
		store_rollback(qs->store);
		qs->commit_errors++;
		queue_sqlite_failed(qs, cause);
		free(cause);
		return;
	}
	qs->writing_changes = changes;
	if (changes) {
		(void)job_changed_take(&nchanged);
		qs->changes_due = 0;
		qs->started = 0;
		qs->starts_writing = qs->starts;
		ev_timer_stop(q->loop, &qs->delay_timer);
	}
	qs->in_flight = 1;
	qs->empty = store_commit_start(qs->store, block) == 0;
	if (!qs->empty && !block && store_commit_busy(qs->store)) {
		ev_io_start(q->loop, &qs->commit_io);
		if (qs->committing_cb != NULL)
			qs->committing_cb(qs->hook_arg);
		return;
	}
	queue_sqlite_land(qs, 1);
}

/* The jobs the last commit queued can be claimed. */
static void
queue_sqlite_runnable(struct queue *q)
{
	struct queue_pool	*qp;

	for (qp = q->pools; qp != NULL; qp = qp->next)
		if (qp->queue_len > 0)
			q->ev->runnable(qp, q->arg);
}

static void
queue_sqlite_run_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	queue_sqlite_runnable(t->data);
}

/*
 * A job is written to its worker's pipe only after the commit that
 * records its start (the prepare watcher commits, then flushes): so a
 * job that was running when mpsup died always has that attempt counted,
 * and a job that kills mpsup cannot do it forever. Starts are therefore
 * never delayed, and the jobs a commit queued are handed to workers in
 * the next loop turn, whose commit records their starts.
 */
static void
queue_sqlite_commit(struct queue *q, int all)
{
	queue_sqlite_commit_once(QS(q), all);
}

static void
queue_sqlite_started(struct queue *q, struct job *job)
{
	QS(q)->started = 1;
	QS(q)->starts++;
}

/* The engine holds job lines until the commit of their starts ended. */
static void
queue_sqlite_pipeline(struct queue *q, void (*committing)(void *),
    void (*committed)(void *), void *arg)
{
	struct queue_sqlite	*qs = QS(q);

	/* A store without a commit thread (store_sync = full) commits here. */
	qs->pipelined = store_commit_fd(qs->store) != -1;
	qs->committing_cb = committing;
	qs->committed_cb = committed;
	qs->hook_arg = arg;
}

/*
 * A commit runs, or commits fail and some started job's start has not
 * landed: either way the engine holds the job lines it has not sent.
 */
static int
queue_sqlite_commit_busy(const struct queue *q)
{
	const struct queue_sqlite	*qs = QS(q);

	return qs->in_flight ||
	    (qs->failing && qs->starts != qs->starts_landed);
}

static void
queue_sqlite_stats(const struct queue *q, struct queue_stats *st)
{
	const struct queue_sqlite	*qs = QS(q);

	st->durable = 1;
	st->failing = qs->failing;
	st->commits = qs->commits;
	st->commit_errors = qs->commit_errors;
	st->segments = store_segments(qs->store);
}

static void
queue_sqlite_commit_if_late(struct queue *q)
{
	struct queue_sqlite	*qs = QS(q);

	if (!TAILQ_EMPTY(&qs->pending) &&
	    ev_time() - qs->pending_since >= QUEUE_SQLITE_COMMIT_MAX)
		queue_sqlite_commit_once(qs, 0);
}

static void
queue_sqlite_delay_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* The next loop iteration writes them (see queue_sqlite_commit). */
	((struct queue_sqlite *)t->data)->changes_due = 1;
}

static void
queue_sqlite_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* The next loop iteration commits (see queue_sqlite_commit). */
}

/* A retried dead letter is written again, without its data. */
static void
queue_sqlite_dead_release(struct queue *q, struct job *job)
{
	queue_memory_dead_release(q, job);
	if (job_seg(job) != 0 && !q->readonly)
		job_changed_add(job);
}

static void
queue_sqlite_forget(struct queue *q, struct job *job)
{
	queue_sqlite_release(QS(q)->store, job);
}

/* Drop the uncommitted submits, then what the memory queues hold. */
static void
queue_sqlite_close(struct queue *q)
{
	struct queue_sqlite	*qs = QS(q);
	struct job		*job;
	char			*cause = NULL;

	ev_timer_stop(q->loop, &qs->retry_timer);
	ev_timer_stop(q->loop, &qs->delay_timer);
	ev_timer_stop(q->loop, &qs->run_timer);
	ev_io_stop(q->loop, &qs->commit_io);
	/* A commit still under way ends first (a clean stop landed it). */
	if (qs->in_flight && store_commit_result(qs->store, 1, &cause) == -1)
		free(cause);
	TAILQ_CONCAT(&qs->pending, &qs->committing, entry);
	while ((job = TAILQ_FIRST(&qs->pending)) != NULL) {
		TAILQ_REMOVE(&qs->pending, job, entry);
		job_free(job);
	}
	queue_acks_answer(&qs->acks_flight, "mpsup is shutting down");
	free(qs->putseg);
	free(qs->putdelta);
	job_changed_track(0);
	store_close(qs->store);
	free(qs);
	queue_memory_close(q);
}

/* What SQLite changes of the memory queue: acceptance, log, recovery. */
static const struct queue_ops queue_sqlite_ops = {
	.name = "sqlite",
	.push = queue_sqlite_push,
	.job_pending = queue_sqlite_job_pending,
	.claim = queue_memory_claim,
	.started = queue_sqlite_started,
	.requeue = queue_memory_requeue,
	.cancel = queue_sqlite_cancel,
	.finished = queue_memory_finished,
	.dead_release = queue_sqlite_dead_release,
	.forget = queue_sqlite_forget,
	.lookup = queue_memory_lookup,
	.lookup_key = queue_memory_lookup_key,
	.commit = queue_sqlite_commit,
	.commit_if_late = queue_sqlite_commit_if_late,
	.pipeline = queue_sqlite_pipeline,
	.commit_busy = queue_sqlite_commit_busy,
	.recover = queue_sqlite_recover,
	.stats = queue_sqlite_stats,
	.close = queue_sqlite_close,
};

int
queue_sqlite_open(struct queue *q, const char *spec, int sync_full,
    int mode, char **cause)
{
	struct queue_sqlite	*qs;
	struct store		*store;

	if ((store = store_open(spec, sync_full, mode, cause)) == NULL)
		return -1;
	qs = xcalloc(1, sizeof *qs);
	qs->q = q;
	qs->store = store;
	TAILQ_INIT(&qs->pending);
	TAILQ_INIT(&qs->committing);
	TAILQ_INIT(&qs->acks_flight);
	ev_io_init(&qs->commit_io, queue_sqlite_commit_io_cb,
	    store_commit_fd(store), EV_READ);
	qs->commit_io.data = qs;
	ev_timer_init(&qs->retry_timer, queue_sqlite_retry_cb, 0, 0);
	ev_timer_init(&qs->delay_timer, queue_sqlite_delay_cb, 0, 0);
	ev_timer_init(&qs->run_timer, queue_sqlite_run_cb, 0, 0);
	qs->retry_timer.data = qs->delay_timer.data = qs;
	qs->run_timer.data = q;
	q->impl = qs;
	q->store = store;
	q->readonly = store_readonly(store);
	q->ops = &queue_sqlite_ops;
	/* A read-only store can take no state change: none is kept. */
	job_changed_track(!q->readonly);
	return 0;
}
