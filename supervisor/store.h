/*
 * The job store: where accepted jobs, their state changes and their
 * finished records are kept so that a restart loses nothing. Two stores
 * sit behind the same calls: "memory" (nothing is written; a stop drops
 * what was unfinished) and "sqlite:PATH" (one SQLite database in WAL
 * mode, held by one mpsup at a time).
 *
 * Writes go into an open transaction that store_commit() ends; the job
 * engine commits once per loop iteration (group commit), and acknowledges
 * a submit only after the commit that holds it succeeded.
 */
#ifndef MPSUP_STORE_H
#define MPSUP_STORE_H

#include <stddef.h>

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
};

#define STORE_SCHEMA_VERSION	1

/*
 * Open a store from its config value ("memory" or "sqlite:/abs/path");
 * sync_full picks synchronous=FULL over NORMAL. NULL with *cause (which
 * names the path and, for a held database, the holder's pid) on failure.
 */
struct store	*store_open(const char *spec, int sync_full, char **cause);
void		 store_close(struct store *);
/* Whether writes survive a restart (0 for the memory store). */
int		 store_durable(const struct store *);
/* Opened on a read-only file system: it serves what it holds, writes fail. */
int		 store_readonly(const struct store *);

/*
 * Buffered writes: each joins the open transaction (begun on demand).
 * -1 with *cause on failure; the transaction must then be rolled back.
 */
int		 store_insert(struct store *, const struct store_record *,
		    char **cause);
/* Insert n records (one statement for a batch of them). */
int		 store_insert_many(struct store *, const struct store_record *,
		    size_t n, char **cause);
int		 store_update(struct store *, const struct store_record *,
		    char **cause);
int		 store_delete(struct store *, const char *id, char **cause);
/* Commit the open transaction (nothing to do if none). */
int		 store_commit(struct store *, char **cause);
/* Drop the open transaction's writes. */
void		 store_rollback(struct store *);

/*
 * Recovery: call cb for every unfinished job in id order (finished = 0),
 * or every finished record in order of finish time (finished = 1).
 */
int		 store_load(struct store *, int finished,
		    void (*cb)(const struct store_record *, void *), void *arg,
		    char **cause);
/* Delete finished records that ended before `before` (at start-up). */
int		 store_prune(struct store *, double before, char **cause);

/* Back ends (store_sqlite.c). */
struct store_sqlite;
struct store_sqlite *store_sqlite_open(const char *path, int sync_full,
		    char **cause);
void		 store_sqlite_close(struct store_sqlite *);
int		 store_sqlite_readonly(const struct store_sqlite *);
int		 store_sqlite_insert(struct store_sqlite *,
		    const struct store_record *, char **cause);
int		 store_sqlite_insert_many(struct store_sqlite *,
		    const struct store_record *, size_t n, char **cause);
int		 store_sqlite_update(struct store_sqlite *,
		    const struct store_record *, char **cause);
int		 store_sqlite_delete(struct store_sqlite *, const char *id,
		    char **cause);
int		 store_sqlite_commit(struct store_sqlite *, char **cause);
void		 store_sqlite_rollback(struct store_sqlite *);
int		 store_sqlite_load(struct store_sqlite *, int finished,
		    void (*cb)(const struct store_record *, void *), void *arg,
		    char **cause);
int		 store_sqlite_prune(struct store_sqlite *, double before,
		    char **cause);

#endif
