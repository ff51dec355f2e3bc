/*
 * The /metrics document (see metrics.h).
 *
 * Every family is written whole (HELP, TYPE, then one sample per pool and
 * label set), as the exposition format asks. Counters end in `_total` and
 * never go down while the supervisor runs: the terminal job counts only
 * grow (pruning finished records does not touch them). The job duration
 * histogram is read off the pool's power-of-two run-time buckets, so its
 * bucket bounds are powers of two microseconds, written in seconds.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "supervisor/dispatch.h"
#include "store/job.h"
#include "store/queue.h"
#include "supervisor/monitor/metrics.h"
#include "supervisor/pool.h"
#include "supervisor/status_cluster.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

/* The most cluster nodes listed (as in /status). */
#define METRICS_CLUSTER_MAX_NODES	1024

/* Histogram bounds: 2^k us for k = FIRST, FIRST+STEP, ... <= LAST. */
#define METRICS_BUCKET_FIRST	10	/* 1.024 ms */
#define METRICS_BUCKET_STEP	2
#define METRICS_BUCKET_LAST	34	/* about 4.8 hours */

/* The HELP and TYPE lines that open a family. */
static void
metrics_family(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_label_append(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			buf_append(b, "\\\\", 2);
		else if (*s == '"')
			buf_append(b, "\\\"", 2);
		else if (*s == '\n')
			buf_append(b, "\\n", 2);
		else
			buf_append(b, s, 1);
	}
}

/* Start a sample line: NAME{pool="P" (the caller closes the braces). */
static void
metrics_pool_sample(struct buf *b, const char *name, const struct pool *pool)
{
	buf_appendf(b, "%s{pool=\"", name);
	metrics_label_append(b, pool->name);
	buf_append(b, "\"", 1);
}

/* One family with a single integer per pool. */
static void
metrics_per_pool(struct supervisor *sv, struct buf *b, const char *name,
    const char *type, const char *help, unsigned long long (*get)(struct pool *))
{
	size_t	i;

	metrics_family(b, name, type, help);
	for (i = 0; i < sv->npools; i++) {
		metrics_pool_sample(b, name, sv->pools[i]);
		buf_appendf(b, "} %llu\n", get(sv->pools[i]));
	}
}

static unsigned long long
metrics_submitted(struct pool *p)
{
	return p->q.submitted;
}

static unsigned long long
metrics_retried(struct pool *p)
{
	return p->q.retried;
}

static unsigned long long
metrics_rejected(struct pool *p)
{
	return p->q.rejected;
}

static unsigned long long
metrics_restarts(struct pool *p)
{
	return p->restarts > 0 ? (unsigned long long)p->restarts : 0;
}

static unsigned long long
metrics_queued(struct pool *p)
{
	return p->q.jobs.state[JOB_QUEUED];
}

static unsigned long long
metrics_delayed(struct pool *p)
{
	return p->q.jobs.state[JOB_DELAYED];
}

static unsigned long long
metrics_throttled(struct pool *p)
{
	return p->q.flow.throttled;
}

static unsigned long long
metrics_groups(struct pool *p)
{
	return queue_groups_with_work(&p->q);
}

/* mpsup_queue_depth_by_priority{pool,priority}: levels with jobs. */
static void
metrics_priorities(struct supervisor *sv, struct buf *b)
{
	size_t	i;
	int	l;

	metrics_family(b, "mpsup_queue_depth_by_priority", "gauge",
	    "Jobs waiting in the queue, by priority (levels with jobs).");
	for (i = 0; i < sv->npools; i++)
		for (l = JOB_PRIORITY_LEVELS - 1; l >= 0; l--) {
			if (sv->pools[i]->q.flow.depth[l] == 0)
				continue;
			metrics_pool_sample(b, "mpsup_queue_depth_by_priority",
			    sv->pools[i]);
			buf_appendf(b, ",priority=\"%d\"} %zu\n",
			    l + JOB_PRIORITY_MIN, sv->pools[i]->q.flow.depth[l]);
		}
}

static unsigned long long
metrics_dead(struct pool *p)
{
	return p->q.ndead;
}

static unsigned long long
metrics_queue_capacity(struct pool *p)
{
	return p->pc->max_queue > 0 ? (unsigned long long)p->pc->max_queue : 0;
}

static unsigned long long
metrics_running(struct pool *p)
{
	return p->q.jobs.state[JOB_RUNNING];
}

static unsigned long long
metrics_target(struct pool *p)
{
	return p->pc->workers > 0 ? (unsigned long long)p->pc->workers : 0;
}

