/*
 * The one string hash of the hash tables whose names come from outside
 * (idempotency keys and flow groups from clients, client names from the
 * config, the store and Redis): SipHash-1-3 under a key drawn at random
 * once per process. A client who can choose names cannot tell which of
 * them share a bucket, so it cannot line its names up in one chain and
 * make every lookup a walk over all of them. Nothing keeps a hash across
 * runs, nor across processes.
 */
#ifndef MPSUP_HASH_H
#define MPSUP_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* SipHash-1-3 of len bytes at p under this process's key. */
uint64_t	hash_bytes(const void *p, size_t len);

static inline uint64_t
hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}

/*
 * Sets the key (16 bytes, as SipHash reads them) in place of the random
 * one, which is drawn on first use otherwise. For tests: a fixed key makes
 * the hash the published function.
 */
void		hash_key_set(const unsigned char key[16]);

#endif
