/*
 * The exec worker: the process an exec pool runs ("mpsup exec-worker").
 *
 * Jobs arrive on fd 3 as {"id":"J","data":{...}[,"timeout_ms":N]} lines,
 * control lines as {"cancel":"J"}; results leave on fd 4, one line a job.
 * Jobs that arrive while one runs (prefetch) wait in a queue and run one at
 * a time, in order. Each job's command runs in its own process group with
 * only fds 0, 1 and 2; its stdout and stderr come back through pipes and
 * are forwarded line by line to this process's stdout and stderr (which
 * the supervisor logs) and/or captured for the result, up to a cap.
 *
 * A job is finished when its process has been reaped and both output
 * pipes have hit EOF, in either order (tmux job.c). When the leader exits,
 * whatever is left of its process group is killed, so a job leaves no
 * strays behind; a process that left the group but holds the pipes open
 * gets EXEC_DRAIN_SECS before the pipes are closed on it. The worker is a
 * child subreaper, so orphans of a job are reaped here, not by init.
 *
 * Everything runs on the libev default loop (ev_child needs it).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/spawn.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "worker/exec/exec_job.h"
#include "worker/exec/exec_spawn.h"
#include "worker/exec/exec_worker.h"

#define EXEC_JOB_FD		3
#define EXEC_RESULT_FD		4
#define EXEC_READ_SIZE		(64 * 1024)
#define EXEC_MAX_LINE		(256UL * 1024 * 1024)	/* one job line */
#define EXEC_FORWARD_MAX	(64 * 1024)	/* longest line held back */
#define EXEC_CAPTURE_DEFAULT	(1024 * 1024)
#define EXEC_DRAIN_SECS		1.0

enum exec_output {
	EXEC_OUTPUT_LOG,
	EXEC_OUTPUT_CAPTURE,
	EXEC_OUTPUT_BOTH,
};

/* One output pipe of the running job. */
struct exec_stream {
	struct exec_run		*run;
	int			 fd;		/* read end; -1 after EOF */
	int			 log_fd;	/* 1 or 2 */
	ev_io			 watcher;
	struct buf		 line;		/* unforwarded partial line */
	struct buf		 capture;
};

/* The job being run. */
struct exec_run {
	struct exec_job		*job;
	pid_t			 pid;		/* also the process group */
	int			 reaped;
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
};

static struct {
	struct ev_loop		*loop;
	enum exec_output	 output;
	size_t			 capture_max;

	struct exec_jobs	 queue;
	struct exec_run		*run;

	ev_io			 job_watcher;
	struct buf		 job_in;
	int			 job_eof;
	int			 discarding;
	size_t			 scanned;	/* head bytes without '\n' */
	int			 stopping;

	ev_signal		 sigterm;
	ev_signal		 sigint;
	int			 status;	/* exit status */
} exec;

static void	exec_next(void);
static void	exec_check_done(struct exec_run *);

/* Write all of p to fd, waiting if it is non-blocking; 0 or -1. */
static int
exec_write_all(int fd, const char *p, size_t len)
{
	struct pollfd	pfd;
	ssize_t		n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		return -1;
	}
	return 0;
}

/* Parse a size with an optional K, M or G suffix; -1 if malformed. */
static int
exec_parse_size(const char *s, size_t *out)
{
	unsigned long long	 v, mult = 1;
	char			*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		mult = 1024;
		end++;
		break;
	case 'm': case 'M':
		mult = 1024 * 1024;
		end++;
		break;
	case 'g': case 'G':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return -1;
	}
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0' || v > ((size_t)-1) / mult)
		return -1;
	*out = (size_t)(v * mult);
	return 0;
}

/* Write one result or error object as a line on fd 4 (takes ownership). */
static void
exec_write_line(json_t *obj)
{
	char	*s;
	size_t	 len;

	if (obj == NULL ||
	    (s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15))) ==
	    NULL) {
		log_warnx("cannot encode a result line");
		json_decref(obj);
		return;
	}
	json_decref(obj);
	len = strlen(s);
	s[len] = '\n';		/* the NUL is ours to overwrite */
	if (exec_write_all(EXEC_RESULT_FD, s, len + 1) == -1) {
		log_warn("write results");
		exec.status = 1;
		exec.stopping = 1;
		if (exec.run != NULL && !exec.run->reaped)
			(void)spawn_signal(exec.run->pid, SIGKILL);
		ev_break(exec.loop, EVBREAK_ALL);
	}
	free(s);
}

