/*
 * Unit tests for config/cron.c: cron syntax (lists, ranges, steps, names,
 * macros, bad input), the next and previous tick across month ends, leap
 * days and the day-of-month/day-of-week OR rule, and fixed-offset zones.
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config/cron.h"

/* "YYYY-MM-DD HH:MM" (UTC) as seconds since the epoch. */
static int64_t
at(const char *s)
{
	struct tm	tm;

	memset(&tm, 0, sizeof tm);
	ck_assert_int_eq(sscanf(s, "%d-%d-%d %d:%d", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min), 5);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* The next tick of expr after the time s, checked against want. */
static void
next_is(const char *expr, const char *s, const char *want)
{
	struct cron	 c;
	const char	*err = NULL;

	ck_assert_msg(cron_parse(expr, &c, &err) == 0, "%s: %s", expr, err);
	ck_assert_msg(cron_next(&c, at(s), 0) == at(want),
	    "%s after %s: got %lld, want %s", expr, s,
	    (long long)cron_next(&c, at(s), 0), want);
}

/* cron_parse must refuse expr with a message containing want. */
static void
bad(const char *expr, const char *want)
{
	struct cron	 c;
	const char	*err = NULL;

	ck_assert_msg(cron_parse(expr, &c, &err) == -1, "%s accepted", expr);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, want) != NULL, "%s: '%s' lacks '%s'", expr,
	    err, want);
}

START_TEST(test_every_five_minutes_is_strictly_after)
{
	next_is("*/5 * * * *", "2026-12-06 08:00", "2026-12-06 08:05");
	next_is("*/5 * * * *", "2026-12-06 08:03", "2026-12-06 08:05");
	next_is("*/5 * * * *", "2026-12-06 23:58", "2026-12-07 00:00");
}
END_TEST

START_TEST(test_seconds_inside_a_minute_go_to_the_next_match)
{
	struct cron	 c;
	const char	*err;

	ck_assert_int_eq(cron_parse("* * * * *", &c, &err), 0);
	ck_assert_int_eq(cron_next(&c, at("2026-01-01 00:00") + 59, 0),
	    at("2026-01-01 00:01"));
	ck_assert_int_eq(cron_next(&c, at("2026-01-01 00:00") - 1, 0),
	    at("2026-01-01 00:00"));
}
END_TEST

START_TEST(test_lists_ranges_and_steps)
{
	next_is("10,20,30 * * * *", "2026-03-01 10:20", "2026-03-01 10:30");
	next_is("0 9-17/4 * * *", "2026-03-01 09:00", "2026-03-01 13:00");
	next_is("0 9-17/4 * * *", "2026-03-01 17:00", "2026-03-02 09:00");
	next_is("15/20 * * * *", "2026-03-01 10:36", "2026-03-01 10:55");
	next_is("0 0 1 jan,JUL *", "2026-03-01 00:00", "2026-07-01 00:00");
	next_is("0 12 * * mon-fri", "2026-12-05 13:00", "2026-12-07 12:00");
}
END_TEST

START_TEST(test_month_ends)
{
	next_is("0 0 31 * *", "2026-01-31 00:00", "2026-03-31 00:00");
	next_is("0 0 31 * *", "2026-03-31 00:00", "2026-05-31 00:00");
	next_is("59 23 30 * *", "2026-01-30 23:59", "2026-03-30 23:59");
	next_is("0 0 1 * *", "2026-12-31 23:59", "2027-01-01 00:00");
}
END_TEST

START_TEST(test_february_29_waits_for_a_leap_year)
{
	next_is("0 0 29 2 *", "2026-12-06 00:00", "2028-02-29 00:00");
	next_is("0 0 29 2 *", "2028-02-29 00:00", "2032-02-29 00:00");
	/* 2100 is not a leap year. */
	next_is("0 0 29 2 *", "2096-03-01 00:00", "2104-02-29 00:00");
}
END_TEST

START_TEST(test_both_day_fields_restricted_match_either)
{
	/* 2026-12-13 is a Sunday; the 15th a Tuesday. */
	next_is("0 0 15 * 0", "2026-12-10 00:00", "2026-12-13 00:00");
	next_is("0 0 15 * 0", "2026-12-13 00:00", "2026-12-15 00:00");
	/* A star (even stepped) in one day field makes it AND. */
	next_is("0 0 */10 * 0", "2026-12-10 00:00", "2027-01-31 00:00");
	next_is("0 0 * * 7", "2026-12-10 00:00", "2026-12-13 00:00");
}
END_TEST

