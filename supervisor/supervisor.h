/*
 * The supervisor process: one libev loop that owns the pools, the output
 * log, the signals and (later) the listener and status endpoint.
 */
#ifndef MPSUP_SUPERVISOR_H
#define MPSUP_SUPERVISOR_H

#include <ev.h>

#include "config/config.h"

struct pool;
struct listener;
struct http;
struct store;

/* A worker that ran this long counts as healthy: back-off resets. */
#define SUPERVISOR_HEALTHY_UPTIME	1.0
/* Quick deaths in a row after which a pool is marked failing. */
#define SUPERVISOR_FAILING_DEATHS	5
/* How long pipes may outlive a reaped worker before being closed. */
#define SUPERVISOR_PIPE_GRACE		1.0

struct supervisor_options {
	const char	*config_path;
	const char	*pidfile;
	int		 log_format;	/* -1 = from config */
};

struct supervisor {
	struct ev_loop		*loop;
	struct config		*cfg;
	struct pool		**pools;
	size_t			 npools;
	char			*self_exe;	/* for exec workers */
	char			*pidfile;
	double			 started_at;
	int			 stopping;
	ev_signal		 sig_term, sig_int, sig_hup, sig_usr1;
	ev_prepare		 flush;
	ev_timer		 shutdown_timer;
	struct listener		*listener;
	struct http		*http;
	struct store		*store;		/* jobs across restarts */
	struct config		**old_cfgs;	/* replaced by reloads */
	size_t			 nold_cfgs;
	struct pool		**parked;	/* removed, stopped, records kept */
	size_t			 nparked;
	ev_timer		 sweep_timer;	/* supervisor_sweep_soon() */
};

extern struct supervisor	*supervisor;

/* Run the supervisor in the foreground; returns the exit status. */
int	supervisor_main(const struct supervisor_options *);
/*
 * Reload the config file: add, remove, resize and roll pools. A file with
 * errors is refused and the running config kept. *msg says what happened
 * (or what was wrong); the caller frees it.
 */
int	supervisor_reload(struct supervisor *, char **msg);
/* Begin a graceful stop. */
void	supervisor_stop(struct supervisor *);
/* While stopping: a running job ended; stop pools with none left. */
void	supervisor_job_ended(struct supervisor *);
/* A pool has no live workers left; exits the loop when all are done. */
void	supervisor_pool_stopped(struct supervisor *, struct pool *);
/*
 * Removed pools (reload.c): one that has stopped leaves sv->pools (status,
 * metrics) for sv->parked, and is freed once no job points at it.
 * supervisor_sweep_soon() runs supervisor_sweep() from the loop, where no
 * caller holds a pool.
 */
void	supervisor_sweep_soon(struct supervisor *);
void	supervisor_sweep(struct supervisor *);

#endif
