/*
 * Configuration loading (see config.h).
 *
 * Debian's inih is built with a 200-byte line buffer and calls its handler
 * without line numbers, so we feed it through our own line reader: the
 * reader counts lines, catches over-long and malformed lines and section
 * headers itself (recording FILE:LINE errors and handing inih a blank line
 * in their place), and the handler attributes each key to the line the
 * reader handed over last. inih keeps doing what it is good at: splitting
 * keys from values, inline comments and continuation lines.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "config/parse.h"

#define CONFIG_MAX_POOLS	256
#define CONFIG_MAX_WORKERS	4096

enum key_type {
	KT_STRING, KT_PATH, KT_BOOL, KT_DURATION, KT_SIZE, KT_INT, KT_LONG,
	KT_SIGNAL, KT_CHOICE, KT_SPECIAL,
};

enum section_kind { SECT_NONE, SECT_SUPERVISOR, SECT_POOL, SECT_SKIP };

struct key_def {
	const char		*name;
	enum section_kind	 sect;
	enum key_type		 type;
	size_t			 off;
	long			 min, max;
	const char *const	*choices;
};

static const char *const log_format_choices[] = { "text", "json", NULL };
static const char *const store_sync_choices[] = { "normal", "full", NULL };
static const char *const type_choices[] = { "exec", "stream", NULL };
static const char *const output_choices[] = { "log", "capture", "both", NULL };
static const char *const job_fds_choices[] = { "stdio", "3,4", NULL };

#define SUP(n, t, f, lo, hi, c) \
	{ n, SECT_SUPERVISOR, t, offsetof(struct config, f), lo, hi, c }
#define POOL(n, t, f, lo, hi, c) \
	{ n, SECT_POOL, t, offsetof(struct pool_config, f), lo, hi, c }

static const struct key_def key_defs[] = {
	SUP("listen", KT_SPECIAL, listen, 0, 0, NULL),
	SUP("authkey_file", KT_PATH, authkey_file, 0, 0, NULL),
	SUP("admin_authkey_file", KT_PATH, admin_authkey_file, 0, 0, NULL),
	SUP("legacy_md5", KT_BOOL, legacy_md5, 0, 0, NULL),
	SUP("status", KT_SPECIAL, status, 0, 0, NULL),
	SUP("status_token_file", KT_PATH, status_token_file, 0, 0, NULL),
	SUP("log", KT_SPECIAL, log, 0, 0, NULL),
	SUP("log_format", KT_CHOICE, log_format, 0, 0, log_format_choices),
	SUP("log_max_line", KT_SIZE, log_max_line, 256, 1L << 30, NULL),
	SUP("store", KT_SPECIAL, store, 0, 0, NULL),
	SUP("store_sync", KT_CHOICE, store_sync, 0, 0, store_sync_choices),
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

	POOL("type", KT_CHOICE, type, 0, 0, type_choices),
	POOL("command", KT_SPECIAL, command, 0, 0, NULL),
	POOL("workers", KT_INT, workers, 1, CONFIG_MAX_WORKERS, NULL),
	POOL("min_workers", KT_INT, min_workers, 0, CONFIG_MAX_WORKERS, NULL),
	POOL("max_workers", KT_INT, max_workers, 1, CONFIG_MAX_WORKERS, NULL),
	POOL("idle_timeout", KT_DURATION, idle_timeout, 0, 0, NULL),
	POOL("prefetch", KT_INT, prefetch, 1, 4096, NULL),
	POOL("max_queue", KT_LONG, max_queue, 1, 100000000, NULL),
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
	POOL("cwd", KT_SPECIAL, cwd, 0, 0, NULL),
	POOL("user", KT_STRING, user, 0, 0, NULL),
	POOL("group", KT_STRING, group, 0, 0, NULL),
	POOL("env", KT_SPECIAL, env, 0, 0, NULL),
	POOL("stop_signal", KT_SIGNAL, stop_signal, 0, 0, NULL),
	POOL("stop_timeout", KT_DURATION, stop_timeout, 0, 0, NULL),
};
#define NKEYS	(sizeof key_defs / sizeof key_defs[0])

/* Per-section bookkeeping: where each key was first set. */
struct section_state {
	int	 line;
	int	 key_line[NKEYS];
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
	struct section_state	*state;	/* of the current section */
	struct section_state	 sup_state;
	struct section_state	*pool_states;
	int			 sup_seen;
	int			 command_line;
	struct config		*cfg;
	struct config_errors	*errs;
	int			 nerrors;
};

