/*
 * Background checkpoints for the SQLite store (see store_ckpt.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/thread.h"
#include "common/xmalloc.h"
#include "store/sqlite_api.h"
#include "store/store_ckpt.h"
#include "store/store_sqlite_vfs.h"

struct store_ckpt {
	sqlite3		*db;		/* the loop's connection */
	sqlite3		*own;		/* the thread's connection */
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 wanted;	/* under mu */
	int		 stop;		/* under mu */
	unsigned long	 count;		/* under mu */
	int		 step;		/* frames between two wake-ups */
	/* The hook's (the committing thread's): -wal frames when it */
	int		 seen;		/* last ran */
	int		 asked;		/* last woke the thread */
	unsigned long	 wakeups;	/* the hook's: how many times */
};

static void *
store_ckpt_main(void *arg)
{
	struct store_ckpt	*c = arg;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->wanted && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop)
			break;
		c->wanted = 0;
		pthread_mutex_unlock(&c->mu);
		/* Busy or failed: the next commit past the mark asks again. */
		(void)sqlite3_wal_checkpoint_v2(c->own, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&c->mu);
		c->count++;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/*
 * After each commit of the loop's connection, with the -wal size. Past
 * the mark the thread is woken once per c->step frames. The -wal file
 * starts over only once a checkpoint has caught up with every commit,
 * which under steady load is rare: woken at every commit, the thread ran
 * one small checkpoint after another, two flushes each, copying the pages
 * every commit rewrites each time. With store_sync = normal, waking it
 * once per STORE_CKPT_STEP frames cut its flushes 30-fold and the pages
 * it copies by a quarter (bench/README.md); with full, where every commit
 * flushes the -wal file on the loop, the end-to-end rate fell by a tenth,
 * so there the thread is still woken at every commit.
 */
static int
store_ckpt_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store_ckpt	*c = arg;

	if (frames < c->seen)
		c->asked = 0;		/* the -wal file started over */
	c->seen = frames;
	if (frames >= STORE_CKPT_MAX) {
		/* The thread falls behind: catch up here, once. */
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (frames >= STORE_CKPT_FRAMES &&
	    frames - c->asked >= c->step) {
		c->asked = frames;
		c->wakeups++;
		pthread_mutex_lock(&c->mu);
		c->wanted = 1;
		pthread_mutex_unlock(&c->mu);
		pthread_cond_signal(&c->cv);
	}
	return SQLITE_OK;
}

struct store_ckpt *
store_ckpt_start(sqlite3 *db, const char *path, int step, char **cause)
{
	struct store_ckpt	*c;
	int			 rc;

	c = xcalloc(1, sizeof *c);
	c->db = db;
	c->step = step > 0 ? step : 1;
	if (sqlite3_open_v2(path, &c->own, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
	    store_sqlite_vfs()) != SQLITE_OK) {
		xasprintf(cause, "%s: opening the checkpoint connection: %s",
		    path, c->own != NULL ? sqlite3_errmsg(c->own) :
		    "out of memory");
		sqlite3_close(c->own);
		free(c);
		return NULL;
	}
	/* It may wait for the loop's connection; the loop never waits. */
	sqlite3_busy_timeout(c->own, 1000);
	/* A first read puts the connection in WAL mode (else it skips). */
	if (sqlite3_exec(c->own, "SELECT count(*) FROM sqlite_master", NULL,
	    NULL, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: the checkpoint connection: %s", path,
		    sqlite3_errmsg(c->own));
		sqlite3_close(c->own);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((rc = thread_start(&c->thread, 0, store_ckpt_main, c,
	    "mpsup-ckpt")) != 0) {
		xasprintf(cause, "%s: starting the checkpoint thread: error %d",
		    path, rc);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close(c->own);
		free(c);
		return NULL;
	}
	/* Replaces SQLite's automatic checkpoints on db. */
	sqlite3_wal_hook(db, store_ckpt_hook, c);
	return c;
}

void
store_ckpt_stop(struct store_ckpt *c)
{
	if (c == NULL)
		return;
	sqlite3_wal_hook(c->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	sqlite3_close(c->own);
	free(c);
}

unsigned long
store_ckpt_count(struct store_ckpt *c)
{
	unsigned long	n;

	pthread_mutex_lock(&c->mu);
	n = c->count;
	pthread_mutex_unlock(&c->mu);
	return n;
}

/* From the thread that commits through db (the hook's). */
unsigned long
store_ckpt_wakeups(const struct store_ckpt *c)
{
	return c->wakeups;
}
