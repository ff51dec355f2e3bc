/*
 * The supervisor process (see supervisor.h): loads the config, opens the
 * log, starts the pools and runs the one event loop until a graceful stop
 * has brought every worker down.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/log.h"
#include "common/privfile.h"
#include "common/sdnotify.h"
#include "common/spawn.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/authkey.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/notify.h"
#include "supervisor/output.h"
#include "supervisor/pool.h"
#include "supervisor/schedule.h"
#include "supervisor/supervisor.h"


/* Route log_*() into the serialized output log. */
static void
supervisor_log_sink(enum log_level level, const char *msg, void *arg)
{
	static const char *const names[] = { "fatal", "warn", "info", "debug" };
	struct supervisor	*sv = arg;

	output_message(names[level], msg, sv->loop != NULL ? ev_now(sv->loop) :
	    time_wall());
	if (level == LOG_LEVEL_FATAL)
		output_sync();
}

/* Flush the log once per loop iteration, just before the loop blocks. */
static void
supervisor_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct supervisor	*sv = w->data;
	size_t			 i;

	/*
	 * Commit first: it releases the replies and jobs that waited for it.
	 * A pipelined commit still under way holds the job lines of the
	 * starts it records, and those of later ones (dispatch_landed()).
	 */
	dispatch_commit(0);
	if (!queue_commit_busy(sv->queue))
		dispatch_flush();
	for (i = 0; i < sv->nservices; i++)
		if (sv->services[i].svc->flush != NULL)
			sv->services[i].svc->flush(sv->services[i].state);
	output_flush();
}

int
supervisor_clients(const struct supervisor *sv)
{
	const struct supervisor_running_service	*rs;
	int					 n = 0;
	size_t					 i;

	for (i = 0; i < sv->nservices; i++) {
		rs = &sv->services[i];
		if (rs->svc->clients != NULL)
			n += rs->svc->clients(rs->state);
	}
	return n;
}

void
supervisor_services_status(const struct supervisor *sv, struct buf *b)
{
	const struct supervisor_running_service	*rs;
	size_t					 i;

	for (i = 0; i < sv->nservices; i++) {
		rs = &sv->services[i];
		if (rs->svc->status != NULL && rs->state != NULL)
			rs->svc->status(rs->state, b);
	}
}

void *
supervisor_service_state(const struct supervisor *sv,
    const struct supervisor_service *svc)
{
	size_t	i;

	for (i = 0; i < sv->nservices; i++)
		if (sv->services[i].svc == svc)
			return sv->services[i].state;
	return NULL;
}

/* Removed pools are parked and freed here, from the loop. */
static void
supervisor_sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	supervisor_sweep(t->data);
}

void
supervisor_sweep_soon(struct supervisor *sv)
{
	if (!ev_is_active(&sv->sweep_timer))
		ev_timer_start(sv->loop, &sv->sweep_timer);
}

/* A removed pool's last job is gone: it can be freed. */
static void
supervisor_pool_unused(void *arg, struct pool *pool)
{
	supervisor_sweep_soon(arg);
}

/* A pool has no live workers left; exits the loop when all are done. */
static void
supervisor_pool_stopped(void *arg, struct pool *pool)
{
	struct supervisor	*sv = arg;
	size_t			 i;

	if (pool->removed)
		supervisor_sweep_soon(sv);
	if (!sv->stopping)
		return;
	for (i = 0; i < sv->npools; i++)
		if (sv->pools[i]->state != POOL_STOPPED)
			return;
	ev_break(sv->loop, EVBREAK_ALL);
}

/* While stopping: a running job ended; stop pools with none left. */
static void
supervisor_job_ended(void *arg)
{
	struct supervisor	*sv = arg;
	size_t			 i;

	if (!sv->stopping)
		return;
	for (i = 0; i < sv->npools; i++)
		if (dispatch_pool_inflight(sv->pools[i]) == 0)
			pool_stop(sv->pools[i]);
}

static void
supervisor_shutdown_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct supervisor	*sv = t->data;
	size_t			 i;

	log_warnx("jobs still running after shutdown_timeout (%.1fs); "
	    "stopping their workers", sv->cfg->shutdown_timeout);
	for (i = 0; i < sv->npools; i++)
		pool_stop(sv->pools[i]);
}