static void
loader_error(struct loader *ld, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
loader_error(struct loader *ld, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *full;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (line > 0)
		xasprintf(&full, "%s:%d: %s", ld->path, line, msg);
	else
		xasprintf(&full, "%s: %s", ld->path, msg);
	free(msg);
	ld->errs->msgs = xreallocarray(ld->errs->msgs, ld->errs->n + 1,
	    sizeof *ld->errs->msgs);
	ld->errs->msgs[ld->errs->n++] = full;
	ld->nerrors++;
}

/* Resolve p against the config's folder unless it is absolute. */
static char *
resolve_path(const struct config *cfg, const char *p)
{
	char	*out;

	if (p[0] == '/')
		return xstrdup(p);
	xasprintf(&out, "%s/%s", cfg->dir, p);
	return out;
}

static int
valid_pool_name(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return n > 0 && n <= 64;
}

static void
pool_defaults(struct pool_config *pc)
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
}

static void
config_defaults(struct config *cfg)
{
	cfg->authkey_file = resolve_path(cfg, "authkey");
	cfg->status = xstrdup("127.0.0.1:7301");
	cfg->log_max_line = 1 << 20;
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

static void
set_listen(struct loader *ld, const char *value, int append)
{
	struct config	 *cfg = ld->cfg;
	char		**items;
	size_t		  n, i;
	const char	 *err;
	char		 *item;

	if (!append) {
		free_strv(cfg->listen, cfg->nlisten);
		cfg->listen = NULL;
		cfg->nlisten = 0;
	}
	if (*value == '\0')
		return;
	if (parse_list(value, &items, &n, &err) == -1) {
		loader_error(ld, ld->lineno, "listen: %s", err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (strncmp(items[i], "unix:", 5) == 0) {
			if (items[i][5] == '\0') {
				loader_error(ld, ld->lineno,
				    "listen: unix: needs a path");
				continue;
			}
			item = resolve_path(cfg, items[i] + 5);
			if (strlen(item) >= 108) {
				loader_error(ld, ld->lineno, "listen: socket "
				    "path too long (at most 107 bytes): %s",
				    item);
				free(item);
				continue;
			}
			free(items[i]);
			xasprintf(&items[i], "unix:%s", item);
			free(item);
		} else if ((err = check_hostport(items[i])) != NULL) {
			loader_error(ld, ld->lineno, "listen: '%s': %s",
			    items[i], err);
			continue;
		}
		cfg->listen = xreallocarray(cfg->listen, cfg->nlisten + 2,
		    sizeof *cfg->listen);
		cfg->listen[cfg->nlisten++] = items[i];
		cfg->listen[cfg->nlisten] = NULL;
		items[i] = NULL;
	}
	free_strv(items, n);
}

static void
set_env(struct loader *ld, const char *value)
{
	struct pool_config	*pc = ld->pool;
	const char		*eq = strchr(value, '='), *p;

	if (eq == NULL || eq == value) {
		loader_error(ld, ld->lineno, "env: expected KEY=VALUE");
		return;
	}
	for (p = value; p < eq; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_') {
			loader_error(ld, ld->lineno,
			    "env: bad variable name '%.*s'",
			    (int)(eq - value), value);
			return;
		}
	}
	if (isdigit((unsigned char)value[0])) {
		loader_error(ld, ld->lineno, "env: bad variable name '%.*s'",
		    (int)(eq - value), value);
		return;
	}
	if (strncmp(value, "MPSUP_", 6) == 0) {
		loader_error(ld, ld->lineno, "env: MPSUP_* variables are set "
		    "by mpsup itself");
		return;
	}
	pc->env = xreallocarray(pc->env, pc->nenv + 2, sizeof *pc->env);
	pc->env[pc->nenv++] = xstrdup(value);
	pc->env[pc->nenv] = NULL;
}

static void
set_special(struct loader *ld, const struct key_def *kd, const char *value)
{
	struct config		*cfg = ld->cfg;
	struct pool_config	*pc = ld->pool;
	char			*tmp;
	struct stat		 sb;

	if (strcmp(kd->name, "listen") == 0)
		set_listen(ld, value, ld->continuation);
	else if (strcmp(kd->name, "env") == 0)
		set_env(ld, value);
	else if (strcmp(kd->name, "command") == 0) {
		if (ld->continuation && pc->command != NULL) {
			xasprintf(&tmp, "%s %s", pc->command, value);
			free(pc->command);
			pc->command = tmp;
		} else {
			free(pc->command);
			pc->command = xstrdup(value);
			ld->command_line = ld->lineno;
		}
	} else if (strcmp(kd->name, "status") == 0) {
		free(cfg->status);
		cfg->status = NULL;
		if (*value == '\0')
			return;
		if ((tmp = (char *)check_hostport(value)) != NULL) {
			loader_error(ld, ld->lineno, "status: '%s': %s", value,
			    tmp);
			return;
		}
		cfg->status = xstrdup(value);
	} else if (strcmp(kd->name, "log") == 0) {
		free(cfg->log);
		cfg->log = NULL;
		if (*value == '\0' || strcmp(value, "-") == 0)
			return;
		cfg->log = resolve_path(cfg, value);
	} else if (strcmp(kd->name, "store") == 0) {
		if (strcmp(value, "memory") == 0) {
			free(cfg->store);
			cfg->store = xstrdup("memory");
		} else if (strncmp(value, "sqlite:", 7) == 0 &&
		    value[7] != '\0') {
			tmp = resolve_path(cfg, value + 7);
			free(cfg->store);
			xasprintf(&cfg->store, "sqlite:%s", tmp);
			free(tmp);
		} else
			loader_error(ld, ld->lineno,
			    "store: expected memory or sqlite:PATH");
	} else if (strcmp(kd->name, "cwd") == 0) {
		free(pc->cwd);
		pc->cwd = NULL;
		if (*value == '\0')
			return;
		tmp = resolve_path(cfg, value);
		if (stat(tmp, &sb) == -1) {
			loader_error(ld, ld->lineno, "cwd: %s: %s", tmp,
			    strerror(errno));
			free(tmp);
			return;
		}
		if (!S_ISDIR(sb.st_mode)) {
			loader_error(ld, ld->lineno, "cwd: %s: not a directory",
			    tmp);
			free(tmp);
			return;
		}
		pc->cwd = tmp;
	}
}

/* inih handler: one key = value (or continuation) of the current line. */
static int
loader_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct loader		*ld = arg;
	const struct key_def	*kd = NULL;
	void			*base;
	const char		*err = NULL;
	size_t			 i;
	double			 d;
	uint64_t		 u;
	long			 l;
	int			 b, first;

	(void)section;
	if (ld->sect == SECT_SKIP || ld->sect == SECT_NONE)
		return 1;
	for (i = 0; i < NKEYS; i++) {
		if (key_defs[i].sect == ld->sect &&
		    strcmp(key_defs[i].name, name) == 0) {
			kd = &key_defs[i];
			break;
		}
	}
	if (kd == NULL) {
		if (!ld->continuation)
			loader_error(ld, ld->lineno, "unknown key '%s' in [%s]",
			    name, section);
		return 1;
	}
	first = ld->state->key_line[i];
	if (ld->continuation) {
		if (strcmp(name, "listen") != 0 && strcmp(name, "env") != 0 &&
		    strcmp(name, "command") != 0) {
			loader_error(ld, ld->lineno, "%s: continuation lines "
			    "are only allowed for listen, env and command",
			    name);
			return 1;
		}
	} else if (first != 0 && strcmp(name, "env") != 0) {
		loader_error(ld, ld->lineno, "duplicate key '%s' (first set "
		    "at line %d)", name, first);
		return 1;
	} else
		ld->state->key_line[i] = ld->lineno;

	base = kd->sect == SECT_SUPERVISOR ? (void *)ld->cfg : (void *)ld->pool;
	switch (kd->type) {
	case KT_STRING:
	case KT_PATH:
		free(*(char **)((char *)base + kd->off));
		*(char **)((char *)base + kd->off) = *value == '\0' ? NULL :
		    kd->type == KT_PATH ? resolve_path(ld->cfg, value) :
		    xstrdup(value);
		break;
	case KT_BOOL:
		if (parse_bool(value, &b, &err) == 0)
			*(int *)((char *)base + kd->off) = b;
		break;
	case KT_DURATION:
		if (parse_duration(value, &d, &err) == 0)
			*(double *)((char *)base + kd->off) = d;
		break;
	case KT_SIZE:
		if (parse_size(value, &u, &err) == 0) {
			if (u < (uint64_t)kd->min || u > (uint64_t)kd->max)
				loader_error(ld, ld->lineno, "%s: must be "
				    "between %ld and %ld bytes", name, kd->min,
				    kd->max);
			else
				*(uint64_t *)((char *)base + kd->off) = u;
		}
		break;
	case KT_INT:
		if (parse_long(value, kd->min, kd->max, &l, &err) == 0)
			*(int *)((char *)base + kd->off) = (int)l;
		break;
	case KT_LONG:
		if (parse_long(value, kd->min, kd->max, &l, &err) == 0)
			*(long *)((char *)base + kd->off) = l;
		break;
	case KT_SIGNAL:
		if (parse_signal(value, &b, &err) == 0)
			*(int *)((char *)base + kd->off) = b;
		break;
	case KT_CHOICE:
		for (i = 0; kd->choices[i] != NULL; i++)
			if (strcmp(kd->choices[i], value) == 0)
				break;
		if (kd->choices[i] == NULL) {
			loader_error(ld, ld->lineno, "%s: '%s' is not one of "
			    "%s%s%s%s%s", name, value, kd->choices[0],
			    kd->choices[1] ? ", " : "",
			    kd->choices[1] ? kd->choices[1] : "",
			    kd->choices[1] && kd->choices[2] ? ", " : "",
			    kd->choices[1] && kd->choices[2] ?
			    kd->choices[2] : "");
		} else
			*(int *)((char *)base + kd->off) = (int)i;
		break;
	case KT_SPECIAL:
		set_special(ld, kd, value);
		break;
	}
	if (err != NULL)
		loader_error(ld, ld->lineno, "%s: %s", name, err);
	return 1;
}

