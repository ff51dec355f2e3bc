/*
 * Worker processes: spawn, pipes, reaping and stopping (see worker.h).
 * What happens to a worker is reported to its owner through callbacks;
 * the pool decides about restarts and the dispatcher about jobs.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/linebuf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "common/spawn.h"
#include "ipc/jsontext.h"
#include "supervisor/output.h"
#include "supervisor/worker.h"
#include "supervisor/worker_log.h"
#include "supervisor/worker_proc.h"

struct worker {
	struct worker_env	*env;
	struct pool_config *const *pcp;	/* the pool's current config */
	const struct worker_cbs	*cbs;
	void			*arg;
	void			*data;		/* the dispatcher's */
	int			 index;
	enum worker_state	 state;
	pid_t			 pid;		/* also its process group */
	unsigned		 gen;		/* config generation */
	double			 started_at;	/* wall clock */
	double			 started_mono;
	int			 reaped;
	int			 sweep_session;	/* once gone: walk /proc for strays */
	int			 ready;		/* took jobs (ready = line: said so) */
	int			 stop_requested;
	int			 inflight;	/* the owner's count */
	char			*gone_reason;	/* why it was killed */
	ev_child		 child;
	ev_timer		 healthy_timer;
	ev_timer		 grace_timer;	/* pipes outliving the process */
	ev_timer		 kill_timer;	/* stop_timeout */
	ev_timer		 idle_timer;	/* dynamic pools: idle_timeout */
	struct worker_log	*out, *err;	/* log pipes, NULL once closed */

	/* Job channel (stream and exec pools). */
	int			 job_in_fd;	/* we write jobs */
	int			 job_out_fd;	/* we read results */
	ev_io			 job_in_io;
	ev_io			 job_out_io;
	struct buf		 job_in;	/* unsent job lines */
	size_t			 job_in_ready;	/* of them, committed: may go */
	size_t			 job_in_sealed;	/* in the commit under way */
	struct linebuf		 job_out;
	int			 dirty;		/* on env->dirty */
	struct worker		*dirty_next;
};

static void	worker_child_cb(struct ev_loop *, ev_child *, int);
static void	worker_job_in_cb(struct ev_loop *, ev_io *, int);
static void	worker_job_out_cb(struct ev_loop *, ev_io *, int);
static void	worker_grace_cb(struct ev_loop *, ev_timer *, int);
static void	worker_kill_cb(struct ev_loop *, ev_timer *, int);
static void	worker_healthy_cb(struct ev_loop *, ev_timer *, int);
static void	worker_idle_cb(struct ev_loop *, ev_timer *, int);
static void	worker_try_finish(struct worker *);
static void	worker_idle_check(struct worker *);
static void	worker_write_jobs(struct worker *);

const char *
worker_state_name(enum worker_state s)
{
	switch (s) {
	case WORKER_DEAD: return "dead";
	case WORKER_READY: return "idle";
	case WORKER_BUSY: return "busy";
	case WORKER_STOPPING: return "stopping";
	case WORKER_STARTING: return "starting";
	}
	return "?";
}

/* The pool's config now, and its name. */
#define W_PC(w)		(*(w)->pcp)
#define W_NAME(w)	(W_PC(w)->name)