static unsigned long long
metrics_paused(struct pool *p)
{
	return p->paused ? 1 : 0;
}

static unsigned long long
metrics_from_cluster(struct pool *p)
{
	return pool_from_cluster(p) ? 1 : 0;
}

/* mpsup_jobs_total{pool,state}: jobs that reached each terminal state. */
static void
metrics_jobs(struct supervisor *sv, struct buf *b)
{
	static const struct {
		enum job_state	 state;
		const char	*name;
	} terminal[] = {
		{ JOB_DONE, "done" },
		{ JOB_FAILED, "failed" },
		{ JOB_TIMED_OUT, "timed_out" },
		{ JOB_CANCELLED, "cancelled" },
	};
	size_t	i, j;

	metrics_family(b, "mpsup_jobs_total", "counter",
	    "Jobs that ended, by terminal state.");
	for (i = 0; i < sv->npools; i++) {
		for (j = 0; j < sizeof terminal / sizeof terminal[0]; j++) {
			metrics_pool_sample(b, "mpsup_jobs_total",
			    sv->pools[i]);
			buf_appendf(b, ",state=\"%s\"} %llu\n",
			    terminal[j].name, (unsigned long long)
			    sv->pools[i]->q.jobs.state[terminal[j].state]);
		}
	}
}

/* mpsup_workers{pool,state}: worker slots by state, as in /status. */
static void
metrics_workers(struct supervisor *sv, struct buf *b)
{
	static const enum worker_state states[] = {
		WORKER_BUSY, WORKER_READY, WORKER_STARTING, WORKER_STOPPING,
		WORKER_DEAD,
	};
	struct pool		*pool;
	enum worker_state	 ws;
	size_t			 i, j;
	int			 k, n;

	metrics_family(b, "mpsup_workers", "gauge",
	    "Worker slots by state (idle = running with nothing in flight).");
	for (i = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		for (j = 0; j < sizeof states / sizeof states[0]; j++) {
			n = 0;
			for (k = 0; k < pool->nslots; k++) {
				ws = worker_state(pool_worker(pool, k));
				/* Retired slots past the target are not shown. */
				if (k >= pool->pc->workers &&
				    ws == WORKER_DEAD)
					continue;
				if (ws == states[j])
					n++;
			}
			metrics_pool_sample(b, "mpsup_workers", pool);
			buf_appendf(b, ",state=\"%s\"} %d\n",
			    worker_state_name(states[j]), n);
		}
	}
}

/* mpsup_job_duration_seconds: run time of jobs that ended while running. */
static void
metrics_duration(struct supervisor *sv, struct buf *b)
{
	const struct pool_stats	*st;
	unsigned long long	 cum, total;
	size_t			 i;
	int			 k, next;

	metrics_family(b, "mpsup_job_duration_seconds", "histogram",
	    "Run time of the last attempt of jobs that ended while running.");
	for (i = 0; i < sv->npools; i++) {
		st = &sv->pools[i]->stats;
		total = st->run.count;
		/* Bucket k holds [2^k, 2^(k+1)) us: le 2^n us is 0..n-1. */
		cum = 0;
		next = 0;
		for (k = METRICS_BUCKET_FIRST; k <= METRICS_BUCKET_LAST;
		    k += METRICS_BUCKET_STEP) {
			for (; next < k; next++)
				cum += st->run.bucket[next];
			metrics_pool_sample(b, "mpsup_job_duration_seconds_bucket",
			    sv->pools[i]);
			buf_appendf(b, ",le=\"%.6f\"} %llu\n",
			    (double)(1ULL << k) / 1e6, cum);
		}
		metrics_pool_sample(b, "mpsup_job_duration_seconds_bucket",
		    sv->pools[i]);
		buf_appendf(b, ",le=\"+Inf\"} %llu\n", total);
		metrics_pool_sample(b, "mpsup_job_duration_seconds_sum",
		    sv->pools[i]);
		buf_appendf(b, "} %.17g\n", st->run.sum);
		metrics_pool_sample(b, "mpsup_job_duration_seconds_count",
		    sv->pools[i]);
		buf_appendf(b, "} %llu\n", total);
	}
}