/* A new [section] header at the current line. */
static void
loader_section(struct loader *ld, const char *name)
{
	struct config		*cfg = ld->cfg;
	struct pool_config	*pc;
	size_t			 i;

	ld->have_key = 0;
	ld->pool = NULL;
	if (strcmp(name, "supervisor") == 0) {
		if (ld->sup_seen) {
			loader_error(ld, ld->lineno, "duplicate section "
			    "[supervisor] (first at line %d)",
			    ld->sup_state.line);
			ld->sect = SECT_SKIP;
			return;
		}
		ld->sup_seen = 1;
		ld->sup_state.line = ld->lineno;
		ld->sect = SECT_SUPERVISOR;
		ld->state = &ld->sup_state;
		return;
	}
	if (strncmp(name, "pool:", 5) != 0) {
		loader_error(ld, ld->lineno, "unknown section [%s] (expected "
		    "[supervisor] or [pool:NAME])", name);
		ld->sect = SECT_SKIP;
		return;
	}
	name += 5;
	if (!valid_pool_name(name)) {
		loader_error(ld, ld->lineno, "bad pool name '%s' (use up to 64 "
		    "letters, digits, '_', '-' and '.')", name);
		ld->sect = SECT_SKIP;
		return;
	}
	for (i = 0; i < cfg->npools; i++) {
		if (strcmp(cfg->pools[i]->name, name) == 0) {
			loader_error(ld, ld->lineno, "duplicate pool '%s' "
			    "(first at line %d)", name, cfg->pools[i]->line);
			ld->sect = SECT_SKIP;
			return;
		}
	}
	if (cfg->npools == CONFIG_MAX_POOLS) {
		loader_error(ld, ld->lineno, "too many pools (at most %d)",
		    CONFIG_MAX_POOLS);
		ld->sect = SECT_SKIP;
		return;
	}
	pc = xcalloc(1, sizeof *pc);
	pool_defaults(pc);
	pc->name = xstrdup(name);
	pc->line = ld->lineno;
	cfg->pools = xreallocarray(cfg->pools, cfg->npools + 1,
	    sizeof *cfg->pools);
	cfg->pools[cfg->npools] = pc;
	ld->pool_states = xreallocarray(ld->pool_states, cfg->npools + 1,
	    sizeof *ld->pool_states);
	memset(&ld->pool_states[cfg->npools], 0, sizeof *ld->pool_states);
	ld->pool_states[cfg->npools].line = ld->lineno;
	ld->state = &ld->pool_states[cfg->npools];
	cfg->npools++;
	ld->pool = pc;
	ld->sect = SECT_POOL;
}