struct worker *
worker_new(struct worker_env *env, struct pool_config *const *pcp, int index,
    const struct worker_cbs *cbs, void *arg)
{
	struct worker	*w = xcalloc(1, sizeof *w);

	w->env = env;
	w->pcp = pcp;
	w->cbs = cbs;
	w->arg = arg;
	w->index = index;
	w->state = WORKER_DEAD;
	w->job_in_fd = w->job_out_fd = -1;
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

/* Take w off the list of workers with unsent job lines. */
static void
worker_undirty(struct worker *w)
{
	struct worker	**pp;

	if (!w->dirty)
		return;
	for (pp = &w->env->dirty; *pp != NULL; pp = &(*pp)->dirty_next)
		if (*pp == w) {
			*pp = w->dirty_next;
			break;
		}
	w->dirty = 0;
	w->dirty_next = NULL;
}

void
worker_free(struct worker *w)
{
	struct ev_loop	*loop = w->env->loop;

	worker_undirty(w);
	ev_timer_stop(loop, &w->healthy_timer);
	ev_timer_stop(loop, &w->grace_timer);
	ev_timer_stop(loop, &w->kill_timer);
	ev_timer_stop(loop, &w->idle_timer);
	if (w->pid > 0 && !w->reaped) {
		ev_child_stop(loop, &w->child);
		worker_proc_reaped();
	}
	if (w->out != NULL)
		worker_log_close(w->out, 0);
	if (w->err != NULL)
		worker_log_close(w->err, 0);
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	worker_close_fd(loop, &w->job_out_io, &w->job_out_fd);
	linebuf_free(&w->job_out);
	buf_free(&w->job_in);
	free(w->gone_reason);
	free(w);
}

int
worker_alive(const struct worker *w)
{
	return w->pid > 0 && !w->reaped;
}

int
worker_index(const struct worker *w)
{
	return w->index;
}

enum worker_state
worker_state(const struct worker *w)
{
	return w->state;
}

pid_t
worker_pid(const struct worker *w)
{
	return w->pid;
}

double
worker_started_at(const struct worker *w)
{
	return w->started_at;
}

unsigned
worker_gen(const struct worker *w)
{
	return w->gen;
}

int
worker_stopping(const struct worker *w)
{
	return w->stop_requested;
}

void
worker_set_data(struct worker *w, void *data)
{
	w->data = data;
}

void *
worker_data(const struct worker *w)
{
	return w->data;
}

void
worker_set_inflight(struct worker *w, int n)
{
	w->inflight = n;
	if (n > 0 && w->state == WORKER_READY)
		w->state = WORKER_BUSY;
	else if (n == 0 && w->state == WORKER_BUSY)
		w->state = WORKER_READY;
	worker_idle_check(w);
}

void
worker_log_tag(struct worker *w, struct output_tag *tag)
{
	tag->pool = W_NAME(w);
	tag->worker = w->index;
	tag->pid = w->pid;
	tag->job = w->cbs->job_tag_cb(w, w->arg);
}

void
worker_log_ended(struct worker *w, enum output_stream which)
{
	if (which == OUTPUT_STREAM_OUT)
		w->out = NULL;
	else
		w->err = NULL;
	worker_try_finish(w);
}

/* Read whatever its log pipes hold right now (before a result lands). */
static void
worker_drain_logs(struct worker *w)
{
	if (w->out != NULL && worker_log_read_now(w->out))
		w->out = NULL;
	if (w->err != NULL && worker_log_read_now(w->err))
		w->err = NULL;
}

/* A result line the owner refused: kill the worker, say why. */
static void
worker_bad_line(struct worker *w, const char *line, size_t len, int flags,
    int exec)
{
	char	*why;

	xasprintf(&why, "%s result line: %.*s%s",
	    flags & LINE_CONT ? "over-long" : "malformed",
	    (int)(len > 200 ? 200 : len), line, len > 200 ? "..." : "");
	if (exec)
		log_warnx("%s.%d: BUG: the exec worker broke the protocol",
		    W_NAME(w), w->index);
	worker_fail(w, why);
	free(why);
}

/* Whether line is {"ready":true} (other members and white space allowed). */
static int
worker_ready_line(const char *line, size_t len)
{
	struct jsontext_span	obj, v;

	return jsontext_valid(line, len) &&
	    jsontext_scan(line, line + len, &obj) != NULL &&
	    obj.type == JSONTEXT_OBJECT &&
	    jsontext_object_get(&obj, "ready", &v) && v.type == JSONTEXT_TRUE;
}

/* A STARTING worker said it is ready: it may take jobs from now on. */
static void
worker_became_ready(struct worker *w)
{
	struct ev_loop	*loop = w->env->loop;

	log_debug("%s.%d[%ld]: ready after %.3fs", W_NAME(w), w->index,
	    (long)w->pid, ev_now(loop) - w->started_mono);
	w->state = WORKER_READY;
	w->ready = 1;
	/* Stability (the restart back-off) counts from readiness. */
	w->started_mono = ev_now(loop);
	ev_timer_stop(loop, &w->healthy_timer);
	ev_timer_set(&w->healthy_timer, WORKER_HEALTHY_UPTIME, 0);
	ev_timer_start(loop, &w->healthy_timer);
	w->cbs->spawned_cb(w, w->arg);
	worker_idle_check(w);
}

/* Results from the worker's job channel, one JSON line each. */
static void
worker_job_out_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker	*w = io->data;
	const char	*line;
	size_t		 len;
	ssize_t		 n;
	int		 flags, exec = W_PC(w)->type == POOL_TYPE_EXEC;

	n = linebuf_read(&w->job_out, w->job_out_fd);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	/*
	 * A worker writes a job's log lines before its result: read them
	 * now, so they are tagged with the job while it is still in flight.
	 */
	if (!exec && w->inflight == 1)
		worker_drain_logs(w);
	while (w->job_out_fd != -1 &&
	    linebuf_next(&w->job_out, n <= 0, &line, &len, &flags)) {
		/* The exec worker writes a job's output before its result. */
		if (exec)
			worker_drain_logs(w);
		/* (One asked to stop before it got ready may still say so.) */
		if (!w->ready && flags == 0 && worker_ready_line(line, len)) {
			if (w->state == WORKER_STARTING)
				worker_became_ready(w);
			continue;
		}
		if (flags != 0 || w->state == WORKER_STARTING ||
		    w->cbs->result_cb(w, line, len, w->arg) == -1) {
			worker_bad_line(w, line, len, flags, exec);
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
worker_fail(struct worker *w, const char *why)
{
	if (!worker_alive(w))
		return;
	log_warnx("%s.%d[%ld]: %s; killing it", W_NAME(w), w->index,
	    (long)w->pid, why);
	if (w->gone_reason == NULL)
		w->gone_reason = xstrdup(why);
	worker_undirty(w);
	w->cbs->lost_cb(w, w->arg);
	(void)spawn_signal(w->pid, SIGKILL);
}

/* Note that w has job lines to write at the next worker_flush_all(). */
static void
worker_mark_dirty(struct worker *w)
{
	if (!w->dirty) {
		w->dirty = 1;
		w->dirty_next = w->env->dirty;
		w->env->dirty = w;
	}
}

void
worker_send_job(struct worker *w, const char *id, size_t idlen,
    const char *data, size_t len, double timeout_ms)
{
	buf_reserve(&w->job_in, len + idlen + 48);
	buf_append(&w->job_in, "{\"id\":\"", 7);
	buf_append(&w->job_in, id, idlen);
	buf_append(&w->job_in, "\",\"data\":", 9);
	buf_append(&w->job_in, data, len);
	if (timeout_ms > 0)
		buf_appendf(&w->job_in, ",\"timeout_ms\":%.0f", timeout_ms);
	buf_append(&w->job_in, "}\n", 2);
	worker_mark_dirty(w);
}

int
worker_send_cancel(struct worker *w, const char *id)
{
	if (w->job_in_fd == -1)
		return -1;
	buf_appendf(&w->job_in, "{\"cancel\":\"%s\"}\n", id);
	worker_mark_dirty(w);
	return 0;
}

/*
 * Let go the job lines whose starts are committed: all buffered, or
 * (sealed) those worker_seal_all() set apart; the rest wait on the list.
 */
static void
worker_release(struct worker_env *env, int sealed)
{
	struct worker	*w, **pp = &env->dirty;

	while ((w = *pp) != NULL) {
		if (!sealed)
			w->job_in_sealed = buf_used(&w->job_in);
		if (w->job_in_sealed > w->job_in_ready) {
			w->job_in_ready = w->job_in_sealed;
			worker_write_jobs(w);
		}
		if (w->job_in_ready < buf_used(&w->job_in)) {
			pp = &w->dirty_next;
			continue;
		}
		*pp = w->dirty_next;
		w->dirty_next = NULL;
		w->dirty = 0;
	}
}

void
worker_flush_all(struct worker_env *env)
{
	worker_release(env, 0);
}

void
worker_seal_all(struct worker_env *env)
{
	struct worker	*w;

	for (w = env->dirty; w != NULL; w = w->dirty_next)
		w->job_in_sealed = buf_used(&w->job_in);
}

void
worker_flush_sealed(struct worker_env *env)
{
	worker_release(env, 1);
}

/*
 * Write the first job_in_ready bytes of job_in; arm a write watcher if
 * the pipe is full. A job's line is buffered when it starts; before the
 * loop blocks, the starts are committed (with a durable queue), then
 * worker_flush_all() makes all that is buffered ready. So when a full
 * pipe has room again (job_in_io), only lines whose start is committed go
 * out; those buffered since wait for the next commit, as README
 * "Durability" promises.
 */
static void
worker_write_jobs(struct worker *w)
{
	ssize_t	n;

	while (w->job_in_fd != -1 && w->job_in_ready > 0) {
		n = write(w->job_in_fd, buf_head(&w->job_in), w->job_in_ready);
		if (n >= 0) {
			buf_consume(&w->job_in, (size_t)n);
			w->job_in_ready -= (size_t)n;
			w->job_in_sealed -= w->job_in_sealed < (size_t)n ?
			    w->job_in_sealed : (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			ev_io_start(w->env->loop, &w->job_in_io);
			return;
		}
		/* EPIPE: the worker is going; its reaping retries the jobs. */
		buf_reset(&w->job_in);
		w->job_in_ready = w->job_in_sealed = 0;
		break;
	}
	if (w->job_in_fd != -1)
		ev_io_stop(w->env->loop, &w->job_in_io);
	buf_trim(&w->job_in, 1 << 20);
}

static void
worker_job_in_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	worker_write_jobs(io->data);
}

/* The parent's side of a spawned process: its pipes, child watcher, timers. */
static void
worker_started(struct worker *w, pid_t pid, int out0, int err0, int jin1,
    int jout0)
{
	struct ev_loop	*loop = w->env->loop;

	w->pid = pid;
	w->reaped = 0;
	w->stop_requested = 0;
	w->inflight = 0;
	free(w->gone_reason);
	w->gone_reason = NULL;
	w->started_at = ev_now(loop);
	w->started_mono = ev_now(loop);
	w->ready = !W_PC(w)->ready_line;
	w->state = w->ready ? WORKER_READY : WORKER_STARTING;
	if (out0 != -1)
		w->out = worker_log_open(w, loop, out0, OUTPUT_STREAM_OUT,
		    w->env->log_max_line);
	w->err = worker_log_open(w, loop, err0, OUTPUT_STREAM_ERR,
	    w->env->log_max_line);
	w->job_in_fd = jin1;
	w->job_out_fd = jout0;
	ev_io_init(&w->job_in_io, worker_job_in_cb, w->job_in_fd, EV_WRITE);
	w->job_in_io.data = w;
	linebuf_init(&w->job_out, w->env->max_message);
	ev_io_init(&w->job_out_io, worker_job_out_cb, w->job_out_fd, EV_READ);
	w->job_out_io.data = w;
	ev_io_start(loop, &w->job_out_io);

	ev_child_init(&w->child, worker_child_cb, pid, 0);
	w->child.data = w;
	ev_child_start(loop, &w->child);
	/* Until it is ready, the timer is its ready_timeout. */
	ev_timer_set(&w->healthy_timer, w->ready ? WORKER_HEALTHY_UPTIME :
	    W_PC(w)->ready_timeout, 0);
	ev_timer_start(loop, &w->healthy_timer);
}

int
worker_spawn(struct worker *w, unsigned gen, struct worker_proc *proc)
{
	struct pool_config	*pc = W_PC(w);
	struct worker_fds	 fds;
	pid_t			 pid;

	pid = worker_proc_start(proc, pc, w->index, w->env->dir, &fds);
	if (pid == -1)
		return -1;
	w->gen = gen;
	worker_started(w, pid, fds.out, fds.err, fds.job_in, fds.job_out);
	log_debug("%s.%d: started pid %ld", pc->name, w->index, (long)pid);
	if (!w->ready)
		return 0;
	w->cbs->spawned_cb(w, w->arg);
	worker_idle_check(w);
	return 0;
}

/*
 * Take anything the worker left behind in its group with it now, and,
 * unless it exited 0 (a worker recycled after max_jobs_per_worker, which
 * may be every job), what it put in other groups of its session once it
 * is gone: that needs a pass over /proc, which is kept off the path to
 * its replacement and skipped when nothing can be left (see
 * worker_try_finish() and worker_proc_orphans_possible()).
 */
static void
worker_sweep(struct worker *w, int status)
{
	(void)spawn_signal(w->pid, SIGKILL);
	w->sweep_session = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void
worker_child_cb(struct ev_loop *loop, ev_child *c, int revents)
{
	struct worker	*w = c->data;
	char		 desc[128];
	double		 uptime = ev_now(loop) - w->started_mono;

	ev_child_stop(loop, c);
	w->reaped = 1;
	worker_proc_reaped();
	worker_undirty(w);
	w->cbs->lost_cb(w, w->arg);
	ev_timer_stop(loop, &w->healthy_timer);
	ev_timer_stop(loop, &w->kill_timer);
	ev_timer_stop(loop, &w->idle_timer);
	worker_sweep(w, c->rstatus);
	worker_proc_describe(c->rstatus, desc, sizeof desc);
	if (w->stop_requested || w->gone_reason != NULL)
		log_info("%s.%d[%ld] stopped (%s)", W_NAME(w), w->index,
		    (long)w->pid, desc);
	else
		log_warnx("%s.%d[%ld] %s after %.3fs", W_NAME(w), w->index,
		    (long)w->pid, desc, uptime);
	/* No more jobs can be written to a dead process. */
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	buf_free(&w->job_in);
	w->job_in_ready = w->job_in_sealed = 0;
	ev_timer_set(&w->grace_timer, WORKER_PIPE_GRACE, 0);
	ev_timer_start(loop, &w->grace_timer);
	worker_try_finish(w);
}

/* Pipes kept open by a stray descendant: give up on them. */
static void
worker_grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	if (w->out != NULL)
		worker_log_close(w->out, 1);
	if (w->err != NULL)
		worker_log_close(w->err, 1);
	w->out = w->err = NULL;
	worker_close_fd(loop, &w->job_out_io, &w->job_out_fd);
	linebuf_free(&w->job_out);
	worker_try_finish(w);
}

/* Gone for good once reaped and every pipe is closed. */
static void
worker_try_finish(struct worker *w)
{
	double	uptime;
	char	*why, pool[128];
	pid_t	pid = w->pid;
	int	index = w->index, sweep = w->sweep_session;

	if (!w->reaped || w->out != NULL || w->err != NULL ||
	    w->job_out_fd != -1 || w->state == WORKER_DEAD)
		return;
	ev_timer_stop(w->env->loop, &w->grace_timer);
	/* One that never got ready was not stable at all. */
	uptime = w->ready ? ev_now(w->env->loop) - w->started_mono : 0;
	w->state = WORKER_DEAD;
	w->inflight = 0;
	w->sweep_session = 0;
	why = w->gone_reason;
	w->gone_reason = NULL;
	snprintf(pool, sizeof pool, "%s", W_NAME(w));
	/* The replacement may be spawned from here: w is not ours after. */
	w->cbs->gone_cb(w, uptime, why, w->arg);
	free(why);
	if (sweep && worker_proc_orphans_possible())
		worker_proc_sweep_session(pool, index, pid);
}

/* Up for WORKER_HEALTHY_UPTIME since ready; or, not ready, ready_timeout. */
static void
worker_healthy_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;
	char		*why;

	if (w->ready) {
		w->cbs->healthy_cb(w, w->arg);
		return;
	}
	if (w->state != WORKER_STARTING)
		return;
	xasprintf(&why, "not ready within %.1fs (ready_timeout)",
	    W_PC(w)->ready_timeout);
	worker_fail(w, why);
	free(why);
}

/* Arm (or disarm) the idle timer of an on-demand worker of a dynamic pool. */
static void
worker_idle_check(struct worker *w)
{
	struct pool_config	*pc = W_PC(w);

	if (!pc->dynamic || w->index < pc->min_workers || !worker_alive(w) ||
	    w->stop_requested || w->inflight > 0) {
		ev_timer_stop(w->env->loop, &w->idle_timer);
		return;
	}
	if (!ev_is_active(&w->idle_timer)) {
		ev_timer_set(&w->idle_timer, pc->idle_timeout, 0);
		ev_timer_start(w->env->loop, &w->idle_timer);
	}
}

static void
worker_idle_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	if (w->inflight > 0 || !worker_alive(w))
		return;
	log_info("%s.%d: idle for %.1fs; retiring it (idle_timeout)",
	    W_NAME(w), w->index, W_PC(w)->idle_timeout);
	w->cbs->idle_cb(w, w->arg);
}

void
worker_stop(struct worker *w)
{
	struct ev_loop	*loop = w->env->loop;

	if (!worker_alive(w) || w->stop_requested)
		return;
	w->stop_requested = 1;
	w->state = WORKER_STOPPING;
	ev_timer_stop(loop, &w->idle_timer);
	/* EOF on its job input is the polite request for a stream worker. */
	worker_close_fd(loop, &w->job_in_io, &w->job_in_fd);
	(void)spawn_signal(w->pid, W_PC(w)->stop_signal);
	ev_timer_set(&w->kill_timer, W_PC(w)->stop_timeout, 0);
	ev_timer_start(loop, &w->kill_timer);
}

static void
worker_kill_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker	*w = t->data;

	log_warnx("%s.%d[%ld] did not stop within %.1fs; killing its process "
	    "group", W_NAME(w), w->index, (long)w->pid, W_PC(w)->stop_timeout);
	worker_kill(w);
}

void
worker_kill(struct worker *w)
{
	if (worker_alive(w))
		(void)spawn_signal(w->pid, SIGKILL);
}
