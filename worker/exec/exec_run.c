/*
 * Running one exec job (see exec_run.h). Output arrives in reads of up to
 * EXEC_RUN_READ_SIZE; what is captured is kept as it came, what is
 * forwarded goes through a line assembler (common/linebuf) so that the
 * log gets whole lines, or pieces of EXEC_RUN_FORWARD_MAX of a longer one.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/linebuf.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "worker/exec/exec_run.h"
#include "worker/exec/exec_spawn.h"
#include "worker/exec/exec_strays.h"

#define EXEC_RUN_READ_SIZE	(64 * 1024)
#define EXEC_RUN_FORWARD_MAX	(64 * 1024)	/* longest line held back */
#define EXEC_RUN_SWEEP_EVERY	0.02		/* seconds between sweeps */

/* One output pipe of the run. */
struct exec_stream {
	struct exec_run		*run;
	int			 fd;		/* read end; -1 after EOF */
	int			 log_fd;	/* 1 or 2 */
	ev_io			 watcher;
	struct linebuf		 lines;		/* not yet forwarded */
	struct buf		 forward;	/* being forwarded */
	struct buf		 capture;
};

struct exec_run {
	const struct exec_run_settings *set;
	struct exec_job		*job;
	pid_t			 pid;		/* also the process group */
	int			 reaped;
	int			 swept;		/* nothing of it is left */
	int			 status;
	double			 started;
	double			 ended;
	int			 timed_out;
	int			 cancelled;
	int			 truncated;
	int			 spawn_exit;
	char			*spawn_error;

	struct exec_stream	 out;
	struct exec_stream	 err;

	int			 stdin_fd;	/* write end; -1 when done */
	const char		*stdin_data;
	size_t			 stdin_len;
	size_t			 stdin_off;
	ev_io			 stdin_watcher;

	ev_child		 child;
	ev_timer		 timeout;
	ev_timer		 drain;
	ev_timer		 sweep;
};

static void	exec_run_check_done(struct exec_run *);

/*
 * Forward the whole lines held for a stream (and, at eof, the rest as a
 * line of its own) to its log fd in one write. The log is best effort: a
 * lost line must not stop the job.
 */
static void
exec_stream_forward(struct exec_stream *s, int eof)
{
	const char	*line;
	size_t		 len;
	int		 flags;

	while (linebuf_next(&s->lines, eof, &line, &len, &flags)) {
		buf_append(&s->forward, line, len);
		if (!(flags & LINE_CONT))
			buf_append(&s->forward, "\n", 1);
	}
	(void)buf_flush_fd(&s->forward, s->log_fd);
	buf_reset(&s->forward);
	buf_trim(&s->forward, 4 * EXEC_RUN_READ_SIZE);
}

/* Stop reading a stream and close it. */
static void
exec_stream_close(struct exec_stream *s)
{
	if (s->fd == -1)
		return;
	ev_io_stop(s->run->set->loop, &s->watcher);
	close(s->fd);
	s->fd = -1;
}

/* Keep what fits under the capture cap; note the rest as truncated. */
static void
exec_stream_capture(struct exec_stream *s, const char *p, size_t n)
{
	size_t	room, keep;

	room = s->run->set->capture_max - buf_used(&s->capture);
	keep = n < room ? n : room;
	if (keep > 0)
		buf_append(&s->capture, p, keep);
	if (keep < n)
		s->run->truncated = 1;
}

/* Output from the job: forward and/or capture it. */
static void
exec_stream_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct exec_stream	*s = w->data;
	enum exec_output	 output = s->run->set->output;
	char			 tmp[EXEC_RUN_READ_SIZE];
	ssize_t			 n;

	n = read(s->fd, tmp, sizeof tmp);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("job %s: read output", s->run->job->id);
		exec_stream_close(s);
		exec_run_check_done(s->run);
		return;
	}
	if (output != EXEC_OUTPUT_LOG)
		exec_stream_capture(s, tmp, (size_t)n);
	if (output != EXEC_OUTPUT_CAPTURE) {
		linebuf_feed(&s->lines, tmp, (size_t)n);
		exec_stream_forward(s, 0);
	}
}

/* Set up one output stream of a new run. */
static void
exec_stream_init(struct exec_run *run, struct exec_stream *s, int fd,
    int log_fd)
{
	s->run = run;
	s->fd = fd;
	s->log_fd = log_fd;
	linebuf_init(&s->lines, EXEC_RUN_FORWARD_MAX);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&s->watcher, exec_stream_cb, fd, EV_READ);
	s->watcher.data = s;
	ev_io_start(run->set->loop, &s->watcher);
}

/* Close the job's stdin, whether it took all of it or not. */
static void
exec_stdin_close(struct exec_run *run)
{
	if (run->stdin_fd == -1)
		return;
	ev_io_stop(run->set->loop, &run->stdin_watcher);
	close(run->stdin_fd);
	run->stdin_fd = -1;
}

