/*
 * Checks across keys, run once every line of the file has been read (see
 * config_impl.h): a stream pool needs a command and an exec pool must not
 * have one, a dynamic pool needs both bounds, users and groups must
 * exist. Each problem is reported at the line of the key that causes it,
 * or of the pool's section header when no single key does.
 */
#include "config.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "config/config_impl.h"
#include "config/parse.h"

/* [supervisor]-wide checks, and the default listen list. */
static void
validate_supervisor(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	int		*key_line = ld->sup_state.key_line;

	if (ld->sup_seen == 0 && cfg->npools == 0)
		config_error(ld, 0, "no [supervisor] or [pool:NAME] section");
	else if (cfg->npools == 0 && cfg->cluster == NULL)
		/* A cluster node may take pools from the others (gateway). */
		config_error(ld, 0, "no pools defined (add a [pool:NAME] "
		    "section; only a cluster node may have none)");
	if (cfg->auth_timeout <= 0)
		config_error(ld, key_line[config_key_index(SECT_SUPERVISOR,
		    "auth_timeout")], "auth_timeout: must be longer than 0");
	cfg->admin_authkey_line = key_line[config_key_index(SECT_SUPERVISOR,
	    "admin_authkey_file")];
	if (cfg->status_admin_token_file != NULL && cfg->status == NULL)
		config_error(ld, key_line[config_key_index(SECT_SUPERVISOR,
		    "status_admin_token_file")], "status_admin_token_file: "
		    "the HTTP endpoint is off (status is empty)");
	else if (cfg->status_admin_token_file != NULL &&
	    cfg->status_token_file != NULL &&
	    strcmp(cfg->status_admin_token_file, cfg->status_token_file) == 0)
		config_error(ld, key_line[config_key_index(SECT_SUPERVISOR,
		    "status_admin_token_file")], "status_admin_token_file: the "
		    "same file as status_token_file (the admin token needs its "
		    "own)");
	if (cfg->listen == NULL &&
	    key_line[config_key_index(SECT_SUPERVISOR, "listen")] == 0)
		config_set_listen(ld, "unix:mpsup.sock, 127.0.0.1:7300", 0);
}

/* command: required by stream pools, refused by exec pools; split. */
static void
validate_command(struct loader *ld, struct pool_config *pc,
    const struct section_state *st)
{
	int		 kcmd = config_key_index(SECT_POOL, "command");
	const char	*err;
	char		*abs;

	if (pc->type == POOL_TYPE_STREAM) {
		if (pc->command == NULL || *pc->command == '\0')
			config_error(ld, pc->line, "pool '%s': missing "
			    "'command' (required for stream pools)", pc->name);
		else if (parse_words(pc->command, &pc->argv, &pc->argc,
		    &err) == -1)
			config_error(ld, st->key_line[kcmd], "command: %s",
			    err);
	} else if (pc->command != NULL)
		config_error(ld, st->key_line[kcmd], "command: not used by "
		    "exec pools (jobs name their own command; set type = "
		    "stream to run a worker program)");
	if (pc->argv != NULL && pc->argv[0][0] != '/' &&
	    strchr(pc->argv[0], '/') != NULL) {
		abs = config_resolve_path(ld->cfg, pc->argv[0]);
		free(pc->argv[0]);
		pc->argv[0] = abs;
	}
}

/* workers, or min_workers and max_workers for a dynamic pool. */
static void
validate_workers(struct loader *ld, struct pool_config *pc,
    const struct section_state *st)
{
	int	kmin = st->key_line[config_key_index(SECT_POOL, "min_workers")];
	int	kmax = st->key_line[config_key_index(SECT_POOL, "max_workers")];
	int	kworkers = st->key_line[config_key_index(SECT_POOL, "workers")];

	if (kmin || kmax) {
		if (kworkers)
			config_error(ld, kworkers, "workers: give either "
			    "workers or min_workers and max_workers");
		else if (!kmin || !kmax)
			config_error(ld, kmin ? kmin : kmax, "dynamic pools "
			    "need both min_workers and max_workers");
		else if (pc->min_workers > pc->max_workers)
			config_error(ld, kmin, "min_workers is greater than "
			    "max_workers");
		else {
			pc->dynamic = 1;
			pc->workers = pc->min_workers;
		}
	}
	if (!pc->dynamic)
		pc->min_workers = pc->max_workers = pc->workers;
	/*
	 * No workers: a gateway, which takes the pool's jobs for the other
	 * nodes of a cluster; on one machine its jobs would never run.
	 */
	if (!pc->dynamic && pc->workers == 0 && ld->cfg->cluster == NULL)
		config_error(ld, kworkers, "workers = 0: only a cluster node "
		    "may have a pool without workers (a gateway: other nodes "
		    "run its jobs); set cluster, or workers >= 1");
}

