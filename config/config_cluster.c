/*
 * The cluster keys of [supervisor] (SPEC section 12): cluster, the URL of
 * the Redis server that holds the shared queue, parsed into host, port or
 * socket path and database; node, this supervisor's name in the cluster;
 * cluster_password_file and cluster_lease. Their setters are in the key
 * table (config_keys.c); config_cluster_validate() runs the checks across
 * keys once the file is read: store and cluster exclude each other, the
 * other three need cluster, the lease has bounds, and a node without a
 * name of its own takes the host name when that is a valid name.
 *
 * A password never goes in the config file: a URL with user information
 * (redis://:secret@host) is refused and points to cluster_password_file,
 * whose mode rules are those of the key files (checked at start and by
 * `mpsup check`, which read it; the config layer only names it).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "config/config_impl.h"
#include "config/parse.h"

#define CLUSTER_PORT_DEFAULT	6379
#define CLUSTER_DB_MAX		15
#define CLUSTER_LEASE_MIN	2.0
#define CLUSTER_LEASE_MAX	3600.0
#define CLUSTER_HOST_MAX	253
/* sun_path holds 108 bytes with the terminating NUL. */
#define CLUSTER_PATH_MAX	107

static const char cluster_forms[] = "expected redis://HOST[:PORT][/DB] or "
    "unix:PATH[?db=N]";

/* Forget a previous cluster value. */
static void
cluster_clear(struct config *cfg)
{
	free(cfg->cluster);
	free(cfg->cluster_host);
	free(cfg->cluster_path);
	cfg->cluster = cfg->cluster_host = cfg->cluster_path = NULL;
	cfg->cluster_port = CLUSTER_PORT_DEFAULT;
	cfg->cluster_db = 0;
}

/* A database number 0..15; NULL if good, else why not. */
static const char *
cluster_db(const char *s, int *db)
{
	long		 l;
	const char	*err;

	if (*s == '\0')
		return "the database number is missing";
	if (parse_long(s, 0, CLUSTER_DB_MAX, &l, &err) == -1)
		return "the database must be a number from 0 to 15 (Redis has "
		    "16 by default)";
	*db = (int)l;
	return NULL;
}

/* A host name, or an address in brackets (the brackets stripped). */
static const char *
cluster_host(char *host, char **out)
{
	struct in6_addr	 a6;
	size_t		 n = strlen(host), i;

	if (host[0] == '[') {
		if (n < 3 || host[n - 1] != ']')
			return "expected [V6ADDR]";
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6) != 1)
			return "not an IPv6 address in the brackets";
		*out = xstrdup(host + 1);
		return NULL;
	}
	if (n == 0)
		return "the host is missing";
	if (strchr(host, ':') != NULL)
		return "IPv6 addresses need brackets: redis://[V6ADDR]:PORT";
	if (n > CLUSTER_HOST_MAX)
		return "the host name is too long";
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)host[i]) && host[i] != '.' &&
		    host[i] != '-' && host[i] != '_')
			return "a host name has only letters, digits, '-', '_' "
			    "and '.'";
	*out = xstrdup(host);
	return NULL;
}

/* HOST[:PORT][/DB] of a redis:// URL; NULL if good, else why not. */
static const char *
cluster_tcp(struct config *cfg, char *rest)
{
	char		*slash, *colon, *close;
	const char	*err;
	long		 port;

	if (strchr(rest, '@') != NULL)
		return "a password does not go in the config file: put it in "
		    "a file of its own (mode 0600) and name that file with "
		    "cluster_password_file";
	if (strchr(rest, '?') != NULL || strchr(rest, '#') != NULL)
		return "no options after the URL (a password goes in "
		    "cluster_password_file)";
	if ((slash = strchr(rest, '/')) != NULL) {
		*slash = '\0';
		if ((err = cluster_db(slash + 1, &cfg->cluster_db)) != NULL)
			return err;
	}
	close = rest[0] == '[' ? strchr(rest, ']') : NULL;
	colon = strrchr(close != NULL ? close : rest, ':');
	if (colon != NULL && rest[0] != '[' && strchr(rest, ':') != colon)
		colon = NULL;	/* a bare IPv6 address: cluster_host says */
	if (colon != NULL) {
		*colon = '\0';
		if (parse_long(colon + 1, 1, 65535, &port, &err) == -1)
			return "the port must be a number from 1 to 65535";
		cfg->cluster_port = (int)port;
	}
	return cluster_host(rest, &cfg->cluster_host);
}

/* PATH[?db=N] of a unix: URL; NULL if good, else why not. */
static const char *
cluster_unix(struct config *cfg, char *rest)
{
	char		*query;
	const char	*err;

	if ((query = strchr(rest, '?')) != NULL) {
		*query++ = '\0';
		if (strncmp(query, "db=", 3) != 0)
			return "the only option of unix:PATH is ?db=N";
		if ((err = cluster_db(query + 3, &cfg->cluster_db)) != NULL)
			return err;
	}
	if (*rest == '\0')
		return "unix: needs the path of Redis's socket";
	cfg->cluster_path = config_resolve_path(cfg, rest);
	if (strlen(cfg->cluster_path) > CLUSTER_PATH_MAX)
		return "the socket path is too long (at most 107 bytes)";
	return NULL;
}

/*
 * cluster: empty for one machine, else the Redis server's URL, kept in
 * cfg->cluster in one form whatever the spelling (port and database
 * written out, a socket path made absolute), which is what status and
 * the logs show.
 */
