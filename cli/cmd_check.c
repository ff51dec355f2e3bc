/*
 * `mpsup check -c FILE`: load and validate a config, print every problem
 * as FILE:LINE: message, exit 0 when clean and 1 otherwise.
 *
 * A config that loads also has its key files read the way start reads them
 * (authkey.h: owner, mode, length), as the user check runs as: run it as
 * the supervisor's user. A missing authkey_file is fine (start creates it).
 * When they are good, the two key files are compared: an admin key equal
 * to the submit key is an error. The libraries start would open for this
 * config (libmicrohttpd for status, libsqlite3 for a SQLite store) are
 * opened too. With cluster set, cluster_password_file
 * is read the same way, and the ok line names the cluster's URL (which
 * never holds a password), this node and its lease.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "ipc/authkey.h"
#include "store/sqlite_api.h"
#include "supervisor/monitor/http_auth.h"
#include "supervisor/monitor/mhd_api.h"
#include "cli/cmd.h"

/* Read one key file as start would; 1 (after saying why) if it is bad. */
static int
check_key(const char *cfgpath, const char *key, const char *path,
    int may_be_missing)
{
	unsigned char	*k = NULL;
	char		*cause = NULL;
	size_t		 len = 0;

	if (path == NULL || (may_be_missing && access(path, F_OK) == -1 &&
	    errno == ENOENT))
		return 0;
	if (authkey_load(path, 0, &k, &len, &cause) == -1) {
		printf("%s: %s: %s\n", cfgpath, key, cause);
		free(cause);
		return 1;
	}
	authkey_free(k, len);
	return 0;
}

/* Open a library start would open; 1 (after saying why) if it fails. */
static int
check_lib(const char *cfgpath, const char *key, int (*load)(char **))
{
	char	*cause = NULL;

	if (load(&cause) == 0)
		return 0;
	printf("%s: %s: %s\n", cfgpath, key, cause);
	free(cause);
	return 1;
}

int
cmd_check(int argc, char **argv)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*cfg;
	const char		*path = "pool.ini";
	char			*msg, *label;
	size_t			 i;
	int			 ch, bad;

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
	bad = 0;
	for (i = 0; i < cfg->nclients; i++) {
		label = config_client_key_label(cfg->clients[i]);
		bad |= check_key(path, label, cfg->clients[i]->authkey_file,
		    cfg->clients[i]->create_key);
		free(label);
	}
	if (cfg->status != NULL) {
		bad |= check_key(path, "status_token_file",
		    cfg->status_token_file, 0);
		bad |= check_key(path, "status_admin_token_file",
		    cfg->status_admin_token_file, 0);
	}
	if (cfg->cluster != NULL)
		bad |= check_key(path, "cluster_password_file",
		    cfg->cluster_password_file, 0);
	if (cfg->status != NULL)
		bad |= check_lib(path, "status", mhd_api_load);
	if (strncmp(cfg->store, "sqlite:", 7) == 0)
		bad |= check_lib(path, "store", sqlite_api_load);
	if (!bad && (authkey_check_distinct(cfg, &msg) == -1 ||
	    (cfg->status != NULL && http_auth_distinct(cfg, &msg) == -1))) {
		printf("%s\n", msg);
		free(msg);
		bad = 1;
	}
	if (bad) {
		config_free(cfg);
		return 1;
	}
	/* The URL never holds a password: config_load refuses one. */
	if (cfg->cluster != NULL)
		printf("%s: ok (%zu pool%s; cluster %s, node %s, lease %gs%s)\n",
		    path, cfg->npools, cfg->npools == 1 ? "" : "s",
		    cfg->cluster, cfg->node, cfg->cluster_lease,
		    cfg->cluster_password_file != NULL ? ", with AUTH" : "");
	else
		printf("%s: ok (%zu pool%s)\n", path, cfg->npools,
		    cfg->npools == 1 ? "" : "s");
	config_free(cfg);
	return 0;
}
