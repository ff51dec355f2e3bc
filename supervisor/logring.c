/*
 * The log's recent records (see logring.h): a circular array of records,
 * each with one allocation holding its strings.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "supervisor/logring.h"

struct logring_slot {
	struct logring_record	 rec;	/* strings point into mem */
	char			*mem;
	size_t			 size;	/* of mem */
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

	ring.bytes -= s->size;
	free(s->mem);
	memset(s, 0, sizeof *s);
	ring.first++;
}

/* Copy s[0..len) and a NUL to *at; returns the copy (NULL for NULL). */
static const char *
logring_copy(char **at, const char *s, size_t len)
{
	char	*p = *at;

	if (s == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	*at = p + len + 1;
	return p;
}

void
logring_add(const struct logring_record *r)
{
	struct logring_slot	*s;
	size_t			 plen = r->pool ? strlen(r->pool) : 0;
	size_t			 jlen = r->job ? strlen(r->job) : 0;
	size_t			 slen = r->stream ? strlen(r->stream) : 0;
	size_t			 need = plen + jlen + slen + r->len + 4;
	char			*at;

	if (need > LOGRING_MAX_BYTES)
		return;
	while (ring.first < ring.next &&
	    (ring.next - ring.first >= LOGRING_MAX_RECORDS ||
	    ring.bytes + need > LOGRING_MAX_BYTES))
		logring_drop_oldest();
	s = logring_slot(ring.next);
	s->mem = at = xmalloc(need);
	s->size = need;
	s->rec = *r;
	s->rec.seq = ring.next;
	s->rec.pool = logring_copy(&at, r->pool, plen);
	s->rec.job = logring_copy(&at, r->job, jlen);
	s->rec.stream = logring_copy(&at, r->stream, slen);
	s->rec.text = logring_copy(&at, r->text, r->len);
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
	if (seq < ring.first || seq >= ring.next)
		return -1;
	*r = logring_slot(seq)->rec;
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
