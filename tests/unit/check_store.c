/*
 * Unit tests for the job store: the memory store, and the SQLite store's
 * schema, segments (newest record wins, dead ones deleted), recovery
 * order, lock and faults.
 */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "store/store.h"
#include "store/sqlite_api.h"
#include "store/store_ckpt.h"
#include "store/job.h"
#include "store/store_codec.h"
#include "store/store_sqlite_vfs.h"

static char	dir[64];
static char	path[128];
static char	spec[160];

static void
setup(void)
{
	char	*cause = NULL;

	snprintf(dir, sizeof dir, "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/jobs.db", dir);
	snprintf(spec, sizeof spec, "sqlite:%s", path);
	/* As a store's open would: some tests use its VFS or checkpoint
	 * thread alone, which call SQLite through sqlite_api.h. */
	ck_assert_int_eq(sqlite_api_load(&cause), 0);
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
	char		ids[16][17];
	int		states[16];
	char		keys[16][32];
	char		results[16][32];
	char		data[16][32];
	int		attempts[16];
	uint64_t	segs[16];
	uint64_t	bases[16];
	int		n;
};

static void
load_cb(const struct store_record *r, void *arg)
{
	struct loaded	*l = arg;

	ck_assert_int_lt(l->n, 16);
	memcpy(l->ids[l->n], r->id, 17);
	l->states[l->n] = r->state;
	l->attempts[l->n] = (int)r->attempts;
	l->segs[l->n] = r->seg;
	l->bases[l->n] = r->base_seg;
	snprintf(l->keys[l->n], 32, "%s", r->key ? r->key : "");
	snprintf(l->results[l->n], 32, "%s", r->result ? r->result : "");
	snprintf(l->data[l->n], 32, "%.*s", (int)r->data_len, r->data);
	l->n++;
}

static struct store *
open_ok(void)
{
	struct store	*st;
	char		*cause = NULL;

	st = store_open(spec, 0, 0600, &cause);
	if (st == NULL)
		ck_abort_msg("store_open: %s", cause);
	return st;
}

/* Put one record; its segment. */
static uint64_t
put_ok(struct store *st, const struct store_record *r)
{
	uint64_t	 seg = 0;
	char		*cause = NULL;

	if (store_put(st, r, &seg, &cause) == -1)
		ck_abort_msg("store_put: %s", cause);
	return seg;
}

static void
commit_ok(struct store *st)
{
	char	*cause = NULL;

	if (store_commit(st, &cause) == -1)
		ck_abort_msg("store_commit: %s", cause);
}

/* Close, open again and load: what a restart would see. */
static struct store *
reload(struct store *st, struct loaded *l)
{
	char	*cause = NULL;

	store_close(st);
	st = open_ok();
	memset(l, 0, sizeof *l);
	if (store_load(st, 1000, load_cb, l, &cause) == -1)
		ck_abort_msg("store_load: %s", cause);
	return st;
}

/* Rows in the segments table, read with SQLite directly. */
static int
segment_rows(void)
{
	sqlite3		*db;
	sqlite3_stmt	*s;
	int		 n;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
	    "segments", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

START_TEST(test_memory_store_keeps_nothing_and_never_fails)
{
	struct store		*st;
	struct store_record	 r = record("0000000000000001", 0, "1");
	struct loaded		 l = { .n = 0 };
	uint64_t		 seg = 99;
	char			*cause = NULL;

	st = store_open("memory", 0, 0600, &cause);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_durable(st), 0);
	ck_assert_int_eq(store_put(st, &r, &seg, &cause), 0);
	ck_assert_uint_eq(seg, 0);
	ck_assert_int_eq(store_commit(st, &cause), 0);
	ck_assert_int_eq(store_load(st, 1000, load_cb, &l, &cause), 0);
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

/* A database of schema version v is refused with a cause saying want. */
static void
refused_at_version(int v, const char *want)
{
	struct store	*st;
	sqlite3		*db;
	char		*cause = NULL, sql[64];

	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = store_open(spec, 0, 0600, &cause);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(strstr(cause, want));
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
}

START_TEST(test_sqlite_unknown_schema_version_is_refused)
{
	refused_at_version(99, "schema version 99");
}
END_TEST

/* A version 2 log (no start deltas) is read as is and marked 3. */
START_TEST(test_sqlite_schema_version_2_is_read_and_marked_3)
{
	struct store		*st = open_ok();
	struct store_record	 a = record("0000000000000001", 0, "v2");
	struct loaded		 l;
	sqlite3			*db;
	sqlite3_stmt		*s;

	put_ok(st, &a);
	commit_ok(st);
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA user_version = 2", NULL,
	    NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = reload(open_ok(), &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.data[0], "v2");
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 3);
	sqlite3_finalize(s);
	sqlite3_close(db);
}
END_TEST

