/*
 * Request handling (see request.h). Requests are JSON objects; members are
 * found with ipc/jsontext without building a tree, and job data is copied
 * through as the validated JSON text it arrived as.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "ipc/auth.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "supervisor/dispatch.h"
#include "store/job.h"
#include "ipc/jobspec.h"
#include "supervisor/remote/listener.h"
#include "supervisor/pool.h"
#include "supervisor/remote/request.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

#define REQUEST_MAX_BATCH	100000

/* A reply waiting for one or more jobs to finish. */
struct wait {
	struct reply		*reply;
	ev_timer		 timer;
	int			 has_timer;
	size_t			 njobs;
	size_t			 pending;
	int			 many;		/* submit_many: "jobs":[...] */
	int			 with_id;	/* submit: "id" in the reply */
	struct job_waiter	*waiters;
	struct buf		*records;	/* one per job, filled at the end */
	char			(*ids)[JOB_ID_LEN + 1];
};

static void
reply_error(struct reply *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_error(struct reply *r, const char *code, const char *fmt, ...)
{
	struct buf	*b = reply_body(r);
	va_list		 ap;
	char		*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	buf_reset(b);
	buf_appendf(b, "{\"ok\":false,\"error\":\"%s\",\"message\":", code);
	jsontext_string_append(b, msg, strlen(msg));
	buf_append(b, "}", 1);
	free(msg);
	reply_done(r);
}

static struct pool *
request_pool(struct reply *r, const struct jsontext_span *req)
{
	struct jsontext_span	 v;
	struct supervisor	*sv = supervisor;
	char			*name;
	size_t			 i;

	if (!jsontext_object_get(req, "pool", &v) || v.type != JSONTEXT_STRING) {
		reply_error(r, "bad_request", "\"pool\" (a string) is missing");
		return NULL;
	}
	for (i = 0; i < sv->npools; i++)
		if (!sv->pools[i]->removed &&
		    jsontext_string_eq(&v, sv->pools[i]->name))
			return sv->pools[i];
	name = jsontext_string_decode(&v, NULL);
	reply_error(r, "unknown_pool", "no pool named '%s'",
	    name ? name : "?");
	free(name);
	return NULL;
}

/*
 * Seconds from "timeout", or -1 for none; -2 if malformed, which has been
 * answered.
 */
static double
request_timeout(struct reply *r, const struct jsontext_span *req)
{
	struct jsontext_span	v;
	double			t;

	if (!jsontext_object_get(req, "timeout", &v) || v.type == JSONTEXT_NULL)
		return -1;
	if (v.type != JSONTEXT_NUMBER || jsontext_number(&v, &t) == -1 || t < 0 ||
	    !isfinite(t)) {
		reply_error(r, "bad_request", "\"timeout\" must be a number "
		    "of seconds");
		return -2;
	}
	return t;
}

static int
request_wants_wait(const struct jsontext_span *req)
{
	struct jsontext_span	v;

	return jsontext_object_get(req, "wait", &v) && v.type == JSONTEXT_TRUE;
}

static void
wait_free(struct wait *wt)
{
	size_t	i;

	if (wt->has_timer)
		ev_timer_stop(supervisor->loop, &wt->timer);
	for (i = 0; i < wt->njobs; i++) {
		job_waiter_remove(&wt->waiters[i]);
		buf_free(&wt->records[i]);
	}
	free(wt->waiters);
	free(wt->records);
	free(wt->ids);
	free(wt);
}

/* Every awaited job has ended: write the reply. */
static void
wait_complete(struct wait *wt)
{
	struct buf	*b = reply_body(wt->reply);
	size_t		 i;

	buf_reset(b);
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
			buf_append(b, buf_head(&wt->records[i]),
			    buf_used(&wt->records[i]));
		}
		buf_append_str(b, "]}");
	} else {
		buf_append_str(b, "{\"ok\":true,");
		if (wt->with_id)
			buf_appendf(b, "\"id\":\"%s\",", wt->ids[0]);
		buf_append_str(b, "\"job\":");
		buf_append(b, buf_head(&wt->records[0]),
		    buf_used(&wt->records[0]));
		buf_append(b, "}", 1);
	}
	reply_done(wt->reply);
	wait_free(wt);
}

