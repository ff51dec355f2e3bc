/*
 * Request execution (see request.h): a message decoded by
 * request_decode.c is admitted (role, pool, the decoder's verdict, in the
 * order clients have always seen them) and run by its op's handler from
 * the op table. Job data is copied through as the validated JSON text it
 * arrived as; a reply that waits for jobs or for the store's commit is
 * written later, from their callbacks (request_wait.c).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/jobspec.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "supervisor/remote/clients.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/request_impl.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"

typedef void	(*request_exec_fn)(struct exec *);

static void	exec_submit(struct exec *);
static void	exec_submit_many(struct exec *);
static void	exec_result(struct exec *);
static void	exec_cancel(struct exec *);

#define REQUEST_EXEC_ROW(tag, name, role, flags, decode, exec)		\
	[REQUEST_OP_##tag] = exec,
static const request_exec_fn	request_handlers[REQUEST_NOPS] = {
	REQUEST_OP_TABLE(REQUEST_EXEC_ROW)
};
#undef REQUEST_EXEC_ROW

/*
 * Whether the client on c may see job: read it, wait for it, cancel it
 * (with the role for that), find it in jobs, its lines in logs (job NULL:
 * a log record of no job, a supervisor message). Monitors and admins see
 * everything, a submit client only its own jobs (SPEC section 11); to it,
 * another client's job must look exactly like one that does not exist.
 */
int
request_may_see_job(const struct conn *c, const struct job *job)
{
	const struct client	*cl = conn_client(c);

	if (client_role(cl) != ROLE_SUBMIT)
		return 1;
	return job != NULL && job->client != NULL &&
	    strcmp(job->client, client_name(cl)) == 0;
}
/* Answer r with an error object. */
void
request_reply_error(struct reply *r, const char *code, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	request_error_reply(reply_body(r), code, msg);
	free(msg);
	reply_done(r);
}

/*
 * Check the request's jobs against the pool, in order, and build their
 * data into x->data: -1 (answered) at the first that is refused, which
 * submit reports bare and submit_many as "jobs[i]: ...".
 */
static int
exec_build_jobs(struct exec *x)
{
	const struct request	*req = x->req;
	const struct job	*owner;
	const char		*why;
	size_t			 i;

	x->ends = xreallocarray(NULL, req->njobs ? req->njobs : 1,
	    sizeof *x->ends);
	for (i = 0; i < req->njobs; i++) {
		/* A client's keys are one namespace, across its pools. */
		if (req->jobs[i].key != NULL &&
		    (owner = job_key_find(client_name(x->client),
		    req->jobs[i].key)) != NULL &&
		    job_pool(owner) != x->pool)
			why = "\"key\" is already the key of a job of another "
			    "pool";
		else if (x->pool->pc->type == POOL_TYPE_STREAM)
			/* "data" was found when the request was decoded. */
			why = jobspec_build_stream(&req->jobs[i].data,
			    &x->data);
		else
			why = jobspec_build(x->pool->pc->type,
			    &req->jobs[i].desc, &x->data);
		if (why != NULL) {
			if (req->op->id == REQUEST_OP_SUBMIT_MANY)
				request_reply_error(x->reply, "bad_request",
				    "jobs[%zu]: %s", i, why);
			else
				request_reply_error(x->reply, "bad_request", "%s", why);
			return -1;
		}
		x->ends[i] = buf_used(&x->data);
	}
	return 0;
}

/* A decoded job's flow fields, as dispatch_submit takes them. */
static const struct job_flow_spec *
exec_flow(const struct request_job *j, struct job_flow_spec *flow)
{
	memset(flow, 0, sizeof *flow);
	flow->priority = j->priority;
	flow->group = j->group;
	if (j->delay > 0)
		flow->not_before = time_wall() + j->delay;
	else if (j->delay < 0)
		flow->not_before = j->not_before;
	return flow;
}

/* A submit dispatch_submit() refused with code err. */
static void
request_submit_refused(struct exec *x, const char *err)
{
	request_reply_error(x->reply, err, "%s",
	    strcmp(err, "queue_full") == 0 ?
	    "the pool's queue is full (max_queue)" :
	    strcmp(err, "unavailable") == 0 ?
	    "the cluster's Redis cannot be reached now; try again" :
	    "mpsup is shutting down");
}

