/*
 * The operator ops (see request_impl.h): jobs lists recent jobs through
 * supervisor/joblist.h; logs answers with the log's recent records
 * (supervisor/logring.h) and, with "follow", keeps the reply open as a
 * stream that carries each new batch of records once per loop iteration;
 * restart, signal, down and up act on one pool's workers.
 *
 * Followers never slow the supervisor down: a batch is appended to the
 * follower's connection and nothing waits for it to be read; the
 * listener drops a connection that leaves too much unread.
 */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "supervisor/dispatch.h"
#include "supervisor/joblist.h"
#include "supervisor/logring.h"
#include "supervisor/output.h"
#include "supervisor/pool.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/request_impl.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"

/* A jobs reply stops adding records past this size ("more": true). */
#define REQUEST_JOBS_REPLY_MAX	(8u << 20)

/* A connection following the log. */
struct follower {
	LIST_ENTRY(follower)	 entry;
	struct reply		*reply;
	char			*pool;		/* or NULL: every record */
	char			*job;		/* or NULL */
	uint64_t		 next;		/* the next record it wants */
};

static struct {
	LIST_HEAD(, follower)	 list;
	struct ev_loop		*loop;
	ev_idle			 wake;		/* records came: flush soon */
} follow;

static int
exec_jobs_visible_cb(const struct job *job, void *arg)
{
	return request_may_see_job(arg, job);
}

void
exec_jobs(struct exec *x)
{
	const struct request	 *req = x->req;
	struct joblist_filter	  f;
	const struct job	**jobs;
	struct buf		 *b = reply_body(x->reply);
	size_t			  n, i;

	memset(&f, 0, sizeof f);
	f.pool = x->pool != NULL ? x->pool->name : NULL;
	f.states = req->states;
	f.since = req->since >= 0 ? ev_now(x->sv->loop) - req->since : 0;
	f.limit = req->limit;
	f.visible = exec_jobs_visible_cb;
	f.arg = reply_conn(x->reply);
	n = joblist_query(&f, &jobs);
	buf_append_str(b, "{\"ok\":true,\"jobs\":[");
	for (i = 0; i < n && buf_used(b) < REQUEST_JOBS_REPLY_MAX; i++) {
		if (i > 0)
			buf_append(b, ",", 1);
		job_record_append(jobs[i], b);
	}
	buf_appendf(b, "],\"more\":%s}", i < n ? "true" : "false");
	free(jobs);
	reply_done(x->reply);
}

/* Whether the client of c, filtered by pool and job, gets record r. */
static int
logs_match(const struct conn *c, const char *pool, const char *job,
    const struct logring_record *r)
{
	if (pool != NULL && (r->pool == NULL || strcmp(r->pool, pool) != 0))
		return 0;
	if (job != NULL && (r->job == NULL || strcmp(r->job, job) != 0))
		return 0;
	return request_may_see_job(c, r->job == NULL ? NULL :
	    job_table_find(r->job, strlen(r->job)));
}

/*
 * Append to b the records from..to (exclusive) that match, as the members
 * of a JSON list; returns how many.
 */
static size_t
logs_append(struct buf *b, const struct conn *c, const char *pool,
    const char *job, uint64_t from, uint64_t to)
{
	struct logring_record	r;
	size_t			n = 0;

	for (; from < to; from++) {
		if (logring_get(from, &r) == -1 || !logs_match(c, pool, job, &r))
			continue;
		if (n++ > 0)
			buf_append(b, ",", 1);
		output_record_json(b, &r);
	}
	return n;
}

/* The first of the last `limit` records that match (seq). */
static uint64_t
logs_tail_start(const struct conn *c, const char *pool, const char *job,
    size_t limit)
{
	struct logring_record	r;
	uint64_t		seq = logring_next(), first = logring_first();

	while (limit > 0 && seq > first) {
		if (logring_get(seq - 1, &r) == 0 &&
		    logs_match(c, pool, job, &r))
			limit--;
		seq--;
	}
	return seq;
}

static void
follow_wake_cb(struct ev_loop *loop, ev_idle *w, int revents)
{
	ev_idle_stop(loop, w);
}

