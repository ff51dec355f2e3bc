/*
 * The C worker library (see <mpsup/worker.h>): the job channel, and
 * handing out jobs. Parsing a job line is worker_line.c's, replies are
 * worker_reply.c's; the three share worker_impl.h.
 *
 * Input is read into one buffer, many lines per read(2); each job is parsed
 * in place (the id and data are NUL-terminated inside the buffer), so the
 * steady state allocates nothing. Replies are appended to an output buffer
 * that is written when the input has no complete line left, i.e. just
 * before the worker would block, when it grows large, or when jobs keep
 * coming but the oldest reply has waited a millisecond or the last job
 * took that long (see mpsup_worker_out_due).
 *
 * Only libc is used: the library is installed for third parties.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonscan.h"
#include "worker/worker_impl.h"

/* A handle over two given fds (takes ownership of both). */
struct mpsup_worker *
mpsup_worker_open_fds(int in_fd, int out_fd)
{
	struct mpsup_worker	*w;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return NULL;
	if ((w->in = malloc(WORKER_IN_SIZE)) == NULL) {
		free(w);
		return NULL;
	}
	w->in_cap = WORKER_IN_SIZE;
	w->in_fd = in_fd;
	w->out_fd = out_fd;
	w->max_line = MPSUP_WORKER_MAX_LINE;
	return w;
}

/*
 * Set *cause to "what: strerror(errno)" (NULL if even that allocation
 * fails); returns NULL for the caller to return.
 */
static struct mpsup_worker *
worker_open_error(char **cause, const char *what)
{
	char	buf[512];
	int	saved = errno;

	snprintf(buf, sizeof buf, "%s: %s", what, strerror(saved));
	if (cause != NULL)
		*cause = strdup(buf);
	errno = saved;
	return NULL;
}

/*
 * Take fds 0 and 1 away from stdio for the job channel: the channel gets
 * new close-on-exec fds, fd 0 reads /dev/null and fd 1 writes where fd 2
 * does, so neither stray output nor a child process can touch the protocol.
 */
static struct mpsup_worker *
worker_open_stdio(char **cause)
{
	struct mpsup_worker	*w;
	int			 in_fd, out_fd, null_fd;

	fflush(stdout);
	if ((in_fd = fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)) == -1)
		return worker_open_error(cause, "dup stdin");
	if ((out_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3)) == -1) {
		close(in_fd);
		return worker_open_error(cause, "dup stdout");
	}
	if ((null_fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		close(in_fd);
		close(out_fd);
		return worker_open_error(cause, "/dev/null");
	}
	dup2(null_fd, STDIN_FILENO);
	if (dup2(STDERR_FILENO, STDOUT_FILENO) == -1)
		dup2(null_fd, STDOUT_FILENO);
	close(null_fd);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if ((w = mpsup_worker_open_fds(in_fd, out_fd)) == NULL) {
		close(in_fd);
		close(out_fd);
		errno = ENOMEM;
		return worker_open_error(cause, "mpsup_worker_open");
	}
	return w;
}