/* The durable store; all 0 with the memory store. */
static void
metrics_store(struct buf *b)
{
	struct dispatch_store_stats	ss;

	dispatch_store_stats(&ss);
	metrics_family(b, "mpsup_store_commits_total", "counter",
	    "Group commits into the job store.");
	buf_appendf(b, "mpsup_store_commits_total %llu\n", ss.commits);
	metrics_family(b, "mpsup_store_commit_errors_total", "counter",
	    "Commits that failed (their submits answered store_error).");
	buf_appendf(b, "mpsup_store_commit_errors_total %llu\n",
	    ss.commit_errors);
	metrics_family(b, "mpsup_store_failing", "gauge",
	    "1 while the last commit into the job store failed.");
	buf_appendf(b, "mpsup_store_failing %d\n", ss.failing);
	metrics_family(b, "mpsup_store_segments", "gauge",
	    "Rows in the job store's segment log.");
	buf_appendf(b, "mpsup_store_segments %zu\n", ss.segments);
}

/* mpsup_cluster_queue_depth{pool,state}: as last seen in Redis. */
static void
metrics_cluster_depth(struct supervisor *sv, struct buf *b)
{
	long long	v[3];
	const char	*states[3] = { "queued", "running", "delayed" };
	size_t		i;
	int		k;

	metrics_family(b, "mpsup_cluster_queue_depth", "gauge",
	    "Jobs of the pool cluster-wide, by state, as last seen in Redis.");
	for (i = 0; i < sv->npools; i++) {
		if (sv->pools[i]->removed || queue_cluster_depth(sv->queue,
		    &sv->pools[i]->q, &v[0], &v[1], &v[2]) == -1)
			continue;
		for (k = 0; k < 3; k++) {
			metrics_pool_sample(b, "mpsup_cluster_queue_depth",
			    sv->pools[i]);
			buf_appendf(b, ",state=\"%s\"} %lld\n", states[k],
			    v[k]);
		}
	}
}

/*
 * mpsup_cluster_nodes and mpsup_cluster_node_heartbeat_age_seconds{node}:
 * the registry as last seen. A node restarted before its old entry was
 * reaped has two; the series shows the newer heartbeat, once.
 */
static void
metrics_cluster_nodes(struct supervisor *sv, struct buf *b)
{
	struct queue_node_info		*ni;
	struct status_cluster_node	*n;
	double				 now = time_wall(), age;
	size_t				 i, j, nn, nread = 0;

	ni = xcalloc(METRICS_CLUSTER_MAX_NODES, sizeof *ni);
	n = xcalloc(METRICS_CLUSTER_MAX_NODES, sizeof *n);
	nn = queue_cluster_nodes(sv->queue, ni, METRICS_CLUSTER_MAX_NODES);
	for (i = 0; i < nn; i++)
		if (status_cluster_node_read(&ni[i], &n[nread]) == 0)
			nread++;
	metrics_family(b, "mpsup_cluster_nodes", "gauge",
	    "Nodes in the cluster's registry, as last seen.");
	buf_appendf(b, "mpsup_cluster_nodes %zu\n", nread);
	metrics_family(b, "mpsup_cluster_node_heartbeat_age_seconds", "gauge",
	    "Seconds since each node's last heartbeat, as last seen.");
	for (i = 0; i < nread; i++) {
		if ((age = status_cluster_node_age(&n[i], now)) < 0)
			continue;
		for (j = 0; j < nread; j++)
			if (j != i && strcmp(n[j].node, n[i].node) == 0 &&
			    status_cluster_node_age(&n[j], now) >= 0 &&
			    (status_cluster_node_age(&n[j], now) < age ||
			    (status_cluster_node_age(&n[j], now) == age &&
			    j < i)))
				break;
		if (j < nread)
			continue;
		buf_append_str(b, "mpsup_cluster_node_heartbeat_age_seconds"
		    "{node=\"");
		metrics_label_append(b, n[i].node);
		buf_appendf(b, "\"} %.3f\n", age);
	}
	for (i = 0; i < nread; i++)
		status_cluster_node_free(&n[i]);
	free(n);
	free(ni);
}

/* The cluster's families, with cluster set only. */
static void
metrics_cluster(struct supervisor *sv, struct buf *b)
{
	struct queue_cluster_info	ci;

	if (sv->queue == NULL || queue_cluster(sv->queue, &ci) == -1)
		return;
	metrics_family(b, "mpsup_cluster_connected", "gauge",
	    "1 while this node is connected to the cluster's Redis.");
	buf_appendf(b, "mpsup_cluster_connected %d\n", ci.connected ? 1 : 0);
	metrics_cluster_nodes(sv, b);
	metrics_cluster_depth(sv, b);
	metrics_family(b, "mpsup_cluster_submits_unavailable_total",
	    "counter", "Submits answered unavailable while Redis was away.");
	buf_appendf(b, "mpsup_cluster_submits_unavailable_total %llu\n",
	    ci.unavailable);
	metrics_family(b, "mpsup_cluster_fenced_total", "counter",
	    "Late ends of jobs another node had taken over, ignored.");
	buf_appendf(b, "mpsup_cluster_fenced_total %llu\n", ci.fenced);
	metrics_family(b, "mpsup_cluster_requeued_total", "counter",
	    "Running jobs of lost nodes this node put back in their queues.");
	buf_appendf(b, "mpsup_cluster_requeued_total %llu\n", ci.requeued);
}

