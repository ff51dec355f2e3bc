/*
 * The SQLite job store (see store.h): one table of jobs keyed by id (the
 * ids sort by submission time, so recovery reads the queue back in its
 * order), in WAL mode, with prepared statements and one open transaction
 * that store_sqlite_commit() ends.
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

#include "common/xmalloc.h"
#include "supervisor/store.h"

enum {
	STMT_BEGIN, STMT_COMMIT, STMT_INSERT, STMT_UPDATE, STMT_DELETE,
	STMT_LOAD_QUEUED, STMT_LOAD_FINISHED, STMT_PRUNE, STMT_START,
	STMT_INSERT_MANY, STMT_N
};

/* Rows per multi-row INSERT: one statement step instead of 32. */
#define STORE_SQLITE_BATCH	32
#define STORE_SQLITE_NCOLS	13

static const char *const store_sqlite_sql[STMT_N] = {
	"BEGIN",
	"COMMIT",
	"INSERT INTO jobs (id, pool, state, attempts, worker, truncated, "
	    "submitted_at, started_at, finished_at, data, result, error, key) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	"UPDATE jobs SET state = ?3, attempts = ?4, worker = ?5, "
	    "truncated = ?6, started_at = ?8, finished_at = ?9, result = ?11, "
	    "error = ?12 WHERE id = ?1",
	"DELETE FROM jobs WHERE id = ?1",
	"SELECT id, pool, state, attempts, worker, truncated, submitted_at, "
	    "started_at, finished_at, data, result, error, key FROM jobs "
	    "WHERE state < 2 ORDER BY id",
	"SELECT id, pool, state, attempts, worker, truncated, submitted_at, "
	    "started_at, finished_at, data, result, error, key FROM jobs "
	    "WHERE state >= 2 ORDER BY finished_at, id",
	"DELETE FROM jobs WHERE state >= 2 AND finished_at < ?1",
	"UPDATE jobs SET state = ?3, attempts = ?4, worker = ?5, "
	    "started_at = ?8 WHERE id = ?1",
	NULL,	/* STMT_INSERT_MANY, built by store_sqlite_setup() */
};

static const char store_sqlite_schema[] =
	"CREATE TABLE jobs ("
	" id INTEGER PRIMARY KEY NOT NULL,"
	" pool TEXT NOT NULL,"
	" state INTEGER NOT NULL,"	/* enum job_state */
	" attempts INTEGER NOT NULL,"
	" worker INTEGER NOT NULL,"
	" truncated INTEGER NOT NULL,"
	" submitted_at REAL NOT NULL,"
	" started_at REAL NOT NULL,"
	" finished_at REAL NOT NULL,"
	" data TEXT NOT NULL,"
	" result TEXT,"
	" error TEXT,"
	" key TEXT"
	");"
	"PRAGMA user_version = 1;";

struct store_sqlite {
	char		*path;
	sqlite3		*db;
	int		 lock_fd;
	int		 in_txn;
	int		 readonly;	/* on a read-only file system */
	sqlite3_stmt	*stmt[STMT_N];
};

static void
store_sqlite_cause(struct store_sqlite *s, char **cause, const char *what)
{
	xasprintf(cause, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/*
 * Take PATH.lock. A read-only directory still allows the lock (opened
 * read-only: flock does not need write access), just not the pid in it.
 */
static int
store_sqlite_lock(struct store_sqlite *s, char **cause)
{
	char	*lpath, buf[32];
	ssize_t	 n;
	int	 fd;

	xasprintf(&lpath, "%s.lock", s->path);
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1 && (errno == EROFS || errno == EACCES))
		fd = open(lpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1) {
		xasprintf(cause, "%s: %s", lpath, strerror(errno));
		free(lpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof buf - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			xasprintf(cause, "%s is in use by another mpsup "
			    "(pid %s, holding %s)", s->path,
			    buf[0] != '\0' ? buf : "unknown", lpath);
		} else
			xasprintf(cause, "%s: flock: %s", lpath,
			    strerror(errno));
		close(fd);
		free(lpath);
		return -1;
	}
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)n, 0) != n) {
		/* Only the holder's name in messages depends on it. */
	}
	free(lpath);
	s->lock_fd = fd;
	return 0;
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

