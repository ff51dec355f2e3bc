/*
 * The [schedule:NAME] sections and the order pools start in (see
 * config_impl.h): the setters of their keys, and the checks that need the
 * whole file: a schedule names a pool that exists, ticks by cron or by
 * every (not both), and carries the kind of job its pool runs; the
 * depends_on names of the pools exist and form no cycle.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonscan.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "config/config_impl.h"
#include "config/cron.h"
#include "config/parse.h"

/* A new [schedule:NAME] header at the current line. */
void
config_schedule_section(struct loader *ld, const char *name)
{
	struct config		*cfg = ld->cfg;
	struct schedule_config	*sc;
	size_t			 i;

	ld->sect = SECT_SKIP;
	if (!config_valid_name(name)) {
		config_error(ld, ld->lineno, "bad schedule name '%s' (use up "
		    "to 64 letters, digits, '_', '-' and '.')", name);
		return;
	}
	for (i = 0; i < cfg->nschedules; i++) {
		if (strcmp(cfg->schedules[i]->name, name) == 0) {
			config_error(ld, ld->lineno, "duplicate schedule '%s' "
			    "(first at line %d)", name, cfg->schedules[i]->line);
			return;
		}
	}
	if (cfg->nschedules == CONFIG_MAX_SCHEDULES) {
		config_error(ld, ld->lineno, "too many schedules (at most %d)",
		    CONFIG_MAX_SCHEDULES);
		return;
	}
	sc = xcalloc(1, sizeof *sc);
	sc->name = xstrdup(name);
	sc->line = ld->lineno;
	sc->missed = SCHEDULE_MISSED_SKIP;
	sc->every = -1;		/* stays so if the value is bad */
	cfg->schedules = xreallocarray(cfg->schedules, cfg->nschedules + 1,
	    sizeof *cfg->schedules);
	cfg->schedules[cfg->nschedules] = sc;
	ld->sched_states = xreallocarray(ld->sched_states, cfg->nschedules + 1,
	    sizeof *ld->sched_states);
	memset(&ld->sched_states[cfg->nschedules], 0, sizeof *ld->sched_states);
	ld->sched_states[cfg->nschedules].line = ld->lineno;
	ld->state = &ld->sched_states[cfg->nschedules];
	cfg->nschedules++;
	ld->sched = sc;
	ld->sect = SECT_SCHEDULE;
}

/* Free one schedule's settings. */
void
config_schedule_free(struct schedule_config *sc)
{
	free(sc->name);
	free(sc->pool);
	free(sc->cron_expr);
	free(sc->data);
	free(sc->timezone);
	free(sc);
}

/* cron: five fields or a macro (config/cron.h). */
void
config_set_cron(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct schedule_config	*sc = ld->sched;
	const char		*err;

	if (cron_parse(value, &sc->cron, &err) == -1) {
		config_error(ld, ld->lineno, "cron: '%s': %s", value, err);
		return;
	}
	free(sc->cron_expr);
	sc->cron_expr = xstrdup(value);
}

/* data: the job's data, one JSON value. */
void
config_set_job_data(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct schedule_config	*sc = ld->sched;
	struct jsonscan		 js = { JSONSCAN_MAX_DEPTH, NULL, 0, 0 };
	const char		*end = value + strlen(value), *p;

	p = jsonscan_ws(value, end);
	if (p == end || (p = jsonscan_value(&js, p, end)) == NULL ||
	    jsonscan_ws(p, end) != end) {
		config_error(ld, ld->lineno, "data: not one JSON value");
		return;
	}
	free(sc->data);
	sc->data = xstrdup(value);
}

/* args: the exec job's command, split into words like a pool's command. */
void
config_set_job_args(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct schedule_config	*sc = ld->sched;
	char			**words, *o;
	const char		*err, *p;
	size_t			  n, i, len;
	struct buf		  b;

	if (parse_words(value, &words, &n, &err) == -1) {
		config_error(ld, ld->lineno, "args: %s", err);
		return;
	}
	memset(&b, 0, sizeof b);
	buf_append_str(&b, "{\"args\":[");
	for (i = 0; i < n; i++) {
		len = strlen(words[i]);
		buf_reserve(&b, 6 * len + 8);
		o = b.data + b.len;
		if (i > 0)
			*o++ = ',';
		*o++ = '"';
		p = words[i];
		o = jsonscan_escape(o, &p, p + len, p + len);
		*o++ = '"';
		b.len = (size_t)(o - b.data);
	}
	buf_append(&b, "]}", 3);
	free_strv(words, n);
	free(sc->data);
	sc->data = xstrdup(buf_head(&b));
	buf_free(&b);
}