/*
 * Answer a job that cannot be run with {"ok":false,"error":...}. Both
 * strings may come from a malformed line, hence the UTF-8 cleaning.
 */
static void
exec_write_error(const char *id, const char *message)
{
	exec_write_line(json_pack("{s:o, s:b, s:o}",
	    "id", exec_job_text(id, strlen(id)), "ok", 0,
	    "error", exec_job_text(message, strlen(message))));
}

/* The "result" object of a job (a new reference). */
static json_t *
exec_result_new(struct exec_run *run)
{
	json_t	*r, *out, *err;
	double	 ms;

	if (exec.output == EXEC_OUTPUT_LOG) {
		out = json_null();
		err = json_null();
	} else {
		out = exec_job_text(buf_head(&run->out.capture),
		    buf_used(&run->out.capture));
		err = exec_job_text(buf_head(&run->err.capture),
		    buf_used(&run->err.capture));
	}
	ms = run->reaped ? (run->ended - run->started) * 1000.0 : 0.0;
	ms = (double)(long long)(ms * 1000.0 + 0.5) / 1000.0;	/* to 1us */

	r = json_object();
	if (run->spawn_error != NULL)
		json_object_set_new(r, "exit_code",
		    json_integer(run->spawn_exit));
	else if (run->reaped && WIFEXITED(run->status))
		json_object_set_new(r, "exit_code",
		    json_integer(WEXITSTATUS(run->status)));
	else
		json_object_set_new(r, "exit_code", json_null());
	if (run->spawn_error == NULL && run->reaped &&
	    WIFSIGNALED(run->status))
		json_object_set_new(r, "signal",
		    json_integer(WTERMSIG(run->status)));
	else
		json_object_set_new(r, "signal", json_null());
	json_object_set_new(r, "duration_ms", json_real(ms));
	json_object_set_new(r, "stdout", out);
	json_object_set_new(r, "stderr", err);
	json_object_set_new(r, "truncated", json_boolean(run->truncated));
	json_object_set_new(r, "timed_out", json_boolean(run->timed_out));
	json_object_set_new(r, "cancelled", json_boolean(run->cancelled));
	json_object_set_new(r, "spawn_error", run->spawn_error != NULL ?
	    exec_job_text(run->spawn_error, strlen(run->spawn_error)) :
	    json_null());
	return r;
}

/* Write the result line of a finished (or never started) job. */
static void
exec_write_result(struct exec_run *run)
{
	json_t	*line;

	line = json_object();
	json_object_set_new(line, "id", json_string(run->job->id));
	json_object_set_new(line, "ok", json_true());
	json_object_set_new(line, "result", exec_result_new(run));
	exec_write_line(line);
}

/* Forward the complete lines held for a stream (all of it if flush). */
static void
exec_forward(struct exec_stream *s, int flush)
{
	char	*nl;
	size_t	 n;

	if (buf_used(&s->line) == 0)
		return;
	if (flush) {
		if (buf_head(&s->line)[buf_used(&s->line) - 1] != '\n')
			buf_append(&s->line, "\n", 1);
		n = buf_used(&s->line);
	} else {
		nl = memrchr(buf_head(&s->line), '\n', buf_used(&s->line));
		if (nl != NULL)
			n = nl + 1 - buf_head(&s->line);
		else if (buf_used(&s->line) >= EXEC_FORWARD_MAX)
			n = buf_used(&s->line);	/* a very long line: pass on */
		else
			return;
	}
	/* The log is best effort: a lost line must not stop the job. */
	exec_write_all(s->log_fd, buf_head(&s->line), n);
	buf_consume(&s->line, n);
}

/* Stop reading a stream and close it. */
static void
exec_stream_close(struct exec_stream *s)
{
	if (s->fd == -1)
		return;
	ev_io_stop(exec.loop, &s->watcher);
	close(s->fd);
	s->fd = -1;
}

/* Output from the job: forward and/or capture it. */
static void
exec_stream_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct exec_stream	*s = w->data;
	struct exec_run		*run = s->run;
	char			 tmp[EXEC_READ_SIZE];
	ssize_t			 n;
	size_t			 room, keep;

	n = read(s->fd, tmp, sizeof tmp);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (n == -1)
			log_warn("job %s: read output", run->job->id);
		exec_stream_close(s);
		exec_check_done(run);
		return;
	}
	if (exec.output != EXEC_OUTPUT_LOG) {
		room = exec.capture_max - buf_used(&s->capture);
		keep = (size_t)n < room ? (size_t)n : room;
		if (keep > 0)
			buf_append(&s->capture, tmp, keep);
		if (keep < (size_t)n)
			run->truncated = 1;
	}
	if (exec.output != EXEC_OUTPUT_CAPTURE) {
		buf_append(&s->line, tmp, (size_t)n);
		exec_forward(s, 0);
	}
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
	if (n == -1 || run->stdin_off == run->stdin_len) {
		/* Done, or the job closed its stdin (EPIPE): either way. */
		ev_io_stop(loop, w);
		close(run->stdin_fd);
		run->stdin_fd = -1;
	}
}

