/*
 * The SQLite job store (see store.h): a table of segments in WAL mode.
 * Each commit appends the records of every job written since the last one
 * (store_codec.h) as two rows, unfinished and finished jobs apart: a
 * commit of a thousand jobs costs two row inserts. The store counts, per
 * committed segment, the records that still matter; when the job engine
 * has released them all the row is deleted by a later commit. Recovery
 * reads the segments in order and keeps each job's newest record.
 *
 * One mpsup at a time: PATH.lock is held with flock() for the life of the
 * store and carries the holder's pid, so a second mpsup can say who holds
 * the database instead of failing later on a busy database (the busy
 * timeout is 0: waiting would stall the event loop).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/privfile.h"
#include "common/xmalloc.h"
#include "store/sqlite_api.h"
#include "store/store.h"
#include "store/store_ckpt.h"
#include "store/store_codec.h"
#include "store/store_recover.h"
#include "store/store_sqlite_file.h"
#include "store/store_sqlite_vfs.h"

enum {
	STMT_BEGIN, STMT_COMMIT, STMT_INSERT, STMT_DELETE, STMT_LOAD,
	STMT_LAST, STMT_N
};

/* Segments a release looks at before it searches (see release()). */
#define STORE_SQLITE_HINTS	4

/*
 * How long a commit waits for the write lock. The checkpoint connection
 * takes it for an instant when it reads the -wal index header while a
 * commit is writing it; without a wait, that commit failed and its
 * submits were refused. BEGIN IMMEDIATE takes the lock first thing, where
 * SQLite calls the busy handler (it does not for a deferred transaction
 * that upgrades from reading).
 */
#define STORE_SQLITE_BUSY_MS	50

/* A segment grows past this: it is written and the next one begun. */
#define STORE_SQLITE_SEGMENT_MAX	(8u << 20)

static const char *const store_sqlite_sql[STMT_N] = {
	"BEGIN IMMEDIATE",
	"COMMIT",
	"INSERT INTO segments (seq, body) VALUES (?1, ?2)",
	"DELETE FROM segments WHERE seq = ?1",
	"SELECT seq, body FROM segments ORDER BY seq",
	"SELECT coalesce(max(seq), 0) FROM segments",
};

static const char store_sqlite_schema[] =
	"CREATE TABLE segments ("
	" seq INTEGER PRIMARY KEY NOT NULL,"
	" body BLOB NOT NULL"		/* store_codec.h records */
	");"
	"PRAGMA user_version = 3;";

/*
 * A segment being filled. A commit writes two: the records of unfinished
 * jobs, superseded within milliseconds when the jobs run, and those of
 * finished jobs, kept until result_ttl or result_max prunes them. Apart,
 * the short-lived rows are deleted while their pages are still cached and
 * their pages are reused at once, and the long-lived rows hold no dead
 * records of unfinished jobs, so the database stays about the size of
 * the finished records.
 */
struct store_sqlite_body {
	struct buf	 b;		/* its records */
	uint64_t	 seq;		/* its row, once it holds one */
	uint32_t	 n;		/* how many */
};

/* A committed segment and how many of its records still matter. */
struct store_sqlite_seg {
	uint64_t	seq;
	uint32_t	live;
};

struct store_sqlite {
	char		*path;
	sqlite3		*db;
	int		 lock_fd;
	int		 in_txn;
	int		 readonly;	/* on a read-only file system */
	sqlite3_stmt	*stmt[STMT_N];
	struct store_ckpt *ckpt;	/* background checkpoints */

	uint64_t	 next_seq;	/* of the next segment begun */
	/* The segments being filled: unfinished jobs', finished ones'. */
	struct store_sqlite_body body[2];
	/* Segments written in the open transaction, not yet committed. */
	struct store_sqlite_seg *written;
	size_t		 nwritten, written_cap;
	/* Committed segments, by seq, with records that matter. */
	struct store_sqlite_seg *live;
	size_t		 nlive, live_cap;
	size_t		 nzero;		/* entries of live down to 0 */
	/* Where the last releases found theirs (see release()). */
	size_t		 hint[STORE_SQLITE_HINTS];
	unsigned	 hint_next;	/* the one a miss replaces */
	/* Segments whose records no longer matter, to delete. */
	uint64_t	*dead;
	size_t		 ndead, dead_cap;
	/* Those the commit under way deletes (the commit thread's). */
	uint64_t	*dying;
	size_t		 ndying, dying_cap;
	struct store_async *async;	/* the commit thread, or NULL */
	int		 sync_rc;	/* a commit run on the loop */
	char		*sync_cause;
};