START_TEST(test_sqlite_writes_are_seen_only_after_commit)
{
	struct store		*st = open_ok();
	struct store_record	 r = record("0000000000000001", 0, "{\"a\":1}");
	struct loaded		 l;

	put_ok(st, &r);
	store_rollback(st);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 0);
	put_ok(st, &r);
	commit_ok(st);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.ids[0], "0000000000000001");
	ck_assert_str_eq(l.data[0], "{\"a\":1}");
	store_close(st);
}
END_TEST

/*
 * One commit, one segment: a job's newer record supersedes its older
 * one, and a segment none of whose records matter any more is deleted.
 */
START_TEST(test_sqlite_newest_record_wins_and_dead_segments_go)
{
	struct store		*st = open_ok();
	struct store_record	 a = record("0000000000000001", 0, "1");
	struct store_record	 b = record("0000000000000002", 0, "2");
	struct loaded		 l;
	uint64_t		 s1, s2;

	a.key = "order-1";
	s1 = put_ok(st, &a);
	ck_assert_uint_eq(put_ok(st, &b), s1);
	commit_ok(st);
	/* a ran and finished; b is still queued: s1 keeps b. */
	a.state = 2;
	a.attempts = 1;
	a.finished_at = 1001.0;
	a.result = "\"ok\"";
	s2 = put_ok(st, &a);
	ck_assert_uint_gt(s2, s1);
	commit_ok(st);
	store_release(st, s1);
	ck_assert_int_eq(store_has_garbage(st), 0);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 2);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.ids[0], "0000000000000001");	/* finished first */
	ck_assert_int_eq(l.states[0], 2);
	ck_assert_int_eq(l.attempts[0], 1);
	ck_assert_str_eq(l.keys[0], "order-1");
	ck_assert_str_eq(l.results[0], "\"ok\"");
	ck_assert_uint_eq(l.segs[0], s2);
	ck_assert_str_eq(l.ids[1], "0000000000000002");
	ck_assert_int_eq(l.states[1], 0);
	ck_assert_uint_eq(l.segs[1], s1);
	/* b is pruned: nothing in s1 matters, the next commit drops it. */
	store_release(st, s1);
	ck_assert_int_eq(store_has_garbage(st), 1);
	commit_ok(st);
	ck_assert_int_eq(store_has_garbage(st), 0);
	ck_assert_int_eq(segment_rows(), 1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.ids[0], "0000000000000001");
	store_close(st);
}
END_TEST

/* At load, a segment whose records were all superseded is garbage. */
START_TEST(test_sqlite_load_finds_fully_superseded_segments)
{
	struct store		*st = open_ok();
	struct store_record	 a = record("0000000000000001", 0, "1");
	struct loaded		 l;

	put_ok(st, &a);
	commit_ok(st);
	a.state = 1;
	a.attempts = 1;
	put_ok(st, &a);
	commit_ok(st);
	/* Stopped before it released the first segment (as a crash would). */
	ck_assert_int_eq(segment_rows(), 2);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(l.states[0], 1);
	ck_assert_int_eq(store_has_garbage(st), 1);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 1);
	store_close(st);
}
END_TEST

static struct store *releasing;

/* A load callback that prunes every finished record it is given. */
static void
release_finished_cb(const struct store_record *r, void *arg)
{
	load_cb(r, arg);
	if (r->state >= 2)
		store_release(releasing, r->seg);
}