/* Open the job channel that MPSUP_JOB_FDS names. */
struct mpsup_worker *
mpsup_worker_open(char **cause)
{
	struct mpsup_worker	*w;
	const char		*mode = getenv("MPSUP_JOB_FDS");
	const char		*p;
	char			*end, what[128];
	long			 in_fd, out_fd;

	if (cause != NULL)
		*cause = NULL;
	if (mode == NULL || *mode == '\0' || strcmp(mode, "stdio") == 0)
		return worker_open_stdio(cause);

	snprintf(what, sizeof what, "MPSUP_JOB_FDS=%s", mode);
	errno = 0;
	in_fd = strtol(mode, &end, 10);
	if (end == mode || *end != ',') {
		errno = EINVAL;
		return worker_open_error(cause, what);
	}
	p = end + 1;
	out_fd = strtol(p, &end, 10);
	if (end == p || *end != '\0' || errno != 0 || in_fd < 3 ||
	    out_fd < 3 || in_fd > 65535 || out_fd > 65535) {
		errno = EINVAL;
		return worker_open_error(cause, what);
	}
	if (fcntl((int)in_fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl((int)out_fd, F_SETFD, FD_CLOEXEC) == -1)
		return worker_open_error(cause, what);
	/* stdout is the log here: keep its lines prompt. */
	fflush(stdout);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((w = mpsup_worker_open_fds((int)in_fd, (int)out_fd)) == NULL) {
		errno = ENOMEM;
		return worker_open_error(cause, "mpsup_worker_open");
	}
	return w;
}

/* Set the longest job line accepted. */
void
mpsup_worker_set_max_line(struct mpsup_worker *w, size_t max)
{
	w->max_line = (max == 0) ? MPSUP_WORKER_MAX_LINE : max;
}

/* Wait until fd is ready for events; 0 or -1. */
int
mpsup_worker_wait_fd(int fd, short events)
{
	struct pollfd	pfd;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		if (poll(&pfd, 1, -1) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* Make room for n more bytes of input; -1 if out of memory. */
static int
worker_in_reserve(struct mpsup_worker *w)
{
	size_t	used = w->in_len - w->in_off, cap;
	char	*p;

	if (w->in_off > 0) {
		memmove(w->in, w->in + w->in_off, used);
		w->in_scan -= w->in_off;
		w->in_len = used;
		w->in_off = 0;
	}
	if (used == 0 && w->in_cap > WORKER_IN_KEEP) {
		if ((p = realloc(w->in, WORKER_IN_SIZE)) != NULL) {
			w->in = p;
			w->in_cap = WORKER_IN_SIZE;
		}
	}
	if (w->in_cap - w->in_len >= WORKER_IN_SIZE / 4)
		return 0;
	cap = w->in_cap * 2;
	if ((p = realloc(w->in, cap)) == NULL)
		return -1;
	w->in = p;
	w->in_cap = cap;
	return 0;
}

/* One read into the input buffer: >0 bytes, 0 at EOF, -1 on error. */
static ssize_t
worker_read(struct mpsup_worker *w)
{
	ssize_t	n;

	if (worker_in_reserve(w) == -1) {
		errno = ENOMEM;
		return -1;
	}
	for (;;) {
		n = read(w->in_fd, w->in + w->in_len, w->in_cap - w->in_len);
		if (n >= 0)
			break;
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == EWOULDBLOCK) &&
		    mpsup_worker_wait_fd(w->in_fd, POLLIN) == 0)
			continue;
		return -1;
	}
	w->in_len += (size_t)n;
	return n;
}

/* Hand out the next job, reading (and first flushing) only when needed. */
int
mpsup_worker_next(struct mpsup_worker *w, struct mpsup_job *job)
{
	struct timespec	 now;
	char		*line, *nl;
	size_t		 used;
	ssize_t		 n;

	memset(job, 0, sizeof *job);
	/* Asking for the first job means set-up is over (ready = line). */
	if (!w->ready_sent)
		(void)mpsup_worker_ready(w);
	for (;;) {
		nl = memchr(w->in + w->in_scan, '\n', w->in_len - w->in_scan);
		if (w->discarding) {
			w->in_off = w->in_scan = nl ? (size_t)(nl + 1 - w->in) :
			    w->in_len;
			if (nl != NULL) {
				w->discarding = 0;
				continue;
			}
		} else if (nl != NULL) {
			line = w->in + w->in_off;
			w->in_off = w->in_scan = nl + 1 - w->in;
			if (jsonscan_ws(line, nl) == nl)
				continue;		/* blank line */
			if ((size_t)(nl - line) > w->max_line) {
				job->id = mpsup_worker_peek_id(w, line, nl - line);
				job->error = "job line too long";
				errno = EMSGSIZE;
				return -1;
			}
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (w->out_len > 0 && mpsup_worker_out_due(w, &now))
				mpsup_worker_flush(w);
			w->handed = now;
			return mpsup_worker_parse_line(line, nl, job);
		} else {
			w->in_scan = w->in_len;
			used = w->in_len - w->in_off;
			if (used > w->max_line) {
				job->id = mpsup_worker_peek_id(w, w->in + w->in_off,
				    used);
				job->error = "job line too long";
				w->discarding = 1;
				w->in_off = w->in_scan = w->in_len;
				errno = EMSGSIZE;
				return -1;
			}
			if (w->eof && used > 0) {
				/* A last line without a newline. */
				line = w->in + w->in_off;
				w->in_off = w->in_scan = w->in_len;
				if (jsonscan_ws(line, line + used) ==
				    line + used)
					continue;
				return mpsup_worker_parse_line(line, line + used, job);
			}
		}
		if (w->eof)
			return 0;

		if (w->out_len > 0)
			mpsup_worker_flush(w);
		if ((n = worker_read(w)) == -1) {
			w->eof = 1;
			w->in_off = w->in_scan = w->in_len;
			job->error = "cannot read jobs";
			return -1;
		}
		if (n == 0)
			w->eof = 1;
	}
}

/* Flush, close and free a handle. */
int
mpsup_worker_close(struct mpsup_worker *w)
{
	int	rc, saved;

	if (w == NULL)
		return 0;
	rc = mpsup_worker_flush(w);
	saved = errno;
	close(w->in_fd);
	if (w->out_fd != w->in_fd)
		close(w->out_fd);
	free(w->in);
	free(w->out);
	free(w);
	errno = saved;
	return rc;
}
