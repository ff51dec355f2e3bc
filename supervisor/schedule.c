/*
 * Periodic jobs (see schedule.h). Each schedule keeps its next tick on an
 * absolute libev periodic. When it fires, the tick it was armed for is
 * submitted and the next tick after now is armed: ticks that passed while
 * the loop was held up are missed, the one that fired stands for them.
 * At start-up, missed = once submits the latest tick at or before now
 * unless the queue already knows its key (a restart within a tick, or a
 * tick the previous run submitted); a first start has no earlier run to
 * go by, so it submits that tick too.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "config/cron.h"
#include "ipc/jsontext.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "supervisor/schedule.h"

struct schedule {
	struct schedules		*all;
	const struct schedule_config	*sc;	/* in the current config */
	ev_periodic			 timer;
	double				 next;		/* tick armed, or -1 */
	double				 last;		/* tick submitted, or -1 */
	unsigned long long		 submitted;	/* jobs this run */
};

struct schedules {
	struct schedule_env	  env;
	struct schedule		**list;
	size_t			  n;
	int			  stopped;
};

/* Whole periods of p in t (t >= 0, as wall-clock times are). */
static double
schedule_periods(double t, double p)
{
	return (double)(int64_t)(t / p);
}

/* The first tick of sc strictly after t, or -1 if none. */
static double
schedule_tick_after(const struct schedule_config *sc, double t)
{
	double	p;
	int64_t	c;

	if (sc->cron_expr != NULL) {
		c = cron_next(&sc->cron, (int64_t)t, sc->tz_offset);
		return c == -1 ? -1.0 : (double)c;
	}
	p = sc->every;
	return (schedule_periods(t, p) + 1.0) * p;
}

/* The last tick of sc at or before t, or -1 if none. */
static double
schedule_tick_at_or_before(const struct schedule_config *sc, double t)
{
	int64_t	c;

	if (sc->cron_expr != NULL) {
		c = cron_prev(&sc->cron, (int64_t)t, sc->tz_offset);
		return c == -1 ? -1.0 : (double)c;
	}
	return schedule_periods(t, sc->every) * sc->every;
}

/* The idempotency key of a tick. */
static void
schedule_key(const struct schedule *s, double tick, char **key)
{
	char	ts[TIME_ISO_BUF];

	time_iso8601(tick, ts);
	xasprintf(key, "schedule:%s:%s", s->sc->name, ts);
}

/* The live pool named name, or NULL. */
static struct pool *
schedule_pool(const struct schedule_env *env, const char *name)
{
	struct pool	**pools = *env->pools;
	size_t		  i;

	for (i = 0; i < *env->npools; i++)
		if (!pools[i]->removed && strcmp(pools[i]->name, name) == 0)
			return pools[i];
	return NULL;
}

/* Submit the job of one tick, unless the queue knows its key already. */
static void
schedule_submit(struct schedule *s, double tick)
{
	struct schedule_env	*env = &s->all->env;
	struct pool		*pool;
	const char		*err;
	char			*key, *client;

	/* Its jobs are the schedule's own: no client's, its keys apart. */
	xasprintf(&client, "schedule:%s", s->sc->name);
	schedule_key(s, tick, &key);
	if (queue_lookup_key(env->queue, client, key) != NULL) {
		free(client);
		free(key);
		return;
	}
	if ((pool = schedule_pool(env, s->sc->pool)) == NULL) {
		log_warnx("schedule %s: pool %s is gone: tick skipped",
		    s->sc->name, s->sc->pool);
		free(client);
		free(key);
		return;
	}
	if (dispatch_submit(pool, s->sc->data, strlen(s->sc->data), client,
	    key, NULL, &err) == NULL)
		log_warnx("schedule %s: %s: tick refused (%s)", s->sc->name,
		    pool->name, err);
	else {
		s->last = tick;
		s->submitted++;
		dispatch_run(pool);
	}
	free(client);
	free(key);
}

/* Arm the first tick after t (or nothing, if the schedule has none). */
static void
schedule_arm(struct schedule *s, double t)
{
	struct ev_loop	*loop = s->all->env.loop;

	ev_periodic_stop(loop, &s->timer);
	s->next = schedule_tick_after(s->sc, t);
	if (s->next < 0) {
		log_warnx("schedule %s: no tick within 30 years", s->sc->name);
		return;
	}
	ev_periodic_set(&s->timer, s->next, 0, NULL);
	ev_periodic_start(loop, &s->timer);
}

static void
schedule_cb(struct ev_loop *loop, ev_periodic *w, int revents)
{
	struct schedule	*s = w->data;
	double		 tick = s->next, now = ev_now(loop);

	if (s->all->stopped)
		return;
	schedule_submit(s, tick);
	schedule_arm(s, now > tick ? now : tick);
}

