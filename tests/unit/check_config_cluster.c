/*
 * Unit tests for config/config_cluster.c: the cluster keys of
 * [supervisor] (cluster, cluster_password_file, node, cluster_lease), the
 * URL forms accepted with the fields they are parsed into, and every
 * mistake, each reported as FILE:LINE.
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
	char	 tmpl[] = "/tmp/mpsup-check-cluster-XXXXXX";
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

/* Load "[supervisor]\n" + sup as test.ini (line 2 on), and a pool. */
static struct config *
load(const char *sup)
{
	FILE	*fp;

	snprintf(path, sizeof path, "%s/test.ini", tmpdir);
	if ((fp = fopen(path, "w")) == NULL)
		ck_abort_msg("fopen: %s", strerror(errno));
	fprintf(fp, "[supervisor]\n%s[pool:a]\ntype = stream\ncommand = cat\n",
	    sup);
	fclose(fp);
	unload();
	return cfg = config_load(path, &errs);
}

static const char *
all_errors(void)
{
	static char	out[8192];
	size_t		i, off = 0;

	snprintf(out, sizeof out, " (none)");
	for (i = 0; i < errs.n && off < sizeof out; i++)
		off += (size_t)snprintf(out + off, sizeof out - off, "\n  %s",
		    errs.msgs[i]);
	return out;
}

/* Loading sup fails, with "test.ini:LINE: ...phrase..." among the errors. */
static void
expect_error(const char *sup, int line, const char *phrase)
{
	char	prefix[PATH_MAX + 16];
	size_t	i;

	ck_assert_msg(load(sup) == NULL, "loaded despite errors: %s", sup);
	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.msgs[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs.msgs[i], phrase) != NULL)
			return;
	ck_abort_msg("%s: no error \"%s...%s\" among:%s", sup, prefix, phrase,
	    all_errors());
}

/* Loading sup succeeds. */
static void
expect_ok(const char *sup)
{
	ck_assert_msg(load(sup) != NULL, "%s:%s", sup, all_errors());
}

START_TEST(test_no_cluster_by_default)
{
	expect_ok("");
	ck_assert_ptr_null(cfg->cluster);
	ck_assert_ptr_null(cfg->cluster_host);
	ck_assert_ptr_null(cfg->cluster_path);
	ck_assert_ptr_null(cfg->cluster_password_file);
	ck_assert_ptr_null(cfg->node);
	ck_assert(cfg->cluster_lease == 30.0);
	expect_ok("cluster =\nnode =\ncluster_password_file =\n");
	ck_assert_ptr_null(cfg->cluster);
	ck_assert_ptr_null(cfg->node);
	ck_assert_ptr_null(cfg->cluster_password_file);
}
END_TEST

START_TEST(test_redis_urls_are_parsed_into_host_port_and_db)
{
	expect_ok("cluster = redis://127.0.0.1\nnode = n1\n");
	ck_assert_str_eq(cfg->cluster, "redis://127.0.0.1:6379/0");
	ck_assert_str_eq(cfg->cluster_host, "127.0.0.1");
	ck_assert_int_eq(cfg->cluster_port, 6379);
	ck_assert_int_eq(cfg->cluster_db, 0);
	ck_assert_ptr_null(cfg->cluster_path);
	ck_assert_str_eq(cfg->node, "n1");
	ck_assert_str_eq(cfg->store, "memory");

	expect_ok("cluster = redis://redis.example-1.lan:6380/3\nnode = n\n");
	ck_assert_str_eq(cfg->cluster, "redis://redis.example-1.lan:6380/3");
	ck_assert_str_eq(cfg->cluster_host, "redis.example-1.lan");
	ck_assert_int_eq(cfg->cluster_port, 6380);
	ck_assert_int_eq(cfg->cluster_db, 3);

	expect_ok("cluster = redis://h/15\nnode = n\n");
	ck_assert_int_eq(cfg->cluster_port, 6379);
	ck_assert_int_eq(cfg->cluster_db, 15);

	expect_ok("cluster = redis://[::1]:7000/2\nnode = n\n");
	ck_assert_str_eq(cfg->cluster_host, "::1");
	ck_assert_int_eq(cfg->cluster_port, 7000);
	ck_assert_int_eq(cfg->cluster_db, 2);
	ck_assert_str_eq(cfg->cluster, "redis://[::1]:7000/2");

	expect_ok("cluster = redis://[fe80::1:2]\nnode = n\n");
	ck_assert_str_eq(cfg->cluster_host, "fe80::1:2");
	ck_assert_int_eq(cfg->cluster_port, 6379);
	ck_assert_str_eq(cfg->cluster, "redis://[fe80::1:2]:6379/0");
}
END_TEST

