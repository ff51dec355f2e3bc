/*
 * A worker process: one slot of a pool and the process that currently
 * fills it, with its pipes (stdout/stderr to the log, the job channel).
 *
 * The module knows processes and pipes, not jobs or pools: it reports what
 * happens through the callbacks its owner (the pool) registered, in the
 * manner of tmux's job.c, and only this file changes a worker's state.
 *
 * A worker is an explicit state machine: it is spawned READY (BUSY while
 * its owner says jobs are in flight), STOPPING after it was asked to stop,
 * and DEAD while the slot waits to be restarted. With `ready = line` it is
 * spawned STARTING and becomes READY when it writes {"ready":true} on its
 * result channel (its owner hears spawned_cb only then), or is killed
 * after ready_timeout; its uptime for the restart back-off counts from
 * readiness. The process is gone only
 * once it has been reaped *and* its pipes have hit EOF, in either order; a
 * grace timer closes pipes that a stray grandchild keeps open.
 */
#ifndef MPSUP_WORKER_H
#define MPSUP_WORKER_H

#include <ev.h>
#include <stddef.h>
#include <sys/types.h>

struct buf;
struct pool_config;
struct worker;
struct worker_proc;

enum worker_state {
	WORKER_DEAD,		/* no process; maybe a restart is pending */
	WORKER_READY,		/* running, nothing in flight */
	WORKER_BUSY,		/* running, jobs in flight */
	WORKER_STOPPING,	/* asked to stop */
	WORKER_STARTING,	/* running, not yet ready (ready = line) */
};

/* A worker that ran this long counts as healthy. */
#define WORKER_HEALTHY_UPTIME	1.0
/* How long pipes may outlive a reaped worker before being closed. */
#define WORKER_PIPE_GRACE	1.0

/*
 * What every worker of a supervisor shares, owned by the supervisor and
 * valid while any worker lives.
 */
struct worker_env {
	struct ev_loop	*loop;
	const char	*self_exe;	/* the exec worker's binary */
	const char	*dir;		/* cwd when the pool names none */
	size_t		 log_max_line;
	size_t		 max_message;	/* longest result line */
	struct worker	*dirty;		/* workers with unsent job lines */
};

/* What a worker reports to its owner; arg is the one given to worker_new. */
struct worker_cbs {
	/* The process started (and, with ready = line, is ready): it can take jobs. */
	void		(*spawned_cb)(struct worker *, void *arg);
	/* One result line; -1 if it is malformed (the worker is killed). */
	int		(*result_cb)(struct worker *, const char *line,
			    size_t len, void *arg);
	/* The job to tag a log line with, or NULL. */
	const char	*(*job_tag_cb)(struct worker *, void *arg);
	/* It died or is being killed: it must be sent nothing more. */
	void		(*lost_cb)(struct worker *, void *arg);
	/*
	 * Gone for good (reaped, pipes closed) after uptime seconds; why it
	 * was killed, or NULL if it died by itself.
	 */
	void		(*gone_cb)(struct worker *, double uptime,
			    const char *why, void *arg);
	/* Up for WORKER_HEALTHY_UPTIME. */
	void		(*healthy_cb)(struct worker *, void *arg);
	/* An on-demand worker was idle for idle_timeout. */
	void		(*idle_cb)(struct worker *, void *arg);
};

/*
 * A dead worker for slot index of a pool whose current config is *pcp
 * (borrowed: read at every use, so a reload's new config applies).
 */
struct worker	*worker_new(struct worker_env *, struct pool_config *const *pcp,
		    int index, const struct worker_cbs *, void *arg);
void		 worker_free(struct worker *);
/*
 * Fork the worker process (config generation gen) as proc says (borrowed,
 * see worker_proc.h: built from the pool's current config); -1 if it
 * failed.
 */
int		 worker_spawn(struct worker *, unsigned gen,
		    struct worker_proc *proc);
/* Ask it to stop: close its job input, send stop_signal, arm SIGKILL. */
void		 worker_stop(struct worker *);
/* SIGKILL its whole process group now. */
void		 worker_kill(struct worker *);
/* Kill a worker that broke the protocol or overran; why goes to gone_cb. */
void		 worker_fail(struct worker *, const char *why);
/* Its owner's count of jobs in flight: BUSY or READY, the idle timer. */
void		 worker_set_inflight(struct worker *, int);

/* Queue a job line {"id":..,"data":..[,"timeout_ms":..]} for the worker. */
void		 worker_send_job(struct worker *, const char *id, size_t idlen,
		    const char *data, size_t len, double timeout_ms);
/* Queue an exec worker's cancel line; -1 if its job input is closed. */
int		 worker_send_cancel(struct worker *, const char *id);
/* Write every worker's queued job lines (once per loop iteration). */
void		 worker_flush_all(struct worker_env *);
/*
 * With pipelined commits (store/queue.h): a commit starts that records
 * the starts of every job line queued so far: set them apart; it ended:
 * write those (lines queued since wait for the next commit).
 */
void		 worker_seal_all(struct worker_env *);
void		 worker_flush_sealed(struct worker_env *);

int		 worker_alive(const struct worker *);
int		 worker_index(const struct worker *);
enum worker_state worker_state(const struct worker *);
pid_t		 worker_pid(const struct worker *);
double		 worker_started_at(const struct worker *);
/* The config generation it was spawned with. */
unsigned	 worker_gen(const struct worker *);
/* Whether it was asked to stop. */
int		 worker_stopping(const struct worker *);
/* The dispatcher's own data about this worker. */
void		 worker_set_data(struct worker *, void *);
void		*worker_data(const struct worker *);
const char	*worker_state_name(enum worker_state);

#endif