/* Records released while they are being loaded free their segments. */
START_TEST(test_sqlite_release_during_load_frees_segments)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l = { .n = 0 };
	char			*cause = NULL;

	r = record("0000000000000001", 2, "");
	put_ok(st, &r);
	r = record("0000000000000002", 3, "");
	put_ok(st, &r);
	commit_ok(st);
	r = record("0000000000000003", 0, "q");
	put_ok(st, &r);
	commit_ok(st);
	store_close(st);
	ck_assert_int_eq(segment_rows(), 2);
	releasing = st = open_ok();
	ck_assert_int_eq(store_load(st, 1000, release_finished_cb, &l, &cause),
	    0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_int_eq(store_has_garbage(st), 1);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.ids[0], "0000000000000003");
	store_close(st);
}
END_TEST

/* Only the newest max_finished finished records come back. */
START_TEST(test_sqlite_load_skips_finished_records_past_the_maximum)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l = { .n = 0 };
	char			*cause = NULL;

	r = record("0000000000000001", 2, "");
	r.finished_at = 100.0;
	put_ok(st, &r);
	r = record("0000000000000002", 2, "");
	r.finished_at = 200.0;
	put_ok(st, &r);
	commit_ok(st);
	r = record("0000000000000003", 2, "");
	r.finished_at = 300.0;
	put_ok(st, &r);
	r = record("0000000000000004", 0, "q");
	put_ok(st, &r);
	commit_ok(st);
	store_close(st);
	st = open_ok();
	ck_assert_int_eq(store_load(st, 1, load_cb, &l, &cause), 0);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.ids[0], "0000000000000003");
	ck_assert_str_eq(l.ids[1], "0000000000000004");
	/*
	 * The first segment held only what was pruned; the second commit
	 * wrote two, its finished records apart from the others.
	 */
	ck_assert_int_eq(store_has_garbage(st), 1);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 2);
	store_close(st);
}
END_TEST

/*
 * A commit writes finished records in a segment of their own: the rows
 * of unfinished jobs go as soon as the jobs end, whatever is kept. Here
 * the finished record is put first, so its segment's number is the lower
 * one although it is written second.
 */
START_TEST(test_sqlite_finished_records_have_segments_of_their_own)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l;
	uint64_t		 seg_a, seg_b, seg_b2;

	r = record("0000000000000001", 2, "");
	r.finished_at = 100.0;
	seg_a = put_ok(st, &r);
	r = record("0000000000000002", 0, "q");
	seg_b = put_ok(st, &r);
	ck_assert(seg_a < seg_b);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 2);
	ck_assert_uint_eq(store_segments(st), 2);
	/* b ends: its queued record is superseded, a's record is pruned. */
	r = record("0000000000000002", 2, "");
	r.finished_at = 200.0;
	seg_b2 = put_ok(st, &r);
	commit_ok(st);
	store_release(st, seg_b);
	store_release(st, seg_a);
	ck_assert_int_eq(store_has_garbage(st), 1);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 1);
	ck_assert_uint_eq(store_segments(st), 1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	/* a's record was pruned with its segment; b's newest came back. */
	ck_assert_str_eq(l.ids[0], "0000000000000002");
	ck_assert_int_eq(l.states[0], 2);
	ck_assert_uint_eq(l.segs[0], seg_b2);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_recovery_order_finished_by_time_then_ids)
{
	static const char *const ids[] = { "00000000000000c3",
	    "00000000000000a1", "00000000000000b2" };
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l;
	int			 i;

	for (i = 0; i < 3; i++) {
		r = record(ids[i], i == 1 ? 1 : 0, "x");
		r.attempts = i == 1 ? 1 : 0;
		put_ok(st, &r);
	}
	r = record("00000000000000f1", 3, "");
	r.finished_at = 300.0;
	put_ok(st, &r);
	commit_ok(st);
	r = record("00000000000000f2", 2, "");
	r.finished_at = 100.0;
	put_ok(st, &r);
	commit_ok(st);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 5);
	ck_assert_str_eq(l.ids[0], "00000000000000f2");
	ck_assert_str_eq(l.ids[1], "00000000000000f1");
	ck_assert_str_eq(l.ids[2], "00000000000000a1");
	ck_assert_str_eq(l.ids[3], "00000000000000b2");
	ck_assert_str_eq(l.ids[4], "00000000000000c3");
	/* The running one comes back as running, its attempt counted. */
	ck_assert_int_eq(l.states[2], 1);
	ck_assert_int_eq(l.attempts[2], 1);
	store_close(st);
}
END_TEST

