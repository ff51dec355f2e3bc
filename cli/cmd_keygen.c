/*
 * `mpsup keygen [FILE]`: write a new random authkey (SPEC section 7: 32
 * random bytes as 64 hex characters and a newline) to FILE, created with
 * mode 0600 and never over an existing file, or to stdout.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ipc/authkey.h"
#include "cli/cmd.h"

/* Print the usage line. */
static void
keygen_usage(FILE *f)
{
	fprintf(f, "usage: mpsup keygen [FILE]\n");
}

/* Run `mpsup keygen`; returns the exit status. */
int
cmd_keygen(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	char	*cause;
	int	 ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			keygen_usage(stdout);
			printf("\nWrites a new random authkey to FILE (mode 0600; "
			    "an existing FILE is\nnever replaced), or to stdout "
			    "without FILE.\n");
			return 0;
		default:
			keygen_usage(stderr);
			return 2;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
		keygen_usage(stderr);
		return 2;
	}
	if (argc == 0 || (argv[0][0] == '-' && argv[0][1] == '\0')) {
		if (authkey_write_fd(STDOUT_FILENO, &cause) == -1) {
			fprintf(stderr, "mpsup: %s\n", cause);
			free(cause);
			return 1;
		}
		return 0;
	}
	if (authkey_generate(argv[0], &cause) == -1) {
		fprintf(stderr, "mpsup: %s\n", cause);
		free(cause);
		return 1;
	}
	return 0;
}
