/*
 * The SQLite store's VFS: the default one, except that the frames a
 * transaction appends to the -wal file go out in one write, not two
 * write calls per page (SQLite writes each frame's 24-byte header and its
 * page apart). Everything else is the default VFS's own work.
 */
#ifndef MPSUP_STORE_SQLITE_VFS_H
#define MPSUP_STORE_SQLITE_VFS_H

#include <stdint.h>

/* Its name for sqlite3_open_v2(), registered on first use; NULL: default. */
const char	*store_sqlite_vfs(void);

/* Since start: -wal frames written through it, and the writes they took. */
struct store_sqlite_vfs_stats {
	uint64_t	frames;
	uint64_t	writes;
};
void		 store_sqlite_vfs_stats(struct store_sqlite_vfs_stats *);

#endif