static void
wait_job_cb(struct job_waiter *jw, struct job *job)
{
	struct wait	*wt = jw->arg;
	size_t		 i = (size_t)(jw - wt->waiters);

	job_record_append(job, &wt->records[i]);
	if (--wt->pending == 0)
		wait_complete(wt);
}

static void
wait_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct wait	*wt = t->data;
	struct reply	*r = wt->reply;

	wt->has_timer = 0;
	if (wt->many)
		reply_error(r, "timeout", "%zu of %zu jobs still unfinished",
		    wt->pending, wt->njobs);
	else {
		struct buf *b = reply_body(r);
		buf_reset(b);
		buf_appendf(b, "{\"ok\":false,\"error\":\"timeout\",\"message\":"
		    "\"job %s has not finished\",\"id\":\"%s\"}", wt->ids[0],
		    wt->ids[0]);
		reply_done(r);
	}
	wait_free(wt);
}

static void
wait_abort_cb(struct reply *r, void *arg)
{
	wait_free(arg);
}

/* Wait for jobs (all unfinished) before replying to r. */
static void
wait_start(struct reply *r, struct job **jobs, size_t n, int many,
    int with_id, double timeout)
{
	struct wait	*wt = xcalloc(1, sizeof *wt);
	size_t		 i;

	wt->reply = r;
	wt->njobs = n;
	wt->many = many;
	wt->with_id = with_id;
	wt->waiters = xcalloc(n, sizeof *wt->waiters);
	wt->records = xcalloc(n, sizeof *wt->records);
	wt->ids = xcalloc(n, sizeof *wt->ids);
	for (i = 0; i < n; i++) {
		memcpy(wt->ids[i], jobs[i]->id, JOB_ID_LEN + 1);
		wt->waiters[i].cb = wait_job_cb;
		wt->waiters[i].arg = wt;
		if (job_state_terminal(jobs[i]->state))
			job_record_append(jobs[i], &wt->records[i]);
		else {
			job_waiter_add(jobs[i], &wt->waiters[i]);
			wt->pending++;
		}
	}
	if (wt->pending == 0) {
		wait_complete(wt);
		return;
	}
	if (timeout >= 0) {
		ev_timer_init(&wt->timer, wait_timeout_cb, timeout, 0);
		wt->timer.data = wt;
		ev_timer_start(supervisor->loop, &wt->timer);
		wt->has_timer = 1;
	}
	reply_set_abort(r, wait_abort_cb, wt);
}

#define REQUEST_KEY_MAX	256

/*
 * The idempotency "key" of a job description for pool: *key is NULL
 * without one, else a string the caller frees. -1 (with *why) if it is
 * malformed, or already the key of a job of another pool.
 */
static int
request_key(const struct jsontext_span *desc, const struct pool *pool,
    char **key, const char **why)
{
	struct jsontext_span	 v;
	struct job		*owner;
	size_t			 len;

	*key = NULL;
	if (!jsontext_object_get(desc, "key", &v) || v.type == JSONTEXT_NULL)
		return 0;
	if (v.type != JSONTEXT_STRING ||
	    (*key = jsontext_string_decode(&v, &len)) == NULL ||
	    len == 0 || len > REQUEST_KEY_MAX || strlen(*key) != len) {
		free(*key);
		*key = NULL;
		*why = "\"key\" must be a string of 1 to 256 bytes";
		return -1;
	}
	/* Keys are one namespace; a job of another pool is not handed out. */
	if ((owner = job_key_find(*key)) != NULL && job_pool(owner) != pool) {
		free(*key);
		*key = NULL;
		*why = "\"key\" is already the key of a job of another pool";
		return -1;
	}
	return 0;
}

