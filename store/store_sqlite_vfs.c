/*
 * The SQLite store's VFS (see store_sqlite_vfs.h).
 *
 * A commit appends its pages to the -wal file as frames: for each, a
 * 24-byte header, then the page, in two writes. Under load a commit
 * carries 15-20 pages, so the commit thread made some 35 pwrite() calls
 * per commit, each one a system call and a pass through the file
 * system's write path. This VFS hands everything to the default one, but
 * gives -wal files (SQLITE_OPEN_WAL) write methods that gather the frames
 * of a transaction in memory and write them at once, when the frame that
 * ends the transaction (its header carries the database size) has its
 * page: the write that can fail is then that frame's own xWrite, so a
 * failure fails the commit as it always did, before SQLite makes the
 * frames visible in the -wal index.
 *
 * What is held between calls is never a committed frame: only frames of
 * a transaction still being written (a cache spill writes some before
 * the commit). No other connection reads past the last commit, and any
 * other call on the file (read, sync, truncate, size, file control,
 * close) and any write that is not the next frame writes what is held
 * first, so the connection's own reads see it. A 24-byte write counts as
 * a frame header only where a frame starts (the page size learnt from
 * the -wal header, or from a header followed by its page); anything else
 * goes straight through.
 *
 * Runs on the commit thread: no log call, no xmalloc() (an allocation
 * that fails means writing through).
 */
#include "config.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_api.h"
#include "store/store_sqlite_vfs.h"

#define VFS_NAME		"mpsup"
#define WAL_HEADER		32	/* the -wal file's own header */
#define WAL_FRAME_HEADER	24
#define WAL_HELD_MAX		(4 << 20)	/* then written, commit or not */
/* The default VFS writes 128 KiB - 1 at most per call (unixWrite). */
#define WAL_WRITE_MAX		(120 * 1024)

struct wal_file {
	sqlite3_file	 base;		/* our methods */
	sqlite3_file	*real;		/* the default VFS's, after us */
	unsigned char	*held;		/* frames not written yet */
	size_t		 len;
	size_t		 cap;
	sqlite3_int64	 off;		/* file offset of held[0] */
	sqlite3_int64	 last_header;	/* offset of a header written through */
	int		 page_size;	/* 0 until learnt */
	int		 want_page;	/* held ends with a frame header */
	int		 commit;	/* that header ends a transaction */
};

/* struct wal_file, rounded so that the real file after it is aligned. */
#define WAL_FILE_SIZE	((sizeof(struct wal_file) + 15) & ~(size_t)15)

static sqlite3_vfs	vfs;
static pthread_once_t	vfs_once = PTHREAD_ONCE_INIT;
static int		vfs_ok;
static uint64_t		stat_frames, stat_writes;

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static int
valid_page_size(uint32_t n)
{
	return n >= 512 && n <= 65536 && (n & (n - 1)) == 0;
}

static int
frame_start(const struct wal_file *w, sqlite3_int64 ofst)
{
	return w->page_size != 0 && ofst >= WAL_HEADER &&
	    (ofst - WAL_HEADER) % (w->page_size + WAL_FRAME_HEADER) == 0;
}

/* Write what is held. */
static int
wal_flush(struct wal_file *w)
{
	size_t	done, n;
	int	rc = SQLITE_OK;

	for (done = 0; done < w->len && rc == SQLITE_OK; done += n) {
		n = w->len - done < WAL_WRITE_MAX ? w->len - done :
		    WAL_WRITE_MAX;
		rc = w->real->pMethods->xWrite(w->real, w->held + done,
		    (int)n, w->off + (sqlite3_int64)done);
		__atomic_fetch_add(&stat_writes, 1, __ATOMIC_RELAXED);
	}
	w->len = 0;
	w->want_page = 0;
	return rc;
}

/* Hold n more bytes at the end: 0, or -1 if there is no memory for it. */
static int
wal_hold(struct wal_file *w, const void *p, size_t n)
{
	unsigned char	*b;
	size_t		 cap;

	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 64 * 1024;
		while (cap < w->len + n)
			cap *= 2;
		if ((b = realloc(w->held, cap)) == NULL)
			return -1;
		w->held = b, w->cap = cap;
	}
	memcpy(w->held + w->len, p, n);
	w->len += n;
	return 0;
}

