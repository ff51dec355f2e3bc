/*
 * The status document (see status.h). Field names follow SPEC section 9
 * exactly; fields may be added, never renamed.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "common/history.h"
#include "common/procstat.h"
#include "common/timeutil.h"
#include "ipc/jsontext.h"
#include "supervisor/dispatch.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/pool.h"
#include "supervisor/schedule.h"
#include "supervisor/status.h"
#include "supervisor/status_cluster.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

/* "name":{"p50":..,"p90":..,"p99":..,"max":..}, */
static void
status_hist(struct buf *b, const char *name, const struct hist *h)
{
	buf_appendf(b, "\"%s\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
	    "\"max\":%.3f},", name, hist_percentile_ms(h, 0.50),
	    hist_percentile_ms(h, 0.90), hist_percentile_ms(h, 0.99),
	    h->max * 1000.0);
}

/* How old a worker's figures from /proc may be (status floods). */
#define STATUS_COSTS_MAX_AGE	0.5

/*
 * What a live worker and its descendants cost now (/proc): "rss_bytes",
 * "cpu_s" (cumulative: a reader takes the rate between two documents)
 * and "processes"; null when there is no process or /proc says nothing.
 */
static void
status_worker_costs(struct supervisor *sv, struct worker *w, struct buf *b)
{
	struct procstat	ps;

	if (!worker_alive(w) || procstat_tree_cached(worker_pid(w),
	    ev_now(sv->loop), STATUS_COSTS_MAX_AGE, &ps) == -1) {
		buf_append_str(b, ",\"rss_bytes\":null,\"cpu_s\":null,"
		    "\"processes\":null");
		return;
	}
	buf_appendf(b, ",\"rss_bytes\":%llu,\"cpu_s\":%.2f,\"processes\":%u",
	    (unsigned long long)ps.rss, ps.cpu, ps.procs);
}

/* One element of a pool's "workers" list. */
static void
status_worker(struct supervisor *sv, struct pool *pool, int i, struct buf *b)
{
	struct worker	*w = pool_worker(pool, i);
	char		 ts[TIME_ISO_BUF];
	const char	*job;
	long		 done;
	int		 inflight;

	dispatch_worker_info(w, &done, &inflight, &job);
	buf_appendf(b, "{\"index\":%d,\"pid\":", i);
	if (worker_alive(w))
		buf_appendf(b, "%ld", (long)worker_pid(w));
	else
		buf_append_str(b, "null");
	buf_appendf(b, ",\"state\":\"%s\",\"jobs_done\":%ld,\"job\":",
	    worker_state_name(worker_state(w)), done);
	if (job != NULL)
		buf_appendf(b, "\"%s\"", job);
	else
		buf_append_str(b, "null");
	if (worker_alive(w)) {
		time_iso8601(worker_started_at(w), ts);
		buf_appendf(b, ",\"started_at\":\"%s\"", ts);
	} else
		buf_append_str(b, ",\"started_at\":null");
	buf_appendf(b, ",\"restarts\":%ld,\"in_flight\":%d",
	    pool_worker_restarts(pool, i), inflight);
	status_worker_costs(sv, w, b);
	buf_append(b, "}", 1);
}

/* A list of one figure per bucket, n0 .. n0 + HISTORY_BUCKETS - 1. */
static void
status_history_list(struct buf *b, const char *name,
    const struct history *h, uint64_t n0, int what)
{
	struct history_bucket	hb;
	unsigned		i;

	buf_appendf(b, "\"%s\":[", name);
	for (i = 0; i < HISTORY_BUCKETS; i++) {
		history_get(h, n0 + i, &hb);
		if (i > 0)
			buf_append(b, ",", 1);
		if (what == 0)
			buf_append_uint(b, hb.done);
		else if (what == 1)
			buf_append_uint(b, hb.failed);
		else if (what == 2)
			buf_append_uint(b, hb.cancelled);
		else if (what == 3)
			buf_appendf(b, "%.3f", hb.runs > 0 ?
			    hb.run_sum * 1000.0 / hb.runs : 0.0);
		else
			buf_appendf(b, "%.3f", hb.run_max * 1000.0);
	}
	buf_append(b, "]", 1);
}

