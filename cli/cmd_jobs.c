/*
 * `mpsup jobs [CONN] [-p POOL] [--state LIST] [--since DUR] [-n N]
 * [--json]`: recent jobs, newest first, from the listener's "jobs" op:
 * a table (id, pool, state, when, how long, exit code or error), or
 * with --json the records themselves, one JSON list.
 */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "config/parse.h"
#include "ipc/jsontext.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"
#include "supervisor/joblist.h"

#define JOBS_USAGE	"usage: mpsup jobs " CONN_USAGE " [-p POOL] " \
	"[--state STATE[,STATE...]] [--since DURATION] [-n N] [--json]\n"
/* What the error column shows of a job's error at most. */
#define JOBS_ERROR_WIDTH	60

struct jobs_args {
	struct cli_conn_options	 opts;
	const char		*pool;
	const char		*state;
	double			 since;		/* seconds back, or -1 */
	long			 limit;
	int			 json;
};

/* Parse the command line; returns -1 to go on, else the exit status. */
static int
jobs_parse(int argc, char **argv, struct jobs_args *a)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "pool", required_argument, NULL, 'p' },
		{ "state", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*err;
	unsigned	 states;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "hn:p:", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(&a->opts, ch, optarg))
			continue;
		switch (ch) {
		case 'p':
			a->pool = optarg;
			break;
		case 's':
			if (joblist_parse_states(optarg, strlen(optarg),
			    &states, &err) == -1) {
				fprintf(stderr, "mpsup: jobs: --state %s: %s\n",
				    optarg, err);
				return 2;
			}
			a->state = optarg;
			break;
		case 'S':
			if (parse_duration(optarg, &a->since, &err) == -1) {
				fprintf(stderr, "mpsup: jobs: --since %s: %s\n",
				    optarg, err);
				return 2;
			}
			break;
		case 'n':
			if (parse_long(optarg, 1, JOBLIST_MAX, &a->limit,
			    &err) == -1) {
				fprintf(stderr, "mpsup: jobs: -n %s: %s\n",
				    optarg, err);
				return 2;
			}
			break;
		case 'j':
			a->json = 1;
			break;
		case 'h':
			printf(JOBS_USAGE "\nLists recent jobs, newest first "
			    "(50 unless -n): queued, running and the\nfinished "
			    "records the supervisor keeps (result_ttl). --state "
			    "takes queued,\nrunning, done, failed, timed_out, "
			    "cancelled; --since keeps the jobs that\nchanged "
			    "within DURATION (10m, 2h). --json prints the "
			    "records.\n\n" CONN_HELP);
			return 0;
		default:
			fprintf(stderr, JOBS_USAGE);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, JOBS_USAGE);
		return 2;
	}
	return -1;
}

/* The request for a. */
static json_t *
jobs_request(const struct jobs_args *a)
{
	json_t	*req = json_pack("{s:s, s:I}", "op", "jobs", "limit",
	    (json_int_t)a->limit);

	if (a->pool != NULL)
		json_object_set_new(req, "pool", json_string(a->pool));
	if (a->state != NULL)
		json_object_set_new(req, "state", json_string(a->state));
	if (a->since >= 0)
		json_object_set_new(req, "since",
		    cli_conn_json_seconds(a->since));
	return req;
}

/* The last column: exit code or signal, then the error's first line. */
static char *
jobs_outcome(const struct jsontext_span *job)
{
	char	*code = cli_conn_member_text(job, "exit_code");
	char	*sig = cli_conn_member_text(job, "signal");
	char	*error = cli_conn_member_text(job, "error");
	char	*s;

	if (error != NULL) {
		error[strcspn(error, "\n")] = '\0';
		if (strlen(error) > JOBS_ERROR_WIDTH)
			strcpy(error + JOBS_ERROR_WIDTH - 3, "...");
	}
	xasprintf(&s, "%s%s%s%s%s%s", code ? "exit " : "", code ? code : "",
	    sig ? (code ? " signal " : "signal ") : "", sig ? sig : "",
	    error && (code || sig) ? " " : "", error ? error : "");
	free(code);
	free(sig);
	free(error);
	return s;
}

/* Print one row; NULL fields show as "-". */
static void
jobs_row(const char *id, const char *pool, const char *state,
    const char *submitted, const char *ms, const char *outcome)
{
	printf("%-16s  %-12s  %-9s  %-24s  %10s  ", id ? id : "-",
	    pool ? pool : "-", state ? state : "-",
	    submitted ? submitted : "-", ms ? ms : "-");
	cli_conn_print_safe(stdout, outcome ? outcome : "-");
	fputc('\n', stdout);
}

/* Print the jobs as a table. */
static void
jobs_table(const struct jsontext_span *jobs)
{
	struct jsontext_span	 job;
	size_t			 st = 0;
	char			*f[5], *outcome;
	static const char *const keys[5] = { "id", "pool", "state",
	    "submitted_at", "duration_ms" };
	int			 i;

	jobs_row("ID", "POOL", "STATE", "SUBMITTED", "MS", "OUTCOME");
	while (jsontext_array_next(jobs, &st, &job)) {
		for (i = 0; i < 5; i++)
			f[i] = cli_conn_member_text(&job, keys[i]);
		outcome = jobs_outcome(&job);
		jobs_row(f[0], f[1], f[2], f[3], f[4], *outcome ? outcome :
		    NULL);
		for (i = 0; i < 5; i++)
			free(f[i]);
		free(outcome);
	}
}

/* Run `mpsup jobs`; returns the exit status. */
int
cmd_jobs(int argc, char **argv)
{
	struct jobs_args	 a = { { NULL, NULL, NULL }, NULL, NULL, -1,
	    50, 0 };
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	struct jsontext_span	 jobs, more;
	int			 rv;

	if ((rv = jobs_parse(argc, argv, &a)) != -1)
		return rv;
	if ((rv = cli_conn_open(&a.opts, 0, &c)) != 0)
		return rv;
	reply = cli_conn_request(c, jobs_request(&a), CONN_REPLY_TIMEOUT_MS);
	cli_conn_close(c);
	if (reply == NULL)
		return 1;
	rv = 1;
	if (!reply->ok)
		cli_conn_reply_error(reply);
	else if (!cli_conn_reply_get(reply, "jobs", &jobs) ||
	    jobs.type != JSONTEXT_ARRAY)
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "jobs list\n");
	else {
		if (a.json)
			cli_conn_print_span(stdout, &jobs);
		else
			jobs_table(&jobs);
		if (cli_conn_reply_get(reply, "more", &more) &&
		    more.type == JSONTEXT_TRUE)
			fprintf(stderr, "mpsup: jobs: the list was cut short "
			    "(the reply is at its size limit); use -n\n");
		rv = 0;
	}
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}
