/*
 * Answering a submit, and a result that waits (see request_impl.h): at
 * once, once the store has committed the submit's jobs (a durable store
 * acknowledges none before), and once the jobs awaited have ended, with
 * their records in the reply.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "store/job.h"
#include "supervisor/dispatch.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/request_impl.h"
#include "supervisor/supervisor.h"

/*
 * A wait's records are kept in blocks of about WAIT_BLOCK bytes: a block
 * is filled, then the next one is started, so that the records of a big
 * batch are not moved again and again as one buffer doubles. Only the
 * first block grows from small (a wait for one job takes what its record
 * needs); the others are reserved whole (untouched pages cost nothing).
 */
#define WAIT_BLOCK	(64 * 1024)

/* Where one job's record is: in which block, at what offset. */
struct wait_record {
	size_t	block;
	size_t	off;
	size_t	len;
};

/* A reply waiting for one or more jobs to finish. */
struct wait {
	TAILQ_ENTRY(wait)	 entry;		/* in waits_open, once armed */
	int			 open;
	struct supervisor	*sv;
	struct reply		*reply;
	ev_timer		 timer;
	int			 has_timer;
	size_t			 njobs;
	size_t			 pending;
	int			 many;		/* submit_many: "jobs":[...] */
	int			 with_id;	/* submit: "id" in the reply */
	struct job_waiter	*waiters;
	struct buf		*blocks;	/* the records, as jobs end */
	size_t			 nblocks;
	struct wait_record	*at;		/* where job i's record is */
	char			(*ids)[JOB_ID_LEN + 1];
};

/* A submit reply waiting for the store to commit its jobs. */
struct submit_ack {
	struct supervisor	*sv;
	struct reply		*reply;
	struct dispatch_ack	*ack;
	char			(*ids)[JOB_ID_LEN + 1];
	size_t			 n;
	int			 many;
	struct wait		*wait;		/* or NULL: answer the ids */
	double			 timeout;
	TAILQ_ENTRY(submit_ack)	 entry;		/* in acks_open */
};

/* The waits armed and not answered yet: a stop answers them. */
static TAILQ_HEAD(, wait) waits_open = TAILQ_HEAD_INITIALIZER(waits_open);
/* The submits whose commit has not answered: a stop answers them too. */
static TAILQ_HEAD(, submit_ack) acks_open =
    TAILQ_HEAD_INITIALIZER(acks_open);

static void
wait_free(struct wait *wt)
{
	size_t	i;

	if (wt->open)
		TAILQ_REMOVE(&waits_open, wt, entry);
	if (wt->has_timer)
		ev_timer_stop(wt->sv->loop, &wt->timer);
	for (i = 0; i < wt->njobs; i++)
		job_waiter_remove(&wt->waiters[i]);
	free(wt->waiters);
	for (i = 0; i < wt->nblocks; i++)
		buf_free(&wt->blocks[i]);
	free(wt->blocks);
	free(wt->at);
	free(wt->ids);
	free(wt);
}

static void
submit_ack_free(struct submit_ack *sa)
{
	TAILQ_REMOVE(&acks_open, sa, entry);
	if (sa->wait != NULL)
		wait_free(sa->wait);
	free(sa->ids);
	free(sa);
}

/* Job i's record, as the reply takes it. */
static void
wait_record_append(const struct wait *wt, size_t i, struct buf *b)
{
	const struct wait_record	*at = &wt->at[i];

	buf_append(b, wt->blocks[at->block].data + at->off, at->len);
}

/* Every awaited job has ended: write the reply. */
static void
wait_complete(struct wait *wt)
{
	struct buf	*b;
	size_t		 i, len = 0;

	for (i = 0; i < wt->nblocks; i++)
		len += wt->blocks[i].len;
	/* The reply's size is known: grow once, not by doubling. */
	b = reply_body_sized(wt->reply, len + wt->njobs * (JOB_ID_LEN + 5) + 64);
	if (wt->many) {
		buf_append_str(b, "{\"ok\":true,\"ids\":[");
		for (i = 0; i < wt->njobs; i++) {
			buf_append(b, i ? ",\"" : "\"", i ? 2 : 1);
			buf_append(b, wt->ids[i], JOB_ID_LEN);
			buf_append(b, "\"", 1);
		}
		buf_append_str(b, "],\"jobs\":[");
		for (i = 0; i < wt->njobs; i++) {
			if (i)
				buf_append(b, ",", 1);
			wait_record_append(wt, i, b);
		}
		buf_append_str(b, "]}");
	} else {
		buf_append_str(b, "{\"ok\":true,");
		if (wt->with_id)
			buf_appendf(b, "\"id\":\"%s\",", wt->ids[0]);
		buf_append_str(b, "\"job\":");
		wait_record_append(wt, 0, b);
		buf_append(b, "}", 1);
	}
	reply_done(wt->reply);
	wait_free(wt);
}