static void	store_sqlite_dead(struct store_sqlite *, uint64_t);
static int	store_sqlite_txn(void *, char **);

static void
store_sqlite_cause(struct store_sqlite *s, char **cause, const char *what)
{
	xasprintf(cause, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Run one statement that returns no rows. */
static int
store_sqlite_exec(struct store_sqlite *s, const char *sql, char **cause,
    const char *what)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_sqlite_cause(s, cause, what);
		return -1;
	}
	return 0;
}

/* The schema version; 0 for a new database. */
static int
store_sqlite_version(struct store_sqlite *s, int *version, char **cause)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK) {
		store_sqlite_cause(s, cause, "reading the schema version");
		return -1;
	}
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW) {
		store_sqlite_cause(s, cause, "reading the schema version");
		return -1;
	}
	return 0;
}

static int
store_sqlite_setup(struct store_sqlite *s, int sync_full, char **cause)
{
	sqlite3_stmt	*st;
	int		 version, rc, i;

	sqlite3_busy_timeout(s->db, STORE_SQLITE_BUSY_MS);
	sqlite3_extended_result_codes(s->db, 1);
	/* Reading the header first reports a corrupt or foreign file. */
	if (store_sqlite_version(s, &version, cause) == -1)
		return -1;
	if (s->readonly) {
		if (version != 2 && version != STORE_SCHEMA_VERSION) {
			xasprintf(cause, "%s: read-only file system, and not "
			    "a database of this mpsup (schema version %d)",
			    s->path, version);
			return -1;
		}
		goto prepare;
	}
	if (store_sqlite_pragmas(s->db, s->path, sync_full, cause) == -1)
		return -1;
	if (version == 0) {
		if (store_sqlite_exec(s, "BEGIN", cause, "creating the schema") ==
		    -1)
			return -1;
		if (store_sqlite_exec(s, store_sqlite_schema, cause,
		    "creating the schema") == -1 ||
		    store_sqlite_exec(s, "COMMIT", cause,
		    "creating the schema") == -1) {
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
	} else if (version == 1) {
		xasprintf(cause, "%s: a database of an earlier development "
		    "version of mpsup (schema version 1), which this one does "
		    "not read", s->path);
		return -1;
	} else if (version == 2) {
		/*
		 * Version 3 only adds start deltas: a version 2 log reads as
		 * is. Marked 3, it is refused by an older mpsup by its version
		 * rather than at its first delta.
		 */
		if (store_sqlite_exec(s, "PRAGMA user_version = 3", cause,
		    "upgrading the schema") == -1)
			return -1;
	} else if (version != STORE_SCHEMA_VERSION) {
		xasprintf(cause, "%s: schema version %d, this mpsup knows "
		    "version %d", s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
prepare:
	for (i = 0; i < STMT_N; i++) {
		rc = sqlite3_prepare_v3(s->db, store_sqlite_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			store_sqlite_cause(s, cause, "preparing statements");
			return -1;
		}
	}
	st = s->stmt[STMT_LAST];
	if (sqlite3_step(st) != SQLITE_ROW) {
		store_sqlite_cause(s, cause, "reading the last segment");
		sqlite3_reset(st);
		return -1;
	}
	s->next_seq = (uint64_t)sqlite3_column_int64(st, 0) + 1;
	sqlite3_reset(st);
	return 0;
}

struct store_sqlite *
store_sqlite_open(const char *path, int sync_full, int mode, char **cause)
{
	struct store_sqlite	*s;
	char			*why = NULL;
	int			 fd;

	if (sqlite_api_load(cause) == -1)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	if ((s->lock_fd = store_sqlite_lockfile(path, mode, cause)) == -1) {
		store_sqlite_close(s);
		return NULL;
	}
	if (store_sqlite_on_readonly_fs(path)) {
		s->readonly = 1;
		if ((s->db = store_sqlite_open_ro(path, cause)) == NULL ||
		    store_sqlite_setup(s, sync_full, cause) == -1) {
			store_sqlite_close(s);
			return NULL;
		}
		return s;
	}
	/* Made here with mode: SQLite gives -wal and -shm the file's mode. */
	if ((fd = privfile_open(path, O_RDWR, mode, cause)) == -1) {
		store_sqlite_close(s);
		return NULL;
	}
	close(fd);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
	    store_sqlite_vfs()) != SQLITE_OK) {
		if (s->db != NULL)
			store_sqlite_cause(s, cause, "open");
		else
			xasprintf(cause, "%s: open: out of memory", path);
		store_sqlite_close(s);
		return NULL;
	}
	if (store_sqlite_setup(s, sync_full, cause) == -1) {
		store_sqlite_close(s);
		return NULL;
	}
	if ((s->ckpt = store_ckpt_start(s->db, path, sync_full ? 1 :
	    STORE_CKPT_STEP, &why)) == NULL) {
		/* SQLite's own checkpoints, on the loop, still do the job. */
		log_warnx("store: %s", why);
		free(why);
	}
	/*
	 * No commit thread with synchronous = FULL: there a commit is a disk
	 * flush, and a job started while one ran would wait for it and then
	 * for its own (a loop held in the commit lets the results collect in
	 * the pipes, all started in the next commit). Same binary, alternated
	 * (bench/README.md): full on the thread ran at half the end-to-end
	 * rate on a loaded machine, and no faster on a quiet one; normal on
	 * the thread at 1.6 times (medians).
	 */
	if (!sync_full &&
	    (s->async = store_async_start(store_sqlite_txn, s, &why)) == NULL) {
		/* Every commit then runs on the loop. */
		log_warnx("store: %s", why);
		free(why);
	}
	return s;
}

int
store_sqlite_readonly(const struct store_sqlite *s)
{
	return s->readonly;
}

void
store_sqlite_close(struct store_sqlite *s)
{
	int	i;

	/* A commit under way ends first: it owns the connection. */
	store_async_stop(s->async);
	if (s->in_txn)
		store_sqlite_rollback(s);
	buf_free(&s->body[0].b);
	buf_free(&s->body[1].b);
	free(s->written);
	free(s->live);
	free(s->dead);
	free(s->dying);
	for (i = 0; i < STMT_N; i++)
		sqlite3_finalize(s->stmt[i]);
	store_ckpt_stop(s->ckpt);
	if (s->db != NULL)
		sqlite3_close(s->db);
	if (s->lock_fd != -1)
		close(s->lock_fd);
	free(s->path);
	free(s);
}

/* Step a statement that returns no rows, and reset it. */
static int
store_sqlite_step(struct store_sqlite *s, sqlite3_stmt *st, char **cause,
    const char *what)
{
	int	rc;

	/* Every statement binds all its parameters each time. */
	if ((rc = sqlite3_step(st)) != SQLITE_DONE)
		store_sqlite_cause(s, cause, what);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
store_sqlite_begin(struct store_sqlite *s, char **cause)
{
	if (s->in_txn && sqlite3_get_autocommit(s->db))
		s->in_txn = 0;	/* SQLite rolled it back by itself */
	if (s->in_txn)
		return 0;
	if (store_sqlite_step(s, s->stmt[STMT_BEGIN], cause, "begin") == -1)
		return -1;
	s->in_txn = 1;
	return 0;
}

static void
store_sqlite_seg_push(struct store_sqlite_seg **a, size_t *n, size_t *cap,
    uint64_t seq, uint32_t live)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*a = xreallocarray(*a, *cap, sizeof **a);
	}
	(*a)[*n].seq = seq;
	(*a)[(*n)++].live = live;
}