void
metrics_append(struct supervisor *sv, struct buf *b,
    unsigned int http_connections)
{
	metrics_family(b, "mpsup_up", "gauge",
	    "1 while the supervisor answers.");
	buf_append_str(b, "mpsup_up 1\n");
	metrics_family(b, "mpsup_build_info", "gauge",
	    "Always 1; the version is in the label.");
	buf_append_str(b, "mpsup_build_info{version=\"");
	metrics_label_append(b, PACKAGE_VERSION);
	buf_append_str(b, "\"} 1\n");
	metrics_family(b, "mpsup_start_time_seconds", "gauge",
	    "When the supervisor started, in seconds since the Unix epoch.");
	buf_appendf(b, "mpsup_start_time_seconds %.3f\n", sv->started_at);
	metrics_family(b, "mpsup_stopping", "gauge",
	    "1 during a graceful stop.");
	buf_appendf(b, "mpsup_stopping %d\n", sv->stopping ? 1 : 0);
	metrics_family(b, "mpsup_connections", "gauge",
	    "Clients connected to the job listener.");
	buf_appendf(b, "mpsup_connections %d\n", supervisor_clients(sv));
	metrics_family(b, "mpsup_http_connections", "gauge",
	    "Connections open to this HTTP endpoint.");
	buf_appendf(b, "mpsup_http_connections %u\n", http_connections);

	metrics_per_pool(sv, b, "mpsup_jobs_submitted_total", "counter",
	    "Jobs accepted into the pool's queue.", metrics_submitted);
	metrics_jobs(sv, b);
	metrics_per_pool(sv, b, "mpsup_jobs_retried_total", "counter",
	    "Attempts that were retried after a worker died or timed out.",
	    metrics_retried);
	metrics_per_pool(sv, b, "mpsup_jobs_rejected_total", "counter",
	    "Submits refused (queue full, shutting down).", metrics_rejected);
	metrics_per_pool(sv, b, "mpsup_worker_restarts_total", "counter",
	    "Worker processes restarted after they exited.", metrics_restarts);
	metrics_per_pool(sv, b, "mpsup_queue_depth", "gauge",
	    "Jobs waiting in the queue.", metrics_queued);
	metrics_priorities(sv, b);
	metrics_per_pool(sv, b, "mpsup_jobs_delayed", "gauge",
	    "Jobs delayed until their due time (delay, not_before, retry "
	    "back-off).", metrics_delayed);
	metrics_per_pool(sv, b, "mpsup_jobs_throttled", "gauge",
	    "Claimable jobs the rate limit held back at the last dispatch.",
	    metrics_throttled);
	metrics_per_pool(sv, b, "mpsup_groups_with_work", "gauge",
	    "Groups with claimable jobs.", metrics_groups);
	metrics_per_pool(sv, b, "mpsup_queue_capacity", "gauge",
	    "Largest queue accepted (max_queue).", metrics_queue_capacity);
	metrics_per_pool(sv, b, "mpsup_jobs_running", "gauge",
	    "Jobs running on the pool's workers.", metrics_running);
	metrics_per_pool(sv, b, "mpsup_dead_jobs", "gauge",
	    "Dead letters kept (failed or timed out, not retried).",
	    metrics_dead);
	metrics_workers(sv, b);
	metrics_per_pool(sv, b, "mpsup_workers_target", "gauge",
	    "Configured number of workers.", metrics_target);
	metrics_per_pool(sv, b, "mpsup_pool_paused", "gauge",
	    "1 while the pool is paused (no new jobs dispatched).",
	    metrics_paused);
	metrics_per_pool(sv, b, "mpsup_pool_from_cluster", "gauge",
	    "1 for a gateway pool taken from the cluster's registry (no "
	    "section in the file).", metrics_from_cluster);
	metrics_duration(sv, b);
	metrics_store(b);
	metrics_cluster(sv, b);
}
