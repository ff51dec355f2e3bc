/*
 * The log's recent records (see logring.h): a circular array of records,
 * each one allocation holding its pool, job and JSON text.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "supervisor/logring.h"

struct logring_slot {
	char	*mem;		/* pool NUL job NUL json NUL */
	size_t	 len;		/* of json */
	int	 has_pool;
	int	 has_job;
	size_t	 job_at;
	size_t	 json_at;
};

static struct {
	struct logring_slot	 slots[LOGRING_MAX_RECORDS];
	uint64_t		 first;		/* seq of the oldest kept */
	uint64_t		 next;		/* seq of the next record */
	size_t			 bytes;
	void			(*notify)(void *);
	void			*notify_arg;
} ring = { .first = 1, .next = 1 };

static struct logring_slot *
logring_slot(uint64_t seq)
{
	return &ring.slots[seq % LOGRING_MAX_RECORDS];
}

/* Let the oldest record go. */
static void
logring_drop_oldest(void)
{
	struct logring_slot	*s = logring_slot(ring.first);

	ring.bytes -= s->json_at + s->len + 1;
	free(s->mem);
	memset(s, 0, sizeof *s);
	ring.first++;
}

void
logring_add(const char *pool, const char *job, const char *json, size_t len)
{
	struct logring_slot	*s;
	size_t			 plen = pool ? strlen(pool) : 0;
	size_t			 jlen = job ? strlen(job) : 0;
	size_t			 need = plen + 1 + jlen + 1 + len + 1;

	if (need > LOGRING_MAX_BYTES)
		return;
	while (ring.first < ring.next &&
	    (ring.next - ring.first >= LOGRING_MAX_RECORDS ||
	    ring.bytes + need > LOGRING_MAX_BYTES))
		logring_drop_oldest();
	s = logring_slot(ring.next);
	s->mem = xmalloc(need);
	memcpy(s->mem, pool ? pool : "", plen + 1);
	s->job_at = plen + 1;
	memcpy(s->mem + s->job_at, job ? job : "", jlen + 1);
	s->json_at = s->job_at + jlen + 1;
	memcpy(s->mem + s->json_at, json, len);
	s->mem[s->json_at + len] = '\0';
	s->len = len;
	s->has_pool = pool != NULL;
	s->has_job = job != NULL;
	ring.bytes += need;
	ring.next++;
	if (ring.notify != NULL)
		ring.notify(ring.notify_arg);
}

uint64_t
logring_first(void)
{
	return ring.first;
}

uint64_t
logring_next(void)
{
	return ring.next;
}

int
logring_get(uint64_t seq, struct logring_record *r)
{
	struct logring_slot	*s;

	if (seq < ring.first || seq >= ring.next)
		return -1;
	s = logring_slot(seq);
	r->seq = seq;
	r->pool = s->has_pool ? s->mem : NULL;
	r->job = s->has_job ? s->mem + s->job_at : NULL;
	r->json = s->mem + s->json_at;
	r->len = s->len;
	return 0;
}

void
logring_set_notify(void (*fn)(void *), void *arg)
{
	ring.notify = fn;
	ring.notify_arg = arg;
}

void
logring_clear(void)
{
	while (ring.first < ring.next)
		logring_drop_oldest();
}