/* A commit bigger than a segment is split; every record lands. */
START_TEST(test_sqlite_big_commit_spans_segments)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct loaded		 l;
	uint64_t		 first, seg = 0;
	char			*big, id[17];
	int			 i;

	big = malloc(3 << 20);
	memset(big, 'x', 3 << 20);
	big[(3 << 20) - 1] = '\0';
	for (i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "%016x", i + 1);
		r = record(id, 0, big);
		seg = put_ok(st, &r);
		if (i == 0)
			first = seg;
	}
	ck_assert_uint_gt(seg, first);
	commit_ok(st);
	ck_assert_int_gt(segment_rows(), 1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 6);
	ck_assert_uint_eq(l.segs[0], first);
	ck_assert_uint_eq(l.segs[5], seg);
	free(big);
	store_close(st);
}
END_TEST

/* Bytes that are not records: refused at load, naming file and segment. */
START_TEST(test_sqlite_malformed_segment_is_refused)
{
	struct store	*st;
	sqlite3		*db;
	struct loaded	 l = { .n = 0 };
	char		*cause = NULL;

	st = open_ok();
	store_close(st);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "INSERT INTO segments VALUES "
	    "(7, x'0500000001')", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	st = open_ok();
	ck_assert_int_eq(store_load(st, 1000, load_cb, &l, &cause), -1);
	ck_assert_ptr_nonnull(strstr(cause, path));
	ck_assert_ptr_nonnull(strstr(cause, "segment 7 is malformed"));
	free(cause);
	store_close(st);
}
END_TEST

START_TEST(test_sqlite_second_open_is_refused_naming_the_holder)
{
	struct store	*st = open_ok(), *again;
	char		*cause = NULL, pid[32];

	again = store_open(spec, 0, 0600, &cause);
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
	st = store_open(spec, 0, 0600, &cause);
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

	st = store_open("sqlite:/nonexistent-dir/x/jobs.db", 0, 0600, &cause);
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
/*
 * With the file size limited (writes past it fail with EFBIG), a commit
 * of data fails naming the file and keeps nothing; with the limit lifted
 * the next commit lands. Record 1 is committed already.
 */
static void
commit_fails_past(struct store *st, rlim_t limit, const char *data)
{
	struct store_record	 r;
	struct loaded		 l;
	struct rlimit		 lim, old;
	uint64_t		 seg;
	char			*cause = NULL;
	int			 rc;

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = limit;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = record("0000000000000002", 0, data);
	rc = store_put(st, &r, &seg, &cause);
	if (rc == 0)
		rc = store_commit(st, &cause);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(strstr(cause, path));
	free(cause);
	store_rollback(st);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	r = record("0000000000000003", 0, "again");
	put_ok(st, &r);
	commit_ok(st);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 2);
	ck_assert_str_eq(l.ids[0], "0000000000000001");
	ck_assert_str_eq(l.ids[1], "0000000000000003");
	store_close(st);
}

/* A full disk: a commit bigger than the room left. */
START_TEST(test_sqlite_commit_on_a_full_disk_fails_and_keeps_nothing)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	char			*big;

	r = record("0000000000000001", 0, "small");
	put_ok(st, &r);
	commit_ok(st);
	big = malloc(4 << 20);
	memset(big, 'x', 4 << 20);
	big[(4 << 20) - 1] = '\0';
	commit_fails_past(st, 1 << 20, big);
	free(big);
}
END_TEST

/*
 * The store's VFS gathers a commit's -wal frames into one write, and what
 * a commit wrote is in the file once it returned: a connection of the
 * default VFS reads it.
 */
START_TEST(test_sqlite_vfs_writes_a_commits_frames_at_once)
{
	struct store_sqlite_vfs_stats	 a, b;
	sqlite3				*db, *other;
	sqlite3_stmt			*st;
	char				 blob[40000];

	memset(blob, 'y', sizeof blob);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, store_sqlite_vfs()), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = NORMAL; CREATE TABLE t (b BLOB)", NULL,
	    NULL, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1)",
	    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_blob(st, 1, blob, sizeof blob, SQLITE_STATIC);
	store_sqlite_vfs_stats(&a);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	store_sqlite_vfs_stats(&b);
	sqlite3_finalize(st);
	/* Ten overflow pages and more: two writes each without it. */
	ck_assert_uint_ge(b.frames - a.frames, 10);
	ck_assert_uint_eq(b.writes - a.writes, 1);
	ck_assert_int_eq(sqlite3_open_v2(path, &other, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(other, "SELECT length(b), "
	    "substr(b, 40000, 1) FROM t", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), (int)sizeof blob);
	ck_assert_str_eq((const char *)sqlite3_column_text(st, 1), "y");
	sqlite3_finalize(st);
	ck_assert_int_eq(sqlite3_close(other), SQLITE_OK);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}
