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

/* Run `mpsup result`; returns the exit status. */
int
cmd_result(int argc, char **argv)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_conn_options	 opts = { NULL, NULL, NULL };
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	struct jsontext_span	 job;
	json_t			*req;
	const char		*err;
	double			 timeout = 0;
	int			 ch, wait = 0, rv;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "ht:w", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(&opts, ch, optarg))
			continue;
		switch (ch) {
		case 'w':
			wait = 1;
			break;
		case 't':
			if (parse_duration(optarg, &timeout, &err) == -1) {
				fprintf(stderr, "mpsup: -t %s: %s\n", optarg,
				    err);
				return 2;
			}
			if (timeout <= 0) {
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
	    (timeout > 0 && !wait)) {
		if (timeout > 0 && !wait)
			fprintf(stderr, "mpsup: -t needs -w\n");
		fprintf(stderr, RESULT_USAGE);
		return 2;
	}

	req = json_pack("{s:s, s:s}", "op", "result", "id", argv[optind]);
	if (req == NULL) {
		fprintf(stderr, "mpsup: result: JOBID is not valid UTF-8\n");
		return 2;
	}
	if ((rv = cli_conn_open(&opts, 0, &c)) != 0) {
		json_decref(req);
		return rv;
	}
	if (wait) {
		json_object_set_new(req, "wait", json_true());
		if (timeout > 0)
			json_object_set_new(req, "timeout",
			    cli_conn_json_seconds(timeout));
	}
	reply = cli_conn_request(c, req,
	    cli_conn_wait_timeout_ms(wait, timeout));
	cli_conn_close(c);
	if (reply == NULL)
		return 1;
	rv = 1;
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
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}
