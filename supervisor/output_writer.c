/*
 * The output log's writer thread (see output_writer.h).
 *
 * Hand-offs queue as chunks, each with the descriptor it goes to, so a
 * reopen's boundary holds: what was queued before it goes to the old
 * file. While the thread writes one chunk, later hand-offs for the same
 * descriptor are appended to the chunk at the tail, so a log that lags
 * costs one buffer, not a chunk per loop turn. The thread can be
 * cancelled only while it writes or waits on the log, where it holds no
 * lock: a log that takes nothing cannot hold up the end of mpsup.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/thread.h"
#include "common/xmalloc.h"
#include "supervisor/output_writer.h"

struct output_chunk {
	TAILQ_ENTRY(output_chunk) entry;
	struct buf	 b;
	int		 fd;		/* where b goes */
	int		 close_fd;	/* then closed (a reopen's old fd), or -1 */
};

TAILQ_HEAD(output_chunks, output_chunk);

struct output_writer {
	pthread_t		 thread;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;		/* a chunk queued, or stop */
	pthread_cond_t		 done_cv;	/* nothing left to write */
	/* Under mu. */
	struct output_chunks	 chunks;	/* not taken by the thread yet */
	struct output_chunk	*spare;		/* a written one, for reuse */
	size_t			 queued;	/* bytes not written yet (read
						   atomically without mu) */
	int			 above;		/* queued passed low since */
	int			 stop;
	size_t			 lost;		/* bytes the log refused */
	int			 lost_errno;	/* why, the last time */
	int			 losing;	/* it refuses them still (written
						   by the thread alone) */
	/* The loop's. */
	int			 fd;		/* where hand-offs go now */
	size_t			 low;
	void			(*wake)(void *);
	void			*arg;
};

/*
 * Write all of b to fd, waiting on it as long as it takes: 0, or the
 * errno of a write that failed (what is left of b is lost).
 */
static int
output_chunk_write(struct output_chunk *c)
{
	struct pollfd	pfd;
	ssize_t		n;
	int		old;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	while (buf_used(&c->b) > 0 && c->fd != -1) {
		n = buf_write_fd(&c->b, c->fd);
		if (n >= 0 || errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			pfd.fd = c->fd;
			pfd.events = POLLOUT;
			(void)poll(&pfd, 1, -1);
			continue;
		}
		/* The log is gone (EPIPE, ENOSPC): what it did not take is. */
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		return errno;
	}
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	return 0;
}

/*
 * The log began to refuse records: say so on stderr, from this thread,
 * since the loop must not wait on stderr (cancellable, as a write).
 */
static void
output_writer_say_lost(int err)
{
	int	old;

	pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
	dprintf(STDERR_FILENO, "mpsup: log: write: %s; records are lost "
	    "until it takes them again\n", strerror(err));
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
}

/*
 * After a write (under mu): count what the log refused, and wake the
 * loop when it takes records again.
 */
static void
output_writer_account(struct output_writer *w, int err, size_t lost,
    size_t len)
{
	if (err != 0) {
		w->lost += lost;
		w->lost_errno = err;
		w->losing = 1;
	} else if (w->losing && len > 0) {
		w->losing = 0;
		w->wake(w->arg);
	}
}

/* Cancelled while it wrote c: c is not written, and not queued either. */
static void
output_chunk_lost(void *arg)
{
	struct output_chunk	*c = arg;

	if (c->close_fd != -1)
		close(c->close_fd);
	buf_free(&c->b);
	free(c);
}

