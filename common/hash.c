/*
 * SipHash-1-3 (Aumasson and Bernstein, "SipHash: a fast short-input
 * PRF"): one compression round per 8-byte word and three to finish, the
 * variant Python and Rust use for their hash tables. Written from the
 * paper's description; tests/unit/check_hash.c checks it against
 * Python's own hash of bytes under a zero key.
 *
 * The key comes from getrandom(2) the first time a hash is asked for.
 * Where the kernel has no entropy to give yet (early boot), the bytes of
 * the clock and the pid stand in: a weaker key, but the tables still work.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"

static struct {
	pthread_once_t	once;
	uint64_t	k0, k1;
} hash_key = { PTHREAD_ONCE_INIT, 0, 0 };

static uint64_t
hash_le64(const unsigned char *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static void
hash_key_store(const unsigned char key[16])
{
	hash_key.k0 = hash_le64(key);
	hash_key.k1 = hash_le64(key + 8);
}

static void
hash_key_draw(void)
{
	unsigned char	key[16];
	struct timespec	ts;
	uint64_t	mix[2];

	if (getrandom(key, sizeof key, GRND_NONBLOCK) != (ssize_t)sizeof key) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		mix[0] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		clock_gettime(CLOCK_REALTIME, &ts);
		mix[1] = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid();
		memcpy(key, mix, sizeof key);
	}
	hash_key_store(key);
}

void
hash_key_set(const unsigned char key[16])
{
	/* Drawn first, so that the first hash does not draw over this one. */
	pthread_once(&hash_key.once, hash_key_draw);
	hash_key_store(key);
}

#define ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do {							\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

uint64_t
hash_bytes(const void *data, size_t len)
{
	const unsigned char	*p = data, *end;
	unsigned char		 tail[8] = { 0 };
	uint64_t		 v0, v1, v2, v3, m;

	pthread_once(&hash_key.once, hash_key_draw);
	v0 = hash_key.k0 ^ 0x736f6d6570736575ULL;
	v1 = hash_key.k1 ^ 0x646f72616e646f6dULL;
	v2 = hash_key.k0 ^ 0x6c7967656e657261ULL;
	v3 = hash_key.k1 ^ 0x7465646279746573ULL;
	for (end = p + (len & ~(size_t)7); p != end; p += 8) {
		m = hash_le64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	/* The last word: the bytes left, and the length's low byte on top. */
	memcpy(tail, p, len & 7);
	m = hash_le64(tail) | (uint64_t)len << 56;
	v3 ^= m;
	SIPROUND;
	v0 ^= m;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