/* The job's stdin pipe can take more. */
static void
exec_stdin_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct exec_run	*run = w->data;
	ssize_t		 n;

	n = write(run->stdin_fd, run->stdin_data + run->stdin_off,
	    run->stdin_len - run->stdin_off);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0)
		run->stdin_off += (size_t)n;
	/* Done, or the job closed its stdin (EPIPE): either way. */
	if (n == -1 || run->stdin_off == run->stdin_len)
		exec_stdin_close(run);
}

/* Feed the job's "stdin" (a JSON string) through the pipe fd. */
static void
exec_stdin_init(struct exec_run *run, int fd, json_t *text)
{
	run->stdin_fd = fd;
	run->stdin_data = json_string_value(text);
	run->stdin_len = json_string_length(text);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&run->stdin_watcher, exec_stdin_cb, fd, EV_WRITE);
	run->stdin_watcher.data = run;
	ev_io_start(run->set->loop, &run->stdin_watcher);
}

/*
 * Kill what the job left behind (exec_strays.h); once nothing is left, or
 * after EXEC_RUN_SWEEP_SECS of trying, the run may end.
 */
static void
exec_run_sweep(struct exec_run *run)
{
	struct ev_loop	*loop = run->set->loop;
	int		 left;

	left = exec_strays_kill(run->pid);
	if (left > 0 && time_mono() - run->ended < EXEC_RUN_SWEEP_SECS) {
		if (!ev_is_active(&run->sweep))
			ev_timer_again(loop, &run->sweep);
		return;
	}
	if (left != 0)
		log_warnx("job %s: %s", run->job->id, left == -1 ?
		    "cannot read /proc to kill what it left behind" :
		    "some of its processes would not die");
	ev_timer_stop(loop, &run->sweep);
	run->swept = 1;
	exec_run_check_done(run);
}

/* Time to sweep again: more of the job may have come back by now. */
static void
exec_sweep_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	exec_run_sweep(w->data);
}

/* The job's process ended: kill what is left of it, then drain. */
static void
exec_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct exec_run	*run = w->data;

	ev_child_stop(loop, w);
	ev_timer_stop(loop, &run->timeout);
	run->reaped = 1;
	run->status = w->rstatus;
	run->ended = time_mono();
	/*
	 * The group outlives its leader while members remain, so its id
	 * cannot have been reused by now unless the group is empty (ESRCH).
	 */
	(void)spawn_signal(run->pid, SIGKILL);
	exec_stdin_close(run);
	if (run->out.fd != -1 || run->err.fd != -1)
		ev_timer_start(loop, &run->drain);
	exec_run_sweep(run);
}

/* The job ran out of time: kill its whole process group. */
static void
exec_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_run	*run = w->data;

	run->timed_out = 1;
	(void)spawn_signal(run->pid, SIGKILL);
}

/* Someone outside the group still holds the output pipes: stop waiting. */
static void
exec_drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct exec_run	*run = w->data;

	log_warnx("job %s: output still open %.1fs after the job ended, "
	    "closing it", run->job->id, EXEC_RUN_DRAIN_SECS);
	exec_stream_close(&run->out);
	exec_stream_close(&run->err);
	exec_run_check_done(run);
}

/* Over once reaped with both pipes closed: forward the rest, call back. */
static void
exec_run_check_done(struct exec_run *run)
{
	if (!run->reaped || !run->swept || run->out.fd != -1 ||
	    run->err.fd != -1)
		return;
	exec_stream_forward(&run->out, 1);
	exec_stream_forward(&run->err, 1);
	run->set->done(run, run->set->arg);
}

/* Arm a new run's watchers and timers; the process runs already. */
static void
exec_run_watch(struct exec_run *run, int out_fd, int err_fd)
{
	struct ev_loop	*loop = run->set->loop;

	ev_child_init(&run->child, exec_child_cb, run->pid, 0);
	run->child.data = run;
	ev_child_start(loop, &run->child);
	ev_now_update(loop);	/* the timeout starts now, not earlier */
	ev_timer_init(&run->timeout, exec_timeout_cb, run->job->timeout, 0.);
	run->timeout.data = run;
	if (run->job->timeout > 0)
		ev_timer_start(loop, &run->timeout);
	ev_timer_init(&run->drain, exec_drain_cb, EXEC_RUN_DRAIN_SECS, 0.);
	run->drain.data = run;
	ev_timer_init(&run->sweep, exec_sweep_cb, 0., EXEC_RUN_SWEEP_EVERY);
	run->sweep.data = run;
	exec_stream_init(run, &run->out, out_fd, STDOUT_FILENO);
	exec_stream_init(run, &run->err, err_fd, STDERR_FILENO);
}

/* Close whichever ends of a pipe are open. */
static void
exec_close_pair(int fds[2])
{
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
}

