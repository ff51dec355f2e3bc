/*
 * The table of configuration keys (see config_impl.h): for each key its
 * section, type, place in the struct, range or choices and, for keys
 * that need more than a value parser, the setter that checks and stores
 * them. The defaults a key has when the file does not set it are here
 * too, next to the table. config.c finds a key here and hands its value
 * to config_key_apply.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "config/config_impl.h"
#include "config/parse.h"

static void	set_listen(struct loader *, const struct key_def *,
		    const char *);
static void	set_status(struct loader *, const struct key_def *,
		    const char *);
static void	set_log(struct loader *, const struct key_def *, const char *);
static void	set_store(struct loader *, const struct key_def *,
		    const char *);
static void	set_command(struct loader *, const struct key_def *,
		    const char *);
static void	set_cwd(struct loader *, const struct key_def *, const char *);
static void	set_env(struct loader *, const struct key_def *, const char *);
static void	set_status_hosts(struct loader *, const struct key_def *,
		    const char *);
static void	set_client_pools(struct loader *, const struct key_def *,
		    const char *);
static void	set_rate(struct loader *, const struct key_def *,
		    const char *);

static const char *const log_format_choices[] = { "text", "json", NULL };
static const char *const store_sync_choices[] = { "normal", "full", NULL };
static const char *const type_choices[] = { "exec", "stream", NULL };
static const char *const output_choices[] = { "log", "capture", "both", NULL };
static const char *const job_fds_choices[] = { "stdio", "3,4", NULL };
/* In enum client_role's order. */
static const char *const role_choices[] = {
	"monitor", "submit", "admin", NULL
};
static const char *const ready_choices[] = { "none", "line", NULL };
static const char *const missed_choices[] = { "skip", "once", NULL };

#define SUP(n, t, f, lo, hi, c) \
	{ n, SECT_SUPERVISOR, t, offsetof(struct config, f), lo, hi, c, \
	    NULL, 0 }
#define SUP_SET(n, f, set, flags) \
	{ n, SECT_SUPERVISOR, KT_SPECIAL, offsetof(struct config, f), 0, 0, \
	    NULL, set, flags }
#define POOL(n, t, f, lo, hi, c) \
	{ n, SECT_POOL, t, offsetof(struct pool_config, f), lo, hi, c, \
	    NULL, 0 }
#define CLIENT(n, t, f, c) \
	{ n, SECT_CLIENT, t, offsetof(struct client_config, f), 0, 0, c, \
	    NULL, 0 }
#define CLIENT_SET(n, f, set) \
	{ n, SECT_CLIENT, KT_SPECIAL, offsetof(struct client_config, f), 0, \
	    0, NULL, set, 0 }
#define POOL_SET(n, f, set, flags) \
	{ n, SECT_POOL, KT_SPECIAL, offsetof(struct pool_config, f), 0, 0, \
	    NULL, set, flags }
#define SCHED(n, t, f, lo, hi, c) \
	{ n, SECT_SCHEDULE, t, offsetof(struct schedule_config, f), lo, hi, \
	    c, NULL, 0 }
#define SCHED_SET(n, f, set) \
	{ n, SECT_SCHEDULE, KT_SPECIAL, offsetof(struct schedule_config, f), \
	    0, 0, NULL, set, 0 }

