/*
 * `mpsup submit`: submit jobs to a pool (SPEC section 2).
 *
 *   submit [CONN] -p POOL [-w] [-t SECS] -- CMD ARG...   one exec job
 *   submit [CONN] -p POOL [-w] [-t SECS] -d JSON|@FILE   one stream job
 *   submit [CONN] -p POOL --stdin [-w] [-t SECS]         one job a line
 *
 * One job prints its id, or with -w its record, and then exits like
 * `docker run`: the job's own exit status, 128+N for signal N, 124 when it
 * timed out, 125 when mpsup itself failed.
 *
 * --stdin streams one job per input line: see cmd_submit_stream.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "ipc/jsontext.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"
#include "cli/cmd_submit.h"

#define SUBMIT_USAGE							\
	"usage: mpsup submit " CONN_USAGE " -p POOL [-w] [-t SECS] "	\
	"[--priority N] [--delay D] [--group G] "			\
	"-- CMD [ARG ...] | -d JSON|@FILE | --stdin [--[no-]progress]\n"

#define SUBMIT_DATA_MAX		(256 * 1024 * 1024)	/* -d @FILE */

/* docker run's exit statuses for what is not the job's own. */
#define SUBMIT_EXIT_TIMEOUT	124
#define SUBMIT_EXIT_MPSUP	125
#define SUBMIT_EXIT_SIGNAL	128

/* Append the members every submit request starts with, and the pool's. */
void
submit_prefix(struct buf *b, const char *op, const struct submit_args *sa)
{
	buf_appendf(b, "{\"op\":\"%s\",\"pool\":", op);
	cli_conn_string_append(b, sa->pool, strlen(sa->pool));
	if (sa->wait) {
		buf_append_str(b, ",\"wait\":true");
		if (sa->timeout > 0) {
			json_t	*t = cli_conn_json_seconds(sa->timeout);
			char	*s = json_dumps(t, JSON_ENCODE_ANY);

			buf_appendf(b, ",\"timeout\":%s", s);
			free(s);
			json_decref(t);
		}
	}
}

void
submit_flow_append(struct buf *b, const struct submit_args *sa)
{
	if (sa->has_priority)
		buf_appendf(b, ",\"priority\":%d", sa->priority);
	if (sa->delay != NULL) {
		buf_append_str(b, ",\"delay\":");
		cli_conn_string_append(b, sa->delay, strlen(sa->delay));
	}
	if (sa->group != NULL) {
		buf_append_str(b, ",\"group\":");
		cli_conn_string_append(b, sa->group, strlen(sa->group));
	}
}

/* Read a whole file for -d @FILE ("-" is stdin) into b. */
static int
submit_read_file(const char *path, struct buf *b)
{
	ssize_t	n;
	int	fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "mpsup: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		n = buf_read_fd(b, fd, SUBMIT_READ_SIZE);
		if (n == 0)
			break;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || buf_used(b) > SUBMIT_DATA_MAX) {
			fprintf(stderr, "mpsup: %s: %s\n", path, n == -1 ?
			    strerror(errno) : "too large");
			if (fd != STDIN_FILENO)
				close(fd);
			return -1;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	return 0;
}

/*
 * Build the request for one job into req. Returns 0, or -1 (exit status
 * 2) after printing what is wrong with the job.
 */
static int
submit_one_request(const struct submit_args *sa, struct buf *req)
{
	struct buf	 file = BUF_INIT;
	const char	*data;
	size_t		 len;
	int		 i;

	submit_prefix(req, "submit", sa);
	submit_flow_append(req, sa);
	if (sa->data == NULL) {
		buf_append_str(req, ",\"args\":[");
		for (i = 0; i < sa->argc; i++) {
			if (i > 0)
				buf_append(req, ",", 1);
			if (cli_conn_string_append(req, sa->argv[i],
			    strlen(sa->argv[i])) == -1) {
				fprintf(stderr, "mpsup: argument %d is not "
				    "valid UTF-8\n", i + 1);
				return -1;
			}
		}
		buf_append_str(req, "]}");
		return 0;
	}

	if (sa->data[0] == '@') {
		if (submit_read_file(sa->data + 1, &file) == -1)
			return -1;
		data = buf_head(&file);
		len = buf_used(&file);
	} else {
		data = sa->data;
		len = strlen(data);
	}
	if (!cli_conn_json_valid(data, len)) {
		if (sa->data[0] == '@')
			fprintf(stderr, "mpsup: %s: not valid JSON\n",
			    sa->data + 1);
		else
			fprintf(stderr, "mpsup: -d: not valid JSON\n");
		buf_free(&file);
		return -1;
	}
	buf_append_str(req, ",\"data\":");
	buf_append(req, data, len);
	buf_append_str(req, "}");
	buf_free(&file);
	return 0;
}

