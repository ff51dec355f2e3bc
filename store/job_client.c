/*
 * Client names as jobs keep them (see job.h): each name once, with its
 * quoted JSON form after it, so a job costs a pointer for its client,
 * records copy the quoted form as is, and keys compare clients by
 * pointer.
 *
 * Names come from the config, the store and, in a cluster, from Redis,
 * where anyone who can write may put any name on a job: so a name lives
 * while a job holds it (a count of holders), and names are found by a
 * hash, not a walk. What they cost is then bounded by the jobs kept.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "store/job.h"

struct client_name {
	struct client_name	*next;		/* in its bucket */
	uint64_t		 hash;
	size_t			 holders;	/* jobs that point at it */
	size_t			 json_len;	/* after the name's NUL */
	char			 name[];
};

static struct {
	struct client_name	**buckets;
	size_t			  nbuckets;	/* a power of 2, or 0 */
	size_t			  count;
	/* The name held last: a request's jobs share their client. */
	struct client_name	 *last;
} names;

static struct client_name *
job_client_of(const char *client)
{
	return (struct client_name *)(void *)(client -
	    offsetof(struct client_name, name));
}

static struct client_name *
job_client_lookup(const char *name, uint64_t h)
{
	struct client_name	*cn;

	if (names.nbuckets == 0)
		return NULL;
	for (cn = names.buckets[h & (names.nbuckets - 1)]; cn != NULL;
	    cn = cn->next)
		if (cn->hash == h && strcmp(cn->name, name) == 0)
			return cn;
	return NULL;
}

/* Twice the buckets once there are more names than buckets. */
static void
job_client_grow(void)
{
	struct client_name	**old = names.buckets, *cn, *next;
	size_t			  n = names.nbuckets, i;

	names.nbuckets = n ? n * 2 : 16;
	names.buckets = xcalloc(names.nbuckets, sizeof *names.buckets);
	for (i = 0; i < n; i++)
		for (cn = old[i]; cn != NULL; cn = next) {
			next = cn->next;
			cn->next = names.buckets[cn->hash &
			    (names.nbuckets - 1)];
			names.buckets[cn->hash & (names.nbuckets - 1)] = cn;
		}
	free(old);
}

const char *
job_client_hold(const char *name)
{
	struct client_name	*cn = names.last;
	struct buf		 json = BUF_INIT;
	uint64_t		 h;
	size_t			 len;

	if (name == NULL)
		return NULL;
	if (cn != NULL && strcmp(cn->name, name) == 0) {
		cn->holders++;
		return cn->name;
	}
	h = hash_str(name);
	if ((cn = job_client_lookup(name, h)) == NULL) {
		if (names.count >= names.nbuckets)
			job_client_grow();
		len = strlen(name);
		jsontext_string_append(&json, name, len);
		cn = xmalloc(sizeof *cn + len + 1 + buf_used(&json));
		cn->hash = h;
		cn->holders = 0;
		memcpy(cn->name, name, len + 1);
		memcpy(cn->name + len + 1, buf_head(&json), buf_used(&json));
		cn->json_len = buf_used(&json);
		buf_free(&json);
		cn->next = names.buckets[h & (names.nbuckets - 1)];
		names.buckets[h & (names.nbuckets - 1)] = cn;
		names.count++;
	}
	cn->holders++;
	names.last = cn;
	return cn->name;
}

void
job_client_drop(const char *client)
{
	struct client_name	*cn, **pp;

	if (client == NULL || --(cn = job_client_of(client))->holders > 0)
		return;
	for (pp = &names.buckets[cn->hash & (names.nbuckets - 1)]; *pp != cn;
	    pp = &(*pp)->next)
		;
	*pp = cn->next;
	if (names.last == cn)
		names.last = NULL;
	names.count--;
	free(cn);
}

const char *
job_client_find(const char *name)
{
	struct client_name	*cn;

	if (name == NULL)
		return NULL;
	cn = job_client_lookup(name, hash_str(name));
	return cn != NULL ? cn->name : NULL;
}

const char *
job_client_json(const char *client, size_t *len)
{
	*len = job_client_of(client)->json_len;
	return client + strlen(client) + 1;
}

size_t
job_client_count(void)
{
	return names.count;
}
