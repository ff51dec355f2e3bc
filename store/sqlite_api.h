/*
 * libsqlite3, loaded when a SQLite store is opened (common/dynlib.h): the
 * binary does not link it, so a supervisor with the memory or the Redis
 * store, and every run of the command line client, do without it.
 *
 * A file that calls SQLite includes this header after <sqlite3.h>, and
 * its calls, spelled as usual, go through the table sqlite_api_load()
 * fills. Every function called is listed below: one left out fails the
 * build, as it is not linked.
 */
#ifndef MPSUP_STORE_SQLITE_API_H
#define MPSUP_STORE_SQLITE_API_H

#include <sqlite3.h>

#define MPSUP_SQLITE_FUNCTIONS(X)					\
	X(sqlite3_bind_blob64)						\
	X(sqlite3_bind_int64)						\
	X(sqlite3_busy_timeout)						\
	X(sqlite3_close)						\
	X(sqlite3_column_blob)						\
	X(sqlite3_column_bytes)						\
	X(sqlite3_column_int)						\
	X(sqlite3_column_int64)						\
	X(sqlite3_column_text)						\
	X(sqlite3_errmsg)						\
	X(sqlite3_exec)							\
	X(sqlite3_extended_result_codes)				\
	X(sqlite3_finalize)						\
	X(sqlite3_get_autocommit)					\
	X(sqlite3_open_v2)						\
	X(sqlite3_prepare_v2)						\
	X(sqlite3_prepare_v3)						\
	X(sqlite3_reset)						\
	X(sqlite3_step)							\
	X(sqlite3_vfs_find)						\
	X(sqlite3_vfs_register)						\
	X(sqlite3_wal_checkpoint_v2)					\
	X(sqlite3_wal_hook)

struct sqlite_api {
#define MPSUP_SQLITE_SLOT(f)	__typeof__(f) *f;
	MPSUP_SQLITE_FUNCTIONS(MPSUP_SQLITE_SLOT)
#undef MPSUP_SQLITE_SLOT
};
extern struct sqlite_api	sqlite_api;

/* Load the library once; -1 and *cause if it cannot be. */
int	sqlite_api_load(char **cause);

#ifndef MPSUP_SQLITE_API_DEFINE
#define sqlite3_bind_blob64		(sqlite_api.sqlite3_bind_blob64)
#define sqlite3_bind_int64		(sqlite_api.sqlite3_bind_int64)
#define sqlite3_busy_timeout		(sqlite_api.sqlite3_busy_timeout)
#define sqlite3_close			(sqlite_api.sqlite3_close)
#define sqlite3_column_blob		(sqlite_api.sqlite3_column_blob)
#define sqlite3_column_bytes		(sqlite_api.sqlite3_column_bytes)
#define sqlite3_column_int		(sqlite_api.sqlite3_column_int)
#define sqlite3_column_int64		(sqlite_api.sqlite3_column_int64)
#define sqlite3_column_text		(sqlite_api.sqlite3_column_text)
#define sqlite3_errmsg			(sqlite_api.sqlite3_errmsg)
#define sqlite3_exec			(sqlite_api.sqlite3_exec)
#define sqlite3_extended_result_codes	(sqlite_api.sqlite3_extended_result_codes)
#define sqlite3_finalize		(sqlite_api.sqlite3_finalize)
#define sqlite3_get_autocommit		(sqlite_api.sqlite3_get_autocommit)
#define sqlite3_open_v2			(sqlite_api.sqlite3_open_v2)
#define sqlite3_prepare_v2		(sqlite_api.sqlite3_prepare_v2)
#define sqlite3_prepare_v3		(sqlite_api.sqlite3_prepare_v3)
#define sqlite3_reset			(sqlite_api.sqlite3_reset)
#define sqlite3_step			(sqlite_api.sqlite3_step)
#define sqlite3_vfs_find		(sqlite_api.sqlite3_vfs_find)
#define sqlite3_vfs_register		(sqlite_api.sqlite3_vfs_register)
#define sqlite3_wal_checkpoint_v2	(sqlite_api.sqlite3_wal_checkpoint_v2)
#define sqlite3_wal_hook		(sqlite_api.sqlite3_wal_hook)
#endif

#endif