/* user and group: look them up now, so a typo fails at load time. */
static void
validate_identity(struct loader *ld, struct pool_config *pc)
{
	struct passwd	*pw;
	struct group	*gr;

	if (pc->user != NULL) {
		if ((pw = getpwnam(pc->user)) == NULL)
			config_error(ld, pc->line, "pool '%s': unknown user "
			    "'%s'", pc->name, pc->user);
		else {
			pc->uid = pw->pw_uid;
			pc->gid = pw->pw_gid;
		}
	}
	if (pc->group != NULL) {
		if ((gr = getgrnam(pc->group)) == NULL)
			config_error(ld, pc->line, "pool '%s': unknown group "
			    "'%s'", pc->name, pc->group);
		else
			pc->gid = gr->gr_gid;
	}
}

/*
 * With more than one client (and so more than one role, or jobs that
 * belong to someone), an exec pool whose jobs would run as mpsup's own
 * user could read the key files and act as any client: refused, unless
 * the pool says trusted = yes.
 */
static void
validate_roles(struct loader *ld, struct pool_config *pc)
{
	uid_t	uid = pc->user != NULL ? pc->uid : geteuid();

	if (ld->cfg->nclients < 2 ||
	    pc->type != POOL_TYPE_EXEC || pc->trusted || uid != geteuid())
		return;
	config_error(ld, pc->line, "pool '%s': its exec jobs would run as "
	    "mpsup's own user and could read the key files, so any client "
	    "could act as another, the admin too (%zu clients are "
	    "configured): give the pool a user = of its own (mpsup running "
	    "as root), or say trusted = yes if its jobs may act as any "
	    "client", pc->name, ld->cfg->nclients);
}

/* rate_burst and rate_per_group shape a rate_limit: not alone. */
static void
validate_rate(struct loader *ld, struct pool_config *pc,
    const struct section_state *st)
{
	static const char *const keys[] = { "rate_burst", "rate_per_group" };
	int	line;
	size_t	i;

	if (pc->rate_limit > 0)
		return;
	for (i = 0; i < 2; i++)
		if ((line = st->key_line[config_key_index(SECT_POOL,
		    keys[i])]) != 0)
			config_error(ld, line, "%s: needs rate_limit", keys[i]);
}

/* Every cross-key check, for [supervisor] and then each pool. */
void
config_validate(struct loader *ld)
{
	struct pool_config	*pc;
	size_t			 i;

	validate_supervisor(ld);
	config_cluster_validate(ld);
	config_validate_clients(ld);
	for (i = 0; i < ld->cfg->npools; i++) {
		pc = ld->cfg->pools[i];
		validate_command(ld, pc, &ld->pool_states[i]);
		validate_workers(ld, pc, &ld->pool_states[i]);
		if (pc->restart_delay > pc->restart_delay_max)
			config_error(ld, pc->line, "pool '%s': restart_delay "
			    "is longer than restart_delay_max", pc->name);
		if (pc->type == POOL_TYPE_EXEC && pc->job_fds != JOB_FDS_STDIO)
			config_error(ld, pc->line, "pool '%s': job_fds applies "
			    "to stream pools only", pc->name);
		validate_identity(ld, pc);
		validate_roles(ld, pc);
		validate_rate(ld, pc, &ld->pool_states[i]);
		if (pc->ready_timeout <= 0)
			config_error(ld, ld->pool_states[i].key_line[
			    config_key_index(SECT_POOL, "ready_timeout")],
			    "ready_timeout: must be longer than 0");
	}
	config_validate_order(ld);
	config_validate_schedules(ld);
}
