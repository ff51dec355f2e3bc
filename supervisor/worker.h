/*
 * One worker slot of a pool and the process that currently fills it.
 *
 * A worker is an explicit state machine: it is spawned READY (or BUSY once
 * jobs are in flight), STOPPING after it was asked to stop, and DEAD while
 * the slot waits to be restarted. The process is gone only once it has been
 * reaped *and* its pipes have hit EOF, in either order; a grace timer closes
 * pipes that a stray grandchild keeps open.
 */
#ifndef MPSUP_WORKER_H
#define MPSUP_WORKER_H

#include <ev.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/buf.h"
#include "common/linebuf.h"
#include "supervisor/job.h"
#include "supervisor/output.h"

struct pool;

enum worker_state {
	WORKER_DEAD,		/* no process; maybe a restart is pending */
	WORKER_READY,		/* running, nothing in flight */
	WORKER_BUSY,		/* running, jobs in flight */
	WORKER_STOPPING,	/* asked to stop */
};

/* One pipe carrying log lines from the worker. */
struct worker_stream {
	struct worker		*w;
	enum output_stream	 which;
	int			 fd;
	ev_io			 io;
	struct linebuf		 lines;
};

struct worker {
	struct pool		*pool;
	int			 index;
	enum worker_state	 state;
	pid_t			 pid;		/* also its process group */
	unsigned		 generation;	/* bumped at every spawn */
	unsigned		 cfg_gen;	/* pool->cfg_gen it was spawned with */
	double			 started_at;	/* wall clock */
	double			 started_mono;
	int			 reaped;
	int			 wstatus;
	ev_child		 child;
	ev_timer		 restart_timer;
	ev_timer		 healthy_timer;
	ev_timer		 grace_timer;	/* pipes outliving the process */
	ev_timer		 kill_timer;	/* stop_timeout */
	ev_timer		 idle_timer;	/* dynamic pools: idle_timeout */
	struct worker_stream	 out, err;

	/* Job channel (stream and exec pools). */
	int			 job_in_fd;	/* we write jobs */
	int			 job_out_fd;	/* we read results */
	ev_io			 job_in_io;
	ev_io			 job_out_io;
	struct buf		 job_in;	/* unsent job lines */
	size_t			 job_in_ready;	/* of which past a commit */
	struct linebuf		 job_out;

	/* Dispatch. */
	struct job_list		 inflight;	/* sent, no result yet */
	int			 ninflight;
	long			 assigned;	/* jobs sent to this process */
	int			 on_ready;	/* in pool->ready */
	int			 recycle;	/* max_jobs_per_worker reached */
	int			 dirty;		/* job_in has unsent bytes */
	TAILQ_ENTRY(worker)	 ready_entry;
	TAILQ_ENTRY(worker)	 dirty_entry;
	char			*gone_reason;	/* why its jobs are retried */
	struct job		*culprit;	/* the job that overran */

	/* Bookkeeping across restarts of this slot. */
	double			 delay;		/* next restart delay */
	int			 quick_deaths;	/* in a row */
	long			 restarts;
	long			 jobs_done;
	int			 stop_requested;
	int			 retire;	/* do not restart (scale down) */
};

struct worker	*worker_new(struct pool *, int index);
void		 worker_free(struct worker *);
/* Fork the worker process; on failure schedules a restart. */
int		 worker_spawn(struct worker *);
/* Ask it to stop: close its job input, send stop_signal, arm SIGKILL. */
void		 worker_stop(struct worker *);
/* Dynamic pools: retire an on-demand worker after idle_timeout. */
void		 worker_idle_check(struct worker *);
/* SIGKILL its whole process group now. */
void		 worker_kill(struct worker *);
int		 worker_alive(const struct worker *);
/* Kill a worker that broke the protocol or overran; jobs are retried. */
void		 worker_fail(struct worker *, const char *why, struct job *);
/*
 * Write buffered job lines; arms a write watcher if the pipe is full.
 * Called after each commit (dispatch_flush): only what was buffered by
 * then may go out when the pipe has room again (see worker.c).
 */
void		 worker_flush_jobs(struct worker *);
/* Read whatever its log pipes hold right now (before a result lands). */
void		 worker_drain_logs(struct worker *);
const char	*worker_state_name(enum worker_state);

#endif