static void
exec_submit(struct exec *x)
{
	struct job	*job;
	struct job_flow_spec flow;
	const char	*err;

	if (exec_build_jobs(x) == -1)
		return;
	job = dispatch_submit(x->pool, buf_head(&x->data),
	    buf_used(&x->data), client_name(x->client), x->req->jobs[0].key,
	    exec_flow(&x->req->jobs[0], &flow), &err);
	if (job == NULL) {
		request_submit_refused(x, err);
		return;
	}
	dispatch_run(x->pool);
	request_submit_reply(x, &job, 1, 0);
}

/* All or nothing: every job is checked before any is accepted. */
static void
exec_submit_many(struct exec *x)
{
	struct pool	 *pool = x->pool;
	struct job	**made;
	struct job_flow_spec flow;
	const char	 *err;
	size_t		  n = x->req->njobs, i, from, queued;

	if (exec_build_jobs(x) == -1)
		return;
	if (x->sv->stopping) {
		pool->q.rejected += n;
		request_reply_error(x->reply, "shutting_down", "mpsup is shutting down");
		return;
	}
	queued = pool->q.jobs.state[JOB_QUEUED] +
	    pool->q.jobs.state[JOB_DELAYED] + pool->q.pending_len;
	if ((long)(queued + n) > pool->pc->max_queue) {
		pool->q.rejected += n;
		request_reply_error(x->reply, "queue_full", "the pool's queue has room "
		    "for %ld more jobs, not %zu (max_queue)",
		    pool->pc->max_queue - (long)queued, n);
		return;
	}
	made = xreallocarray(NULL, n ? n : 1, sizeof *made);
	for (i = 0; i < n; i++) {
		from = i ? x->ends[i - 1] : 0;
		made[i] = dispatch_submit(pool, buf_head(&x->data) + from,
		    x->ends[i] - from, client_name(x->client),
		    x->req->jobs[i].key, exec_flow(&x->req->jobs[i], &flow),
		    &err);
	}
	/* Refused, it is refused at once (the cluster's Redis is away). */
	for (i = 0; i < n && made[i] != NULL; i++)
		;
	if (i < n)
		request_submit_refused(x, err);
	else {
		dispatch_run(pool);
		request_submit_reply(x, made, n, 1);
	}
	free(made);
}

/* The job the request's "id" names; NULL (answered not_found) if none. */
static struct job *
exec_job(struct exec *x)
{
	const struct jsontext_span	*v = &x->req->id;
	struct job			*job;
	char				*id;

	/* Ids are looked up as written: an escaped id matches nothing. */
	if ((job = job_table_find(v->p + 1, v->len - 2)) == NULL ||
	    !request_may_see_job(reply_conn(x->reply), job)) {
		job = NULL;
		id = jsontext_string_decode(v, NULL);
		request_reply_error(x->reply, "not_found", "no job '%s' "
		    "(unknown, or its record expired)", id != NULL ? id : "?");
		free(id);
	}
	return job;
}

/* Whether the request's id is a job this node does not hold. */
static int
exec_elsewhere(struct exec *x)
{
	const struct jsontext_span	*v = &x->req->id;

	return job_table_find(v->p + 1, v->len - 2) == NULL;
}

static void
exec_result(struct exec *x)
{
	struct job	*job;

	if (exec_elsewhere(x) && request_cluster_result(x) == 0)
		return;
	if ((job = exec_job(x)) == NULL)
		return;
	request_reply_job(x->sv, x->reply, job, x->req->wait, x->req->timeout);
}

static void
exec_cancel(struct exec *x)
{
	struct job	*job;
	const char	*err;

	if (exec_elsewhere(x) && request_cluster_cancel(x, NULL) == 0)
		return;
	if ((job = exec_job(x)) == NULL)
		return;
	if (queue_job_remote(dispatch_queue(), job) &&
	    request_cluster_cancel(x, job) == 0)
		return;
	if (dispatch_cancel(job, &err) == -1) {
		request_reply_error(x->reply, "bad_request", "job %s: %s (%s)", job->id,
		    err, job_state_name(job->state));
		return;
	}
	buf_appendf(reply_body(x->reply), "{\"ok\":true,\"id\":\"%s\","
	    "\"state\":\"%s\"}", job->id, job_state_name(job->state));
	reply_done(x->reply);
}

/*
 * The live pool the request names; NULL (answered unknown_pool) if none.
 * A cluster node cut from Redis, or that has not read the nodes'
 * registry yet (just started), cannot tell whether a live node serves
 * the pool (a gateway pool, gateway.c): a submit answers unavailable.
 */
