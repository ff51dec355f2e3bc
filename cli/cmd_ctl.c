/*
 * `mpsup ctl [CONN] [--json] COMMAND`: the control ops of the listener
 * (SPEC section 7): stop, reload, scale, pause, resume, and the operator
 * ops restart, signal, down and up, which take the admin key when the
 * config names one, and cancel, which takes the plain key. --json prints
 * the reply as the server sent it.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/parse.h"
#include "cli/cmd.h"
#include "cli/cmd_conn.h"
#include "supervisor/remote/request_decode.h"

#define CTL_USAGE \
	"usage: mpsup ctl " CONN_USAGE " [--json] stop | reload |\n" \
	"       scale POOL N | pause POOL | resume POOL | cancel JOBID |\n" \
	"       restart POOL | signal POOL SIG | down POOL | up POOL\n"

#define CTL_MAX_WORKERS	100000

/* A control command: its name, its operands, and whether it is admin's. */
struct ctl_command {
	const char	*name;
	int		 nargs;
	int		 admin;
};

static const struct ctl_command ctl_commands[] = {
	{ "stop", 0, 1 },
	{ "reload", 0, 1 },
	{ "scale", 2, 1 },
	{ "pause", 1, 1 },
	{ "resume", 1, 1 },
	{ "cancel", 1, 0 },
	{ "restart", 1, 1 },
	{ "signal", 2, 1 },
	{ "down", 1, 1 },
	{ "up", 1, 1 },
};

/* Look up a command by name. */
static const struct ctl_command *
ctl_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof ctl_commands / sizeof ctl_commands[0]; i++) {
		if (strcmp(ctl_commands[i].name, name) == 0)
			return &ctl_commands[i];
	}
	return NULL;
}

/*
 * Build the request for cmd with operands args. Returns NULL after
 * printing why when an operand is bad.
 */
static json_t *
ctl_request(const struct ctl_command *cmd, char **args)
{
	const char	*err;
	json_t		*req;
	long		 n;
	int		 sig;

	if (strcmp(cmd->name, "scale") == 0) {
		if (parse_long(args[1], 0, CTL_MAX_WORKERS, &n, &err) == -1) {
			fprintf(stderr, "mpsup: ctl: scale: workers \"%s\": "
			    "%s\n", args[1], err);
			return NULL;
		}
		req = json_pack("{s:s, s:s, s:I}", "op", "scale", "pool",
		    args[0], "workers", (json_int_t)n);
	} else if (strcmp(cmd->name, "signal") == 0) {
		if (parse_signal(args[1], &sig, &err) == -1) {
			fprintf(stderr, "mpsup: ctl: signal \"%s\": %s (%s, or "
			    "1 to 64)\n", args[1], err, REQUEST_SIGNAL_NAMES);
			return NULL;
		}
		req = json_pack("{s:s, s:s, s:s}", "op", "signal", "pool",
		    args[0], "signal", args[1]);
	} else if (strcmp(cmd->name, "cancel") == 0)
		req = json_pack("{s:s, s:s}", "op", "cancel", "id", args[0]);
	else if (cmd->nargs == 1)
		req = json_pack("{s:s, s:s}", "op", cmd->name, "pool",
		    args[0]);
	else
		req = json_pack("{s:s}", "op", cmd->name);
	if (req == NULL)
		fprintf(stderr, "mpsup: ctl: %s: operand is not valid "
		    "UTF-8\n", cmd->name);
	return req;
}

/* Print a reply: its message, or as sent; returns the exit status. */
static int
ctl_print(const struct cli_conn_reply *reply, int as_json)
{
	struct jsontext_span	 v;
	char			*message = NULL;

	if (as_json) {
		fwrite(reply->text, 1, reply->len, stdout);
		fputc('\n', stdout);
		return reply->ok ? 0 : 1;
	}
	if (!reply->ok) {
		cli_conn_reply_error(reply);
		return 1;
	}
	if (cli_conn_reply_get(reply, "message", &v))
		message = cli_conn_span_string(&v);
	printf("%s\n", message != NULL ? message : "ok");
	free(message);
	return 0;
}

/* Run `mpsup ctl`; returns the exit status. */
int
cmd_ctl(int argc, char **argv)
{
	static const struct option longopts[] = {
		CONN_LONGOPTS,
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cli_conn_options	 opts = { NULL, NULL, NULL };
	const struct ctl_command *cmd;
	struct cli_conn		*c;
	struct cli_conn_reply	*reply;
	json_t			*req;
	int			 ch, rv, i, as_json = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+" CONN_OPTSTRING "h", longopts,
	    NULL)) != -1) {
		if (cli_conn_option(&opts, ch, optarg))
			continue;
		switch (ch) {
		case 'j':
			as_json = 1;
			break;
		case 'h':
			printf(CTL_USAGE "\nrestart replaces a pool's workers "
			    "one at a time, each finishing its jobs;\nsignal "
			    "sends SIG to its workers; down stops them (its "
			    "queue keeps\naccepting jobs) until up. With -c, all "
			    "but cancel use the key of the\nfirst client with the "
			    "admin role whose key file is readable.\n\n"
			    CONN_HELP);
			return 0;
		default:
			fprintf(stderr, CTL_USAGE);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || (cmd = ctl_find(argv[0])) == NULL ||
	    argc - 1 != cmd->nargs) {
		if (argc > 0 && ctl_find(argv[0]) == NULL)
			fprintf(stderr, "mpsup: ctl: unknown command '%s'\n",
			    argv[0]);
		fprintf(stderr, CTL_USAGE);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '\0') {
			fprintf(stderr, CTL_USAGE);
			return 2;
		}
	}
	if ((req = ctl_request(cmd, argv + 1)) == NULL)
		return 2;

	if ((rv = cli_conn_open(&opts, cmd->admin ? CONN_ADMIN : 0, &c)) != 0) {
		json_decref(req);
		return rv;
	}
	reply = cli_conn_request(c, req, CONN_REPLY_TIMEOUT_MS);
	cli_conn_close(c);
	if (reply == NULL)
		return 1;
	rv = ctl_print(reply, as_json);
	cli_conn_reply_free(reply);
	if (fflush(stdout) == EOF) {
		perror("mpsup: stdout");
		rv = 1;
	}
	return rv;
}