/* Where inih sees an inline comment: ';' after a blank, or NULL. */
static const char *
inline_comment(const char *s)
{
	for (; *s != '\0'; s++)
		if (s[1] == ';' && isspace((unsigned char)s[0]))
			return s + 1;
	return NULL;
}

/* Classify one raw line; returns what inih should see instead of it. */
static const char *
loader_check_line(struct loader *ld, char *line, int num)
{
	char		*p, *end, *sep;
	const char	*comment;
	size_t		 len;

	ld->continuation = 0;
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	if (ld->lineno == 1 && (unsigned char)line[0] == 0xef &&
	    (unsigned char)line[1] == 0xbb && (unsigned char)line[2] == 0xbf) {
		memmove(line, line + 3, len - 2);
		len -= 3;
	}
	if (memchr(line, '\0', len) != NULL || len != strlen(line)) {
		loader_error(ld, ld->lineno, "line contains a NUL byte");
		return "";
	}
	if ((int)len > num - 3) {
		loader_error(ld, ld->lineno, "line too long (%zu bytes; the "
		    "INI reader takes at most %d)", len, num - 3);
		return "";
	}
	for (p = line; isspace((unsigned char)*p); p++)
		;
	if (*p == '\0' || *p == ';' || *p == '#')
		return line;
	if (ld->sect == SECT_SKIP && *p != '[')
		return "";
	if (p > line && ld->have_key) {
		ld->continuation = 1;
		return line;
	}
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL) {
			loader_error(ld, ld->lineno, "section header without "
			    "closing ']'");
			ld->sect = SECT_SKIP;
			return "";
		}
		*end = '\0';
		for (sep = end + 1; isspace((unsigned char)*sep); sep++)
			;
		if (*sep != '\0' && *sep != ';' && *sep != '#') {
			loader_error(ld, ld->lineno, "unexpected text after "
			    "section header");
			ld->sect = SECT_SKIP;
			return "";
		}
		loader_section(ld, p + 1);
		*end = ']';
		return ld->sect == SECT_SKIP ? "" : line;
	}
	sep = strpbrk(p, "=:");
	comment = inline_comment(p);
	if (sep == NULL || (comment != NULL && comment < sep) || sep == p) {
		loader_error(ld, ld->lineno, "expected 'key = value'");
		return "";
	}
	if (ld->sect == SECT_NONE) {
		loader_error(ld, ld->lineno, "key outside of any section "
		    "(start with [supervisor] or [pool:NAME])");
		return "";
	}
	ld->have_key = 1;
	return line;
}

