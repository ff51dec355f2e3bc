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
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "supervisor/dispatch.h"
#include "supervisor/monitor/http.h"
#include "supervisor/remote/listener.h"
#include "supervisor/output.h"
#include "supervisor/pool.h"
#include "store/store.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

struct supervisor	*supervisor;

/* Route log_*() into the serialized output log. */
static void
supervisor_log_sink(enum log_level level, const char *msg, void *arg)
{
	static const char *const names[] = { "fatal", "warn", "info", "debug" };

	output_message(names[level], msg, supervisor != NULL &&
	    supervisor->loop != NULL ? ev_now(supervisor->loop) : time_wall());
	if (level == LOG_LEVEL_FATAL)
		output_flush();
}

/* Flush the log once per loop iteration, just before the loop blocks. */
static void
supervisor_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	/* Commit first: it releases the replies and jobs that waited for it. */
	dispatch_commit(0);
	dispatch_flush();
	if (supervisor->listener != NULL)
		listener_flush(supervisor->listener);
	output_flush();
}

void
supervisor_pool_stopped(struct supervisor *sv, struct pool *pool)
{
	size_t	i;

	if (pool->removed)
		supervisor_sweep_soon(sv);
	if (!sv->stopping)
		return;
	for (i = 0; i < sv->npools; i++)
		if (sv->pools[i]->state != POOL_STOPPED)
			return;
	ev_break(sv->loop, EVBREAK_ALL);
}

void
supervisor_job_ended(struct supervisor *sv)
{
	size_t	i;

	if (!sv->stopping)
		return;
	for (i = 0; i < sv->npools; i++)
		if (pool_inflight(sv->pools[i]) == 0)
			pool_stop(sv->pools[i]);
}

/* Removed pools are parked and freed here, from the loop. */
static void
supervisor_sweep_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	supervisor_sweep(t->data);
}

/* Sweep removed pools in the next loop turn. */
void
supervisor_sweep_soon(struct supervisor *sv)
{
	if (!ev_is_active(&sv->sweep_timer))
		ev_timer_start(sv->loop, &sv->sweep_timer);
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
	if (sv->listener != NULL)
		listener_stop_accepting(sv->listener);
	running = 0;
	for (size_t i = 0; i < sv->npools; i++)
		running += (size_t)pool_inflight(sv->pools[i]);
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
	int			 j;

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
			for (j = 0; j < sv->pools[i]->nslots; j++)
				worker_kill(sv->pools[i]->slots[j]);
		break;
	case SIGUSR1:
		if (output_reopen() == -1)
			log_warn("reopening the log %s", sv->cfg->log);
		else
			log_info("log reopened");
		break;
	case SIGHUP: {
		char *msg = NULL;

		log_info("received SIGHUP: reloading %s", sv->cfg->path);
		(void)supervisor_reload(sv, &msg);
		free(msg);
		break;
	}
	}
}