static struct pool *
exec_pool(struct exec *x)
{
	struct queue_cluster_info	 ci;
	const char			*name = x->req->pool;
	size_t				 i;

	for (i = 0; name != NULL && i < x->sv->npools; i++)
		if (!x->sv->pools[i]->removed &&
		    strcmp(x->sv->pools[i]->name, name) == 0)
			return x->sv->pools[i];
	if ((x->req->op->flags & REQUEST_SUBMITS) && x->sv->queue != NULL &&
	    queue_cluster(x->sv->queue, &ci) == 0 &&
	    (!ci.connected || !x->sv->registry_read))
		request_reply_error(x->reply, "unavailable", "no pool named "
		    "'%s' here, and the cluster's Redis cannot be reached now "
		    "to ask whether a live node serves it; try again", name);
	else
		request_reply_error(x->reply, "unknown_pool", "no pool named "
		    "'%s'", name != NULL ? name : "?");
	return NULL;
}

/*
 * May the decoded request run? Checked in the order clients have always
 * been answered: a message that is not a request or names no op; an op
 * the connection's key may not use; an unknown pool; what else the
 * decoder refused (after the jobs before a wrong one passed the pool's
 * checks). Returns 0 once answered.
 */
static int
exec_admit(struct exec *x, struct conn *c)
{
	const struct request	*req = x->req;

	if (req->op == NULL) {
		request_reply_error(x->reply, request_error_name(req->error), "%s",
		    req->message);
		return 0;
	}
	x->client = conn_client(c);
	if (client_role(x->client) < req->op->role) {
		request_reply_error(x->reply, "forbidden", "%s needs the %s role "
		    "(client '%s' has the %s role)", req->op->name,
		    config_role_name(req->op->role), client_name(x->client),
		    config_role_name(client_role(x->client)));
		return 0;
	}
	/* Before unknown_pool: what it may not use, it need not know of. */
	if ((req->op->flags & REQUEST_SUBMITS) && req->has_pool &&
	    !client_may_use_pool(x->client, req->pool)) {
		request_reply_error(x->reply, "forbidden", "client '%s' may not submit "
		    "to pool '%s' (see its pools =)", client_name(x->client),
		    req->pool);
		return 0;
	}
	if ((req->op->flags & REQUEST_POOL) && req->has_pool &&
	    (x->pool = exec_pool(x)) == NULL)
		return 0;
	if (req->error != REQUEST_OK) {
		if (req->error_after_jobs && exec_build_jobs(x) == -1)
			return 0;
		request_reply_error(x->reply, request_error_name(req->error), "%s",
		    req->message);
		return 0;
	}
	return 1;
}

void
request_handle(struct supervisor *sv, struct conn *c, const void *msg,
    size_t len)
{
	struct request	req;
	struct exec	x;

	request_decode(msg, len, sv->cfg->max_message, &req);
	memset(&x, 0, sizeof x);
	x.sv = sv;
	x.req = &req;
	x.reply = conn_reply_new(c, req.pickled ? REPLY_PICKLE : REPLY_JSON);
	if (exec_admit(&x, c))
		request_handlers[req.op->id](&x);
	buf_free(&x.data);
	free(x.ends);
	request_free(&req);
}

/* The listener carrying requests, as a service of the supervisor. */
static int
remote_service_start(struct supervisor *sv, void **state, char **cause)
{
	return (*state = listener_new(sv, request_handle, cause)) == NULL ?
	    -1 : 0;
}

static void
remote_service_flush(void *state)
{
	request_follow_flush();
	listener_flush(state);
}

static void
remote_service_stop_accepting(void *state)
{
	listener_stop_accepting(state);
}

static int
remote_service_clients(void *state)
{
	return listener_connections(state);
}

/* "clients": who may connect, with their roles, never their keys. */
static void
remote_service_status(void *state, struct buf *b)
{
	buf_append_str(b, ",\"clients\":");
	listener_clients_status(state, b);
}

static void
remote_service_free(void *state)
{
	request_cluster_stop();
	request_waits_stop();
	listener_free(state);
	request_follow_shutdown();
}

const struct supervisor_service remote_service = {
	.name = NULL,
	.start = remote_service_start,
	.flush = remote_service_flush,
	.stop_accepting = remote_service_stop_accepting,
	.clients = remote_service_clients,
	.status = remote_service_status,
	.free = remote_service_free,
};
