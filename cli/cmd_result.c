/*
 * `mpsup result [CONN] [-w] [-t SECS] JOBID`: ask the supervisor for a
 * job's record (SPEC section 6), optionally waiting until the job has
 * finished, and print it as one line of JSON.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "config/parse.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"

#define RESULT_USAGE \
	"usage: mpsup result " CONN_USAGE " [-w] [-t SECS] JOBID\n"

/* What the command line asks for. */
struct result_args {
	struct cli_conn_options	 opts;
	const char		*id;
	double			 timeout;	/* 0: none */
	int			 wait;
};

/* Parse the command line; returns -1 to go on, else the exit status. */
static int
result_parse(int argc, char **argv, struct result_args *a)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*err;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "ht:w", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(&a->opts, ch, optarg))
			continue;
		switch (ch) {
		case 'w':
			a->wait = 1;
			break;
		case 't':
			if (parse_duration(optarg, &a->timeout, &err) == -1) {
				fprintf(stderr, "mpsup: -t %s: %s\n", optarg,
				    err);
				return 2;
			}
			if (a->timeout <= 0) {
				fprintf(stderr, "mpsup: -t %s: must be more "
				    "than 0\n", optarg);
				return 2;
			}
			break;
		case 'h':
			printf(RESULT_USAGE "\nPrints the record of job JOBID "
			    "as one line of JSON; with -w, waits until\nthe "
			    "job has finished (at most SECS with -t).\n\n" CONN_HELP);
			return 0;
		default:
			fprintf(stderr, RESULT_USAGE);
			return 2;
		}
	}
	if (optind != argc - 1 || argv[optind][0] == '\0' ||
	    (a->timeout > 0 && !a->wait)) {
		if (a->timeout > 0 && !a->wait)
			fprintf(stderr, "mpsup: -t needs -w\n");
		fprintf(stderr, RESULT_USAGE);
		return 2;
	}
	a->id = argv[optind];
	return -1;
}

/* Print the job record of a reply; returns the exit status. */
static int
result_print(struct cli_conn_reply *reply)
{
	struct jsontext_span	job;
	int			rv = 1;

	if (!reply->ok)
		cli_conn_reply_error(reply);
	else if (!cli_conn_reply_get(reply, "job", &job) ||
	    job.type != JSONTEXT_OBJECT)
		fprintf(stderr, "mpsup: malformed reply from the server: "
		    "no job record\n");
	else {
		cli_conn_print_span(stdout, &job);
		rv = 0;
	}
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}

/* Run `mpsup result`; returns the exit status. */
int
cmd_result(int argc, char **argv)
{
	struct result_args	 a = { { NULL, NULL, NULL }, NULL, 0, 0 };
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	json_t			*req;
	int			 rv;

	if ((rv = result_parse(argc, argv, &a)) != -1)
		return rv;
	req = json_pack("{s:s, s:s}", "op", "result", "id", a.id);
	if (req == NULL) {
		fprintf(stderr, "mpsup: result: JOBID is not valid UTF-8\n");
		return 2;
	}
	if ((rv = cli_conn_open(&a.opts, 0, &c)) != 0) {
		json_decref(req);
		return rv;
	}
	if (a.wait) {
		json_object_set_new(req, "wait", json_true());
		if (a.timeout > 0)
			json_object_set_new(req, "timeout",
			    cli_conn_json_seconds(a.timeout));
	}
	reply = cli_conn_request(c, req,
	    cli_conn_wait_timeout_ms(a.wait, a.timeout));
	cli_conn_close(c);
	if (reply == NULL)
		return 1;
	rv = result_print(reply);
	cli_conn_reply_free(reply);
	return rv;
}
