/*
 * `mpsup status [CONN] [--json] [POOL]`: the supervisor's status document
 * (SPEC section 9) from the listener's "status" op, either as JSON or as
 * a table with one row per pool; with POOL, that pool only, and a table
 * of its workers below.
 */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"

#define STATUS_USAGE	"usage: mpsup status " CONN_USAGE " [--json] [POOL]\n"

static const char *status_columns[] = {
	"POOL", "TYPE", "STATE", "WORKERS", "QUEUE", "DONE", "FAILED",
	"TIMED_OUT", "P99_MS",
};
#define STATUS_NCOLUMNS	(sizeof status_columns / sizeof status_columns[0])
#define STATUS_NTEXT	3	/* left-aligned columns; the rest are numbers */

/* Member key of obj, or a span of type JSONTEXT_INVALID. */
static struct jsontext_span
status_member(const struct jsontext_span *obj, const char *key)
{
	struct jsontext_span	v;

	if (obj->type != JSONTEXT_OBJECT || !jsontext_object_get(obj, key, &v))
		v.type = JSONTEXT_INVALID;
	return v;
}

/* A string member as text for a cell, "-" when missing. */
static char *
status_text(const struct jsontext_span *obj, const char *key)
{
	struct jsontext_span	 v = status_member(obj, key);
	char			*s;

	if ((s = cli_conn_span_string(&v)) == NULL)
		s = xstrdup("-");
	return s;
}

/* A numeric member as text for a cell, "-" when missing or null. */
static char *
status_number(const struct jsontext_span *obj, const char *key)
{
	struct jsontext_span	 v = status_member(obj, key);
	int64_t			 n;
	double			 d;
	char			*s;

	if (v.type != JSONTEXT_NUMBER)
		s = xstrdup("-");
	else if (jsontext_integer(&v, INT64_MIN, INT64_MAX, &n) == 0)
		xasprintf(&s, "%lld", (long long)n);
	else if (jsontext_number(&v, &d) == 0)
		xasprintf(&s, "%.1f", d);
	else
		s = xstrndup(v.p, v.len);
	return s;
}

/* The cells of one pool's row. */
static void
status_row(const struct jsontext_span *pool, char **cells)
{
	struct jsontext_span	 jobs, latency, paused, down, origin;
	char			*busy, *idle, *target, *type;

	jobs = status_member(pool, "jobs");
	latency = status_member(pool, "latency_ms");
	paused = status_member(pool, "paused");
	down = status_member(pool, "down");
	cells[0] = status_text(pool, "name");
	cells[1] = status_text(pool, "type");
	origin = status_member(pool, "origin");
	if (origin.type == JSONTEXT_STRING &&
	    jsontext_string_eq(&origin, "cluster")) {
		/* A gateway pool taken from the cluster's registry. */
		xasprintf(&type, "%s (from cluster)", cells[1]);
		free(cells[1]);
		cells[1] = type;
	}
	if (down.type == JSONTEXT_TRUE)
		cells[2] = xstrdup("down");
	else if (paused.type == JSONTEXT_TRUE)
		cells[2] = xstrdup("paused");
	else
		cells[2] = status_text(pool, "state");
	busy = status_number(pool, "workers_busy");
	idle = status_number(pool, "workers_idle");
	target = status_number(pool, "workers_target");
	xasprintf(&cells[3], "%s/%s/%s", busy, idle, target);
	free(busy);
	free(idle);
	free(target);
	cells[4] = status_number(pool, "queue_depth");
	cells[5] = status_number(&jobs, "done");
	cells[6] = status_number(&jobs, "failed");
	cells[7] = status_number(&jobs, "timed_out");
	cells[8] = status_number(&latency, "p99");
}