/* inih reader: hand over the next line, vetted. */
static char *
loader_reader(char *str, int num, void *arg)
{
	struct loader	*ld = arg;
	const char	*line;
	ssize_t		 n;

	if ((n = getline(&ld->line, &ld->linecap, ld->fp)) == -1)
		return NULL;
	ld->lineno++;
	if ((size_t)n != strlen(ld->line)) {
		loader_error(ld, ld->lineno, "line contains a NUL byte");
		line = "";
	} else
		line = loader_check_line(ld, ld->line, num);
	snprintf(str, (size_t)num, "%s\n", line);
	return str;
}

/* Index of a key in key_defs (the key must exist). */
static int
key_index(enum section_kind sect, const char *name)
{
	size_t	i;

	for (i = 0; i < NKEYS; i++)
		if (key_defs[i].sect == sect &&
		    strcmp(key_defs[i].name, name) == 0)
			return (int)i;
	abort();
}

/* Cross-key checks once every line has been read. */
static void
loader_validate(struct loader *ld)
{
	struct config		*cfg = ld->cfg;
	struct pool_config	*pc;
	struct section_state	*st;
	const char		*err;
	struct passwd		*pw;
	struct group		*gr;
	size_t			 i;
	int			 kmin = key_index(SECT_POOL, "min_workers");
	int			 kmax = key_index(SECT_POOL, "max_workers");
	int			 kworkers = key_index(SECT_POOL, "workers");
	int			 kcmd = key_index(SECT_POOL, "command");

	if (ld->sup_seen == 0 && cfg->npools == 0)
		loader_error(ld, 0, "no [supervisor] or [pool:NAME] section");
	else if (cfg->npools == 0)
		loader_error(ld, 0, "no pools defined (add a [pool:NAME] "
		    "section)");
	if (cfg->auth_timeout <= 0)
		loader_error(ld, ld->sup_state.key_line[key_index(SECT_SUPERVISOR,
		    "auth_timeout")], "auth_timeout: must be longer than 0");
	if (cfg->listen == NULL && ld->sup_state.key_line[key_index(SECT_SUPERVISOR, "listen")] == 0)
		set_listen(ld, "unix:mpsup.sock, 127.0.0.1:7300", 0);
	for (i = 0; i < cfg->npools; i++) {
		pc = cfg->pools[i];
		st = &ld->pool_states[i];
		if (pc->type == POOL_TYPE_STREAM) {
			if (pc->command == NULL || *pc->command == '\0')
				loader_error(ld, pc->line, "pool '%s': missing "
				    "'command' (required for stream pools)",
				    pc->name);
			else if (parse_words(pc->command, &pc->argv, &pc->argc,
			    &err) == -1)
				loader_error(ld, st->key_line[kcmd],
				    "command: %s", err);
		} else if (pc->command != NULL)
			loader_error(ld, st->key_line[kcmd], "command: not "
			    "used by exec pools (jobs name their own command; "
			    "set type = stream to run a worker program)");
		if (pc->argv != NULL && pc->argv[0][0] != '/' &&
		    strchr(pc->argv[0], '/') != NULL) {
			char *abs = resolve_path(cfg, pc->argv[0]);
			free(pc->argv[0]);
			pc->argv[0] = abs;
		}
		if (st->key_line[kmin] || st->key_line[kmax]) {
			if (st->key_line[kworkers])
				loader_error(ld, st->key_line[kworkers],
				    "workers: give either workers or "
				    "min_workers and max_workers");
			else if (!st->key_line[kmin] || !st->key_line[kmax])
				loader_error(ld, st->key_line[kmin] ?
				    st->key_line[kmin] : st->key_line[kmax],
				    "dynamic pools need both min_workers and "
				    "max_workers");
			else if (pc->min_workers > pc->max_workers)
				loader_error(ld, st->key_line[kmin],
				    "min_workers is greater than max_workers");
			else {
				pc->dynamic = 1;
				pc->workers = pc->min_workers;
			}
		}
		if (!pc->dynamic)
			pc->min_workers = pc->max_workers = pc->workers;
		if (pc->restart_delay > pc->restart_delay_max)
			loader_error(ld, pc->line, "pool '%s': restart_delay "
			    "is longer than restart_delay_max", pc->name);
		if (pc->type == POOL_TYPE_EXEC && pc->job_fds != JOB_FDS_STDIO)
			loader_error(ld, pc->line, "pool '%s': job_fds applies "
			    "to stream pools only", pc->name);
		if (pc->user != NULL) {
			if ((pw = getpwnam(pc->user)) == NULL)
				loader_error(ld, pc->line, "pool '%s': unknown "
				    "user '%s'", pc->name, pc->user);
			else {
				pc->uid = pw->pw_uid;
				pc->gid = pw->pw_gid;
			}
		}
		if (pc->group != NULL) {
			if ((gr = getgrnam(pc->group)) == NULL)
				loader_error(ld, pc->line, "pool '%s': unknown "
				    "group '%s'", pc->name, pc->group);
			else
				pc->gid = gr->gr_gid;
		}
	}
}

