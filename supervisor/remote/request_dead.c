/*
 * The dead letters' ops (see request.h): dead lists a pool's jobs that
 * failed for good, retry queues them again as new jobs linked to the old
 * ones. A client sees and retries only what request_may_see_job() lets
 * it: a submit client its own jobs, to which another client's dead letter
 * does not exist.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dead.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "supervisor/remote/listener.h"
#include "supervisor/remote/request_decode.h"
#include "supervisor/remote/request_impl.h"
#include "supervisor/supervisor.h"

/* Whether the asking client may see job (request_may_see_job()). */
static int
exec_may_touch(struct exec *x, const struct job *job)
{
	return request_may_see_job(reply_conn(x->reply), job);
}

/* dead: the dead letters of one pool, or of all, that it may see. */
void
exec_dead(struct exec *x)
{
	struct buf	*b = reply_body(x->reply);
	struct job	*job = NULL;
	size_t		 i;
	int		 first = 1;

	buf_append_str(b, "{\"ok\":true,\"jobs\":[");
	for (i = 0; i < x->sv->npools; i++) {
		if (x->pool != NULL && x->sv->pools[i] != x->pool)
			continue;
		while ((job = queue_dead_next(&x->sv->pools[i]->q, job)) !=
		    NULL) {
			if (!exec_may_touch(x, job))
				continue;
			buf_append_str(b, first ? "" : ",");
			job_record_append(job, b);
			first = 0;
		}
	}
	buf_append_str(b, "]}");
	reply_done(x->reply);
}

/* The dead letters retry names, checked (-1 once answered). */
static int
exec_retry_targets(struct exec *x, struct job ***out, size_t *n)
{
	struct jsontext_span	 e;
	struct job		*job = NULL, **list = NULL;
	size_t			 st = 0, cap = 0;

	*n = 0;
	while (x->req->all ? (job = queue_dead_next(&x->pool->q, job)) != NULL :
	    jsontext_array_next(&x->req->ids, &st, &e)) {
		if (!x->req->all && ((job = job_table_find(e.p + 1,
		    e.len - 2)) == NULL || !job->dead ||
		    !exec_may_touch(x, job))) {
			request_reply_error(x->reply, "not_found", "job %.*s is not a "
			    "dead letter (unknown, retried already, or its "
			    "record expired)", (int)e.len - 2, e.p + 1);
			free(list);
			return -1;
		}
		/* retry -p POOL --all: the client's own among them. */
		if (!exec_may_touch(x, job))
			continue;
		if (*n == cap)
			list = xreallocarray(list, cap = cap ? cap * 2 : 16,
			    sizeof *list);
		list[(*n)++] = job;
	}
	*out = list;
	return 0;
}

/* retry: each dead letter named goes back to its queue as a new job. */
void
exec_retry(struct exec *x)
{
	struct job	**dead, **made, *twice;
	const char	 *err;
	size_t		  n, i;

	if (exec_retry_targets(x, &dead, &n) == -1)
		return;
	if ((twice = dead_sort(dead, n)) != NULL) {
		request_reply_error(x->reply, "bad_request", "job %s is named twice",
		    twice->id);
		free(dead);
		return;
	}
	made = xcalloc(n + 1, sizeof *made);
	for (i = 0; i < n; i++) {
		if ((made[i] = dead_retry(x->sv->queue, dead[i], &err)) ==
		    NULL) {
			request_reply_error(x->reply, err, "job %s: not retried (%s); "
			    "%zu before it were", dead[i]->id, err, i);
			break;
		}
		dispatch_run(job_pool(made[i]));
	}
	if (i == n)
		request_submit_reply(x, made, n, 1);
	free(made);
	free(dead);
}
