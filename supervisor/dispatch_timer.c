/*
 * The job engine's timers (see dispatch_timer.h), and the release of job
 * lines they follow: the lines queued so far are counted, and so are
 * those sealed into the commit under way and those free to go (the
 * engine says when); a timer knows its line's number.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "common/xmalloc.h"
#include "store/job.h"
#include "supervisor/dispatch_timer.h"

/* How often a timer whose job line is still held looks again. */
#define DISPATCH_TIMER_POLL	0.25

/* A job's timer (job_set_timer()). */
struct dispatch_timer {
	ev_timer		 t;
	uint32_t		 line;		/* its job line's number */
	double			 after;
	dispatch_timer_cb	 cb;
};

static struct {
	struct ev_loop		*loop;
	/* Job lines queued; of them, sealed into a commit; free to go. */
	uint32_t		 queued;
	uint32_t		 sealed;
	uint32_t		 released;
} lines;

void
dispatch_timer_init(struct ev_loop *loop)
{
	lines.loop = loop;
}

void
dispatch_timer_line(void)
{
	lines.queued++;
}

void
dispatch_timer_sealed(void)
{
	lines.sealed = lines.queued;
}

void
dispatch_timer_landed(void)
{
	lines.released = lines.sealed;
}

void
dispatch_timer_flushed(void)
{
	lines.released = lines.queued;
}

void
dispatch_timer_stop(struct job *job)
{
	ev_timer	*t = job_timer(job);

	if (t != NULL) {
		ev_timer_stop(lines.loop, t);
		free(t);
		job_set_timer(job, NULL);
	}
}

void
dispatch_timer_start(struct job *job, double after, dispatch_timer_cb cb)
{
	struct dispatch_timer	*dt;

	dispatch_timer_stop(job);
	dt = xmalloc(sizeof *dt);
	ev_timer_init(&dt->t, cb, after, 0);
	dt->t.data = job;
	dt->line = lines.queued;
	dt->after = after;
	dt->cb = cb;
	job_set_timer(job, &dt->t);
	ev_timer_start(lines.loop, &dt->t);
}

static void
dispatch_timer_rearm(ev_timer *t, double after, dispatch_timer_cb cb)
{
	ev_timer_stop(lines.loop, t);
	ev_set_cb(t, cb);
	ev_timer_set(t, after, 0);
	ev_timer_start(lines.loop, t);
}

static int
dispatch_timer_waits(const struct dispatch_timer *dt)
{
	return (int32_t)(dt->line - lines.released) > 0;
}

/* A held timer: look again, or start the whole time once the line went. */
static void
dispatch_timer_poll_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct dispatch_timer	*dt = (struct dispatch_timer *)t;

	if (dispatch_timer_waits(dt))
		dispatch_timer_rearm(t, DISPATCH_TIMER_POLL,
		    dispatch_timer_poll_cb);
	else
		dispatch_timer_rearm(t, dt->after, dt->cb);
}

int
dispatch_timer_held(ev_timer *t)
{
	if (!dispatch_timer_waits((struct dispatch_timer *)t))
		return 0;
	dispatch_timer_rearm(t, DISPATCH_TIMER_POLL, dispatch_timer_poll_cb);
	return 1;
}
