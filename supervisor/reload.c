/*
 * Configuration reload (SIGHUP, the `reload` op). The new file is loaded
 * and validated whole first; a file with errors changes nothing. Then:
 * new pools start, removed pools cancel their queue and stop once their
 * running jobs are done (then leave status; a name that comes back
 * revives its pool), resized pools gain or drain workers, and pools
 * whose workers must run differently (command, env, user, ...) have them
 * replaced one at a time, each finishing its jobs first, so no queued job
 * is lost. [supervisor] keys that are read at use (limits, retention,
 * legacy_md5) apply at once; those bound at start (listen, keys, log,
 * status) are reported as needing a restart. A file that changes the job
 * store (store, or store_sync of a durable one) is refused whole: the
 * store holds the jobs and is opened once, and applying the rest would
 * make the running configuration name a store that is not in use.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/notify.h"
#include "supervisor/pool.h"
#include "supervisor/schedule.h"
#include "supervisor/supervisor.h"
#include "supervisor/worker.h"

static int
reload_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Name the [supervisor] keys whose change needs a restart. */
static void
reload_check_fixed(const struct config *old, const struct config *new,
    struct buf *needs)
{
	size_t	i;
	int	listen = old->nlisten != new->nlisten;

	for (i = 0; !listen && i < old->nlisten; i++)
		listen = strcmp(old->listen[i], new->listen[i]) != 0;
	if (listen)
		buf_append_str(needs, " listen");
	if (reload_str_differs(old->authkey_file, new->authkey_file))
		buf_append_str(needs, " authkey_file");
	if (reload_str_differs(old->admin_authkey_file,
	    new->admin_authkey_file))
		buf_append_str(needs, " admin_authkey_file");
	else if (config_clients_differ(old, new))
		buf_append_str(needs, " clients");
	if (reload_str_differs(old->status, new->status))
		buf_append_str(needs, " status");
	if (reload_str_differs(old->status_token_file,
	    new->status_token_file))
		buf_append_str(needs, " status_token_file");
	if (reload_str_differs(old->status_admin_token_file,
	    new->status_admin_token_file))
		buf_append_str(needs, " status_admin_token_file");
	if (reload_str_differs(old->log, new->log) ||
	    old->log_format != new->log_format)
		buf_append_str(needs, " log");
	if (old->log_mode != new->log_mode)
		buf_append_str(needs, " log_mode");
	if (old->store_mode != new->store_mode)
		buf_append_str(needs, " store_mode");
}

/*
 * Name the cluster keys new changes, and keep the running ones in it: the
 * queue holds its connection to Redis, its node name and lease from start
 * and reads them through the config, so only a restart changes them.
 */
static void
reload_check_cluster(const struct config *old, struct config *new,
    struct buf *needs)
{
	if (!config_cluster_differs(old, new))
		return;
	if (reload_str_differs(old->cluster, new->cluster))
		buf_append_str(needs, " cluster");
	if (reload_str_differs(old->node, new->node))
		buf_append_str(needs, " node");
	if (reload_str_differs(old->cluster_password_file,
	    new->cluster_password_file))
		buf_append_str(needs, " cluster_password_file");
	if (old->cluster_lease != new->cluster_lease)
		buf_append_str(needs, " cluster_lease");
	config_cluster_keep(new, old);
}

/* -1 with *msg if new changes the job store (only a restart can). */
static int
reload_check_store(const struct config *old, const struct config *new,
    char **msg)
{
	if (strcmp(old->store, new->store) != 0)
		xasprintf(msg, "the job store cannot change on reload (running: "
		    "store = %s; %s: store = %s); keeping the running "
		    "configuration: restart mpsup to change it", old->store,
		    new->path, new->store);
	else if (strcmp(old->store, "memory") != 0 &&
	    old->store_sync != new->store_sync)
		xasprintf(msg, "store_sync cannot change on reload (running: "
		    "store_sync = %s; %s: store_sync = %s); keeping the running "
		    "configuration: restart mpsup to change it",
		    old->store_sync == STORE_SYNC_FULL ? "full" : "normal",
		    new->path,
		    new->store_sync == STORE_SYNC_FULL ? "full" : "normal");
	else
		return 0;
	return -1;
}