/*
 * The exit status for a finished job's record, like docker run: an exec
 * job's own status, 128+N when signal N killed it, 124 when it timed out;
 * for a stream job 0 when done, else 1.
 */
static int
submit_job_status(const struct jsontext_span *job)
{
	struct jsontext_span	state, code, sig;
	int64_t			n;

	if (!jsontext_object_get(job, "state", &state) ||
	    state.type != JSONTEXT_STRING)
		return SUBMIT_EXIT_MPSUP;
	if (!jsontext_object_get(job, "exit_code", &code))	/* stream */
		return jsontext_string_eq(&state, "done") ? 0 : 1;

	if (jsontext_string_eq(&state, "timed_out"))
		return SUBMIT_EXIT_TIMEOUT;
	if (jsontext_object_get(job, "signal", &sig) &&
	    sig.type == JSONTEXT_NUMBER &&
	    jsontext_integer(&sig, 1, SUBMIT_EXIT_SIGNAL - 1, &n) == 0)
		return SUBMIT_EXIT_SIGNAL + (int)n;
	if (code.type == JSONTEXT_NUMBER &&
	    jsontext_integer(&code, 0, 255, &n) == 0) {
		if (n == 0 && !jsontext_string_eq(&state, "done"))
			return 1;
		return (int)n;
	}
	if (jsontext_string_eq(&state, "done"))
		return 0;
	if (jsontext_string_eq(&state, "cancelled"))
		return 1;
	return SUBMIT_EXIT_MPSUP;	/* it never got an exit status */
}

/* Submit one job; print its id, or with -w its record. */
static int
submit_one(const struct submit_args *sa)
{
	struct buf		 req = BUF_INIT;
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	struct jsontext_span	 job, id;
	char			*text;
	int			 rv, failed;

	failed = sa->wait ? SUBMIT_EXIT_MPSUP : 1;
	if (submit_one_request(sa, &req) == -1) {
		buf_free(&req);
		return 2;
	}
	if ((rv = cli_conn_open(&sa->conn, 0, &c)) != 0) {
		buf_free(&req);
		return (rv == 3 && sa->wait) ? SUBMIT_EXIT_MPSUP : rv;
	}
	reply = cli_conn_request_text(c, buf_head(&req), buf_used(&req),
	    cli_conn_wait_timeout_ms(sa->wait, sa->timeout));
	cli_conn_close(c);
	buf_free(&req);
	if (reply == NULL)
		return failed;

	rv = failed;
	if (!reply->ok) {
		cli_conn_reply_error(reply);
		if (sa->wait && cli_conn_reply_is(reply, "timeout"))
			rv = SUBMIT_EXIT_TIMEOUT;
	} else if (!sa->wait) {
		if (cli_conn_reply_get(reply, "id", &id) &&
		    (text = cli_conn_span_string(&id)) != NULL) {
			printf("%s\n", text);
			free(text);
			rv = 0;
		} else
			fprintf(stderr, "mpsup: malformed reply from the "
			    "server: no job id\n");
	} else if (cli_conn_reply_get(reply, "job", &job) &&
	    job.type == JSONTEXT_OBJECT) {
		cli_conn_print_span(stdout, &job);
		rv = submit_job_status(&job);
	} else
		fprintf(stderr, "mpsup: malformed reply from the server: no "
		    "job record\n");
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = failed;
	}
	return rv;
}

/* Print the usage, to stdout for --help (with more) or to stderr. */
static void
submit_usage(int help)
{
	if (!help) {
		fprintf(stderr, SUBMIT_USAGE);
		return;
	}
	printf(SUBMIT_USAGE "\n"
"Submits a job to POOL and prints its id. With -w, waits for the job (at\n"
"most SECS with -t), prints its record and exits with the job's exit status\n"
"(128+N for signal N, 124 timed out, 125 mpsup failed). --stdin submits one\n"
"job per input line: JSON data for a stream pool, a shell command for an\n"
"exec pool. With -w on a terminal it draws a progress line on stderr (jobs\n"
"done, failed, submitted, jobs/s, and the time left once the input ended)\n"
"and leaves a summary line; --progress draws it anyway, --no-progress never.\n"
"\n"
"--priority N (-10..10, higher first), --delay D (such as 30s or 10m) and\n"
"--group G (fair turns between groups) apply to every job submitted.\n\n"
CONN_HELP);
}

