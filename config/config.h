/*
 * The configuration: an INI file of one [supervisor] section and one
 * [pool:NAME] section per pool, loaded with inih into typed structs.
 * Loading collects every problem as "FILE:LINE: message", not only the
 * first, so `mpsup check` can show an operator all of them at once.
 */
#ifndef MPSUP_CONFIG_H
#define MPSUP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config/cron.h"

enum pool_type { POOL_TYPE_EXEC, POOL_TYPE_STREAM };
enum job_fds { JOB_FDS_STDIO, JOB_FDS_34 };
enum output_mode { OUTPUT_LOG, OUTPUT_CAPTURE, OUTPUT_BOTH };
enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum store_sync { STORE_SYNC_NORMAL, STORE_SYNC_FULL };
/* What a client may do (SPEC section 11); each role includes the lower. */
enum client_role { ROLE_MONITOR, ROLE_SUBMIT, ROLE_ADMIN };

struct pool_config {
	char		 *name;
	int		  line;		/* of the section header */
	enum pool_type	  type;
	char		 *command;	/* as written */
	char		**argv;		/* command split into words */
	size_t		  argc;
	int		  workers;	/* fixed size, or min_workers */
	int		  min_workers;
	int		  max_workers;	/* == workers unless dynamic */
	int		  dynamic;
	double		  idle_timeout;
	int		  prefetch;
	long		  max_queue;
	double		  job_timeout;	/* 0 = none */
	int		  max_attempts;
	double		  retry_delay;
	long		  max_jobs_per_worker;
	double		  restart_delay;
	double		  restart_delay_max;
	enum output_mode  output;
	uint64_t	  capture_max;
	enum job_fds	  job_fds;
	int		  trusted;	/* exec jobs may act as any client */
	char		 *cwd;		/* absolute, or NULL */
	char		 *user;
	char		 *group;
	uid_t		  uid;
	gid_t		  gid;
	char		**env;		/* KEY=VALUE */
	size_t		  nenv;
	int		  stop_signal;
	double		  stop_timeout;
	/* Flow control (store/queue_flow.c). */
	int		  group_concurrency;	/* 0 = no limit */
	double		  rate_limit;	/* jobs per second, 0 = none */
	int		  rate_burst;
	int		  rate_per_group;
	double		  priority_aging;	/* 0 = no aging */
	int		  ready_line;	/* ready = line: wait for {"ready":true} */
	double		  ready_timeout;
	char		**depends_on;	/* pool names */
	size_t		  ndepends_on;
	double		  dead_ttl;	/* keep dead letters; 0 = none */
};

/*
 * A client of the socket, known by its key: a [client:NAME] section, or
 * one of the shorthands authkey_file (client "default") and
 * admin_authkey_file (client "admin").
 */
struct client_config {
	char		 *name;
	int		  line;		/* of its section, or shorthand key */
	char		 *authkey_file;
	int		  create_key;	/* start may write a missing key file */
	int		  shorthand;	/* from authkey_file/admin_authkey_file */
	enum client_role  role;
	char		**pools;	/* it may submit to; NULL = all */
	size_t		  npools;
};

enum schedule_missed { SCHEDULE_MISSED_SKIP, SCHEDULE_MISSED_ONCE };

/* A [schedule:NAME] section: a job submitted to a pool at each tick. */
struct schedule_config {
	char			*name;
	int			 line;		/* of the section header */
	char			*pool;
	char			*cron_expr;	/* as written, or NULL */
	struct cron		 cron;
	double			 every;		/* seconds, when no cron */
	char			*data;		/* the job's JSON text */
	enum schedule_missed	 missed;
	char			*timezone;	/* as written, or NULL = UTC */
	int			 tz_offset;	/* seconds east of UTC */
};

