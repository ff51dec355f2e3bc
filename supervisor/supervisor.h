/*
 * The supervisor process: one libev loop that owns the pools, the output
 * log, the signals and (later) the listener and status endpoint.
 */
#ifndef MPSUP_SUPERVISOR_H
#define MPSUP_SUPERVISOR_H

#include <ev.h>

#include "config/config.h"
#include "supervisor/dispatch.h"
#include "supervisor/worker.h"

struct buf;
struct notify;
struct pool;
struct queue;
struct schedules;
struct supervisor;

/*
 * A service that runs beside the pools on the supervisor's loop (the
 * remote listener, the HTTP status endpoint). The core knows services
 * only through this table: the command line, which sits above both the
 * core and the services, hands the supervisor the ones to run.
 */
struct supervisor_service {
	const char	*name;		/* prefix of its start-up errors, or NULL */
	/*
	 * Start on sv's loop (the config is loaded, the pools are not yet
	 * started): 0 with *state set (NULL if the config leaves it off),
	 * or -1 with *cause (allocated, or NULL once reported).
	 */
	int		(*start)(struct supervisor *sv, void **state,
			    char **cause);
	/* Once per loop iteration, after the job engine's commit and flush. */
	void		(*flush)(void *state);
	/* A graceful stop began: take no new work. */
	void		(*stop_accepting)(void *state);
	/* Clients connected now (the listener), for the status document. */
	int		(*clients)(void *state);
	/* Append its members of the status document (",\"k\":v"), or NULL. */
	void		(*status)(void *state, struct buf *b);
	void		(*free)(void *state);
};

#define SUPERVISOR_MAX_SERVICES	4

struct supervisor_options {
	const char	*config_path;
	const char	*pidfile;
	int		 log_format;	/* -1 = from config */
	const struct supervisor_service *const *services;
	size_t		 nservices;
};

/* A service the supervisor runs, with its state. */
struct supervisor_running_service {
	const struct supervisor_service	*svc;
	void				*state;
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
	struct supervisor_running_service services[SUPERVISOR_MAX_SERVICES];
	size_t			 nservices;
	struct queue		*queue;		/* where jobs wait and are kept */
	struct worker_env	 wenv;		/* what every worker shares */
	struct dispatch_env	 denv;		/* what the job engine reads */
	struct config		**old_cfgs;	/* replaced by reloads */
	size_t			 nold_cfgs;
	struct pool		**parked;	/* removed, stopped, records kept */
	size_t			 nparked;
	ev_timer		 sweep_timer;	/* supervisor_sweep_soon() */
	struct notify		*notify;	/* to the service manager */
	struct schedules	*schedules;	/* periodic jobs (schedule.h) */
	int			 registry_read;	/* gateway.c: the cluster's, once */
};

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
/* A new pool of sv's for config pc (not started). */
struct pool *supervisor_pool_new(struct supervisor *, struct pool_config *);
/*
 * Removed pools (reload.c): one that has stopped leaves sv->pools (status,
 * metrics) for sv->parked, and is freed once no job points at it.
 * supervisor_sweep_soon() runs supervisor_sweep() from the loop, where no
 * caller holds a pool.
 */
void	supervisor_sweep_soon(struct supervisor *);
void	supervisor_sweep(struct supervisor *);
/*
 * A removed pool named like pc (still finishing its jobs, or parked)
 * serves again with pc; NULL if there is none.
 */
struct pool *supervisor_pool_revive(struct supervisor *, struct pool_config *);
/*
 * The order pools start in (order.c): start a new pool now, or hold it
 * back until every pool it depends_on has a ready worker; and the job
 * engine's word that a worker of some pool became ready.
 */
void	supervisor_pool_begin(struct supervisor *, struct pool *);
void	supervisor_pool_ready(void *arg, struct pool *);
/*
 * Gateway pools (gateway.c, SPEC section 12): a cluster node takes
 * submits for the pools live nodes run, also those its file has no
 * section for. gateway_start() follows the cluster's registry from now
 * on (nothing without a cluster); gateway_sync() makes the gateway pools
 * match the registry as last read.
 */
void	gateway_start(struct supervisor *);
void	gateway_sync(struct supervisor *);
/* Clients connected to the services (the status document's "connections"). */
int	supervisor_clients(const struct supervisor *);
/* Each service's members of the status document (see status). */
void	supervisor_services_status(const struct supervisor *, struct buf *);
/* The state of the running service svc, or NULL. */
void	*supervisor_service_state(const struct supervisor *,
	    const struct supervisor_service *svc);

#endif