END_TEST

/*
 * The one write of a commit's frames fails halfway (RLIMIT_FSIZE just
 * past the -wal file's end): the commit fails, naming the file, nothing
 * of it is kept, and the next commit lands.
 */
START_TEST(test_sqlite_commit_whose_gathered_write_fails_keeps_nothing)
{
	struct store		*st = open_ok();
	struct store_record	 r;
	struct stat		 sb;
	char			 wal[160], big[60000];

	r = record("0000000000000001", 0, "small");
	put_ok(st, &r);
	commit_ok(st);
	snprintf(wal, sizeof wal, "%s-wal", path);
	ck_assert_int_eq(stat(wal, &sb), 0);
	memset(big, 'z', sizeof big);
	big[sizeof big - 1] = '\0';
	commit_fails_past(st, (rlim_t)sb.st_size + 8192, big);
}
END_TEST

/* The record layout: what goes in comes out, and a cut record is refused. */
START_TEST(test_codec_round_trip_and_truncation)
{
	struct store_record	 r = record("00000193a1b2c3d4", 4, "{\"n\":1}"), o;
	struct buf		 b = BUF_INIT;
	size_t			 n, cut;

	r.attempts = 3;
	r.worker = 7;
	r.truncated = 1;
	r.started_at = 1001.25;
	r.finished_at = 1002.5;
	r.result = "[1,2]";
	r.error = "job 00000193a1b2c3d4 exceeded job_timeout";
	r.key = "k\xc3\xa9";
	r.dead = 1;
	r.retry_of = "00000193a1b2c3d0";
	store_codec_put(&b, &r);
	n = store_codec_get(b.data, b.len, &o);
	ck_assert_uint_eq(n, b.len);
	ck_assert_str_eq(o.id, r.id);
	ck_assert_str_eq(o.pool, "p");
	ck_assert_int_eq(o.state, 4);
	ck_assert_uint_eq(o.attempts, 3);
	ck_assert_int_eq(o.worker, 7);
	ck_assert_int_eq(o.truncated, 1);
	ck_assert(o.submitted_at == 1000.0 && o.started_at == 1001.25 &&
	    o.finished_at == 1002.5);
	ck_assert_uint_eq(o.data_len, 7);
	ck_assert_str_eq(o.data, "{\"n\":1}");
	ck_assert_str_eq(o.result, "[1,2]");
	ck_assert_str_eq(o.error, r.error);
	ck_assert_str_eq(o.key, r.key);
	ck_assert_int_eq(o.dead, 1);
	ck_assert_str_eq(o.retry_of, r.retry_of);
	for (cut = 0; cut < b.len; cut++)
		ck_assert_uint_eq(store_codec_get(b.data, cut, &o), 0);
	/* No worker, no result/error/key: NULLs stay NULLs. */
	buf_reset(&b);
	r = record("0000000000000001", 0, "");
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), b.len);
	ck_assert_int_eq(o.worker, -1);
	ck_assert_ptr_null(o.result);
	ck_assert_ptr_null(o.error);
	ck_assert_ptr_null(o.key);
	ck_assert_int_eq(o.dead, 0);
	ck_assert_ptr_null(o.retry_of);
	buf_free(&b);
}
END_TEST

/*
 * A start written as a delta: 27 bytes, the head and the start time; a
 * delta of anything but a start, or with more in it, is damaged.
 */
