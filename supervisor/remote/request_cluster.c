/*
 * Cluster (SPEC section 12): result, waits and cancel of jobs this node
 * does not hold. The job's record is fetched from the shared queue, the
 * one ownership rule (request_may_see_job) is applied to it as to any
 * job, and the answer goes out when Redis has answered. A wait keeps the
 * fetched job here until it ends on whichever node runs it.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/request_impl.h"

/* One result or cancel waiting for Redis. */
struct cluster_op {
	struct supervisor	*sv;
	struct reply		*reply;
	struct queue_fetch	*fe;
	int			 cancel;
	int			 wait;
	double			 timeout;
	char			*id;		/* as the client wrote it */
	TAILQ_ENTRY(cluster_op)	 entry;		/* in ops_open */
};

/* The ops waiting for Redis, answered at a stop (request_cluster_stop). */
static TAILQ_HEAD(, cluster_op) ops_open = TAILQ_HEAD_INITIALIZER(ops_open);

static void
cluster_op_abort_cb(struct reply *r, void *arg)
{
	struct cluster_op	*op = arg;

	queue_fetch_cancel(op->fe);
	TAILQ_REMOVE(&ops_open, op, entry);
	free(op->id);
	free(op);
}

static void
cluster_not_found(struct reply *r, const char *id)
{
	request_reply_error(r, "not_found", "no job '%s' (unknown, or its "
	    "record expired)", id);
}

static void
cluster_unavailable(struct reply *r)
{
	request_reply_error(r, "unavailable", "the cluster's Redis cannot be "
	    "reached now; try again");
}

/*
 * The op is over: its reply no longer aborts it, and it is freed; then
 * the reply is answered (an answered reply may be gone at once).
 */
static void
cluster_op_done(struct cluster_op *op, struct job *job, const char *state,
    const char *err)
{
	struct reply	*r = op->reply;
	char		*id = op->id;
	int		 cancel = op->cancel, wait = op->wait;
	double		 timeout = op->timeout;
	struct supervisor *sv = op->sv;

	reply_set_abort(r, NULL, NULL);
	TAILQ_REMOVE(&ops_open, op, entry);
	free(op);
	if (err != NULL)
		cluster_unavailable(r);
	else if (cancel && state == NULL)
		cluster_not_found(r, id);
	else if (cancel && strcmp(state, "cancelled") != 0 &&
	    strcmp(state, "running") != 0)
		request_reply_error(r, "bad_request", "job %s: job has already "
		    "finished (%s)", id, state);
	else if (cancel) {
		buf_appendf(reply_body(r), "{\"ok\":true,\"id\":\"%s\","
		    "\"state\":\"%s\"}", id, state);
		reply_done(r);
	} else if (job == NULL)
		cluster_not_found(r, id);
	else
		request_reply_job(sv, r, job, wait, timeout);
	free(id);
}

static void
cluster_cancel_cb(void *arg, const char *state, const char *err)
{
	struct cluster_op	*op = arg;

	op->fe = NULL;
	cluster_op_done(op, NULL, state, err);
}

static void
cluster_fetched_cb(void *arg, struct job *job, const char *err)
{
	struct cluster_op	*op = arg;

	op->fe = NULL;
	/* Another client's job looks exactly like none. */
	if (job != NULL && !request_may_see_job(reply_conn(op->reply), job))
		job = NULL;
	if (err == NULL && job != NULL && op->cancel) {
		op->fe = queue_cancel_remote(dispatch_queue(), job->owner->name, job->id,
		    cluster_cancel_cb, op);
		if (op->fe == NULL)
			cluster_op_done(op, NULL, NULL, "unavailable");
		return;
	}
	if (op->cancel && err == NULL)
		cluster_op_done(op, NULL, NULL, NULL);
	else
		cluster_op_done(op, job, NULL, err);
}

static struct cluster_op *
cluster_op_new(struct exec *x, int cancel)
{
	struct cluster_op	*op = xcalloc(1, sizeof *op);

	op->sv = x->sv;
	op->reply = x->reply;
	op->cancel = cancel;
	op->wait = x->req->wait;
	op->timeout = x->req->timeout;
	op->id = jsontext_string_decode(&x->req->id, NULL);
	if (op->id == NULL)
		op->id = xstrdup("?");
	reply_set_abort(x->reply, cluster_op_abort_cb, op);
	TAILQ_INSERT_TAIL(&ops_open, op, entry);
	return op;
}

/* Sent (the answer comes later), or answered now. */
static int
cluster_sent(struct cluster_op *op)
{
	if (op->fe != NULL)
		return 0;
	if (!job_id_ok(op->id, strlen(op->id)))
		cluster_op_done(op, NULL, NULL, NULL);
	else
		cluster_op_done(op, NULL, NULL, "unavailable");
	return 0;
}

int
request_cluster_result(struct exec *x)
{
	struct queue_cluster_info	 ci;
	struct cluster_op		*op;

	if (queue_cluster(dispatch_queue(), &ci) == -1)
		return -1;
	op = cluster_op_new(x, 0);
	if (job_id_ok(op->id, strlen(op->id)))
		op->fe = queue_fetch(dispatch_queue(), op->id, JOB_ID_LEN, op->wait,
		    cluster_fetched_cb, op);
	return cluster_sent(op);
}

int
request_cluster_cancel(struct exec *x, struct job *job)
{
	struct queue_cluster_info	 ci;
	struct cluster_op		*op;

	if (queue_cluster(dispatch_queue(), &ci) == -1)
		return -1;
	op = cluster_op_new(x, 1);
	if (job != NULL)
		op->fe = queue_cancel_remote(dispatch_queue(), job->owner->name, job->id,
		    cluster_cancel_cb, op);
	else if (job_id_ok(op->id, strlen(op->id)))
		op->fe = queue_fetch(dispatch_queue(), op->id, JOB_ID_LEN, 0,
		    cluster_fetched_cb, op);
	return cluster_sent(op);
}

/*
 * mpsup stops before Redis answered: the client is told so rather than
 * cut off. A cancel may or may not have reached Redis, and says so.
 */
void
request_cluster_stop(void)
{
	struct cluster_op	*op;
	struct reply		*r;

	while ((op = TAILQ_FIRST(&ops_open)) != NULL) {
		TAILQ_REMOVE(&ops_open, op, entry);
		queue_fetch_cancel(op->fe);
		r = op->reply;
		reply_set_abort(r, NULL, NULL);
		if (op->cancel)
			request_reply_error(r, "shutting_down", "mpsup is "
			    "stopping before the cluster's Redis answered: "
			    "the cancel of job %s may or may not have taken "
			    "effect", op->id);
		else
			request_reply_error(r, "shutting_down", "mpsup is "
			    "stopping before the cluster's Redis answered for "
			    "job %s", op->id);
		free(op->id);
		free(op);
	}
}