/* Print the pools of the status document as a table. */
static void
status_table(const struct jsontext_span *status)
{
	struct jsontext_span	  pools = status_member(status, "pools"), pool;
	size_t			  npools = 0, nrows, state, i, j;
	size_t			  width[STATUS_NCOLUMNS];
	char			**cells;
	const char		 *cell;

	if (pools.type == JSONTEXT_ARRAY) {
		state = 0;
		while (jsontext_array_next(&pools, &state, &pool))
			npools++;
	}
	nrows = npools + 1;
	cells = xcalloc(nrows * STATUS_NCOLUMNS, sizeof *cells);
	for (j = 0; j < STATUS_NCOLUMNS; j++)
		cells[j] = xstrdup(status_columns[j]);
	state = 0;
	for (i = 0; i < npools; i++) {
		jsontext_array_next(&pools, &state, &pool);
		status_row(&pool, cells + (i + 1) * STATUS_NCOLUMNS);
	}

	for (j = 0; j < STATUS_NCOLUMNS; j++) {
		width[j] = 0;
		for (i = 0; i < nrows; i++) {
			if (strlen(cells[i * STATUS_NCOLUMNS + j]) > width[j])
				width[j] = strlen(cells[i * STATUS_NCOLUMNS +
				    j]);
		}
	}
	for (i = 0; i < nrows; i++) {
		for (j = 0; j < STATUS_NCOLUMNS; j++) {
			cell = cells[i * STATUS_NCOLUMNS + j];
			if (j + 1 == STATUS_NCOLUMNS)
				printf("%*s\n", (int)width[j], cell);
			else if (j < STATUS_NTEXT)
				printf("%-*s  ", (int)width[j], cell);
			else
				printf("%*s  ", (int)width[j], cell);
		}
	}
	for (i = 0; i < nrows * STATUS_NCOLUMNS; i++)
		free(cells[i]);
	free(cells);
}

/* The workers of the (one) pool of the document, a row each. */
static void
status_workers(const struct jsontext_span *status)
{
	struct jsontext_span	 pools = status_member(status, "pools"), pool;
	struct jsontext_span	 workers, w;
	size_t			 st = 0;
	char			*f[6];
	static const char *const keys[6] = { "index", "pid", "state",
	    "jobs_done", "restarts", "job" };
	int			 i;

	if (pools.type != JSONTEXT_ARRAY ||
	    !jsontext_array_next(&pools, &st, &pool))
		return;
	workers = status_member(&pool, "workers");
	if (workers.type != JSONTEXT_ARRAY)
		return;
	printf("\n%-6s  %8s  %-8s  %9s  %8s  %s\n", "WORKER", "PID", "STATE",
	    "JOBS_DONE", "RESTARTS", "JOB");
	st = 0;
	while (jsontext_array_next(&workers, &st, &w)) {
		for (i = 0; i < 6; i++)
			f[i] = cli_conn_member_text(&w, keys[i]);
		printf("%-6s  %8s  %-8s  %9s  %8s  %s\n", f[0] ? f[0] : "-",
		    f[1] ? f[1] : "-", f[2] ? f[2] : "-", f[3] ? f[3] : "-",
		    f[4] ? f[4] : "-", f[5] ? f[5] : "-");
		for (i = 0; i < 6; i++)
			free(f[i]);
	}
}

#define SCHED_NCOLUMNS	5

/* The cells of one schedule's row. */
static void
status_schedule_row(const struct jsontext_span *s, char **cells)
{
	struct jsontext_span	 cron = status_member(s, "cron");
	char			*every;

	cells[0] = status_text(s, "name");
	cells[1] = status_text(s, "pool");
	if (cron.type == JSONTEXT_STRING)
		cells[2] = status_text(s, "cron");
	else {
		every = status_number(s, "every_s");
		xasprintf(&cells[2], "every %ss", every);
		free(every);
	}
	cells[3] = status_text(s, "next_run");
	cells[4] = status_number(s, "submitted");
}

