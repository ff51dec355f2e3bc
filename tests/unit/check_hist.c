/*
 * Unit tests for the constant-memory histograms and finish rates.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "common/hist.h"

START_TEST(test_empty_histogram_reads_zero)
{
	struct hist	h = { { 0 }, 0, 0, 0 };

	ck_assert_double_eq(hist_percentile_ms(&h, 0.5), 0);
	ck_assert_double_eq(hist_percentile_ms(&h, 0.99), 0);
}
END_TEST

START_TEST(test_percentiles_are_ordered_and_within_a_factor_of_two)
{
	struct hist	h = { { 0 }, 0, 0, 0 };
	int		i;

	/* 1..1000 ms, one each. */
	for (i = 1; i <= 1000; i++)
		hist_add(&h, i / 1000.0);
	ck_assert_uint_eq(h.count, 1000);
	ck_assert_double_eq_tol(h.max, 1.0, 1e-9);
	ck_assert(hist_percentile_ms(&h, 0.5) >= 500);
	ck_assert(hist_percentile_ms(&h, 0.5) <= 1000);
	ck_assert(hist_percentile_ms(&h, 0.9) >= 900);
	ck_assert(hist_percentile_ms(&h, 0.5) <= hist_percentile_ms(&h, 0.9));
	ck_assert(hist_percentile_ms(&h, 0.9) <= hist_percentile_ms(&h, 0.99));
	/* Capped by the largest value seen. */
	ck_assert_double_eq_tol(hist_percentile_ms(&h, 0.99), 1000, 1e-6);
	ck_assert_double_eq_tol(h.sum, 500.5, 1e-6);
}
END_TEST

START_TEST(test_extremes_stay_in_range)
{
	struct hist	h = { { 0 }, 0, 0, 0 };

	hist_add(&h, -1);		/* clock went back: counts as 0 */
	hist_add(&h, 0);
	hist_add(&h, 1e9);		/* beyond the last bucket */
	ck_assert_uint_eq(h.count, 3);
	ck_assert_uint_eq(h.bucket[0], 2);
	ck_assert_uint_eq(h.bucket[HIST_BUCKETS - 1], 1);
	ck_assert_double_eq_tol(hist_percentile_ms(&h, 1.0), 1e12, 1);
}
END_TEST

START_TEST(test_each_duration_lands_in_its_power_of_two_bucket)
{
	struct hist	h = { { 0 }, 0, 0, 0 };
	int		b;

	/* 1.5 * 2^b microseconds is inside [2^b, 2^(b+1)). */
	for (b = 0; b < HIST_BUCKETS; b++) {
		hist_add(&h, 1.5 * (double)(1ULL << b) / 1e6);
		ck_assert_uint_eq(h.bucket[b], 1);
	}
	hist_add(&h, 0.5e-6);		/* under a microsecond */
	hist_add(&h, 1e-6);
	ck_assert_uint_eq(h.bucket[0], 3);
	hist_add(&h, 3.9e-6);		/* [2, 4) */
	ck_assert_uint_eq(h.bucket[1], 2);
	hist_add(&h, NAN);		/* NaN counts as 0 */
	ck_assert_uint_eq(h.bucket[0], 4);
	ck_assert_uint_eq(h.count, HIST_BUCKETS + 4);
}
END_TEST

START_TEST(test_rate_counts_the_last_minute_only)
{
	struct rate	r = { { 0 }, { 0 } };
	int		i;

	for (i = 0; i < 120; i++)
		rate_add(&r, 1000.0 + i * 0.5);	/* 2 a second, 60 s */
	ck_assert_double_eq_tol(rate_per_s(&r, 1059.9), 2.0, 0.05);
	/* Two minutes later nothing is left. */
	ck_assert_double_eq(rate_per_s(&r, 1200.0), 0);
	/* Half a minute later about half is left. */
	ck_assert_double_eq_tol(rate_per_s(&r, 1089.0), 1.0, 0.1);
}
END_TEST

static Suite *
hist_suite(void)
{
	Suite	*s = suite_create("hist");
	TCase	*tc = tcase_create("hist");

	tcase_add_test(tc, test_empty_histogram_reads_zero);
	tcase_add_test(tc, test_percentiles_are_ordered_and_within_a_factor_of_two);
	tcase_add_test(tc, test_extremes_stay_in_range);
	tcase_add_test(tc, test_each_duration_lands_in_its_power_of_two_bucket);
	tcase_add_test(tc, test_rate_counts_the_last_minute_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(hist_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
