/*
 * Unit tests for the job store: the memory store, and the SQLite store's
 * schema, writes, group commit, recovery order, pruning, lock and faults.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor/store.h"

static char	dir[64];
static char	path[128];
static char	spec[160];

static void
setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/jobs.db", dir);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
}

static void
teardown(void)
{
	char	cmd[200];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static struct store_record
record(const char *id, int state, const char *data)
{
	struct store_record	r;

	memset(&r, 0, sizeof r);
	snprintf(r.id, sizeof r.id, "%s", id);
	r.pool = "p";
	r.state = state;
	r.worker = -1;
	r.submitted_at = 1000.0;
	r.data = data;
	r.data_len = strlen(data);
	return r;
}

/* What store_load() gave, in order. */
struct loaded {
	char	ids[16][17];
	int	states[16];
	char	keys[16][32];
	char	results[16][32];
	int	attempts[16];
	int	n;
};

static void
load_cb(const struct store_record *r, void *arg)
{
	struct loaded	*l = arg;

	ck_assert_int_lt(l->n, 16);
	memcpy(l->ids[l->n], r->id, 17);
	l->states[l->n] = r->state;
	l->attempts[l->n] = (int)r->attempts;
	snprintf(l->keys[l->n], 32, "%s", r->key ? r->key : "");
	snprintf(l->results[l->n], 32, "%s", r->result ? r->result : "");
	l->n++;
}

static struct store *
open_ok(void)
{
	struct store	*st;
	char		*cause = NULL;

	st = store_open(spec, 0, &cause);
	if (st == NULL)
		ck_abort_msg("store_open: %s", cause);
	return st;
}

START_TEST(test_memory_store_keeps_nothing_and_never_fails)
{
	struct store		*st;
	struct store_record	 r = record("0000000000000001", 0, "1");
	struct loaded		 l = { .n = 0 };
	char			*cause = NULL;

	st = store_open("memory", 0, &cause);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_durable(st), 0);
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_load(st, 0, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 0);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_creates_a_versioned_schema_in_wal_mode)
{
	struct store	*st = open_ok();
	sqlite3		*db;
	sqlite3_stmt	*s;

	ck_assert_int_eq(store_durable(st), 1);
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), STORE_SCHEMA_VERSION);
	sqlite3_finalize(s);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_sqlite_unknown_schema_version_is_refused)
{
	struct store	*st;
	sqlite3		*db;
	char		*cause = NULL;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(spec, 0, &cause);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(cause, "schema version 99"));
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
}
END_TEST

START_TEST(test_sqlite_writes_are_seen_only_after_commit)
{
	struct store		*st = open_ok();
	struct store_record	 r = record("0000000000000001", 0, "{\"a\":1}");
	struct loaded		 l = { .n = 0 };
	char			*cause = NULL;

	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	store_rollback(st);
	ck_assert_int_eq(store_load(st, 0, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 0);
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	store_close(st);

	st = open_ok();
	ck_assert_int_eq(store_load(st, 0, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.ids[0], "0000000000000001");
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_update_and_delete_change_what_is_loaded)
{
	struct store		*st = open_ok();
	struct store_record	 a = record("0000000000000001", 0, "1");
	struct store_record	 b = record("0000000000000002", 0, "2");
	struct loaded		 q = { .n = 0 }, f = { .n = 0 };
	char			*cause = NULL;

	a.key = "order-1";
	ck_assert_int_eq(store_insert(st, &a, &cause), 0);
	ck_assert_int_eq(store_insert(st, &b, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	/* a ran and finished; b was deleted (pruned). */
	a.state = 2;
	a.attempts = 1;
	a.finished_at = 1001.0;
	a.result = "\"ok\"";
	ck_assert_int_eq(store_update(st, &a, &cause), 0);
	ck_assert_int_eq(store_delete(st, b.id, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_load(st, 0, load_cb, &q, &cause), 0);
	ck_assert_int_eq(store_load(st, 1, load_cb, &f, &cause), 0);
	ck_assert_int_eq(q.n, 0);
	ck_assert_int_eq(f.n, 1);
	ck_assert_int_eq(f.states[0], 2);
	ck_assert_int_eq(f.attempts[0], 1);
	ck_assert_str_eq(f.keys[0], "order-1");
	ck_assert_str_eq(f.results[0], "\"ok\"");
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_recovery_loads_unfinished_in_id_order)
{
	static const char *const ids[] = { "00000000000000c3",
	    "00000000000000a1", "00000000000000b2" };
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l = { .n = 0 };
	char			*cause = NULL;
	int			 i;

	for (i = 0; i < 3; i++) {
		r = record(ids[i], i == 1 ? 1 : 0, "x");
		r.attempts = i == 1 ? 1 : 0;
		ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	}
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_load(st, 0, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.ids[0], "00000000000000a1");
	ck_assert_str_eq(l.ids[1], "00000000000000b2");
	ck_assert_str_eq(l.ids[2], "00000000000000c3");
	/* The running one comes back as running, its attempt counted. */
	ck_assert_int_eq(l.states[0], 1);
	ck_assert_int_eq(l.attempts[0], 1);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_prune_deletes_only_old_finished_records)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 f = { .n = 0 }, q = { .n = 0 };
	char			*cause = NULL;

	r = record("0000000000000001", 2, "x");
	r.finished_at = 100.0;
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	r = record("0000000000000002", 3, "x");
	r.finished_at = 300.0;
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	r = record("0000000000000003", 0, "x");
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_prune(st, 200.0, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_load(st, 1, load_cb, &f, &cause), 0);
	ck_assert_int_eq(store_load(st, 0, load_cb, &q, &cause), 0);
	ck_assert_int_eq(f.n, 1);
	ck_assert_str_eq(f.ids[0], "0000000000000002");
	ck_assert_int_eq(q.n, 1);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_second_open_is_refused_naming_the_holder)
{
	struct store	*st = open_ok(), *again;
	char		*cause = NULL, pid[32];

	again = store_open(spec, 0, &cause);
	ck_assert_ptr_null(again);
	snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
	ck_assert_ptr_nonnull(strstr(cause, "in use by another mpsup"));
	ck_assert_ptr_nonnull(strstr(cause, pid));
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
	store_close(st);
	/* Released on close. */
	st = open_ok();
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_lock_file_is_close_on_exec)
{
	struct store	*st = open_ok();
	char		 lpath[160], link[64], target[200];
	int		 fd, found = 0;
	ssize_t		 n;

	snprintf(lpath, sizeof lpath, "%s.lock", path);
	for (fd = 3; fd < 256; fd++) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		if ((n = readlink(link, target, sizeof target - 1)) <= 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, lpath) != 0 && strcmp(target, path) != 0)
			continue;
		ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
		found++;
	}
	ck_assert_int_ge(found, 2);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_corrupt_file_is_refused_with_the_sqlite_message)
{
	struct store	*st;
	char		*cause = NULL;
	FILE		*f;
	int		 i;

	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (i = 0; i < 200; i++)
		fputs("not a database at all ", f);
	fclose(f);
	st = store_open(spec, 0, &cause);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(cause, path));
	ck_assert_ptr_nonnull(strstr(cause, "file is not a database"));
	free(cause);
}
END_TEST

START_TEST(test_sqlite_unopenable_path_is_an_error_naming_it)
{
	struct store	*st;
	char		*cause = NULL;

	st = store_open("sqlite:/nonexistent-dir/x/jobs.db", 0, &cause);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(cause, "/nonexistent-dir/x/jobs.db"));
	free(cause);
}
END_TEST

