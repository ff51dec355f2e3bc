/*
 * Worker processes: spawn, log streams, reaping and stopping (see
 * worker.h). The pool decides about restarts; this file only reports when
 * a process is gone for good.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "common/spawn.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

extern char **environ;

static void	worker_child_cb(struct ev_loop *, ev_child *, int);
static void	worker_stream_cb(struct ev_loop *, ev_io *, int);
static void	worker_job_out_cb(struct ev_loop *, ev_io *, int);
static void	worker_grace_cb(struct ev_loop *, ev_timer *, int);
static void	worker_kill_cb(struct ev_loop *, ev_timer *, int);
static void	worker_healthy_cb(struct ev_loop *, ev_timer *, int);
static void	worker_idle_cb(struct ev_loop *, ev_timer *, int);
static void	worker_try_finish(struct worker *);

const char *
worker_state_name(enum worker_state s)
{
	switch (s) {
	case WORKER_DEAD: return "dead";
	case WORKER_READY: return "idle";
	case WORKER_BUSY: return "busy";
	case WORKER_STOPPING: return "stopping";
	}
	return "?";
}

struct worker *
worker_new(struct pool *pool, int index)
{
	struct worker	*w = xcalloc(1, sizeof *w);

	w->pool = pool;
	w->index = index;
	w->state = WORKER_DEAD;
	w->delay = pool->pc->restart_delay;
	w->out.w = w->err.w = w;
	w->out.which = OUTPUT_STREAM_OUT;
	w->err.which = OUTPUT_STREAM_ERR;
	w->out.fd = w->err.fd = w->job_in_fd = w->job_out_fd = -1;
	TAILQ_INIT(&w->inflight);
	ev_timer_init(&w->restart_timer, NULL, 0, 0);
	ev_timer_init(&w->healthy_timer, worker_healthy_cb, 0, 0);
	ev_timer_init(&w->grace_timer, worker_grace_cb, 0, 0);
	ev_timer_init(&w->kill_timer, worker_kill_cb, 0, 0);
	ev_timer_init(&w->idle_timer, worker_idle_cb, 0, 0);
	w->healthy_timer.data = w->grace_timer.data = w->kill_timer.data = w;
	w->idle_timer.data = w;
	return w;
}

static void
worker_close_fd(struct ev_loop *loop, ev_io *io, int *fd)
{
	if (*fd == -1)
		return;
	ev_io_stop(loop, io);
	close(*fd);
	*fd = -1;
}

void
worker_free(struct worker *w)
{
	struct ev_loop	*loop = supervisor->loop;

	ev_timer_stop(loop, &w->restart_timer);
	ev_timer_stop(loop, &w->healthy_timer);
	ev_timer_stop(loop, &w->grace_timer);
	ev_timer_stop(loop, &w->kill_timer);
	ev_timer_stop(loop, &w->idle_timer);
	if (w->pid > 0 && !w->reaped)
		ev_child_stop(loop, &w->child);
	worker_close_fd(loop, &w->out.io, &w->out.fd);
	worker_close_fd(loop, &w->err.io, &w->err.fd);
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	worker_close_fd(loop, &w->job_out_io, &w->job_out_fd);
	linebuf_free(&w->out.lines);
	linebuf_free(&w->err.lines);
	linebuf_free(&w->job_out);
	buf_free(&w->job_in);
	free(w);
}

int
worker_alive(const struct worker *w)
{
	return w->pid > 0 && !w->reaped;
}

/* Write every whole line buffered on a log stream to the output log. */
static void
worker_stream_drain(struct worker_stream *ws, int eof)
{
	struct worker		*w = ws->w;
	struct output_tag	 tag;
	const char		*line;
	size_t			 len;
	int			 flags;
	double			 now = ev_now(supervisor->loop);

	tag.pool = w->pool->name;
	tag.worker = w->index;
	tag.pid = w->pid;
	/* Lines can be attributed to a job only when one is in flight. */
	tag.job = w->ninflight == 1 ? TAILQ_FIRST(&w->inflight)->id : NULL;
	while (linebuf_next(&ws->lines, eof, &line, &len, &flags))
		output_line(&tag, ws->which, line, len, flags, now);
}