/* INSERT INTO jobs (...) VALUES (?,...), ... for STORE_SQLITE_BATCH rows. */
static int
store_sqlite_prepare_many(struct store_sqlite *s, sqlite3_stmt **st)
{
	const char	*values = strstr(store_sqlite_sql[STMT_INSERT], "VALUES");
	char		*sql, *p;
	size_t		 len;
	int		 i, j, rc;

	len = (size_t)(values - store_sqlite_sql[STMT_INSERT]) + 8 +
	    STORE_SQLITE_BATCH * (STORE_SQLITE_NCOLS * 2 + 3);
	sql = p = xmalloc(len);
	p += snprintf(p, len, "%.*sVALUES ",
	    (int)(values - store_sqlite_sql[STMT_INSERT]),
	    store_sqlite_sql[STMT_INSERT]);
	for (i = 0; i < STORE_SQLITE_BATCH; i++) {
		*p++ = i ? ',' : '(';
		if (i)
			*p++ = '(';
		for (j = 0; j < STORE_SQLITE_NCOLS; j++) {
			*p++ = j ? ',' : '?';
			if (j)
				*p++ = '?';
		}
		*p++ = ')';
	}
	*p = '\0';
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL);
	free(sql);
	return rc;
}

static int
store_sqlite_setup(struct store_sqlite *s, int sync_full, char **cause)
{
	sqlite3_stmt	*st;
	const char	*mode;
	int		 version, rc, i;

	sqlite3_busy_timeout(s->db, 0);
	sqlite3_extended_result_codes(s->db, 1);
	/* Reading the header first reports a corrupt or foreign file. */
	if (store_sqlite_version(s, &version, cause) == -1)
		return -1;
	if (s->readonly) {
		if (version != STORE_SCHEMA_VERSION) {
			xasprintf(cause, "%s: read-only file system, and not "
			    "a database of this mpsup (schema version %d)",
			    s->path, version);
			return -1;
		}
		goto prepare;
	}
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		store_sqlite_cause(s, cause, "setting journal_mode = WAL");
		return -1;
	}
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) :
	    NULL;
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		if (mode != NULL)
			xasprintf(cause, "%s: cannot use WAL mode (journal "
			    "mode stays %s)", s->path, mode);
		else
			store_sqlite_cause(s, cause, "setting journal_mode = WAL");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	if (store_sqlite_exec(s, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", cause, "setting synchronous") == -1 ||
	    store_sqlite_exec(s, "PRAGMA cache_size = -16384", cause,
	    "setting cache_size") == -1)
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
	} else if (version != STORE_SCHEMA_VERSION) {
		xasprintf(cause, "%s: schema version %d, this mpsup knows "
		    "version %d", s->path, version, STORE_SCHEMA_VERSION);
		return -1;
	}
prepare:
	for (i = 0; i < STMT_N; i++) {
		if (i == STMT_INSERT_MANY)
			rc = store_sqlite_prepare_many(s, &s->stmt[i]);
		else
			rc = sqlite3_prepare_v3(s->db, store_sqlite_sql[i], -1,
			    SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			store_sqlite_cause(s, cause, "preparing statements");
			return -1;
		}
	}
	return 0;
}

/*
 * A database on a read-only file system cannot be opened in WAL mode (the
 * -shm file cannot be made). If no -wal file holds commits that are not
 * yet in the database, it is opened immutable: what it holds is served,
 * and every write fails (submits answer store_error).
 */
