/*
 * The job engine's face of the queue (see dispatch.h): lookups, acks,
 * commits, the store's figures and recovery, passed to the queue the
 * engine was given (dispatch_queue()).
 */
#include "config.h"

#include "store/job.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"

int
dispatch_job_pending(const struct job *job)
{
	return queue_job_pending(dispatch_queue(), job);
}

struct job *
dispatch_job_find(const char *id, size_t len)
{
	return queue_lookup(dispatch_queue(), id, len);
}

struct dispatch_ack *
dispatch_ack_new(void (*cb)(void *, const char *), void *arg)
{
	return (struct dispatch_ack *)queue_ack_new(dispatch_queue(), cb, arg);
}

void
dispatch_ack_cancel(struct dispatch_ack *a)
{
	queue_ack_cancel(dispatch_queue(), (struct queue_ack *)a);
}

void
dispatch_commit(int all)
{
	queue_commit(dispatch_queue(), all);
}

void
dispatch_commit_if_late(void)
{
	queue_commit_if_late(dispatch_queue());
}

void
dispatch_store_stats(struct dispatch_store_stats *st)
{
	struct queue_stats	qs;

	queue_stats(dispatch_queue(), &qs);
	st->durable = qs.durable;
	st->failing = qs.failing;
	st->commits = qs.commits;
	st->commit_errors = qs.commit_errors;
	st->segments = qs.segments;
}

static unsigned
dispatch_max_attempts(struct queue_pool *qp)
{
	return (unsigned)pool_of_queue(qp)->pc->max_attempts;
}

int
dispatch_recover(char **cause)
{
	return queue_recover(dispatch_queue(), dispatch_max_attempts, cause);
}