static int
supervisor_write_pidfile(const char *path)
{
	char	buf[32];
	int	fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static void
supervisor_signal_init(struct supervisor *sv, ev_signal *w, int signum)
{
	ev_signal_init(w, supervisor_signal_cb, signum);
	w->data = sv;
	ev_signal_start(sv->loop, w);
}

int
supervisor_main(const struct supervisor_options *opts)
{
	struct supervisor	 sv;
	struct config_errors	 errs = { NULL, 0 };
	struct sigaction	 sa;
	char			 exe[PATH_MAX];
	char			*cause = NULL;
	ssize_t			 n;
	size_t			 i;
	int			 status = 0;

	memset(&sv, 0, sizeof sv);
	sv.cfg = config_load(opts->config_path, &errs);
	if (sv.cfg == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msgs[i]);
		config_errors_free(&errs);
		return 2;
	}
	if (opts->log_format >= 0)
		sv.cfg->log_format = opts->log_format;
	for (i = 0; i < sv.cfg->npools; i++) {
		if ((sv.cfg->pools[i]->user != NULL ||
		    sv.cfg->pools[i]->group != NULL) && geteuid() != 0) {
			fprintf(stderr, "%s:%d: pool '%s': user/group need "
			    "mpsup to run as root\n", sv.cfg->path,
			    sv.cfg->pools[i]->line, sv.cfg->pools[i]->name);
			config_free(sv.cfg);
			return 2;
		}
	}
	if ((sv.store = store_open(sv.cfg->store,
	    sv.cfg->store_sync == STORE_SYNC_FULL, &cause)) == NULL) {
		fprintf(stderr, "mpsup: store: %s\n", cause);
		free(cause);
		config_free(sv.cfg);
		return 2;
	}
	if (output_open(sv.cfg->log, sv.cfg->log_format) == -1) {
		fprintf(stderr, "mpsup: cannot open log %s: %s\n", sv.cfg->log,
		    strerror(errno));
		store_close(sv.store);
		config_free(sv.cfg);
		return 2;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof exe - 1)) == -1) {
		fprintf(stderr, "mpsup: readlink /proc/self/exe: %s\n",
		    strerror(errno));
		store_close(sv.store);
		config_free(sv.cfg);
		return 2;
	}
	exe[n] = '\0';
	sv.self_exe = xstrdup(exe);
	if (opts->pidfile != NULL) {
		if (supervisor_write_pidfile(opts->pidfile) == -1) {
			fprintf(stderr, "mpsup: cannot write pidfile %s: %s\n",
			    opts->pidfile, strerror(errno));
			store_close(sv.store);
			free(sv.self_exe);
			config_free(sv.cfg);
			return 2;
		}
		sv.pidfile = xstrdup(opts->pidfile);
	}

	supervisor = &sv;
	log_set_sink(supervisor_log_sink, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* A file size limit makes store writes fail (store_error), not us. */
	sigaction(SIGXFSZ, &sa, NULL);
	/* Orphans of our workers come back to us to be reaped. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);

	sv.loop = ev_default_loop(EVFLAG_AUTO);
	sv.started_at = ev_now(sv.loop);
	supervisor_signal_init(&sv, &sv.sig_term, SIGTERM);
	supervisor_signal_init(&sv, &sv.sig_int, SIGINT);
	supervisor_signal_init(&sv, &sv.sig_hup, SIGHUP);
	supervisor_signal_init(&sv, &sv.sig_usr1, SIGUSR1);
	ev_prepare_init(&sv.flush, supervisor_flush_cb);
	ev_prepare_start(sv.loop, &sv.flush);
	ev_timer_init(&sv.sweep_timer, supervisor_sweep_cb, 0, 0);
	sv.sweep_timer.data = &sv;

	log_info("mpsup %s starting (pid %ld, config %s)", PACKAGE_VERSION,
	    (long)getpid(), sv.cfg->path);
	dispatch_init(&sv, sv.store);
	if (store_readonly(sv.store))
		log_warnx("store: %s is on a read-only file system: the jobs "
		    "it holds run, submits answer store_error", sv.cfg->store + 7);
	if (sv.cfg->status != NULL &&
	    (sv.http = http_new(&sv, &cause)) == NULL) {
		fprintf(stderr, "mpsup: status: %s\n", cause);
		log_warnx("status: %s", cause);
		free(cause);
	}
	if ((sv.cfg->status != NULL && sv.http == NULL) ||
	    (sv.listener = listener_new(&sv)) == NULL) {
		http_free(sv.http);
		output_close();
		log_set_sink(NULL, NULL);
		if (sv.pidfile != NULL) {
			unlink(sv.pidfile);
			free(sv.pidfile);
		}
		ev_loop_destroy(sv.loop);
		supervisor = NULL;
		store_close(sv.store);
		free(sv.self_exe);
		config_free(sv.cfg);
		return 2;
	}
	sv.npools = sv.cfg->npools;
	sv.pools = xcalloc(sv.npools, sizeof *sv.pools);
	for (i = 0; i < sv.npools; i++)
		sv.pools[i] = pool_new(&sv, sv.cfg->pools[i]);
	/* Nothing is served before the loop runs: recover first. */
	if (dispatch_recover(&cause) == -1) {
		fprintf(stderr, "mpsup: store: %s\n", cause);
		log_warnx("store: %s", cause);
		free(cause);
		status = 2;
	} else {
		for (i = 0; i < sv.npools; i++)
			pool_start(sv.pools[i]);
		ev_run(sv.loop, 0);
	}

	ev_timer_stop(sv.loop, &sv.shutdown_timer);
	/* The last state changes (jobs that ended while stopping). */
	if (status == 0)
		dispatch_commit(1);
	if ((n = (ssize_t)dispatch_unfinished()) > 0 && status == 0) {
		if (store_durable(sv.store))
			log_info("%zd unfinished job%s kept in the store for "
			    "the next start", n, n == 1 ? "" : "s");
		else
			log_warnx("%zd unfinished job%s dropped (store = "
			    "memory)", n, n == 1 ? "" : "s");
	}
	listener_free(sv.listener);
	sv.listener = NULL;
	http_free(sv.http);
	sv.http = NULL;
	dispatch_shutdown();
	log_info("stopped");
	ev_timer_stop(sv.loop, &sv.sweep_timer);
	for (i = 0; i < sv.npools; i++)
		pool_free(sv.pools[i]);
	free(sv.pools);
	for (i = 0; i < sv.nparked; i++)
		pool_free(sv.parked[i]);
	free(sv.parked);
	if (sv.pidfile != NULL) {
		unlink(sv.pidfile);
		free(sv.pidfile);
	}
	store_close(sv.store);
	output_close();
	log_set_sink(NULL, NULL);
	ev_loop_destroy(sv.loop);
	supervisor = NULL;
	free(sv.self_exe);
	config_free(sv.cfg);
	for (i = 0; i < sv.nold_cfgs; i++)
		config_free(sv.old_cfgs[i]);
	free(sv.old_cfgs);
	return status;
}