/* The job's process ended: kill what is left of its group, then drain. */
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
	if (run->stdin_fd != -1) {
		ev_io_stop(loop, &run->stdin_watcher);
		close(run->stdin_fd);
		run->stdin_fd = -1;
	}
	if (run->out.fd != -1 || run->err.fd != -1)
		ev_timer_start(loop, &run->drain);
	exec_check_done(run);
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
	    "closing it", run->job->id, EXEC_DRAIN_SECS);
	exec_stream_close(&run->out);
	exec_stream_close(&run->err);
	exec_check_done(run);
}

/* Release a run and everything it holds. */
static void
exec_run_free(struct exec_run *run)
{
	exec_stream_close(&run->out);
	exec_stream_close(&run->err);
	if (run->stdin_fd != -1) {
		ev_io_stop(exec.loop, &run->stdin_watcher);
		close(run->stdin_fd);
	}
	ev_timer_stop(exec.loop, &run->timeout);
	ev_timer_stop(exec.loop, &run->drain);
	buf_free(&run->out.line);
	buf_free(&run->err.line);
	buf_free(&run->out.capture);
	buf_free(&run->err.capture);
	free(run->spawn_error);
	exec_job_free(run->job);
	free(run);
}

/* Report the running job once it is reaped and its pipes are closed. */
static void
exec_check_done(struct exec_run *run)
{
	if (!run->reaped || run->out.fd != -1 || run->err.fd != -1)
		return;
	exec_forward(&run->out, 1);
	exec_forward(&run->err, 1);
	exec_write_result(run);
	exec.run = NULL;
	exec_run_free(run);
	exec_next();
}

