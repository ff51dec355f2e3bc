/*
 * Periodic jobs: each [schedule:NAME] of the config submits one job to
 * its pool at each tick of its cron expression or `every` period, on the
 * supervisor's loop (a libev periodic, so wall-clock jumps are followed).
 * A tick's job carries the idempotency key "schedule:NAME:TICK" (TICK in
 * RFC 3339 UTC), so a tick is never submitted twice while the queue knows
 * that key: across reloads always, across restarts with a durable store.
 */
#ifndef MPSUP_SCHEDULE_H
#define MPSUP_SCHEDULE_H

#include <ev.h>
#include <stddef.h>

#include "common/buf.h"

struct config;
struct pool;
struct queue;
struct schedules;

/* What the schedules read of the supervisor (pointers: reloads show). */
struct schedule_env {
	struct ev_loop		*loop;
	struct config *const	*cfg;
	struct pool **const	*pools;
	const size_t		*npools;
	struct queue		*queue;
};

/* The schedules of *env->cfg, armed; at start-up missed = once applies. */
struct schedules *schedules_start(const struct schedule_env *);
/* After a reload: adopt *env->cfg's schedules, keeping unchanged ones. */
void	schedules_reload(struct schedules *);
/* A graceful stop began: no more ticks. */
void	schedules_stop(struct schedules *);
void	schedules_free(struct schedules *);
/* Append the status document's "schedules" list (a JSON array). */
void	schedules_status(const struct schedules *, struct buf *);

#endif