static const struct key_def key_table[] = {
	SUP_SET("listen", listen, set_listen, KEY_CONTINUES),
	SUP("authkey_file", KT_PATH, authkey_file, 0, 0, NULL),
	SUP("admin_authkey_file", KT_PATH, admin_authkey_file, 0, 0, NULL),
	SUP("legacy_md5", KT_BOOL, legacy_md5, 0, 0, NULL),
	SUP_SET("status", status, set_status, 0),
	SUP("status_token_file", KT_PATH, status_token_file, 0, 0, NULL),
	SUP("status_admin_token_file", KT_PATH, status_admin_token_file, 0, 0,
	    NULL),
	SUP_SET("log", log, set_log, 0),
	SUP("log_format", KT_CHOICE, log_format, 0, 0, log_format_choices),
	SUP("log_max_line", KT_SIZE, log_max_line, 256, 1L << 30, NULL),
	SUP("log_mode", KT_MODE, log_mode, 0, 0, NULL),
	SUP_SET("store", store, set_store, 0),
	SUP("store_sync", KT_CHOICE, store_sync, 0, 0, store_sync_choices),
	SUP("store_mode", KT_MODE, store_mode, 0, 0, NULL),
	SUP("result_ttl", KT_DURATION, result_ttl, 0, 0, NULL),
	SUP("result_max", KT_LONG, result_max, 0, 100000000, NULL),
	SUP("shutdown_timeout", KT_DURATION, shutdown_timeout, 0, 0, NULL),
	SUP("max_connections", KT_LONG, max_connections, 1, 1000000, NULL),
	SUP("max_message", KT_SIZE, max_message, 1024, 1L << 31, NULL),
	SUP("auth_timeout", KT_DURATION, auth_timeout, 0, 0, NULL),
	SUP("max_unsent", KT_SIZE, max_unsent, 65536, 1L << 34, NULL),
	SUP("auth_failures", KT_LONG, auth_failures, 0, 1000000, NULL),
	SUP("max_handshakes_per_address", KT_LONG, max_handshakes, 0, 1000000,
	    NULL),
	SUP_SET("status_hosts", status_hosts, set_status_hosts, 0),
	SUP_SET("cluster", cluster, config_set_cluster, 0),
	SUP("cluster_password_file", KT_PATH, cluster_password_file, 0, 0,
	    NULL),
	SUP_SET("node", node, config_set_node, 0),
	SUP("cluster_lease", KT_DURATION, cluster_lease, 0, 0, NULL),

	POOL("type", KT_CHOICE, type, 0, 0, type_choices),
	POOL_SET("command", command, set_command, KEY_CONTINUES),
	POOL("workers", KT_INT, workers, 0, CONFIG_MAX_WORKERS, NULL),
	POOL("min_workers", KT_INT, min_workers, 0, CONFIG_MAX_WORKERS, NULL),
	POOL("max_workers", KT_INT, max_workers, 1, CONFIG_MAX_WORKERS, NULL),
	POOL("idle_timeout", KT_DURATION, idle_timeout, 0, 0, NULL),
	POOL("prefetch", KT_INT, prefetch, 1, 4096, NULL),
	POOL("max_queue", KT_LONG, max_queue, 1, CONFIG_MAX_QUEUE, NULL),
	POOL("job_timeout", KT_DURATION, job_timeout, 0, 0, NULL),
	POOL("max_attempts", KT_INT, max_attempts, 1, 1000, NULL),
	POOL("retry_delay", KT_DURATION, retry_delay, 0, 0, NULL),
	POOL("max_jobs_per_worker", KT_LONG, max_jobs_per_worker, 0,
	    LONG_MAX, NULL),
	POOL("restart_delay", KT_DURATION, restart_delay, 0, 0, NULL),
	POOL("restart_delay_max", KT_DURATION, restart_delay_max, 0, 0, NULL),
	POOL("output", KT_CHOICE, output, 0, 0, output_choices),
	POOL("capture_max", KT_SIZE, capture_max, 0, 1L << 30, NULL),
	POOL("job_fds", KT_CHOICE, job_fds, 0, 0, job_fds_choices),
	POOL_SET("cwd", cwd, set_cwd, 0),
	POOL("user", KT_STRING, user, 0, 0, NULL),
	POOL("group", KT_STRING, group, 0, 0, NULL),
	POOL_SET("env", env, set_env, KEY_CONTINUES | KEY_REPEATS),
	POOL("stop_signal", KT_SIGNAL, stop_signal, 0, 0, NULL),
	POOL("stop_timeout", KT_DURATION, stop_timeout, 0, 0, NULL),
	POOL("trusted", KT_BOOL, trusted, 0, 0, NULL),

	POOL("group_concurrency", KT_INT, group_concurrency, 0, 1000000, NULL),
	POOL_SET("rate_limit", rate_limit, set_rate, 0),
	POOL("rate_burst", KT_INT, rate_burst, 1, 1000000, NULL),
	POOL("rate_per_group", KT_BOOL, rate_per_group, 0, 0, NULL),
	POOL("priority_aging", KT_DURATION, priority_aging, 0, 0, NULL),

	CLIENT("authkey_file", KT_PATH, authkey_file, NULL),
	CLIENT("role", KT_CHOICE, role, role_choices),
	CLIENT_SET("pools", pools, set_client_pools),
	POOL("ready", KT_CHOICE, ready_line, 0, 0, ready_choices),
	POOL("ready_timeout", KT_DURATION, ready_timeout, 0, 0, NULL),
	POOL_SET("depends_on", depends_on, config_set_depends_on, 0),
	POOL("dead_ttl", KT_DURATION, dead_ttl, 0, 0, NULL),

	SCHED("pool", KT_STRING, pool, 0, 0, NULL),
	SCHED_SET("cron", cron_expr, config_set_cron),
	SCHED("every", KT_DURATION, every, 0, 0, NULL),
	SCHED_SET("data", data, config_set_job_data),
	SCHED_SET("args", data, config_set_job_args),
	SCHED("missed", KT_CHOICE, missed, 0, 0, missed_choices),
	SCHED_SET("timezone", timezone, config_set_timezone),
};
_Static_assert(sizeof key_table / sizeof key_table[0] == CONFIG_NKEYS,
    "CONFIG_NKEYS must count the entries of key_table");