/* A schedule for sc, armed; with at_start, missed = once applies. */
static struct schedule *
schedule_new(struct schedules *all, const struct schedule_config *sc,
    int at_start)
{
	struct schedule	*s = xcalloc(1, sizeof *s);
	double		 now = ev_now(all->env.loop), prev;

	s->all = all;
	s->sc = sc;
	s->last = -1;
	ev_periodic_init(&s->timer, schedule_cb, 0, 0, NULL);
	s->timer.data = s;
	if (at_start && sc->missed == SCHEDULE_MISSED_ONCE &&
	    (prev = schedule_tick_at_or_before(sc, now)) >= 0)
		schedule_submit(s, prev);
	schedule_arm(s, now);
	return s;
}

static void
schedule_free(struct schedule *s)
{
	ev_periodic_stop(s->all->env.loop, &s->timer);
	free(s);
}

struct schedules *
schedules_start(const struct schedule_env *env)
{
	struct schedules	*all = xcalloc(1, sizeof *all);
	const struct config	*cfg = *env->cfg;
	size_t			 i;

	all->env = *env;
	all->n = cfg->nschedules;
	all->list = xcalloc(all->n + 1, sizeof *all->list);
	for (i = 0; i < all->n; i++)
		all->list[i] = schedule_new(all, cfg->schedules[i], 1);
	return all;
}

/* Keep the schedules that did not change, by name; start the others. */
void
schedules_reload(struct schedules *all)
{
	const struct config	 *cfg = *all->env.cfg;
	struct schedule		**list;
	size_t			  i, j;

	list = xcalloc(cfg->nschedules + 1, sizeof *list);
	for (i = 0; i < cfg->nschedules; i++) {
		for (j = 0; j < all->n; j++) {
			if (all->list[j] != NULL && strcmp(all->list[j]->sc->name,
			    cfg->schedules[i]->name) == 0)
				break;
		}
		if (j < all->n && !config_schedule_differs(all->list[j]->sc,
		    cfg->schedules[i])) {
			list[i] = all->list[j];
			list[i]->sc = cfg->schedules[i];
			all->list[j] = NULL;
		} else
			list[i] = schedule_new(all, cfg->schedules[i], 0);
	}
	for (j = 0; j < all->n; j++)
		if (all->list[j] != NULL)
			schedule_free(all->list[j]);
	free(all->list);
	all->list = list;
	all->n = cfg->nschedules;
}

void
schedules_stop(struct schedules *all)
{
	size_t	i;

	all->stopped = 1;
	for (i = 0; i < all->n; i++)
		ev_periodic_stop(all->env.loop, &all->list[i]->timer);
}

void
schedules_free(struct schedules *all)
{
	size_t	i;

	if (all == NULL)
		return;
	for (i = 0; i < all->n; i++)
		schedule_free(all->list[i]);
	free(all->list);
	free(all);
}

/* An RFC 3339 time, or null for a negative one. */
static void
schedules_time(struct buf *b, const char *name, double t)
{
	char	ts[TIME_ISO_BUF];

	if (t < 0) {
		buf_appendf(b, ",\"%s\":null", name);
		return;
	}
	time_iso8601(t, ts);
	buf_appendf(b, ",\"%s\":\"%s\"", name, ts);
}

void
schedules_status(const struct schedules *all, struct buf *b)
{
	const struct schedule	*s;
	size_t			 i;

	buf_append_str(b, "[");
	for (i = 0; all != NULL && i < all->n; i++) {
		s = all->list[i];
		buf_append_str(b, i > 0 ? ",{\"name\":" : "{\"name\":");
		jsontext_string_append(b, s->sc->name, strlen(s->sc->name));
		buf_append_str(b, ",\"pool\":");
		jsontext_string_append(b, s->sc->pool, strlen(s->sc->pool));
		if (s->sc->cron_expr != NULL) {
			buf_append_str(b, ",\"cron\":");
			jsontext_string_append(b, s->sc->cron_expr,
			    strlen(s->sc->cron_expr));
		} else
			buf_appendf(b, ",\"every_s\":%.3f", s->sc->every);
		buf_appendf(b, ",\"missed\":\"%s\"", s->sc->missed ==
		    SCHEDULE_MISSED_ONCE ? "once" : "skip");
		schedules_time(b, "next_run", all->stopped ? -1 : s->next);
		schedules_time(b, "last_run", s->last);
		buf_appendf(b, ",\"submitted\":%llu}", s->submitted);
	}
	buf_append_str(b, "]");
}
