/*
 * Retrying dead letters (see dead.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dead.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"

struct job *
dead_retry(struct queue *q, struct job *dead, const char **err)
{
	struct pool	*pool = job_pool(dead);
	struct job	*job;

	if (pool->removed) {
		*err = "unknown_pool";
		return NULL;
	}
	/* Still its client's, with its priority and group. */
	job = dispatch_submit(pool, job_data(dead), dead->data_len,
	    dead->client, NULL, &(struct job_flow_spec){ dead->flow.priority, 0,
	    job_group(dead) }, err);
	if (job == NULL)
		return NULL;
	job_set_retry_of(job, dead->id);
	queue_dead_release(q, dead);
	log_info("pool %s: dead letter %s retried as job %s", pool->name,
	    dead->id, job->id);
	return job;
}

static int
dead_id_cmp(const void *a, const void *b)
{
	return strcmp((*(struct job *const *)a)->id,
	    (*(struct job *const *)b)->id);
}

struct job *
dead_sort(struct job **jobs, size_t n)
{
	size_t	i;

	/* Nothing named (retry --all of a pool without dead letters): jobs
	 * may be NULL, which qsort() must not be given, even for 0. */
	if (n < 2)
		return NULL;
	qsort(jobs, n, sizeof *jobs, dead_id_cmp);
	for (i = 1; i < n; i++)
		if (jobs[i] == jobs[i - 1])
			return jobs[i];
	return NULL;
}
