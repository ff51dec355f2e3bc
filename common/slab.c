/*
 * Fixed-size object caches (see slab.h).
 *
 * A chunk is SLAB_CHUNK bytes aligned on SLAB_CHUNK, so an object finds
 * its chunk by masking its address. The chunk starts with its header;
 * the objects follow. Objects never handed out are taken in address
 * order (fresh), freed ones from the chunk's own free list, so pages of
 * a new chunk are touched only as they are used. Chunks with room are on
 * the cache's list of partial chunks; a full chunk is on no list.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "common/log.h"
#include "common/slab.h"
#include "common/xmalloc.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_MALLOC	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_MALLOC	1
#endif
#endif

/* What pointers, 64-bit integers and doubles need (not long double). */
#define SLAB_ALIGN	8

struct slab_chunk {
	struct slab_chunk	*next;		/* partial list */
	struct slab_chunk	*prev;
	void			*free;		/* freed objects */
	uint32_t		 used;		/* objects handed out */
	uint32_t		 fresh;		/* objects never handed out */
	int			 partial;	/* on the partial list */
};

struct slab {
	size_t			 size;
	uint32_t		 per_chunk;
	struct slab_chunk	*partial;
	struct slab_chunk	*spare;		/* an empty chunk, kept */
	size_t			 count;
	size_t			 chunks;
};

#define SLAB_FIRST	((sizeof(struct slab_chunk) + SLAB_ALIGN - 1) & \
			    ~(size_t)(SLAB_ALIGN - 1))

struct slab *
slab_new(size_t size)
{
	struct slab	*s = xcalloc(1, sizeof *s);

	if (size < sizeof(void *))
		size = sizeof(void *);
	s->size = (size + SLAB_ALIGN - 1) & ~(size_t)(SLAB_ALIGN - 1);
	if (s->size > SLAB_CHUNK / 4)
		fatalx("BUG: slab of %zu-byte objects", size);
	s->per_chunk = (uint32_t)((SLAB_CHUNK - SLAB_FIRST) / s->size);
	return s;
}

size_t
slab_count(const struct slab *s)
{
	return s->count;
}

size_t
slab_chunks(const struct slab *s)
{
	return s->chunks;
}

#ifdef SLAB_MALLOC

void *
slab_alloc(struct slab *s)
{
	s->count++;
	return xmalloc(s->size);
}

void
slab_free(struct slab *s, void *p)
{
	if (p != NULL) {
		s->count--;
		free(p);
	}
}

void
slab_destroy(struct slab *s)
{
	if (s != NULL && s->count != 0)
		fatalx("BUG: slab destroyed with %zu objects in use", s->count);
	free(s);
}

#else

/* A new chunk, aligned on its size: map twice as much, unmap the rest. */
static struct slab_chunk *
slab_chunk_map(struct slab *s)
{
	char		*p, *c;
	uintptr_t	 a;

	p = mmap(NULL, 2 * SLAB_CHUNK, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("slab: mmap");
	a = ((uintptr_t)p + SLAB_CHUNK - 1) & ~(uintptr_t)(SLAB_CHUNK - 1);
	c = (char *)a;
	if (c > p)
		munmap(p, (size_t)(c - p));
	munmap(c + SLAB_CHUNK, (size_t)(p + SLAB_CHUNK - c));
	s->chunks++;
	return (struct slab_chunk *)c;
}

static void
slab_partial_add(struct slab *s, struct slab_chunk *c)
{
	c->prev = NULL;
	c->next = s->partial;
	if (s->partial != NULL)
		s->partial->prev = c;
	s->partial = c;
	c->partial = 1;
}

static void
slab_partial_remove(struct slab *s, struct slab_chunk *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->partial = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->partial = 0;
}

/* A chunk with room, from the spare or the kernel. */
static struct slab_chunk *
slab_grow(struct slab *s)
{
	struct slab_chunk	*c;

	if ((c = s->spare) != NULL)
		s->spare = NULL;
	else
		c = slab_chunk_map(s);
	c->free = NULL;
	c->used = 0;
	c->fresh = 0;
	slab_partial_add(s, c);
	return c;
}

void *
slab_alloc(struct slab *s)
{
	struct slab_chunk	*c = s->partial;
	void			*p;

	if (c == NULL)
		c = slab_grow(s);
	if ((p = c->free) != NULL)
		c->free = *(void **)p;
	else
		p = (char *)c + SLAB_FIRST + (size_t)c->fresh++ * s->size;
	if (++c->used == s->per_chunk)
		slab_partial_remove(s, c);
	s->count++;
	return p;
}

void
slab_free(struct slab *s, void *p)
{
	struct slab_chunk	*c;

	if (p == NULL)
		return;
	c = (struct slab_chunk *)((uintptr_t)p & ~(uintptr_t)(SLAB_CHUNK - 1));
	*(void **)p = c->free;
	c->free = p;
	s->count--;
	if (!c->partial)
		slab_partial_add(s, c);
	if (--c->used > 0)
		return;
	slab_partial_remove(s, c);
	if (s->spare == NULL)
		s->spare = c;
	else {
		munmap(c, SLAB_CHUNK);
		s->chunks--;
	}
}

void
slab_destroy(struct slab *s)
{
	if (s == NULL)
		return;
	if (s->count != 0)
		fatalx("BUG: slab destroyed with %zu objects in use", s->count);
	/* No object in use: every chunk but the spare has been unmapped. */
	if (s->spare != NULL)
		munmap(s->spare, SLAB_CHUNK);
	free(s);
}

#endif