/*
 * A removed pool of pc's name, still finishing its jobs or parked, serves
 * again: one pool per name, whose records and counters carry on.
 */
struct pool *
supervisor_pool_revive(struct supervisor *sv, struct pool_config *pc)
{
	struct pool	*pool = NULL;
	size_t		 i;

	for (i = 0; i < sv->npools && pool == NULL; i++)
		if (sv->pools[i]->removed &&
		    strcmp(sv->pools[i]->name, pc->name) == 0)
			pool = sv->pools[i];
	for (i = 0; i < sv->nparked && pool == NULL; i++) {
		if (strcmp(sv->parked[i]->name, pc->name) != 0)
			continue;
		pool = sv->parked[i];
		sv->parked[i] = sv->parked[--sv->nparked];
		sv->pools = xreallocarray(sv->pools, sv->npools + 1,
		    sizeof *sv->pools);
		sv->pools[sv->npools++] = pool;
	}
	if (pool != NULL)
		pool_revive(pool, pc);
	return pool;
}

/*
 * Removed pools that have stopped leave sv->pools, so status and metrics
 * show them no more, for sv->parked; each is freed once no job points at
 * it (a record kept for result_ttl names its pool). Until then a reload
 * that brings its name back revives it.
 */
void
supervisor_sweep(struct supervisor *sv)
{
	struct pool	*pool;
	size_t		 i, n;

	for (i = n = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		if (!pool->removed || pool->state != POOL_STOPPED) {
			sv->pools[n++] = pool;
			continue;
		}
		sv->parked = xreallocarray(sv->parked, sv->nparked + 1,
		    sizeof *sv->parked);
		sv->parked[sv->nparked++] = pool;
	}
	sv->npools = n;
	for (i = n = 0; i < sv->nparked; i++) {
		pool = sv->parked[i];
		/* A retired gateway pool stays, for its name's return. */
		if (pool->q.jobs.njobs > 0 || pool_from_cluster(pool)) {
			sv->parked[n++] = pool;
			continue;
		}
		log_debug("pool %s: removed, stopped and no job left: freed",
		    pool->name);
		queue_pool_detach(sv->queue, &pool->q);
		pool_free(pool);
	}
	sv->nparked = n;
}