START_TEST(test_macros)
{
	next_is("@hourly", "2026-12-06 08:30", "2026-12-06 09:00");
	next_is("@daily", "2026-12-06 08:30", "2026-12-07 00:00");
	next_is("@weekly", "2026-12-06 08:30", "2026-12-13 00:00");
	next_is("@monthly", "2026-12-06 08:30", "2027-01-01 00:00");
	next_is("@yearly", "2026-12-06 08:30", "2027-01-01 00:00");
	next_is("@annually", "2027-01-01 00:00", "2028-01-01 00:00");
}
END_TEST

START_TEST(test_previous_tick)
{
	struct cron	 c;
	const char	*err;

	ck_assert_int_eq(cron_parse("0 0 31 * *", &c, &err), 0);
	ck_assert_int_eq(cron_prev(&c, at("2026-05-01 00:00"), 0),
	    at("2026-03-31 00:00"));
	ck_assert_int_eq(cron_prev(&c, at("2026-03-31 00:00"), 0),
	    at("2026-03-31 00:00"));
	ck_assert_int_eq(cron_parse("*/5 * * * *", &c, &err), 0);
	ck_assert_int_eq(cron_prev(&c, at("2026-01-01 00:04") + 30, 0),
	    at("2026-01-01 00:00"));
	ck_assert_int_eq(cron_prev(&c, at("2026-01-01 00:00") - 1, 0),
	    at("2025-12-31 23:55"));
}
END_TEST

START_TEST(test_fixed_offset_zone)
{
	struct cron	 c;
	const char	*err;
	int		 off = 0;

	ck_assert_int_eq(cron_parse_zone("+02:00", &off, &err), 0);
	ck_assert_int_eq(off, 7200);
	ck_assert_int_eq(cron_parse("0 9 * * *", &c, &err), 0);
	/* 09:00 at +02:00 is 07:00 UTC. */
	ck_assert_int_eq(cron_next(&c, at("2026-12-06 06:00"), off),
	    at("2026-12-06 07:00"));
	ck_assert_int_eq(cron_parse_zone("UTC-0530", &off, &err), 0);
	ck_assert_int_eq(off, -(5 * 3600 + 30 * 60));
	ck_assert_int_eq(cron_next(&c, at("2026-12-06 06:00"), off),
	    at("2026-12-06 14:30"));
	ck_assert_int_eq(cron_parse_zone("UTC", &off, &err), 0);
	ck_assert_int_eq(off, 0);
}
END_TEST

START_TEST(test_named_and_malformed_zones_are_refused)
{
	const char	*err = NULL;
	int		 off;

	ck_assert_int_eq(cron_parse_zone("Europe/Paris", &off, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "named zones are not supported"));
	ck_assert_int_eq(cron_parse_zone("+2", &off, &err), -1);
	ck_assert_int_eq(cron_parse_zone("+02:0", &off, &err), -1);
	ck_assert_int_eq(cron_parse_zone("+15:00", &off, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "out of range"));
}
END_TEST

START_TEST(test_bad_syntax_is_refused_naming_the_field)
{
	bad("* * * *", "five fields");
	bad("* * * * * *", "five fields");
	bad("", "five fields");
	bad("60 * * * *", "minute: value out of range");
	bad("* 24 * * *", "hour: value out of range");
	bad("* * 0 * *", "day of month: value out of range");
	bad("* * * 13 *", "month: value out of range");
	bad("* * * * 8", "day of week: value out of range");
	bad("5-1 * * * *", "minute: value out of range");
	bad("*/0 * * * *", "minute: bad step");
	bad("*/ * * * *", "minute: bad step");
	bad("1,,2 * * * *", "minute: expected");
	bad("x * * * *", "minute: expected");
	bad("* * * foo *", "month: expected");
	bad("* * * * monday", "day of week: expected");
	bad("@reboot", "unknown macro");
	bad("0 0 30 2 *", "never occurs");
	bad("0 0 31 4,6,9,11 *", "never occurs");
}
END_TEST

static Suite *
cron_suite(void)
{
	Suite	*s = suite_create("cron");
	TCase	*tc = tcase_create("cron");

	tcase_add_test(tc, test_every_five_minutes_is_strictly_after);
	tcase_add_test(tc, test_seconds_inside_a_minute_go_to_the_next_match);
	tcase_add_test(tc, test_lists_ranges_and_steps);
	tcase_add_test(tc, test_month_ends);
	tcase_add_test(tc, test_february_29_waits_for_a_leap_year);
	tcase_add_test(tc, test_both_day_fields_restricted_match_either);
	tcase_add_test(tc, test_macros);
	tcase_add_test(tc, test_previous_tick);
	tcase_add_test(tc, test_fixed_offset_zone);
	tcase_add_test(tc, test_named_and_malformed_zones_are_refused);
	tcase_add_test(tc, test_bad_syntax_is_refused_naming_the_field);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(cron_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
