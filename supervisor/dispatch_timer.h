/*
 * The job engine's timers (dispatch.c's, not a public face): a running
 * job's timeout, and when its line may go to its worker. With a durable
 * store a job line waits in the supervisor until the commit of its start
 * has landed (store/queue.h), long while commits fail; job_timeout counts
 * from when the line can go, so a worker is never failed for a job it
 * has not been given.
 */
#ifndef MPSUP_SUPERVISOR_DISPATCH_TIMER_H
#define MPSUP_SUPERVISOR_DISPATCH_TIMER_H

#include <ev.h>

struct job;

typedef void (*dispatch_timer_cb)(struct ev_loop *, ev_timer *, int);

void	dispatch_timer_init(struct ev_loop *);
/*
 * A job line was queued for a worker (in send order); the lines queued
 * so far are sealed into a commit, those sealed may go (it landed), or
 * all may go (flushed).
 */
void	dispatch_timer_line(void);
void	dispatch_timer_sealed(void);
void	dispatch_timer_landed(void);
void	dispatch_timer_flushed(void);
/* Time the job whose line was queued last: cb after `after` seconds. */
void	dispatch_timer_start(struct job *, double after, dispatch_timer_cb);
void	dispatch_timer_stop(struct job *);
/*
 * In cb: 1 if the timer's job line has not gone yet, and the timer then
 * waits for it to go and runs `after` seconds from there (cb again).
 */
int	dispatch_timer_held(ev_timer *);

#endif