/*
 * "history": the pool's last hour, oldest bucket first, the last one the
 * bucket now filling; "since" is when the first one began.
 */
static void
status_history(struct supervisor *sv, struct pool *pool, struct buf *b)
{
	static const char *const names[] = { "done", "failed", "cancelled",
	    "run_mean_ms", "run_max_ms" };
	const struct history	*h = &pool->stats.hour;
	uint64_t		 n0;
	char			 ts[TIME_ISO_BUF];
	int			 k;

	n0 = history_bucket_at(ev_now(sv->loop)) + 1 - HISTORY_BUCKETS;
	time_iso8601((double)(n0 * HISTORY_BUCKET_S), ts);
	buf_appendf(b, ",\"history\":{\"bucket_s\":%d,\"since\":\"%s\"",
	    HISTORY_BUCKET_S, ts);
	for (k = 0; k < 5; k++) {
		buf_append(b, ",", 1);
		status_history_list(b, names[k], h, n0, k);
	}
	buf_append(b, "}", 1);
}

/*
 * Flow control: jobs the rate limit holds back, groups with claimable
 * jobs, and the queued jobs by priority (the levels that have some).
 */
static void
status_flow(struct pool *pool, struct buf *b)
{
	const struct queue_flow	*fl = &pool->q.flow;
	int			 l, first = 1;

	buf_appendf(b, "\"throttled\":%zu,\"groups_with_work\":%zu,"
	    "\"queue_by_priority\":{", fl->throttled,
	    queue_groups_with_work(&pool->q));
	for (l = JOB_PRIORITY_LEVELS - 1; l >= 0; l--) {
		if (fl->depth[l] == 0)
			continue;
		buf_appendf(b, "%s\"%d\":%zu", first ? "" : ",",
		    l + JOB_PRIORITY_MIN, fl->depth[l]);
		first = 0;
	}
	buf_append_str(b, "},");
}

static void
status_pool(struct supervisor *sv, struct pool *pool, struct buf *b,
    unsigned flags)
{
	struct pool_stats	*st = &pool->stats;
	const uint64_t		*n = pool->q.jobs.state;
	enum worker_state	 ws;
	int			 i, busy = 0, idle = 0, first = 1;

	for (i = 0; i < pool->nslots; i++) {
		ws = worker_state(pool_worker(pool, i));
		if (ws == WORKER_BUSY)
			busy++;
		else if (ws == WORKER_READY)
			idle++;
	}
	buf_append_str(b, "{\"name\":");
	jsontext_string_append(b, pool->name, strlen(pool->name));
	buf_appendf(b, ",\"type\":\"%s\",\"origin\":\"%s\",\"state\":\"%s\","
	    "\"paused\":%s,"
	    "\"down\":%s,\"workers_target\":%d,\"workers_busy\":%d,\"workers_idle\":%d,"
	    "\"queue_depth\":%llu,\"queue_max\":%ld,\"dead\":%zu,",
	    pool->pc->type == POOL_TYPE_EXEC ? "exec" : "stream",
	    pool_from_cluster(pool) ? "cluster" : "config",
	    pool->removed ? "removed" : pool_state_name(pool->state),
	    pool->paused ? "true" : "false",
	    pool->down ? "true" : "false", pool->pc->workers, busy, idle,
	    (unsigned long long)n[JOB_QUEUED], pool->pc->max_queue,
	    pool->q.ndead);
	status_flow(pool, b);
	buf_appendf(b, "\"jobs\":{\"submitted\":%llu,\"delayed\":%llu,"
	    "\"queued\":%llu,\"running\":%llu,\"done\":%llu,\"failed\":%llu,"
	    "\"timed_out\":%llu,\"cancelled\":%llu,\"retried\":%llu,"
	    "\"rejected\":%llu},",
	    (unsigned long long)pool->q.submitted,
	    (unsigned long long)n[JOB_DELAYED],
	    (unsigned long long)n[JOB_QUEUED],
	    (unsigned long long)n[JOB_RUNNING],
	    (unsigned long long)n[JOB_DONE],
	    (unsigned long long)n[JOB_FAILED],
	    (unsigned long long)n[JOB_TIMED_OUT],
	    (unsigned long long)n[JOB_CANCELLED],
	    (unsigned long long)pool->q.retried,
	    (unsigned long long)pool->q.rejected);
	status_hist(b, "latency_ms", &st->run);
	status_hist(b, "queue_wait_ms", &st->wait);
	buf_appendf(b, "\"rate_per_s\":%.3f,\"restarts\":%ld,\"workers\":[",
	    rate_per_s(&st->finished, ev_now(sv->loop)), pool->restarts);
	for (i = 0; i < pool->nslots; i++) {
		if (i >= pool->pc->workers &&
		    worker_state(pool_worker(pool, i)) == WORKER_DEAD)
			continue;
		if (!first)
			buf_append(b, ",", 1);
		first = 0;
		status_worker(sv, pool, i, b);
	}
	buf_append(b, "]", 1);
	if (flags & STATUS_HISTORY)
		status_history(sv, pool, b);
	buf_append(b, "}", 1);
}

