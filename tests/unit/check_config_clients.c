/*
 * Unit tests for config/config_client.c: [client:NAME] sections, the
 * shorthands authkey_file and admin_authkey_file, and every mistake an
 * operator can make with them, each reported as FILE:LINE.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static char			 tmpdir[128];
static char			 path[PATH_MAX];
static struct config		*cfg;
static struct config_errors	 errs;

static int
remove_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Unchecked fixtures (parent): one temporary folder per tcase. */
static void
tmpdir_create(void)
{
	char	 tmpl[] = "/tmp/mpsup-check-clients-XXXXXX";
	char	*real;

	if (mkdtemp(tmpl) == NULL || (real = realpath(tmpl, NULL)) == NULL)
		ck_abort_msg("mkdtemp: %s", strerror(errno));
	snprintf(tmpdir, sizeof tmpdir, "%s", real);
	free(real);
}

static void
tmpdir_remove(void)
{
	nftw(tmpdir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
unload(void)
{
	config_free(cfg);
	cfg = NULL;
	config_errors_free(&errs);
}

/* Load text as the file test.ini; the pools a and b are appended. */
static struct config *
load(const char *text)
{
	FILE	*fp;

	snprintf(path, sizeof path, "%s/test.ini", tmpdir);
	if ((fp = fopen(path, "w")) == NULL)
		ck_abort_msg("fopen: %s", strerror(errno));
	fprintf(fp, "%s[pool:a]\ntype = stream\ncommand = cat\n"
	    "[pool:b]\ntype = stream\ncommand = cat\n", text);
	fclose(fp);
	unload();
	return cfg = config_load(path, &errs);
}

static const char *
all_errors(void)
{
	static char	out[4096];
	size_t		i, off = 0;

	snprintf(out, sizeof out, " (none)");
	for (i = 0; i < errs.n && off < sizeof out; i++)
		off += (size_t)snprintf(out + off, sizeof out - off, "\n  %s",
		    errs.msgs[i]);
	return out;
}

/* Some error is "test.ini:LINE: ...phrase...". */
static void
expect_error(int line, const char *phrase)
{
	char	prefix[PATH_MAX + 16];
	size_t	i;

	ck_assert_msg(cfg == NULL, "loaded despite errors");
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs.msgs[i], phrase) != NULL)
			return;
	ck_abort_msg("no error \"%s...%s\" among:%s", prefix, phrase,
	    all_errors());
}

static const struct client_config *
client(const char *name)
{
	size_t	i;

	for (i = 0; i < cfg->nclients; i++)
		if (strcmp(cfg->clients[i]->name, name) == 0)
			return cfg->clients[i];
	ck_abort_msg("no client %s", name);
	return NULL;
}

START_TEST(test_alone_the_default_client_may_do_everything)
{
	ck_assert_msg(load("") != NULL, "%s", all_errors());
	ck_assert_uint_eq(cfg->nclients, 1);
	ck_assert_str_eq(cfg->clients[0]->name, "default");
	ck_assert_int_eq(cfg->clients[0]->role, ROLE_ADMIN);
	ck_assert_int_eq(cfg->clients[0]->create_key, 1);
	ck_assert_str_eq(cfg->clients[0]->authkey_file, cfg->authkey_file);
}
END_TEST

START_TEST(test_an_admin_key_makes_the_default_client_a_submitter)
{
	ck_assert_msg(load("[supervisor]\nadmin_authkey_file = adm.key\n") !=
	    NULL, "%s", all_errors());
	ck_assert_uint_eq(cfg->nclients, 2);
	ck_assert_int_eq(client("default")->role, ROLE_SUBMIT);
	ck_assert_int_eq(client("admin")->role, ROLE_ADMIN);
	ck_assert_int_eq(client("admin")->create_key, 0);
	ck_assert_int_eq(client("admin")->line, 2);
}
END_TEST

START_TEST(test_named_clients_with_roles_and_pools)
{
	ck_assert_msg(load("[client:ci]\nauthkey_file = ci.key\n"
	    "pools = b\n"
	    "[client:grafana]\nauthkey_file = /etc/g.key\nrole = monitor\n")
	    != NULL, "%s", all_errors());
	/* Named clients replace the default one unless authkey_file is set. */
	ck_assert_uint_eq(cfg->nclients, 2);
	ck_assert_int_eq(client("ci")->role, ROLE_SUBMIT);
	ck_assert_uint_eq(client("ci")->npools, 1);
	ck_assert_str_eq(client("ci")->pools[0], "b");
	ck_assert_int_eq(client("ci")->line, 1);
	ck_assert_str_eq(client("ci")->authkey_file + strlen(tmpdir),
	    "/ci.key");
	ck_assert_int_eq(client("ci")->create_key, 0);
	ck_assert_int_eq(client("grafana")->role, ROLE_MONITOR);
	ck_assert_ptr_null(client("grafana")->pools);
	ck_assert_str_eq(client("grafana")->authkey_file, "/etc/g.key");
}
END_TEST

START_TEST(test_an_explicit_authkey_file_keeps_the_default_client)
{
	ck_assert_msg(load("[supervisor]\nauthkey_file = d.key\n"
	    "[client:ci]\nauthkey_file = ci.key\n") != NULL, "%s",
	    all_errors());
	ck_assert_uint_eq(cfg->nclients, 2);
	ck_assert_int_eq(client("default")->role, ROLE_SUBMIT);
}
END_TEST