START_TEST(test_codec_start_delta_round_trip)
{
	struct store_record	 r = record("00000193a1b2c3d4", 1, "{\"n\":1}"), o;
	struct buf		 b = BUF_INIT;
	size_t			 cut;

	r.attempts = 2;
	r.worker = 3;
	r.started_at = 1001.5;
	r.key = "k";
	r.delta = 1;
	store_codec_put(&b, &r);
	ck_assert_uint_eq(b.len, 27);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 27);
	ck_assert_int_eq(o.delta, 1);
	ck_assert_str_eq(o.id, r.id);
	ck_assert_int_eq(o.state, 1);
	ck_assert_uint_eq(o.attempts, 2);
	ck_assert_int_eq(o.worker, 3);
	ck_assert(o.started_at == 1001.5);
	ck_assert_ptr_null(o.pool);
	ck_assert_ptr_null(o.data);
	ck_assert_ptr_null(o.key);
	for (cut = 0; cut < b.len; cut++)
		ck_assert_uint_eq(store_codec_get(b.data, cut, &o), 0);
	b.data[4 + 8] = 0;		/* a queued job's delta */
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 0);
	b.data[4 + 8] = 1;
	b.data[4 + 14] = (char)(128 | 1);	/* with a result */
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 0);
	buf_free(&b);
}
END_TEST

/*
 * Recovery merges a start's delta with the job's whole record before it
 * (both segments count as needed), and drops a delta whose whole record
 * is not there; the job's next whole record supersedes both.
 */
START_TEST(test_sqlite_start_delta_is_merged_with_its_whole_record)
{
	struct store		*st = open_ok();
	struct store_record	 a = record("0000000000000001", 0, "data-a");
	struct store_record	 x = record("0000000000000009", 1, "");
	struct loaded		 l;
	uint64_t		 s1, s2, s3;

	a.key = "ka";
	s1 = put_ok(st, &a);
	commit_ok(st);
	a.state = 1;
	a.attempts = 1;
	a.worker = 0;
	a.started_at = 1001.0;
	a.delta = 1;
	x.delta = 1;
	s2 = put_ok(st, &a);
	ck_assert_uint_eq(put_ok(st, &x), s2);
	commit_ok(st);
	ck_assert_uint_gt(s2, s1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.ids[0], "0000000000000001");
	ck_assert_int_eq(l.states[0], 1);
	ck_assert_int_eq(l.attempts[0], 1);
	ck_assert_str_eq(l.data[0], "data-a");
	ck_assert_str_eq(l.keys[0], "ka");
	ck_assert_uint_eq(l.segs[0], s2);
	ck_assert_uint_eq(l.bases[0], s1);
	a.delta = 0;
	a.state = 2;
	a.finished_at = 1002.0;
	a.result = "\"r\"";
	s3 = put_ok(st, &a);
	commit_ok(st);
	store_release(st, s2);
	store_release(st, s1);
	commit_ok(st);
	ck_assert_int_eq(segment_rows(), 1);
	st = reload(st, &l);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(l.states[0], 2);
	ck_assert_str_eq(l.results[0], "\"r\"");
	ck_assert_uint_eq(l.segs[0], s3);
	ck_assert_uint_eq(l.bases[0], 0);
	store_close(st);
}
END_TEST

/*
 * The flow fields: kept when set (and a record without them reads back
 * at the defaults); a priority out of range or a group too long is a
 * damaged record, refused.
 */
START_TEST(test_codec_keeps_the_flow_fields)
{
	struct store_record	 r = record("00000193a1b2c3d5", 6, "1"), o;
	struct buf		 b = BUF_INIT;
	char			 g[JOB_GROUP_MAX + 2];
	size_t			 cut;

	r.priority = -7;
	r.not_before = 1765000000.125;
	r.group = "tenant \xc3\xa9";
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), b.len);
	ck_assert_int_eq(o.state, 6);
	ck_assert_int_eq(o.priority, -7);
	ck_assert(o.not_before == 1765000000.125);
	ck_assert_str_eq(o.group, r.group);
	for (cut = 0; cut < b.len; cut++)
		ck_assert_uint_eq(store_codec_get(b.data, cut, &o), 0);
	buf_reset(&b);
	r.group = NULL;
	r.priority = 10;
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), b.len);
	ck_assert_int_eq(o.priority, 10);
	ck_assert_ptr_null(o.group);
	buf_reset(&b);
	r.priority = 11;
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 0);
	buf_reset(&b);
	memset(g, 'x', sizeof g - 1);
	g[sizeof g - 1] = '\0';
	r.priority = 0;
	r.group = g;
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 0);
	/*
	 * A flow block that says nothing (priority 0, no due time, no group)
	 * is never written, so it is refused: each record has one encoding
	 * (the fuzzer re-encodes what it decodes and found this one).
	 */
	buf_reset(&b);
	r.priority = 1;
	r.not_before = 0;
	r.group = NULL;
	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), b.len);
	b.data[b.len - 14] = 0;		/* i8 priority, f64, u32 0, NUL */
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), 0);
	buf_free(&b);
}
END_TEST