void
status_append(struct supervisor *sv, struct buf *b, const char *filter)
{
	status_append_flags(sv, b, filter, 0);
}

void
status_append_flags(struct supervisor *sv, struct buf *b, const char *filter,
    unsigned flags)
{
	struct dispatch_store_stats	ss;
	char				ts[TIME_ISO_BUF];
	size_t				i;
	int				first = 1;

	time_iso8601(sv->started_at, ts);
	buf_appendf(b, "{\"mpsup\":{\"version\":\"%s\",\"pid\":%ld,"
	    "\"started_at\":\"%s\",\"uptime_s\":%.3f,\"config\":",
	    PACKAGE_VERSION, (long)getpid(), ts,
	    ev_now(sv->loop) - sv->started_at);
	jsontext_string_append(b, sv->cfg->path, strlen(sv->cfg->path));
	buf_append_str(b, ",\"store\":");
	if (sv->cfg->cluster != NULL)
		buf_appendf(b, "\"%s\"", queue_name(sv->queue));
	else
		jsontext_string_append(b, sv->cfg->store,
		    strlen(sv->cfg->store));
	dispatch_store_stats(&ss);
	buf_appendf(b, ",\"store_stats\":{\"durable\":%s,\"failing\":%s,"
	    "\"commits\":%llu,\"commit_errors\":%llu,\"segments\":%zu}",
	    ss.durable ? "true" : "false", ss.failing ? "true" : "false",
	    ss.commits, ss.commit_errors, ss.segments);
	buf_appendf(b, ",\"stopping\":%s},\"pools\":[",
	    sv->stopping ? "true" : "false");
	for (i = 0; i < sv->npools; i++) {
		if (filter != NULL && strcmp(filter, sv->pools[i]->name) != 0)
			continue;
		if (!first)
			buf_append(b, ",", 1);
		first = 0;
		status_pool(sv, sv->pools[i], b, flags);
	}
	buf_append_str(b, "],\"schedules\":");
	schedules_status(sv->schedules, b);
	buf_appendf(b, ",\"connections\":%d", supervisor_clients(sv));
	status_cluster_append(sv, b);
	supervisor_services_status(sv, b);
	if (flags & STATUS_ADMIN)
		buf_append_str(b, ",\"admin\":true");
	buf_append(b, "}", 1);
}