/*
 * A full disk, made with RLIMIT_FSIZE (writes past it fail with EFBIG):
 * the commit fails cleanly, nothing of it is kept, and the store works
 * again once there is room.
 */
START_TEST(test_sqlite_commit_on_a_full_disk_fails_and_keeps_nothing)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l = { .n = 0 };
	struct rlimit		 lim, old;
	struct stat		 sb;
	char			*cause = NULL, *big;
	int			 rc;

	signal(SIGXFSZ, SIG_IGN);
	r = record("0000000000000001", 0, "small");
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	big = malloc(4 << 20);
	memset(big, 'x', 4 << 20);
	big[(4 << 20) - 1] = '\0';
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 1 << 20;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = record("0000000000000002", 0, big);
	rc = store_insert(st, &r, &cause);
	if (rc == 0)
		rc = store_commit(st, &cause);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
	cause = NULL;
	store_rollback(st);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(store_load(st, 0, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 1);
	r = record("0000000000000003", 0, "again");
	ck_assert_int_eq(store_insert(st, &r, &cause), 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	free(big);
	store_close(st);
}
END_TEST

START_TEST(test_not_memory_nor_sqlite_is_refused)
{
	char	*cause = NULL;

	ck_assert_ptr_null(store_open("redis:x", 0, &cause));
	ck_assert_ptr_nonnull(strstr(cause, "redis:x"));
	free(cause);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite	*s = suite_create("store");
	TCase	*tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_memory_store_keeps_nothing_and_never_fails);
	tcase_add_test(tc, test_sqlite_creates_a_versioned_schema_in_wal_mode);
	tcase_add_test(tc, test_sqlite_unknown_schema_version_is_refused);
	tcase_add_test(tc, test_sqlite_writes_are_seen_only_after_commit);
	tcase_add_test(tc, test_sqlite_update_and_delete_change_what_is_loaded);
	tcase_add_test(tc, test_sqlite_recovery_loads_unfinished_in_id_order);
	tcase_add_test(tc, test_sqlite_prune_deletes_only_old_finished_records);
	tcase_add_test(tc, test_sqlite_second_open_is_refused_naming_the_holder);
	tcase_add_test(tc, test_sqlite_lock_file_is_close_on_exec);
	tcase_add_test(tc,
	    test_sqlite_corrupt_file_is_refused_with_the_sqlite_message);
	tcase_add_test(tc, test_sqlite_unopenable_path_is_an_error_naming_it);
	tcase_add_test(tc,
	    test_sqlite_commit_on_a_full_disk_fails_and_keeps_nothing);
	tcase_add_test(tc, test_not_memory_nor_sqlite_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(store_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
