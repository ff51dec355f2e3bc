/*
 * Unit tests for the tables' string hash: that it is SipHash-1-3, that its
 * key is drawn per process, and that names built to share a bucket under
 * a fixed hash do not share one under it.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hash.h"

static const unsigned char zero_key[16];

/*
 * Python's hash() of bytes is SipHash-1-3 too; under PYTHONHASHSEED=0
 * its key is all zeros. These are its values for bytes(range(n)), taken
 * as unsigned (`hash(b) & (2**64 - 1)`), and (n = 0, which Python hashes
 * to 0 itself) the published vector for the empty input.
 */
static const struct {
	size_t		len;
	uint64_t	hash;
} python_vectors[] = {
	{ 0, 0xd1fba762150c532cULL },
	{ 1, 0x68a914128e01e473ULL },
	{ 2, 0x010bac45c41e3669ULL },
	{ 3, 0x4d4c9a4a8ef6e0adULL },
	{ 7, 0x2f098ab0c751325aULL },
	{ 8, 0xead411e67ebe2eeaULL },
	{ 9, 0x75927f9d95124362ULL },
	{ 15, 0xf30eb725bb91c9eaULL },
	{ 16, 0x8972188433a5c5b7ULL },
	{ 17, 0x4883c49a2c009c1dULL },
	{ 24, 0x31185a47af932f3aULL },
};

START_TEST(test_hash_is_siphash13_under_the_key_set)
{
	unsigned char	in[32];
	size_t		i;

	for (i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)i;
	hash_key_set(zero_key);
	for (i = 0; i < sizeof python_vectors / sizeof python_vectors[0]; i++)
		ck_assert_msg(hash_bytes(in, python_vectors[i].len) ==
		    python_vectors[i].hash, "length %zu",
		    python_vectors[i].len);
	ck_assert_uint_eq(hash_str("siphash"), 0x8264ceeccb16bcbeULL);
	ck_assert_uint_eq(hash_str("siphash"), hash_bytes("siphash", 7));
}
END_TEST

/* What a child process hashes "job-key-1" to, its key drawn by itself. */
static uint64_t
hash_in_child(void)
{
	uint64_t	h = 0;
	int		fds[2], status;
	pid_t		pid;

	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		h = hash_str("job-key-1");
		_exit(write(fds[1], &h, sizeof h) == sizeof h ? 0 : 1);
	}
	ck_assert_int_gt(pid, 0);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], &h, sizeof h), (ssize_t)sizeof h);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return h;
}

START_TEST(test_each_process_draws_its_own_key)
{
	uint64_t	a = hash_in_child(), b = hash_in_child();

	/* Equal by chance once in 2^64 runs. */
	ck_assert_uint_ne(a, b);
	hash_key_set(zero_key);
	ck_assert_uint_ne(a, hash_str("job-key-1"));
}
END_TEST

/*
 * The attack the key stops. Under FNV-1a (the tables' hash before it),
 * the low bits of the state after a byte depend on nothing but the low
 * bits before it and the byte, so two 3-character blocks that reach the
 * same low 16 bits from the same start are interchangeable at that
 * place (there are 62^3 blocks and 65,536 values: a pair always exists).
 * 12 places, each with its pair, give 4,096 names of 36 characters whose
 * hashes agree in their low 16 bits, all in one bucket of any table of up
 * to 65,536.
 */
#define FNV_PRIME	1099511628211ULL
#define FNV_START	1469598103934665603ULL
#define PLACES		12
#define NAMES		(1 << PLACES)
#define LOW16		0xffffu
#define BLOCK		3

static const char alnum[] =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

static uint64_t
fnv1a(const char *s, size_t len, uint64_t h)
{
	while (len-- > 0)
		h = (h ^ (unsigned char)*s++) * FNV_PRIME;
	return h;
}

/* Two blocks that take the low 16 bits of *state to the same value. */
static void
fnv_block_pair(uint64_t *state, char a[BLOCK], char b[BLOCK])
{
	static long	seen[LOW16 + 1];
	long		i, n = sizeof alnum - 1;
	char		blk[BLOCK];
	int		k;

	memset(seen, 0, sizeof seen);
	for (i = 0; i < n * n * n; i++) {
		blk[0] = alnum[i / (n * n)];
		blk[1] = alnum[i / n % n];
		blk[2] = alnum[i % n];
		k = (int)(fnv1a(blk, BLOCK, *state) & LOW16);
		if (seen[k] != 0) {
			a[0] = alnum[(seen[k] - 1) / (n * n)];
			a[1] = alnum[(seen[k] - 1) / n % n];
			a[2] = alnum[(seen[k] - 1) % n];
			memcpy(b, blk, BLOCK);
			*state = fnv1a(blk, BLOCK, *state);
			return;
		}
		seen[k] = i + 1;
	}
	ck_abort_msg("no pair of blocks");
}

START_TEST(test_names_built_to_collide_spread_over_the_buckets)
{
	static char	names[NAMES][BLOCK * PLACES + 1];
	static int	bucket[LOW16 + 1];
	char		pair[PLACES][2][BLOCK];
	uint64_t	state = FNV_START;
	int		i, p, most = 0, fnv_buckets = 0;

	for (p = 0; p < PLACES; p++)
		fnv_block_pair(&state, pair[p][0], pair[p][1]);
	for (i = 0; i < NAMES; i++) {
		for (p = 0; p < PLACES; p++)
			memcpy(names[i] + BLOCK * p, pair[p][(i >> p) & 1],
			    BLOCK);
		names[i][BLOCK * PLACES] = '\0';
	}

	/* The construction works: one FNV-1a bucket holds every name. */
	memset(bucket, 0, sizeof bucket);
	for (i = 0; i < NAMES; i++)
		if (bucket[fnv1a(names[i], BLOCK * PLACES, FNV_START) & LOW16]++ == 0)
			fnv_buckets++;
	ck_assert_int_eq(fnv_buckets, 1);
	ck_assert_str_ne(names[0], names[NAMES - 1]);

	/*
	 * Under the keyed hash they fall like random names: 4,096 in 65,536
	 * buckets put more than 6 in one once in many million tries.
	 */
	memset(bucket, 0, sizeof bucket);
	for (i = 0; i < NAMES; i++) {
		p = ++bucket[hash_str(names[i]) & LOW16];
		if (p > most)
			most = p;
	}
	ck_assert_int_le(most, 6);
}
END_TEST

static Suite *
hash_suite(void)
{
	Suite	*s = suite_create("hash");
	TCase	*tc = tcase_create("hash");

	tcase_add_test(tc, test_hash_is_siphash13_under_the_key_set);
	tcase_add_test(tc, test_each_process_draws_its_own_key);
	tcase_add_test(tc, test_names_built_to_collide_spread_over_the_buckets);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(hash_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
