/*
 * Unit tests for the timestamp formatter: every output must equal what
 * gmtime_r and strftime make of the same instant, whatever order the
 * instants come in (the formatter caches the date).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/timeutil.h"

/* What the formatter must print for t, the slow way. */
static void
expect_iso(double t, char *out, size_t size)
{
	struct tm	tm;
	time_t		secs = (time_t)t;
	long		ms = (long)((t - (double)secs) * 1000.0);
	char		head[32];

	if (ms < 0)
		ms = 0;
	gmtime_r(&secs, &tm);
	strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03ldZ", head, ms);
}

static void
check_one(double t)
{
	char	got[TIME_ISO_BUF], want[64];

	time_iso8601(t, got);
	expect_iso(t, want, sizeof want);
	ck_assert_msg(strcmp(got, want) == 0, "%.3f: got %s, want %s", t, got,
	    want);
	ck_assert_uint_eq(strlen(got), TIME_ISO_LEN - 1);
}

START_TEST(test_known_instant)
{
	char	got[TIME_ISO_BUF];

	time_iso8601(1795726201.125, got);
	ck_assert_str_eq(got, "2026-11-26T20:50:01.125Z");
	time_iso8601(0, got);
	ck_assert_str_eq(got, "1970-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(test_day_boundaries_and_leap_days)
{
	/* 2024-02-28, 2024-02-29, 2100-02-28 (no leap day), 2000-02-29. */
	static const double	days[] = { 1709078400, 1709164800, 4107456000,
	    951782400, 1735603200 };
	size_t			i;
	int			d;

	for (i = 0; i < sizeof days / sizeof days[0]; i++)
		for (d = -2; d <= 2; d++) {
			check_one(days[i] + d);
			check_one(days[i] + d + 0.999);
			check_one(days[i] + 86400 + d + 0.5);
		}
}
END_TEST

START_TEST(test_interleaved_days_never_mix_up_dates)
{
	/* Submit and finish times of a backlog on either side of midnight,
	 * then a third day: the cached dates must follow each instant. */
	double	base = 1795737600;	/* 2026-11-27T00:00:00Z */
	int	i;

	for (i = 0; i < 5000; i++) {
		check_one(base - 1 - i * 0.37);
		check_one(base + i * 0.41);
		if (i % 97 == 0)
			check_one(base + 3 * 86400 + i);
	}
}
END_TEST

START_TEST(test_seconds_asked_for_in_turn_never_mix_up)
{
	/* Three seconds in turn (two are kept), each with other millis. */
	double	base = 1795726201;
	int	i;

	for (i = 0; i < 300; i++) {
		check_one(base + i % 3 + (i % 1000) / 1000.0);
		check_one(base + i % 2 + 0.5);
		check_one(base - 86400 + i % 5 + 0.001);
	}
}
END_TEST

START_TEST(test_instants_asked_for_again_give_their_own_text)
{
	/*
	 * The texts kept whole: instants repeated in turns of 1 to 7, more
	 * than are kept, some a millisecond or a day apart, each as it is.
	 */
	double	base = 1795726201.125;
	double	t[7] = { base, base + 0.001, base + 86400, base - 0.5,
	    base + 1, 0, base + 0.001 };
	int	i, k;

	for (k = 1; k <= 7; k++)
		for (i = 0; i < 50; i++)
			check_one(t[i % k]);
}
END_TEST

START_TEST(test_random_instants)
{
	unsigned	seed = 14;
	int		i;

	for (i = 0; i < 20000; i++) {
		double	t = (double)(rand_r(&seed) % 4102444800u) +
		    (rand_r(&seed) % 1000) / 1000.0 + 0.0004;

		check_one(t);
	}
}
END_TEST

START_TEST(test_before_1970)
{
	check_one(-1);
	check_one(-86400);
	check_one(-86401);
	check_one(-31536000.0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("timeutil");
	TCase	*tc = tcase_create("iso8601");
	SRunner	*sr;
	int	 failed;

	tcase_add_test(tc, test_known_instant);
	tcase_add_test(tc, test_day_boundaries_and_leap_days);
	tcase_add_test(tc, test_interleaved_days_never_mix_up_dates);
	tcase_add_test(tc, test_seconds_asked_for_in_turn_never_mix_up);
	tcase_add_test(tc, test_instants_asked_for_again_give_their_own_text);
	tcase_add_test(tc, test_random_instants);
	tcase_add_test(tc, test_before_1970);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
