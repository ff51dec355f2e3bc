/*
 * The SQLite store's files, apart from its log (store_sqlite.c): PATH.lock
 * (held with flock() for the life of the store, with the holder's pid),
 * the connection's settings, and opening a database that sits on a
 * read-only file system.
 */
#ifndef MPSUP_STORE_SQLITE_FILE_H
#define MPSUP_STORE_SQLITE_FILE_H

#include <sqlite3.h>

/* Take PATH.lock (made with mode): its fd, or -1 with *cause. */
int		 store_sqlite_lockfile(const char *path, int mode,
		    char **cause);
/* WAL mode and the other settings of a writable database. */
int		 store_sqlite_pragmas(sqlite3 *db, const char *path,
		    int sync_full, char **cause);
/* Whether path's directory is on a read-only file system. */
int		 store_sqlite_on_readonly_fs(const char *path);
/* Open it immutable (its -wal must be empty): NULL with *cause if not. */
sqlite3		*store_sqlite_open_ro(const char *path, char **cause);

#endif
