/*
 * The SQLite store's files (see store_sqlite_file.h): the lock file, the
 * connection's settings, and a database on a read-only file system.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/privfile.h"
#include "common/xmalloc.h"
#include "store/sqlite_api.h"
#include "store/store_ckpt.h"
#include "store/store_sqlite_file.h"

static void
store_sqlite_file_cause(sqlite3 *db, const char *path, char **cause,
    const char *what)
{
	xasprintf(cause, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

/* Run one statement that returns no rows. */
static int
store_sqlite_file_exec(sqlite3 *db, const char *path, const char *sql,
    char **cause, const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		store_sqlite_file_cause(db, path, cause, what);
		return -1;
	}
	return 0;
}

/*
 * Take PATH.lock: its fd, or -1 with *cause. A read-only directory still allows the lock (opened
 * read-only: flock does not need write access), just not the pid in it.
 */
int
store_sqlite_lockfile(const char *path, int mode, char **cause)
{
	char	*lpath, buf[32];
	ssize_t	 n;
	int	 fd;

	xasprintf(&lpath, "%s.lock", path);
	fd = privfile_open(lpath, O_RDWR, mode, cause);
	if (fd == -1 && (errno == EROFS || errno == EACCES)) {
		free(*cause);
		*cause = NULL;
		fd = open(lpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd == -1)
			xasprintf(cause, "%s: %s", lpath, strerror(errno));
	}
	if (fd == -1) {
		free(lpath);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK) {
			n = pread(fd, buf, sizeof buf - 1, 0);
			buf[n > 0 ? n : 0] = '\0';
			buf[strcspn(buf, "\n")] = '\0';
			xasprintf(cause, "%s is in use by another mpsup "
			    "(pid %s, holding %s)", path,
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
	return fd;
}

/*
 * WAL mode, the sync level, the cache and the -wal file's limit. Debian
 * builds SQLite with secure_delete on: every page a deleted segment row
 * frees would be written again, zeroed, to the -wal and then the database
 * (a quarter of the bytes written per job in the end-to-end bench). FAST
 * zeroes deleted content only in pages written anyway.
 */
int
store_sqlite_pragmas(sqlite3 *db, const char *path, int sync_full,
    char **cause)
{
	sqlite3_stmt	*st;
	const char	*mode;
	char		 sql[64];
	int		 rc;

	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st,
	    NULL) != SQLITE_OK) {
		store_sqlite_file_cause(db, path, cause, "setting journal_mode = WAL");
		return -1;
	}
	rc = sqlite3_step(st);
	mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) :
	    NULL;
	if (mode == NULL || strcmp(mode, "wal") != 0) {
		if (mode != NULL)
			xasprintf(cause, "%s: cannot use WAL mode (journal "
			    "mode stays %s)", path, mode);
		else
			store_sqlite_file_cause(db, path, cause, "setting journal_mode = WAL");
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	if (store_sqlite_file_exec(db, path, sync_full ? "PRAGMA synchronous = FULL" :
	    "PRAGMA synchronous = NORMAL", cause, "setting synchronous") == -1 ||
	    store_sqlite_file_exec(db, path, "PRAGMA cache_size = -16384", cause,
	    "setting cache_size") == -1 ||
	    store_sqlite_file_exec(db, path, "PRAGMA secure_delete = FAST", cause,
	    "setting secure_delete") == -1)
		return -1;
	snprintf(sql, sizeof sql, "PRAGMA journal_size_limit = %d",
	    STORE_CKPT_WAL_LIMIT);
	if (store_sqlite_file_exec(db, path, sql, cause, "setting journal_size_limit") == -1)
		return -1;
	return 0;
}

/*
 * A database on a read-only file system cannot be opened in WAL mode (the
 * -shm file cannot be made). If no -wal file holds commits that are not
 * yet in the database, it is opened immutable: what it holds is served,
 * and every write fails (submits answer store_error).
 */
sqlite3 *
store_sqlite_open_ro(const char *path, char **cause)
{
	struct { char *p; size_t n; } u;
	sqlite3		*db = NULL;
	struct stat	 sb;
	char		*wal;
	const char	*c;
	size_t		 i;
	int		 rc;

	xasprintf(&wal, "%s-wal", path);
	rc = stat(wal, &sb);
	free(wal);
	if (rc == 0 && sb.st_size > 0) {
		xasprintf(cause, "%s: read-only file system, and its -wal file "
		    "holds commits not yet in the database", path);
		return NULL;
	}
	/* A URI: escape what would end the path. */
	u.n = strlen(path) * 3 + 32;
	u.p = xmalloc(u.n);
	i = (size_t)snprintf(u.p, u.n, "file:");
	for (c = path; *c != '\0'; c++) {
		if (*c == '%' || *c == '?' || *c == '#')
			i += (size_t)snprintf(u.p + i, u.n - i, "%%%02X",
			    (unsigned char)*c);
		else
			u.p[i++] = *c;
	}
	snprintf(u.p + i, u.n - i, "?immutable=1");
	rc = sqlite3_open_v2(u.p, &db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	free(u.p);
	if (rc != SQLITE_OK) {
		if (db != NULL)
			store_sqlite_file_cause(db, path, cause,
			    "open (read-only)");
		else
			xasprintf(cause, "%s: open: out of memory", path);
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

int
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