/* A record was logged: have the loop go round once more to send it. */
static void
follow_notify_cb(void *arg)
{
	if (!ev_is_active(&follow.wake))
		ev_idle_start(follow.loop, &follow.wake);
}

static void
follower_free(struct follower *f)
{
	LIST_REMOVE(f, entry);
	free(f->pool);
	free(f->job);
	free(f);
	if (LIST_EMPTY(&follow.list)) {
		logring_set_notify(NULL, NULL);
		ev_idle_stop(follow.loop, &follow.wake);
	}
}

/* The follower's connection closed (or was dropped for not reading). */
static void
follower_abort_cb(struct reply *r, void *arg)
{
	follower_free(arg);
}

/* Send f what was logged since its last batch. */
static void
follower_send(struct follower *f)
{
	struct buf	 b = BUF_INIT;
	uint64_t	 next = logring_next(), first = logring_first();
	uint64_t	 missed = 0;
	size_t		 n;

	if (f->next >= next)
		return;
	if (f->next < first) {
		missed = first - f->next;
		f->next = first;
	}
	buf_append_str(&b, "{\"ok\":true,\"records\":[");
	n = logs_append(&b, reply_conn(f->reply), f->pool, f->job, f->next,
	    next);
	buf_appendf(&b, "],\"missed\":%llu}", (unsigned long long)missed);
	f->next = next;
	if (n > 0 || missed > 0)
		reply_stream(f->reply, buf_head(&b), buf_used(&b));
	buf_free(&b);
}

void
request_follow_flush(void)
{
	struct follower	*f;

	LIST_FOREACH(f, &follow.list, entry)
		follower_send(f);
}

void
request_follow_shutdown(void)
{
	while (!LIST_EMPTY(&follow.list))
		follower_free(LIST_FIRST(&follow.list));
}

/* Follow the log from record next on: the reply stays open. */
static void
follow_start(struct exec *x, uint64_t next)
{
	struct follower	*f = xcalloc(1, sizeof *f);

	if (LIST_EMPTY(&follow.list)) {
		follow.loop = x->sv->loop;
		ev_idle_init(&follow.wake, follow_wake_cb);
		logring_set_notify(follow_notify_cb, NULL);
	}
	f->reply = x->reply;
	f->pool = x->req->pool != NULL ? xstrdup(x->req->pool) : NULL;
	f->job = x->req->job != NULL ? xstrdup(x->req->job) : NULL;
	f->next = next;
	LIST_INSERT_HEAD(&follow.list, f, entry);
	reply_set_abort(x->reply, follower_abort_cb, f);
}

void
exec_logs(struct exec *x)
{
	const struct request	*req = x->req;
	const struct conn	*c = reply_conn(x->reply);
	struct buf		 b = BUF_INIT;
	uint64_t		 next = logring_next(), from;

	from = logs_tail_start(c, req->pool, req->job, req->limit);
	buf_append_str(&b, "{\"ok\":true,\"records\":[");
	logs_append(&b, c, req->pool, req->job, from, next);
	buf_appendf(&b, "],\"follow\":%s}", req->follow ? "true" : "false");
	if (!req->follow) {
		buf_append(reply_body(x->reply), buf_head(&b), buf_used(&b));
		reply_done(x->reply);
	} else {
		/* The first message of the stream; the reply stays open. */
		reply_stream(x->reply, buf_head(&b), buf_used(&b));
		follow_start(x, next);
	}
	buf_free(&b);
}

/* Answer {"ok":true,"message":...}. */
static void
exec_reply_message(struct exec *x, const char *msg)
{
	struct buf	*b = reply_body(x->reply);

	buf_append_str(b, "{\"ok\":true,\"message\":");
	jsontext_string_append(b, msg, strlen(msg));
	buf_append(b, "}", 1);
	reply_done(x->reply);
}

void
exec_restart(struct exec *x)
{
	const char	*err;
	char		*msg;

	log_info("restart of pool %s requested by client %s", x->pool->name,
	    conn_peer(reply_conn(x->reply)));
	if (pool_restart(x->pool, &err) == -1) {
		request_reply_error(x->reply, "bad_request", "pool %s: %s",
		    x->pool->name, err);
		return;
	}
	xasprintf(&msg, "pool %s: replacing its workers one at a time",
	    x->pool->name);
	exec_reply_message(x, msg);
	free(msg);
}