static void
worker_stream_close(struct worker_stream *ws)
{
	worker_stream_drain(ws, 1);
	worker_close_fd(supervisor->loop, &ws->io, &ws->fd);
	linebuf_free(&ws->lines);
}

static void
worker_stream_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker_stream	*ws = io->data;
	ssize_t			 n;

	n = linebuf_read(&ws->lines, ws->fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		worker_stream_close(ws);
		worker_try_finish(ws->w);
		return;
	}
	worker_stream_drain(ws, 0);
}

/* Read what a log pipe holds right now, without blocking. */
static void
worker_stream_drain_now(struct worker_stream *ws)
{
	ssize_t	n;

	while (ws->fd != -1) {
		n = linebuf_read(&ws->lines, ws->fd);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			break;
		if (n <= 0) {
			worker_stream_close(ws);
			break;
		}
		worker_stream_drain(ws, 0);
	}
}

void
worker_drain_logs(struct worker *w)
{
	worker_stream_drain_now(&w->out);
	worker_stream_drain_now(&w->err);
}

/* Results from the worker's job channel, one JSON line each. */
static void
worker_job_out_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	const char	*line;
	size_t		 len;
	ssize_t		 n;
	int		 flags, exec = w->pool->pc->type == POOL_TYPE_EXEC;
	char		*why;

	n = linebuf_read(&w->job_out, w->job_out_fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	/*
	 * A worker writes a job's log lines before its result: read them
	 * now, so they are tagged with the job while it is still in flight.
	 */
	if (!exec && w->ninflight == 1)
		worker_drain_logs(w);
	while (w->job_out_fd != -1 &&
	    linebuf_next(&w->job_out, n <= 0, &line, &len, &flags)) {
		/* The exec worker writes a job's output before its result. */
		if (exec)
			worker_drain_logs(w);
		if (flags != 0 || dispatch_result(w, line, len) == -1) {
			xasprintf(&why, "%s result line: %.*s%s",
			    flags & LINE_CONT ? "over-long" : "malformed",
			    (int)(len > 200 ? 200 : len), line,
			    len > 200 ? "..." : "");
			if (exec)
				log_warnx("%s.%d: BUG: the exec worker broke "
				    "the protocol", w->pool->name, w->index);
			worker_fail(w, why, NULL);
			free(why);
			n = 0;
			break;
		}
	}
	if (n <= 0) {
		worker_close_fd(loop, &w->job_out_io, &w->job_out_fd);
		linebuf_free(&w->job_out);
		worker_try_finish(w);
	}
}

void
worker_fail(struct worker *w, const char *why, struct job *culprit)
{
	if (!worker_alive(w))
		return;
	log_warnx("%s.%d[%ld]: %s; killing it", w->pool->name, w->index,
	    (long)w->pid, why);
	if (w->gone_reason == NULL) {
		w->gone_reason = xstrdup(why);
		w->culprit = culprit;
	}
	dispatch_worker_lost(w);
	(void)spawn_signal(w->pid, SIGKILL);
}

static void
worker_job_in_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	worker_flush_jobs(io->data);
}

void
worker_flush_jobs(struct worker *w)
{
	ssize_t	n;

	while (w->job_in_fd != -1 && buf_used(&w->job_in) > 0) {
		n = buf_write_fd(&w->job_in, w->job_in_fd);
		if (n >= 0)
			continue;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			ev_io_start(supervisor->loop, &w->job_in_io);
			return;
		}
		/* EPIPE: the worker is going; its reaping retries the jobs. */
		buf_reset(&w->job_in);
		break;
	}
	if (w->job_in_fd != -1)
		ev_io_stop(supervisor->loop, &w->job_in_io);
	buf_trim(&w->job_in, 1 << 20);
}

