/*
 * A Redis host name looked up off the loop (see redis_lookup.h).
 *
 * The lookup is held by its thread and by the loop, each dropping its
 * hold under the mutex; the last one frees it. The thread wakes the loop
 * (ev_async) only while the loop still wants the answer, so a link freed
 * while its lookup waits on DNS leaves nothing that can call it back.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/thread.h"
#include "common/xmalloc.h"
#include "store/redis_lookup.h"

struct redis_lookup {
	pthread_mutex_t	 mu;
	int		 holds;		/* the loop's and the thread's */
	int		 wanted;	/* the loop waits for the answer */
	struct ev_loop	*loop;
	ev_async	 done;
	char		*host;
	void		(*cb)(void *, const char *, const char *);
	void		*arg;
	/* Written by the thread before it wakes the loop. */
	char		 addr[REDIS_LOOKUP_ADDR];
	char		 why[128];
};

int
redis_lookup_numeric(const char *host)
{
	unsigned char	a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* Drop one hold; the last frees it. */
static void
redis_lookup_drop(struct redis_lookup *lk)
{
	int	last;

	pthread_mutex_lock(&lk->mu);
	last = --lk->holds == 0;
	pthread_mutex_unlock(&lk->mu);
	if (!last)
		return;
	pthread_mutex_destroy(&lk->mu);
	free(lk->host);
	free(lk);
}

/*
 * The first address of family for host, as text (with its scope, for a
 * link-local IPv6 one); 0, or an EAI_ code.
 */
static int
redis_lookup_family(struct redis_lookup *lk, int family)
{
	struct addrinfo	 hints, *res;
	int		 rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(lk->host, NULL, &hints, &res)) != 0)
		return rc;
	rc = getnameinfo(res->ai_addr, res->ai_addrlen, lk->addr,
	    sizeof lk->addr, NULL, 0, NI_NUMERICHOST);
	freeaddrinfo(res);
	return rc;
}

static void *
redis_lookup_main(void *arg)
{
	struct redis_lookup	*lk = arg;
	int			 rc;

	if ((rc = redis_lookup_family(lk, AF_INET)) != 0 &&
	    (rc = redis_lookup_family(lk, AF_INET6)) != 0) {
		lk->addr[0] = '\0';
		snprintf(lk->why, sizeof lk->why, "%s: %s", lk->host,
		    gai_strerror(rc));
	}
	pthread_mutex_lock(&lk->mu);
	if (lk->wanted)
		ev_async_send(lk->loop, &lk->done);
	pthread_mutex_unlock(&lk->mu);
	redis_lookup_drop(lk);
	return NULL;
}

static void
redis_lookup_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct redis_lookup	*lk = w->data;

	ev_async_stop(loop, w);
	pthread_mutex_lock(&lk->mu);
	lk->wanted = 0;
	pthread_mutex_unlock(&lk->mu);
	lk->cb(lk->arg, lk->addr[0] != '\0' ? lk->addr : NULL, lk->why);
	redis_lookup_drop(lk);
}

struct redis_lookup *
redis_lookup_start(struct ev_loop *loop, const char *host,
    void (*cb)(void *, const char *, const char *), void *arg, char **cause)
{
	struct redis_lookup	*lk = xcalloc(1, sizeof *lk);
	int			 rc;

	pthread_mutex_init(&lk->mu, NULL);
	lk->holds = 2;
	lk->wanted = 1;
	lk->loop = loop;
	lk->host = xstrdup(host);
	lk->cb = cb;
	lk->arg = arg;
	ev_async_init(&lk->done, redis_lookup_done_cb);
	lk->done.data = lk;
	ev_async_start(loop, &lk->done);
	rc = thread_start(NULL, 1, redis_lookup_main, lk, "mpsup-lookup");
	if (rc != 0) {
		xasprintf(cause, "cannot start a thread to look up %s: %s",
		    host, strerror(rc));
		ev_async_stop(loop, &lk->done);
		pthread_mutex_destroy(&lk->mu);
		free(lk->host);
		free(lk);
		return NULL;
	}
	return lk;
}

void
redis_lookup_cancel(struct redis_lookup *lk)
{
	ev_async_stop(lk->loop, &lk->done);
	pthread_mutex_lock(&lk->mu);
	lk->wanted = 0;
	pthread_mutex_unlock(&lk->mu);
	redis_lookup_drop(lk);
}
