/*
 * mpsup's entry point: parse the command line and hand over to the
 * subcommand.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "cli/cmd.h"
#include "supervisor/monitor/http.h"
#include "supervisor/remote/request.h"
#include "supervisor/supervisor.h"
#include "worker/exec/exec_worker.h"

/*
 * The services the supervisor runs beside its pools, in start order (they
 * stop in reverse): the status endpoint, then the job listener.
 */
static const struct supervisor_service *const services[] = {
	&http_service,
	&remote_service,
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: mpsup [-c FILE] [--log-format text|json] [--pidfile PATH]\n"
"       mpsup check -c FILE\n"
"       mpsup submit [CONN] -p POOL [-w] [-t SECS] -- CMD [ARG ...]\n"
"       mpsup submit [CONN] -p POOL [-w] [-t SECS] -d JSON|@FILE\n"
"       mpsup submit [CONN] -p POOL --stdin [-w]\n"
"       mpsup result [CONN] [-w] [-t SECS] JOBID\n"
"       mpsup status [CONN] [--json] [POOL]\n"
"       mpsup jobs [CONN] [-p POOL] [--state S] [--since DUR] [-n N] [--json]\n"
"       mpsup logs [CONN] [-f] [-p POOL] [--job ID] [-n N] [--json]\n"
"       mpsup ctl [CONN] [--json] reload | stop | scale POOL N | pause POOL |\n"
"                        resume POOL | cancel JOBID | restart POOL |\n"
"                        signal POOL SIG | down POOL | up POOL\n"
"       mpsup dead [CONN] [-p POOL] [--json]\n"
"       mpsup retry [CONN] JOBID ... | -p POOL --all\n"
"       mpsup keygen [FILE]\n"
"       mpsup --version | --help\n"
"\n"
"Runs the pools of worker processes described in FILE (default ./pool.ini)\n"
"in the foreground. CONN is -c FILE, or -a ADDRESS -k KEYFILE, or\n"
"MPSUP_ADDRESS and MPSUP_AUTHKEY_FILE in the environment. See mpsup(1).\n");
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct supervisor_options	opts = { "pool.ini", NULL, -1, NULL, 0 };
	int				ch, debug = 0;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'F':
			if (strcmp(optarg, "text") == 0)
				opts.log_format = LOG_FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				opts.log_format = LOG_FORMAT_JSON;
			else {
				fprintf(stderr, "mpsup: --log-format must be "
				    "text or json\n");
				return 2;
			}
			break;
		case 'P':
			opts.pidfile = optarg;
			break;
		case 'D':
			debug = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("mpsup %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "mpsup: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	log_init("mpsup", debug);
	opts.services = services;
	opts.nservices = sizeof services / sizeof services[0];
	return supervisor_main(&opts);
}

int
main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0] != '-') {
		if (strcmp(argv[1], "check") == 0)
			return cmd_check(argc - 1, argv + 1);
		if (strcmp(argv[1], "submit") == 0)
			return cmd_submit(argc - 1, argv + 1);
		if (strcmp(argv[1], "result") == 0)
			return cmd_result(argc - 1, argv + 1);
		if (strcmp(argv[1], "status") == 0)
			return cmd_status(argc - 1, argv + 1);
		if (strcmp(argv[1], "ctl") == 0)
			return cmd_ctl(argc - 1, argv + 1);
		if (strcmp(argv[1], "jobs") == 0)
			return cmd_jobs(argc - 1, argv + 1);
		if (strcmp(argv[1], "logs") == 0)
			return cmd_logs(argc - 1, argv + 1);
		if (strcmp(argv[1], "dead") == 0)
			return cmd_dead(argc - 1, argv + 1);
		if (strcmp(argv[1], "retry") == 0)
			return cmd_retry(argc - 1, argv + 1);
		if (strcmp(argv[1], "keygen") == 0)
			return cmd_keygen(argc - 1, argv + 1);
		if (strcmp(argv[1], "exec-worker") == 0)
			return exec_worker_main(argc - 1, argv + 1);
	}
	return cmd_run(argc, argv);
}
