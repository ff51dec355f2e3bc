/*
 * The exec worker: the process an exec pool runs ("mpsup exec-worker").
 *
 * Jobs arrive on fd 3 as {"id":"J","data":{...}[,"timeout_ms":N]} lines,
 * control lines as {"cancel":"J"}; results leave on fd 4, one line a job.
 * Jobs that arrive while one runs (prefetch) wait in a queue and run one at
 * a time, in order; running one is exec_run.c's. The worker is a child
 * subreaper, so orphans of a job come back here, where they are killed
 * and reaped before the job is answered (exec_strays.h), and the next job
 * starts only then. The worker is not dumpable: its jobs, though they may
 * run as its user, cannot open its memory or its descriptors through
 * /proc (the job channel on fds 3 and 4: the next jobs, forged results).
 *
 * Everything runs on the libev default loop (ev_child needs it).
 */
#include "config.h"

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/linebuf.h"
#include "common/log.h"
#include "config/parse.h"
#include "worker/exec/exec_job.h"
#include "worker/exec/exec_run.h"
#include "worker/exec/exec_worker.h"

#define EXEC_JOB_FD		3
#define EXEC_RESULT_FD		4
#define EXEC_MAX_LINE		(256UL * 1024 * 1024)	/* one job line */
#define EXEC_CAPTURE_DEFAULT	(1024 * 1024)

static struct {
	struct ev_loop		*loop;
	struct exec_run_settings set;

	struct exec_jobs	 queue;
	struct exec_run		*run;

	ev_io			 job_watcher;
	struct linebuf		 job_in;
	int			 job_eof;
	int			 discarding;	/* the rest of a long line */
	struct buf		 results;
	int			 stopping;

	ev_signal		 sigterm;
	ev_signal		 sigint;
	int			 status;	/* exit status */
} exec;

static void	exec_next(void);

/* Write one result or error object as a line on fd 4 (takes ownership). */
static void
exec_write_line(json_t *obj)
{
	char	*s;

	if (obj == NULL ||
	    (s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(15))) ==
	    NULL) {
		log_warnx("cannot encode a result line");
		json_decref(obj);
		return;
	}
	json_decref(obj);
	buf_append_str(&exec.results, s);
	buf_append(&exec.results, "\n", 1);
	free(s);
	if (buf_flush_fd(&exec.results, EXEC_RESULT_FD) == -1) {
		log_warn("write results");
		buf_reset(&exec.results);
		exec.status = 1;
		exec.stopping = 1;
		if (exec.run != NULL)
			exec_run_kill(exec.run);
		ev_break(exec.loop, EVBREAK_ALL);
	}
	buf_trim(&exec.results, 1 << 20);
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

/* Write the result line of a finished (or never started) job. */
static void
exec_write_result(const char *id, const struct exec_run *run)
{
	json_t	*line;

	line = json_object();
	json_object_set_new(line, "id", json_string(id));
	json_object_set_new(line, "ok", json_true());
	json_object_set_new(line, "result", exec_run_result(run, &exec.set));
	exec_write_line(line);
}

/* A run is over: answer its job and start the next one. */
static void
exec_done_cb(struct exec_run *run, void *arg)
{
	exec_write_result(exec_run_job(run)->id, run);
	exec.run = NULL;
	exec_run_free(run);
	exec_next();
}