struct exec_run *
exec_run_start(struct exec_job *job, const struct exec_run_settings *set,
    char **cause)
{
	struct exec_spawn_error	 serr;
	struct exec_run		*run;
	json_t			*stdin_text;
	int			 out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int			 in[2] = { -1, -1 };
	double			 started;
	pid_t			 pid;

	stdin_text = json_object_get(job->data, "stdin");
	if (pipe2(out, O_CLOEXEC) == -1 || pipe2(err, O_CLOEXEC) == -1)
		goto fail;
	if (stdin_text != NULL) {
		if (pipe2(in, O_CLOEXEC) == -1)
			goto fail;
	} else if ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	started = time_mono();
	if ((pid = exec_spawn_job(job, in[0], out[1], err[1], &serr)) == -1)
		goto fail;
	close(in[0]);
	close(out[1]);
	close(err[1]);

	run = xcalloc(1, sizeof *run);
	run->set = set;
	run->job = job;
	run->pid = pid;
	run->started = started;
	run->spawn_error = serr.message;
	run->spawn_exit = serr.exit_code;
	run->stdin_fd = -1;
	exec_run_watch(run, out[0], err[0]);
	if (in[1] != -1)
		exec_stdin_init(run, in[1], stdin_text);
	return run;

fail:
	xasprintf(cause, "cannot start the job: %s", strerror(errno));
	exec_close_pair(out);
	exec_close_pair(err);
	exec_close_pair(in);
	return NULL;
}

struct exec_job *
exec_run_job(struct exec_run *run)
{
	return run->job;
}

void
exec_run_cancel(struct exec_run *run)
{
	if (run->reaped || run->cancelled)
		return;
	run->cancelled = 1;
	(void)spawn_signal(run->pid, SIGKILL);
}

void
exec_run_kill(struct exec_run *run)
{
	if (!run->reaped) {
		(void)spawn_signal(run->pid, SIGKILL);
		ev_child_stop(run->set->loop, &run->child);
		while (waitpid(run->pid, &run->status, 0) == -1 &&
		    errno == EINTR)
			;
		run->reaped = 1;
		run->ended = time_mono();
	}
	if (run->swept)
		return;
	/* Then what it left behind, reaped here: the loop is over. */
	ev_timer_stop(run->set->loop, &run->sweep);
	while (exec_strays_kill(run->pid) > 0 &&
	    time_mono() - run->ended < EXEC_RUN_SWEEP_SECS) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		(void)usleep(10 * 1000);
	}
	run->swept = 1;
}

/* The exit_code and signal members of a result. */
static void
exec_run_status(json_t *r, const struct exec_run *run)
{
	json_t	*code = NULL, *sig = NULL;

	if (run != NULL && run->spawn_error != NULL)
		code = json_integer(run->spawn_exit);
	else if (run != NULL && run->reaped && WIFEXITED(run->status))
		code = json_integer(WEXITSTATUS(run->status));
	else if (run != NULL && run->reaped && WIFSIGNALED(run->status))
		sig = json_integer(WTERMSIG(run->status));
	json_object_set_new(r, "exit_code", code != NULL ? code : json_null());
	json_object_set_new(r, "signal", sig != NULL ? sig : json_null());
}

json_t *
exec_run_result(const struct exec_run *run,
    const struct exec_run_settings *set)
{
	json_t	*r, *out, *err;
	double	 ms = 0.0;

	if (set->output == EXEC_OUTPUT_LOG) {
		out = json_null();
		err = json_null();
	} else if (run == NULL) {
		out = json_string("");
		err = json_string("");
	} else {
		out = exec_job_text(buf_head(&run->out.capture),
		    buf_used(&run->out.capture));
		err = exec_job_text(buf_head(&run->err.capture),
		    buf_used(&run->err.capture));
	}
	if (run != NULL && run->reaped)
		ms = (run->ended - run->started) * 1000.0;
	ms = (double)(long long)(ms * 1000.0 + 0.5) / 1000.0;	/* to 1us */

	r = json_object();
	exec_run_status(r, run);
	json_object_set_new(r, "duration_ms", json_real(ms));
	json_object_set_new(r, "stdout", out);
	json_object_set_new(r, "stderr", err);
	json_object_set_new(r, "truncated", json_boolean(run != NULL &&
	    run->truncated));
	json_object_set_new(r, "timed_out", json_boolean(run != NULL &&
	    run->timed_out));
	json_object_set_new(r, "cancelled", json_boolean(run == NULL ||
	    run->cancelled));
	json_object_set_new(r, "spawn_error", run != NULL &&
	    run->spawn_error != NULL ? exec_job_text(run->spawn_error,
	    strlen(run->spawn_error)) : json_null());
	return r;
}

void
exec_run_free(struct exec_run *run)
{
	exec_stream_close(&run->out);
	exec_stream_close(&run->err);
	exec_stdin_close(run);
	ev_timer_stop(run->set->loop, &run->timeout);
	ev_timer_stop(run->set->loop, &run->drain);
	ev_timer_stop(run->set->loop, &run->sweep);
	linebuf_free(&run->out.lines);
	linebuf_free(&run->err.lines);
	buf_free(&run->out.forward);
	buf_free(&run->err.forward);
	buf_free(&run->out.capture);
	buf_free(&run->err.capture);
	free(run->spawn_error);
	exec_job_free(run->job);
	free(run);
}
