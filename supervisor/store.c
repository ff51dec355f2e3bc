/*
 * The job store (see store.h): picks the back end from the config value.
 * The memory store keeps nothing, so every call on it succeeds at once;
 * the engine asks store_durable() to skip the bookkeeping altogether.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "supervisor/store.h"

struct store {
	struct store_sqlite	*sqlite;	/* NULL: the memory store */
};

struct store *
store_open(const char *spec, int sync_full, char **cause)
{
	struct store	*st;

	if (strcmp(spec, "memory") == 0)
		return xcalloc(1, sizeof *st);
	if (strncmp(spec, "sqlite:", 7) != 0) {
		xasprintf(cause, "store = %s: not memory or sqlite:PATH", spec);
		return NULL;
	}
	st = xcalloc(1, sizeof *st);
	if ((st->sqlite = store_sqlite_open(spec + 7, sync_full,
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
store_insert(struct store *st, const struct store_record *rec, char **cause)
{
	return st->sqlite ? store_sqlite_insert(st->sqlite, rec, cause) : 0;
}

int
store_insert_many(struct store *st, const struct store_record *rec, size_t n,
    char **cause)
{
	return st->sqlite ? store_sqlite_insert_many(st->sqlite, rec, n,
	    cause) : 0;
}

int
store_update(struct store *st, const struct store_record *rec, char **cause)
{
	return st->sqlite ? store_sqlite_update(st->sqlite, rec, cause) : 0;
}

int
store_delete(struct store *st, const char *id, char **cause)
{
	return st->sqlite ? store_sqlite_delete(st->sqlite, id, cause) : 0;
}

int
store_commit(struct store *st, char **cause)
{
	return st->sqlite ? store_sqlite_commit(st->sqlite, cause) : 0;
}

void
store_rollback(struct store *st)
{
	if (st->sqlite != NULL)
		store_sqlite_rollback(st->sqlite);
}

int
store_load(struct store *st, int finished,
    void (*cb)(const struct store_record *, void *), void *arg, char **cause)
{
	return st->sqlite ? store_sqlite_load(st->sqlite, finished, cb, arg,
	    cause) : 0;
}

int
store_prune(struct store *st, double before, char **cause)
{
	return st->sqlite ? store_sqlite_prune(st->sqlite, before, cause) : 0;
}
