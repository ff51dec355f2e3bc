/*
 * `mpsup dead [CONN] [-p POOL] [--json]` lists the dead letters (jobs
 * that failed or timed out for good, SPEC section 14) and `mpsup retry
 * [CONN] ID... | -p POOL --all` queues them again as new jobs, through the
 * listener's "dead" and "retry" ops, with the admin key when the config
 * names one.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"
#include "ipc/jsontext.h"

#define DEAD_USAGE	"usage: mpsup dead " CONN_USAGE " [-p POOL] [--json]\n"
#define RETRY_USAGE	"usage: mpsup retry " CONN_USAGE \
	" ID... | -p POOL --all\n"

/* A member of a job record as text, "-" when missing or null. */
static char *
dead_field(const struct jsontext_span *job, const char *key)
{
	struct jsontext_span	 v;
	char			*s = NULL;

	if (jsontext_object_get(job, key, &v)) {
		if (v.type == JSONTEXT_STRING)
			s = cli_conn_span_string(&v);
		else if (v.type != JSONTEXT_NULL)
			s = xstrndup(v.p, v.len);
	}
	return s != NULL ? s : xstrdup("-");
}

#define DEAD_NCOLUMNS	6

/* A table, one row per dead letter: id, pool, state, attempts, when, error. */
static void
dead_print(const struct jsontext_span *jobs)
{
	static const char	*keys[DEAD_NCOLUMNS] = { "id", "pool", "state",
	    "attempts", "finished_at", "error" };
	static const char	*head[DEAD_NCOLUMNS] = { "ID", "POOL", "STATE",
	    "ATTEMPTS", "FINISHED_AT", "ERROR" };
	struct jsontext_span	 job;
	size_t			 st = 0, n = 1, i, j, width[DEAD_NCOLUMNS];
	char			**cells = NULL;

	cells = xreallocarray(cells, DEAD_NCOLUMNS, sizeof *cells);
	for (j = 0; j < DEAD_NCOLUMNS; j++)
		cells[j] = xstrdup(head[j]);
	while (jsontext_array_next(jobs, &st, &job)) {
		cells = xreallocarray(cells, (n + 1) * DEAD_NCOLUMNS,
		    sizeof *cells);
		for (j = 0; j < DEAD_NCOLUMNS; j++)
			cells[n * DEAD_NCOLUMNS + j] = dead_field(&job, keys[j]);
		n++;
	}
	for (j = 0; j < DEAD_NCOLUMNS; j++)
		for (width[j] = 0, i = 0; i < n; i++)
			if (strlen(cells[i * DEAD_NCOLUMNS + j]) > width[j])
				width[j] = strlen(cells[i * DEAD_NCOLUMNS + j]);
	for (i = 0; i < n; i++) {
		for (j = 0; j + 1 < DEAD_NCOLUMNS; j++)
			printf("%-*s  ", (int)width[j],
			    cells[i * DEAD_NCOLUMNS + j]);
		printf("%.200s\n", cells[i * DEAD_NCOLUMNS + j]);
	}
	for (i = 0; i < n * DEAD_NCOLUMNS; i++)
		free(cells[i]);
	free(cells);
}

/* Send req (taken) and print what comes back; the exit status. */
static int
dead_run(const struct cli_conn_options *opts, json_t *req, int as_json,
    const char *member)
{
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	struct jsontext_span	 v, e;
	size_t			 st = 0;
	int			 rv;

	if ((rv = cli_conn_open(opts, CONN_ADMIN, &c)) != 0) {
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
	else if (!cli_conn_reply_get(reply, member, &v) ||
	    v.type != JSONTEXT_ARRAY)
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "\"%s\"\n", member);
	else {
		if (as_json)
			cli_conn_print_span(stdout, &v);
		else if (strcmp(member, "jobs") == 0)
			dead_print(&v);
		else
			while (jsontext_array_next(&v, &st, &e))
				printf("%.*s\n", (int)e.len - 2, e.p + 1);
		rv = 0;
	}
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}

/*
 * Options shared by dead and retry: CONN, -p POOL, and the flag option
 * (--json for dead, --all for retry: 'j' or 'A') that sets *flag. -1 to go
 * on, else the exit status.
 */
static int
dead_options(int argc, char **argv, const char *usage, const char *help,
    int flag_opt, struct cli_conn_options *opts, const char **pool, int *flag)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "pool", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "p:h", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(opts, ch, optarg))
			continue;
		if (ch == 'p')
			*pool = optarg;
		else if (ch == flag_opt)
			*flag = 1;
		else if (ch == 'h') {
			printf("%s\n%s\n\n%s", usage, help, CONN_HELP);
			return 0;
		} else {
			fprintf(stderr, "%s", usage);
			return 2;
		}
	}
	return -1;
}

/* Run `mpsup dead`; returns the exit status. */
int
cmd_dead(int argc, char **argv)
{
	struct cli_conn_options	 opts = { NULL, NULL, NULL };
	const char		*pool = NULL;
	int			 as_json = 0, rv;
	json_t			*req;

	if ((rv = dead_options(argc, argv, DEAD_USAGE, "Lists the dead "
	    "letters (jobs that failed or timed out after their last\n"
	    "attempt) of every pool, or of POOL; with --json, their records.",
	    'j', &opts, &pool, &as_json)) != -1)
		return rv;
	if (optind != argc) {
		fprintf(stderr, DEAD_USAGE);
		return 2;
	}
	req = pool != NULL ? json_pack("{s:s, s:s}", "op", "dead", "pool",
	    pool) : json_pack("{s:s}", "op", "dead");
	if (req == NULL) {
		fprintf(stderr, "mpsup: dead: pool name is not valid UTF-8\n");
		return 2;
	}
	return dead_run(&opts, req, as_json, "jobs");
}

/* Run `mpsup retry`; returns the exit status. */
int
cmd_retry(int argc, char **argv)
{
	struct cli_conn_options	 opts = { NULL, NULL, NULL };
	const char		*pool = NULL;
	int			 all = 0, rv, i;
	json_t			*req, *ids;

	if ((rv = dead_options(argc, argv, RETRY_USAGE, "Queues dead "
	    "letters again, each as a new job (its attempts starting\nover, "
	    "\"retry_of\" naming the old one), and prints the new ids.",
	    'A', &opts, &pool, &all)) != -1)
		return rv;
	if ((all && (pool == NULL || optind != argc)) ||
	    (!all && (pool != NULL || optind == argc))) {
		fprintf(stderr, RETRY_USAGE);
		return 2;
	}
	if (all)
		req = json_pack("{s:s, s:s, s:b}", "op", "retry", "pool", pool,
		    "all", 1);
	else {
		ids = json_array();
		for (i = optind; i < argc; i++)
			json_array_append_new(ids, json_string(argv[i]));
		req = json_pack("{s:s, s:o}", "op", "retry", "ids", ids);
	}
	if (req == NULL) {
		fprintf(stderr, "mpsup: retry: an operand is not valid "
		    "UTF-8\n");
		return 2;
	}
	return dead_run(&opts, req, 0, "ids");
}
