/*
 * What request.c shares with the handlers of request_ops.c (the operator
 * ops: jobs, logs, restart, signal, down, up). Private to the remote
 * layer: nothing outside supervisor/remote/ includes it.
 */
#ifndef MPSUP_REQUEST_IMPL_H
#define MPSUP_REQUEST_IMPL_H

#include <stddef.h>

#include "common/buf.h"

struct supervisor;
struct reply;
struct request;
struct pool;
struct conn;
struct job;
struct client;

/* One request being executed (request.c builds it; handlers read it). */
struct exec {
	struct supervisor	*sv;
	struct reply		*reply;
	const struct request	*req;
	struct pool		*pool;		/* REQUEST_POOL ops */
	struct client		*client;	/* who asks */
	struct buf		 data;		/* the jobs' data, back to back */
	size_t			*ends;		/* where each job's data ends */
};

/* Answer r with {"ok":false,"error":code,"message":...}. */
void	request_reply_error(struct reply *, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Whether the client on c may see job (jobs lists it, logs shows its
 * lines); job NULL asks about log records of no job.
 */
int	request_may_see_job(const struct conn *, const struct job *);

/*
 * Acknowledge accepted jobs now, or once the store committed them; wait
 * for them first when the request asked to.
 */
void	request_submit_reply(struct exec *, struct job **, size_t n,
	    int many);

/* Answer r with a job's record, now or once it ends (wait). */
void	request_reply_job(struct supervisor *, struct reply *, struct job *,
	    int wait, double timeout);
/*
 * mpsup stops, its connections about to close: every wait still open is
 * answered shutting_down (not cut off), naming what had not ended.
 */
void	request_waits_stop(void);

/*
 * Cluster (request_cluster.c): result and cancel of a job this node does
 * not hold (job NULL), or keeps for the cluster (a job accepted here).
 * -1 without a cluster (nothing done); 0 once it answers, now or later.
 */
int	request_cluster_result(struct exec *);
int	request_cluster_cancel(struct exec *, struct job *);
/* mpsup stops: each one still waiting for Redis answers shutting_down. */
void	request_cluster_stop(void);

/* Handlers of the op table (request_dead.c). */
void	exec_dead(struct exec *);
void	exec_retry(struct exec *);

/* Handlers of the op table (request_ops.c). */
void	exec_status(struct exec *);
void	exec_pause(struct exec *);
void	exec_resume(struct exec *);
void	exec_scale(struct exec *);
void	exec_reload(struct exec *);
void	exec_stop(struct exec *);
void	exec_jobs(struct exec *);
void	exec_logs(struct exec *);
void	exec_restart(struct exec *);
void	exec_signal(struct exec *);
void	exec_down(struct exec *);
void	exec_up(struct exec *);

/* Send followers (logs -f) the records logged since (once per iteration). */
void	request_follow_flush(void);
/* Forget the followers (their connections are closed). */
void	request_follow_shutdown(void);

#endif
