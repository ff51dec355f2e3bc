/*
 * A stand-in for the worker process module (supervisor/worker.h) for unit
 * tests of the pool and the job engine: it implements every worker_*
 * function, so a test that links fake_worker.c never pulls worker.c out of
 * libmpsup.a. No process is started; the test plays the worker: it reads
 * the job lines sent, answers them, and makes the worker die.
 */
#ifndef MPSUP_FAKE_WORKER_H
#define MPSUP_FAKE_WORKER_H

#include "supervisor/worker.h"

/* Job lines sent to w since its start, in order: their ids. */
int		 fake_worker_nsent(const struct worker *);
const char	*fake_worker_sent(const struct worker *, int i);
/* Answer job id as the worker would: ok, or not ok with an error. */
int		 fake_worker_answer(struct worker *, const char *id, int ok);
/* The process is gone after uptime seconds (reaped, pipes closed). */
void		 fake_worker_die(struct worker *, double uptime);
/* It has been idle for idle_timeout (an on-demand worker of a dynamic pool). */
void		 fake_worker_idle(struct worker *);
/* Why it was killed (worker_fail), or NULL. */
const char	*fake_worker_why(const struct worker *);
/* Cancel lines sent to w. */
int		 fake_worker_cancels(const struct worker *);
/* Make the next spawn of any worker fail (a fork error). */
void		 fake_worker_fail_spawns(int);

#endif