/* Job i's record, appended to the wait's last block of records. */
static void
wait_take_record(struct wait *wt, size_t i, const struct job *job)
{
	struct buf	*b;

	if (wt->nblocks == 0 || wt->blocks[wt->nblocks - 1].len >= WAIT_BLOCK) {
		wt->blocks = xreallocarray(wt->blocks, wt->nblocks + 1,
		    sizeof *wt->blocks);
		b = &wt->blocks[wt->nblocks++];
		memset(b, 0, sizeof *b);
		if (wt->nblocks > 1)
			buf_reserve(b, 2 * WAIT_BLOCK);
	}
	b = &wt->blocks[wt->nblocks - 1];
	wt->at[i].block = wt->nblocks - 1;
	wt->at[i].off = b->len;
	job_record_append(job, b);
	wt->at[i].len = b->len - wt->at[i].off;
}

/*
 * Answer the wait with an error and end it. The message (plain text, no
 * quote) is the many form's; a wait for one job says "job ID" instead,
 * and names it in "id" too.
 */
static void
wait_fail(struct wait *wt, const char *code, const char *many,
    const char *one)
{
	struct buf	*b;

	if (wt->many)
		request_reply_error(wt->reply, code, "%s", many);
	else {
		b = reply_body(wt->reply);
		buf_reset(b);
		buf_appendf(b, "{\"ok\":false,\"error\":\"%s\",\"message\":"
		    "\"job %s %s\",\"id\":\"%s\"}", code, wt->ids[0], one,
		    wt->ids[0]);
		reply_done(wt->reply);
	}
	wait_free(wt);
}

/* The client's "timeout" passed first: answer timeout. */
static void
wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct wait	*wt = t->data;
	char		*many;

	wt->has_timer = 0;
	xasprintf(&many, "%zu of %zu jobs still unfinished", wt->pending,
	    wt->njobs);
	wait_fail(wt, "timeout", many, "has not finished");
	free(many);
}

/*
 * Job i is gone with no record to come (see job_waiters_gone(): why is
 * "CODE: what became of it"): the wait ends now, not at its timeout (or
 * never), with that error.
 */
static void
wait_gone(struct wait *wt, size_t i, const char *why)
{
	const char	*what = strstr(why, ": ");
	char		*code, *many;

	code = xstrndup(why, what != NULL ? (size_t)(what - why) : strlen(why));
	what = what != NULL ? what + 2 : "is gone";
	xasprintf(&many, "job %s %s", wt->ids[i], what);
	wait_fail(wt, code, many, what);
	free(many);
	free(code);
}

void
request_waits_stop(void)
{
	struct submit_ack	*sa;
	struct wait		*wt;
	char			*many;

	/*
	 * A submit still waiting for its commit (a cluster's, whose Redis
	 * did not answer while mpsup waited for it): it may have been taken.
	 */
	while ((sa = TAILQ_FIRST(&acks_open)) != NULL) {
		dispatch_ack_cancel(sa->ack);
		reply_set_abort(sa->reply, NULL, NULL);
		request_reply_error(sa->reply, "shutting_down", "mpsup is "
		    "stopping before the submit was acknowledged: its job%s "
		    "may or may not have been taken", sa->n == 1 ? "" : "s");
		submit_ack_free(sa);
	}

	while ((wt = TAILQ_FIRST(&waits_open)) != NULL) {
		xasprintf(&many, "mpsup is stopping: %zu of %zu jobs have not "
		    "ended", wt->pending, wt->njobs);
		wait_fail(wt, "shutting_down", many, "has not ended and mpsup "
		    "is stopping");
		free(many);
	}
}

/* One awaited job ended (or, NULL, is gone). */
static void
wait_job_cb(struct job_waiter *jw, struct job *job)
{
	struct wait	*wt = jw->arg;
	size_t		 i = (size_t)(jw - wt->waiters);

	if (job == NULL) {
		wait_gone(wt, i, jw->gone);
		return;
	}
	wait_take_record(wt, i, job);
	if (--wt->pending == 0)
		wait_complete(wt);
}


/* The connection went away while the reply waited. */
static void
wait_abort_cb(struct reply *r, void *arg)
{
	wait_free(arg);
}

/* Slot i of a wait whose job is not committed yet (struct wait_record). */
#define WAIT_LATER	SIZE_MAX