/* Start a job (takes ownership), or answer it at once if it cannot start. */
static void
exec_start(struct exec_job *job)
{
	char	*cause;

	if ((exec.run = exec_run_start(job, &exec.set, &cause)) != NULL)
		return;
	log_warnx("job %s: %s", job->id, cause);
	exec_write_error(job->id, cause);
	free(cause);
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

	if (exec.run != NULL && strcmp(exec_run_job(exec.run)->id, id) == 0) {
		exec_run_cancel(exec.run);
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
	exec_write_result(job->id, NULL);
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

/*
 * One piece of input from the line assembler: a line, or part of one
 * longer than EXEC_MAX_LINE, which is dropped whole (answered with an
 * error if its id can be read from its start).
 */
static void
exec_piece(const char *line, size_t len, int flags)
{
	char	*id;

	if (flags & LINE_CONT) {
		if (exec.discarding)
			return;
		log_warnx("job line longer than %lu bytes, dropped",
		    EXEC_MAX_LINE);
		if ((id = exec_line_peek_id(line, len)) != NULL) {
			exec_write_error(id, "job line too long");
			free(id);
		}
		exec.discarding = 1;
	} else if (exec.discarding)
		exec.discarding = 0;
	else if (len > 0)
		exec_line(line, len);
}

/* Job input is readable: take every complete line. */
static void
exec_job_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	const char	*line;
	size_t		 len;
	ssize_t		 n;
	int		 flags;

	n = linebuf_read(&exec.job_in, EXEC_JOB_FD);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n == -1)
		log_warn("read jobs");
	if (n <= 0) {
		exec.job_eof = 1;
		ev_io_stop(loop, w);
	}
	while (linebuf_next(&exec.job_in, exec.job_eof, &line, &len, &flags))
		exec_piece(line, len, flags);
	exec_next();
}

/* SIGTERM or SIGINT: kill the running job's group, reap it and stop. */
static void
exec_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	if (exec.run != NULL)
		exec_run_kill(exec.run);
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
	const char	*opt, *val, *err;
	uint64_t	 size;
	size_t		 olen;
	int		 i;

	exec.set.output = EXEC_OUTPUT_LOG;
	exec.set.capture_max = EXEC_CAPTURE_DEFAULT;
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
				exec.set.output = EXEC_OUTPUT_LOG;
			else if (strcmp(val, "capture") == 0)
				exec.set.output = EXEC_OUTPUT_CAPTURE;
			else if (strcmp(val, "both") == 0)
				exec.set.output = EXEC_OUTPUT_BOTH;
			else {
				log_warnx("--output: want log, capture or "
				    "both, not \"%s\"", val);
				return 2;
			}
		} else if (olen == 13 &&
		    strncmp(opt, "--capture-max", olen) == 0 && val != NULL) {
			if (parse_size(val, &size, &err) == -1 ||
			    size > SIZE_MAX) {
				log_warnx("--capture-max: bad size \"%s\"",
				    val);
				return 2;
			}
			exec.set.capture_max = (size_t)size;
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

/* Start watching the job channel and the signals that stop the worker. */
static void
exec_watch(void)
{
	TAILQ_INIT(&exec.queue);
	linebuf_init(&exec.job_in, EXEC_MAX_LINE);
	ev_io_init(&exec.job_watcher, exec_job_cb, EXEC_JOB_FD, EV_READ);
	ev_io_start(exec.loop, &exec.job_watcher);
	ev_signal_init(&exec.sigterm, exec_signal_cb, SIGTERM);
	ev_signal_start(exec.loop, &exec.sigterm);
	ev_signal_init(&exec.sigint, exec_signal_cb, SIGINT);
	ev_signal_start(exec.loop, &exec.sigint);
}

/* Kill and reap what runs, drop what waits, release the rest. */
static void
exec_cleanup(void)
{
	struct exec_job	*job;

	if (exec.run != NULL) {
		exec_run_kill(exec.run);
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
	linebuf_free(&exec.job_in);
	buf_free(&exec.results);
}

/* Run the exec worker until its input ends or it is told to stop. */
int
exec_worker_main(int argc, char **argv)
{
	int	rc;

	log_init("mpsup exec-worker", 0);
	if ((rc = exec_parse_args(argc, argv)) != 0)
		return rc == -1 ? 0 : rc;
	if (exec_check_fds() == -1)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	if (prctl(PR_SET_DUMPABLE, 0) == -1)
		log_warn("PR_SET_DUMPABLE");
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("PR_SET_CHILD_SUBREAPER");

	if ((exec.loop = ev_default_loop(0)) == NULL)
		fatalx("cannot start the event loop");
	exec.set.loop = exec.loop;
	exec.set.done = exec_done_cb;
	exec_watch();
	ev_run(exec.loop, 0);
	exec_cleanup();
	return exec.status;
}