static int
worker_pipe(int fds[2], int nonblock_end)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	if (fcntl(fds[nonblock_end], F_SETFL, O_NONBLOCK) == -1) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	return 0;
}

static void
worker_stream_open(struct worker_stream *ws, int fd)
{
	ws->fd = fd;
	linebuf_init(&ws->lines, supervisor->cfg->log_max_line);
	ev_io_init(&ws->io, worker_stream_cb, fd, EV_READ);
	ws->io.data = ws;
	ev_io_start(supervisor->loop, &ws->io);
}

/* The argv of the process for this pool's workers. */
static char **
worker_argv(struct worker *w, char **owned)
{
	struct pool_config	*pc = w->pool->pc;
	char			**argv;
	static const char *const outputs[] = { "log", "capture", "both" };

	if (pc->type == POOL_TYPE_STREAM)
		return pc->argv;
	argv = xcalloc(7, sizeof *argv);
	argv[0] = supervisor->self_exe;
	argv[1] = (char *)"exec-worker";
	argv[2] = (char *)"--output";
	argv[3] = (char *)outputs[pc->output];
	argv[4] = (char *)"--capture-max";
	xasprintf(&argv[5], "%llu", (unsigned long long)pc->capture_max);
	*owned = argv[5];
	return argv;
}

int
worker_spawn(struct worker *w)
{
	struct pool		*pool = w->pool;
	struct pool_config	*pc = pool->pc;
	struct spawn_spec	 sp;
	int			 out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int			 jin[2] = { -1, -1 }, jout[2] = { -1, -1 };
	int			 use34 = pc->job_fds == JOB_FDS_34 ||
				    pc->type == POOL_TYPE_EXEC;
	char			*extra[5], **envp, **argv, *owned = NULL;
	const char		*pypath;
	pid_t			 pid;

	memset(&sp, 0, sizeof sp);
	if (worker_pipe(err, 0) == -1 || worker_pipe(jin, 1) == -1 ||
	    worker_pipe(jout, 0) == -1 || (use34 && worker_pipe(out, 0) == -1)) {
		log_warn("%s.%d: pipe", pool->name, w->index);
		goto fail;
	}
	xasprintf(&extra[0], "MPSUP_POOL=%s", pool->name);
	xasprintf(&extra[1], "MPSUP_WORKER=%d", w->index);
	xasprintf(&extra[2], "MPSUP_SUPERVISOR_PID=%ld", (long)getpid());
	xasprintf(&extra[3], "MPSUP_JOB_FDS=%s", use34 ? "3,4" : "stdio");
	envp = spawn_env_build(environ, pc->env, pc->nenv);
	/* Python workers find the installed helper, mpsup_worker.py. */
	pypath = NULL;
	for (char **e = envp; *e != NULL; e++)
		if (strncmp(*e, "PYTHONPATH=", 11) == 0)
			pypath = *e + 11;
	if (pypath != NULL && *pypath != '\0')
		xasprintf(&extra[4], "PYTHONPATH=%s:%s", pypath,
		    MPSUP_PKGDATADIR);
	else
		xasprintf(&extra[4], "PYTHONPATH=%s", MPSUP_PKGDATADIR);
	{
		char **full = spawn_env_build(envp, extra, 5);
		spawn_env_free(envp);
		envp = full;
	}
	argv = worker_argv(w, &owned);
	sp.path = argv[0];
	sp.argv = argv;
	sp.envp = envp;
	/* Relative paths in a command mean what they do in the config. */
	sp.cwd = pc->cwd != NULL ? pc->cwd : supervisor->cfg->dir;
	if (pc->user != NULL || pc->group != NULL) {
		sp.set_creds = 1;
		sp.uid = pc->user != NULL ? pc->uid : getuid();
		sp.gid = pc->gid;
		sp.user = pc->user;
	}
	if (use34) {
		sp.fds[0] = -1;
		sp.fds[1] = out[1];
		sp.fds[2] = err[1];
		sp.fds[3] = jin[0];
		sp.fds[4] = jout[1];
		sp.nfds = 5;
	} else {
		sp.fds[0] = jin[0];
		sp.fds[1] = jout[1];
		sp.fds[2] = err[1];
		sp.nfds = 3;
	}
	pid = spawn_process(&sp);
	spawn_env_free(envp);
	for (int i = 0; i < 5; i++)
		free(extra[i]);
	if (argv != pc->argv) {
		free(owned);
		free(argv);
	}
	if (pid == -1) {
		log_warn("%s.%d: fork", pool->name, w->index);
		goto fail;
	}
	close(err[1]);
	close(jin[0]);
	close(jout[1]);
	if (use34)
		close(out[1]);

	w->pid = pid;
	w->generation++;
	w->cfg_gen = pool->cfg_gen;
	w->reaped = 0;
	w->stop_requested = 0;
	w->started_at = ev_now(supervisor->loop);
	w->started_mono = ev_now(supervisor->loop);
	w->state = WORKER_READY;
	if (use34)
		worker_stream_open(&w->out, out[0]);
	worker_stream_open(&w->err, err[0]);
	w->job_in_fd = jin[1];
	w->job_out_fd = jout[0];
	ev_io_init(&w->job_in_io, worker_job_in_cb, w->job_in_fd, EV_WRITE);
	w->job_in_io.data = w;
	linebuf_init(&w->job_out, supervisor->cfg->max_message);
	ev_io_init(&w->job_out_io, worker_job_out_cb, w->job_out_fd, EV_READ);
	w->job_out_io.data = w;
	ev_io_start(supervisor->loop, &w->job_out_io);

	ev_child_init(&w->child, worker_child_cb, pid, 0);
	w->child.data = w;
	ev_child_start(supervisor->loop, &w->child);
	ev_timer_set(&w->healthy_timer, SUPERVISOR_HEALTHY_UPTIME, 0);
	ev_timer_start(supervisor->loop, &w->healthy_timer);
	log_debug("%s.%d: started pid %ld", pool->name, w->index, (long)pid);
	dispatch_worker_ready(w);
	worker_idle_check(w);
	return 0;

fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] != -1) close(out[i]);
		if (err[i] != -1) close(err[i]);
		if (jin[i] != -1) close(jin[i]);
		if (jout[i] != -1) close(jout[i]);
	}
	pool_worker_gone(pool, w, 0);
	return -1;
}