static void *
output_writer_main(void *arg)
{
	struct output_writer	*w = arg;
	struct output_chunk	*c;
	size_t			 len, lost;
	int			 err;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (TAILQ_EMPTY(&w->chunks) && !w->stop)
			pthread_cond_wait(&w->cv, &w->mu);
		if ((c = TAILQ_FIRST(&w->chunks)) == NULL)
			break;
		TAILQ_REMOVE(&w->chunks, c, entry);
		len = buf_used(&c->b);
		pthread_mutex_unlock(&w->mu);
		pthread_cleanup_push(output_chunk_lost, c);
		err = output_chunk_write(c);
		/* (losing is written by this thread alone.) */
		if (err != 0 && !w->losing)
			output_writer_say_lost(err);
		pthread_cleanup_pop(0);
		if (c->close_fd != -1)
			close(c->close_fd);
		lost = buf_used(&c->b);
		buf_reset(&c->b);
		/* As the loop kept its buffer: room for a few maximal records. */
		buf_trim(&c->b, 8u << 20);
		pthread_mutex_lock(&w->mu);
		output_writer_account(w, err, lost, len);
		__atomic_sub_fetch(&w->queued, len, __ATOMIC_RELAXED);
		if (w->spare == NULL)
			w->spare = c;
		else {
			buf_free(&c->b);
			free(c);
		}
		if (w->above && w->queued <= w->low) {
			w->above = 0;
			w->wake(w->arg);
		}
		if (w->queued == 0)
			pthread_cond_broadcast(&w->done_cv);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

struct output_writer *
output_writer_start(int fd, size_t low, void (*wake)(void *), void *arg,
    char **cause)
{
	struct output_writer	*w = xcalloc(1, sizeof *w);
	pthread_condattr_t	 ca;
	int			 rc;

	w->fd = fd;
	w->low = low;
	w->wake = wake;
	w->arg = arg;
	TAILQ_INIT(&w->chunks);
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = thread_start(&w->thread, 0, output_writer_main, w, "mpsup-log");
	if (rc != 0) {
		xasprintf(cause, "cannot start the log's writer thread: %s",
		    strerror(rc));
		pthread_cond_destroy(&w->done_cv);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return NULL;
	}
	return w;
}

/* A chunk for fd at the tail (not taken yet), or a new one. */
static struct output_chunk *
output_writer_tail(struct output_writer *w, int fd)
{
	struct output_chunk	*c = TAILQ_LAST(&w->chunks, output_chunks);

	if (c != NULL && c->fd == fd && c->close_fd == -1)
		return c;
	if ((c = w->spare) != NULL)
		w->spare = NULL;
	else
		c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->close_fd = -1;
	TAILQ_INSERT_TAIL(&w->chunks, c, entry);
	return c;
}

void
output_writer_give(struct output_writer *w, struct buf *b)
{
	struct output_chunk	*c;
	struct buf		 t;
	size_t			 len = buf_used(b);

	if (len == 0)
		return;
	pthread_mutex_lock(&w->mu);
	c = output_writer_tail(w, w->fd);
	if (buf_used(&c->b) == 0) {
		/* Swap: the chunk takes b's bytes, b its empty room. */
		buf_reset(&c->b);
		t = c->b;
		c->b = *b;
		*b = t;
	} else {
		buf_append(&c->b, buf_head(b), len);
		buf_reset(b);
	}
	__atomic_add_fetch(&w->queued, len, __ATOMIC_RELAXED);
	if (w->queued > w->low)
		w->above = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
output_writer_switch(struct output_writer *w, int fd, int close_old)
{
	struct output_chunk	*c;

	pthread_mutex_lock(&w->mu);
	if (close_old) {
		c = output_writer_tail(w, w->fd);
		c->close_fd = w->fd;
		pthread_cond_signal(&w->cv);
	}
	w->fd = fd;
	pthread_mutex_unlock(&w->mu);
}

size_t
output_writer_queued(const struct output_writer *w)
{
	return __atomic_load_n(&w->queued, __ATOMIC_RELAXED);
}

int
output_writer_wait(struct output_writer *w, double timeout)
{
	struct timespec	ts;
	int		rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)timeout;
	ts.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (w->queued > 0 && rc == 0)
		rc = pthread_cond_timedwait(&w->done_cv, &w->mu, &ts);
	rc = w->queued > 0 ? -1 : 0;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

size_t
output_writer_lost(struct output_writer *w, int *err)
{
	size_t	n = 0;

	pthread_mutex_lock(&w->mu);
	if (!w->losing) {
		n = w->lost;
		*err = w->lost_errno;
		w->lost = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return n;
}

size_t
output_writer_stop(struct output_writer *w, double timeout)
{
	struct output_chunk	*c;
	size_t			 left;

	if (output_writer_wait(w, timeout) == -1)
		pthread_cancel(w->thread);
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	/* Cancelled: what it held and what waited are not written. */
	left = w->queued;
	while ((c = TAILQ_FIRST(&w->chunks)) != NULL) {
		TAILQ_REMOVE(&w->chunks, c, entry);
		if (c->close_fd != -1)
			close(c->close_fd);
		buf_free(&c->b);
		free(c);
	}
	if (w->spare != NULL) {
		buf_free(&w->spare->b);
		free(w->spare);
	}
	pthread_cond_destroy(&w->done_cv);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
	return left;
}