START_TEST(test_an_empty_authkey_file_means_no_default_client)
{
	ck_assert_msg(load("[supervisor]\nauthkey_file =\n"
	    "[client:ci]\nauthkey_file = ci.key\n") != NULL, "%s",
	    all_errors());
	ck_assert_uint_eq(cfg->nclients, 1);
	ck_assert_str_eq(cfg->clients[0]->name, "ci");
	ck_assert_int_eq(cfg->clients[0]->role, ROLE_SUBMIT);
	/* With nobody left to connect, the listener would serve no one. */
	load("[supervisor]\nauthkey_file =\n");
	expect_error(2, "authkey_file: empty, and no other client");
	ck_assert_msg(load("[supervisor]\nauthkey_file =\nlisten =\n") !=
	    NULL, "%s", all_errors());
	ck_assert_uint_eq(cfg->nclients, 0);
}
END_TEST

START_TEST(test_client_mistakes_name_their_line)
{
	load("[client:a b]\nauthkey_file = x\n");
	expect_error(1, "bad client name 'a b'");
	load("[client:c]\nauthkey_file = c.key\n[client:c]\n");
	expect_error(3, "duplicate client 'c' (first at line 1)");
	load("[client:c]\nrole = root\n");
	expect_error(2, "role: 'root' is not one of monitor, submit, admin");
	load("[client:c]\nauthkey_file = c.key\npools = a, nope\n");
	expect_error(3, "pools: no pool named 'nope'");
	/* A cluster node takes the others' pools: names, not its sections. */
	load("[supervisor]\ncluster = redis://127.0.0.1/0\nnode = n\n"
	    "[client:c]\nauthkey_file = c.key\npools = a, elsewhere\n");
	ck_assert_msg(cfg != NULL, "%s", all_errors());
	load("[supervisor]\ncluster = redis://127.0.0.1/0\nnode = n\n"
	    "[client:c]\nauthkey_file = c.key\npools = a, no/name\n");
	expect_error(6, "pools: 'no/name' is not a pool name");
	load("[client:c]\nauthkey_file = c.key\npools = a,,b\n");
	expect_error(3, "pools: empty item");
	load("[client:c]\nrole = monitor\n");
	expect_error(1, "client 'c': missing authkey_file");
	load("[client:c]\nauthkey_file = c.key\nworkers = 2\n");
	expect_error(3, "unknown key 'workers' in [client:c]");
}
END_TEST

START_TEST(test_shorthands_and_sections_may_not_name_one_client_twice)
{
	load("[supervisor]\nauthkey_file = d.key\n"
	    "[client:default]\nauthkey_file = other.key\n");
	expect_error(3, "client 'default' is also defined by authkey_file "
	    "(line 2)");
	load("[supervisor]\nadmin_authkey_file = a.key\n"
	    "[client:admin]\nauthkey_file = other.key\nrole = admin\n");
	expect_error(3, "client 'admin' is also defined by "
	    "admin_authkey_file (line 2)");
}
END_TEST

START_TEST(test_two_clients_may_not_share_a_key_file)
{
	load("[client:x]\nauthkey_file = k\n[client:y]\nauthkey_file = k\n");
	expect_error(3, "client 'y': authkey_file");
	expect_error(3, "is also client 'x''s");
}
END_TEST

START_TEST(test_two_clients_refuse_an_untrusted_exec_pool_of_our_user)
{
	/* Same role, but one could read the other's key and so its jobs. */
	load("[client:x]\nauthkey_file = x.key\n"
	    "[client:y]\nauthkey_file = y.key\n[pool:e]\ntype = exec\n");
	expect_error(5, "pool 'e': its exec jobs would run as mpsup's own "
	    "user");
	ck_assert_msg(load("[client:x]\nauthkey_file = x.key\n"
	    "[client:y]\nauthkey_file = y.key\n[pool:e]\ntype = exec\n"
	    "trusted = yes\n") != NULL, "%s", all_errors());
	/* One client alone may run its exec jobs as it likes. */
	ck_assert_msg(load("[client:x]\nauthkey_file = x.key\n"
	    "[pool:e]\ntype = exec\n") != NULL, "%s", all_errors());
}
END_TEST

START_TEST(test_clients_differ_for_reload)
{
	struct config	*old;

	ck_assert_ptr_nonnull(load("[client:x]\nauthkey_file = x.key\n"));
	old = cfg;
	cfg = NULL;
	ck_assert_ptr_nonnull(load("[client:x]\nauthkey_file = x.key\n"));
	ck_assert_int_eq(config_clients_differ(old, cfg), 0);
	ck_assert_ptr_nonnull(load("[client:x]\nauthkey_file = x.key\n"
	    "pools = a\n"));
	ck_assert_int_eq(config_clients_differ(old, cfg), 1);
	ck_assert_ptr_nonnull(load("[client:x]\nauthkey_file = x.key\n"
	    "role = admin\n"));
	ck_assert_int_eq(config_clients_differ(old, cfg), 1);
	config_free(old);
}
END_TEST

static Suite *
clients_suite(void)
{
	Suite	*s = suite_create("config_clients");
	TCase	*tc = tcase_create("clients");

	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, NULL, unload);
	tcase_add_test(tc, test_alone_the_default_client_may_do_everything);
	tcase_add_test(tc,
	    test_an_admin_key_makes_the_default_client_a_submitter);
	tcase_add_test(tc, test_named_clients_with_roles_and_pools);
	tcase_add_test(tc, test_an_explicit_authkey_file_keeps_the_default_client);
	tcase_add_test(tc, test_an_empty_authkey_file_means_no_default_client);
	tcase_add_test(tc, test_client_mistakes_name_their_line);
	tcase_add_test(tc,
	    test_shorthands_and_sections_may_not_name_one_client_twice);
	tcase_add_test(tc, test_two_clients_may_not_share_a_key_file);
	tcase_add_test(tc,
	    test_two_clients_refuse_an_untrusted_exec_pool_of_our_user);
	tcase_add_test(tc, test_clients_differ_for_reload);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(clients_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