/* A submit reply waiting for the store to commit its jobs. */
struct submit_ack {
	struct reply		*reply;
	struct dispatch_ack	*ack;
	char			(*ids)[JOB_ID_LEN + 1];
	size_t			 n;
	int			 many;
	int			 wait;
	double			 timeout;
};

static void
submit_ack_abort_cb(struct reply *r, void *arg)
{
	struct submit_ack	*sa = arg;

	dispatch_ack_cancel(sa->ack);
	free(sa->ids);
	free(sa);
}

static void	submit_reply_ids(struct reply *, struct job **, size_t, int);

/* The commit is done: acknowledge, or answer store_error. */
static void
submit_ack_cb(void *arg, const char *err)
{
	struct submit_ack	 *sa = arg;
	struct reply		 *r = sa->reply;
	struct job		**jobs;
	size_t			  i;

	reply_set_abort(r, NULL, NULL);
	if (err != NULL) {
		reply_error(r, "store_error", "the job%s could not be stored, "
		    "nothing was accepted: %s", sa->many ? "s" : "", err);
		goto out;
	}
	jobs = xcalloc(sa->n, sizeof *jobs);
	for (i = 0; i < sa->n; i++)
		if ((jobs[i] = job_table_find(sa->ids[i], JOB_ID_LEN)) == NULL)
			break;
	if (i < sa->n)
		reply_error(r, "not_found", "job %s: its record expired",
		    sa->ids[i]);
	else if (sa->wait)
		wait_start(r, jobs, sa->n, sa->many, !sa->many, sa->timeout);
	else
		submit_reply_ids(r, jobs, sa->n, sa->many);
	free(jobs);
out:
	free(sa->ids);
	free(sa);
}

/*
 * Answer a submit now, or once the store committed its jobs (with a
 * durable store no job is acknowledged before its commit).
 */
static void
submit_reply(struct reply *r, struct job **jobs, size_t n, int many,
    int wait, double timeout)
{
	struct submit_ack	*sa;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (dispatch_job_pending(jobs[i]))
			break;
	if (i == n) {
		if (wait && n > 0)
			wait_start(r, jobs, n, many, !many, timeout);
		else
			submit_reply_ids(r, jobs, n, many);
		return;
	}
	sa = xcalloc(1, sizeof *sa);
	sa->reply = r;
	sa->n = n;
	sa->many = many;
	sa->wait = wait;
	sa->timeout = timeout;
	sa->ids = xcalloc(n, sizeof *sa->ids);
	for (i = 0; i < n; i++)
		memcpy(sa->ids[i], jobs[i]->id, JOB_ID_LEN + 1);
	sa->ack = dispatch_ack_new(submit_ack_cb, sa);
	reply_set_abort(r, submit_ack_abort_cb, sa);
}

static void
submit_reply_ids(struct reply *r, struct job **jobs, size_t n, int many)
{
	struct buf	*b = reply_body(r);
	size_t		 i;

	if (!many) {
		buf_appendf(b, "{\"ok\":true,\"id\":\"%s\"}", jobs[0]->id);
		reply_done(r);
		return;
	}
	buf_reserve(b, 24 + n * (JOB_ID_LEN + 3));
	buf_append_str(b, "{\"ok\":true,\"ids\":[");
	for (i = 0; i < n; i++) {
		buf_append(b, i ? ",\"" : "\"", i ? 2 : 1);
		buf_append(b, jobs[i]->id, JOB_ID_LEN);
		buf_append(b, "\"", 1);
	}
	buf_append_str(b, "]}");
	reply_done(r);
}

