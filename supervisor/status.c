/*
 * The status document (see status.h). Field names follow SPEC section 9
 * exactly; fields may be added, never renamed.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "common/timeutil.h"
#include "ipc/jsontext.h"
#include "supervisor/job.h"
#include "supervisor/listener.h"
#include "supervisor/pool.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

/* Upper bound (ms) of the bucket holding the p-th fraction of samples. */
static double
status_percentile(const struct pool_stats *st, double p)
{
	uint64_t	total = 0, seen = 0;
	int		i;

	for (i = 0; i < 40; i++)
		total += st->run_hist[i];
	if (total == 0)
		return 0;
	for (i = 0; i < 40; i++) {
		seen += st->run_hist[i];
		if ((double)seen >= p * (double)total) {
			double ms = (double)(2ULL << i) / 1000.0;
			return ms < st->run_max * 1000.0 ? ms :
			    st->run_max * 1000.0;
		}
	}
	return st->run_max * 1000.0;
}

static void
status_pool(struct supervisor *sv, struct pool *pool, struct buf *b)
{
	struct pool_stats	*st = &pool->stats;
	struct worker		*w;
	char			 ts[TIME_ISO_BUF];
	int			 i, busy = 0, idle = 0, first = 1;

	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i];
		if (w->state == WORKER_BUSY)
			busy++;
		else if (w->state == WORKER_READY)
			idle++;
	}
	buf_append_str(b, "{\"name\":");
	jsontext_string_append(b, pool->name, strlen(pool->name));
	buf_appendf(b, ",\"type\":\"%s\",\"state\":\"%s\",\"paused\":%s,"
	    "\"workers_target\":%d,\"workers_busy\":%d,\"workers_idle\":%d,"
	    "\"queue_depth\":%llu,\"queue_max\":%ld,",
	    pool->pc->type == POOL_TYPE_EXEC ? "exec" : "stream",
	    pool->removed ? "removed" : pool_state_name(pool->state),
	    pool->paused ? "true" : "false",
	    pool->pc->workers, busy, idle,
	    (unsigned long long)st->state[JOB_QUEUED], pool->pc->max_queue);
	buf_appendf(b, "\"jobs\":{\"submitted\":%llu,\"queued\":%llu,"
	    "\"running\":%llu,\"done\":%llu,\"failed\":%llu,"
	    "\"timed_out\":%llu,\"cancelled\":%llu,\"retried\":%llu,"
	    "\"rejected\":%llu},",
	    (unsigned long long)st->submitted,
	    (unsigned long long)st->state[JOB_QUEUED],
	    (unsigned long long)st->state[JOB_RUNNING],
	    (unsigned long long)st->state[JOB_DONE],
	    (unsigned long long)st->state[JOB_FAILED],
	    (unsigned long long)st->state[JOB_TIMED_OUT],
	    (unsigned long long)st->state[JOB_CANCELLED],
	    (unsigned long long)st->retried,
	    (unsigned long long)st->rejected);
	buf_appendf(b, "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
	    "\"p99\":%.3f,\"max\":%.3f},\"restarts\":%ld,\"workers\":[",
	    status_percentile(st, 0.50), status_percentile(st, 0.90),
	    status_percentile(st, 0.99), st->run_max * 1000.0,
	    pool->restarts);
	for (i = 0; i < pool->nslots; i++) {
		w = pool->slots[i];
		if (i >= pool->pc->workers && w->state == WORKER_DEAD)
			continue;
		if (!first)
			buf_append(b, ",", 1);
		first = 0;
		buf_appendf(b, "{\"index\":%d,\"pid\":", w->index);
		if (worker_alive(w))
			buf_appendf(b, "%ld", (long)w->pid);
		else
			buf_append_str(b, "null");
		buf_appendf(b, ",\"state\":\"%s\",\"jobs_done\":%ld,\"job\":",
		    worker_state_name(w->state), w->jobs_done);
		if (w->ninflight > 0)
			buf_appendf(b, "\"%s\"", TAILQ_FIRST(&w->inflight)->id);
		else
			buf_append_str(b, "null");
		if (worker_alive(w)) {
			time_iso8601(w->started_at, ts);
			buf_appendf(b, ",\"started_at\":\"%s\"", ts);
		} else
			buf_append_str(b, ",\"started_at\":null");
		buf_appendf(b, ",\"restarts\":%ld,\"in_flight\":%d}",
		    w->restarts, w->ninflight);
	}
	buf_append_str(b, "]}");
}

void
status_append(struct supervisor *sv, struct buf *b, const char *filter)
{
	char	ts[TIME_ISO_BUF];
	size_t	i;
	int	first = 1;

	time_iso8601(sv->started_at, ts);
	buf_appendf(b, "{\"mpsup\":{\"version\":\"%s\",\"pid\":%ld,"
	    "\"started_at\":\"%s\",\"uptime_s\":%.3f,\"config\":",
	    PACKAGE_VERSION, (long)getpid(), ts,
	    ev_now(sv->loop) - sv->started_at);
	jsontext_string_append(b, sv->cfg->path, strlen(sv->cfg->path));
	buf_append_str(b, ",\"store\":");
	jsontext_string_append(b, sv->cfg->store, strlen(sv->cfg->store));
	buf_appendf(b, ",\"stopping\":%s},\"pools\":[",
	    sv->stopping ? "true" : "false");
	for (i = 0; i < sv->npools; i++) {
		if (filter != NULL && strcmp(filter, sv->pools[i]->name) != 0)
			continue;
		if (!first)
			buf_append(b, ",", 1);
		first = 0;
		status_pool(sv, sv->pools[i], b);
	}
	buf_appendf(b, "],\"connections\":%d}", sv->listener != NULL ?
	    listener_connections(sv->listener) : 0);
}