/* After the pools, the schedules (if any) with their next run. */
static void
status_schedules(const struct jsontext_span *status)
{
	static const char	*head[SCHED_NCOLUMNS] = { "SCHEDULE", "POOL",
	    "WHEN", "NEXT_RUN", "SUBMITTED" };
	struct jsontext_span	 list = status_member(status, "schedules"), s;
	size_t			 n = 0, state = 0, i, j, width[SCHED_NCOLUMNS];
	char			**cells;

	if (list.type != JSONTEXT_ARRAY)
		return;
	while (jsontext_array_next(&list, &state, &s))
		n++;
	if (n == 0)
		return;
	cells = xcalloc((n + 1) * SCHED_NCOLUMNS, sizeof *cells);
	for (j = 0; j < SCHED_NCOLUMNS; j++)
		cells[j] = xstrdup(head[j]);
	state = 0;
	for (i = 1; i <= n && jsontext_array_next(&list, &state, &s); i++)
		status_schedule_row(&s, cells + i * SCHED_NCOLUMNS);
	for (j = 0; j < SCHED_NCOLUMNS; j++)
		for (width[j] = 0, i = 0; i <= n; i++)
			if (strlen(cells[i * SCHED_NCOLUMNS + j]) > width[j])
				width[j] = strlen(cells[i * SCHED_NCOLUMNS + j]);
	printf("\n");
	for (i = 0; i <= n; i++)
		for (j = 0; j < SCHED_NCOLUMNS; j++)
			printf(j + 1 == SCHED_NCOLUMNS ? "%*s\n" : "%-*s  ",
			    (int)width[j], cells[i * SCHED_NCOLUMNS + j]);
	for (i = 0; i < (n + 1) * SCHED_NCOLUMNS; i++)
		free(cells[i]);
	free(cells);
}

/* Each member of obj as NAME=VALUE (or NAME), comma-separated, made safe. */
static void
status_cluster_members(const struct jsontext_span *obj, int values)
{
	struct jsontext_span	 k, v;
	size_t			 st = 0;
	char			*name;
	int			 n = 0;

	while (obj->type == JSONTEXT_OBJECT &&
	    jsontext_object_next(obj, &st, &k, &v)) {
		if ((name = jsontext_string_decode(&k, NULL)) == NULL)
			continue;
		printf("%s", n++ ? "," : "");
		cli_conn_print_safe(stdout, name);
		free(name);
		if (values) {
			name = xstrndup(v.p, v.len);
			printf("=");
			cli_conn_print_safe(stdout, name);
			free(name);
		}
	}
	if (n == 0)
		printf("-");
}

/* One line per node: name, pools, capacity, heartbeat age. */
static void
status_cluster_node(const struct jsontext_span *n)
{
	struct jsontext_span	 pools = status_member(n, "pools");
	struct jsontext_span	 cap = status_member(n, "capacity");
	struct jsontext_span	 self = status_member(n, "self"), p;
	char			*name = status_text(n, "node");
	char			*age = status_number(n, "age");
	size_t			 st = 0;
	int			 first = 1;

	printf("  node ");
	cli_conn_print_safe(stdout, name);
	printf("%s: pools ", self.type == JSONTEXT_TRUE ? " (this one)" : "");
	while (pools.type == JSONTEXT_ARRAY &&
	    jsontext_array_next(&pools, &st, &p)) {
		free(name);
		if ((name = cli_conn_span_string(&p)) == NULL)
			name = xstrdup("?");
		printf("%s", first ? "" : ",");
		cli_conn_print_safe(stdout, name);
		first = 0;
	}
	printf("%s; capacity ", first ? "-" : "");
	status_cluster_members(&cap, 1);
	if (strcmp(age, "-") == 0)
		printf("; no heartbeat\n");
	else
		printf("; heartbeat %ss ago\n", age);
	free(name);
	free(age);
}

/* The "cluster:" block: the link, the nodes, each pool's depth. */
static void
status_cluster(const struct jsontext_span *status)
{
	struct jsontext_span	 c = status_member(status, "cluster");
	struct jsontext_span	 nodes = status_member(&c, "nodes"), n, k, v;
	struct jsontext_span	 pools = status_member(&c, "pools");
	char			*url, *node, *why, *f[3];
	size_t			 st = 0;
	int			 i;

	if (c.type != JSONTEXT_OBJECT)
		return;
	url = status_text(&c, "url");
	node = status_text(&c, "node");
	why = status_text(&c, "error");
	printf("\ncluster: ");
	cli_conn_print_safe(stdout, url);
	printf(", node ");
	cli_conn_print_safe(stdout, node);
	if (status_member(&c, "connected").type == JSONTEXT_TRUE)
		printf(", connected\n");
	else {
		printf(", not connected: ");
		cli_conn_print_safe(stdout, why);
		printf("\n  (nodes and depths as last seen)\n");
	}
	free(url);
	free(node);
	free(why);
	while (nodes.type == JSONTEXT_ARRAY &&
	    jsontext_array_next(&nodes, &st, &n))
		status_cluster_node(&n);
	st = 0;
	while (pools.type == JSONTEXT_OBJECT &&
	    jsontext_object_next(&pools, &st, &k, &v)) {
		if ((node = jsontext_string_decode(&k, NULL)) == NULL)
			continue;
		f[0] = status_number(&v, "queued");
		f[1] = status_number(&v, "running");
		f[2] = status_number(&v, "delayed");
		printf("  pool ");
		cli_conn_print_safe(stdout, node);
		printf(": queued %s, running %s, delayed %s (cluster-wide)\n",
		    f[0], f[1], f[2]);
		for (i = 0; i < 3; i++)
			free(f[i]);
		free(node);
	}
}

