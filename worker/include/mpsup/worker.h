/*
 * <mpsup/worker.h>: write mpsup stream-pool workers in C.
 *
 * The supervisor sends one job a line, {"id":"J","data":<JSON>}, and the
 * worker answers one line a job, {"id":"J","ok":true,"result":<JSON>} or
 * {"id":"J","ok":false,"error":"message"}. This library does the framing:
 * it reads many lines per read(2), hands out each job's data as raw JSON
 * text (it never builds a tree: parse it with whatever JSON library you
 * like, or not at all), buffers replies and writes them in batches, always
 * before it blocks waiting for more input and without holding an answer
 * back for more than about a millisecond or one more job.
 *
 *	struct mpsup_worker	*w;
 *	struct mpsup_job	 job;
 *	char			*cause;
 *	int			 r;
 *
 *	if ((w = mpsup_worker_open(&cause)) == NULL)
 *		errx(1, "%s", cause);
 *	while ((r = mpsup_worker_next(w, &job)) != 0) {
 *		if (r == -1) {
 *			if (job.id != NULL)
 *				mpsup_worker_fail(w, job.id, job.error);
 *			continue;
 *		}
 *		mpsup_worker_reply(w, job.id, job.data, job.data_len);
 *	}
 *	return mpsup_worker_close(w) == 0 ? 0 : 1;
 *
 * A handle is not thread-safe. The library needs only libc. If the
 * supervisor goes away, writing a reply raises SIGPIPE, whose default
 * action ends the worker, which is usually right; a worker that ignores
 * SIGPIPE gets -1 with errno EPIPE from the calls that write instead.
 */
#ifndef MPSUP_WORKER_H
#define MPSUP_WORKER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MPSUP_WORKER_VERSION		2	/* 2: mpsup_worker_ready */

/* Longest job line accepted by default; see mpsup_worker_set_max_line. */
#define MPSUP_WORKER_MAX_LINE		(256UL * 1024 * 1024)

/* Deepest nesting of arrays and objects in a result the supervisor takes. */
#define MPSUP_WORKER_MAX_DEPTH		60

struct mpsup_worker;

/*
 * One job. Every pointer is borrowed from the handle and stays valid until
 * the next call to mpsup_worker_next or mpsup_worker_close.
 */
struct mpsup_job {
	const char	*id;		/* job id, NUL-terminated; NULL if none */
	const char	*data;		/* data as raw JSON text, NUL-terminated */
	size_t		 data_len;	/* bytes in data, not counting the NUL */
	const char	*error;		/* why a line was refused, else NULL */
};

/*
 * Open the job channel named by MPSUP_JOB_FDS ("stdio", the default, or
 * "3,4"). In stdio mode the channel moves from fds 0 and 1 to new
 * close-on-exec descriptors; fd 0 then reads /dev/null and fd 1 is a copy
 * of fd 2, so a stray printf or a child process ends up in the log instead
 * of corrupting the protocol (stdout is flushed first and made line
 * buffered). Returns NULL on failure with *cause set to a message the
 * caller frees (or NULL if even that allocation failed).
 */
struct mpsup_worker	*mpsup_worker_open(char **cause);

/*
 * Use in_fd for jobs and out_fd for results (they may be the same, e.g.
 * one end of a socketpair). Takes ownership of both. NULL if out of memory.
 */
struct mpsup_worker	*mpsup_worker_open_fds(int in_fd, int out_fd);

/* Refuse job lines longer than max bytes (0 restores the default). */
void	mpsup_worker_set_max_line(struct mpsup_worker *, size_t max);

/*
 * Wait for the next job. Returns 1 with *job filled in; 0 at the end of
 * the input; -1 for a line that is not a valid job, with job->error saying
 * why and job->id set if the line had a usable id (answer it with
 * mpsup_worker_fail), after which the caller just goes on. A read error is
 * also returned as -1 (errno set, job->id NULL), once: later calls then
 * return 0. Pending replies are written before the call blocks.
 */
int	mpsup_worker_next(struct mpsup_worker *, struct mpsup_job *job);

/*
 * Answer job id with result, len bytes of JSON text (NULL means null).
 * Line breaks in the text are turned into spaces. Text that is not one
 * valid JSON value, or that nests deeper than MPSUP_WORKER_MAX_DEPTH, is
 * answered as a failure instead ("result nested deeper than 60 levels")
 * and -1 returned with errno EINVAL. Returns -1 if writing failed (also
 * for every later call).
 */
int	mpsup_worker_reply(struct mpsup_worker *, const char *id,
	    const char *result, size_t len);

/*
 * Answer job id with a failure. The message is any C string: it is
 * escaped, and invalid UTF-8 is replaced by U+FFFD.
 */
int	mpsup_worker_fail(struct mpsup_worker *, const char *id,
	    const char *message);

/*
 * Tell the supervisor the worker has finished setting up and may be sent
 * jobs: with `ready = line` in its pool (MPSUP_READY=line in the
 * environment) it writes {"ready":true}, once; otherwise it does nothing.
 * Call it after your set-up (loading a model, opening connections); the
 * first mpsup_worker_next calls it if you did not. Returns 0 or -1 (errno
 * set) if writing failed.
 */
int	mpsup_worker_ready(struct mpsup_worker *);

/* Write every buffered reply now. Returns 0 or -1 (errno set). */
int	mpsup_worker_flush(struct mpsup_worker *);

/* Flush, close both descriptors and free. Returns the flush's result. */
int	mpsup_worker_close(struct mpsup_worker *);

#ifdef __cplusplus
}
#endif

#endif
