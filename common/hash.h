/*
 * The one string hash of the hash tables (idempotency keys, client
 * names, flow groups): FNV-1a over bytes, 64 bits. Tables take its low
 * bits, so it must mix into them, which FNV-1a's last multiply does.
 * Nothing keeps a hash across runs: the seed is only ever this one.
 */
#ifndef MPSUP_HASH_H
#define MPSUP_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_SEED	1469598103934665603ULL
#define HASH_PRIME	1099511628211ULL

static inline uint64_t
hash_bytes(const char *p, size_t len)
{
	uint64_t	h = HASH_SEED;

	while (len-- > 0)
		h = (h ^ (unsigned char)*p++) * HASH_PRIME;
	return h;
}

static inline uint64_t
hash_str(const char *s)
{
	uint64_t	h = HASH_SEED;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * HASH_PRIME;
	return h;
}

#endif
