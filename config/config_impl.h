/*
 * Internals shared by the three parts of the configuration loader (see
 * config.h): config.c reads lines and sections and owns the loader state,
 * config_keys.c holds the table of keys with their defaults, ranges and
 * setters, config_validate.c runs the checks across keys once every line
 * is read. Included only by those three files.
 */
#ifndef MPSUP_CONFIG_IMPL_H
#define MPSUP_CONFIG_IMPL_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"

#define CONFIG_MAX_POOLS	256
#define CONFIG_MAX_WORKERS	4096
#define CONFIG_MAX_CLIENTS	256
/* Entries of config_keys[]; config_keys.c checks it at compile time. */
#define CONFIG_MAX_SCHEDULES	256
#define CONFIG_NKEYS		71

enum key_type {
	KT_STRING, KT_PATH, KT_BOOL, KT_DURATION, KT_SIZE, KT_INT, KT_LONG,
	KT_SIGNAL, KT_CHOICE, KT_MODE, KT_SPECIAL,
};

enum section_kind {
	SECT_NONE, SECT_SUPERVISOR, SECT_POOL, SECT_CLIENT, SECT_SCHEDULE,
	SECT_SKIP,
};

struct loader;
struct key_def;

/* Sets a KT_SPECIAL key from its value on the loader's current line. */
typedef void (*key_setter)(struct loader *, const struct key_def *,
    const char *);

struct key_def {
	const char		*name;
	enum section_kind	 sect;
	enum key_type		 type;
	size_t			 off;
	long			 min, max;
	const char *const	*choices;	/* KT_CHOICE */
	key_setter		 set;		/* KT_SPECIAL */
	int			 flags;
};
#define KEY_CONTINUES	0x1	/* may go on over continuation lines */
#define KEY_REPEATS	0x2	/* each line adds a value */

extern const struct key_def *const config_keys;	/* CONFIG_NKEYS of them */

/* Per-section bookkeeping: where each key was first set. */
struct section_state {
	int	 line;
	int	 key_line[CONFIG_NKEYS];
};

struct loader {
	const char		*path;	/* as given, for messages */
	FILE			*fp;
	int			 lineno;
	char			*line;
	size_t			 linecap;
	int			 continuation;	/* current line continues a key */
	int			 have_key;	/* inih's "previous name" */
	enum section_kind	 sect;
	struct pool_config	*pool;
	struct client_config	*client;
	struct section_state	*state;	/* of the current section */
	struct section_state	 sup_state;
	struct section_state	*pool_states;
	struct section_state	*client_states;
	struct schedule_config	*sched;		/* of the current section */
	struct section_state	*sched_states;
	int			 sup_seen;
	int			 command_line;
	int			 cluster_bad;	/* cluster has an error */
	struct config		*cfg;
	struct config_errors	*errs;
	int			 nerrors;
};

/* Append "FILE:LINE: message" (or "FILE: message" for line 0). */
void	config_error(struct loader *, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* p resolved against the config's folder unless absolute; caller frees. */
char	*config_resolve_path(const struct config *, const char *p);

/* The key named name in section sect, or NULL. */
const struct key_def *config_key_find(enum section_kind sect,
	    const char *name);
/* Index in config_keys of a key that must exist. */
int	config_key_index(enum section_kind sect, const char *name);
/* Set kd from value on the loader's current line, reporting bad values. */
void	config_key_apply(struct loader *, const struct key_def *,
	    const char *value);
void	config_defaults(struct config *);
void	config_pool_defaults(struct pool_config *);
/* Replace (or, for a continuation line, extend) the listen list. */
void	config_set_listen(struct loader *, const char *value, int append);

/* Cross-key checks once every line has been read. */
void	config_validate(struct loader *);
/* Start a [client:NAME] section at the current line (config_client.c). */
void	config_client_section(struct loader *, const char *name);
/* Check the clients and add the shorthand ones (config_client.c). */
void	config_validate_clients(struct loader *);
void	config_client_free(struct client_config *);
/* Two optional strings differ (NULL equals only NULL). */
int	config_str_differs(const char *, const char *);

/* config_cluster.c: cluster, node and the checks across the cluster keys. */
void	config_set_cluster(struct loader *, const struct key_def *,
	    const char *);
void	config_set_node(struct loader *, const struct key_def *,
	    const char *);
void	config_cluster_validate(struct loader *);

/* config_sched.c: the [schedule:NAME] sections and the pools' order. */
void	config_schedule_section(struct loader *, const char *name);
void	config_schedule_free(struct schedule_config *);
void	config_set_cron(struct loader *, const struct key_def *,
	    const char *);
void	config_set_job_data(struct loader *, const struct key_def *,
	    const char *);
void	config_set_job_args(struct loader *, const struct key_def *,
	    const char *);
void	config_set_timezone(struct loader *, const struct key_def *,
	    const char *);
void	config_set_depends_on(struct loader *, const struct key_def *,
	    const char *);
/* Schedules name pools that exist and tick; depends_on has no cycle. */
void	config_validate_schedules(struct loader *);
void	config_validate_order(struct loader *);

#endif