static int
store_sqlite_open_readonly(struct store_sqlite *s, char **cause)
{
	struct { char *p; size_t n; } u;
	struct stat	 sb;
	char		*wal;
	const char	*c;
	size_t		 i;
	int		 rc;

	xasprintf(&wal, "%s-wal", s->path);
	rc = stat(wal, &sb);
	free(wal);
	if (rc == 0 && sb.st_size > 0) {
		xasprintf(cause, "%s: read-only file system, and its -wal file "
		    "holds commits not yet in the database", s->path);
		return -1;
	}
	/* A URI: escape what would end the path. */
	u.n = strlen(s->path) * 3 + 32;
	u.p = xmalloc(u.n);
	i = (size_t)snprintf(u.p, u.n, "file:");
	for (c = s->path; *c != '\0'; c++) {
		if (*c == '%' || *c == '?' || *c == '#')
			i += (size_t)snprintf(u.p + i, u.n - i, "%%%02X",
			    (unsigned char)*c);
		else
			u.p[i++] = *c;
	}
	snprintf(u.p + i, u.n - i, "?immutable=1");
	rc = sqlite3_open_v2(u.p, &s->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	free(u.p);
	if (rc != SQLITE_OK) {
		if (s->db != NULL)
			store_sqlite_cause(s, cause, "open (read-only)");
		else
			xasprintf(cause, "%s: open: out of memory", s->path);
		return -1;
	}
	s->readonly = 1;
	return 0;
}

static int
store_sqlite_on_readonly_fs(const char *path)
{
	struct statvfs	 vfs;
	char		*dir, *slash;
	int		 ro;

	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	ro = statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
	free(dir);
	return ro;
}

struct store_sqlite *
store_sqlite_open(const char *path, int sync_full, char **cause)
{
	struct store_sqlite	*s;

	s = xcalloc(1, sizeof *s);
	s->path = xstrdup(path);
	s->lock_fd = -1;
	if (store_sqlite_lock(s, cause) == -1) {
		store_sqlite_close(s);
		return NULL;
	}
	if (store_sqlite_on_readonly_fs(path)) {
		if (store_sqlite_open_readonly(s, cause) == -1 ||
		    store_sqlite_setup(s, sync_full, cause) == -1) {
			store_sqlite_close(s);
			return NULL;
		}
		return s;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
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

	if (s->in_txn)
		store_sqlite_rollback(s);
	for (i = 0; i < STMT_N; i++)
		sqlite3_finalize(s->stmt[i]);
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
store_sqlite_bind_text(sqlite3_stmt *st, int i, const char *p)
{
	if (p != NULL)
		sqlite3_bind_text(st, i, p, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/*
 * Ids are 64-bit numbers written in 16 hex digits: as the table's integer
 * key they sort the same, and new jobs append at the end of the b-tree.
 */
static sqlite3_int64
store_sqlite_id(const char *id)
{
	uint64_t	v = 0;
	int		i;

	for (i = 0; i < 16; i++)
		v = (v << 4) | (uint64_t)(id[i] >= 'a' ? id[i] - 'a' + 10 :
		    id[i] >= 'A' ? id[i] - 'A' + 10 : id[i] - '0');
	return (sqlite3_int64)v;
}

/* Bind a record's columns as parameters o+1 .. o+13 (see the INSERT). */
static void
store_sqlite_bind(sqlite3_stmt *st, const struct store_record *r, int all,
    int o)
{
	sqlite3_bind_int64(st, o + 1, store_sqlite_id(r->id));
	sqlite3_bind_int(st, o + 3, r->state);
	sqlite3_bind_int(st, o + 4, (int)r->attempts);
	sqlite3_bind_int(st, o + 5, r->worker);
	sqlite3_bind_double(st, o + 8, r->started_at);
	if (all == 0)
		return;
	sqlite3_bind_int(st, o + 6, r->truncated);
	sqlite3_bind_double(st, o + 9, r->finished_at);
	store_sqlite_bind_text(st, o + 11, r->result);
	store_sqlite_bind_text(st, o + 12, r->error);
	if (all == 1)
		return;
	sqlite3_bind_text(st, o + 2, r->pool, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, o + 7, r->submitted_at);
	sqlite3_bind_text(st, o + 10, r->data, (int)r->data_len,
	    SQLITE_STATIC);
	store_sqlite_bind_text(st, o + 13, r->key);
}

int
store_sqlite_insert(struct store_sqlite *s, const struct store_record *r,
    char **cause)
{
	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	store_sqlite_bind(s->stmt[STMT_INSERT], r, 2, 0);
	return store_sqlite_step(s, s->stmt[STMT_INSERT], cause, "insert");
}

int
store_sqlite_insert_many(struct store_sqlite *s,
    const struct store_record *r, size_t n, char **cause)
{
	sqlite3_stmt	*st = s->stmt[STMT_INSERT_MANY];
	size_t		 i;

	if (n != STORE_SQLITE_BATCH) {
		for (i = 0; i < n; i++)
			if (store_sqlite_insert(s, &r[i], cause) == -1)
				return -1;
		return 0;
	}
	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	for (i = 0; i < n; i++)
		store_sqlite_bind(st, &r[i], 2, (int)i * STORE_SQLITE_NCOLS);
	return store_sqlite_step(s, st, cause, "insert");
}

int
store_sqlite_update(struct store_sqlite *s, const struct store_record *r,
    char **cause)
{
	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	/* A job that starts changes only these (the smaller write). */
	if (r->state == 1) {
		store_sqlite_bind(s->stmt[STMT_START], r, 0, 0);
		return store_sqlite_step(s, s->stmt[STMT_START], cause,
		    "update");
	}
	store_sqlite_bind(s->stmt[STMT_UPDATE], r, 1, 0);
	return store_sqlite_step(s, s->stmt[STMT_UPDATE], cause, "update");
}

int
store_sqlite_delete(struct store_sqlite *s, const char *id, char **cause)
{
	sqlite3_stmt	*st = s->stmt[STMT_DELETE];

	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	sqlite3_bind_int64(st, 1, store_sqlite_id(id));
	return store_sqlite_step(s, st, cause, "delete");
}

int
store_sqlite_commit(struct store_sqlite *s, char **cause)
{
	if (!s->in_txn)
		return 0;
	if (sqlite3_get_autocommit(s->db)) {
		/* An error already ended (rolled back) the transaction. */
		s->in_txn = 0;
		xasprintf(cause, "%s: the transaction was rolled back "
		    "after an error", s->path);
		return -1;
	}
	if (store_sqlite_step(s, s->stmt[STMT_COMMIT], cause, "commit") ==
	    -1) {
		store_sqlite_rollback(s);
		return -1;
	}
	s->in_txn = 0;
	return 0;
}

void
store_sqlite_rollback(struct store_sqlite *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = 0;
}

static const char *
store_sqlite_column(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int
store_sqlite_load(struct store_sqlite *s, int finished,
    void (*cb)(const struct store_record *, void *), void *arg, char **cause)
{
	sqlite3_stmt		*st;
	struct store_record	 r;
	int			 rc;

	st = s->stmt[finished ? STMT_LOAD_FINISHED : STMT_LOAD_QUEUED];
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof r);
		if (sqlite3_column_type(st, 0) != SQLITE_INTEGER ||
		    store_sqlite_column(st, 1) == NULL ||
		    store_sqlite_column(st, 9) == NULL) {
			xasprintf(cause, "%s: a row of table jobs is malformed",
			    s->path);
			sqlite3_reset(st);
			return -1;
		}
		snprintf(r.id, sizeof r.id, "%016llx",
		    (unsigned long long)sqlite3_column_int64(st, 0));
		r.pool = store_sqlite_column(st, 1);
		r.state = sqlite3_column_int(st, 2);
		r.attempts = (unsigned)sqlite3_column_int(st, 3);
		r.worker = sqlite3_column_int(st, 4);
		r.truncated = sqlite3_column_int(st, 5);
		r.submitted_at = sqlite3_column_double(st, 6);
		r.started_at = sqlite3_column_double(st, 7);
		r.finished_at = sqlite3_column_double(st, 8);
		r.data = store_sqlite_column(st, 9);
		r.data_len = (size_t)sqlite3_column_bytes(st, 9);
		r.result = store_sqlite_column(st, 10);
		r.error = store_sqlite_column(st, 11);
		r.key = store_sqlite_column(st, 12);
		cb(&r, arg);
	}
	if (rc != SQLITE_DONE) {
		store_sqlite_cause(s, cause, "reading jobs");
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

int
store_sqlite_prune(struct store_sqlite *s, double before, char **cause)
{
	sqlite3_stmt	*st = s->stmt[STMT_PRUNE];

	if (store_sqlite_begin(s, cause) == -1)
		return -1;
	sqlite3_bind_double(st, 1, before);
	return store_sqlite_step(s, st, cause, "pruning finished records");
}