void
config_set_cluster(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct config	*cfg = ld->cfg;
	char		*copy = xstrdup(value);
	const char	*err;

	(void)kd;
	cluster_clear(cfg);
	ld->cluster_bad = 0;
	if (*value == '\0') {
		free(copy);
		return;
	}
	if (strncmp(copy, "redis://", 8) == 0)
		err = cluster_tcp(cfg, copy + 8);
	else if (strncmp(copy, "unix:", 5) == 0)
		err = cluster_unix(cfg, copy + 5);
	else if (strncmp(copy, "rediss://", 9) == 0)
		err = "TLS (rediss://) is not supported: reach Redis over a "
		    "trusted network or its unix socket";
	else
		err = cluster_forms;
	free(copy);
	if (err != NULL && (strncmp(value, "unix:", 5) == 0 ||
	    strpbrk(value, "@?") == NULL))
		config_error(ld, ld->lineno, "cluster: '%s': %s", value, err);
	else if (err != NULL)	/* it may hold a password: not repeated */
		config_error(ld, ld->lineno, "cluster: %s", err);
	if (err != NULL) {
		cluster_clear(cfg);
		ld->cluster_bad = 1;
		return;
	}
	if (cfg->cluster_path != NULL && cfg->cluster_db != 0)
		xasprintf(&cfg->cluster, "unix:%s?db=%d", cfg->cluster_path,
		    cfg->cluster_db);
	else if (cfg->cluster_path != NULL)
		xasprintf(&cfg->cluster, "unix:%s", cfg->cluster_path);
	else
		xasprintf(&cfg->cluster, strchr(cfg->cluster_host, ':') ?
		    "redis://[%s]:%d/%d" : "redis://%s:%d/%d",
		    cfg->cluster_host, cfg->cluster_port, cfg->cluster_db);
}

/* node: this supervisor's name in the cluster; empty for the host name. */
void
config_set_node(struct loader *ld, const struct key_def *kd,
    const char *value)
{
	struct config	*cfg = ld->cfg;

	(void)kd;
	free(cfg->node);
	cfg->node = NULL;
	if (*value == '\0')
		return;
	if (!config_valid_name(value)) {
		config_error(ld, ld->lineno, "node: '%s': use 1 to 64 letters, "
		    "digits, '_', '-' and '.'", value);
		return;
	}
	cfg->node = xstrdup(value);
}

/* The host name as the node's name, or an error at the cluster line. */
static void
cluster_default_node(struct loader *ld, int line)
{
	char	host[HOST_NAME_MAX + 1];

	if (gethostname(host, sizeof host) == -1)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	if (config_valid_name(host)) {
		ld->cfg->node = xstrdup(host);
		return;
	}
	config_error(ld, line, "cluster: the host name '%s' is not a valid "
	    "node name (1 to 64 letters, digits, '_', '-' and '.'): set "
	    "node = NAME, unique in the cluster", host);
}

/* Checks across the cluster keys and store, once the file is read. */
void
config_cluster_validate(struct loader *ld)
{
	struct config	*cfg = ld->cfg;
	/* What needs cluster; an empty node or password file is unset. */
	const struct {
		const char	*key;
		int		 set;
	} need[] = {
		{ "node", cfg->node != NULL },
		{ "cluster_lease", 1 },
		{ "cluster_password_file", cfg->cluster_password_file != NULL },
	};
	int		*key_line = ld->sup_state.key_line;
	int		 lcluster, lstore, lline;
	size_t		 i;

	lcluster = key_line[config_key_index(SECT_SUPERVISOR, "cluster")];
	lstore = key_line[config_key_index(SECT_SUPERVISOR, "store")];
	if (cfg->cluster == NULL) {
		if (ld->cluster_bad)
			return;
		for (i = 0; i < sizeof need / sizeof need[0]; i++) {
			lline = key_line[config_key_index(SECT_SUPERVISOR,
			    need[i].key)];
			if (lline == 0 || !need[i].set)
				continue;
			config_error(ld, lline, "%s: only with cluster (set "
			    "cluster = redis://HOST[:PORT][/DB] or "
			    "unix:PATH, or remove %s)", need[i].key,
			    need[i].key);
		}
		return;
	}
	if (lstore != 0)
		config_error(ld, lstore, "store: not with cluster (line %d): "
		    "with cluster the jobs live in Redis; remove store or "
		    "cluster", lcluster);
	lline = key_line[config_key_index(SECT_SUPERVISOR, "cluster_lease")];
	if (cfg->cluster_lease < CLUSTER_LEASE_MIN ||
	    cfg->cluster_lease > CLUSTER_LEASE_MAX)
		config_error(ld, lline, "cluster_lease: must be from 2s to 1h");
	if (cfg->node == NULL)
		cluster_default_node(ld, lcluster);
}

/* Whether a and b differ in any cluster key (see config.h). */
int
config_cluster_differs(const struct config *a, const struct config *b)
{
	return config_str_differs(a->cluster, b->cluster) ||
	    config_str_differs(a->node, b->node) ||
	    config_str_differs(a->cluster_password_file,
	    b->cluster_password_file) ||
	    a->cluster_lease != b->cluster_lease;
}

/* Give to the cluster keys of to the values from (see config.h). */
void
config_cluster_keep(struct config *to, const struct config *from)
{
	cluster_clear(to);
	free(to->cluster_password_file);
	free(to->node);
	to->cluster = from->cluster ? xstrdup(from->cluster) : NULL;
	to->cluster_host = from->cluster_host ? xstrdup(from->cluster_host) :
	    NULL;
	to->cluster_path = from->cluster_path ? xstrdup(from->cluster_path) :
	    NULL;
	to->cluster_port = from->cluster_port;
	to->cluster_db = from->cluster_db;
	to->cluster_password_file = from->cluster_password_file ?
	    xstrdup(from->cluster_password_file) : NULL;
	to->node = from->node ? xstrdup(from->node) : NULL;
	to->cluster_lease = from->cluster_lease;
}