/* Write segment body i as a row of the open transaction. */
static int
store_sqlite_write(struct store_sqlite *s, int i, char **cause)
{
	struct store_sqlite_body *body = &s->body[i];
	sqlite3_stmt		*st = s->stmt[STMT_INSERT];

	if (body->n == 0)
		return 0;
	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)body->seq);
	sqlite3_bind_blob64(st, 2, body->b.data, body->b.len, SQLITE_STATIC);
	if (store_sqlite_step(s, st, cause, "writing a segment") == -1)
		return -1;
	store_sqlite_seg_push(&s->written, &s->nwritten, &s->written_cap,
	    body->seq, body->n);
	buf_reset(&body->b);
	body->n = 0;
	return 0;
}

/*
 * A job has one record per commit at most, and a segment's row number is
 * taken when its first record goes in: so a job's records are in order
 * of seq, whichever of the two bodies they went to.
 */
int
store_sqlite_put(struct store_sqlite *s, const struct store_record *r,
    uint64_t *seg, char **cause)
{
	int			 i = store_record_finished(r);
	struct store_sqlite_body *body = &s->body[i];

	if (body->b.len >= STORE_SQLITE_SEGMENT_MAX &&
	    store_sqlite_write(s, i, cause) == -1)
		return -1;
	if (body->n == 0)
		body->seq = s->next_seq++;
	store_codec_put(&body->b, r);
	body->n++;
	*seg = body->seq;
	return 0;
}