static void
op_submit(struct reply *r, const struct jsontext_span *req)
{
	struct pool	*pool;
	struct job	*job;
	struct buf	 data = BUF_INIT;
	const char	*err;
	char		*key;
	double		 timeout;

	if ((pool = request_pool(r, req)) == NULL)
		return;
	if ((timeout = request_timeout(r, req)) == -2)
		return;
	if (request_key(req, pool, &key, &err) == -1) {
		reply_error(r, "bad_request", "%s", err);
		return;
	}
	if ((err = jobspec_build(pool->pc->type, req, &data)) != NULL) {
		reply_error(r, "bad_request", "%s", err);
		buf_free(&data);
		free(key);
		return;
	}
	job = dispatch_submit(pool, buf_head(&data), buf_used(&data), key,
	    &err);
	buf_free(&data);
	free(key);
	if (job == NULL) {
		reply_error(r, err, "%s", strcmp(err, "queue_full") == 0 ?
		    "the pool's queue is full (max_queue)" :
		    "mpsup is shutting down");
		return;
	}
	dispatch_run(pool);
	submit_reply(r, &job, 1, 0, request_wants_wait(req), timeout);
}

static void
op_submit_many(struct reply *r, const struct jsontext_span *req)
{
	struct pool		 *pool;
	struct jsontext_span	  jobs, e;
	struct job		**made;
	struct buf		  data = BUF_INIT;
	const char		 *err;
	char			**keys = NULL, *key;
	size_t			  st, n = 0, i, nends = 0, *ends = NULL;
	double			  timeout;

	if ((pool = request_pool(r, req)) == NULL)
		return;
	if ((timeout = request_timeout(r, req)) == -2)
		return;
	if (!jsontext_object_get(req, "jobs", &jobs) || jobs.type != JSONTEXT_ARRAY) {
		reply_error(r, "bad_request", "\"jobs\" (a list) is missing");
		return;
	}
	/*
	 * All or nothing: check every job before accepting any. The data of
	 * each is kept in one buffer (offsets in ends[]) for the second step.
	 */
	st = 0;
	while (jsontext_array_next(&jobs, &st, &e)) {
		if (e.type != JSONTEXT_OBJECT) {
			reply_error(r, "bad_request", "jobs[%zu]: not an "
			    "object", n);
			goto out;
		}
		if (request_key(&e, pool, &key, &err) == -1 ||
		    (err = jobspec_build(pool->pc->type, &e, &data)) != NULL) {
			reply_error(r, "bad_request", "jobs[%zu]: %s", n, err);
			free(key);
			goto out;
		}
		if (n == REQUEST_MAX_BATCH) {
			reply_error(r, "too_large", "at most %d jobs per "
			    "submit_many", REQUEST_MAX_BATCH);
			free(key);
			goto out;
		}
		if (n == nends) {
			nends = nends ? nends * 2 : 256;
			ends = xreallocarray(ends, nends, sizeof *ends);
			keys = xreallocarray(keys, nends, sizeof *keys);
		}
		keys[n] = key;
		ends[n++] = buf_used(&data);
	}
	if (supervisor->stopping) {
		pool->q.rejected += n;
		reply_error(r, "shutting_down", "mpsup is shutting down");
		goto out;
	}
	if ((long)(pool->q.jobs.state[JOB_QUEUED] + pool->q.pending_len + n) >
	    pool->pc->max_queue) {
		pool->q.rejected += n;
		reply_error(r, "queue_full", "the pool's queue has room for "
		    "%ld more jobs, not %zu (max_queue)", pool->pc->max_queue -
		    (long)(pool->q.jobs.state[JOB_QUEUED] + pool->q.pending_len), n);
		goto out;
	}
	made = xcalloc(n ? n : 1, sizeof *made);
	for (i = 0; i < n; i++) {
		size_t from = i ? ends[i - 1] : 0;

		made[i] = dispatch_submit(pool, buf_head(&data) + from,
		    ends[i] - from, keys[i], &err);
	}
	dispatch_run(pool);
	submit_reply(r, made, n, 1, request_wants_wait(req), timeout);
	free(made);
out:
	buf_free(&data);
	for (i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(ends);
}

static struct job *
request_job(struct reply *r, const struct jsontext_span *req)
{
	struct jsontext_span	 v;
	struct job		*job;
	char			*id;

	if (!jsontext_object_get(req, "id", &v) || v.type != JSONTEXT_STRING) {
		reply_error(r, "bad_request", "\"id\" (a string) is missing");
		return NULL;
	}
	job = job_table_find(v.p + 1, v.len - 2);
	if (job == NULL) {
		id = jsontext_string_decode(&v, NULL);
		reply_error(r, "not_found", "no job '%s' (unknown, or its "
		    "record expired)", id ? id : "?");
		free(id);
	}
	return job;
}

static void
op_result(struct reply *r, const struct jsontext_span *req)
{
	struct job	*job;
	struct buf	*b;
	double		 timeout;

	if ((timeout = request_timeout(r, req)) == -2)
		return;
	if ((job = request_job(r, req)) == NULL)
		return;
	if (request_wants_wait(req) && !job_state_terminal(job->state)) {
		wait_start(r, &job, 1, 0, 0, timeout);
		return;
	}
	b = reply_body(r);
	buf_append_str(b, "{\"ok\":true,\"job\":");
	job_record_append(job, b);
	buf_append(b, "}", 1);
	reply_done(r);
}

static void
op_cancel(struct reply *r, const struct jsontext_span *req)
{
	struct job	*job;
	const char	*err;

	if ((job = request_job(r, req)) == NULL)
		return;
	if (dispatch_cancel(job, &err) == -1) {
		reply_error(r, "bad_request", "job %s: %s (%s)", job->id, err,
		    job_state_name(job->state));
		return;
	}
	buf_appendf(reply_body(r), "{\"ok\":true,\"id\":\"%s\",\"state\":"
	    "\"%s\"}", job->id, job_state_name(job->state));
	reply_done(r);
}

static void
op_status(struct reply *r, const struct jsontext_span *req)
{
	struct jsontext_span	 v;
	struct buf		*b = reply_body(r);
	char			*filter = NULL;

	if (jsontext_object_get(req, "pool", &v) && v.type == JSONTEXT_STRING)
		filter = jsontext_string_decode(&v, NULL);
	buf_append_str(b, "{\"ok\":true,\"status\":");
	status_append(supervisor, b, filter);
	buf_append(b, "}", 1);
	free(filter);
	reply_done(r);
}

static void
op_pause(struct reply *r, const struct jsontext_span *req, int pause)
{
	struct pool	*pool;

	if ((pool = request_pool(r, req)) == NULL)
		return;
	pool->paused = pause;
	log_info("pool %s: %s", pool->name, pause ? "paused" : "resumed");
	if (!pause)
		dispatch_run(pool);
	buf_append_str(reply_body(r), "{\"ok\":true}");
	reply_done(r);
}

static void
op_scale(struct reply *r, const struct jsontext_span *req)
{
	struct jsontext_span	 v;
	struct pool		*pool;
	const char		*err;
	int64_t			 n;

	if ((pool = request_pool(r, req)) == NULL)
		return;
	if (!jsontext_object_get(req, "workers", &v) ||
	    v.type != JSONTEXT_NUMBER ||
	    jsontext_integer(&v, 0, 1 << 20, &n) == -1) {
		reply_error(r, "bad_request", "\"workers\" (a whole number) "
		    "is missing");
		return;
	}
	if (pool_scale(pool, (int)n, &err) == -1) {
		reply_error(r, "bad_request", "pool %s: %s", pool->name, err);
		return;
	}
	buf_appendf(reply_body(r), "{\"ok\":true,\"workers\":%d}", (int)n);
	reply_done(r);
}

static void
op_reload(struct reply *r)
{
	char	*msg = NULL;

	log_info("reload requested by client %s", conn_peer(reply_conn(r)));
	if (supervisor_reload(supervisor, &msg) == -1) {
		reply_error(r, "bad_request", "%s", msg);
		free(msg);
		return;
	}
	buf_append_str(reply_body(r), "{\"ok\":true,\"message\":");
	jsontext_string_append(reply_body(r), msg, strlen(msg));
	buf_append(reply_body(r), "}", 1);
	free(msg);
	reply_done(r);
}

static void
op_stop(struct reply *r)
{
	log_info("stop requested by client %s", conn_peer(reply_conn(r)));
	buf_append_str(reply_body(r), "{\"ok\":true}");
	reply_done(r);
	supervisor_stop(supervisor);
}

static void	request_dispatch(struct conn *, struct reply *, const char *,
		    size_t);

void
request_handle(struct conn *c, const void *msg, size_t len)
{
	const char		*p = msg;
	struct reply		*r;

	struct buf		 decoded = BUF_INIT;
	char			 err[256];

	if (len > 0 && (unsigned char)p[0] == 0x80) {
		/* send(dict): plain data only, decoded to JSON text. */
		r = conn_reply_new(c, REPLY_PICKLE);
		if (pickle_to_json(msg, len, supervisor->cfg->max_message,
		    &decoded, err, sizeof err) == -1) {
			reply_error(r, "bad_request", "pickle refused: %s", err);
			return;
		}
		request_dispatch(c, r, buf_head(&decoded), buf_used(&decoded));
		buf_free(&decoded);
		return;
	}
	r = conn_reply_new(c, REPLY_JSON);
	request_dispatch(c, r, p, len);
}

/* Act on one request, given as JSON text. */
static void
request_dispatch(struct conn *c, struct reply *r, const char *p, size_t len)
{
	struct jsontext_span	 req, op;

	if (jsontext_scan(p, p + len, &req) == NULL || !jsontext_valid(p, len) ||
	    req.type != JSONTEXT_OBJECT) {
		reply_error(r, "bad_request", "a request is a dict (pickle) or "
		    "a JSON object, such as {\"op\": \"status\"}");
		return;
	}
	if (!jsontext_object_get(&req, "op", &op) || op.type != JSONTEXT_STRING) {
		reply_error(r, "bad_request", "\"op\" (a string) is missing");
		return;
	}
	if (jsontext_string_eq(&op, "submit"))
		op_submit(r, &req);
	else if (jsontext_string_eq(&op, "submit_many"))
		op_submit_many(r, &req);
	else if (jsontext_string_eq(&op, "result"))
		op_result(r, &req);
	else if (jsontext_string_eq(&op, "cancel"))
		op_cancel(r, &req);
	else if (jsontext_string_eq(&op, "status"))
		op_status(r, &req);
	else if (jsontext_string_eq(&op, "stop") || jsontext_string_eq(&op, "pause") ||
	    jsontext_string_eq(&op, "resume") || jsontext_string_eq(&op, "reload") ||
	    jsontext_string_eq(&op, "scale")) {
		if (supervisor->cfg->admin_authkey_file != NULL &&
		    conn_role(c) != AUTH_ROLE_ADMIN)
			reply_error(r, "forbidden", "this operation needs the "
			    "admin key");
		else if (jsontext_string_eq(&op, "stop"))
			op_stop(r);
		else if (jsontext_string_eq(&op, "pause"))
			op_pause(r, &req, 1);
		else if (jsontext_string_eq(&op, "resume"))
			op_pause(r, &req, 0);
		else if (jsontext_string_eq(&op, "scale"))
			op_scale(r, &req);
		else if (jsontext_string_eq(&op, "reload"))
			op_reload(r);
		else
			reply_error(r, "unknown_op", "this mpsup does not "
			    "implement that operation yet");
	} else {
		char *name = jsontext_string_decode(&op, NULL);
		reply_error(r, "unknown_op", "unknown op '%s'",
		    name ? name : "?");
		free(name);
	}
}

/* Re-encode a JSON reply as a pickle for a client that pickled its request. */
void
request_pickle_reply(struct buf *body)
{
	struct buf	 out = BUF_INIT;
	char		 err[256];

	if (pickle_from_json(buf_head(body), buf_used(body), &out, err,
	    sizeof err) == -1) {
		/* Our own replies are valid JSON: this is a bug. */
		log_warnx("BUG: cannot pickle a reply: %s", err);
		buf_free(&out);
		return;
	}
	buf_free(body);
	*body = out;
}