/* timezone: UTC or a fixed offset (config/cron.h). */
void
config_set_timezone(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct schedule_config	*sc = ld->sched;
	const char		*err;

	if (cron_parse_zone(value, &sc->tz_offset, &err) == -1) {
		config_error(ld, ld->lineno, "timezone: '%s': %s", value, err);
		return;
	}
	free(sc->timezone);
	sc->timezone = xstrdup(value);
}

/* depends_on: a comma list of pool names (checked once all are read). */
void
config_set_depends_on(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct pool_config	*pc = ld->pool;
	char			**items;
	size_t			  n, i, j;
	const char		*err;

	if (parse_list(value, &items, &n, &err) == -1) {
		config_error(ld, ld->lineno, "depends_on: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(items[i], items[j]) == 0)
				break;
		if (j < i || !config_valid_name(items[i])) {
			config_error(ld, ld->lineno, "depends_on: '%s' %s",
			    items[i], j < i ? "is named twice" :
			    "is not a pool name");
			free_strv(items, n);
			return;
		}
	}
	free_strv(pc->depends_on, pc->ndepends_on);
	pc->depends_on = items;
	pc->ndepends_on = n;
}

/* Line of key name in schedule i's section, or its header's. */
static int
sched_key_line(struct loader *ld, size_t i, const char *name)
{
	int	l = ld->sched_states[i].key_line[config_key_index(SECT_SCHEDULE,
	    name)];

	return l != 0 ? l : ld->sched_states[i].line;
}

/* The job a schedule submits suits its pool's type. */
static void
validate_schedule_job(struct loader *ld, size_t i,
    const struct pool_config *pc)
{
	struct schedule_config	*sc = ld->cfg->schedules[i];
	int			*kl = ld->sched_states[i].key_line;
	int			 kdata = kl[config_key_index(SECT_SCHEDULE,
				    "data")];
	int			 kargs = kl[config_key_index(SECT_SCHEDULE,
				    "args")];

	if (kdata && kargs)
		config_error(ld, kargs, "args: give either data or args");
	else if (pc->type == POOL_TYPE_EXEC && kdata)
		config_error(ld, kdata, "data: pool '%s' is an exec pool: give "
		    "the command as args", pc->name);
	else if (pc->type == POOL_TYPE_EXEC && !kargs)
		config_error(ld, sc->line, "schedule '%s': missing 'args' (the "
		    "command its exec pool runs)", sc->name);
	else if (pc->type == POOL_TYPE_STREAM && kargs)
		config_error(ld, kargs, "args: pool '%s' is a stream pool: give "
		    "the job as data", pc->name);
	else if (sc->data == NULL)
		sc->data = xstrdup("null");
}

/* Each schedule names a pool, one way to tick, and a job for the pool. */
void
config_validate_schedules(struct loader *ld)
{
	struct schedule_config	*sc;
	struct pool_config	*pc;
	size_t			 i;
	int			 kcron, kevery;

	for (i = 0; i < ld->cfg->nschedules; i++) {
		sc = ld->cfg->schedules[i];
		kcron = sched_key_line(ld, i, "cron") != sc->line;
		kevery = sched_key_line(ld, i, "every") != sc->line;
		if (kcron && kevery)
			config_error(ld, sched_key_line(ld, i, "every"),
			    "every: give either cron or every");
		else if (!kcron && !kevery)
			config_error(ld, sc->line, "schedule '%s': missing "
			    "'cron' or 'every'", sc->name);
		else if (kevery && sc->every >= 0 && sc->every < 1.0)
			config_error(ld, sched_key_line(ld, i, "every"),
			    "every: must be at least 1s");
		if (kevery && sc->timezone != NULL)
			config_error(ld, sched_key_line(ld, i, "timezone"),
			    "timezone: applies to cron only (every counts "
			    "from the epoch)");
		if (sc->pool == NULL) {
			config_error(ld, sc->line, "schedule '%s': missing "
			    "'pool'", sc->name);
			continue;
		}
		if ((pc = config_find_pool(ld->cfg, sc->pool)) == NULL) {
			config_error(ld, sched_key_line(ld, i, "pool"),
			    "pool: no pool '%s'", sc->pool);
			continue;
		}
		validate_schedule_job(ld, i, pc);
	}
}

/*
 * Depth-first walk of depends_on from pool i; mark: 0 new, 1 on the
 * path, 2 done. A pool met again on the path closes a cycle: reported at
 * the depends_on line of the pool that closes it, naming every pool on it.
 */
static void
order_visit(struct loader *ld, size_t i, int *mark, size_t *path,
    size_t depth)
{
	struct config		*cfg = ld->cfg;
	struct pool_config	*pc = cfg->pools[i], *dep;
	int			 kl = ld->pool_states[i].key_line[
				    config_key_index(SECT_POOL, "depends_on")];
	size_t			 j, k, from;
	struct buf		 b;

	mark[i] = 1;
	path[depth] = i;
	for (j = 0; j < pc->ndepends_on; j++) {
		if ((dep = config_find_pool(cfg, pc->depends_on[j])) == NULL)
			continue;	/* reported by config_validate_order */
		for (k = 0; cfg->pools[k] != dep; k++)
			;
		if (mark[k] == 0)
			order_visit(ld, k, mark, path, depth + 1);
		else if (mark[k] == 1) {
			memset(&b, 0, sizeof b);
			for (from = 0; path[from] != k; from++)
				;
			for (; from <= depth; from++)
				buf_appendf(&b, "%s -> ",
				    cfg->pools[path[from]]->name);
			buf_appendf(&b, "%s", dep->name);
			config_error(ld, kl, "depends_on: cycle %s",
			    buf_head(&b));
			buf_free(&b);
		}
	}
	mark[i] = 2;
}

/* depends_on names pools that exist, none of them in a cycle. */
void
config_validate_order(struct loader *ld)
{
	struct config		*cfg = ld->cfg;
	struct pool_config	*pc;
	size_t			 i, j, *path;
	int			*mark, kl;

	for (i = 0; i < cfg->npools; i++) {
		pc = cfg->pools[i];
		kl = ld->pool_states[i].key_line[config_key_index(SECT_POOL,
		    "depends_on")];
		for (j = 0; j < pc->ndepends_on; j++)
			if (config_find_pool(cfg, pc->depends_on[j]) == NULL)
				config_error(ld, kl, "depends_on: no pool '%s'",
				    pc->depends_on[j]);
		if (pc->ready_line && pc->type == POOL_TYPE_EXEC)
			config_error(ld, ld->pool_states[i].key_line[
			    config_key_index(SECT_POOL, "ready")],
			    "ready: applies to stream pools only (mpsup's "
			    "own exec worker is ready when it starts)");
	}
	mark = xcalloc(cfg->npools + 1, sizeof *mark);
	path = xcalloc(cfg->npools + 1, sizeof *path);
	for (i = 0; i < cfg->npools; i++)
		if (mark[i] == 0)
			order_visit(ld, i, mark, path, 0);
	free(mark);
	free(path);
}

/* The schedule named name, or NULL. */
struct schedule_config *
config_find_schedule(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->nschedules; i++)
		if (strcmp(cfg->schedules[i]->name, name) == 0)
			return cfg->schedules[i];
	return NULL;
}

/* Whether two schedules tick at the same times with the same job. */
int
config_schedule_differs(const struct schedule_config *a,
    const struct schedule_config *b)
{
	if ((a->cron_expr == NULL) != (b->cron_expr == NULL) ||
	    (a->cron_expr != NULL && strcmp(a->cron_expr, b->cron_expr) != 0))
		return 1;
	return a->every != b->every || a->tz_offset != b->tz_offset ||
	    a->missed != b->missed || strcmp(a->pool, b->pool) != 0 ||
	    strcmp(a->data, b->data) != 0;
}