/* The page of the frame whose header is held: 1 if taken. */
static int
wal_page(struct wal_file *w, const void *p, int amt, sqlite3_int64 ofst,
    int *rc)
{
	w->want_page = 0;
	if (amt != w->page_size || ofst != w->off + (sqlite3_int64)w->len ||
	    wal_hold(w, p, (size_t)amt) == -1)
		return 0;
	__atomic_fetch_add(&stat_frames, 1, __ATOMIC_RELAXED);
	*rc = SQLITE_OK;
	if (w->commit || w->len >= WAL_HELD_MAX)
		*rc = wal_flush(w);
	return 1;
}

/* Learn the page size from the -wal header or a frame written through. */
static void
wal_learn(struct wal_file *w, const unsigned char *p, int amt,
    sqlite3_int64 ofst)
{
	if (ofst == 0 && amt >= WAL_HEADER && valid_page_size(get32(p + 8)))
		w->page_size = (int)get32(p + 8);
	else if (w->page_size == 0 && w->last_header >= WAL_HEADER &&
	    ofst == w->last_header + WAL_FRAME_HEADER &&
	    valid_page_size((uint32_t)amt) &&
	    (w->last_header - WAL_HEADER) % (amt + WAL_FRAME_HEADER) == 0)
		w->page_size = amt;
	w->last_header = amt == WAL_FRAME_HEADER ? ofst : -1;
}

static int
wal_write(sqlite3_file *f, const void *p, int amt, sqlite3_int64 ofst)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if (w->want_page && wal_page(w, p, amt, ofst, &rc))
		return rc;
	if (amt == WAL_FRAME_HEADER && frame_start(w, ofst)) {
		if (w->len > 0 && ofst != w->off + (sqlite3_int64)w->len &&
		    (rc = wal_flush(w)) != SQLITE_OK)
			return rc;
		if (w->len == 0)
			w->off = ofst;
		if (wal_hold(w, p, WAL_FRAME_HEADER) == 0) {
			w->want_page = 1;
			w->commit = get32((const unsigned char *)p + 4) != 0;
			return SQLITE_OK;
		}
	}
	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	wal_learn(w, p, amt, ofst);
	return w->real->pMethods->xWrite(w->real, p, amt, ofst);
}

static int
wal_close(sqlite3_file *f)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc, rc2;

	rc = wal_flush(w);
	rc2 = w->real->pMethods->xClose(w->real);
	free(w->held);
	w->held = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
wal_read(sqlite3_file *f, void *p, int amt, sqlite3_int64 ofst)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xRead(w->real, p, amt, ofst);
}

static int
wal_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xTruncate(w->real, size);
}

static int
wal_sync(sqlite3_file *f, int flags)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xSync(w->real, flags);
}

static int
wal_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xFileSize(w->real, size);
}

static int
wal_file_control(sqlite3_file *f, int op, void *arg)
{
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if ((rc = wal_flush(w)) != SQLITE_OK)
		return rc;
	return w->real->pMethods->xFileControl(w->real, op, arg);
}

/* The rest is the default VFS's. */
#define REAL(f)	(((struct wal_file *)(f))->real)

static int
wal_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
wal_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
wal_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
wal_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
wal_device(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
wal_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	if (REAL(f)->pMethods->iVersion < 2)
		return SQLITE_IOERR;
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}

static int
wal_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	if (REAL(f)->pMethods->iVersion < 2)
		return SQLITE_IOERR;
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void
wal_shm_barrier(sqlite3_file *f)
{
	if (REAL(f)->pMethods->iVersion >= 2)
		REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
wal_shm_unmap(sqlite3_file *f, int del)
{
	if (REAL(f)->pMethods->iVersion < 2)
		return SQLITE_OK;
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int
wal_fetch(sqlite3_file *f, sqlite3_int64 ofst, int amt, void **pp)
{
	*pp = NULL;
	if (REAL(f)->pMethods->iVersion < 3)
		return SQLITE_OK;
	return REAL(f)->pMethods->xFetch(REAL(f), ofst, amt, pp);
}

static int
wal_unfetch(sqlite3_file *f, sqlite3_int64 ofst, void *p)
{
	if (REAL(f)->pMethods->iVersion < 3)
		return SQLITE_OK;
	return REAL(f)->pMethods->xUnfetch(REAL(f), ofst, p);
}

static const sqlite3_io_methods wal_methods = {
	3, wal_close, wal_read, wal_write, wal_truncate, wal_sync,
	wal_file_size, wal_lock, wal_unlock, wal_check_reserved,
	wal_file_control, wal_sector_size, wal_device, wal_shm_map,
	wal_shm_lock, wal_shm_barrier, wal_shm_unmap, wal_fetch, wal_unfetch
};

/*
 * A -wal file gets our methods, the default VFS's file after them; any
 * other file is the default VFS's own, in our room.
 */
static int
vfs_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags,
    int *out)
{
	sqlite3_vfs	*real = v->pAppData;
	struct wal_file	*w = (struct wal_file *)f;
	int		 rc;

	if (!(flags & SQLITE_OPEN_WAL))
		return real->xOpen(real, name, f, flags, out);
	memset(w, 0, sizeof *w);
	w->real = (sqlite3_file *)((char *)w + WAL_FILE_SIZE);
	w->last_header = -1;
	rc = real->xOpen(real, name, w->real, flags, out);
	/* SQLite closes a file whose methods are set, even when it failed. */
	w->base.pMethods = w->real->pMethods != NULL ? &wal_methods : NULL;
	return rc;
}

#define VFS_REAL(v)	((sqlite3_vfs *)(v)->pAppData)

static int
vfs_delete(sqlite3_vfs *v, const char *name, int sync)
{
	return VFS_REAL(v)->xDelete(VFS_REAL(v), name, sync);
}

static int
vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return VFS_REAL(v)->xAccess(VFS_REAL(v), name, flags, out);
}