/*
 * Graceful stop: accept nothing more, let running jobs finish within
 * shutdown_timeout, then stop the workers.
 */
void
supervisor_stop(struct supervisor *sv)
{
	size_t	running;

	if (sv->stopping)
		return;
	sv->stopping = 1;
	notify_stopping(sv->notify);
	if (sv->schedules != NULL)
		schedules_stop(sv->schedules);
	for (size_t i = 0; i < sv->nservices; i++)
		if (sv->services[i].svc->stop_accepting != NULL)
			sv->services[i].svc->stop_accepting(
			    sv->services[i].state);
	running = 0;
	for (size_t i = 0; i < sv->npools; i++)
		running += (size_t)dispatch_pool_inflight(sv->pools[i]);
	if (running > 0)
		log_info("stopping: waiting up to %.1fs for %zu running "
		    "job%s", sv->cfg->shutdown_timeout, running,
		    running == 1 ? "" : "s");
	else
		log_info("stopping");
	ev_timer_init(&sv->shutdown_timer, supervisor_shutdown_cb,
	    sv->cfg->shutdown_timeout, 0);
	sv->shutdown_timer.data = sv;
	ev_timer_start(sv->loop, &sv->shutdown_timer);
	supervisor_job_ended(sv);
	if (sv->npools == 0)
		ev_break(sv->loop, EVBREAK_ALL);
}

static void
supervisor_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct supervisor	*sv = w->data;
	size_t			 i;

	switch (w->signum) {
	case SIGTERM:
	case SIGINT:
		if (!sv->stopping) {
			log_info("received SIG%s", w->signum == SIGTERM ?
			    "TERM" : "INT");
			supervisor_stop(sv);
			break;
		}
		/* A second request does not wait for stop_timeout. */
		log_warnx("received SIG%s again: killing all workers now",
		    w->signum == SIGTERM ? "TERM" : "INT");
		for (i = 0; i < sv->npools; i++)
			pool_kill(sv->pools[i]);
		break;
	case SIGUSR1: {
		char *cause = NULL;

		if (output_reopen(&cause) == -1) {
			log_warnx("reopening the log: %s", cause);
			free(cause);
		} else
			log_info("log reopened");
		break;
	}
	case SIGHUP: {
		char *msg = NULL;

		log_info("received SIGHUP: reloading %s", sv->cfg->path);
		(void)supervisor_reload(sv, &msg);
		free(msg);
		break;
	}
	}
}

