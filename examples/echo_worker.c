/*
 * A stream-pool worker in C that answers every job with its own data,
 * built on the worker library (<mpsup/worker.h>). It is the smallest
 * useful worker and the one the throughput benchmark runs.
 *
 *	[pool:echo]
 *	type    = stream
 *	command = examples/echo_worker
 *
 * With ECHO_WORK_US=N in its environment it spends N microseconds on each
 * job first (sleeping), to stand in for real work in tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mpsup/worker.h>

/* Answer every job with its data until the supervisor closes the channel. */
int
main(void)
{
	struct mpsup_worker	*w;
	struct mpsup_job	 job;
	char			*cause;
	const char		*work = getenv("ECHO_WORK_US");
	struct timespec		 nap = { 0, 0 };
	int			 r;

	if (work != NULL)
		nap.tv_nsec = (atol(work) % 1000000) * 1000;

	if ((w = mpsup_worker_open(&cause)) == NULL) {
		fprintf(stderr, "echo_worker: %s\n",
		    cause != NULL ? cause : "out of memory");
		return 1;
	}
	while ((r = mpsup_worker_next(w, &job)) != 0) {
		if (r == -1) {
			fprintf(stderr, "echo_worker: %s\n", job.error);
			if (job.id != NULL)
				mpsup_worker_fail(w, job.id, job.error);
			continue;
		}
		if (nap.tv_nsec > 0)
			nanosleep(&nap, NULL);
		if (mpsup_worker_reply(w, job.id, job.data, job.data_len) == -1 &&
		    mpsup_worker_flush(w) == -1)
			break;
	}
	return mpsup_worker_close(w) == 0 ? 0 : 1;
}
