/*
 * Caches of fixed-size objects, for what the hot path makes and frees by
 * the hundred thousand a second (job records): no per-object header, an
 * allocation and a free in a few instructions, objects of one size packed
 * together. Memory comes in aligned chunks of SLAB_CHUNK bytes mapped from
 * the kernel; a chunk whose objects are all freed goes back to it (one
 * empty chunk is kept, so that a batch going up and down across a chunk's
 * edge does not map and unmap it every time).
 *
 * Built with AddressSanitizer, every object is its own malloc(), so that
 * a use after free or an overflow is still caught object by object.
 */
#ifndef MPSUP_SLAB_H
#define MPSUP_SLAB_H

#include <stddef.h>

#define SLAB_CHUNK	(64 * 1024)

struct slab;

/* A cache of objects of size bytes (at most a quarter of a chunk). */
struct slab	*slab_new(size_t size);
/* Frees the cache; its objects must all have been freed. */
void		 slab_destroy(struct slab *);

/*
 * An object (uninitialised, aligned on 8 bytes: enough for pointers,
 * 64-bit integers and doubles, not for long double); never NULL.
 */
void		*slab_alloc(struct slab *);
/* Give back an object of this cache (NULL is ignored). */
void		 slab_free(struct slab *, void *);

/* Objects handed out now, and chunks mapped (the kept empty one too). */
size_t		 slab_count(const struct slab *);
size_t		 slab_chunks(const struct slab *);

#endif