/* Write our pid to path: 0600, never through a symlink (privfile.h). */
static int
supervisor_write_pidfile(const char *path, char **cause)
{
	char	buf[32];
	int	fd, n;

	if ((fd = privfile_open(path, O_WRONLY | O_TRUNC, PRIVFILE_MODE,
	    cause)) == -1)
		return -1;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		xasprintf(cause, "%s: write: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) == -1) {
		xasprintf(cause, "%s: close: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void
supervisor_signal_init(struct supervisor *sv, ev_signal *w, int signum)
{
	ev_signal_init(w, supervisor_signal_cb, signum);
	w->data = sv;
	ev_signal_start(sv->loop, w);
}

/* Stop and free the services, the last started first. */
static void
supervisor_services_free(struct supervisor *sv)
{
	struct supervisor_running_service	*rs;

	while (sv->nservices > 0) {
		rs = &sv->services[--sv->nservices];
		if (rs->state != NULL)
			rs->svc->free(rs->state);
	}
}

/* Start the services the command line asked for; -1 once one failed. */
static int
supervisor_services_start(struct supervisor *sv,
    const struct supervisor_options *opts)
{
	const struct supervisor_service	*svc;
	void				*state;
	char				*cause;
	size_t				 i;

	for (i = 0; i < opts->nservices && i < SUPERVISOR_MAX_SERVICES; i++) {
		svc = opts->services[i];
		state = NULL;
		cause = NULL;
		if (svc->start(sv, &state, &cause) == -1) {
			if (cause != NULL) {
				fprintf(stderr, "mpsup: %s%s%s\n", svc->name ?
				    svc->name : "", svc->name ? ": " : "",
				    cause);
				log_warnx("%s%s%s", svc->name ? svc->name : "",
				    svc->name ? ": " : "", cause);
				free(cause);
			}
			return -1;
		}
		sv->services[sv->nservices].svc = svc;
		sv->services[sv->nservices++].state = state;
	}
	return 0;
}

/* Check what the config asks of the process; 2 (after saying why) if not. */
static int
supervisor_check_creds(const struct config *cfg)
{
	size_t	i;

	for (i = 0; i < cfg->npools; i++) {
		if ((cfg->pools[i]->user != NULL ||
		    cfg->pools[i]->group != NULL) && geteuid() != 0) {
			fprintf(stderr, "%s:%d: pool '%s': user/group need "
			    "mpsup to run as root\n", cfg->path,
			    cfg->pools[i]->line, cfg->pools[i]->name);
			return 2;
		}
	}
	return 0;
}

/*
 * Open the queue the config names: memory or SQLite on one machine, or,
 * with cluster set, the queue the nodes share in Redis, with the secret
 * of cluster_password_file (read here by the key files' rules) for its
 * AUTH. NULL with *cause ("store: ..." or "cluster...: ...") if it cannot.
 */
static struct queue *
supervisor_queue_open(struct supervisor *sv, char **cause)
{
	const struct config	*cfg = sv->cfg;
	struct queue_cluster_opts o;
	struct queue		*q;
	unsigned char		*password = NULL;
	size_t			 len = 0;
	char			*why = NULL;

	if (cfg->cluster == NULL) {
		if ((q = queue_open(cfg->store,
		    cfg->store_sync == STORE_SYNC_FULL, cfg->store_mode,
		    sv->loop, &sv->cfg, &dispatch_queue_events, NULL,
		    &why)) == NULL) {
			xasprintf(cause, "store: %s", why);
			free(why);
		}
		return q;
	}
	if (cfg->cluster_password_file != NULL &&
	    authkey_load(cfg->cluster_password_file, 0, &password, &len,
	    &why) == -1) {
		xasprintf(cause, "cluster_password_file: %s", why);
		free(why);
		return NULL;
	}
	memset(&o, 0, sizeof o);
	o.host = cfg->cluster_host;
	o.port = cfg->cluster_port;
	o.path = cfg->cluster_path;
	o.db = cfg->cluster_db;
	o.password = password;
	o.password_len = len;
	o.label = cfg->cluster;	/* it never holds a password */
	o.node = cfg->node;
	o.lease = cfg->cluster_lease;
	q = queue_open_cluster(&o, sv->loop, &sv->cfg, &dispatch_queue_events,
	    NULL, &why);
	authkey_free(password, len);
	if (q == NULL) {
		xasprintf(cause, "cluster = %s: %s", cfg->cluster, why);
		free(why);
	}
	return q;
}

/*
 * Load the config and open what the supervisor holds before its loop
 * runs: the loop, the queue, the log, its own path and the pidfile. 2 after
 * printing why, with everything opened so far closed again.
 */
static int
supervisor_open(struct supervisor *sv, const struct supervisor_options *opts)
{
	struct config_errors	 errs = { NULL, 0 };
	char			 exe[PATH_MAX];
	char			*cause = NULL;
	ssize_t			 n;
	size_t			 i;

	if ((sv->cfg = config_load(opts->config_path, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_free(&errs);
		return 2;
	}
	if (opts->log_format >= 0)
		sv->cfg->log_format = opts->log_format;
	if (supervisor_check_creds(sv->cfg) != 0)
		goto fail;
	sv->loop = ev_default_loop(EVFLAG_AUTO);
	if ((sv->queue = supervisor_queue_open(sv, &cause)) == NULL) {
		fprintf(stderr, "mpsup: %s\n", cause);
		free(cause);
		goto fail;
	}
	if (output_open(sv->cfg->log, sv->cfg->log_mode,
	    sv->cfg->log_format, &cause) == -1) {
		fprintf(stderr, "mpsup: cannot open log: %s\n", cause);
		free(cause);
		goto fail;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) == -1) {
		fprintf(stderr, "mpsup: readlink /proc/self/exe: %s\n",
		    strerror(errno));
		goto fail;
	}
	exe[n] = '\0';
	sv->self_exe = xstrdup(exe);
	if (opts->pidfile != NULL) {
		if (supervisor_write_pidfile(opts->pidfile, &cause) == -1) {
			fprintf(stderr, "mpsup: cannot write pidfile: %s\n",
			    cause);
			free(cause);
			goto fail;
		}
		sv->pidfile = xstrdup(opts->pidfile);
	}
	return 0;
fail:
	output_close();
	queue_close(sv->queue);
	if (sv->loop != NULL)
		ev_loop_destroy(sv->loop);
	free(sv->self_exe);
	config_free(sv->cfg);
	return 2;
}

/* Close what supervisor_open() opened and the loop, in reverse order. */
static void
supervisor_close(struct supervisor *sv)
{
	size_t	i;

	if (sv->pidfile != NULL) {
		unlink(sv->pidfile);
		free(sv->pidfile);
	}
	queue_close(sv->queue);
	output_close();
	log_set_sink(NULL, NULL);
	ev_loop_destroy(sv->loop);
	free(sv->self_exe);
	config_free(sv->cfg);
	for (i = 0; i < sv->nold_cfgs; i++)
		config_free(sv->old_cfgs[i]);
	free(sv->old_cfgs);
}

/* The loop, its signals and the per-iteration flush. */
static void
supervisor_loop_init(struct supervisor *sv)
{
	struct sigaction	sa;
	char			*cause = NULL;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A file size limit makes store writes fail (store_error), not us. */
	sigaction(SIGXFSZ, &sa, NULL);
	/* Orphans of our workers come back to us to be reaped. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);

	sv->started_at = ev_now(sv->loop);
	supervisor_signal_init(sv, &sv->sig_term, SIGTERM);
	supervisor_signal_init(sv, &sv->sig_int, SIGINT);
	supervisor_signal_init(sv, &sv->sig_hup, SIGHUP);
	supervisor_signal_init(sv, &sv->sig_usr1, SIGUSR1);
	ev_prepare_init(&sv->flush, supervisor_flush_cb);
	sv->flush.data = sv;
	ev_prepare_start(sv->loop, &sv->flush);
	ev_timer_init(&sv->sweep_timer, supervisor_sweep_cb, 0, 0);
	sv->sweep_timer.data = sv;
	if (output_start(sv->loop, &cause) == -1) {
		log_warnx("%s: the loop writes the log itself", cause);
		free(cause);
	}
}

/* What the workers and the job engine borrow from the supervisor. */
static void
supervisor_envs_init(struct supervisor *sv)
{
	sv->wenv.loop = sv->loop;
	sv->wenv.self_exe = sv->self_exe;
	sv->wenv.dir = sv->cfg->dir;
	sv->wenv.log_max_line = sv->cfg->log_max_line;
	sv->wenv.max_message = sv->cfg->max_message;
	sv->denv.loop = sv->loop;
	sv->denv.cfg = &sv->cfg;
	sv->denv.pools = &sv->pools;
	sv->denv.npools = &sv->npools;
	sv->denv.stopping = &sv->stopping;
	sv->denv.wenv = &sv->wenv;
	sv->denv.queue = sv->queue;
	queue_pipeline(sv->queue, dispatch_sealed, dispatch_landed, NULL);
	sv->denv.job_ended = supervisor_job_ended;
	sv->denv.pool_stopped = supervisor_pool_stopped;
	sv->denv.pool_unused = supervisor_pool_unused;
	sv->denv.worker_ready = supervisor_pool_ready;
	sv->denv.arg = sv;
}

struct pool *
supervisor_pool_new(struct supervisor *sv, struct pool_config *pc)
{
	return pool_new(pc, &dispatch_pool_events, &sv->wenv, sv->queue);
}

/* After the loop: the last commit, and what becomes of unfinished jobs. */
static void
supervisor_wind_down(struct supervisor *sv, int status)
{
	size_t	n;

	ev_timer_stop(sv->loop, &sv->shutdown_timer);
	if (status != 0)
		return;
	/* The last state changes (jobs that ended while stopping). */
	dispatch_commit(1);
	if ((n = dispatch_unfinished()) == 0)
		return;
	if (queue_durable(sv->queue))
		log_info("%zu unfinished job%s kept in the store for the next "
		    "start", n, n == 1 ? "" : "s");
	else
		log_warnx("%zu unfinished job%s dropped (store = memory)", n,
		    n == 1 ? "" : "s");
}

/* Say what starts: this mpsup, its config and the cluster it joins. */
static void
supervisor_log_start(const struct config *cfg)
{
	log_info("mpsup %s starting (pid %ld, config %s)", PACKAGE_VERSION,
	    (long)getpid(), cfg->path);
	/* The URL never holds a password: config_load refuses one. */
	if (cfg->cluster != NULL)
		log_info("cluster %s: node %s, lease %gs%s", cfg->cluster,
		    cfg->node, cfg->cluster_lease,
		    cfg->cluster_password_file != NULL ? ", with AUTH" : "");
}

int
supervisor_main(const struct supervisor_options *opts)
{
	struct supervisor	 sv;
	char			*cause = NULL;
	size_t			 i;
	int			 status;

	memset(&sv, 0, sizeof sv);
	/*
	 * Before any key is read: /proc then refuses our memory, environment
	 * and descriptors to processes of our user (exec jobs); no core dumps.
	 */
	(void)prctl(PR_SET_DUMPABLE, 0);
	/* Before any worker is forked: they must not inherit the socket. */
	if (sdnotify_open(&cause) == -1) {
		fprintf(stderr, "mpsup: %s\n", cause);
		free(cause);
		return 2;
	}
	/* While few fds are open; see spawn.h. */
	(void)spawn_reserve_fds();
	if ((status = supervisor_open(&sv, opts)) != 0) {
		sdnotify_close();
		return status;
	}
	log_set_sink(supervisor_log_sink, &sv);
	supervisor_loop_init(&sv);
	sv.notify = notify_new(sv.loop, &sv.pools, &sv.npools);
	supervisor_log_start(sv.cfg);
	supervisor_envs_init(&sv);
	dispatch_init(&sv.denv);
	if (queue_readonly(sv.queue))
		log_warnx("store: %s is on a read-only file system: the jobs "
		    "it holds run, submits answer store_error", sv.cfg->store + 7);
	if (supervisor_services_start(&sv, opts) == -1) {
		supervisor_services_free(&sv);
		dispatch_shutdown();
		notify_free(sv.notify);
		supervisor_close(&sv);
		sdnotify_close();
		return 2;
	}
	sv.npools = sv.cfg->npools;
	sv.pools = xcalloc(sv.npools, sizeof *sv.pools);
	for (i = 0; i < sv.npools; i++)
		sv.pools[i] = supervisor_pool_new(&sv, sv.cfg->pools[i]);
	/* Nothing is served before the loop runs: recover first. */
	if (dispatch_recover(&cause) == -1) {
		fprintf(stderr, "mpsup: store: %s\n", cause);
		log_warnx("store: %s", cause);
		free(cause);
		status = 2;
	} else {
		for (i = 0; i < sv.npools; i++)
			supervisor_pool_begin(&sv, sv.pools[i]);
		gateway_start(&sv);
		ev_now_update(sv.loop);
		sv.schedules = schedules_start(&(struct schedule_env){
		    sv.loop, &sv.cfg, &sv.pools, &sv.npools, sv.queue });
		notify_ready(sv.notify);
		ev_run(sv.loop, 0);
	}
	schedules_free(sv.schedules);
	supervisor_wind_down(&sv, status);
	supervisor_services_free(&sv);
	dispatch_shutdown();
	log_info("stopped");
	/* The queue frees the jobs it holds while their pools still exist. */
	queue_close(sv.queue);
	sv.queue = NULL;
	ev_timer_stop(sv.loop, &sv.sweep_timer);
	for (i = 0; i < sv.npools; i++)
		pool_free(sv.pools[i]);
	free(sv.pools);
	for (i = 0; i < sv.nparked; i++)
		pool_free(sv.parked[i]);
	free(sv.parked);
	notify_free(sv.notify);
	supervisor_close(&sv);
	sdnotify_close();
	return status;
}
