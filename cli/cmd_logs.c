/*
 * `mpsup logs [CONN] [-f] [-p POOL] [--job ID] [-n N] [--json]`: the
 * supervisor log's recent records from the listener's "logs" op, printed
 * like the text log (or, with --json, one JSON record per line); with -f
 * the connection stays open and each new batch of records is printed as
 * it comes, until the supervisor closes it or the command is ended.
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
#include "ipc/client.h"
#include "ipc/jsontext.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"
#include "supervisor/logring.h"

#define LOGS_USAGE	"usage: mpsup logs " CONN_USAGE " [-f] [-p POOL] " \
	"[--job ID] [-n N] [--json]\n"

struct logs_args {
	struct cli_conn_options	 opts;
	const char		*pool;
	const char		*job;
	long			 limit;
	int			 follow;
	int			 json;
};

/* Parse the command line; returns -1 to go on, else the exit status. */
static int
logs_parse(int argc, char **argv, struct logs_args *a)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "follow", no_argument, NULL, 'f' },
		{ "pool", required_argument, NULL, 'p' },
		{ "job", required_argument, NULL, 'J' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*err;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, CONN_OPTSTRING "fhn:p:",
	    longopts, NULL)) != -1) {
		if (cli_conn_option(&a->opts, ch, optarg))
			continue;
		switch (ch) {
		case 'f':
			a->follow = 1;
			break;
		case 'p':
			a->pool = optarg;
			break;
		case 'J':
			if (optarg[0] == '\0' || strlen(optarg) > 64) {
				fprintf(stderr, "mpsup: logs: --job: not a job "
				    "id\n");
				return 2;
			}
			a->job = optarg;
			break;
		case 'n':
			if (parse_long(optarg, 0, LOGRING_MAX_RECORDS,
			    &a->limit, &err) == -1) {
				fprintf(stderr, "mpsup: logs: -n %s: %s\n",
				    optarg, err);
				return 2;
			}
			break;
		case 'j':
			a->json = 1;
			break;
		case 'h':
			printf(LOGS_USAGE "\nPrints the last N records of the "
			    "supervisor's log (100 unless -n; it keeps\nthe "
			    "last %d in memory), of one pool or one job if "
			    "asked; with -f, then\nfollows the log. --json "
			    "prints each record as a line of JSON.\n\n"
			    CONN_HELP, LOGRING_MAX_RECORDS);
			return 0;
		default:
			fprintf(stderr, LOGS_USAGE);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, LOGS_USAGE);
		return 2;
	}
	return -1;
}

static json_t *
logs_request(const struct logs_args *a)
{
	json_t	*req = json_pack("{s:s, s:I, s:b}", "op", "logs", "limit",
	    (json_int_t)a->limit, "follow", a->follow);

	if (a->pool != NULL)
		json_object_set_new(req, "pool", json_string(a->pool));
	if (a->job != NULL)
		json_object_set_new(req, "job", json_string(a->job));
	return req;
}

/* Print a record as the text log has it. */
static void
logs_print_text(const struct jsontext_span *rec)
{
	static const char *const keys[] = { "ts", "pool", "worker", "pid",
	    "stream", "job", "line", "msg", "cont", "noeol" };
	char	*f[10];
	size_t	 i;

	for (i = 0; i < 10; i++)
		f[i] = cli_conn_member_text(rec, keys[i]);
	cli_conn_print_safe(stdout, f[0] ? f[0] : "-");
	if (f[1] == NULL) {
		fputs(" mpsup: ", stdout);
		cli_conn_print_safe(stdout, f[7] ? f[7] : "");
	} else {
		fputc(' ', stdout);
		cli_conn_print_safe(stdout, f[1]);
		printf(".%s[%s] %s", f[2] ? f[2] : "?", f[3] ? f[3] : "?",
		    f[4] ? f[4] : "?");
		if (f[5] != NULL) {
			fputs(" job=", stdout);
			cli_conn_print_safe(stdout, f[5]);
		}
		printf("%s%s: ", f[8] ? " cont" : "", f[9] ? " noeol" : "");
		cli_conn_print_safe(stdout, f[6] ? f[6] : "");
	}
	fputc('\n', stdout);
	for (i = 0; i < 10; i++)
		free(f[i]);
}

/* Print the records of one message; -1 if it is not what it should be. */
static int
logs_print(const struct cli_conn_reply *reply, int json)
{
	struct jsontext_span	records, rec, missed;
	size_t			st = 0;
	int64_t			n;

	if (!reply->ok) {
		cli_conn_reply_error(reply);
		return -1;
	}
	if (!cli_conn_reply_get(reply, "records", &records) ||
	    records.type != JSONTEXT_ARRAY) {
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "records list\n");
		return -1;
	}
	if (cli_conn_reply_get(reply, "missed", &missed) &&
	    jsontext_integer(&missed, 1, INT64_MAX, &n) == 0)
		fprintf(stderr, "mpsup: logs: %lld records went by too fast "
		    "to be sent\n", (long long)n);
	while (jsontext_array_next(&records, &st, &rec)) {
		if (json)
			cli_conn_print_span(stdout, &rec);
		else
			logs_print_text(&rec);
	}
	return fflush(stdout) == EOF ? -1 : 0;
}

/* -f: print each batch as it comes, until the supervisor closes. */
static int
logs_follow(struct cli_conn *c, int json)
{
	struct cli_conn_reply	*reply;
	char			*msg, *cause;
	size_t			 len;
	int			 rv;

	if (ipc_client_set_timeout(cli_conn_client(c), 0) == -1)
		return 1;
	for (;;) {
		if (ipc_client_recv(cli_conn_client(c), &msg, &len,
		    CONN_REPLY_MAX, &cause) == -1) {
			fprintf(stderr, "mpsup: logs: the supervisor ended "
			    "the stream (%s)\n", cause);
			free(cause);
			return 1;
		}
		if ((reply = cli_conn_reply_parse(msg, len)) == NULL)
			return 1;
		rv = logs_print(reply, json);
		cli_conn_reply_free(reply);
		if (rv == -1)
			return 1;
	}
}

/* Run `mpsup logs`; returns the exit status. */
int
cmd_logs(int argc, char **argv)
{
	struct logs_args	 a = { { NULL, NULL, NULL }, NULL, NULL, 100, 0,
	    0 };
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	int			 rv;

	if ((rv = logs_parse(argc, argv, &a)) != -1)
		return rv;
	if ((rv = cli_conn_open(&a.opts, 0, &c)) != 0)
		return rv;
	reply = cli_conn_request(c, logs_request(&a), CONN_REPLY_TIMEOUT_MS);
	if (reply == NULL) {
		cli_conn_close(c);
		return 1;
	}
	rv = logs_print(reply, a.json) == -1 ? 1 : 0;
	cli_conn_reply_free(reply);
	if (rv == 0 && a.follow)
		rv = logs_follow(c, a.json);
	cli_conn_close(c);
	return rv;
}
