/* Helper threads: started with signals blocked, and named (thread.h). */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/thread.h"
#include "common/xmalloc.h"

struct thread_start {
	void	*(*fn)(void *);
	void	*arg;
	char	 name[THREAD_NAME_MAX + 1];
};

/*
 * The thread names itself: a detached one may end before its creator
 * could name it, and its id then names nothing.
 */
static void *
thread_main(void *p)
{
	struct thread_start	 ts = *(struct thread_start *)p;

	free(p);
	(void)pthread_setname_np(pthread_self(), ts.name);
	return ts.fn(ts.arg);
}

int
thread_start(pthread_t *t, int detached, void *(*fn)(void *), void *arg,
    const char *name)
{
	struct thread_start	*ts = xcalloc(1, sizeof *ts);
	pthread_attr_t		 attr;
	pthread_t		 tid;
	sigset_t		 all, old;
	int			 rc;

	ts->fn = fn;
	ts->arg = arg;
	snprintf(ts->name, sizeof ts->name, "%s", name);
	pthread_attr_init(&attr);
	if (detached)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The new thread inherits the mask: blocked from its first step. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&tid, &attr, thread_main, ts);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		free(ts);
		return rc;
	}
	if (t != NULL)
		*t = tid;
	return 0;
}