void
exec_signal(struct exec *x)
{
	char	*msg;
	int	 n;

	log_info("signal %d (SIG%s) to pool %s requested by client %s",
	    x->req->signum, signal_name(x->req->signum), x->pool->name,
	    conn_peer(reply_conn(x->reply)));
	n = pool_signal(x->pool, x->req->signum);
	xasprintf(&msg, "pool %s: signalled %d worker%s", x->pool->name, n,
	    n == 1 ? "" : "s");
	exec_reply_message(x, msg);
	free(msg);
}

/* down and up. */
static void
exec_set_down(struct exec *x, int down)
{
	const char	*err;
	char		*msg;
	int		 rv;

	log_info("%s of pool %s requested by client %s", down ? "down" : "up",
	    x->pool->name, conn_peer(reply_conn(x->reply)));
	if ((rv = pool_set_down(x->pool, down, &err)) == -1) {
		request_reply_error(x->reply, "bad_request", "pool %s: %s",
		    x->pool->name, err);
		return;
	}
	xasprintf(&msg, "pool %s: %s%s", x->pool->name, rv == 1 ?
	    "already " : "", down ? "down (its queue keeps accepting jobs)" :
	    "up");
	exec_reply_message(x, msg);
	free(msg);
}

void
exec_down(struct exec *x)
{
	exec_set_down(x, 1);
}

void
exec_up(struct exec *x)
{
	exec_set_down(x, 0);
}

/* The pool and supervisor ops: status, pause, resume, scale, reload, stop. */

void
exec_status(struct exec *x)
{
	struct buf	*b = reply_body(x->reply);
	size_t		 i;

	for (i = 0; x->req->pool != NULL && i < x->sv->npools; i++)
		if (strcmp(x->sv->pools[i]->name, x->req->pool) == 0)
			break;
	if (x->req->has_pool && (x->req->pool == NULL || i == x->sv->npools)) {
		request_reply_error(x->reply, "unknown_pool", "no pool named "
		    "'%s'", x->req->pool != NULL ? x->req->pool : "?");
		return;
	}
	buf_append_str(b, "{\"ok\":true,\"status\":");
	status_append(x->sv, b, x->req->pool);
	buf_append(b, "}", 1);
	reply_done(x->reply);
}

/* pause and resume. */
static void
exec_set_paused(struct exec *x, int pause)
{
	pool_set_paused(x->pool, pause);
	if (!pause)
		dispatch_run(x->pool);
	buf_append_str(reply_body(x->reply), "{\"ok\":true}");
	reply_done(x->reply);
}

void
exec_pause(struct exec *x)
{
	exec_set_paused(x, 1);
}

void
exec_resume(struct exec *x)
{
	exec_set_paused(x, 0);
}

void
exec_scale(struct exec *x)
{
	const char	*err;

	if (pool_scale(x->pool, x->req->workers, &err) == -1) {
		request_reply_error(x->reply, "bad_request", "pool %s: %s",
		    x->pool->name, err);
		return;
	}
	buf_appendf(reply_body(x->reply), "{\"ok\":true,\"workers\":%d}",
	    x->req->workers);
	reply_done(x->reply);
}

void
exec_reload(struct exec *x)
{
	struct buf	*b = reply_body(x->reply);
	char		*msg = NULL;

	log_info("reload requested by client %s",
	    conn_peer(reply_conn(x->reply)));
	if (supervisor_reload(x->sv, &msg) == -1) {
		request_reply_error(x->reply, "bad_request", "%s", msg);
		free(msg);
		return;
	}
	buf_append_str(b, "{\"ok\":true,\"message\":");
	jsontext_string_append(b, msg, strlen(msg));
	buf_append(b, "}", 1);
	free(msg);
	reply_done(x->reply);
}

void
exec_stop(struct exec *x)
{
	log_info("stop requested by client %s",
	    conn_peer(reply_conn(x->reply)));
	buf_append_str(reply_body(x->reply), "{\"ok\":true}");
	reply_done(x->reply);
	supervisor_stop(x->sv);
}