/*
 * The segments written are committed: onto the live list, which stays in
 * order of seq (release() searches it). Theirs are above every older
 * commit's, but the two bodies took theirs in the order of their first
 * records, not of writing: sort them first (two, or a few more when a
 * body outgrew STORE_SQLITE_SEGMENT_MAX).
 */
static void
store_sqlite_committed(struct store_sqlite *s)
{
	struct store_sqlite_seg	 t;
	size_t			 i, j;

	for (i = 1; i < s->nwritten; i++) {
		t = s->written[i];
		for (j = i; j > 0 && s->written[j - 1].seq > t.seq; j--)
			s->written[j] = s->written[j - 1];
		s->written[j] = t;
	}
	for (i = 0; i < s->nwritten; i++)
		store_sqlite_seg_push(&s->live, &s->nlive, &s->live_cap,
		    s->written[i].seq, s->written[i].live);
	s->nwritten = 0;
}

/*
 * The transaction: the segment bodies, the deletion of the dying
 * segments, COMMIT; rolled back on failure. It runs on the commit thread
 * (or on the loop when there is none) and touches only the connection,
 * the bodies, `written` and `dying`: never what the loop changes
 * meanwhile (live, dead, next_seq).
 */
static int
store_sqlite_txn(void *arg, char **cause)
{
	struct store_sqlite	*s = arg;
	sqlite3_stmt		*st = s->stmt[STMT_DELETE];
	size_t			 i;

	if (store_sqlite_write(s, 0, cause) == -1 ||
	    store_sqlite_write(s, 1, cause) == -1)
		goto fail;
	if (s->ndying > 0 && store_sqlite_begin(s, cause) == -1)
		goto fail;
	for (i = 0; i < s->ndying; i++) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)s->dying[i]);
		if (store_sqlite_step(s, st, cause, "deleting a segment") == -1)
			goto fail;
	}
	if (sqlite3_get_autocommit(s->db)) {
		/* An error already ended (rolled back) the transaction. */
		xasprintf(cause, "%s: the transaction was rolled back "
		    "after an error", s->path);
		goto fail;
	}
	if (store_sqlite_step(s, s->stmt[STMT_COMMIT], cause, "commit") == -1)
		goto fail;
	s->in_txn = 0;
	return 0;
fail:
	store_sqlite_rollback(s);
	return -1;
}

/*
 * Hand the open transaction to the commit thread (or run it here when
 * there is none, or block): 0 if there was nothing to commit, 1 if it
 * went (collect it with store_sqlite_commit_result()).
 */
int
store_sqlite_commit_start(struct store_sqlite *s, int block)
{
	uint64_t	*t;
	size_t		 cap;

	s->sync_rc = 0;
	s->sync_cause = NULL;
	if (s->body[0].n == 0 && s->body[1].n == 0 && s->ndead == 0 &&
	    !s->in_txn)
		return 0;
	/* The dead segments go to the thread; the loop keeps a fresh list. */
	t = s->dying, cap = s->dying_cap;
	s->dying = s->dead, s->dying_cap = s->dead_cap;
	s->ndying = s->ndead;
	s->dead = t, s->dead_cap = cap;
	s->ndead = 0;
	if (s->async != NULL && !block)
		store_async_run(s->async);
	else
		s->sync_rc = store_sqlite_txn(s, &s->sync_cause);
	return 1;
}

/*
 * The started commit's result: 0 (its segments are committed), -1 with
 * *cause (rolled back: the segments it was to delete are dead again), or
 * 1 while it runs and block is 0.
 */
int
store_sqlite_commit_result(struct store_sqlite *s, int block, char **cause)
{
	size_t	i;
	int	rc;

	if (s->async != NULL && store_async_busy(s->async)) {
		if ((rc = store_async_result(s->async, block, cause)) == 1)
			return 1;
	} else {
		rc = s->sync_rc;
		*cause = s->sync_cause;
		s->sync_cause = NULL;
	}
	if (rc == 0)
		store_sqlite_committed(s);
	else
		for (i = 0; i < s->ndying; i++)
			store_sqlite_dead(s, s->dying[i]);
	s->ndying = 0;
	return rc;
}