const struct key_def *const config_keys = key_table;

/* What a pool has when its section does not say otherwise. */
void
config_pool_defaults(struct pool_config *pc)
{
	pc->type = POOL_TYPE_EXEC;
	pc->workers = 2;
	pc->min_workers = -1;
	pc->max_workers = -1;
	pc->idle_timeout = 10.0;
	pc->prefetch = 1;
	pc->max_queue = 100000;
	pc->max_attempts = 1;
	pc->retry_delay = 1.0;
	pc->restart_delay = 0.1;
	pc->restart_delay_max = 30.0;
	pc->output = OUTPUT_LOG;
	pc->capture_max = 1 << 20;
	pc->job_fds = JOB_FDS_STDIO;
	pc->stop_signal = SIGTERM;
	pc->stop_timeout = 10.0;
	pc->rate_burst = 1;
	pc->priority_aging = 10.0;
	pc->ready_timeout = 30.0;
	pc->dead_ttl = 7 * 86400.0;
}

/* What [supervisor] has when the file does not say otherwise (cfg->dir set). */
void
config_defaults(struct config *cfg)
{
	cfg->authkey_file = config_resolve_path(cfg, "authkey");
	cfg->status = xstrdup("127.0.0.1:7301");
	cfg->log_max_line = 1 << 20;
	cfg->log_mode = 0600;
	cfg->store_mode = 0600;
	cfg->store = xstrdup("memory");
	cfg->result_ttl = 3600.0;
	cfg->result_max = 100000;
	cfg->shutdown_timeout = 30.0;
	cfg->max_connections = 1024;
	cfg->max_message = 16 << 20;
	cfg->auth_timeout = 5.0;
	cfg->max_unsent = 64 << 20;
	cfg->auth_failures = 10;
	cfg->max_handshakes = 32;
	cfg->cluster_port = 6379;
	cfg->cluster_lease = 30.0;
}

/* The key named name in section sect, or NULL. */
const struct key_def *
config_key_find(enum section_kind sect, const char *name)
{
	size_t	i;

	for (i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].sect == sect &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

/* Index in config_keys of a key that must exist. */
int
config_key_index(enum section_kind sect, const char *name)
{
	const struct key_def	*kd;

	if ((kd = config_key_find(sect, name)) == NULL)
		abort();
	return (int)(kd - config_keys);
}

/* Check HOST:PORT or [V6]:PORT syntax; returns a message or NULL. */
static const char *
check_hostport(const char *s)
{
	const char	*colon;
	long		 port;
	const char	*err;

	if (s[0] == '[') {
		colon = strchr(s, ']');
		if (colon == NULL || colon[1] != ':')
			return "expected [V6ADDR]:PORT";
		colon++;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s)
			return "expected HOST:PORT, [V6ADDR]:PORT or unix:PATH";
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return "IPv6 addresses need brackets: [V6ADDR]:PORT";
	}
	if (parse_long(colon + 1, 1, 65535, &port, &err) == -1)
		return "port must be a number from 1 to 65535";
	return NULL;
}