/* Describe a wait status for the log. */
static void
worker_describe_status(int status, char *out, size_t len)
{
	if (WIFEXITED(status))
		snprintf(out, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, len, "killed by signal %d (SIG%s)%s",
		    WTERMSIG(status), signal_name(WTERMSIG(status)),
		    WCOREDUMP(status) ? ", core dumped" : "");
	else
		snprintf(out, len, "changed state (0x%x)", status);
}

static void
worker_child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker	*w = c->data;
	char		 desc[128];
	double		 uptime = ev_now(loop) - w->started_mono;
	size_t		 left;

	ev_child_stop(loop, c);
	w->reaped = 1;
	dispatch_worker_lost(w);
	w->wstatus = c->rstatus;
	ev_timer_stop(loop, &w->healthy_timer);
	ev_timer_stop(loop, &w->kill_timer);
	ev_timer_stop(loop, &w->idle_timer);
	/*
	 * Take anything the worker left behind in its group with it, and,
	 * unless it exited 0 (a worker recycled after max_jobs_per_worker,
	 * which may be every job), what it put in other groups of its
	 * session: that needs a pass over /proc.
	 */
	(void)spawn_signal(w->pid, SIGKILL);
	if (!(WIFEXITED(c->rstatus) && WEXITSTATUS(c->rstatus) == 0) &&
	    (left = spawn_sweep_session(w->pid)) > 0)
		log_info("%s.%d[%ld]: killed %zu process%s it left behind",
		    w->pool->name, w->index, (long)w->pid, left,
		    left == 1 ? "" : "es");
	worker_describe_status(c->rstatus, desc, sizeof desc);
	if (w->stop_requested || w->gone_reason != NULL)
		log_info("%s.%d[%ld] stopped (%s)", w->pool->name, w->index,
		    (long)w->pid, desc);
	else
		log_warnx("%s.%d[%ld] %s after %.3fs", w->pool->name, w->index,
		    (long)w->pid, desc, uptime);
	/* No more jobs can be written to a dead process. */
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	buf_free(&w->job_in);
	ev_timer_set(&w->grace_timer, SUPERVISOR_PIPE_GRACE, 0);
	ev_timer_start(loop, &w->grace_timer);
	worker_try_finish(w);
}

