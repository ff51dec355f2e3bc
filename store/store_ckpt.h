/*
 * Background checkpoints for the SQLite store (store_sqlite.c).
 *
 * In WAL mode every commit appends to the -wal file, and a checkpoint
 * copies those pages back into the database (with a flush to disk) so
 * that the -wal file can start over. SQLite's automatic checkpoint runs
 * inside the commit that crosses its threshold, on the event loop: under
 * load that is a stall of several milliseconds, several times a second.
 * Here the loop's connection gets a WAL hook instead, which wakes a
 * thread holding a second connection to the same database to do a
 * PASSIVE checkpoint (one that never blocks a writer). If the -wal file
 * still grows past a high mark, the hook checkpoints on the loop itself,
 * so it stays bounded whatever the thread manages.
 *
 * The thread touches nothing but its own connection and the hand-off
 * below; mpsup forks its workers from the main thread, whose child runs
 * only async-signal-safe code before exec.
 */
#ifndef MPSUP_STORE_CKPT_H
#define MPSUP_STORE_CKPT_H

#include <sqlite3.h>

struct store_ckpt;

/*
 * -wal frames (pages) that wake the thread, and the high mark. A page
 * written several times between two checkpoints is copied once: with
 * 4,000 frames (16 MiB) rather than 1,000 the end-to-end bench writes 8 %
 * fewer bytes per job and reads 25 % fewer back.
 */
#define STORE_CKPT_FRAMES	4000
#define STORE_CKPT_MAX		16000
/*
 * Past the mark, frames written between two wake-ups of the thread with
 * store_sync = normal (see store_ckpt_start()).
 */
#define STORE_CKPT_STEP		1000
/* A -wal file a burst grew past this is cut back when the log restarts. */
#define STORE_CKPT_WAL_LIMIT	(32 << 20)

/*
 * Start checkpointing the database at path, written through db; past the
 * mark, the thread is woken once per `step` frames written (1: at every
 * commit). NULL with *cause on failure (db then keeps SQLite's own
 * automatic checkpoints).
 */
struct store_ckpt	*store_ckpt_start(sqlite3 *db, const char *path,
			    int step, char **cause);
/* Stop the thread and close its connection (before db is closed). */
void			 store_ckpt_stop(struct store_ckpt *);
/* Checkpoints the thread has run (for tests). */
unsigned long		 store_ckpt_count(struct store_ckpt *);
/* Times commits woke the thread (for tests, from the committing thread). */
unsigned long		 store_ckpt_wakeups(const struct store_ckpt *);

#endif