/* Set up one output stream of a new run. */
static void
exec_stream_init(struct exec_run *run, struct exec_stream *s, int fd,
    int log_fd)
{
	s->run = run;
	s->fd = fd;
	s->log_fd = log_fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	ev_io_init(&s->watcher, exec_stream_cb, fd, EV_READ);
	s->watcher.data = s;
	ev_io_start(exec.loop, &s->watcher);
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

/*
 * Start a job (takes ownership of job): its pipes, its process and the
 * watchers, all before control returns to the loop. A job that cannot even
 * be forked is answered with an error at once.
 */
static void
exec_start(struct exec_job *job)
{
	struct exec_spawn_error	 serr;
	struct exec_run		*run;
	json_t			*stdin_text;
	int			 out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int			 in[2] = { -1, -1 };
	char			*msg;
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
	run->job = job;
	run->pid = pid;
	run->started = started;
	run->spawn_error = serr.message;
	run->spawn_exit = serr.exit_code;
	run->stdin_fd = -1;
	exec.run = run;

	ev_child_init(&run->child, exec_child_cb, pid, 0);
	run->child.data = run;
	ev_child_start(exec.loop, &run->child);
	ev_now_update(exec.loop);	/* the timeout starts now, not earlier */
	ev_timer_init(&run->timeout, exec_timeout_cb, job->timeout, 0.);
	run->timeout.data = run;
	if (job->timeout > 0)
		ev_timer_start(exec.loop, &run->timeout);
	ev_timer_init(&run->drain, exec_drain_cb, EXEC_DRAIN_SECS, 0.);
	run->drain.data = run;
	exec_stream_init(run, &run->out, out[0], STDOUT_FILENO);
	exec_stream_init(run, &run->err, err[0], STDERR_FILENO);

	if (in[1] != -1) {
		run->stdin_fd = in[1];
		run->stdin_data = json_string_value(stdin_text);
		run->stdin_len = json_string_length(stdin_text);
		fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
		ev_io_init(&run->stdin_watcher, exec_stdin_cb, in[1],
		    EV_WRITE);
		run->stdin_watcher.data = run;
		ev_io_start(exec.loop, &run->stdin_watcher);
	}
	return;

fail:
	xasprintf(&msg, "cannot start the job: %s", strerror(errno));
	log_warnx("job %s: %s", job->id, msg);
	exec_write_error(job->id, msg);
	free(msg);
	exec_close_pair(out);
	exec_close_pair(err);
	exec_close_pair(in);
	exec_job_free(job);
}

/* Start the next queued job if none runs; stop once input and queue end. */
static void
exec_next(void)
{
	struct exec_job	*job;

	if (exec.stopping)
		return;
	while (exec.run == NULL && (job = TAILQ_FIRST(&exec.queue)) != NULL) {
		TAILQ_REMOVE(&exec.queue, job, entry);
		exec_start(job);
	}
	if (exec.run == NULL && exec.job_eof)
		ev_break(exec.loop, EVBREAK_ALL);
}

/* Cancel a job: kill it if it runs, answer it at once if it waits. */
static void
exec_cancel(const char *id)
{
	struct exec_job	*job;
	struct exec_run	 run;

	if (exec.run != NULL && strcmp(exec.run->job->id, id) == 0) {
		if (!exec.run->reaped && !exec.run->cancelled) {
			exec.run->cancelled = 1;
			(void)spawn_signal(exec.run->pid, SIGKILL);
		}
		return;
	}
	TAILQ_FOREACH(job, &exec.queue, entry) {
		if (strcmp(job->id, id) == 0)
			break;
	}
	if (job == NULL) {
		log_debug("cancel %s: no such job here", id);
		return;
	}
	TAILQ_REMOVE(&exec.queue, job, entry);
	memset(&run, 0, sizeof run);
	run.job = job;
	run.cancelled = 1;
	exec_write_result(&run);
	exec_job_free(job);
}

/* One line from fd 3: a job to queue, a cancel, or an error to answer. */
static void
exec_line(const char *line, size_t len)
{
	struct exec_line	l;

	exec_line_parse(line, len, &l);
	switch (l.type) {
	case EXEC_LINE_JOB:
		TAILQ_INSERT_TAIL(&exec.queue, l.job, entry);
		l.job = NULL;
		break;
	case EXEC_LINE_CANCEL:
		exec_cancel(l.id);
		break;
	case EXEC_LINE_ERROR:
		if (l.id != NULL)
			exec_write_error(l.id, l.error);
		else
			log_warnx("%s", l.error);
		break;
	}
	exec_line_clear(&l);
}

/* Job input is readable: take every complete line. */
static void
exec_job_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct buf	*b = &exec.job_in;
	char		*nl, *id;
	ssize_t		 n;
	size_t		 used;

	n = buf_read_fd(b, EXEC_JOB_FD, EXEC_READ_SIZE);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1)
		log_warn("read jobs");
	if (n <= 0) {
		exec.job_eof = 1;
		ev_io_stop(loop, w);
	}

	/* Only new bytes are searched, or a long line would cost O(n^2). */
	while ((nl = memchr(buf_head(b) + exec.scanned, '\n',
	    buf_used(b) - exec.scanned)) != NULL) {
		used = nl - buf_head(b);
		if (exec.discarding)
			exec.discarding = 0;
		else if (used > 0)
			exec_line(buf_head(b), used);
		buf_consume(b, used + 1);
		exec.scanned = 0;
	}
	exec.scanned = buf_used(b);
	if (exec.job_eof && buf_used(b) > 0 && !exec.discarding)
		exec_line(buf_head(b), buf_used(b));	/* no final newline */
	if (exec.job_eof) {
		buf_reset(b);
		exec.scanned = 0;
	}
	if (buf_used(b) > EXEC_MAX_LINE) {
		if (!exec.discarding) {
			log_warnx("job line longer than %lu bytes, dropped",
			    EXEC_MAX_LINE);
			id = exec_line_peek_id(buf_head(b), buf_used(b));
			if (id != NULL) {
				exec_write_error(id, "job line too long");
				free(id);
			}
		}
		exec.discarding = 1;
		buf_reset(b);
		exec.scanned = 0;
	}
	buf_trim(b, 4 * EXEC_READ_SIZE);
	exec_next();
}

/* SIGTERM or SIGINT: kill the running job's group, reap it and stop. */
static void
exec_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct exec_run	*run = exec.run;
	int		 status;

	if (run != NULL && !run->reaped) {
		(void)spawn_signal(run->pid, SIGKILL);
		while (waitpid(run->pid, &status, 0) == -1 && errno == EINTR)
			;
		ev_child_stop(loop, &run->child);
		run->reaped = 1;
	}
	ev_break(loop, EVBREAK_ALL);
}

