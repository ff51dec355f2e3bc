/*
 * Configuration loading (see config.h): the line reader, sections and the
 * inih handler. The keys themselves are in config_keys.c, the checks
 * across keys in config_validate.c (config_impl.h joins the three).
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
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <ini.h>

#include "common/xmalloc.h"
#include "config/config.h"
#include "config/config_impl.h"
#include "config/parse.h"

/* Record one problem; loading goes on to find the others. */
void
config_error(struct loader *ld, int line, const char *fmt, ...)
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
char *
config_resolve_path(const struct config *cfg, const char *p)
{
	char	*out;

	if (p[0] == '/')
		return xstrdup(p);
	xasprintf(&out, "%s/%s", cfg->dir, p);
	return out;
}

/* Pool, client and schedule names: 1 to 64 letters, digits, '_', '-', '.'. */
int
config_valid_name(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++, n++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.')
			return 0;
	return n > 0 && n <= 64;
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
	ld->client = NULL;
	ld->sched = NULL;
	if (strncmp(name, "client:", 7) == 0) {
		config_client_section(ld, name + 7);
		return;
	}
	if (strcmp(name, "supervisor") == 0) {
		if (ld->sup_seen) {
			config_error(ld, ld->lineno, "duplicate section "
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
	if (strncmp(name, "schedule:", 9) == 0) {
		config_schedule_section(ld, name + 9);
		return;
	}
	if (strncmp(name, "pool:", 5) != 0) {
		config_error(ld, ld->lineno, "unknown section [%s] (expected "
		    "[supervisor], [pool:NAME], [client:NAME] or [schedule:NAME])",
		    name);
		ld->sect = SECT_SKIP;
		return;
	}
	name += 5;
	if (!config_valid_name(name)) {
		config_error(ld, ld->lineno, "bad pool name '%s' (use up to 64 "
		    "letters, digits, '_', '-' and '.')", name);
		ld->sect = SECT_SKIP;
		return;
	}
	for (i = 0; i < cfg->npools; i++) {
		if (strcmp(cfg->pools[i]->name, name) == 0) {
			config_error(ld, ld->lineno, "duplicate pool '%s' "
			    "(first at line %d)", name, cfg->pools[i]->line);
			ld->sect = SECT_SKIP;
			return;
		}
	}
	if (cfg->npools == CONFIG_MAX_POOLS) {
		config_error(ld, ld->lineno, "too many pools (at most %d)",
		    CONFIG_MAX_POOLS);
		ld->sect = SECT_SKIP;
		return;
	}
	pc = xcalloc(1, sizeof *pc);
	config_pool_defaults(pc);
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

/* A "[name]" line starting at p; returns what inih should see. */
static const char *
loader_check_header(struct loader *ld, const char *line, char *p)
{
	char	*end, *sep;

	end = strchr(p, ']');
	if (end == NULL) {
		config_error(ld, ld->lineno, "section header without "
		    "closing ']'");
		ld->sect = SECT_SKIP;
		return "";
	}
	*end = '\0';
	for (sep = end + 1; isspace((unsigned char)*sep); sep++)
		;
	if (*sep != '\0' && *sep != ';' && *sep != '#') {
		config_error(ld, ld->lineno, "unexpected text after "
		    "section header");
		ld->sect = SECT_SKIP;
		return "";
	}
	loader_section(ld, p + 1);
	*end = ']';
	return ld->sect == SECT_SKIP ? "" : line;
}

/* Classify one raw line; returns what inih should see instead of it. */
static const char *
loader_check_line(struct loader *ld, char *line, int num)
{
	char		*p, *sep;
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
		config_error(ld, ld->lineno, "line contains a NUL byte");
		return "";
	}
	if ((int)len > num - 3) {
		config_error(ld, ld->lineno, "line too long (%zu bytes; the "
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
	if (*p == '[')
		return loader_check_header(ld, line, p);
	sep = strpbrk(p, "=:");
	comment = inline_comment(p);
	if (sep == NULL || (comment != NULL && comment < sep) || sep == p) {
		config_error(ld, ld->lineno, "expected 'key = value'");
		return "";
	}
	if (ld->sect == SECT_NONE) {
		config_error(ld, ld->lineno, "key outside of any section "
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
		config_error(ld, ld->lineno, "line contains a NUL byte");
		line = "";
	} else
		line = loader_check_line(ld, ld->line, num);
	snprintf(str, (size_t)num, "%s\n", line);
	return str;
}

/* inih handler: one key = value (or continuation) of the current line. */
static int
loader_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct loader		*ld = arg;
	const struct key_def	*kd;
	int			*key_line;

	if (ld->sect == SECT_SKIP || ld->sect == SECT_NONE)
		return 1;
	if ((kd = config_key_find(ld->sect, name)) == NULL) {
		if (!ld->continuation)
			config_error(ld, ld->lineno, "unknown key '%s' in [%s]",
			    name, section);
		return 1;
	}
	key_line = &ld->state->key_line[kd - config_keys];
	if (ld->continuation) {
		if (!(kd->flags & KEY_CONTINUES)) {
			config_error(ld, ld->lineno, "%s: continuation lines "
			    "are only allowed for listen, env and command",
			    name);
			return 1;
		}
	} else if (*key_line != 0 && !(kd->flags & KEY_REPEATS)) {
		config_error(ld, ld->lineno, "duplicate key '%s' (first set "
		    "at line %d)", name, *key_line);
		return 1;
	} else
		*key_line = ld->lineno;
	config_key_apply(ld, kd, value);
	return 1;
}

/* Load path: read it line by line through inih, then check it whole. */
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
		config_error(&ld, 0, "cannot open: %s", strerror(errno));
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
		config_error(&ld, 0, "out of memory");
	else if (r != 0 && ld.nerrors == 0)
		config_error(&ld, r, "syntax error");
	if (ferror(ld.fp))
		config_error(&ld, 0, "read error: %s", strerror(errno));
	fclose(ld.fp);
	free(ld.line);
	config_validate(&ld);
	free(ld.pool_states);
	free(ld.client_states);
	free(ld.sched_states);
	if (ld.nerrors > 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* Free one pool's settings (see config.h). */
void
config_pool_free(struct pool_config *pc)
{
	free(pc->name);
	free(pc->command);
	free_strv(pc->argv, pc->argc);
	free(pc->cwd);
	free(pc->user);
	free(pc->group);
	free_strv(pc->env, pc->nenv);
	free_strv(pc->depends_on, pc->ndepends_on);
	free(pc);
}

/* Free a config from config_load; NULL is fine. */
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
	free(cfg->status_admin_token_file);
	free_strv(cfg->status_hosts, cfg->nstatus_hosts);
	free(cfg->log);
	free(cfg->store);
	free(cfg->cluster);
	free(cfg->cluster_host);
	free(cfg->cluster_path);
	free(cfg->cluster_password_file);
	free(cfg->node);
	for (i = 0; i < cfg->npools; i++)
		config_pool_free(cfg->pools[i]);
	free(cfg->pools);
	for (i = 0; i < cfg->nclients; i++)
		config_client_free(cfg->clients[i]);
	free(cfg->clients);
	for (i = 0; i < cfg->nschedules; i++)
		config_schedule_free(cfg->schedules[i]);
	free(cfg->schedules);
	free(cfg);
}

/* Free the messages and leave errs empty for reuse. */
void
config_errors_free(struct config_errors *errs)
{
	free_strv(errs->msgs, errs->n);
	errs->msgs = NULL;
	errs->n = 0;
}

/*
 * A pool this node serves for its cluster without a section of its own
 * (see config.h): the defaults, no workers, and what the nodes that run
 * it say of it.
 */
struct pool_config *
config_pool_gateway(const char *name, enum pool_type type, long max_queue)
{
	struct pool_config	*pc = xcalloc(1, sizeof *pc);

	config_pool_defaults(pc);
	pc->name = xstrdup(name);
	pc->type = type;
	pc->workers = pc->min_workers = pc->max_workers = 0;
	pc->max_queue = max_queue;
	return pc;
}

/* The pool named name, or NULL. */
struct pool_config *
config_find_pool(const struct config *cfg, const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->npools; i++)
		if (strcmp(cfg->pools[i]->name, name) == 0)
			return cfg->pools[i];
	return NULL;
}

/* Two optional strings differ (NULL equals only NULL). */
int
config_str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/* Settings a running worker was started with (see config.h). */
int
config_pool_process_differs(const struct pool_config *a,
    const struct pool_config *b)
{
	size_t	i;

	if (a->type != b->type ||
	    config_str_differs(a->command, b->command) ||
	    a->output != b->output || a->capture_max != b->capture_max ||
	    a->job_fds != b->job_fds || config_str_differs(a->cwd, b->cwd) ||
	    a->ready_line != b->ready_line ||
	    config_str_differs(a->user, b->user) ||
	    config_str_differs(a->group, b->group) || a->nenv != b->nenv)
		return 1;
	for (i = 0; i < a->nenv; i++)
		if (strcmp(a->env[i], b->env[i]) != 0)
			return 1;
	return 0;
}
