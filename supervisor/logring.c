/*
 * The log's recent records (see logring.h): a circular array of records
 * whose strings live in one arena of LOGRING_MAX_BYTES, itself used as a
 * ring: each record's strings are written after the newest's, or at the
 * arena's start when they do not fit before its end, and the oldest
 * records give way to them. No allocation per record, so a worker that
 * logs fast costs a copy, never a malloc and free.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "supervisor/logring.h"

struct logring_slot {
	struct logring_record	 rec;	/* strings point into the arena */
	size_t			 off;	/* where they start in it */
	size_t			 size;
};

static struct {
	struct logring_slot	 slots[LOGRING_MAX_RECORDS];
	char			*arena;		/* LOGRING_MAX_BYTES */
	size_t			 head;		/* where the next one goes */
	uint64_t		 first;		/* seq of the oldest kept */
	uint64_t		 next;		/* seq of the next record */
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
	memset(logring_slot(ring.first), 0, sizeof(struct logring_slot));
	ring.first++;
	if (ring.first == ring.next)
		ring.head = 0;
}

/* Whether the oldest record's bytes meet [from, from + size). */
static int
logring_oldest_in(size_t from, size_t size)
{
	struct logring_slot	*s = logring_slot(ring.first);

	return ring.first < ring.next && s->off < from + size &&
	    from < s->off + s->size;
}

/* Make room for need bytes: where they go. */
static size_t
logring_room(size_t need)
{
	size_t	at = ring.head;

	if (ring.next - ring.first >= LOGRING_MAX_RECORDS)
		logring_drop_oldest();
	if (at + need > LOGRING_MAX_BYTES) {
		/* Wrap: what lies beyond the newest is older than all else. */
		while (ring.first < ring.next &&
		    logring_slot(ring.first)->off >= at)
			logring_drop_oldest();
		at = 0;
	}
	while (logring_oldest_in(at, need))
		logring_drop_oldest();
	return at;
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
	size_t			 need = plen + jlen + slen + r->len + 4, off;
	char			*at;

	if (need > LOGRING_MAX_BYTES)
		return;
	if (ring.arena == NULL)
		ring.arena = xmalloc(LOGRING_MAX_BYTES);
	off = logring_room(need);
	s = logring_slot(ring.next);
	at = ring.arena + off;
	s->off = off;
	s->size = need;
	s->rec = *r;
	s->rec.seq = ring.next;
	s->rec.pool = logring_copy(&at, r->pool, plen);
	s->rec.job = logring_copy(&at, r->job, jlen);
	s->rec.stream = logring_copy(&at, r->stream, slen);
	s->rec.text = logring_copy(&at, r->text != NULL ? r->text : "",
	    r->len);
	ring.head = off + need;
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
	free(ring.arena);
	ring.arena = NULL;
}