/* Print how to call the exec worker. */
static void
exec_usage(FILE *f)
{
	fprintf(f, "usage: mpsup exec-worker [--output log|capture|both] "
	    "[--capture-max BYTES]\n"
	    "(jobs on fd 3, results on fd 4)\n");
}

/* Parse argv into exec's settings; 0, or an exit status to return. */
static int
exec_parse_args(int argc, char **argv)
{
	const char	*opt, *val;
	size_t		 olen;
	int		 i;

	exec.output = EXEC_OUTPUT_LOG;
	exec.capture_max = EXEC_CAPTURE_DEFAULT;
	for (i = 1; i < argc; i++) {
		opt = argv[i];
		if (strcmp(opt, "-h") == 0 || strcmp(opt, "--help") == 0) {
			exec_usage(stdout);
			return -1;
		}
		if ((val = strchr(opt, '=')) != NULL) {
			olen = val - opt;
			val++;
		} else {
			olen = strlen(opt);
			val = (i + 1 < argc) ? argv[i + 1] : NULL;
			if (val != NULL)
				i++;
		}
		if (olen == 8 && strncmp(opt, "--output", olen) == 0 &&
		    val != NULL) {
			if (strcmp(val, "log") == 0)
				exec.output = EXEC_OUTPUT_LOG;
			else if (strcmp(val, "capture") == 0)
				exec.output = EXEC_OUTPUT_CAPTURE;
			else if (strcmp(val, "both") == 0)
				exec.output = EXEC_OUTPUT_BOTH;
			else {
				log_warnx("--output: want log, capture or "
				    "both, not \"%s\"", val);
				return 2;
			}
		} else if (olen == 13 &&
		    strncmp(opt, "--capture-max", olen) == 0 && val != NULL) {
			if (exec_parse_size(val, &exec.capture_max) == -1) {
				log_warnx("--capture-max: bad size \"%s\"",
				    val);
				return 2;
			}
		} else {
			log_warnx("unknown or incomplete option \"%s\"", opt);
			exec_usage(stderr);
			return 2;
		}
	}
	return 0;
}

/* Make sure fds 0-2 are open (on /dev/null) and fds 3-4 are the channel. */
static int
exec_check_fds(void)
{
	int	fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) == -1 &&
		    open("/dev/null", O_RDWR) == -1)
			return -1;
	}
	if (fcntl(EXEC_JOB_FD, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(EXEC_RESULT_FD, F_SETFD, FD_CLOEXEC) == -1) {
		log_warnx("fds 3 (jobs) and 4 (results) must be open");
		return -1;
	}
	return 0;
}

/* Run the exec worker until its input ends or it is told to stop. */
int
exec_worker_main(int argc, char **argv)
{
	struct exec_job	*job;
	int		 rc;

	log_init("mpsup exec-worker", 0);
	if ((rc = exec_parse_args(argc, argv)) != 0)
		return rc == -1 ? 0 : rc;
	if (exec_check_fds() == -1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	TAILQ_INIT(&exec.queue);
	if ((exec.loop = ev_default_loop(0)) == NULL)
		fatalx("cannot start the event loop");
	ev_io_init(&exec.job_watcher, exec_job_cb, EXEC_JOB_FD, EV_READ);
	ev_io_start(exec.loop, &exec.job_watcher);
	ev_signal_init(&exec.sigterm, exec_signal_cb, SIGTERM);
	ev_signal_start(exec.loop, &exec.sigterm);
	ev_signal_init(&exec.sigint, exec_signal_cb, SIGINT);
	ev_signal_start(exec.loop, &exec.sigint);

	ev_run(exec.loop, 0);

	if (exec.run != NULL) {
		if (!exec.run->reaped) {
			(void)spawn_signal(exec.run->pid, SIGKILL);
			ev_child_stop(exec.loop, &exec.run->child);
			while (waitpid(exec.run->pid, NULL, 0) == -1 &&
			    errno == EINTR)
				;
		}
		exec_run_free(exec.run);
		exec.run = NULL;
	}
	while ((job = TAILQ_FIRST(&exec.queue)) != NULL) {
		TAILQ_REMOVE(&exec.queue, job, entry);
		exec_job_free(job);
	}
	ev_io_stop(exec.loop, &exec.job_watcher);
	ev_signal_stop(exec.loop, &exec.sigterm);
	ev_signal_stop(exec.loop, &exec.sigint);
	buf_free(&exec.job_in);
	return exec.status;
}
