/*
 * What the queue suites (check_queue.c, check_queue_durable.c) share: the
 * queue under test on a real libev loop, two pools a and b attached to
 * it, the events it reported, and the engine's moves played by hand.
 */
#ifndef MPSUP_QUEUE_HARNESS_H
#define MPSUP_QUEUE_HARNESS_H

#include <check.h>
#include <ev.h>

#include "config/config.h"
#include "store/job.h"
#include "store/queue.h"

/* One implementation under test, and what differs between them. */
struct qt_impl {
	const char	*name;
	int		 durable;
	int		 push_ret;	/* 0 queued at once, 1 pending */
};

struct qt {
	const struct qt_impl	*impl;
	char			 dir[64];	/* sqlite: removed after */
	char			 store[160];	/* queue_open's spec */
	struct ev_loop		*loop;
	ev_timer		 guard;		/* the loop never sleeps long */
	struct config		 cfg;
	struct config		*cfgp;
	struct queue		*q;
	struct queue_pool	 a, b;
	double			 dead_ttl;	/* pool a's, set by qt_open */
	/* Events reported. */
	int			 runnable_a, runnable_b;
	int			 finished;
	enum job_state		 finish_state;
	char			 finish_error[128];
	int			 bugs;		/* "BUG:" lines logged */
	double			 now;		/* the fake clock, 0: ev_now */
};

extern struct qt	qt;

/* Unchecked fixture of the sqlite tests: the folder of their files. */
void		 qt_topdir_create(void);
void		 qt_topdir_remove(void);
/* Checked fixtures: a fresh loop and queue of each implementation. */
void		 qt_setup_memory(void);
void		 qt_setup_sqlite(void);
void		 qt_teardown(void);

/* Open the queue and attach pools a and b (fresh counters); close it. */
void		 qt_open(void);
void		 qt_close(void);
/* Close, reopen and recover (a restart). */
void		 qt_restart(void);
/* What recovery allows: pool a three attempts, pool b one. */
unsigned	 qt_max_attempts(struct queue_pool *);

/* The time the queue reads (the fake clock once a test set qt.now). */
double		 qt_time(void);
/* Submit a job to qp as the engine does; the queue owns it now. */
struct job	*qt_push(struct queue_pool *, const char *data);
/* The same with flow fields (group NULL: none; not_before 0: none). */
struct job	*qt_push_flow(struct queue_pool *, int priority,
		    const char *group, double not_before);
/* A claimed job starts running (its attempt counts). */
void		 qt_start(struct job *);
/* A claimed job ends in state: the queue keeps its record. */
void		 qt_finish(struct job *, enum job_state);
/* A claimed job the test never gives back: out of the id table, freed. */
void		 qt_drop(struct job *);
/* Run the loop until cond() holds or timeout seconds passed; cond(). */
int		 qt_run_until(int (*cond)(void), double timeout);

/* The durable queue's own tests (check_queue_durable.c) join tc. */
void		 qt_durable_tests_add(TCase *tc);
/* Flow control's tests (check_queue_flow.c): for every implementation. */
void		 qt_flow_tests_add(TCase *tc);
/* and those only a durable queue passes. */
void		 qt_flow_durable_tests_add(TCase *tc);

#endif
