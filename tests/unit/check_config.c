/*
 * Unit tests for config/config.c: loading the INI file, the defaults of
 * SPEC section 3, and every kind of error, each reported as
 * "FILE:LINE: message" and all of them, not only the first.
 *
 * Every test writes its INI file into one temporary folder that the
 * tcase's unchecked fixture creates and removes in the parent process, so
 * the folder goes away even when a test fails in its forked child.
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static char			 tmpdir[128];		/* real path */
static char			 cfgpath[PATH_MAX];	/* last file loaded */
static struct config		*cfg;
static struct config_errors	 errs;

static int
remove_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Unchecked fixture (parent): one temporary folder per tcase. */
static void
tmpdir_create(void)
{
	char	 tmpl[] = "/tmp/mpsup-check-config-XXXXXX";
	char	*real;

	if (mkdtemp(tmpl) == NULL)
		ck_abort_msg("mkdtemp: %s", strerror(errno));
	if ((real = realpath(tmpl, NULL)) == NULL)
		ck_abort_msg("realpath: %s", strerror(errno));
	if (strlen(real) >= sizeof tmpdir)
		ck_abort_msg("temporary folder name too long: %s", real);
	snprintf(tmpdir, sizeof tmpdir, "%s", real);
	free(real);
}

static void
tmpdir_remove(void)
{
	if (tmpdir[0] != '\0')
		nftw(tmpdir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
	tmpdir[0] = '\0';
}

/* Checked fixture (child): drop what the test loaded. */
static void
unload(void)
{
	config_free(cfg);
	cfg = NULL;
	config_errors_free(&errs);
}

/* Path of name inside the temporary folder, in a static buffer. */
static const char *
tmp_path(const char *name)
{
	static char	path[PATH_MAX];

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	return path;
}

static void
write_bytes(const char *name, const char *data, size_t len)
{
	const char	*path = tmp_path(name);
	FILE		*fp;

	if ((fp = fopen(path, "w")) == NULL)
		ck_abort_msg("fopen %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

static void
make_dir(const char *name)
{
	ck_assert_msg(mkdir(tmp_path(name), 0700) == 0 || errno == EEXIST,
	    "mkdir %s: %s", name, strerror(errno));
}

/* Write text as the config file "test.ini" and load it. */
static struct config *
load(const char *text)
{
	write_bytes("test.ini", text, strlen(text));
	snprintf(cfgpath, sizeof cfgpath, "%s", tmp_path("test.ini"));
	config_free(cfg);
	config_errors_free(&errs);
	cfg = config_load(cfgpath, &errs);
	return cfg;
}

/* All error messages, one a line, for failure reports. */
static const char *
all_errors(void)
{
	static char	out[8192];
	size_t		i, off = 0;

	out[0] = '\0';
	for (i = 0; i < errs.n && off < sizeof out; i++)
		off += (size_t)snprintf(out + off, sizeof out - off, "\n  %s",
		    errs.msgs[i]);
	if (errs.n == 0)
		snprintf(out, sizeof out, " (none)");
	return out;
}

/* The load succeeded with no error at all. */
static void
expect_ok(void)
{
	ck_assert_msg(errs.n == 0, "unexpected errors:%s", all_errors());
	ck_assert_msg(cfg != NULL, "config_load returned NULL");
}

static void
expect_nerrors(size_t n)
{
	ck_assert_msg(cfg == NULL, "config_load returned a config despite "
	    "errors");
	ck_assert_msg(errs.n == n, "expected %zu errors, got %zu:%s", n,
	    errs.n, all_errors());
}

/*
 * Some error is exactly "FILE:LINE: ..." (or "FILE: ..." for line 0) for
 * the loaded file and contains phrase right after that prefix or later.
 */
static void
expect_error_in(const char *file, int line, const char *phrase)
{
	char	prefix[PATH_MAX + 32];
	size_t	i, plen;

	if (line > 0)
		snprintf(prefix, sizeof prefix, "%s:%d: ", file, line);
	else
		snprintf(prefix, sizeof prefix, "%s: ", file);
	plen = strlen(prefix);
	for (i = 0; i < errs.n; i++) {
		if (strncmp(errs.msgs[i], prefix, plen) == 0 &&
		    strstr(errs.msgs[i] + plen, phrase) != NULL)
			return;
	}
	ck_abort_msg("no error \"%s...%s\" among:%s", prefix, phrase,
	    all_errors());
}

static void
expect_error(int line, const char *phrase)
{
	expect_error_in(cfgpath, line, phrase);
}

/* Expect exactly one error, at line, containing phrase. */
static void
expect_only_error(int line, const char *phrase)
{
	expect_nerrors(1);
	expect_error(line, phrase);
}

/* "[pool:p]\n" + key line: the common shape of single-key tests. */
static struct config *
load_pool_key(const char *keyline)
{
	char	*text;

	if (asprintf(&text, "[pool:p]\n%s\n", keyline) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	return cfg;
}

static struct config *
load_supervisor_key(const char *keyline)
{
	char	*text;

	if (asprintf(&text, "[supervisor]\n%s\n[pool:p]\n", keyline) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	return cfg;
}

/* A string of prefix followed by fill up to len bytes in total. */
static char *
padded(const char *prefix, size_t len, char fill)
{
	char	*s;
	size_t	 plen = strlen(prefix);

	ck_assert_uint_ge(len, plen);
	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	memcpy(s, prefix, plen);
	memset(s + plen, fill, len - plen);
	s[len] = '\0';
	return s;
}

static const char *
in_tmp(const char *rel)
{
	static char	buf[PATH_MAX];

	snprintf(buf, sizeof buf, "%s/%s", tmpdir, rel);
	return buf;
}

/* Valid files and defaults. */

START_TEST(test_minimal_exec_pool_loads)
{
	load("[pool:p]\n");
	expect_ok();
	ck_assert_uint_eq(cfg->npools, 1);
	ck_assert_str_eq(cfg->pools[0]->name, "p");
	ck_assert_int_eq(cfg->pools[0]->line, 1);
	ck_assert_str_eq(cfg->path, tmp_path("test.ini"));
	ck_assert_str_eq(cfg->dir, tmpdir);
}
END_TEST

START_TEST(test_supervisor_defaults_match_spec)
{
	char	want[PATH_MAX + 16];

	load("[pool:p]\n");
	expect_ok();
	ck_assert_uint_eq(cfg->nlisten, 2);
	snprintf(want, sizeof want, "unix:%s/mpsup.sock", tmpdir);
	ck_assert_str_eq(cfg->listen[0], want);
	ck_assert_str_eq(cfg->listen[1], "127.0.0.1:7300");
	ck_assert_ptr_null(cfg->listen[2]);
	ck_assert_str_eq(cfg->authkey_file, in_tmp("authkey"));
	ck_assert_ptr_null(cfg->admin_authkey_file);
	ck_assert_int_eq(cfg->legacy_md5, 0);
	ck_assert_str_eq(cfg->status, "127.0.0.1:7301");
	ck_assert_ptr_null(cfg->status_token_file);
	ck_assert_ptr_null(cfg->log);
	ck_assert_int_eq(cfg->log_format, LOG_FORMAT_TEXT);
	ck_assert_uint_eq(cfg->log_max_line, 1024 * 1024);
	ck_assert_str_eq(cfg->store, "memory");
	ck_assert_int_eq(cfg->store_sync, STORE_SYNC_NORMAL);
	ck_assert_double_eq_tol(cfg->result_ttl, 3600.0, 1e-9);
	ck_assert_int_eq(cfg->result_max, 100000);
	ck_assert_double_eq_tol(cfg->shutdown_timeout, 30.0, 1e-9);
	ck_assert_int_eq(cfg->max_connections, 1024);
	ck_assert_uint_eq(cfg->max_message, 16 * 1024 * 1024);
}
END_TEST

START_TEST(test_pool_defaults_match_spec)
{
	struct pool_config	*pc;

	load("[pool:p]\n");
	expect_ok();
	pc = cfg->pools[0];
	ck_assert_int_eq(pc->type, POOL_TYPE_EXEC);
	ck_assert_ptr_null(pc->command);
	ck_assert_ptr_null(pc->argv);
	ck_assert_int_eq(pc->workers, 2);
	ck_assert_int_eq(pc->min_workers, 2);
	ck_assert_int_eq(pc->max_workers, 2);
	ck_assert_int_eq(pc->dynamic, 0);
	ck_assert_double_eq_tol(pc->idle_timeout, 10.0, 1e-9);
	ck_assert_int_eq(pc->prefetch, 1);
	ck_assert_int_eq(pc->max_queue, 100000);
	ck_assert_double_eq_tol(pc->job_timeout, 0.0, 1e-9);
	ck_assert_int_eq(pc->max_attempts, 1);
	ck_assert_double_eq_tol(pc->retry_delay, 1.0, 1e-9);
	ck_assert_int_eq(pc->max_jobs_per_worker, 0);
	ck_assert_double_eq_tol(pc->restart_delay, 0.1, 1e-9);
	ck_assert_double_eq_tol(pc->restart_delay_max, 30.0, 1e-9);
	ck_assert_int_eq(pc->output, OUTPUT_LOG);
	ck_assert_uint_eq(pc->capture_max, 1024 * 1024);
	ck_assert_int_eq(pc->job_fds, JOB_FDS_STDIO);
	ck_assert_ptr_null(pc->cwd);
	ck_assert_ptr_null(pc->user);
	ck_assert_ptr_null(pc->group);
	ck_assert_ptr_null(pc->env);
	ck_assert_uint_eq(pc->nenv, 0);
	ck_assert_int_eq(pc->stop_signal, SIGTERM);
	ck_assert_double_eq_tol(pc->stop_timeout, 10.0, 1e-9);
}
END_TEST

START_TEST(test_every_key_is_parsed_into_its_field)
{
	struct pool_config	*pc;
	struct passwd		*pw;
	struct group		*gr;

	pw = getpwnam("nobody");
	ck_assert_msg(pw != NULL, "this test needs the user nobody");
	gr = getgrnam("root");
	ck_assert_msg(gr != NULL, "this test needs the group root");
	load("[supervisor]\n"
	    "listen = unix:/run/x.sock, 0.0.0.0:9000, [::1]:9001\n"
	    "authkey_file = /etc/mpsup/key\n"
	    "admin_authkey_file = admin.key\n"
	    "legacy_md5 = yes\n"
	    "status = 127.0.0.1:8080\n"
	    "status_token_file = token\n"
	    "log = /var/log/mpsup.log\n"
	    "log_format = json\n"
	    "log_max_line = 64K\n"
	    "store = sqlite:/var/lib/mpsup/q.db\n"
	    "store_sync = full\n"
	    "result_ttl = 2h\n"
	    "result_max = 500\n"
	    "shutdown_timeout = 5s\n"
	    "max_connections = 10\n"
	    "max_message = 1M\n"
	    "\n"
	    "[pool:web]\n"
	    "type = stream\n"
	    "command = /usr/bin/python3 -u 'my worker.py'\n"
	    "workers = 4\n"
	    "idle_timeout = 30s\n"
	    "prefetch = 8\n"
	    "max_queue = 50\n"
	    "job_timeout = 1m\n"
	    "max_attempts = 3\n"
	    "retry_delay = 500ms\n"
	    "max_jobs_per_worker = 1000\n"
	    "restart_delay = 1s\n"
	    "restart_delay_max = 1m\n"
	    "output = both\n"
	    "capture_max = 64K\n"
	    "job_fds = 3,4\n"
	    "cwd = /\n"
	    "user = nobody\n"
	    "group = root\n"
	    "env = A=1\n"
	    "env = B=two words\n"
	    "stop_signal = INT\n"
	    "stop_timeout = 3s\n");
	expect_ok();
	ck_assert_uint_eq(cfg->nlisten, 3);
	ck_assert_str_eq(cfg->listen[0], "unix:/run/x.sock");
	ck_assert_str_eq(cfg->listen[1], "0.0.0.0:9000");
	ck_assert_str_eq(cfg->listen[2], "[::1]:9001");
	ck_assert_str_eq(cfg->authkey_file, "/etc/mpsup/key");
	ck_assert_str_eq(cfg->admin_authkey_file, in_tmp("admin.key"));
	ck_assert_int_eq(cfg->legacy_md5, 1);
	ck_assert_str_eq(cfg->status, "127.0.0.1:8080");
	ck_assert_str_eq(cfg->status_token_file, in_tmp("token"));
	ck_assert_str_eq(cfg->log, "/var/log/mpsup.log");
	ck_assert_int_eq(cfg->log_format, LOG_FORMAT_JSON);
	ck_assert_uint_eq(cfg->log_max_line, 64 * 1024);
	ck_assert_str_eq(cfg->store, "sqlite:/var/lib/mpsup/q.db");
	ck_assert_int_eq(cfg->store_sync, STORE_SYNC_FULL);
	ck_assert_double_eq_tol(cfg->result_ttl, 7200.0, 1e-9);
	ck_assert_int_eq(cfg->result_max, 500);
	ck_assert_double_eq_tol(cfg->shutdown_timeout, 5.0, 1e-9);
	ck_assert_int_eq(cfg->max_connections, 10);
	ck_assert_uint_eq(cfg->max_message, 1024 * 1024);

	ck_assert_uint_eq(cfg->npools, 1);
	pc = cfg->pools[0];
	ck_assert_str_eq(pc->name, "web");
	ck_assert_int_eq(pc->line, 19);
	ck_assert_int_eq(pc->type, POOL_TYPE_STREAM);
	ck_assert_str_eq(pc->command, "/usr/bin/python3 -u 'my worker.py'");
	ck_assert_uint_eq(pc->argc, 3);
	ck_assert_str_eq(pc->argv[0], "/usr/bin/python3");
	ck_assert_str_eq(pc->argv[1], "-u");
	ck_assert_str_eq(pc->argv[2], "my worker.py");
	ck_assert_ptr_null(pc->argv[3]);
	ck_assert_int_eq(pc->workers, 4);
	ck_assert_int_eq(pc->min_workers, 4);
	ck_assert_int_eq(pc->max_workers, 4);
	ck_assert_int_eq(pc->dynamic, 0);
	ck_assert_double_eq_tol(pc->idle_timeout, 30.0, 1e-9);
	ck_assert_int_eq(pc->prefetch, 8);
	ck_assert_int_eq(pc->max_queue, 50);
	ck_assert_double_eq_tol(pc->job_timeout, 60.0, 1e-9);
	ck_assert_int_eq(pc->max_attempts, 3);
	ck_assert_double_eq_tol(pc->retry_delay, 0.5, 1e-9);
	ck_assert_int_eq(pc->max_jobs_per_worker, 1000);
	ck_assert_double_eq_tol(pc->restart_delay, 1.0, 1e-9);
	ck_assert_double_eq_tol(pc->restart_delay_max, 60.0, 1e-9);
	ck_assert_int_eq(pc->output, OUTPUT_BOTH);
	ck_assert_uint_eq(pc->capture_max, 64 * 1024);
	ck_assert_int_eq(pc->job_fds, JOB_FDS_34);
	ck_assert_str_eq(pc->cwd, "/");
	ck_assert_str_eq(pc->user, "nobody");
	ck_assert_str_eq(pc->group, "root");
	ck_assert_int_eq(pc->uid, pw->pw_uid);
	ck_assert_int_eq(pc->gid, gr->gr_gid);
	ck_assert_uint_eq(pc->nenv, 2);
	ck_assert_str_eq(pc->env[0], "A=1");
	ck_assert_str_eq(pc->env[1], "B=two words");
	ck_assert_ptr_null(pc->env[2]);
	ck_assert_int_eq(pc->stop_signal, SIGINT);
	ck_assert_double_eq_tol(pc->stop_timeout, 3.0, 1e-9);
}
END_TEST

START_TEST(test_comments_blank_lines_and_inline_comments_are_ignored)
{
	load("; a comment\n"
	    "# another\n"
	    "\n"
	    "[pool:p] ; trailing comment\n"
	    "   ; indented comment\n"
	    "workers = 3 ; three of them\n"
	    "\t# indented hash comment\n"
	    "prefetch = 2\t; tab before the comment\n"
	    "\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->workers, 3);
	ck_assert_int_eq(cfg->pools[0]->prefetch, 2);
	ck_assert_int_eq(cfg->pools[0]->line, 4);
}
END_TEST

START_TEST(test_colon_separates_key_and_value_too)
{
	load("[pool:p]\nworkers: 5\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->workers, 5);
}
END_TEST

START_TEST(test_crlf_line_endings_are_accepted)
{
	load("[pool:p]\r\nworkers = 3\r\nstop_signal = KILL\r\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->workers, 3);
	ck_assert_int_eq(cfg->pools[0]->stop_signal, SIGKILL);
}
END_TEST

START_TEST(test_utf8_bom_is_accepted)
{
	load("\xef\xbb\xbf[pool:p]\nworkers = 3\n");
	expect_ok();
	ck_assert_str_eq(cfg->pools[0]->name, "p");
	ck_assert_int_eq(cfg->pools[0]->workers, 3);
}
END_TEST

START_TEST(test_last_line_without_newline_is_read)
{
	load("[pool:p]\nworkers = 7");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->workers, 7);
}
END_TEST

START_TEST(test_several_pools_keep_their_own_values)
{
	load("[pool:a]\n"
	    "workers = 1\n"
	    "[pool:b]\n"
	    "workers = 3\n"
	    "[supervisor]\n"
	    "max_connections = 5\n"
	    "[pool:c.d-e_f]\n");
	expect_ok();
	ck_assert_uint_eq(cfg->npools, 3);
	ck_assert_str_eq(cfg->pools[0]->name, "a");
	ck_assert_int_eq(cfg->pools[0]->workers, 1);
	ck_assert_str_eq(cfg->pools[1]->name, "b");
	ck_assert_int_eq(cfg->pools[1]->workers, 3);
	ck_assert_int_eq(cfg->pools[1]->line, 3);
	ck_assert_str_eq(cfg->pools[2]->name, "c.d-e_f");
	ck_assert_int_eq(cfg->pools[2]->workers, 2);
	ck_assert_int_eq(cfg->max_connections, 5);
	ck_assert_ptr_eq(config_find_pool(cfg, "b"), cfg->pools[1]);
	ck_assert_ptr_eq(config_find_pool(cfg, "c.d-e_f"), cfg->pools[2]);
	ck_assert_ptr_null(config_find_pool(cfg, "nope"));
}
END_TEST

START_TEST(test_same_key_in_two_pools_is_not_a_duplicate)
{
	load("[pool:a]\nworkers = 1\n[pool:b]\nworkers = 1\n");
	expect_ok();
}
END_TEST

START_TEST(test_relative_config_path_is_named_as_given)
{
	ck_assert_int_eq(chdir(tmpdir), 0);
	write_bytes("rel.ini", "[pool:p]\nbogus = 1\n", 19);
	cfg = config_load("rel.ini", &errs);
	ck_assert_ptr_null(cfg);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.msgs[0], "rel.ini:2: unknown key 'bogus' in "
	    "[pool:p]");

	config_errors_free(&errs);
	write_bytes("rel2.ini", "[pool:p]\ncwd = .\n", 17);
	cfg = config_load("rel2.ini", &errs);
	expect_ok();
	ck_assert_str_eq(cfg->dir, tmpdir);
	ck_assert_str_eq(cfg->path, tmp_path("rel2.ini"));
	ck_assert_str_eq(cfg->pools[0]->cwd, in_tmp("."));
}
END_TEST

START_TEST(test_errors_free_empties_the_list)
{
	load("[nope]\n");
	ck_assert_uint_gt(errs.n, 0);
	config_errors_free(&errs);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.msgs);
	config_free(NULL);
}
END_TEST

/* Sections and line syntax. */

START_TEST(test_unknown_section_reports_file_and_line)
{
	load("[pool:p]\n"
	    "\n"
	    "[pools:x]\n");
	expect_only_error(3, "unknown section [pools:x] (expected "
	    "[supervisor], [pool:NAME], [client:NAME] or [schedule:NAME])");
}
END_TEST

START_TEST(test_keys_of_an_unknown_section_are_not_reported_again)
{
	load("[pool:p]\n"
	    "[server]\n"
	    "bogus = 1\n"
	    "also_bogus = 2\n"
	    "[pool:q]\n"
	    "nonsense = 3\n");
	expect_nerrors(2);
	expect_error(2, "unknown section [server]");
	expect_error(6, "unknown key 'nonsense' in [pool:q]");
}
END_TEST

/*
 * With an admin key there are two roles; an exec pool whose jobs run as
 * mpsup's own user could read the keys, so it must say trusted = yes.
 */
START_TEST(test_exec_pool_as_mpsups_user_refused_with_an_admin_key)
{
	load("[supervisor]\n"
	    "admin_authkey_file = admin.key\n"
	    "[pool:ex]\n"
	    "type = exec\n"
	    "[pool:st]\n"
	    "type = stream\n"
	    "command = cat\n");
	expect_only_error(3, "pool 'ex': its exec jobs would run as mpsup's "
	    "own user and could read the key files");
}
END_TEST

START_TEST(test_trusted_exec_pool_is_allowed_with_an_admin_key)
{
	load("[supervisor]\n"
	    "admin_authkey_file = admin.key\n"
	    "[pool:ex]\n"
	    "type = exec\n"
	    "trusted = yes\n");
	ck_assert_msg(cfg != NULL, "errors:%s", all_errors());
	ck_assert_int_eq(cfg->pools[0]->trusted, 1);
}
END_TEST

START_TEST(test_exec_pool_of_another_user_is_allowed_with_an_admin_key)
{
	if (geteuid() == 65534)
		return;		/* nobody is this user */
	load("[supervisor]\n"
	    "admin_authkey_file = admin.key\n"
	    "[pool:ex]\n"
	    "type = exec\n"
	    "user = nobody\n");
	ck_assert_msg(cfg != NULL, "errors:%s", all_errors());
}
END_TEST

START_TEST(test_one_role_needs_no_trust)
{
	load("[pool:ex]\ntype = exec\n");
	ck_assert_msg(cfg != NULL, "errors:%s", all_errors());
	ck_assert_int_eq(cfg->pools[0]->trusted, 0);
	load_pool_key("trusted = maybe");
	expect_only_error(2, "trusted: expected yes or no");
}
END_TEST

START_TEST(test_unknown_key_reports_file_and_line)
{
	load("[pool:p]\n"
	    "workers = 2\n"
	    "wrokers = 3\n");
	expect_only_error(3, "unknown key 'wrokers' in [pool:p]");
}
END_TEST

START_TEST(test_unknown_key_in_supervisor_section)
{
	load("[supervisor]\n"
	    "type = exec\n"
	    "[pool:p]\n");
	expect_only_error(2, "unknown key 'type' in [supervisor]");
}
END_TEST

START_TEST(test_supervisor_key_in_pool_is_unknown)
{
	load_pool_key("listen = 127.0.0.1:1");
	expect_only_error(2, "unknown key 'listen' in [pool:p]");
}
END_TEST

START_TEST(test_line_without_equals_is_refused)
{
	load("[pool:p]\n"
	    "workers 2\n"
	    "prefetch = 2\n");
	expect_only_error(2, "expected 'key = value'");
}
END_TEST

START_TEST(test_line_with_empty_key_is_refused)
{
	load("[pool:p]\n"
	    "= 2\n"
	    ": 3\n");
	expect_nerrors(2);
	expect_error(2, "expected 'key = value'");
	expect_error(3, "expected 'key = value'");
}
END_TEST

START_TEST(test_equals_inside_inline_comment_does_not_count)
{
	load("[pool:p]\n"
	    "workers ; = 3\n"
	    "prefetch\t; = 3\n"
	    "bogus = 1\n");
	expect_nerrors(3);
	expect_error(2, "expected 'key = value'");
	expect_error(3, "expected 'key = value'");
	expect_error(4, "unknown key 'bogus'");
}
END_TEST

START_TEST(test_key_before_any_section_is_refused)
{
	load("workers = 2\n"
	    "[pool:p]\n");
	expect_only_error(1, "key outside of any section");
}
END_TEST

START_TEST(test_unterminated_section_header_is_refused)
{
	load("[pool:p]\n"
	    "[pool:q\n"
	    "workers = 3\n"
	    "bogus = 1\n"
	    "[pool:r]\n"
	    "workers = 4\n");
	expect_only_error(2, "section header without closing ']'");
}
END_TEST

START_TEST(test_text_after_section_header_is_refused)
{
	load("[pool:p] extra\n"
	    "[pool:q] ; fine\n");
	expect_only_error(1, "unexpected text after section header");
}
END_TEST

START_TEST(test_bad_pool_name_is_refused)
{
	char	*text, *name;

	name = padded("[pool:", 6 + 65, 'n');
	if (asprintf(&text, "[pool:]\n[pool:a b]\n[pool:a/b]\n%s]\n"
	    "[pool:ok]\n", name) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(name);
	expect_nerrors(4);
	expect_error(1, "bad pool name ''");
	expect_error(2, "bad pool name 'a b'");
	expect_error(3, "bad pool name 'a/b'");
	expect_error(4, "bad pool name 'nnnn");
}
END_TEST

START_TEST(test_pool_name_of_64_characters_is_accepted)
{
	char	*text, *name;

	name = padded("[pool:", 6 + 64, 'n');
	if (asprintf(&text, "%s]\n", name) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(name);
	expect_ok();
	ck_assert_uint_eq(strlen(cfg->pools[0]->name), 64);
}
END_TEST

START_TEST(test_duplicate_pool_names_first_line)
{
	load("[pool:p]\n"
	    "workers = 1\n"
	    "[pool:q]\n"
	    "[pool:p]\n"
	    "workers = 9\n"
	    "bogus = 1\n");
	expect_only_error(4, "duplicate pool 'p' (first at line 1)");
}
END_TEST

START_TEST(test_duplicate_pool_keeps_first_definition)
{
	load("[pool:p]\n"
	    "workers = 1\n"
	    "[pool:p]\n"
	    "workers = 9\n");
	expect_only_error(3, "duplicate pool 'p'");
}
END_TEST

START_TEST(test_duplicate_supervisor_section_is_refused)
{
	load("[supervisor]\n"
	    "[pool:p]\n"
	    "[supervisor]\n"
	    "max_connections = 3\n");
	expect_only_error(3, "duplicate section [supervisor] (first at "
	    "line 1)");
}
END_TEST

START_TEST(test_duplicate_key_names_first_line)
{
	load("[pool:p]\n"
	    "workers = 2\n"
	    "prefetch = 1\n"
	    "workers = 3\n");
	expect_only_error(4, "duplicate key 'workers' (first set at line 2)");
}
END_TEST

START_TEST(test_duplicate_supervisor_key_is_refused)
{
	load("[supervisor]\n"
	    "log = -\n"
	    "log = other.log\n"
	    "[pool:p]\n");
	expect_only_error(3, "duplicate key 'log' (first set at line 2)");
}
END_TEST

START_TEST(test_too_many_pools_are_refused)
{
	char	*text = NULL, *more;
	size_t	 i;

	text = strdup("");
	for (i = 0; i < 257; i++) {
		if (asprintf(&more, "%s[pool:p%zu]\n", text, i) == -1)
			ck_abort_msg("asprintf");
		free(text);
		text = more;
	}
	load(text);
	free(text);
	expect_only_error(257, "too many pools (at most 256)");
}
END_TEST

/* Over-long lines and odd bytes. */

START_TEST(test_line_of_197_bytes_is_accepted)
{
	char	*line = padded("env = A=", 197, 'x');

	load_pool_key(line);
	free(line);
	expect_ok();
	ck_assert_uint_eq(cfg->pools[0]->nenv, 1);
	ck_assert_uint_eq(strlen(cfg->pools[0]->env[0]), 197 - 6);
}
END_TEST

START_TEST(test_line_of_198_bytes_is_too_long)
{
	char	*line = padded("env = A=", 198, 'x');

	load_pool_key(line);
	free(line);
	expect_only_error(2, "line too long (198 bytes; the INI reader takes "
	    "at most 197)");
}
END_TEST

START_TEST(test_overlong_line_is_not_split_into_more_keys)
{
	char	*text, *line;

	/* inih would read the tail as a line of its own: an unknown key. */
	line = padded("env = A=", 250, 'x');
	memcpy(line + 199, "bogus = 9", 9);
	if (asprintf(&text, "[pool:p]\n%s\nprefetch = 2\n", line) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(line);
	expect_only_error(2, "line too long (250 bytes");
}
END_TEST

START_TEST(test_overlong_lines_are_each_reported)
{
	char	*text, *a, *b;

	a = padded("command = ", 300, 'c');
	b = padded("env = X=", 5000, 'x');
	if (asprintf(&text, "[pool:p]\ntype = stream\n%s\nworkers = 1\n%s\n"
	    "bogus = 1\n", a, b) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(a);
	free(b);
	expect_nerrors(4);
	expect_error(3, "line too long (300 bytes");
	expect_error(5, "line too long (5000 bytes");
	expect_error(6, "unknown key 'bogus'");
	expect_error(1, "missing 'command'");
}
END_TEST

START_TEST(test_nul_byte_in_a_line_is_refused)
{
	static const char	text[] = "[pool:p]\nwork\0ers = 3\nprefetch = 2\n";

	write_bytes("test.ini", text, sizeof text - 1);
	snprintf(cfgpath, sizeof cfgpath, "%s", tmp_path("test.ini"));
	cfg = config_load(cfgpath, &errs);
	expect_only_error(2, "line contains a NUL byte");
}
END_TEST

/* Continuation lines. */

START_TEST(test_continuation_lines_extend_listen)
{
	char	want[PATH_MAX + 16];

	load("[supervisor]\n"
	    "listen = unix:a.sock, 127.0.0.1:1\n"
	    "    [::1]:2\n"
	    "\tunix:/abs.sock, 10.0.0.1:3\n"
	    "[pool:p]\n");
	expect_ok();
	ck_assert_uint_eq(cfg->nlisten, 5);
	snprintf(want, sizeof want, "unix:%s/a.sock", tmpdir);
	ck_assert_str_eq(cfg->listen[0], want);
	ck_assert_str_eq(cfg->listen[1], "127.0.0.1:1");
	ck_assert_str_eq(cfg->listen[2], "[::1]:2");
	ck_assert_str_eq(cfg->listen[3], "unix:/abs.sock");
	ck_assert_str_eq(cfg->listen[4], "10.0.0.1:3");
}
END_TEST

START_TEST(test_continuation_lines_extend_command)
{
	struct pool_config	*pc;

	load("[pool:p]\n"
	    "type = stream\n"
	    "command = /bin/prog --a\n"
	    "    --b 'c d'\n"
	    "\n"
	    "    --e\n"
	    "workers = 1\n");
	expect_ok();
	pc = cfg->pools[0];
	ck_assert_str_eq(pc->command, "/bin/prog --a --b 'c d' --e");
	ck_assert_uint_eq(pc->argc, 5);
	ck_assert_str_eq(pc->argv[3], "c d");
	ck_assert_str_eq(pc->argv[4], "--e");
}
END_TEST

START_TEST(test_continuation_lines_add_env_entries)
{
	struct pool_config	*pc;

	load("[pool:p]\n"
	    "env = A=1\n"
	    "  B=2\n"
	    "  C=three\n");
	expect_ok();
	pc = cfg->pools[0];
	ck_assert_uint_eq(pc->nenv, 3);
	ck_assert_str_eq(pc->env[0], "A=1");
	ck_assert_str_eq(pc->env[1], "B=2");
	ck_assert_str_eq(pc->env[2], "C=three");
}
END_TEST

START_TEST(test_continuation_refused_for_other_keys)
{
	load("[pool:p]\n"
	    "workers = 2\n"
	    "   3\n"
	    "stop_signal = TERM\n"
	    "\tKILL\n");
	expect_nerrors(2);
	expect_error(3, "workers: continuation lines are only allowed for "
	    "listen, env and command");
	expect_error(5, "stop_signal: continuation lines are only allowed");
	ck_assert_ptr_null(cfg);
}
END_TEST

START_TEST(test_continuation_error_in_env_names_its_own_line)
{
	load("[pool:p]\n"
	    "env = A=1\n"
	    "  MPSUP_POOL=x\n"
	    "  not an assignment\n");
	expect_nerrors(2);
	expect_error(3, "env: MPSUP_* variables are set by mpsup itself");
	expect_error(4, "env: expected KEY=VALUE");
}
END_TEST

START_TEST(test_indented_first_key_of_a_section_is_a_key)
{
	load("[pool:p]\n"
	    "   workers = 4\n"
	    "[pool:q]\n"
	    "\tprefetch = 3\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->workers, 4);
	ck_assert_int_eq(cfg->pools[1]->prefetch, 3);
}
END_TEST

/* Environment. */

START_TEST(test_repeated_env_accumulates)
{
	struct pool_config	*pc;

	load("[pool:p]\n"
	    "env = A=1\n"
	    "workers = 1\n"
	    "env = B=\n"
	    "env = C=x=y\n");
	expect_ok();
	pc = cfg->pools[0];
	ck_assert_uint_eq(pc->nenv, 3);
	ck_assert_str_eq(pc->env[0], "A=1");
	ck_assert_str_eq(pc->env[1], "B=");
	ck_assert_str_eq(pc->env[2], "C=x=y");
	ck_assert_ptr_null(pc->env[3]);
}
END_TEST

START_TEST(test_env_mpsup_names_are_refused)
{
	load("[pool:p]\n"
	    "env = MPSUP_POOL=x\n"
	    "env = MPSUP_ANYTHING=1\n"
	    "env = MPSUPX=fine\n");
	expect_nerrors(2);
	expect_error(2, "env: MPSUP_* variables are set by mpsup itself");
	expect_error(3, "env: MPSUP_* variables are set by mpsup itself");
}
END_TEST

START_TEST(test_env_bad_names_are_refused)
{
	load("[pool:p]\n"
	    "env = NOVALUE\n"
	    "env = =x\n"
	    "env = A-B=1\n"
	    "env = 1A=1\n"
	    "env = _ok9=1\n");
	expect_nerrors(4);
	expect_error(2, "env: expected KEY=VALUE");
	expect_error(3, "env: expected KEY=VALUE");
	expect_error(4, "env: bad variable name 'A-B'");
	expect_error(5, "env: bad variable name '1A'");
}
END_TEST

/* Bad values of each type. */

START_TEST(test_bad_duration_reports_key_and_line)
{
	load("[pool:p]\n"
	    "idle_timeout = 10d\n"
	    "job_timeout = soon\n"
	    "stop_timeout = -1s\n");
	expect_nerrors(3);
	expect_error(2, "idle_timeout: unknown duration unit");
	expect_error(3, "job_timeout: expected a duration");
	expect_error(4, "stop_timeout: expected a duration");
}
END_TEST

START_TEST(test_listener_limits_are_checked)
{
	load("[supervisor]\n"
	    "auth_timeout = 0\n"
	    "max_unsent = 1K\n"
	    "auth_failures = -1\n"
	    "max_handshakes_per_address = -2\n"
	    "[pool:p]\n");
	expect_nerrors(4);
	expect_error(2, "auth_timeout: must be longer than 0");
	expect_error(3, "max_unsent: must be between");
	expect_error(4, "auth_failures: must not be negative");
	expect_error(5, "max_handshakes_per_address: must not be negative");
}
END_TEST

START_TEST(test_listener_limits_are_parsed)
{
	load("[supervisor]\n"
	    "auth_timeout = 250ms\n"
	    "max_unsent = 2M\n"
	    "auth_failures = 0\n"
	    "max_handshakes_per_address = 0\n"
	    "[pool:p]\n");
	expect_ok();
	ck_assert_double_eq_tol(cfg->auth_timeout, 0.25, 1e-9);
	ck_assert_uint_eq(cfg->max_unsent, 2u << 20);
	ck_assert_int_eq(cfg->auth_failures, 0);
	ck_assert_int_eq(cfg->max_handshakes, 0);
}
END_TEST

START_TEST(test_bad_supervisor_durations_are_refused)
{
	load("[supervisor]\n"
	    "result_ttl = 1y\n"
	    "shutdown_timeout = 9999h\n"
	    "[pool:p]\n");
	expect_nerrors(2);
	expect_error(2, "result_ttl: unknown duration unit");
	expect_error(3, "shutdown_timeout: duration too long");
}
END_TEST

START_TEST(test_bad_size_reports_key_and_line)
{
	load("[pool:p]\n"
	    "capture_max = 1T\n"
	    "[supervisor]\n"
	    "max_message = lots\n");
	expect_nerrors(2);
	expect_error(2, "capture_max: unknown size suffix");
	expect_error(4, "max_message: expected a size");
}
END_TEST

START_TEST(test_size_outside_key_range_is_refused)
{
	load("[supervisor]\n"
	    "log_max_line = 100\n"
	    "max_message = 4G\n"
	    "[pool:p]\n"
	    "capture_max = 2G\n");
	expect_nerrors(3);
	expect_error(2, "log_max_line: must be between 256 and 1073741824 "
	    "bytes");
	expect_error(3, "max_message: must be between 1024 and 2147483648 "
	    "bytes");
	expect_error(5, "capture_max: must be between 0 and 1073741824 bytes");
}
END_TEST

START_TEST(test_size_at_key_limits_is_accepted)
{
	load("[supervisor]\n"
	    "log_max_line = 256\n"
	    "max_message = 2G\n"
	    "[pool:p]\n"
	    "capture_max = 0\n");
	expect_ok();
	ck_assert_uint_eq(cfg->log_max_line, 256);
	ck_assert_uint_eq(cfg->max_message, 2ULL << 30);
	ck_assert_uint_eq(cfg->pools[0]->capture_max, 0);
}
END_TEST

START_TEST(test_file_modes_default_to_0600_and_take_octal)
{
	load("[supervisor]\n[pool:p]\n");
	expect_ok();
	ck_assert_int_eq(cfg->log_mode, 0600);
	ck_assert_int_eq(cfg->store_mode, 0600);
	load("[supervisor]\n"
	    "log_mode = 0640\n"
	    "store_mode = 660\n"
	    "[pool:p]\n");
	expect_ok();
	ck_assert_int_eq(cfg->log_mode, 0640);
	ck_assert_int_eq(cfg->store_mode, 0660);
}
END_TEST

START_TEST(test_bad_file_modes_report_key_and_line)
{
	load("[supervisor]\n"
	    "log_mode = 0644x\n"
	    "store_mode = 0755\n"
	    "[pool:p]\n");
	expect_nerrors(2);
	expect_error(2, "log_mode: expected an octal file mode such as 0600");
	expect_error(3, "store_mode: execute bits make no sense");
	load("[supervisor]\n"
	    "log_mode = 0800\n"
	    "store_mode = 4600\n"
	    "[pool:p]\n");
	expect_nerrors(2);
	expect_error(2, "log_mode: expected an octal file mode");
	expect_error(3, "store_mode: only permission bits are allowed");
	load("[supervisor]\n"
	    "log_mode =\n"
	    "store_mode = 00600\n"
	    "[pool:p]\n");
	expect_nerrors(2);
	expect_error(2, "log_mode: expected an octal file mode");
	expect_error(3, "store_mode: expected an octal file mode");
}
END_TEST

START_TEST(test_workers_out_of_range_is_refused)
{
	load("[pool:a]\n"
	    "workers = -1\n"
	    "[pool:b]\n"
	    "workers = 4097\n"
	    "[pool:c]\n"
	    "workers = many\n"
	    "[pool:d]\n"
	    "workers = 4096\n"
	    "[pool:e]\n"
	    "workers = 0\n");
	expect_nerrors(4);
	expect_error(2, "workers: must not be negative");
	expect_error(4, "workers: number too large");
	/* Only a cluster node may have a pool without workers (a gateway). */
	expect_error(10, "workers = 0: only a cluster node may have a pool "
	    "without workers");
	expect_error(6, "workers: expected a whole number");
}
END_TEST

START_TEST(test_int_keys_check_their_ranges)
{
	load("[pool:p]\n"
	    "prefetch = 4097\n"
	    "max_queue = 0\n"
	    "max_attempts = 1001\n"
	    "max_jobs_per_worker = -1\n"
	    "idle_timeout = 0\n"
	    "[supervisor]\n"
	    "result_max = 100000001\n"
	    "max_connections = 0\n");
	expect_nerrors(6);
	expect_error(2, "prefetch: number too large");
	expect_error(3, "max_queue: number too small");
	expect_error(4, "max_attempts: number too large");
	expect_error(5, "max_jobs_per_worker: must not be negative");
	expect_error(8, "result_max: number too large");
	expect_error(9, "max_connections: number too small");
}
END_TEST

START_TEST(test_bad_bool_is_refused)
{
	load("[supervisor]\n"
	    "legacy_md5 = maybe\n"
	    "[pool:p]\n");
	expect_only_error(2, "legacy_md5: expected yes or no");
}
END_TEST

START_TEST(test_bad_signal_is_refused)
{
	load_pool_key("stop_signal = SIGFOO");
	expect_only_error(2, "stop_signal: unknown signal");
}
END_TEST

START_TEST(test_signal_by_number_is_accepted)
{
	load_pool_key("stop_signal = 3");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->stop_signal, 3);
}
END_TEST

START_TEST(test_bad_choices_list_the_allowed_values)
{
	load("[supervisor]\n"
	    "log_format = xml\n"
	    "store_sync = sometimes\n"
	    "[pool:p]\n"
	    "type = fork\n"
	    "output = file\n"
	    "job_fds = 5,6\n");
	expect_nerrors(5);
	expect_error(2, "log_format: 'xml' is not one of text, json");
	expect_error(3, "store_sync: 'sometimes' is not one of normal, full");
	expect_error(5, "type: 'fork' is not one of exec, stream");
	expect_error(6, "output: 'file' is not one of log, capture, both");
	expect_error(7, "job_fds: '5,6' is not one of stdio, 3,4");
}
END_TEST

START_TEST(test_choices_are_case_sensitive)
{
	load_pool_key("type = Stream");
	expect_only_error(2, "type: 'Stream' is not one of exec, stream");
}
END_TEST

START_TEST(test_bad_listen_addresses_are_refused)
{
	load("[supervisor]\n"
	    "listen = nohost, ::1:7300, 127.0.0.1:0, host:99999, "
	    "[::1]7300, 127.0.0.1:7300\n"
	    "[pool:p]\n");
	expect_nerrors(5);
	expect_error(2, "listen: 'nohost': expected HOST:PORT");
	expect_error(2, "listen: '::1:7300': IPv6 addresses need brackets");
	expect_error(2, "listen: '127.0.0.1:0': port must be a number from 1 "
	    "to 65535");
	expect_error(2, "listen: 'host:99999': port must be");
	expect_error(2, "listen: '[::1]7300': expected [V6ADDR]:PORT");
}
END_TEST

START_TEST(test_listen_socket_path_too_long_is_refused)
{
	char	*line, *text;

	/* tmpdir + '/' + name: 107 bytes fit, 108 do not. */
	line = padded("listen = unix:", 14 + 106 - strlen(tmpdir), 's');
	if (asprintf(&text, "[supervisor]\n%s\n[pool:p]\n", line) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(line);
	expect_ok();
	ck_assert_uint_eq(strlen(cfg->listen[0]), 5 + 107);

	line = padded("listen = unix:", 14 + 107 - strlen(tmpdir), 's');
	if (asprintf(&text, "[supervisor]\n%s\n[pool:p]\n", line) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(line);
	expect_only_error(2, "listen: socket path too long (at most 107 "
	    "bytes)");
}
END_TEST

START_TEST(test_listen_empty_items_and_empty_unix_path_are_refused)
{
	load("[supervisor]\n"
	    "listen = 127.0.0.1:1,,127.0.0.1:2\n"
	    "  unix:\n"
	    "[pool:p]\n");
	expect_nerrors(2);
	expect_error(2, "listen: empty item in comma-separated list");
	expect_error(3, "listen: unix: needs a path");
}
END_TEST

START_TEST(test_empty_listen_means_no_listener)
{
	load_supervisor_key("listen =");
	expect_ok();
	ck_assert_uint_eq(cfg->nlisten, 0);
	ck_assert_ptr_null(cfg->listen);
}
END_TEST

START_TEST(test_empty_status_turns_monitoring_off)
{
	load_supervisor_key("status =");
	expect_ok();
	ck_assert_ptr_null(cfg->status);
}
END_TEST

START_TEST(test_bad_status_address_is_refused)
{
	load_supervisor_key("status = localhost");
	expect_only_error(2, "status: 'localhost': expected HOST:PORT");
}
END_TEST

START_TEST(test_status_hosts_are_split_and_lowercased)
{
	load_supervisor_key("status_hosts = Example.ORG, [::1] ,mon-1.lan");
	expect_ok();
	ck_assert_uint_eq(cfg->nstatus_hosts, 3);
	ck_assert_str_eq(cfg->status_hosts[0], "example.org");
	ck_assert_str_eq(cfg->status_hosts[1], "[::1]");
	ck_assert_str_eq(cfg->status_hosts[2], "mon-1.lan");
	load_supervisor_key("status = 127.0.0.1:1");
	expect_ok();
	ck_assert_ptr_null(cfg->status_hosts);
	ck_assert_uint_eq(cfg->nstatus_hosts, 0);
}
END_TEST

START_TEST(test_bad_status_hosts_are_refused)
{
	load_supervisor_key("status_hosts =");
	expect_only_error(2, "status_hosts: give one or more host names");
	load_supervisor_key("status_hosts = localhost:7301");
	expect_only_error(2, "status_hosts: 'localhost:7301': give the host "
	    "without its port");
	load_supervisor_key("status_hosts = a,,b");
	expect_only_error(2, "status_hosts: empty host name");
	load_supervisor_key("status_hosts = ::1");
	expect_only_error(2, "status_hosts: '::1': IPv6 addresses need "
	    "brackets");
	load_supervisor_key("status_hosts = [::1");
	expect_only_error(2, "status_hosts: '[::1': expected [V6ADDR]");
	load_supervisor_key("status_hosts = [zz]");
	expect_only_error(2, "status_hosts: '[zz]': expected [V6ADDR]");
	load_supervisor_key("status_hosts = ex ample");
	expect_only_error(2, "status_hosts: 'ex ample': a host name has only "
	    "letters, digits, '-', '_' and '.'");
}
END_TEST

START_TEST(test_bad_store_is_refused)
{
	load_supervisor_key("store = redis://x");
	expect_only_error(2, "store: expected memory or sqlite:PATH");
	load_supervisor_key("store = sqlite:");
	expect_only_error(2, "store: expected memory or sqlite:PATH");
}
END_TEST

/* Stream and exec pools. */

START_TEST(test_stream_pool_without_command_is_refused)
{
	load("[pool:ok]\n"
	    "[pool:s]\n"
	    "type = stream\n"
	    "workers = 1\n");
	expect_only_error(2, "pool 's': missing 'command' (required for "
	    "stream pools)");
}
END_TEST

START_TEST(test_stream_pool_with_empty_command_is_refused)
{
	load("[pool:s]\n"
	    "type = stream\n"
	    "command =\n");
	expect_only_error(1, "pool 's': missing 'command'");
}
END_TEST

START_TEST(test_exec_pool_with_command_is_refused)
{
	load("[pool:e]\n"
	    "workers = 1\n"
	    "command = /bin/true\n");
	expect_only_error(3, "command: not used by exec pools");
}
END_TEST

START_TEST(test_type_after_command_still_counts)
{
	load("[pool:s]\n"
	    "command = /bin/cat\n"
	    "type = stream\n");
	expect_ok();
	ck_assert_str_eq(cfg->pools[0]->argv[0], "/bin/cat");
}
END_TEST

START_TEST(test_command_with_bad_quoting_names_its_line)
{
	load("[pool:s]\n"
	    "type = stream\n"
	    "command = worker 'unterminated\n");
	expect_only_error(3, "command: unterminated quote");
}
END_TEST

START_TEST(test_job_fds_on_exec_pool_is_refused)
{
	load("[pool:e]\n"
	    "job_fds = 3,4\n");
	expect_only_error(1, "pool 'e': job_fds applies to stream pools only");
}
END_TEST

/* Relative paths. */

START_TEST(test_relative_paths_resolve_against_config_folder)
{
	char	want[PATH_MAX + 32];

	make_dir("work");
	load("[supervisor]\n"
	    "authkey_file = keys/authkey\n"
	    "admin_authkey_file = /abs/admin\n"
	    "log = logs/mpsup.log\n"
	    "listen = unix:run/s.sock, unix:/abs.sock\n"
	    "store = sqlite:data/q.db\n"
	    "status_token_file = tok\n"
	    "[pool:p]\n"
	    "type = stream\n"
	    "command = bin/worker --x a/b\n"
	    "cwd = work\n");
	expect_ok();
	ck_assert_str_eq(cfg->authkey_file, in_tmp("keys/authkey"));
	ck_assert_str_eq(cfg->admin_authkey_file, "/abs/admin");
	ck_assert_str_eq(cfg->log, in_tmp("logs/mpsup.log"));
	snprintf(want, sizeof want, "unix:%s", in_tmp("run/s.sock"));
	ck_assert_str_eq(cfg->listen[0], want);
	ck_assert_str_eq(cfg->listen[1], "unix:/abs.sock");
	snprintf(want, sizeof want, "sqlite:%s", in_tmp("data/q.db"));
	ck_assert_str_eq(cfg->store, want);
	ck_assert_str_eq(cfg->status_token_file, in_tmp("tok"));
	ck_assert_str_eq(cfg->pools[0]->cwd, in_tmp("work"));
	ck_assert_str_eq(cfg->pools[0]->argv[0], in_tmp("bin/worker"));
	/* Only the program is resolved, not its arguments. */
	ck_assert_str_eq(cfg->pools[0]->argv[2], "a/b");
	ck_assert_str_eq(cfg->pools[0]->command, "bin/worker --x a/b");
}
END_TEST

/* The admin token: a file of its own, and only with the endpoint on. */
START_TEST(test_status_admin_token_file_is_checked)
{
	load("[supervisor]\n"
	    "status_token_file = tok\n"
	    "status_admin_token_file = admin\n"
	    "[pool:p]\n"
	    "type = exec\n");
	expect_ok();
	ck_assert_str_eq(cfg->status_admin_token_file, in_tmp("admin"));
	load("[supervisor]\n"
	    "status_token_file = tok\n"
	    "status_admin_token_file = tok\n"
	    "[pool:p]\n"
	    "type = exec\n");
	expect_only_error(3, "status_admin_token_file: the same file as "
	    "status_token_file");
	load("[supervisor]\n"
	    "status =\n"
	    "status_admin_token_file = admin\n"
	    "[pool:p]\n"
	    "type = exec\n");
	expect_only_error(3, "status_admin_token_file: the HTTP endpoint is "
	    "off");
}
END_TEST

START_TEST(test_bare_and_absolute_commands_are_kept)
{
	load("[pool:a]\n"
	    "type = stream\n"
	    "command = python3 w.py\n"
	    "[pool:b]\n"
	    "type = stream\n"
	    "command = /usr/bin/env x\n"
	    "[pool:c]\n"
	    "type = stream\n"
	    "command = ./w\n");
	expect_ok();
	ck_assert_str_eq(cfg->pools[0]->argv[0], "python3");
	ck_assert_str_eq(cfg->pools[1]->argv[0], "/usr/bin/env");
	ck_assert_str_eq(cfg->pools[2]->argv[0], in_tmp("./w"));
}
END_TEST

START_TEST(test_log_dash_means_stdout)
{
	load_supervisor_key("log = -");
	expect_ok();
	ck_assert_ptr_null(cfg->log);
}
END_TEST

START_TEST(test_cwd_that_is_a_file_is_refused)
{
	char	want[PATH_MAX + 64];

	write_bytes("plain", "x", 1);
	load_pool_key("cwd = plain");
	snprintf(want, sizeof want, "cwd: %s: not a directory",
	    in_tmp("plain"));
	expect_only_error(2, want);
}
END_TEST

START_TEST(test_cwd_that_does_not_exist_is_refused)
{
	char	want[PATH_MAX + 64];

	load_pool_key("cwd = /nonexistent-mpsup-dir");
	expect_only_error(2, "cwd: /nonexistent-mpsup-dir: No such file or "
	    "directory");
	load_pool_key("cwd = missing/sub");
	snprintf(want, sizeof want, "cwd: %s: No such file or directory",
	    in_tmp("missing/sub"));
	expect_only_error(2, want);
}
END_TEST

/* Worker counts and restart delays. */

START_TEST(test_min_and_max_workers_make_a_dynamic_pool)
{
	struct pool_config	*pc;

	load("[pool:p]\n"
	    "min_workers = 0\n"
	    "max_workers = 8\n");
	expect_ok();
	pc = cfg->pools[0];
	ck_assert_int_eq(pc->dynamic, 1);
	ck_assert_int_eq(pc->min_workers, 0);
	ck_assert_int_eq(pc->max_workers, 8);
	ck_assert_int_eq(pc->workers, 0);
}
END_TEST

START_TEST(test_equal_min_and_max_workers_are_accepted)
{
	load("[pool:p]\nmin_workers = 3\nmax_workers = 3\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->dynamic, 1);
	ck_assert_int_eq(cfg->pools[0]->workers, 3);
}
END_TEST

START_TEST(test_workers_with_min_max_is_refused)
{
	load("[pool:p]\n"
	    "min_workers = 1\n"
	    "max_workers = 4\n"
	    "workers = 2\n");
	expect_only_error(4, "workers: give either workers or min_workers "
	    "and max_workers");
}
END_TEST

START_TEST(test_min_workers_without_max_is_refused)
{
	load("[pool:p]\n"
	    "min_workers = 1\n"
	    "[pool:q]\n"
	    "max_workers = 5\n");
	expect_nerrors(2);
	expect_error(2, "dynamic pools need both min_workers and max_workers");
	expect_error(4, "dynamic pools need both min_workers and max_workers");
}
END_TEST

START_TEST(test_min_greater_than_max_is_refused)
{
	load("[pool:p]\n"
	    "max_workers = 2\n"
	    "min_workers = 3\n");
	expect_only_error(3, "min_workers is greater than max_workers");
}
END_TEST

START_TEST(test_restart_delay_longer_than_max_is_refused)
{
	load("[pool:p]\n"
	    "restart_delay = 1m\n"
	    "restart_delay_max = 30s\n"
	    "[pool:q]\n"
	    "restart_delay = 45s\n");
	expect_nerrors(2);
	expect_error(1, "pool 'p': restart_delay is longer than "
	    "restart_delay_max");
	expect_error(4, "pool 'q': restart_delay is longer than "
	    "restart_delay_max");
}
END_TEST

START_TEST(test_restart_delay_equal_to_max_is_accepted)
{
	load("[pool:p]\nrestart_delay = 30s\n");
	expect_ok();
}
END_TEST

/* Users and groups. */

START_TEST(test_known_user_and_group_are_resolved)
{
	struct passwd	*pw = getpwnam("root");

	ck_assert_ptr_nonnull(pw);
	load("[pool:p]\nuser = root\n");
	expect_ok();
	ck_assert_int_eq(cfg->pools[0]->uid, pw->pw_uid);
	ck_assert_int_eq(cfg->pools[0]->gid, pw->pw_gid);
}
END_TEST

START_TEST(test_unknown_user_is_refused)
{
	load("[pool:p]\n"
	    "workers = 1\n"
	    "user = mpsup-no-such-user\n");
	expect_only_error(1, "pool 'p': unknown user 'mpsup-no-such-user'");
}
END_TEST

START_TEST(test_unknown_group_is_refused)
{
	load("[pool:p]\n"
	    "group = mpsup-no-such-group\n");
	expect_only_error(1, "pool 'p': unknown group 'mpsup-no-such-group'");
}
END_TEST

/* Whole files. */

START_TEST(test_missing_file_cannot_be_opened)
{
	snprintf(cfgpath, sizeof cfgpath, "%s", tmp_path("absent.ini"));
	cfg = config_load(cfgpath, &errs);
	expect_only_error(0, "cannot open: No such file or directory");
}
END_TEST

START_TEST(test_empty_file_is_refused)
{
	load("");
	expect_only_error(0, "no [supervisor] or [pool:NAME] section");
}
END_TEST

START_TEST(test_file_of_only_comments_is_refused)
{
	load("; nothing here\n\n# still nothing\n");
	expect_only_error(0, "no [supervisor] or [pool:NAME] section");
}
END_TEST

START_TEST(test_supervisor_without_pools_is_refused)
{
	load("[supervisor]\nmax_connections = 4\n");
	expect_only_error(0, "no pools defined (add a [pool:NAME] section; "
	    "only a cluster node may have none)");
}
END_TEST

/* A cluster node with no pools takes them from the others (gateway). */
START_TEST(test_cluster_node_without_pools_is_a_gateway)
{
	load("[supervisor]\ncluster = redis://127.0.0.1:6379/0\n"
	    "node = gw\n");
	expect_ok();
	ck_assert_uint_eq(cfg->npools, 0);
}
END_TEST

START_TEST(test_every_error_is_reported_with_its_line)
{
	char	*text, *line;

	line = padded("command = ", 220, 'z');
	if (asprintf(&text,
	    "; all the errors at once\n"		/* 1 */
	    "[supervisor]\n"				/* 2 */
	    "listen = nohost\n"				/* 3 */
	    "legacy_md5 = perhaps\n"			/* 4 */
	    "[bogus]\n"					/* 5 */
	    "anything = 1\n"				/* 6 */
	    "[pool:a]\n"				/* 7 */
	    "type = stream\n"				/* 8 */
	    "workers = zero\n"				/* 9 */
	    "workers = 3\n"				/* 10 */
	    "%s\n"					/* 11 */
	    "frobnicate = yes\n"			/* 12 */
	    "idle_timeout = 3 weeks\n"			/* 13 */
	    "[pool:b]\n"				/* 14 */
	    "command = /bin/true\n"			/* 15 */
	    "restart_delay = 1h\n"			/* 16 */
	    "env = MPSUP_WORKER=1\n"			/* 17 */
	    "user = mpsup-no-such-user\n"		/* 18 */
	    "this line has no equals sign\n"		/* 19 */
	    "[pool:a]\n"				/* 20 */
	    "[pool:c\n",				/* 21 */
	    line) == -1)
		ck_abort_msg("asprintf");
	load(text);
	free(text);
	free(line);
	expect_nerrors(16);
	expect_error(3, "listen: 'nohost'");
	expect_error(4, "legacy_md5: expected yes or no");
	expect_error(5, "unknown section [bogus]");
	expect_error(9, "workers: expected a whole number");
	expect_error(10, "duplicate key 'workers' (first set at line 9)");
	expect_error(11, "line too long (220 bytes");
	expect_error(12, "unknown key 'frobnicate' in [pool:a]");
	expect_error(13, "idle_timeout: unknown duration unit");
	expect_error(15, "command: not used by exec pools");
	expect_error(17, "env: MPSUP_* variables");
	expect_error(19, "expected 'key = value'");
	expect_error(20, "duplicate pool 'a' (first at line 7)");
	expect_error(21, "section header without closing ']'");
	expect_error(7, "pool 'a': missing 'command'");
	expect_error(14, "pool 'b': restart_delay is longer than "
	    "restart_delay_max");
	expect_error(14, "pool 'b': unknown user 'mpsup-no-such-user'");
}
END_TEST

START_TEST(test_line_errors_come_in_file_order)
{
	char	prefix[PATH_MAX + 64];
	int	i;

	load("[pool:p]\n"
	    "a = 1\n"
	    "b = 2\n"
	    "c = 3\n"
	    "d = 4\n");
	expect_nerrors(4);
	for (i = 0; i < 4; i++) {
		snprintf(prefix, sizeof prefix, "%s:%d: unknown key '%c'",
		    cfgpath, i + 2, 'a' + i);
		ck_assert_msg(strncmp(errs.msgs[i], prefix,
		    strlen(prefix)) == 0, "error %d is \"%s\"", i,
		    errs.msgs[i]);
	}
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

#define ADD_TCASE(name) do {						\
	tc = tcase_create(name);					\
	tcase_add_unchecked_fixture(tc, tmpdir_create, tmpdir_remove);	\
	tcase_add_checked_fixture(tc, NULL, unload);			\
	suite_add_tcase(s, tc);						\
} while (0)

	ADD_TCASE("valid");
	tcase_add_test(tc, test_minimal_exec_pool_loads);
	tcase_add_test(tc, test_supervisor_defaults_match_spec);
	tcase_add_test(tc, test_pool_defaults_match_spec);
	tcase_add_test(tc, test_every_key_is_parsed_into_its_field);
	tcase_add_test(tc, test_comments_blank_lines_and_inline_comments_are_ignored);
	tcase_add_test(tc, test_colon_separates_key_and_value_too);
	tcase_add_test(tc, test_crlf_line_endings_are_accepted);
	tcase_add_test(tc, test_utf8_bom_is_accepted);
	tcase_add_test(tc, test_last_line_without_newline_is_read);
	tcase_add_test(tc, test_several_pools_keep_their_own_values);
	tcase_add_test(tc, test_same_key_in_two_pools_is_not_a_duplicate);
	tcase_add_test(tc, test_relative_config_path_is_named_as_given);
	tcase_add_test(tc, test_errors_free_empties_the_list);

	ADD_TCASE("syntax");
	tcase_add_test(tc, test_unknown_section_reports_file_and_line);
	tcase_add_test(tc, test_keys_of_an_unknown_section_are_not_reported_again);
	tcase_add_test(tc, test_unknown_key_reports_file_and_line);
	tcase_add_test(tc,
	    test_exec_pool_as_mpsups_user_refused_with_an_admin_key);
	tcase_add_test(tc, test_trusted_exec_pool_is_allowed_with_an_admin_key);
	tcase_add_test(tc,
	    test_exec_pool_of_another_user_is_allowed_with_an_admin_key);
	tcase_add_test(tc, test_one_role_needs_no_trust);
	tcase_add_test(tc, test_unknown_key_in_supervisor_section);
	tcase_add_test(tc, test_supervisor_key_in_pool_is_unknown);
	tcase_add_test(tc, test_line_without_equals_is_refused);
	tcase_add_test(tc, test_line_with_empty_key_is_refused);
	tcase_add_test(tc, test_equals_inside_inline_comment_does_not_count);
	tcase_add_test(tc, test_key_before_any_section_is_refused);
	tcase_add_test(tc, test_unterminated_section_header_is_refused);
	tcase_add_test(tc, test_text_after_section_header_is_refused);
	tcase_add_test(tc, test_bad_pool_name_is_refused);
	tcase_add_test(tc, test_pool_name_of_64_characters_is_accepted);
	tcase_add_test(tc, test_duplicate_pool_names_first_line);
	tcase_add_test(tc, test_duplicate_pool_keeps_first_definition);
	tcase_add_test(tc, test_duplicate_supervisor_section_is_refused);
	tcase_add_test(tc, test_duplicate_key_names_first_line);
	tcase_add_test(tc, test_duplicate_supervisor_key_is_refused);
	tcase_add_test(tc, test_too_many_pools_are_refused);

	ADD_TCASE("lines");
	tcase_add_test(tc, test_line_of_197_bytes_is_accepted);
	tcase_add_test(tc, test_line_of_198_bytes_is_too_long);
	tcase_add_test(tc, test_overlong_line_is_not_split_into_more_keys);
	tcase_add_test(tc, test_overlong_lines_are_each_reported);
	tcase_add_test(tc, test_nul_byte_in_a_line_is_refused);
	tcase_add_test(tc, test_continuation_lines_extend_listen);
	tcase_add_test(tc, test_continuation_lines_extend_command);
	tcase_add_test(tc, test_continuation_lines_add_env_entries);
	tcase_add_test(tc, test_continuation_refused_for_other_keys);
	tcase_add_test(tc, test_continuation_error_in_env_names_its_own_line);
	tcase_add_test(tc, test_indented_first_key_of_a_section_is_a_key);

	ADD_TCASE("values");
	tcase_add_test(tc, test_repeated_env_accumulates);
	tcase_add_test(tc, test_env_mpsup_names_are_refused);
	tcase_add_test(tc, test_env_bad_names_are_refused);
	tcase_add_test(tc, test_bad_duration_reports_key_and_line);
	tcase_add_test(tc, test_bad_supervisor_durations_are_refused);
	tcase_add_test(tc, test_listener_limits_are_checked);
	tcase_add_test(tc, test_listener_limits_are_parsed);
	tcase_add_test(tc, test_bad_size_reports_key_and_line);
	tcase_add_test(tc, test_size_outside_key_range_is_refused);
	tcase_add_test(tc, test_size_at_key_limits_is_accepted);
	tcase_add_test(tc, test_workers_out_of_range_is_refused);
	tcase_add_test(tc, test_int_keys_check_their_ranges);
	tcase_add_test(tc, test_bad_bool_is_refused);
	tcase_add_test(tc, test_bad_signal_is_refused);
	tcase_add_test(tc, test_signal_by_number_is_accepted);
	tcase_add_test(tc, test_bad_choices_list_the_allowed_values);
	tcase_add_test(tc, test_choices_are_case_sensitive);
	tcase_add_test(tc, test_bad_listen_addresses_are_refused);
	tcase_add_test(tc, test_listen_socket_path_too_long_is_refused);
	tcase_add_test(tc, test_listen_empty_items_and_empty_unix_path_are_refused);
	tcase_add_test(tc, test_empty_listen_means_no_listener);
	tcase_add_test(tc, test_empty_status_turns_monitoring_off);
	tcase_add_test(tc, test_bad_status_address_is_refused);
	tcase_add_test(tc, test_status_hosts_are_split_and_lowercased);
	tcase_add_test(tc, test_bad_status_hosts_are_refused);
	tcase_add_test(tc, test_bad_store_is_refused);

	ADD_TCASE("pools");
	tcase_add_test(tc, test_stream_pool_without_command_is_refused);
	tcase_add_test(tc, test_stream_pool_with_empty_command_is_refused);
	tcase_add_test(tc, test_exec_pool_with_command_is_refused);
	tcase_add_test(tc, test_type_after_command_still_counts);
	tcase_add_test(tc, test_command_with_bad_quoting_names_its_line);
	tcase_add_test(tc, test_job_fds_on_exec_pool_is_refused);
	tcase_add_test(tc, test_min_and_max_workers_make_a_dynamic_pool);
	tcase_add_test(tc, test_equal_min_and_max_workers_are_accepted);
	tcase_add_test(tc, test_workers_with_min_max_is_refused);
	tcase_add_test(tc, test_min_workers_without_max_is_refused);
	tcase_add_test(tc, test_min_greater_than_max_is_refused);
	tcase_add_test(tc, test_restart_delay_longer_than_max_is_refused);
	tcase_add_test(tc, test_restart_delay_equal_to_max_is_accepted);
	tcase_add_test(tc, test_known_user_and_group_are_resolved);
	tcase_add_test(tc, test_unknown_user_is_refused);
	tcase_add_test(tc, test_unknown_group_is_refused);

	ADD_TCASE("paths");
	tcase_add_test(tc, test_relative_paths_resolve_against_config_folder);
	tcase_add_test(tc, test_bare_and_absolute_commands_are_kept);
	tcase_add_test(tc, test_status_admin_token_file_is_checked);
	tcase_add_test(tc, test_log_dash_means_stdout);
	tcase_add_test(tc, test_cwd_that_is_a_file_is_refused);
	tcase_add_test(tc, test_cwd_that_does_not_exist_is_refused);

	ADD_TCASE("files");
	tcase_add_test(tc, test_missing_file_cannot_be_opened);
	tcase_add_test(tc, test_empty_file_is_refused);
	tcase_add_test(tc, test_file_of_only_comments_is_refused);
	tcase_add_test(tc, test_supervisor_without_pools_is_refused);
	tcase_add_test(tc, test_cluster_node_without_pools_is_a_gateway);
	tcase_add_test(tc, test_file_modes_default_to_0600_and_take_octal);
	tcase_add_test(tc, test_bad_file_modes_report_key_and_line);
	tcase_add_test(tc, test_every_error_is_reported_with_its_line);
	tcase_add_test(tc, test_line_errors_come_in_file_order);
#undef ADD_TCASE
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
