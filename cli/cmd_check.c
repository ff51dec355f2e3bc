/*
 * `mpsup check -c FILE`: load and validate a config, print every problem
 * as FILE:LINE: message, exit 0 when clean and 1 otherwise. Besides the
 * file itself it compares the two key files it names, when both can be
 * read: an admin key equal to the submit key is an error.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "ipc/authkey.h"
#include "cli/cmd.h"

int
cmd_check(int argc, char **argv)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*path = "pool.ini";
	char			*msg;
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
	if (authkey_check_distinct(cfg, &msg) == -1) {
		printf("%s\n", msg);
		free(msg);
		config_free(cfg);
		return 1;
	}
	printf("%s: ok (%zu pool%s)\n", path, cfg->npools,
	    cfg->npools == 1 ? "" : "s");
	config_free(cfg);
	return 0;
}