/* Job i's record if it has ended, or a waiter for its end. */
static void
wait_add(struct wait *wt, size_t i, struct job *job)
{
	if (job_state_terminal(job->state))
		wait_take_record(wt, i, job);
	else {
		job_waiter_add(job, &wt->waiters[i]);
		wt->pending++;
	}
}

/*
 * A wait for jobs, not answered yet: the ended ones' records taken, a
 * waiter on each of the others. With later set, a job the store has not
 * committed yet (a submit's own, see request_submit_reply()) is left to
 * wait_commit() and counts as unfinished until then, so that no answer
 * goes before the commit.
 */
static struct wait *
wait_new(struct supervisor *sv, struct reply *r, struct job **jobs,
    size_t n, int many, int with_id, int later)
{
	struct wait	*wt = xcalloc(1, sizeof *wt);
	size_t		 i;

	wt->sv = sv;
	wt->reply = r;
	wt->njobs = n;
	wt->many = many;
	wt->with_id = with_id;
	/* Written below, each one (calloc() zeroed ~200 KB a batch). */
	wt->waiters = xreallocarray(NULL, n, sizeof *wt->waiters);
	wt->at = xcalloc(n, sizeof *wt->at);
	/*
	 * No room is reserved for the records up front: the jobs may wait in
	 * the queue long, and blocks are added as they end.
	 */
	wt->ids = xreallocarray(NULL, n, sizeof *wt->ids);
	for (i = 0; i < n; i++) {
		memcpy(wt->ids[i], jobs[i]->id, JOB_ID_LEN + 1);
		wt->waiters[i].job = NULL;
		wt->waiters[i].cb = wait_job_cb;
		wt->waiters[i].arg = wt;
		if (later && dispatch_job_pending(jobs[i])) {
			wt->at[i].block = WAIT_LATER;
			wt->pending++;
		} else
			wait_add(wt, i, jobs[i]);
	}
	return wt;
}

/* Answer now if no job is left to wait for, else from the jobs' ends. */
static void
wait_arm(struct wait *wt, double timeout)
{
	if (wt->pending == 0) {
		wait_complete(wt);
		return;
	}
	TAILQ_INSERT_TAIL(&waits_open, wt, entry);
	wt->open = 1;
	if (timeout >= 0) {
		ev_timer_init(&wt->timer, wait_timeout_cb, timeout, 0);
		wt->timer.data = wt;
		ev_timer_start(wt->sv->loop, &wt->timer);
		wt->has_timer = 1;
	}
	reply_set_abort(wt->reply, wait_abort_cb, wt);
}

/* Wait for jobs before replying to r. */
static void
wait_start(struct supervisor *sv, struct reply *r, struct job **jobs,
    size_t n, int many, int with_id, double timeout)
{
	wait_arm(wait_new(sv, r, jobs, n, many, with_id, 0), timeout);
}

/*
 * The store committed the jobs wait_new() left for later: wait for them
 * too. -1 (nothing answered) if one is gone, which a job just committed
 * cannot be: it has not even started.
 */
static int
wait_commit(struct wait *wt)
{
	struct job	*job;
	size_t		 i;

	for (i = 0; i < wt->njobs; i++) {
		if (wt->at[i].block != WAIT_LATER)
			continue;
		if ((job = dispatch_job_find(wt->ids[i], JOB_ID_LEN)) == NULL)
			return -1;
		/* A cluster's commit may have given it the id of the job
		 * another node submitted with the same key. */
		memcpy(wt->ids[i], job->id, JOB_ID_LEN + 1);
		wt->at[i].block = 0;
		wt->pending--;
		wait_add(wt, i, job);
	}
	return 0;
}

/* The id of the i-th job: of an array of jobs, or of an array of ids. */
typedef const char *(*submit_id_fn)(const void *, size_t);

static const char *
submit_id_of_job(const void *v, size_t i)
{
	return ((struct job *const *)v)[i]->id;
}

static const char *
submit_id_of_ids(const void *v, size_t i)
{
	return ((const char (*)[JOB_ID_LEN + 1])v)[i];
}

/* Acknowledge accepted jobs: {"id":...} or {"ids":[...]}. */
static void
submit_reply_ids(struct reply *r, submit_id_fn id, const void *v, size_t n,
    int many)
{
	struct buf	*b = reply_body(r);
	size_t		 i;

	if (!many) {
		buf_appendf(b, "{\"ok\":true,\"id\":\"%s\"}", id(v, 0));
		reply_done(r);
		return;
	}
	b = reply_body_sized(r, 24 + n * (JOB_ID_LEN + 3));
	buf_append_str(b, "{\"ok\":true,\"ids\":[");
	for (i = 0; i < n; i++) {
		buf_append(b, i ? ",\"" : "\"", i ? 2 : 1);
		buf_append(b, id(v, i), JOB_ID_LEN);
		buf_append(b, "\"", 1);
	}
	buf_append_str(b, "]}");
	reply_done(r);
}

