/*
 * Dead letters for the HTTP endpoint (see deadview.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dead.h"
#include "supervisor/dispatch.h"
#include "supervisor/monitor/deadview.h"
#include "supervisor/monitor/jobview.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

/* Oldest first: by when they ended, then in the order they came. */
static int
deadview_cmp(const void *a, const void *b)
{
	const struct job	*x = *(const struct job *const *)a;
	const struct job	*y = *(const struct job *const *)b;

	if (job_finished_at(x) != job_finished_at(y))
		return job_finished_at(x) < job_finished_at(y) ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* The dead letters of pool p (NULL: all), in *out; how many. */
static size_t
deadview_collect(struct supervisor *sv, const struct pool *p,
    struct job ***out)
{
	struct job	**list = NULL, *job;
	size_t		  i, n = 0, cap = 0;

	for (i = 0; i < sv->npools; i++) {
		if (p != NULL && sv->pools[i] != p)
			continue;
		job = NULL;
		while ((job = queue_dead_next(&sv->pools[i]->q, job)) != NULL) {
			if (n == cap)
				list = xreallocarray(list, cap = cap ? cap * 2 :
				    64, sizeof *list);
			list[n++] = job;
		}
	}
	if (n > 1)
		qsort(list, n, sizeof *list, deadview_cmp);
	*out = list;
	return n;
}

unsigned int
deadview_list(struct supervisor *sv, const char *pool, const char *limit,
    struct buf *out)
{
	struct pool	 *p = NULL;
	struct job	**jobs;
	struct buf	  rec = BUF_INIT;
	const char	 *err;
	long		  max = DEADVIEW_DEFAULT;
	size_t		  i, n;

	if (limit != NULL && parse_long(limit, 1, DEADVIEW_MAX, &max,
	    &err) == -1) {
		buf_appendf(out, "limit: %s\n", err);
		return 400;
	}
	if (pool != NULL) {
		for (i = 0; i < sv->npools; i++)
			if (strcmp(sv->pools[i]->name, pool) == 0)
				p = sv->pools[i];
		if (p == NULL) {
			buf_append_str(out, "unknown pool\n");
			return 404;
		}
	}
	n = deadview_collect(sv, p, &jobs);
	buf_appendf(out, "{\"count\":%zu,\"jobs\":[", n);
	for (i = 0; i < n && i < (size_t)max; i++) {
		if (i > 0)
			buf_append(out, ",", 1);
		rec.len = 0;
		job_record_append(jobs[i], &rec);
		jobview_record_cut(rec.data, rec.len, DEADVIEW_OUTPUT_MAX, out);
		out->len--;	/* its newline */
	}
	buf_append_str(out, "]}\n");
	buf_free(&rec);
	free(jobs);
	return 200;
}

unsigned int
deadview_retry(struct supervisor *sv, const char *id, struct buf *out)
{
	struct job	*dead, *job;
	const char	*err;

	if (id == NULL || *id == '\0') {
		buf_append_str(out, "id: the dead letter's id is needed "
		    "(/retry?id=ID)\n");
		return 400;
	}
	if (strlen(id) != JOB_ID_LEN ||
	    strspn(id, "0123456789abcdef") != JOB_ID_LEN) {
		buf_append_str(out, "id: not a job id (16 hex digits)\n");
		return 400;
	}
	if ((dead = job_table_find(id, JOB_ID_LEN)) == NULL || !dead->dead) {
		buf_appendf(out, "not_found: job %s is not a dead letter "
		    "(unknown, retried already, or its record expired)\n", id);
		return 404;
	}
	if ((job = dead_retry(sv->queue, dead, &err)) == NULL) {
		buf_appendf(out, "%s: job %s was not retried\n", err, id);
		return strcmp(err, "unknown_pool") == 0 ? 404 : 503;
	}
	dispatch_run(job_pool(job));
	buf_appendf(out, "{\"ok\":true,\"id\":\"%s\"}\n", job->id);
	return 200;
}