int
store_sqlite_commit_busy(const struct store_sqlite *s)
{
	return s->async != NULL && store_async_busy(s->async);
}

int
store_sqlite_commit_fd(const struct store_sqlite *s)
{
	return s->async != NULL ? store_async_fd(s->async) : -1;
}

int
store_sqlite_commit(struct store_sqlite *s, char **cause)
{
	if (store_sqlite_commit_busy(s) &&
	    store_sqlite_commit_result(s, 1, cause) == -1)
		return -1;
	if (store_sqlite_commit_start(s, 1) == 0)
		return 0;
	return store_sqlite_commit_result(s, 1, cause);
}

/* Drop what the open transaction holds; released segments stay dead. */
void
store_sqlite_rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = 0;
	buf_reset(&s->body[0].b);
	buf_reset(&s->body[1].b);
	s->body[0].n = s->body[1].n = 0;
	s->nwritten = 0;
}

/* No record of segment seq matters any more: the next commit deletes it. */
static void
store_sqlite_dead(struct store_sqlite *s, uint64_t seq)
{
	if (s->ndead == s->dead_cap) {
		s->dead_cap = s->dead_cap ? s->dead_cap * 2 : 64;
		s->dead = xreallocarray(s->dead, s->dead_cap, sizeof *s->dead);
	}
	s->dead[s->ndead++] = seq;
}

/*
 * A segment whose count drops to 0 stays in the live list (still sorted)
 * until dead entries are half of it: one pass then squeezes them out, so
 * releases cost O(log n) however many segments there are. Most cost less:
 * releases come in runs over a few segments (a finished job releases its
 * queued record's and its start's, the next job of its batch the same
 * two, pruning walks the finished ones in order), so the entries the last
 * few releases found are looked at before the search.
 */
static size_t
store_sqlite_find(struct store_sqlite *s, uint64_t seq)
{
	size_t		lo = 0, hi = s->nlive, mid;
	unsigned	i;

	for (i = 0; i < STORE_SQLITE_HINTS; i++)
		if (s->hint[i] < s->nlive && s->live[s->hint[i]].seq == seq)
			return s->hint[i];
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->live[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < s->nlive && s->live[lo].seq == seq) {
		s->hint[s->hint_next] = lo;
		s->hint_next = (s->hint_next + 1) % STORE_SQLITE_HINTS;
	}
	return lo;
}

void
store_sqlite_release(struct store_sqlite *s, uint64_t seq)
{
	size_t	lo = store_sqlite_find(s, seq), i, j;

	if (lo == s->nlive || s->live[lo].seq != seq || s->live[lo].live == 0)
		return;		/* not a committed segment: nothing to count */
	if (--s->live[lo].live > 0)
		return;
	store_sqlite_dead(s, seq);
	if (++s->nzero <= s->nlive / 2)
		return;
	for (i = j = 0; i < s->nlive; i++)
		if (s->live[i].live > 0)
			s->live[j++] = s->live[i];
	s->nlive = j;
	s->nzero = 0;
	/* Indexes moved: every hint is stale (a stale one only misses). */
	memset(s->hint, 0, sizeof s->hint);
}

size_t
store_sqlite_segments(const struct store_sqlite *s)
{
	/* Live ones, and dead ones whose rows are not deleted yet. */
	return s->nlive - s->nzero + s->ndead + s->ndying;
}

int
store_sqlite_has_garbage(const struct store_sqlite *s)
{
	return s->ndead > 0;
}

/* What recovery has read: the segments, their bodies and their records. */
struct store_sqlite_loaded {
	struct store_sqlite_seg	*segs;
	size_t			 nsegs, segs_cap;
	char			**bodies;	/* the records point into them */
	struct store_rec	*recs;
	size_t			 nrecs, recs_cap;
};