/*
 * A time no clock gives (not finite, negative, past the year 5138) is
 * damage, not a record: refused, whole or start delta, so that recovery
 * names the segment rather than formatting it.
 */
START_TEST(test_codec_refuses_times_no_clock_has)
{
	const double		 bad[] = { NAN, INFINITY, -1, 1e11, 1e300 };
	struct store_record	 r = record("00000193a1b2c3d6", 3, "1"), o;
	struct buf		 b = BUF_INIT;
	size_t			 i, k;

	store_codec_put(&b, &r);
	ck_assert_uint_eq(store_codec_get(b.data, b.len, &o), b.len);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		for (k = 0; k < 4; k++) {
			r = record("00000193a1b2c3d6", 3, "1");
			if (k == 3) {
				r.state = JOB_RUNNING;
				r.delta = 1;
			}
			*(k == 0 ? &r.submitted_at : k == 2 ? &r.finished_at :
			    &r.started_at) = bad[i];
			buf_reset(&b);
			store_codec_put(&b, &r);
			ck_assert_msg(store_codec_get(b.data, b.len, &o) == 0,
			    "time %zu = %g taken", k, bad[i]);
		}
	buf_free(&b);
}
END_TEST

/* The row-per-job layout of development builds is not read. */
START_TEST(test_sqlite_schema_version_1_is_refused_with_a_reason)
{
	refused_at_version(1, "earlier development version of mpsup "
	    "(schema version 1)");
}
END_TEST

/*
 * The checkpoint thread: commits past STORE_CKPT_FRAMES pages of -wal
 * wake it, it copies them into the database file, and it stops cleanly.
 */
