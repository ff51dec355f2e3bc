/*
 * The job store: where accepted jobs, their state changes and their
 * finished records are kept so that a restart loses nothing. Two stores
 * sit behind the same calls: "memory" (nothing is written; a stop drops
 * what was unfinished) and "sqlite:PATH" (one SQLite database in WAL
 * mode, held by one mpsup at a time).
 *
 * The SQLite store is a log of segments: each commit appends a row that
 * holds the whole record of every unfinished job written since the last
 * commit, and one for the finished ones; a job's newest record supersedes
 * its older ones. The job engine tells the
 * store when a committed record stops mattering (superseded, or pruned);
 * a segment none of whose records matter any more is deleted by a later
 * commit. Writing a job costs one record appended to a buffer instead of
 * a row insert, update or delete, so group commit stays cheap.
 *
 * The job engine commits once per loop iteration (group commit), or,
 * pipelined, as soon as the commit under way (on the store's thread)
 * ended, and acknowledges a submit only after the commit that holds it
 * succeeded.
 */
#ifndef MPSUP_STORE_H
#define MPSUP_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* One job as the store keeps it; strings are borrowed. */
struct store_record {
	char		 id[17];
	const char	*pool;
	int		 state;		/* enum job_state */
	unsigned	 attempts;
	int		 worker;	/* -1 for none */
	int		 truncated;
	double		 submitted_at;
	double		 started_at;
	double		 finished_at;
	const char	*data;
	size_t		 data_len;
	const char	*result;	/* NULL for none */
	const char	*error;		/* NULL for none */
	const char	*key;		/* idempotency key, NULL for none */
	const char	*client;	/* who submitted it, NULL for none */
	int		 priority;	/* flow (job.h): 0, 0, NULL by default */
	double		 not_before;
	const char	*group;
	int		 dead;		/* a dead letter (kept with its data) */
	const char	*retry_of;	/* the dead letter it retries, or NULL */
	/*
	 * store_put(): write only what a start changes (state, attempts,
	 * worker, started_at; see store_codec.h), the rest being in the
	 * job's newest committed record, whose segment the caller keeps.
	 */
	int		 delta;
	uint64_t	 seg;		/* store_load(): the segment holding it */
	/* store_load(): a start merged with the whole record in this one. */
	uint64_t	 base_seg;
};

/* 3: start deltas (store_codec.h); a version 2 log is read, and marked 3. */
#define STORE_SCHEMA_VERSION	3

/*
 * Open a store from its config value ("memory" or "sqlite:/abs/path");
 * sync_full picks synchronous=FULL over NORMAL; the files it creates (the
 * database, its -wal, -shm and .lock) get mode, and a symlink at the path
 * is refused. NULL with *cause (which names the path and, for a held
 * database, the holder's pid) on failure.
 */
struct store	*store_open(const char *spec, int sync_full, int mode,
		    char **cause);
void		 store_close(struct store *);
/* Whether writes survive a restart (0 for the memory store). */
int		 store_durable(const struct store *);
/* Opened on a read-only file system: it serves what it holds, writes fail. */
int		 store_readonly(const struct store *);

/*
 * Write a job's whole record into the open transaction; *seg is the
 * segment it lands in once committed. -1 with *cause on failure; the
 * transaction must then be rolled back.
 */
int		 store_put(struct store *, const struct store_record *,
		    uint64_t *seg, char **cause);
/* Commit the open transaction (nothing to do if none), and wait. */
int		 store_commit(struct store *, char **cause);
/*
 * Pipelined commits: the open transaction goes to the store's commit
 * thread and the caller goes on; at most one is under way. Until its
 * result is collected the caller must not put, commit or roll back (the
 * thread owns the connection and the records); releasing segments is
 * fine. store_commit_start() gives 0 if there was nothing to commit,
 * else 1 (block: the commit ran before it returned). When
 * store_commit_fd() (an O_CLOEXEC eventfd, -1 without a thread) is
 * readable, store_commit_result() gives 0 (committed), -1 with *cause
 * (rolled back) or, while it runs and block is 0, 1.
 */
int		 store_commit_start(struct store *, int block);
int		 store_commit_result(struct store *, int block, char **cause);
int		 store_commit_busy(const struct store *);
int		 store_commit_fd(const struct store *);
/* Drop the open transaction's writes. */
void		 store_rollback(struct store *);
/*
 * A committed record in seg no longer matters (its job has a newer one,
 * or was pruned): once none of a segment's do, a commit deletes it.
 */
void		 store_release(struct store *, uint64_t seg);
/* Whether released segments wait for a commit to delete them. */
int		 store_has_garbage(const struct store *);
/* Segments in the log: committed, not yet deleted. */
size_t		 store_segments(const struct store *);

/*
 * Recovery: call cb with every job's newest record, the finished ones in
 * order of finish time first (only the newest max_finished of them: the
 * older ones were pruned), then the unfinished ones in id order. Each
 * counts as mattering in its segment (r->seg) until released.
 */
int		 store_load(struct store *, size_t max_finished,
		    void (*cb)(const struct store_record *, void *), void *arg,
		    char **cause);

/* Back end (store_sqlite.c). */
struct store_sqlite;
struct store_sqlite *store_sqlite_open(const char *path, int sync_full,
		    int mode, char **cause);
void		 store_sqlite_close(struct store_sqlite *);
int		 store_sqlite_readonly(const struct store_sqlite *);
int		 store_sqlite_put(struct store_sqlite *,
		    const struct store_record *, uint64_t *seg, char **cause);
int		 store_sqlite_commit(struct store_sqlite *, char **cause);
int		 store_sqlite_commit_start(struct store_sqlite *, int block);
int		 store_sqlite_commit_result(struct store_sqlite *, int block,
		    char **cause);
int		 store_sqlite_commit_busy(const struct store_sqlite *);
int		 store_sqlite_commit_fd(const struct store_sqlite *);
void		 store_sqlite_rollback(struct store_sqlite *);
void		 store_sqlite_release(struct store_sqlite *, uint64_t seg);
int		 store_sqlite_has_garbage(const struct store_sqlite *);
size_t		 store_sqlite_segments(const struct store_sqlite *);
int		 store_sqlite_load(struct store_sqlite *, size_t max_finished,
		    void (*cb)(const struct store_record *, void *), void *arg,
		    char **cause);

/* The commit thread (store_sqlite_async.c): runs fn(arg, cause). */
struct store_async;
struct store_async *store_async_start(int (*fn)(void *, char **), void *arg,
		    char **cause);
void		 store_async_stop(struct store_async *);
int		 store_async_fd(const struct store_async *);
int		 store_async_busy(const struct store_async *);
void		 store_async_run(struct store_async *);
int		 store_async_result(struct store_async *, int block,
		    char **cause);

#endif
