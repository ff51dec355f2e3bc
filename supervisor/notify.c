/*
 * What the supervisor tells the service manager (see notify.h). The
 * protocol itself is common/sdnotify.c; this file decides when to speak.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sdnotify.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "store/job.h"
#include "supervisor/notify.h"
#include "supervisor/pool.h"

/* STATUS= is sent no more often than this (seconds). */
#define NOTIFY_STATUS_INTERVAL	1.0

struct notify {
	struct ev_loop		*loop;
	struct pool		***pools;	/* the supervisor's, borrowed */
	size_t			*npools;
	ev_timer		 status_timer;	/* STATUS= when it changed */
	ev_timer		 watchdog_timer;
	int			 ready;		/* READY=1 was sent once */
	int			 stopping;
	char			 status[160];	/* the last STATUS= sent */
};

/* The one-line summary: pools, workers, queued and running jobs. */
static void
notify_summary(struct notify *n, char *out, size_t len)
{
	unsigned long long	 queued = 0, running = 0;
	struct pool		*pool;
	size_t			 i, pools = 0;
	int			 workers = 0;

	for (i = 0; i < *n->npools; i++) {
		pool = (*n->pools)[i];
		if (pool->removed)
			continue;
		pools++;
		workers += pool_live_workers(pool);
		queued += pool->q.jobs.state[JOB_QUEUED];
		running += pool->q.jobs.state[JOB_RUNNING];
	}
	snprintf(out, len, "%s%zu pool%s, %d worker%s, %llu queued, "
	    "%llu running", n->stopping ? "stopping: " : "", pools,
	    pools == 1 ? "" : "s", workers, workers == 1 ? "" : "s",
	    queued, running);
}

/* Once a second: the summary, if it changed since it was last sent. */
static void
notify_status_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct notify	*n = t->data;
	char		 line[sizeof n->status];

	notify_summary(n, line, sizeof line);
	if (strcmp(line, n->status) == 0)
		return;
	memcpy(n->status, line, sizeof line);
	sdnotify_sendf("STATUS=%s", line);
}

/* From the loop: proof that it still turns. */
static void
notify_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	sdnotify_send("WATCHDOG=1");
}

struct notify *
notify_new(struct ev_loop *loop, struct pool ***pools, size_t *npools)
{
	struct notify	*n = xcalloc(1, sizeof *n);
	double		 wd = sdnotify_watchdog_interval();

	n->loop = loop;
	n->pools = pools;
	n->npools = npools;
	ev_timer_init(&n->status_timer, notify_status_cb,
	    NOTIFY_STATUS_INTERVAL, NOTIFY_STATUS_INTERVAL);
	n->status_timer.data = n;
	ev_timer_init(&n->watchdog_timer, notify_watchdog_cb, wd, wd);
	n->watchdog_timer.data = n;
	if (wd > 0)
		ev_timer_start(loop, &n->watchdog_timer);
	return n;
}

void
notify_free(struct notify *n)
{
	if (n == NULL)
		return;
	ev_timer_stop(n->loop, &n->status_timer);
	ev_timer_stop(n->loop, &n->watchdog_timer);
	free(n);
}

void
notify_ready(struct notify *n)
{
	if (n == NULL || !sdnotify_enabled())
		return;
	if (n->ready) {
		/* The end of a reload: the summary follows on its timer. */
		sdnotify_send("READY=1");
		return;
	}
	n->ready = 1;
	notify_summary(n, n->status, sizeof n->status);
	sdnotify_sendf("READY=1\nSTATUS=%s%s", n->status,
	    sdnotify_watchdog_interval() > 0 ? "\nWATCHDOG=1" : "");
	ev_timer_start(n->loop, &n->status_timer);
}

void
notify_reloading(struct notify *n)
{
	if (n == NULL || !sdnotify_enabled())
		return;
	/* systemd wants the clock with RELOADING=1 (Type=notify-reload). */
	sdnotify_sendf("RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(time_mono() * 1e6));
}

void
notify_stopping(struct notify *n)
{
	if (n == NULL || !sdnotify_enabled())
		return;
	n->stopping = 1;
	sdnotify_send("STOPPING=1");
}