START_TEST(test_ckpt_thread_checkpoints_a_growing_wal)
{
	struct store_ckpt	*c;
	struct stat		 sb;
	sqlite3			*db;
	sqlite3_stmt		*ins;
	char			*cause = NULL, blob[3000];
	int			 i, tries;

	memset(blob, 'x', sizeof blob);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, store_sqlite_vfs()), SQLITE_OK);
	/* The checkpointer may hold the write lock for an instant. */
	sqlite3_busy_timeout(db, 1000);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB)", NULL,
	    NULL, NULL), SQLITE_OK);
	c = store_ckpt_start(db, path, 1, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1)",
	    -1, &ins, NULL), SQLITE_OK);
	/* One page or more a commit: well past the mark. */
	for (i = 0; i < 3 * STORE_CKPT_FRAMES / 2; i++) {
		sqlite3_bind_blob(ins, 1, blob, sizeof blob, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	for (tries = 0; tries < 500 && store_ckpt_count(c) == 0; tries++)
		usleep(10000);
	ck_assert_uint_gt(store_ckpt_count(c), 0);
	/* The pages are in the database file now, not only in the -wal. */
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_gt(sb.st_size, 1 << 20);
	sqlite3_finalize(ins);
	store_ckpt_stop(c);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}
END_TEST

/*
 * Past the mark the thread is woken once per `step` frames, not at every
 * commit: woken at every commit it ran one small checkpoint after another,
 * each with two flushes (store_sync = normal uses STORE_CKPT_STEP).
 */
START_TEST(test_ckpt_thread_is_woken_once_per_step_of_frames)
{
	struct store_ckpt	*c;
	sqlite3			*db;
	sqlite3_stmt		*ins;
	char			*cause = NULL, blob[3000];
	int			 i, tries, n = 3 * STORE_CKPT_FRAMES / 2;

	memset(blob, 'x', sizeof blob);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, store_sqlite_vfs()), SQLITE_OK);
	/* The checkpointer may hold the write lock for an instant. */
	sqlite3_busy_timeout(db, 1000);
	ck_assert_int_eq(sqlite3_exec(db, "PRAGMA journal_mode = WAL; "
	    "PRAGMA synchronous = OFF; PRAGMA wal_autocheckpoint = 0; "
	    "CREATE TABLE t (b BLOB)", NULL, NULL, NULL), SQLITE_OK);
	c = store_ckpt_start(db, path, STORE_CKPT_STEP, &cause);
	ck_assert_msg(c != NULL, "%s", cause);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?1)",
	    -1, &ins, NULL), SQLITE_OK);
	/*
	 * A row a page: a commit writes its leaf, the parent, page 1 (the
	 * size in the header) and, at a split, a page or two more.
	 */
	for (i = 0; i < n; i++) {
		sqlite3_bind_blob(ins, 1, blob, sizeof blob, SQLITE_STATIC);
		ck_assert_int_eq(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	for (tries = 0; tries < 500 && store_ckpt_count(c) == 0; tries++)
		usleep(10000);
	ck_assert_uint_gt(store_ckpt_count(c), 0);
	/*
	 * At most 5 frames a commit: n * 5 / step wake-ups, against one per
	 * commit past the mark (thousands) when every commit woke it.
	 */
	ck_assert_uint_gt(store_ckpt_wakeups(c), 0);
	ck_assert_uint_le(store_ckpt_wakeups(c),
	    (unsigned long)n * 5 / STORE_CKPT_STEP);
	ck_assert_uint_le(store_ckpt_count(c), store_ckpt_wakeups(c));
	sqlite3_finalize(ins);
	store_ckpt_stop(c);
	ck_assert_int_eq(sqlite3_close(db), SQLITE_OK);
}
END_TEST

START_TEST(test_not_memory_nor_sqlite_is_refused)
{
	char	*cause = NULL;

	ck_assert_ptr_null(store_open("redis:x", 0, 0600, &cause));
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
	tcase_add_test(tc, test_sqlite_schema_version_2_is_read_and_marked_3);
	tcase_add_test(tc, test_sqlite_writes_are_seen_only_after_commit);
	tcase_add_test(tc, test_sqlite_newest_record_wins_and_dead_segments_go);
	tcase_add_test(tc,
	    test_sqlite_start_delta_is_merged_with_its_whole_record);
	tcase_add_test(tc, test_sqlite_load_finds_fully_superseded_segments);
	tcase_add_test(tc, test_sqlite_recovery_order_finished_by_time_then_ids);
	tcase_add_test(tc,
	    test_sqlite_load_skips_finished_records_past_the_maximum);
	tcase_add_test(tc, test_sqlite_release_during_load_frees_segments);
	tcase_add_test(tc,
	    test_sqlite_finished_records_have_segments_of_their_own);
	tcase_add_test(tc, test_sqlite_big_commit_spans_segments);
	tcase_add_test(tc, test_sqlite_malformed_segment_is_refused);
	tcase_add_test(tc, test_sqlite_second_open_is_refused_naming_the_holder);
	tcase_add_test(tc, test_sqlite_lock_file_is_close_on_exec);
	tcase_add_test(tc,
	    test_sqlite_corrupt_file_is_refused_with_the_sqlite_message);
	tcase_add_test(tc, test_sqlite_unopenable_path_is_an_error_naming_it);
	tcase_add_test(tc,
	    test_sqlite_commit_on_a_full_disk_fails_and_keeps_nothing);
	tcase_add_test(tc, test_not_memory_nor_sqlite_is_refused);
	tcase_add_test(tc, test_sqlite_vfs_writes_a_commits_frames_at_once);
	tcase_add_test(tc,
	    test_sqlite_commit_whose_gathered_write_fails_keeps_nothing);
	tcase_add_test(tc, test_ckpt_thread_checkpoints_a_growing_wal);
	tcase_add_test(tc, test_ckpt_thread_is_woken_once_per_step_of_frames);
	tcase_add_test(tc, test_codec_round_trip_and_truncation);
	tcase_add_test(tc, test_codec_start_delta_round_trip);
	tcase_add_test(tc, test_codec_keeps_the_flow_fields);
	tcase_add_test(tc, test_codec_refuses_times_no_clock_has);
	tcase_add_test(tc, test_sqlite_schema_version_1_is_refused_with_a_reason);
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