struct config *
config_load(const char *path, struct config_errors *errs)
{
	struct loader	 ld;
	struct config	*cfg;
	char		*abs, *slash;
	int		 r;

	memset(&ld, 0, sizeof ld);
	ld.path = path;
	ld.errs = errs;
	if ((ld.fp = fopen(path, "re")) == NULL) {
		loader_error(&ld, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	cfg = xcalloc(1, sizeof *cfg);
	if ((abs = realpath(path, NULL)) == NULL)
		abs = xstrdup(path);
	cfg->path = abs;
	cfg->dir = xstrdup(abs);
	if ((slash = strrchr(cfg->dir, '/')) != NULL)
		*(slash == cfg->dir ? slash + 1 : slash) = '\0';
	config_defaults(cfg);
	ld.cfg = cfg;
	r = ini_parse_stream(loader_reader, &ld, loader_handler, &ld);
	if (r == -2)
		loader_error(&ld, 0, "out of memory");
	else if (r != 0 && ld.nerrors == 0)
		loader_error(&ld, r, "syntax error");
	if (ferror(ld.fp))
		loader_error(&ld, 0, "read error: %s", strerror(errno));
	fclose(ld.fp);
	free(ld.line);
	loader_validate(&ld);
	free(ld.pool_states);
	if (ld.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
pool_config_free(struct pool_config *pc)
{
	free(pc->name);
	free(pc->command);
	free_strv(pc->argv, pc->argc);
	free(pc->cwd);
	free(pc->user);
	free(pc->group);
	free_strv(pc->env, pc->nenv);
	free(pc);
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free_strv(cfg->listen, cfg->nlisten);
	free(cfg->authkey_file);
	free(cfg->admin_authkey_file);
	free(cfg->status);
	free(cfg->status_token_file);
	free(cfg->log);
	free(cfg->store);
	for (i = 0; i < cfg->npools; i++)
		pool_config_free(cfg->pools[i]);
	free(cfg->pools);
	free(cfg);
}

void
config_errors_free(struct config_errors *errs)
{
	free_strv(errs->msgs, errs->n);
	errs->msgs = NULL;
	errs->n = 0;
}

struct pool_config *
config_find_pool(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i]->name, name) == 0)
			return cfg->pools[i];
	return NULL;
}

static int
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

int
config_pool_process_differs(const struct pool_config *a,
    const struct pool_config *b)
{
	size_t	i;

	if (a->type != b->type || str_differs(a->command, b->command) ||
	    a->output != b->output || a->capture_max != b->capture_max ||
	    a->job_fds != b->job_fds || str_differs(a->cwd, b->cwd) ||
	    str_differs(a->user, b->user) || str_differs(a->group, b->group) ||
	    a->nenv != b->nenv)
		return 1;
	for (i = 0; i < a->nenv; i++)
		if (strcmp(a->env[i], b->env[i]) != 0)
			return 1;
	return 0;
}