/* The connection went away before the commit. */
static void
submit_ack_abort_cb(struct reply *r, void *arg)
{
	struct submit_ack	*sa = arg;

	dispatch_ack_cancel(sa->ack);
	submit_ack_free(sa);
}

/*
 * The ids the commit gave: a cluster's gives a keyed job the id of the
 * job another node submitted with the same key. A job that is gone keeps
 * its id: one that a key of the batch named, that has ended and been
 * pruned since (result_max); the batch was accepted all the same.
 */
static void
submit_ack_ids(struct submit_ack *sa)
{
	const struct job	*job;
	size_t			 i;

	for (i = 0; i < sa->n; i++)
		if ((job = dispatch_job_find(sa->ids[i], JOB_ID_LEN)) != NULL)
			memcpy(sa->ids[i], job->id, JOB_ID_LEN + 1);
}

/* The commit is done: acknowledge, or answer store_error. */
static void
submit_ack_cb(void *arg, const char *err)
{
	struct submit_ack	*sa = arg;
	struct reply		*r = sa->reply;
	struct wait		*wt = sa->wait;

	reply_set_abort(r, NULL, NULL);
	if (err != NULL) {
		/*
		 * A cluster says which, and whether the jobs may have been
		 * taken: "queue_full: ..." or "unavailable: ...".
		 */
		if (strncmp(err, "queue_full: ", 12) == 0 ||
		    strncmp(err, "unavailable: ", 13) == 0)
			request_reply_error(r, err[0] == 'q' ? "queue_full" :
			    "unavailable", "%s", strchr(err, ' ') + 1);
		else
			request_reply_error(r, "store_error", "the job%s could "
			    "not be stored, nothing was accepted: %s",
			    sa->many ? "s" : "", err);
	} else if (wt == NULL) {
		submit_ack_ids(sa);
		submit_reply_ids(r, submit_id_of_ids, sa->ids, sa->n, sa->many);
	}
	else if (wait_commit(wt) == -1)
		request_reply_error(r, "store_error", "a job committed is gone "
		    "(a bug): its record cannot be waited for");
	else {
		sa->wait = NULL;
		wait_arm(wt, sa->timeout);
	}
	submit_ack_free(sa);
}

/*
 * Answer a submit now, or once the store committed its jobs (with a
 * durable store no job is acknowledged before its commit). A wait starts
 * at once for the jobs the submit found by their keys, so that a record
 * pruned while the commit runs was taken before.
 */
void
request_submit_reply(struct exec *x, struct job **jobs, size_t n, int many)
{
	struct submit_ack	*sa;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (dispatch_job_pending(jobs[i]))
			break;
	if (i == n) {
		if (x->req->wait && n > 0)
			wait_start(x->sv, x->reply, jobs, n, many, !many,
			    x->req->timeout);
		else
			submit_reply_ids(x->reply, submit_id_of_job, jobs, n,
			    many);
		return;
	}
	sa = xcalloc(1, sizeof *sa);
	sa->sv = x->sv;
	sa->reply = x->reply;
	sa->n = n;
	sa->many = many;
	sa->timeout = x->req->timeout;
	if (x->req->wait)
		sa->wait = wait_new(x->sv, x->reply, jobs, n, many, !many, 1);
	else {
		sa->ids = xreallocarray(NULL, n, sizeof *sa->ids);
		for (i = 0; i < n; i++)
			memcpy(sa->ids[i], jobs[i]->id, JOB_ID_LEN + 1);
	}
	TAILQ_INSERT_TAIL(&acks_open, sa, entry);
	sa->ack = dispatch_ack_new(submit_ack_cb, sa);
	reply_set_abort(x->reply, submit_ack_abort_cb, sa);
}

/* Answer r with a job's record, now or once it ends (wait). */
void
request_reply_job(struct supervisor *sv, struct reply *r, struct job *job,
    int wait, double timeout)
{
	struct buf	*b;

	if (wait && !job_state_terminal(job->state)) {
		wait_start(sv, r, &job, 1, 0, 0, timeout);
		return;
	}
	b = reply_body(r);
	buf_append_str(b, "{\"ok\":true,\"job\":");
	job_record_append(job, b);
	buf_append(b, "}", 1);
	reply_done(r);
}