/* --priority, --delay, --group into sa; -1 (said why) if malformed. */
static int
submit_parse_flow(int ch, const char *arg, struct submit_args *sa)
{
	const char	*err;
	double		 d;
	long		 n;

	switch (ch) {
	case 'R':
		if (parse_long(arg, -10, 10, &n, &err) == -1) {
			fprintf(stderr, "mpsup: --priority %s: %s\n", arg, err);
			return -1;
		}
		sa->has_priority = 1;
		sa->priority = (int)n;
		return 0;
	case 'D':
		if (parse_duration(arg, &d, &err) == -1) {
			fprintf(stderr, "mpsup: --delay %s: %s\n", arg, err);
			return -1;
		}
		sa->delay = arg;
		return 0;
	default:
		if (*arg == '\0' || strlen(arg) > 128 ||
		    !cli_conn_utf8_valid(arg)) {
			fprintf(stderr, "mpsup: --group: 1 to 128 bytes of "
			    "UTF-8\n");
			return -1;
		}
		sa->group = arg;
		return 0;
	}
}

/* Parse the options into sa; returns -1 to go on, else the exit status. */
static int
submit_parse(int argc, char **argv, struct submit_args *sa)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "pool", required_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "data", required_argument, NULL, 'd' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "progress", no_argument, NULL, 'P' },
		{ "no-progress", no_argument, NULL, 'N' },
		{ "priority", required_argument, NULL, 'R' },
		{ "delay", required_argument, NULL, 'D' },
		{ "group", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*err;
	int		 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+" CONN_OPTSTRING "d:hp:t:w",
	    longopts, NULL)) != -1) {
		if (cli_conn_option(&sa->conn, ch, optarg))
			continue;
		switch (ch) {
		case 'p':
			sa->pool = optarg;
			break;
		case 'w':
			sa->wait = 1;
			break;
		case 't':
			if (parse_duration(optarg, &sa->timeout, &err) == -1) {
				fprintf(stderr, "mpsup: -t %s: %s\n", optarg,
				    err);
				return 2;
			}
			if (sa->timeout <= 0) {
				fprintf(stderr, "mpsup: -t %s: must be more "
				    "than 0\n", optarg);
				return 2;
			}
			break;
		case 'd':
			sa->data = optarg;
			break;
		case 'S':
			sa->from_stdin = 1;
			break;
		case 'P':
		case 'N':
			sa->progress = ch == 'P';
			break;
		case 'R':
		case 'D':
		case 'G':
			if (submit_parse_flow(ch, optarg, sa) == -1)
				return 2;
			break;
		case 'h':
			submit_usage(1);
			return 0;
		default:
			submit_usage(0);
			return 2;
		}
	}
	sa->argv = argv + optind;
	sa->argc = argc - optind;
	return -1;
}

/* Check the options fit together; returns -1 if so, else exit status 2. */
static int
submit_check(const struct submit_args *sa)
{
	int	forms = (sa->data != NULL) + sa->from_stdin + (sa->argc > 0);

	if (sa->pool == NULL || *sa->pool == '\0') {
		fprintf(stderr, "mpsup: submit: -p POOL is required\n");
		submit_usage(0);
		return 2;
	}
	if (forms != 1) {
		fprintf(stderr, "mpsup: submit: give one of -- CMD ARG..., "
		    "-d JSON or --stdin\n");
		submit_usage(0);
		return 2;
	}
	if (!cli_conn_utf8_valid(sa->pool)) {
		fprintf(stderr, "mpsup: submit: POOL is not valid UTF-8\n");
		return 2;
	}
	if (sa->progress != -1 && !sa->from_stdin) {
		fprintf(stderr, "mpsup: submit: --progress and --no-progress "
		    "go with --stdin\n");
		submit_usage(0);
		return 2;
	}
	if (sa->timeout > 0 && !sa->wait) {
		fprintf(stderr, "mpsup: submit: -t needs -w\n");
		submit_usage(0);
		return 2;
	}
	return -1;
}

/* Run `mpsup submit`; returns the exit status. */
int
cmd_submit(int argc, char **argv)
{
	struct submit_args	sa;
	int			rv;

	memset(&sa, 0, sizeof sa);
	sa.progress = -1;
	if ((rv = submit_parse(argc, argv, &sa)) != -1 ||
	    (rv = submit_check(&sa)) != -1)
		return rv;
	if (sa.from_stdin)
		return submit_stdin(&sa);
	return submit_one(&sa);
}