/* Pipes kept open by a stray descendant: give up on them. */
static void
worker_grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	if (w->out.fd != -1)
		worker_stream_close(&w->out);
	if (w->err.fd != -1)
		worker_stream_close(&w->err);
	worker_close_fd(loop, &w->job_out_io, &w->job_out_fd);
	linebuf_free(&w->job_out);
	worker_try_finish(w);
}

/* Gone for good once reaped and every pipe is closed. */
static void
worker_try_finish(struct worker *w)
{
	double	uptime;

	if (!w->reaped || w->out.fd != -1 || w->err.fd != -1 ||
	    w->job_out_fd != -1 || w->state == WORKER_DEAD)
		return;
	ev_timer_stop(supervisor->loop, &w->grace_timer);
	uptime = ev_now(supervisor->loop) - w->started_mono;
	w->state = WORKER_DEAD;
	dispatch_worker_gone(w);
	pool_worker_gone(w->pool, w, uptime);
}

static void
worker_healthy_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	pool_worker_healthy(w->pool, w);
}

/* Arm (or disarm) the idle timer of an on-demand worker of a dynamic pool. */
void
worker_idle_check(struct worker *w)
{
	struct pool_config	*pc = w->pool->pc;

	if (!pc->dynamic || w->index < pc->min_workers || !worker_alive(w) ||
	    w->stop_requested || w->ninflight > 0) {
		ev_timer_stop(supervisor->loop, &w->idle_timer);
		return;
	}
	if (!ev_is_active(&w->idle_timer)) {
		ev_timer_set(&w->idle_timer, pc->idle_timeout, 0);
		ev_timer_start(supervisor->loop, &w->idle_timer);
	}
}

static void
worker_idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	if (w->ninflight > 0 || !worker_alive(w))
		return;
	log_info("%s.%d: idle for %.1fs; retiring it (idle_timeout)",
	    w->pool->name, w->index, w->pool->pc->idle_timeout);
	w->retire = 1;
	worker_stop(w);
}

void
worker_stop(struct worker *w)
{
	struct ev_loop	*loop = supervisor->loop;

	ev_timer_stop(loop, &w->restart_timer);
	if (!worker_alive(w) || w->stop_requested)
		return;
	w->stop_requested = 1;
	w->state = WORKER_STOPPING;
	/* EOF on its job input is the polite request for a stream worker. */
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	(void)spawn_signal(w->pid, w->pool->pc->stop_signal);
	ev_timer_set(&w->kill_timer, w->pool->pc->stop_timeout, 0);
	ev_timer_start(loop, &w->kill_timer);
}

static void
worker_kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	log_warnx("%s.%d[%ld] did not stop within %.1fs; killing its process "
	    "group", w->pool->name, w->index, (long)w->pid,
	    w->pool->pc->stop_timeout);
	worker_kill(w);
}

void
worker_kill(struct worker *w)
{
	if (worker_alive(w))
		(void)spawn_signal(w->pid, SIGKILL);
}