static int
vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return VFS_REAL(v)->xFullPathname(VFS_REAL(v), name, n, out);
}

static void *
vfs_dlopen(sqlite3_vfs *v, const char *name)
{
	return VFS_REAL(v)->xDlOpen(VFS_REAL(v), name);
}

static void
vfs_dlerror(sqlite3_vfs *v, int n, char *out)
{
	VFS_REAL(v)->xDlError(VFS_REAL(v), n, out);
}

typedef void (*vfs_sym_fn)(void);

static vfs_sym_fn
vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym)
{
	return VFS_REAL(v)->xDlSym(VFS_REAL(v), h, sym);
}

static void
vfs_dlclose(sqlite3_vfs *v, void *h)
{
	VFS_REAL(v)->xDlClose(VFS_REAL(v), h);
}

static int
vfs_randomness(sqlite3_vfs *v, int n, char *out)
{
	return VFS_REAL(v)->xRandomness(VFS_REAL(v), n, out);
}

static int
vfs_sleep(sqlite3_vfs *v, int us)
{
	return VFS_REAL(v)->xSleep(VFS_REAL(v), us);
}

static int
vfs_current_time(sqlite3_vfs *v, double *out)
{
	return VFS_REAL(v)->xCurrentTime(VFS_REAL(v), out);
}

static int
vfs_last_error(sqlite3_vfs *v, int n, char *out)
{
	return VFS_REAL(v)->xGetLastError(VFS_REAL(v), n, out);
}

static int
vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return VFS_REAL(v)->xCurrentTimeInt64(VFS_REAL(v), out);
}

static void
vfs_register(void)
{
	sqlite3_vfs	*real = sqlite3_vfs_find(NULL);

	/* Version 2 at least (xCurrentTimeInt64): every SQLite since 3.7. */
	if (real == NULL || real->iVersion < 2)
		return;
	vfs.iVersion = 2;
	vfs.szOsFile = (int)(WAL_FILE_SIZE + (size_t)real->szOsFile);
	vfs.mxPathname = real->mxPathname;
	vfs.zName = VFS_NAME;
	vfs.pAppData = real;
	vfs.xOpen = vfs_open;
	vfs.xDelete = vfs_delete;
	vfs.xAccess = vfs_access;
	vfs.xFullPathname = vfs_full_pathname;
	vfs.xDlOpen = vfs_dlopen;
	vfs.xDlError = vfs_dlerror;
	vfs.xDlSym = vfs_dlsym;
	vfs.xDlClose = vfs_dlclose;
	vfs.xRandomness = vfs_randomness;
	vfs.xSleep = vfs_sleep;
	vfs.xCurrentTime = vfs_current_time;
	vfs.xGetLastError = vfs_last_error;
	vfs.xCurrentTimeInt64 = vfs_current_time64;
	vfs_ok = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *
store_sqlite_vfs(void)
{
	pthread_once(&vfs_once, vfs_register);
	return vfs_ok ? VFS_NAME : NULL;
}

void
store_sqlite_vfs_stats(struct store_sqlite_vfs_stats *st)
{
	st->frames = __atomic_load_n(&stat_frames, __ATOMIC_RELAXED);
	st->writes = __atomic_load_n(&stat_writes, __ATOMIC_RELAXED);
}
