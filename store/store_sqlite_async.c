/*
 * The SQLite store's commit thread (see store.h, "Pipelined commits").
 *
 * One thread runs one call at a time (the store's commit of the
 * transaction the loop built) and says it is done through an eventfd the
 * loop watches. Hand-off, and why it needs no more than one mutex:
 *
 * - The loop thread fills the transaction (records, segments to delete),
 *   then store_async_run() sets `want` under mu. From then until it has
 *   read the result (store_async_result() found `done` under mu), the
 *   loop touches none of what the call uses: the SQLite connection, its
 *   statements, the segment bodies and the list of segments to delete
 *   (store_sqlite.c keeps what the loop may change meanwhile apart).
 * - The thread reads `want` under mu, runs the call without the lock,
 *   then sets `done`, `rc` and `cause` under mu. The mutex orders every
 *   write of one side before the other side's reads (unlock/lock is a
 *   happens-before edge), so nothing is shared without it; the
 *   connection is never used by two threads at once (SQLite's
 *   multi-thread mode, SQLITE_OPEN_NOMUTEX, asks exactly that).
 * - The thread makes no libev call and no log call; the loop learns of
 *   the end through the eventfd (O_CLOEXEC, non-blocking), written after
 *   mu is released (so the woken loop does not sleep again on a held
 *   mu), and drained under mu by every look at `done`: a count left by
 *   a call already collected wakes the loop once at most, and finds
 *   `done` clear. Condition variables are signalled after the unlock,
 *   for the same reason.
 * - Workers are forked from the loop thread; the child runs only
 *   async-signal-safe code before exec, so the thread's locks do not
 *   matter there.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/thread.h"
#include "common/xmalloc.h"
#include "store/store.h"

struct store_async {
	int		(*fn)(void *, char **);
	void		*arg;
	int		 fd;		/* eventfd: a call ended */
	int		 busy;		/* the loop's: a call not yet collected */
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* want or stop was set */
	pthread_cond_t	 done_cv;	/* done was set */
	int		 want;		/* under mu */
	int		 stop;		/* under mu */
	int		 done;		/* under mu */
	int		 rc;		/* under mu */
	char		*cause;		/* under mu */
};

static void *
store_async_main(void *p)
{
	struct store_async	*a = p;
	uint64_t		 one = 1;
	char			*cause;
	int			 rc;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->want && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (!a->want)
			break;
		a->want = 0;
		pthread_mutex_unlock(&a->mu);
		cause = NULL;
		rc = a->fn(a->arg, &cause);
		pthread_mutex_lock(&a->mu);
		a->rc = rc;
		a->cause = cause;
		a->done = 1;
		pthread_mutex_unlock(&a->mu);
		/*
		 * Outside the lock: the loop, woken by the write, would
		 * otherwise find mu held and sleep on it again.
		 */
		pthread_cond_signal(&a->done_cv);
		/* Cannot fail short of a full counter: one write per call. */
		while (write(a->fd, &one, sizeof one) == -1 && errno == EINTR)
			;
		pthread_mutex_lock(&a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

struct store_async *
store_async_start(int (*fn)(void *, char **), void *arg, char **cause)
{
	struct store_async	*a = xcalloc(1, sizeof *a);
	int			 rc;

	a->fn = fn;
	a->arg = arg;
	if ((a->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		xasprintf(cause, "eventfd: %s", strerror(errno));
		free(a);
		return NULL;
	}
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_cond_init(&a->done_cv, NULL);
	if ((rc = thread_start(&a->thread, 0, store_async_main, a,
	    "mpsup-commit")) != 0) {
		xasprintf(cause, "cannot start the commit thread: %s",
		    strerror(rc));
		pthread_cond_destroy(&a->done_cv);
		pthread_cond_destroy(&a->cv);
		pthread_mutex_destroy(&a->mu);
		close(a->fd);
		free(a);
		return NULL;
	}
	return a;
}

/* A call still running is waited for (its result is dropped). */
void
store_async_stop(struct store_async *a)
{
	char	*cause = NULL;

	if (a == NULL)
		return;
	if (a->busy && store_async_result(a, 1, &cause) == -1)
		free(cause);
	pthread_mutex_lock(&a->mu);
	a->stop = 1;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_cond_destroy(&a->done_cv);
	pthread_cond_destroy(&a->cv);
	pthread_mutex_destroy(&a->mu);
	close(a->fd);
	free(a);
}

int
store_async_fd(const struct store_async *a)
{
	return a->fd;
}

int
store_async_busy(const struct store_async *a)
{
	return a->busy;
}

void
store_async_run(struct store_async *a)
{
	if (a->busy)
		abort();	/* one call at a time: the caller checks */
	a->busy = 1;
	pthread_mutex_lock(&a->mu);
	a->done = 0;
	a->want = 1;
	pthread_mutex_unlock(&a->mu);
	/* After the unlock, so the thread does not wake onto a held mu. */
	pthread_cond_signal(&a->cv);
}

/*
 * The call's result: 0, or -1 with *cause; 1 if it still runs and block
 * is 0. Collecting it ends the call: the loop owns everything again.
 */
int
store_async_result(struct store_async *a, int block, char **cause)
{
	uint64_t	n;
	ssize_t		r;
	int		rc;

	pthread_mutex_lock(&a->mu);
	while (block && !a->done)
		pthread_cond_wait(&a->done_cv, &a->mu);
	/*
	 * The thread writes the eventfd after setting done, outside mu: a
	 * count read here while done is 0 is one a call collected earlier
	 * left (its write came after its collection), drained here so that
	 * it does not wake the loop again; with done set, this call's own
	 * count is drained now or, arriving later, at the next call's check.
	 */
	r = read(a->fd, &n, sizeof n);	/* -1 (EAGAIN): nothing there */
	(void)r;
	if (!a->done) {
		pthread_mutex_unlock(&a->mu);
		return 1;
	}
	rc = a->rc;
	if (rc == -1)
		*cause = a->cause;
	else
		free(a->cause);
	a->cause = NULL;
	a->done = 0;
	a->busy = 0;
	pthread_mutex_unlock(&a->mu);
	return rc == -1 ? -1 : 0;
}
