/*
 * Unit tests for the fixed-size object caches: objects are distinct,
 * aligned and whole, freed ones are reused, and memory goes back to the
 * kernel once a chunk's objects are all freed.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/slab.h"

/* Built with ASan, objects come from malloc and no chunk is mapped. */
#if defined(__SANITIZE_ADDRESS__)
#define CHECK_SLAB_MALLOC	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_SLAB_MALLOC	1
#endif
#endif

#define NOBJ	5000
#define OBJ	88

START_TEST(test_objects_are_distinct_aligned_and_whole)
{
	struct slab	 *s = slab_new(OBJ);
	unsigned char	**p = calloc(NOBJ, sizeof *p);
	int		  i, j;

	for (i = 0; i < NOBJ; i++) {
		p[i] = slab_alloc(s);
		ck_assert((uintptr_t)p[i] % 8 == 0);
		memset(p[i], i & 0xff, OBJ);
	}
	ck_assert_uint_eq(slab_count(s), NOBJ);
	/* Each object still holds its own bytes: none overlaps another. */
	for (i = 0; i < NOBJ; i++)
		for (j = 0; j < OBJ; j++)
			ck_assert_uint_eq(p[i][j], i & 0xff);
	for (i = 0; i < NOBJ; i++)
		slab_free(s, p[i]);
	ck_assert_uint_eq(slab_count(s), 0);
	slab_free(s, NULL);
	ck_assert_uint_eq(slab_count(s), 0);
	slab_destroy(s);
	free(p);
}
END_TEST

START_TEST(test_chunks_go_back_once_empty)
{
	struct slab	 *s = slab_new(OBJ);
	void		**p = calloc(NOBJ, sizeof *p);
	size_t		  most;
	int		  i;

	for (i = 0; i < NOBJ; i++)
		p[i] = slab_alloc(s);
	most = slab_chunks(s);
#ifdef CHECK_SLAB_MALLOC
	ck_assert_uint_eq(most, 0);
#else
	/* 5000 objects of 88 bytes, packed, need 7 chunks of 64 KiB. */
	ck_assert_uint_ge(most, (size_t)NOBJ * OBJ / SLAB_CHUNK + 1);
	ck_assert_uint_le(most, (size_t)NOBJ * OBJ / SLAB_CHUNK + 2);
#endif
	/* Freed from the front: all chunks but one spare are unmapped. */
	for (i = 0; i < NOBJ; i++)
		slab_free(s, p[i]);
#ifdef CHECK_SLAB_MALLOC
	ck_assert_uint_eq(slab_chunks(s), 0);
#else
	ck_assert_uint_eq(slab_chunks(s), 1);
#endif
	/* And the next objects come from the kept chunk. */
	p[0] = slab_alloc(s);
	ck_assert_uint_le(slab_chunks(s), 1);
	slab_free(s, p[0]);
	slab_destroy(s);
	free(p);
}
END_TEST

START_TEST(test_freed_objects_are_reused_in_any_order)
{
	struct slab	 *s = slab_new(40);
	void		**p = calloc(NOBJ, sizeof *p);
	size_t		  chunks;
	int		  i, round;

	for (i = 0; i < NOBJ; i++)
		p[i] = slab_alloc(s);
	chunks = slab_chunks(s);
	/* Free every other one, then take as many again: no new chunk. */
	for (round = 0; round < 3; round++) {
		for (i = round % 2; i < NOBJ; i += 2)
			slab_free(s, p[i]);
		for (i = round % 2; i < NOBJ; i += 2) {
			p[i] = slab_alloc(s);
			memset(p[i], 0x5a, 40);
		}
		ck_assert_uint_eq(slab_chunks(s), chunks);
		ck_assert_uint_eq(slab_count(s), NOBJ);
	}
	for (i = NOBJ - 1; i >= 0; i--)
		slab_free(s, p[i]);
	ck_assert_uint_eq(slab_count(s), 0);
	slab_destroy(s);
	free(p);
}
END_TEST

static Suite *
slab_suite(void)
{
	Suite	*s = suite_create("slab");
	TCase	*tc = tcase_create("slab");

	tcase_add_test(tc, test_objects_are_distinct_aligned_and_whole);
	tcase_add_test(tc, test_chunks_go_back_once_empty);
	tcase_add_test(tc, test_freed_objects_are_reused_in_any_order);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(slab_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