/* Decode the body of the segment just read, appending its records. */
static int
store_sqlite_load_body(struct store_sqlite *s, struct store_sqlite_loaded *ld,
    size_t len, char **cause)
{
	struct store_rec	 rec;
	const char		*body = ld->bodies[ld->nsegs - 1];
	size_t			 off, n;

	for (off = 0; off < len; off += n) {
		if ((n = store_codec_get(body + off, len - off, &rec.r)) == 0) {
			xasprintf(cause, "%s: segment %llu is malformed at "
			    "byte %zu", s->path, (unsigned long long)
			    ld->segs[ld->nsegs - 1].seq, off);
			return -1;
		}
		rec.seg = ld->nsegs - 1;
		if (ld->nrecs == ld->recs_cap) {
			ld->recs_cap = ld->recs_cap ? ld->recs_cap * 2 : 1024;
			ld->recs = xreallocarray(ld->recs, ld->recs_cap,
			    sizeof *ld->recs);
		}
		ld->recs[ld->nrecs++] = rec;
	}
	return 0;
}

/* Read every segment row, in order, with the records in it. */
static int
store_sqlite_load_segments(struct store_sqlite *s,
    struct store_sqlite_loaded *ld, char **cause)
{
	sqlite3_stmt	*st = s->stmt[STMT_LOAD];
	const char	*blob;
	size_t		 len;
	int		 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		len = (size_t)sqlite3_column_bytes(st, 1);
		blob = sqlite3_column_blob(st, 1);
		if (blob == NULL && len > 0) {
			store_sqlite_cause(s, cause, "reading segments");
			return -1;
		}
		store_sqlite_seg_push(&ld->segs, &ld->nsegs, &ld->segs_cap,
		    (uint64_t)sqlite3_column_int64(st, 0), 0);
		ld->bodies = xreallocarray(ld->bodies, ld->segs_cap,
		    sizeof *ld->bodies);
		ld->bodies[ld->nsegs - 1] = xmalloc(len + 1);
		if (len > 0)
			memcpy(ld->bodies[ld->nsegs - 1], blob, len);
		if (store_sqlite_load_body(s, ld, len, cause) == -1)
			return -1;
	}
	if (rc != SQLITE_DONE) {
		store_sqlite_cause(s, cause, "reading segments");
		return -1;
	}
	return 0;
}

/*
 * Count per segment the records handed out, before the callbacks (which
 * may release a record at once); segments with none left are garbage.
 */
static void
store_sqlite_count_live(struct store_sqlite *s, struct store_sqlite_loaded *ld)
{
	size_t	i;

	for (i = 0; i < ld->nrecs; i++) {
		ld->segs[ld->recs[i].seg].live++;
		ld->recs[i].r.seg = ld->segs[ld->recs[i].seg].seq;
		ld->recs[i].r.base_seg = 0;
		if (ld->recs[i].base == 0)
			continue;
		ld->segs[ld->recs[i].base - 1].live++;
		ld->recs[i].r.base_seg = ld->segs[ld->recs[i].base - 1].seq;
	}
	s->nlive = s->ndead = s->nzero = 0;
	for (i = 0; i < ld->nsegs; i++) {
		if (ld->segs[i].live > 0) {
			store_sqlite_seg_push(&s->live, &s->nlive,
			    &s->live_cap, ld->segs[i].seq, ld->segs[i].live);
			continue;
		}
		store_sqlite_dead(s, ld->segs[i].seq);
	}
}

/*
 * Read every segment (bodies kept in memory until the callbacks are done),
 * keep each id's newest record, hand them out (but the finished ones
 * past the newest max_finished: those were pruned, their segments only
 * held on for others), and count per segment the records handed out;
 * segments left with none are deleted by the next commit.
 */
int
store_sqlite_load(struct store_sqlite *s, size_t max_finished,
    void (*cb)(const struct store_record *, void *), void *arg, char **cause)
{
	struct store_sqlite_loaded	ld;
	size_t				i;
	int				ret = -1;

	memset(&ld, 0, sizeof ld);
	if (store_sqlite_load_segments(s, &ld, cause) == 0) {
		ld.recs = store_recover_newest(ld.recs, &ld.nrecs);
		ld.recs_cap = ld.nrecs;
		store_recover_order(ld.recs, &ld.nrecs, max_finished);
		store_sqlite_count_live(s, &ld);
		for (i = 0; i < ld.nrecs; i++)
			cb(&ld.recs[i].r, arg);
		ret = 0;
	}
	sqlite3_reset(s->stmt[STMT_LOAD]);
	for (i = 0; i < ld.nsegs; i++)
		free(ld.bodies[i]);
	free(ld.bodies);
	free(ld.segs);
	free(ld.recs);
	return ret;
}
