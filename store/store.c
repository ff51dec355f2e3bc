/*
 * The job store (see store.h): picks the back end from the config value.
 * The memory store keeps nothing, so every call on it succeeds at once;
 * the engine asks store_durable() to skip the bookkeeping altogether.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "store/store.h"

struct store {
	struct store_sqlite	*sqlite;	/* NULL: the memory store */
};

struct store *
store_open(const char *spec, int sync_full, int mode, char **cause)
{
	struct store	*st;

	if (strcmp(spec, "memory") == 0)
		return xcalloc(1, sizeof *st);
	if (strncmp(spec, "sqlite:", 7) != 0) {
		xasprintf(cause, "store = %s: not memory or sqlite:PATH", spec);
		return NULL;
	}
	st = xcalloc(1, sizeof *st);
	if ((st->sqlite = store_sqlite_open(spec + 7, sync_full, mode,
	    cause)) == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	if (st->sqlite != NULL)
		store_sqlite_close(st->sqlite);
	free(st);
}

int
store_durable(const struct store *st)
{
	return st->sqlite != NULL;
}

int
store_readonly(const struct store *st)
{
	return st->sqlite != NULL && store_sqlite_readonly(st->sqlite);
}

int
store_put(struct store *st, const struct store_record *rec, uint64_t *seg,
    char **cause)
{
	*seg = 0;
	return st->sqlite ? store_sqlite_put(st->sqlite, rec, seg, cause) : 0;
}

int
store_commit(struct store *st, char **cause)
{
	return st->sqlite ? store_sqlite_commit(st->sqlite, cause) : 0;
}

int
store_commit_start(struct store *st, int block)
{
	return st->sqlite ? store_sqlite_commit_start(st->sqlite, block) : 0;
}

int
store_commit_result(struct store *st, int block, char **cause)
{
	return st->sqlite ? store_sqlite_commit_result(st->sqlite, block,
	    cause) : 0;
}

int
store_commit_busy(const struct store *st)
{
	return st->sqlite != NULL && store_sqlite_commit_busy(st->sqlite);
}

int
store_commit_fd(const struct store *st)
{
	return st->sqlite != NULL ? store_sqlite_commit_fd(st->sqlite) : -1;
}

void
store_rollback(struct store *st)
{
	if (st->sqlite != NULL)
		store_sqlite_rollback(st->sqlite);
}

void
store_release(struct store *st, uint64_t seg)
{
	if (st->sqlite != NULL)
		store_sqlite_release(st->sqlite, seg);
}

int
store_has_garbage(const struct store *st)
{
	/* A read-only store deletes nothing. */
	return st->sqlite != NULL && !store_sqlite_readonly(st->sqlite) &&
	    store_sqlite_has_garbage(st->sqlite);
}

size_t
store_segments(const struct store *st)
{
	return st->sqlite != NULL ? store_sqlite_segments(st->sqlite) : 0;
}

int
store_load(struct store *st, size_t max_finished,
    void (*cb)(const struct store_record *, void *), void *arg, char **cause)
{
	return st->sqlite ? store_sqlite_load(st->sqlite, max_finished, cb, arg,
	    cause) : 0;
}