/* Vet one listen item in place ("unix:" paths made absolute); 0 if good. */
static int
listen_item(struct loader *ld, char **item)
{
	const char	*err;
	char		*path;

	if (strncmp(*item, "unix:", 5) != 0) {
		if ((err = check_hostport(*item)) == NULL)
			return 0;
		config_error(ld, ld->lineno, "listen: '%s': %s", *item, err);
		return -1;
	}
	if ((*item)[5] == '\0') {
		config_error(ld, ld->lineno, "listen: unix: needs a path");
		return -1;
	}
	path = config_resolve_path(ld->cfg, *item + 5);
	if (strlen(path) >= 108) {
		config_error(ld, ld->lineno, "listen: socket path too long "
		    "(at most 107 bytes): %s", path);
		free(path);
		return -1;
	}
	free(*item);
	xasprintf(item, "unix:%s", path);
	free(path);
	return 0;
}

/* Replace (or with append, extend) the listen list from value. */
void
config_set_listen(struct loader *ld, const char *value, int append)
{
	struct config	 *cfg = ld->cfg;
	char		**items;
	size_t		  n, i;
	const char	 *err;

	if (!append) {
		free_strv(cfg->listen, cfg->nlisten);
		cfg->listen = NULL;
		cfg->nlisten = 0;
	}
	if (*value == '\0')
		return;
	if (parse_list(value, &items, &n, &err) == -1) {
		config_error(ld, ld->lineno, "listen: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (listen_item(ld, &items[i]) == -1)
			continue;
		cfg->listen = xreallocarray(cfg->listen, cfg->nlisten + 2,
		    sizeof *cfg->listen);
		cfg->listen[cfg->nlisten++] = items[i];
		cfg->listen[cfg->nlisten] = NULL;
		items[i] = NULL;
	}
	free_strv(items, n);
}

/* listen: a comma list; a continuation line adds to it. */
static void
set_listen(struct loader *ld, const struct key_def *kd, const char *value)
{
	config_set_listen(ld, value, ld->continuation);
}

/* status: HOST:PORT of the HTTP endpoint, empty for none. */
static void
set_status(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct config	*cfg = ld->cfg;
	const char	*err;

	free(cfg->status);
	cfg->status = NULL;
	if (*value == '\0')
		return;
	if ((err = check_hostport(value)) != NULL) {
		config_error(ld, ld->lineno, "status: '%s': %s", value, err);
		return;
	}
	cfg->status = xstrdup(value);
}

/* One status_hosts item, lowercased in place: NULL if good, else why not. */
static const char *
check_status_host(char *h)
{
	size_t	n = strlen(h), i;

	for (i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)h[i]);
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']' ||
		    strspn(h + 1, "0123456789abcdef:.") != n - 2)
			return "expected [V6ADDR]";
		return NULL;
	}
	if (strchr(h, ':') != NULL)
		return strchr(h, ':') == strrchr(h, ':') ? "give the host "
		    "without its port" : "IPv6 addresses need brackets: [V6ADDR]";
	if (strspn(h, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != n)
		return "a host name has only letters, digits, '-', '_' and '.'";
	return NULL;
}

/* A client's pools: the names are checked once every pool is known. */
static void
set_client_pools(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct client_config	*cc = ld->client;
	const char		*err;

	(void)kd;
	free_strv(cc->pools, cc->npools);
	cc->pools = NULL;
	cc->npools = 0;
	if (parse_list(value, &cc->pools, &cc->npools, &err) == -1)
		config_error(ld, ld->lineno, "pools: %s", err);
}

/*
 * status_hosts: the comma-separated host names a request's Host: header
 * may name when /status has no token (against DNS rebinding).
 */
