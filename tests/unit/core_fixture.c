/*
 * The hand-built supervisor of the core's unit tests (see core_fixture.h).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/pool.h"
#include "tests/unit/core_fixture.h"

struct supervisor	fx;
static char		fx_dir[64];

static void
fixture_job_ended(void *arg)
{
}

static void
fixture_pool_stopped(void *arg, struct pool *pool)
{
}

/* What supervisor.c wires up between the workers, the engine and the queue. */
static void
fixture_envs(void)
{
	fx.wenv.loop = fx.loop;
	fx.wenv.self_exe = "/bin/false";
	fx.wenv.dir = fx.cfg->dir;
	fx.wenv.log_max_line = 1024;
	fx.wenv.max_message = 1024;
	fx.denv.loop = fx.loop;
	fx.denv.cfg = &fx.cfg;
	fx.denv.pools = &fx.pools;
	fx.denv.npools = &fx.npools;
	fx.denv.stopping = &fx.stopping;
	fx.denv.wenv = &fx.wenv;
	fx.denv.queue = fx.queue;
	fx.denv.job_ended = fixture_job_ended;
	fx.denv.pool_stopped = fixture_pool_stopped;
	fx.denv.pool_unused = fixture_pool_stopped;
}

void
fixture_start(const char *pools_ini)
{
	struct config_errors	 errs = { NULL, 0 };
	char			 path[128];
	char			*cause = NULL;
	FILE			*f;
	size_t			 i;

	snprintf(fx_dir, sizeof fx_dir, "/tmp/mpsup-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fx_dir));
	snprintf(path, sizeof path, "%s/pool.ini", fx_dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "[supervisor]\nlisten = unix:%s/s.sock\nstatus =\n%s",
	    fx_dir, pools_ini);
	fclose(f);
	memset(&fx, 0, sizeof fx);
	fx.cfg = config_load(path, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.msgs[i]);
	ck_assert_ptr_nonnull(fx.cfg);
	config_errors_free(&errs);
	fx.loop = ev_loop_new(EVFLAG_AUTO);
	fx.started_at = ev_now(fx.loop);
	fx.queue = queue_open("memory", 0, 0600, fx.loop, &fx.cfg,
	    &dispatch_queue_events, NULL, &cause);
	ck_assert_ptr_nonnull(fx.queue);
	fixture_envs();
	dispatch_init(&fx.denv);
	fx.npools = fx.cfg->npools;
	fx.pools = calloc(fx.npools, sizeof *fx.pools);
	for (i = 0; i < fx.npools; i++)
		fx.pools[i] = pool_new(fx.cfg->pools[i], &dispatch_pool_events,
		    &fx.wenv, fx.queue);
}

void
fixture_stop(void)
{
	char	cmd[128];
	size_t	i;

	dispatch_shutdown();
	queue_close(fx.queue);
	for (i = 0; i < fx.npools; i++)
		pool_free(fx.pools[i]);
	free(fx.pools);
	ev_loop_destroy(fx.loop);
	config_free(fx.cfg);
	snprintf(cmd, sizeof cmd, "rm -rf %s", fx_dir);
	ck_assert_int_eq(system(cmd), 0);
}

double
fixture_remaining(ev_timer *t)
{
	ck_assert(ev_is_active(t));
	return ev_timer_remaining(fx.loop, t);
}

void
fixture_fire(ev_timer *t)
{
	ck_assert(ev_is_active(t));
	ev_invoke(fx.loop, t, EV_TIMER);
}