struct config {
	char		 *path;		/* absolute */
	char		 *dir;		/* its folder */
	char		**listen;	/* unix: paths made absolute */
	size_t		  nlisten;
	char		 *authkey_file;
	char		 *admin_authkey_file;
	int		  admin_authkey_line;	/* of that key; 0 = unset */
	int		  legacy_md5;
	char		 *status;	/* NULL = off */
	char		 *status_token_file;
	char		 *status_admin_token_file;	/* POST /retry */
	char		**status_hosts;	/* lowercase; NULL = the defaults */
	size_t		  nstatus_hosts;
	char		 *log;		/* NULL = stdout */
	enum log_format	  log_format;
	uint64_t	  log_max_line;
	int		  log_mode;	/* of a log file mpsup creates */
	char		 *store;	/* "memory" or "sqlite:/abs/path" */
	enum store_sync	  store_sync;
	int		  store_mode;	/* of the store files it creates */
	double		  result_ttl;
	long		  result_max;
	double		  shutdown_timeout;
	long		  max_connections;
	uint64_t	  max_message;
	double		  auth_timeout;		/* handshake deadline */
	uint64_t	  max_unsent;		/* reply bytes per client */
	long		  auth_failures;	/* per address a minute; 0 = off */
	long		  max_handshakes;	/* in progress per address; 0 = off */
	struct pool_config **pools;
	size_t		  npools;
	struct client_config **clients;	/* at least one once loaded */
	size_t		  nclients;
	struct schedule_config **schedules;
	size_t		  nschedules;
	/* The cluster (SPEC section 12); config_cluster.c. */
	char		 *cluster;		/* NULL: one machine */
	char		 *cluster_host;		/* TCP host, or NULL for unix */
	int		  cluster_port;		/* TCP port (default 6379) */
	char		 *cluster_path;		/* unix socket (absolute), or NULL */
	int		  cluster_db;		/* database number, default 0 */
	char		 *cluster_password_file; /* NULL: no AUTH */
	char		 *node;			/* default: the host name */
	double		  cluster_lease;	/* seconds, default 30 */
};

struct config_errors {
	char	**msgs;		/* "FILE:LINE: message" */
	size_t	  n;
};

/*
 * Load and validate path. Returns the config, or NULL when there were
 * errors; either way every problem found is appended to errs.
 */
struct config	*config_load(const char *path, struct config_errors *errs);
void		 config_free(struct config *);
void		 config_errors_free(struct config_errors *);
struct pool_config *config_find_pool(const struct config *, const char *);
/* 1 to 64 letters, digits, '_', '-', '.' (pools, clients, schedules). */
int		 config_valid_name(const char *);
/* The largest max_queue a pool may have. */
#define CONFIG_MAX_QUEUE	100000000L
/*
 * A cluster node's gateway pool (SPEC section 12): a pool it defines no
 * section for, taken from the nodes that run it (their type, max_queue),
 * with the defaults otherwise and no workers. The caller owns it and
 * frees it with config_pool_free().
 */
struct pool_config *config_pool_gateway(const char *name, enum pool_type,
		    long max_queue);
void		 config_pool_free(struct pool_config *);
const char	*config_role_name(enum client_role);
/* "authkey_file", "admin_authkey_file" or "[client:NAME] authkey_file". */
char		*config_client_key_label(const struct client_config *);
/* True if the two configs' clients differ in anything (restart needed). */
int		 config_clients_differ(const struct config *,
		    const struct config *);
struct schedule_config *config_find_schedule(const struct config *,
		    const char *);
/* Whether two schedules tick at the same times with the same job. */
int		 config_schedule_differs(const struct schedule_config *a,
		    const struct schedule_config *b);
/* True if a and b differ in cluster, node, cluster_password_file or lease. */
int		 config_cluster_differs(const struct config *a,
		    const struct config *b);
/*
 * Give to's cluster keys from's values: a reload keeps the cluster the
 * supervisor runs with (only a restart changes it).
 */
void		 config_cluster_keep(struct config *to,
		    const struct config *from);
/* True if workers started with a must be restarted to run as b says. */
int		 config_pool_process_differs(const struct pool_config *a,
		    const struct pool_config *b);

#endif