static void
set_status_hosts(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct config	*cfg = ld->cfg;
	char		*copy, *item, *next, *end;
	const char	*err;

	if (*value == '\0') {
		config_error(ld, ld->lineno, "status_hosts: give one or more "
		    "host names");
		return;
	}
	copy = xstrdup(value);
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		while (isspace((unsigned char)*item))
			item++;
		end = item + strlen(item);
		while (end > item && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (*item == '\0')
			err = "empty host name";
		else
			err = check_status_host(item);
		if (err != NULL) {
			if (*item == '\0')
				config_error(ld, ld->lineno, "status_hosts: %s",
				    err);
			else
				config_error(ld, ld->lineno, "status_hosts: "
				    "'%s': %s", item, err);
			break;
		}
		cfg->status_hosts = xreallocarray(cfg->status_hosts,
		    cfg->nstatus_hosts + 1, sizeof *cfg->status_hosts);
		cfg->status_hosts[cfg->nstatus_hosts++] = xstrdup(item);
	}
	free(copy);
}

/* log: a file, or empty or "-" for stdout. */
static void
set_log(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct config	*cfg = ld->cfg;

	free(cfg->log);
	cfg->log = NULL;
	if (*value == '\0' || strcmp(value, "-") == 0)
		return;
	cfg->log = config_resolve_path(cfg, value);
}

/* store: "memory" or "sqlite:PATH", the path made absolute. */
static void
set_store(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct config	*cfg = ld->cfg;
	char		*path;

	if (strcmp(value, "memory") == 0) {
		free(cfg->store);
		cfg->store = xstrdup("memory");
	} else if (strncmp(value, "sqlite:", 7) == 0 && value[7] != '\0') {
		path = config_resolve_path(cfg, value + 7);
		free(cfg->store);
		xasprintf(&cfg->store, "sqlite:%s", path);
		free(path);
	} else
		config_error(ld, ld->lineno,
		    "store: expected memory or sqlite:PATH");
}

/* command: as written; a continuation line adds its words. */
static void
set_command(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct pool_config	*pc = ld->pool;
	char			*joined;

	if (ld->continuation && pc->command != NULL) {
		xasprintf(&joined, "%s %s", pc->command, value);
		free(pc->command);
		pc->command = joined;
	} else {
		free(pc->command);
		pc->command = xstrdup(value);
		ld->command_line = ld->lineno;
	}
}

/* cwd: an existing folder, made absolute; empty for none. */
static void
set_cwd(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct pool_config	*pc = ld->pool;
	char			*path;
	struct stat		 sb;

	free(pc->cwd);
	pc->cwd = NULL;
	if (*value == '\0')
		return;
	path = config_resolve_path(ld->cfg, value);
	if (stat(path, &sb) == -1) {
		config_error(ld, ld->lineno, "cwd: %s: %s", path,
		    strerror(errno));
		free(path);
		return;
	}
	if (!S_ISDIR(sb.st_mode)) {
		config_error(ld, ld->lineno, "cwd: %s: not a directory", path);
		free(path);
		return;
	}
	pc->cwd = path;
}

/* rate_limit: N/s, N/m or N/h (N > 0, a million per second at most). */
static void
set_rate(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct pool_config	*pc = ld->pool;
	char			*end;
	double			 n, per;

	pc->rate_limit = 0;
	errno = 0;
	n = strtod(value, &end);
	if (end == value || errno != 0 || !(n > 0) || end[0] != '/' ||
	    end[1] == '\0' || strchr("smh", end[1]) == NULL ||
	    end[2] != '\0') {
		config_error(ld, ld->lineno, "rate_limit: expected N/s, N/m "
		    "or N/h with N above 0, such as 100/s");
		return;
	}
	per = end[1] == 's' ? 1 : end[1] == 'm' ? 60 : 3600;
	if (n / per > 1e6 || n / per < 1.0 / 86400) {
		config_error(ld, ld->lineno, "rate_limit: between one a day "
		    "and a million a second");
		return;
	}
	pc->rate_limit = n / per;
}

