/*
 * `mpsup check -c FILE`: load and validate a config, print every problem
 * as FILE:LINE: message, exit 0 when clean and 1 otherwise.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "config/config.h"
#include "cli/cmd.h"

int
cmd_check(int argc, char **argv)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*path = "pool.ini";
	size_t			 i;
	int			 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		default:
			fprintf(stderr, "usage: mpsup check -c FILE\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "usage: mpsup check -c FILE\n");
		return 2;
	}
	cfg = config_load(path, &errs);
	for (i = 0; i < errs.n; i++)
		printf("%s\n", errs.msgs[i]);
	config_errors_free(&errs);
	if (cfg == NULL)
		return 1;
	printf("%s: ok (%zu pool%s)\n", path, cfg->npools,
	    cfg->npools == 1 ? "" : "s");
	config_free(cfg);
	return 0;
}