/* Say on stderr when the job store's commits fail (the table goes on). */
static void
status_store_warning(const struct jsontext_span *status)
{
	struct jsontext_span	 mpsup = status_member(status, "mpsup");
	struct jsontext_span	 ss = status_member(&mpsup, "store_stats");
	struct jsontext_span	 failing = status_member(&ss, "failing");
	char			*errors;

	if (failing.type != JSONTEXT_TRUE)
		return;
	errors = status_number(&ss, "commit_errors");
	fprintf(stderr, "mpsup: the job store is failing: submits answer "
	    "store_error (%s failed commits; see the log)\n", errors);
	free(errors);
}

/* The tables: pools, a pool's workers when one was asked, schedules. */
static void
status_print(const struct jsontext_span *status, int one_pool)
{
	status_table(status);
	if (one_pool)
		status_workers(status);
	status_schedules(status);
	status_cluster(status);
	status_store_warning(status);
}

/* The status request, of one pool if asked; NULL (said why) if bad. */
static json_t *
status_request(const char *pool)
{
	json_t	*req = json_pack("{s:s}", "op", "status");

	if (pool != NULL && json_object_set_new(req, "pool",
	    json_string(pool)) == -1) {
		fprintf(stderr, "mpsup: status: POOL is not valid UTF-8\n");
		json_decref(req);
		return NULL;
	}
	return req;
}

/* Run `mpsup status`; returns the exit status. */
int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_conn_options	 opts = { NULL, NULL, NULL };
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	struct jsontext_span	 status;
	const char		*pool = NULL;
	json_t			*req;
	int			 ch, as_json = 0, rv;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "h", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(&opts, ch, optarg))
			continue;
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'h':
			printf(STATUS_USAGE "\nPrints one row per pool (with "
			    "POOL, that pool's row and a table of its\n"
			    "workers): workers busy/idle/target, queue depth, "
			    "jobs done, failed and\ntimed out, and the 99th "
			    "percentile latency, then one row per schedule "
			    "with its\nnext run; with a cluster, a \"cluster:\" "
			    "block: the link to Redis, one line\nper node and "
			    "each pool's cluster-wide depth. On stderr, a "
			    "warning while the\njob store fails to commit. "
			    "With --json, the whole status document.\n\n"
			    CONN_HELP);
			return 0;
		default:
			fprintf(stderr, STATUS_USAGE);
			return 2;
		}
	}
	if (optind < argc)
		pool = argv[optind++];
	if (optind != argc || (pool != NULL && pool[0] == '\0')) {
		fprintf(stderr, STATUS_USAGE);
		return 2;
	}

	if ((req = status_request(pool)) == NULL)
		return 2;
	if ((rv = cli_conn_open(&opts, 0, &c)) != 0) {
		json_decref(req);
		return rv;
	}
	reply = cli_conn_request(c, req, CONN_REPLY_TIMEOUT_MS);
	cli_conn_close(c);
	if (reply == NULL)
		return 1;
	rv = 1;
	if (!reply->ok)
		cli_conn_reply_error(reply);
	else if (!cli_conn_reply_get(reply, "status", &status) ||
	    status.type != JSONTEXT_OBJECT)
		fprintf(stderr, "mpsup: malformed reply from the server: "
		    "no status document\n");
	else {
		if (as_json)
			cli_conn_print_span(stdout, &status);
		else
			status_print(&status, pool != NULL);
		rv = 0;
	}
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}