START_TEST(test_unix_urls_are_parsed_and_made_absolute)
{
	char	want[PATH_MAX + 32];

	expect_ok("cluster = unix:/run/redis/redis.sock\nnode = n\n");
	ck_assert_str_eq(cfg->cluster, "unix:/run/redis/redis.sock");
	ck_assert_str_eq(cfg->cluster_path, "/run/redis/redis.sock");
	ck_assert_ptr_null(cfg->cluster_host);
	ck_assert_int_eq(cfg->cluster_db, 0);

	expect_ok("cluster = unix:redis.sock?db=4\nnode = n\n");
	snprintf(want, sizeof want, "%s/redis.sock", tmpdir);
	ck_assert_str_eq(cfg->cluster_path, want);
	ck_assert_int_eq(cfg->cluster_db, 4);
	snprintf(want, sizeof want, "unix:%s/redis.sock?db=4", tmpdir);
	ck_assert_str_eq(cfg->cluster, want);
}
END_TEST

START_TEST(test_the_other_cluster_keys_are_read)
{
	char	want[PATH_MAX + 32];

	expect_ok("cluster = redis://h\nnode = web-1.eu_west\n"
	    "cluster_password_file = redis.pw\ncluster_lease = 2s\n");
	ck_assert_str_eq(cfg->node, "web-1.eu_west");
	snprintf(want, sizeof want, "%s/redis.pw", tmpdir);
	ck_assert_str_eq(cfg->cluster_password_file, want);
	ck_assert(cfg->cluster_lease == 2.0);
	expect_ok("cluster = redis://h\nnode = n\ncluster_lease = 1h\n"
	    "cluster_password_file = /etc/mpsup/redis.pw\n");
	ck_assert(cfg->cluster_lease == 3600.0);
	ck_assert_str_eq(cfg->cluster_password_file, "/etc/mpsup/redis.pw");
}
END_TEST