/* Load and check the new file; NULL with *msg if it cannot apply. */
static struct config *
reload_load(struct supervisor *sv, char **msg)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg, *old = sv->cfg;
	size_t			 i;

	if (sv->stopping) {
		*msg = xstrdup("mpsup is shutting down");
		return NULL;
	}
	if ((cfg = config_load(old->path, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			log_warnx("reload: %s", errs.msgs[i]);
		xasprintf(msg, "%s has %zu error%s; keeping the running "
		    "configuration (first: %s)", old->path, errs.n,
		    errs.n == 1 ? "" : "s", errs.n ? errs.msgs[0] : "?");
		log_warnx("reload refused: %s", *msg);
		config_errors_free(&errs);
		return NULL;
	}
	config_errors_free(&errs);
	if (reload_check_store(old, cfg, msg) == -1) {
		log_warnx("reload refused: %s", *msg);
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Remove the pools cfg no longer names; returns how many. */
static size_t
reload_remove_pools(struct supervisor *sv, const struct config *cfg)
{
	struct pool	*pool;
	size_t		 i, removed = 0;

	for (i = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		/* A gateway pool comes from the cluster, not the file. */
		if (pool->removed || pool_from_cluster(pool) ||
		    config_find_pool(cfg, pool->name) != NULL)
			continue;
		log_info("reload: removing pool %s", pool->name);
		dispatch_cancel_queue(pool,
		    "pool removed by a configuration reload");
		pool_remove(pool);
		removed++;
	}
	return removed;
}

/*
 * The running pool named like pc takes pc: its workers are resized and,
 * if they must run differently, rolled. 0 if there is none; 1 if nothing
 * about its workers changed, 2 if something did.
 */
static int
reload_update_pool(struct supervisor *sv, struct pool_config *pc)
{
	struct pool	*pool;
	size_t		 i;
	int		 changed = 0;

	for (i = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		if (pool->removed || strcmp(pool->name, pc->name) != 0)
			continue;
		if (pool_from_cluster(pool))
			log_info("reload: pool %s, a gateway pool from the "
			    "cluster so far, is the file's from now on",
			    pc->name);
		if (config_pool_process_differs(pool->pc, pc)) {
			pool->cfg_gen++;
			changed = 1;
		} else if (pool->pc->workers != pc->workers ||
		    pool->pc->max_workers != pc->max_workers ||
		    pool->pc->min_workers != pc->min_workers)
			changed = 1;
		pool_set_config(pool, pc);
		pool_resize(pool);
		pool_roll_next(pool);
		dispatch_run(pool);
		return 1 + changed;
	}
	return 0;
}

/* A pool new to this supervisor (or revived by name) starts. */
static void
reload_add_pool(struct supervisor *sv, struct pool_config *pc)
{
	struct pool	*pool;

	if (supervisor_pool_revive(sv, pc) != NULL) {
		log_info("reload: adding pool %s back", pc->name);
		return;
	}
	log_info("reload: adding pool %s", pc->name);
	pool = supervisor_pool_new(sv, pc);
	sv->pools = xreallocarray(sv->pools, sv->npools + 1,
	    sizeof *sv->pools);
	sv->pools[sv->npools++] = pool;
	supervisor_pool_begin(sv, pool);
}

int
supervisor_reload(struct supervisor *sv, char **msg)
{
	struct config		 *cfg, *old = sv->cfg;
	struct buf		  needs = BUF_INIT;
	size_t			  j, added = 0, removed, changed = 0;
	int			  r;

	notify_reloading(sv->notify);
	if ((cfg = reload_load(sv, msg)) == NULL) {
		/* Refused: the running config stays, and serves. */
		notify_ready(sv->notify);
		return -1;
	}
	reload_check_fixed(old, cfg, &needs);
	reload_check_cluster(old, cfg, &needs);
	removed = reload_remove_pools(sv, cfg);
	/* Pools that stay, changed or not, and new ones. */
	for (j = 0; j < cfg->npools; j++) {
		if ((r = reload_update_pool(sv, cfg->pools[j])) == 2)
			changed++;
		else if (r == 0) {
			reload_add_pool(sv, cfg->pools[j]);
			added++;
		}
	}
	/* Removed pools keep pointing into the config they came from. */
	sv->old_cfgs = xreallocarray(sv->old_cfgs, sv->nold_cfgs + 1,
	    sizeof *sv->old_cfgs);
	sv->old_cfgs[sv->nold_cfgs++] = old;
	sv->cfg = cfg;
	if (sv->schedules != NULL)
		schedules_reload(sv->schedules);
	/* A removed pool with no live worker has stopped already. */
	supervisor_sweep_soon(sv);

	xasprintf(msg, "reloaded %s: %zu pool%s added, %zu removed, %zu "
	    "changed%s%.*s%s", cfg->path, added, added == 1 ? "" : "s",
	    removed, changed, buf_used(&needs) ? "; restart mpsup to apply "
	    "[supervisor]" : "", (int)buf_used(&needs), buf_head(&needs),
	    "");
	if (buf_used(&needs))
		log_warnx("reload: [supervisor]%.*s changed; restart mpsup to "
		    "apply", (int)buf_used(&needs), buf_head(&needs));
	log_info("%s", *msg);
	buf_free(&needs);
	notify_ready(sv->notify);
	return 0;
}