/* env: one KEY=VALUE per line, added to the pool's environment. */
static void
set_env(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct pool_config	*pc = ld->pool;
	const char		*eq = strchr(value, '='), *p;

	if (eq == NULL || eq == value) {
		config_error(ld, ld->lineno, "env: expected KEY=VALUE");
		return;
	}
	for (p = value; p < eq; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_') {
			config_error(ld, ld->lineno,
			    "env: bad variable name '%.*s'",
			    (int)(eq - value), value);
			return;
		}
	}
	if (isdigit((unsigned char)value[0])) {
		config_error(ld, ld->lineno, "env: bad variable name '%.*s'",
		    (int)(eq - value), value);
		return;
	}
	if (strncmp(value, "MPSUP_", 6) == 0) {
		config_error(ld, ld->lineno, "env: MPSUP_* variables are set "
		    "by mpsup itself");
		return;
	}
	pc->env = xreallocarray(pc->env, pc->nenv + 2, sizeof *pc->env);
	pc->env[pc->nenv++] = xstrdup(value);
	pc->env[pc->nenv] = NULL;
}

/* A KT_CHOICE value: its index among kd->choices, or an error. */
static void
set_choice(struct loader *ld, const struct key_def *kd, void *field,
    const char *value)
{
	const char *const	*c = kd->choices;
	size_t			 i;

	for (i = 0; c[i] != NULL; i++)
		if (strcmp(c[i], value) == 0)
			break;
	if (c[i] != NULL) {
		*(int *)field = (int)i;
		return;
	}
	config_error(ld, ld->lineno, "%s: '%s' is not one of %s%s%s%s%s",
	    kd->name, value, c[0], c[1] ? ", " : "", c[1] ? c[1] : "",
	    c[1] && c[2] ? ", " : "", c[1] && c[2] ? c[2] : "");
}

/* A KT_SIZE value within kd's range; a message in *err if unparsable. */
static void
set_size(struct loader *ld, const struct key_def *kd, void *field,
    const char *value, const char **err)
{
	uint64_t	u;

	if (parse_size(value, &u, err) == -1)
		return;
	if (u < (uint64_t)kd->min || u > (uint64_t)kd->max)
		config_error(ld, ld->lineno, "%s: must be between %ld and %ld "
		    "bytes", kd->name, kd->min, kd->max);
	else
		*(uint64_t *)field = u;
}

/* Set kd from value on the current line; bad values become errors. */
void
config_key_apply(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	void		*base, *field;
	const char	*err = NULL;
	double		 d;
	long		 l;
	int		 b;

	base = kd->sect == SECT_SUPERVISOR ? (void *)ld->cfg :
	    kd->sect == SECT_CLIENT ? (void *)ld->client :
	    kd->sect == SECT_SCHEDULE ? (void *)ld->sched : (void *)ld->pool;
	field = (char *)base + kd->off;
	switch (kd->type) {
	case KT_STRING:
	case KT_PATH:
		free(*(char **)field);
		*(char **)field = *value == '\0' ? NULL :
		    kd->type == KT_PATH ? config_resolve_path(ld->cfg, value) :
		    xstrdup(value);
		break;
	case KT_BOOL:
		if (parse_bool(value, &b, &err) == 0)
			*(int *)field = b;
		break;
	case KT_DURATION:
		if (parse_duration(value, &d, &err) == 0)
			*(double *)field = d;
		break;
	case KT_SIZE:
		set_size(ld, kd, field, value, &err);
		break;
	case KT_INT:
		if (parse_long(value, kd->min, kd->max, &l, &err) == 0)
			*(int *)field = (int)l;
		break;
	case KT_LONG:
		if (parse_long(value, kd->min, kd->max, &l, &err) == 0)
			*(long *)field = l;
		break;
	case KT_SIGNAL:
		if (parse_signal(value, &b, &err) == 0)
			*(int *)field = b;
		break;
	case KT_CHOICE:
		set_choice(ld, kd, field, value);
		break;
	case KT_MODE:
		if (parse_mode(value, &b, &err) == 0)
			*(int *)field = b;
		break;
	case KT_SPECIAL:
		kd->set(ld, kd, value);
		break;
	}
	if (err != NULL)
		config_error(ld, ld->lineno, "%s: %s", kd->name, err);
}