/* Without node, the host name: when it is a valid name, else an error. */
START_TEST(test_node_defaults_to_the_host_name)
{
	char	host[HOST_NAME_MAX + 1];
	size_t	n, i;
	int	valid;

	ck_assert_int_eq(gethostname(host, sizeof host), 0);
	host[sizeof host - 1] = '\0';
	n = strlen(host);
	valid = n >= 1 && n <= 64;
	for (i = 0; i < n; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-.", host[i]) == NULL)
			valid = 0;
	if (valid) {
		expect_ok("cluster = redis://h\n");
		ck_assert_str_eq(cfg->node, host);
	} else
		expect_error("cluster = redis://h\n", 2, "set node = NAME");
}
END_TEST

START_TEST(test_bad_urls_name_their_line)
{
	expect_error("cluster = http://h:6379\n", 2, "cluster: 'http://h:6379': "
	    "expected redis://HOST[:PORT][/DB] or unix:PATH[?db=N]");
	expect_error("cluster = h:6379\n", 2, "expected redis://");
	expect_error("cluster = rediss://h\n", 2, "TLS (rediss://) is not "
	    "supported");
	expect_error("cluster = redis://\n", 2, "the host is missing");
	expect_error("cluster = redis://:6379\n", 2, "the host is missing");
	expect_error("cluster = redis://h:0\n", 2, "the port must be a number "
	    "from 1 to 65535");
	expect_error("cluster = redis://h:65536\n", 2, "from 1 to 65535");
	expect_error("cluster = redis://h:\n", 2, "from 1 to 65535");
	expect_error("cluster = redis://h:http\n", 2, "from 1 to 65535");
	expect_error("cluster = redis://h/16\n", 2, "the database must be a "
	    "number from 0 to 15");
	expect_error("cluster = redis://h/-1\n", 2, "from 0 to 15");
	expect_error("cluster = redis://h/x\n", 2, "from 0 to 15");
	expect_error("cluster = redis://h/\n", 2, "the database number is "
	    "missing");
	expect_error("cluster = redis://h/0/1\n", 2, "from 0 to 15");
	expect_error("cluster = redis://::1\n", 2, "IPv6 addresses need "
	    "brackets");
	expect_error("cluster = redis://[::1\n", 2, "expected [V6ADDR]");
	expect_error("cluster = redis://[::1]x\n", 2, "expected [V6ADDR]");
	expect_error("cluster = redis://[not:v6]\n", 2, "not an IPv6 address");
	expect_error("cluster = redis://h$st\n", 2, "a host name has only");
	expect_error("cluster = redis://h?timeout=1\n", 2, "no options after "
	    "the URL");
	expect_error("cluster = unix:\n", 2, "unix: needs the path");
	expect_error("cluster = unix:?db=1\n", 2, "unix: needs the path");
	expect_error("cluster = unix:/r.sock?timeout=1\n", 2, "the only option "
	    "of unix:PATH is ?db=N");
	expect_error("cluster = unix:/r.sock?db=99\n", 2, "from 0 to 15");
	expect_error("cluster = unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa.sock\n", 2, "the socket path is too long");
}
END_TEST

/* The message says where a password goes, and repeats none of it. */
START_TEST(test_a_password_in_the_url_is_refused)
{
	size_t	i;

	expect_error("cluster = redis://:s3cret@h:6379\n", 2,
	    "a password does not go in the config file");
	expect_error("cluster = redis://:s3cret@h:6379\n", 2,
	    "cluster_password_file");
	expect_error("cluster = redis://user:s3cret@h\n", 2,
	    "cluster_password_file");
	expect_error("cluster = redis://h?password=s3cret\n", 2,
	    "cluster_password_file");
	expect_error("cluster = rediss://:s3cret@h\n", 2, "TLS");
	load("cluster = redis://:s3cret@h:6379\nnode = n\n");
	for (i = 0; i < errs.n; i++)
		ck_assert_msg(strstr(errs.msgs[i], "only with") == NULL,
		    "a bad cluster also says: %s", errs.msgs[i]);
	ck_assert_uint_eq(errs.n, 1);
	load("cluster = redis://h?password=s3cret\n");
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_msg(strstr(errs.msgs[0], "s3cret") == NULL,
	    "the password is repeated: %s", errs.msgs[0]);
	load("cluster = redis://u:s3cret@h\n");
	ck_assert_msg(strstr(errs.msgs[0], "s3cret") == NULL,
	    "the password is repeated: %s", errs.msgs[0]);
	load("cluster = rediss://:s3cret@h\n");
	ck_assert_msg(strstr(errs.msgs[0], "s3cret") == NULL,
	    "the password is repeated: %s", errs.msgs[0]);
}
END_TEST

START_TEST(test_node_and_lease_mistakes_name_their_line)
{
	expect_error("cluster = redis://h\nnode = a b\n", 3, "node: 'a b': use "
	    "1 to 64 letters");
	expect_error("cluster = redis://h\nnode = a/b\n", 3, "node: 'a/b'");
	expect_error("cluster = redis://h\nnode = aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 3, "use 1 to 64");
	expect_error("cluster = redis://h\nnode = n\ncluster_lease = 1s\n", 4,
	    "cluster_lease: must be from 2s to 1h");
	expect_error("cluster = redis://h\nnode = n\ncluster_lease = 61m\n", 4,
	    "cluster_lease: must be from 2s to 1h");
	expect_error("cluster = redis://h\nnode = n\ncluster_lease = soon\n", 4,
	    "cluster_lease: expected a duration");
}
END_TEST

START_TEST(test_cluster_and_store_exclude_each_other)
{
	expect_error("store = memory\nlog = -\ncluster = redis://h\nnode = n\n",
	    2, "store: not with cluster (line 4)");
	expect_error("cluster = unix:/r.sock\nnode = n\nstore = sqlite:j.db\n",
	    4, "remove store or cluster");
}
END_TEST

START_TEST(test_cluster_keys_need_cluster)
{
	expect_error("node = n1\n", 2, "node: only with cluster");
	expect_error("cluster_lease = 30s\n", 2, "cluster_lease: only with "
	    "cluster");
	expect_error("log = -\ncluster_password_file = pw\n", 3,
	    "cluster_password_file: only with cluster");
	expect_error("cluster =\nnode = n1\n", 3, "node: only with cluster");
}
END_TEST

START_TEST(test_cluster_keys_differ_and_are_kept)
{
	struct config	*old;

	expect_ok("cluster = unix:/r.sock?db=3\nnode = a\ncluster_lease = 5s\n"
	    "cluster_password_file = /pw\n");
	old = cfg;
	cfg = NULL;
	expect_ok("cluster = unix:/r.sock?db=3\nnode = a\ncluster_lease = 5s\n"
	    "cluster_password_file = /pw\n");
	ck_assert_int_eq(config_cluster_differs(old, cfg), 0);
	expect_ok("cluster = unix:/r.sock?db=3\nnode = a\ncluster_lease = 6s\n"
	    "cluster_password_file = /pw\n");
	ck_assert_int_eq(config_cluster_differs(old, cfg), 1);
	expect_ok("cluster = unix:/r.sock?db=3\nnode = b\ncluster_lease = 5s\n"
	    "cluster_password_file = /pw\n");
	ck_assert_int_eq(config_cluster_differs(old, cfg), 1);
	expect_ok("cluster = redis://h\nnode = a\n");
	ck_assert_int_eq(config_cluster_differs(old, cfg), 1);
	config_cluster_keep(cfg, old);
	ck_assert_int_eq(config_cluster_differs(old, cfg), 0);
	ck_assert_str_eq(cfg->cluster, "unix:/r.sock?db=3");
	ck_assert_str_eq(cfg->cluster_path, "/r.sock");
	ck_assert_ptr_null(cfg->cluster_host);
	ck_assert_int_eq(cfg->cluster_db, 3);
	ck_assert_str_eq(cfg->node, "a");
	ck_assert_str_eq(cfg->cluster_password_file, "/pw");
	ck_assert(cfg->cluster_lease == 5.0);
	expect_ok("");
	ck_assert_int_eq(config_cluster_differs(old, cfg), 1);
	config_cluster_keep(cfg, old);
	ck_assert_str_eq(cfg->cluster, "unix:/r.sock?db=3");
	config_cluster_keep(old, cfg);
	config_free(old);
}
END_TEST

static Suite *
cluster_suite(void)
{
	Suite	*s = suite_create("config_cluster");
	TCase	*tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);
	tcase_add_checked_fixture(tc, NULL, unload);
	tcase_add_test(tc, test_no_cluster_by_default);
	tcase_add_test(tc, test_redis_urls_are_parsed_into_host_port_and_db);
	tcase_add_test(tc, test_unix_urls_are_parsed_and_made_absolute);
	tcase_add_test(tc, test_the_other_cluster_keys_are_read);
	tcase_add_test(tc, test_node_defaults_to_the_host_name);
	tcase_add_test(tc, test_bad_urls_name_their_line);
	tcase_add_test(tc, test_a_password_in_the_url_is_refused);
	tcase_add_test(tc, test_node_and_lease_mistakes_name_their_line);
	tcase_add_test(tc, test_cluster_and_store_exclude_each_other);
	tcase_add_test(tc, test_cluster_keys_need_cluster);
	tcase_add_test(tc, test_cluster_keys_differ_and_are_kept);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(cluster_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
