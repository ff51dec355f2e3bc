/*
 * Unit tests for config/parse.c: the value parsers shared by the config
 * loader and the command line (durations, sizes, numbers, booleans,
 * signals, comma lists, shell-style words).
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "config/parse.h"

/* Parse a duration that must be valid and return it. */
static double
duration_ok(const char *s)
{
	const char	*err = NULL;
	double		 d = -1.0;

	ck_assert_msg(parse_duration(s, &d, &err) == 0,
	    "parse_duration(\"%s\") failed: %s", s, err ? err : "?");
	return d;
}

/* Parse a duration that must be refused and return the message. */
static const char *
duration_bad(const char *s)
{
	const char	*err = NULL;
	double		 d = -42.0;

	ck_assert_msg(parse_duration(s, &d, &err) == -1,
	    "parse_duration(\"%s\") accepted it as %g", s, d);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(d == -42.0, "output written on failure");
	return err;
}

static uint64_t
size_ok(const char *s)
{
	const char	*err = NULL;
	uint64_t	 u = 0;

	ck_assert_msg(parse_size(s, &u, &err) == 0,
	    "parse_size(\"%s\") failed: %s", s, err ? err : "?");
	return u;
}

static const char *
size_bad(const char *s)
{
	const char	*err = NULL;
	uint64_t	 u = 42;

	ck_assert_msg(parse_size(s, &u, &err) == -1,
	    "parse_size(\"%s\") accepted it as %llu", s,
	    (unsigned long long)u);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(u == 42, "output written on failure");
	return err;
}

static int
signal_ok(const char *s)
{
	const char	*err = NULL;
	int		 sig = -1;

	ck_assert_msg(parse_signal(s, &sig, &err) == 0,
	    "parse_signal(\"%s\") failed: %s", s, err ? err : "?");
	return sig;
}

static const char *
signal_bad(const char *s)
{
	const char	*err = NULL;
	int		 sig = -1;

	ck_assert_msg(parse_signal(s, &sig, &err) == -1,
	    "parse_signal(\"%s\") accepted it as %d", s, sig);
	ck_assert_ptr_nonnull(err);
	return err;
}

/*
 * Split s into words and compare with the NULL-terminated expectation.
 */
static void
words_are(const char *s, const char *const *want)
{
	const char	 *err = NULL;
	char		**v = NULL;
	size_t		  n = 0, i, nwant = 0;

	while (want[nwant] != NULL)
		nwant++;
	ck_assert_msg(parse_words(s, &v, &n, &err) == 0,
	    "parse_words(\"%s\") failed: %s", s, err ? err : "?");
	ck_assert_uint_eq(n, nwant);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(v[i], want[i]);
	ck_assert_ptr_null(v[n]);
	free_strv(v, n);
}

static const char *
words_bad(const char *s)
{
	const char	 *err = NULL;
	char		**v = NULL;
	size_t		  n = 0;

	ck_assert_msg(parse_words(s, &v, &n, &err) == -1,
	    "parse_words(\"%s\") accepted it (%zu words)", s, n);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(v);
	return err;
}

static void
list_is(const char *s, const char *const *want)
{
	const char	 *err = NULL;
	char		**v = NULL;
	size_t		  n = 0, i, nwant = 0;

	while (want[nwant] != NULL)
		nwant++;
	ck_assert_msg(parse_list(s, &v, &n, &err) == 0,
	    "parse_list(\"%s\") failed: %s", s, err ? err : "?");
	ck_assert_uint_eq(n, nwant);
	for (i = 0; i < n; i++)
		ck_assert_str_eq(v[i], want[i]);
	ck_assert_ptr_null(v[n]);
	free_strv(v, n);
}

static const char *
list_bad(const char *s)
{
	const char	 *err = NULL;
	char		**v = NULL;
	size_t		  n = 0;

	ck_assert_msg(parse_list(s, &v, &n, &err) == -1,
	    "parse_list(\"%s\") accepted it (%zu items)", s, n);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(v);
	return err;
}

/* Durations. */

START_TEST(test_duration_bare_number_is_seconds)
{
	ck_assert_double_eq_tol(duration_ok("10"), 10.0, 1e-9);
	ck_assert_double_eq_tol(duration_ok("0"), 0.0, 1e-9);
	ck_assert_double_eq_tol(duration_ok("2.5"), 2.5, 1e-9);
}
END_TEST

START_TEST(test_duration_units_scale_to_seconds)
{
	ck_assert_double_eq_tol(duration_ok("100ms"), 0.1, 1e-9);
	ck_assert_double_eq_tol(duration_ok("1.5s"), 1.5, 1e-9);
	ck_assert_double_eq_tol(duration_ok("5m"), 300.0, 1e-9);
	ck_assert_double_eq_tol(duration_ok("2h"), 7200.0, 1e-9);
	ck_assert_double_eq_tol(duration_ok("0.5m"), 30.0, 1e-9);
	ck_assert_double_eq_tol(duration_ok("1ms"), 0.001, 1e-12);
}
END_TEST

START_TEST(test_duration_leading_blanks_are_skipped)
{
	ck_assert_double_eq_tol(duration_ok("  30s"), 30.0, 1e-9);
}
END_TEST

START_TEST(test_duration_unknown_unit_is_refused)
{
	ck_assert_ptr_nonnull(strstr(duration_bad("10d"), "unit"));
	ck_assert_ptr_nonnull(strstr(duration_bad("10sec"), "unit"));
	ck_assert_ptr_nonnull(strstr(duration_bad("10 s"), "unit"));
	ck_assert_ptr_nonnull(strstr(duration_bad("10S"), "unit"));
	ck_assert_ptr_nonnull(strstr(duration_bad("5mss"), "unit"));
}
END_TEST

START_TEST(test_duration_without_number_is_refused)
{
	ck_assert_ptr_nonnull(strstr(duration_bad(""), "expected a duration"));
	ck_assert_ptr_nonnull(strstr(duration_bad("s"), "expected a duration"));
	ck_assert_ptr_nonnull(strstr(duration_bad("ms"), "expected a duration"));
	ck_assert_ptr_nonnull(strstr(duration_bad("   "), "expected a duration"));
	ck_assert_ptr_nonnull(strstr(duration_bad("abc"), "expected a duration"));
}
END_TEST

START_TEST(test_duration_sign_is_refused)
{
	duration_bad("-1s");
	duration_bad("+1s");
	duration_bad(" -5");
}
END_TEST

START_TEST(test_duration_nan_and_infinity_are_refused)
{
	duration_bad("nan");
	duration_bad("inf");
	duration_bad("infinity");
	duration_bad("1e999");
}
END_TEST

START_TEST(test_duration_longer_than_a_year_is_refused)
{
	ck_assert_double_eq_tol(duration_ok("8760h"), 365.0 * 86400.0, 1e-6);
	ck_assert_ptr_nonnull(strstr(duration_bad("8761h"), "too long"));
	ck_assert_ptr_nonnull(strstr(duration_bad("100000000"), "too long"));
}
END_TEST

/* Sizes. */

START_TEST(test_size_bare_number_is_bytes)
{
	ck_assert_uint_eq(size_ok("0"), 0);
	ck_assert_uint_eq(size_ok("4096"), 4096);
}
END_TEST

START_TEST(test_size_suffixes_are_binary_multiples)
{
	ck_assert_uint_eq(size_ok("64K"), 64ULL << 10);
	ck_assert_uint_eq(size_ok("1M"), 1ULL << 20);
	ck_assert_uint_eq(size_ok("16M"), 16ULL << 20);
	ck_assert_uint_eq(size_ok("2G"), 2ULL << 30);
	ck_assert_uint_eq(size_ok("3k"), 3ULL << 10);
	ck_assert_uint_eq(size_ok("5m"), 5ULL << 20);
	ck_assert_uint_eq(size_ok("1g"), 1ULL << 30);
}
END_TEST

START_TEST(test_size_optional_b_after_suffix)
{
	ck_assert_uint_eq(size_ok("1MB"), 1ULL << 20);
	ck_assert_uint_eq(size_ok("8Kb"), 8ULL << 10);
	ck_assert_ptr_nonnull(strstr(size_bad("1B"), "suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("1KiB"), "suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("1MBB"), "suffix"));
}
END_TEST

START_TEST(test_size_unknown_suffix_is_refused)
{
	ck_assert_ptr_nonnull(strstr(size_bad("1T"), "suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("1.5M"), "suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("10 K"), "suffix"));
	ck_assert_ptr_nonnull(strstr(size_bad("12x"), "suffix"));
}
END_TEST

START_TEST(test_size_without_digits_is_refused)
{
	ck_assert_ptr_nonnull(strstr(size_bad(""), "expected a size"));
	ck_assert_ptr_nonnull(strstr(size_bad("K"), "expected a size"));
	ck_assert_ptr_nonnull(strstr(size_bad("-1"), "expected a size"));
	ck_assert_ptr_nonnull(strstr(size_bad("+1"), "expected a size"));
}
END_TEST

START_TEST(test_size_out_of_range_is_refused)
{
	ck_assert_uint_eq(size_ok("1048576G"), 1ULL << 50);
	ck_assert_ptr_nonnull(strstr(size_bad("1048577G"), "out of range"));
	ck_assert_ptr_nonnull(strstr(size_bad("18446744073709551616"),
	    "out of range"));
	ck_assert_uint_eq(size_ok("1099511627776K"), 1ULL << 50);
	ck_assert_ptr_nonnull(strstr(size_bad("1099511627777K"), "out of range"));
}
END_TEST

/* Whole numbers. */

START_TEST(test_long_accepts_numbers_in_range)
{
	const char	*err = NULL;
	long		 v = 0;

	ck_assert_int_eq(parse_long("42", 0, 100, &v, &err), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(parse_long("0", 0, 100, &v, &err), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_long("100", 0, 100, &v, &err), 0);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(parse_long("-5", -10, 10, &v, &err), 0);
	ck_assert_int_eq(v, -5);
}
END_TEST

START_TEST(test_long_below_minimum_is_refused)
{
	const char	*err = NULL;
	long		 v = 7;

	ck_assert_int_eq(parse_long("0", 1, 10, &v, &err), -1);
	ck_assert_str_eq(err, "number too small");
	ck_assert_int_eq(v, 7);
	ck_assert_int_eq(parse_long("-1", 0, 10, &v, &err), -1);
	ck_assert_str_eq(err, "must not be negative");
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_long_above_maximum_is_refused)
{
	const char	*err = NULL;
	long		 v = 7;

	ck_assert_int_eq(parse_long("11", 1, 10, &v, &err), -1);
	ck_assert_str_eq(err, "number too large");
	ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(test_long_rejects_non_numbers_and_trailing_text)
{
	const char	*err = NULL;
	long		 v = 7;
	const char	*bad[] = { "", "abc", "12abc", "1.5", "0x10", "5 ",
	    "99999999999999999999999", "-99999999999999999999999", NULL };
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++) {
		err = NULL;
		ck_assert_msg(parse_long(bad[i], LONG_MIN, LONG_MAX, &v,
		    &err) == -1, "parse_long(\"%s\") accepted it", bad[i]);
		ck_assert_str_eq(err, "expected a whole number");
		ck_assert_int_eq(v, 7);
	}
}
END_TEST

/* Booleans. */

START_TEST(test_bool_accepts_all_spellings)
{
	const char	*yes[] = { "yes", "YES", "true", "True", "on", "ON",
	    "1", NULL };
	const char	*no[] = { "no", "No", "false", "FALSE", "off", "Off",
	    "0", NULL };
	const char	*err = NULL;
	size_t		 i;
	int		 b;

	for (i = 0; yes[i] != NULL; i++) {
		b = -1;
		ck_assert_int_eq(parse_bool(yes[i], &b, &err), 0);
		ck_assert_msg(b == 1, "\"%s\" is not true", yes[i]);
	}
	for (i = 0; no[i] != NULL; i++) {
		b = -1;
		ck_assert_int_eq(parse_bool(no[i], &b, &err), 0);
		ck_assert_msg(b == 0, "\"%s\" is not false", no[i]);
	}
}
END_TEST

START_TEST(test_bool_rejects_other_words)
{
	const char	*bad[] = { "", "y", "n", "2", "enable", "yes ", "nope",
	    NULL };
	const char	*err;
	size_t		 i;
	int		 b;

	for (i = 0; bad[i] != NULL; i++) {
		b = -1;
		err = NULL;
		ck_assert_msg(parse_bool(bad[i], &b, &err) == -1,
		    "parse_bool(\"%s\") accepted it", bad[i]);
		ck_assert_str_eq(err, "expected yes or no");
		ck_assert_int_eq(b, -1);
	}
}
END_TEST

/* Signals. */

START_TEST(test_signal_names_with_and_without_sig_prefix)
{
	ck_assert_int_eq(signal_ok("TERM"), SIGTERM);
	ck_assert_int_eq(signal_ok("SIGTERM"), SIGTERM);
	ck_assert_int_eq(signal_ok("sigint"), SIGINT);
	ck_assert_int_eq(signal_ok("quit"), SIGQUIT);
	ck_assert_int_eq(signal_ok("HUP"), SIGHUP);
	ck_assert_int_eq(signal_ok("KILL"), SIGKILL);
	ck_assert_int_eq(signal_ok("USR1"), SIGUSR1);
	ck_assert_int_eq(signal_ok("SIGUSR2"), SIGUSR2);
	ck_assert_int_eq(signal_ok("WINCH"), SIGWINCH);
}
END_TEST

START_TEST(test_signal_numbers_from_1_to_64)
{
	ck_assert_int_eq(signal_ok("9"), 9);
	ck_assert_int_eq(signal_ok("1"), 1);
	ck_assert_int_eq(signal_ok("64"), 64);
	signal_bad("0");
	signal_bad("65");
	signal_bad("-15");
}
END_TEST

START_TEST(test_signal_unknown_name_is_refused)
{
	ck_assert_ptr_nonnull(strstr(signal_bad("TERMINATE"), "unknown signal"));
	ck_assert_ptr_nonnull(strstr(signal_bad("SIG"), "unknown signal"));
	ck_assert_ptr_nonnull(strstr(signal_bad(""), "unknown signal"));
	ck_assert_ptr_nonnull(strstr(signal_bad("SIGFOO"), "unknown signal"));
}
END_TEST

START_TEST(test_signal_name_round_trips)
{
	ck_assert_str_eq(signal_name(SIGTERM), "TERM");
	ck_assert_str_eq(signal_name(SIGKILL), "KILL");
	ck_assert_str_eq(signal_name(SIGHUP), "HUP");
	ck_assert_int_eq(signal_ok(signal_name(SIGQUIT)), SIGQUIT);
	ck_assert_str_eq(signal_name(0), "?");
	ck_assert_str_eq(signal_name(999), "?");
}
END_TEST

/* Comma lists. */

START_TEST(test_list_splits_on_commas_and_trims_blanks)
{
	const char *const want[] = { "unix:mpsup.sock", "127.0.0.1:7300",
	    "[::1]:7300", NULL };

	list_is("unix:mpsup.sock, 127.0.0.1:7300 ,\t[::1]:7300  ", want);
}
END_TEST

START_TEST(test_list_single_item)
{
	const char *const want[] = { "a b", NULL };

	list_is("  a b  ", want);
}
END_TEST

START_TEST(test_list_empty_items_are_refused)
{
	ck_assert_ptr_nonnull(strstr(list_bad(""), "empty item"));
	ck_assert_ptr_nonnull(strstr(list_bad("   "), "empty item"));
	ck_assert_ptr_nonnull(strstr(list_bad("a,,b"), "empty item"));
	ck_assert_ptr_nonnull(strstr(list_bad("a, ,b"), "empty item"));
	ck_assert_ptr_nonnull(strstr(list_bad("a,"), "empty item"));
	ck_assert_ptr_nonnull(strstr(list_bad(",a"), "empty item"));
}
END_TEST

/* Shell-style words. */

START_TEST(test_words_split_on_any_blank)
{
	const char *const want[] = { "python3", "-u", "worker.py", NULL };

	words_are("  python3\t-u \n worker.py  ", want);
}
END_TEST

START_TEST(test_words_single_quotes_are_literal)
{
	const char *const want[] = { "echo", "a b", "c\\d \"e\" $HOME", NULL };

	words_are("echo 'a b' 'c\\d \"e\" $HOME'", want);
}
END_TEST

START_TEST(test_words_double_quotes_allow_few_escapes)
{
	const char *const want[] = { "say", "he said \"hi\"", "a\\b", "$x`y`",
	    "\\n", NULL };

	words_are("say \"he said \\\"hi\\\"\" \"a\\\\b\" \"\\$x\\`y\\`\" "
	    "\"\\n\"", want);
}
END_TEST

START_TEST(test_words_backslash_escapes_next_character)
{
	const char *const want[] = { "a b", "'", "\"", "\\", "x", NULL };

	words_are("a\\ b \\' \\\" \\\\ \\x", want);
}
END_TEST

START_TEST(test_words_adjacent_quoted_parts_join)
{
	const char *const want[] = { "abcdef", "--opt=a b", NULL };

	words_are("ab'cd'\"ef\" --opt='a b'", want);
}
END_TEST

START_TEST(test_words_empty_quotes_make_an_empty_word)
{
	const char *const want[] = { "prog", "", "x", "", NULL };

	words_are("prog '' x \"\"", want);
}
END_TEST

START_TEST(test_words_no_expansion)
{
	const char *const want[] = { "$HOME", "*", "~", "a;b", "|", NULL };

	words_are("$HOME * ~ a;b |", want);
}
END_TEST

START_TEST(test_words_unterminated_quote_is_refused)
{
	ck_assert_str_eq(words_bad("echo 'abc"), "unterminated quote");
	ck_assert_str_eq(words_bad("echo \"abc"), "unterminated quote");
	ck_assert_str_eq(words_bad("echo ok \"abc\\\""), "unterminated quote");
	ck_assert_str_eq(words_bad("first second 'x"), "unterminated quote");
}
END_TEST

START_TEST(test_words_trailing_backslash_is_refused)
{
	ck_assert_str_eq(words_bad("echo abc\\"), "trailing backslash");
	ck_assert_str_eq(words_bad("one two \\"), "trailing backslash");
}
END_TEST

START_TEST(test_words_empty_command_is_refused)
{
	ck_assert_str_eq(words_bad(""), "empty command");
	ck_assert_str_eq(words_bad(" \t "), "empty command");
}
END_TEST

/* RFC 3339: Z or an offset, an optional fraction; nothing else. */
START_TEST(test_rfc3339_times_parse_to_epoch_seconds)
{
	double	t;

	ck_assert_int_eq(time_parse_rfc3339("2026-12-06T09:30:00Z", &t), 0);
	ck_assert(t == 1796549400.0);
	ck_assert_int_eq(time_parse_rfc3339("2026-12-06t09:30:00.25z", &t), 0);
	ck_assert(t == 1796549400.25);
	ck_assert_int_eq(time_parse_rfc3339("2026-12-06T11:30:00+02:00", &t),
	    0);
	ck_assert(t == 1796549400.0);
	ck_assert_int_eq(time_parse_rfc3339("2026-12-06T04:00:00-05:30", &t),
	    0);
	ck_assert(t == 1796549400.0);
	ck_assert_int_eq(time_parse_rfc3339("2024-02-29T00:00:00Z", &t), 0);
}
END_TEST

START_TEST(test_rfc3339_malformed_times_are_refused)
{
	static const char *const bad[] = {
		"", "2026-12-06", "2026-12-06T09:30:00", "2026-12-06T09:30Z",
		"2026-12-06T09:30:00+0200", "2026-13-01T00:00:00Z",
		"2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-12-06T24:00:00Z", "2026-12-06T09:60:00Z",
		"1969-12-31T23:59:59Z", "2026-12-06T09:30:00.Z",
		"2026-12-06T09:30:00Z ", "2026-12-06T09:30:00+24:00",
		"20x6-12-06T09:30:00Z", "tomorrow",
	};
	double	t;
	size_t	i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(time_parse_rfc3339(bad[i], &t) == -1,
		    "accepted \"%s\"", bad[i]);
}
END_TEST

static Suite *
parse_suite(void)
{
	Suite	*s = suite_create("parse");
	TCase	*tc;

	tc = tcase_create("duration");
	tcase_add_test(tc, test_duration_bare_number_is_seconds);
	tcase_add_test(tc, test_duration_units_scale_to_seconds);
	tcase_add_test(tc, test_duration_leading_blanks_are_skipped);
	tcase_add_test(tc, test_duration_unknown_unit_is_refused);
	tcase_add_test(tc, test_duration_without_number_is_refused);
	tcase_add_test(tc, test_duration_sign_is_refused);
	tcase_add_test(tc, test_duration_nan_and_infinity_are_refused);
	tcase_add_test(tc, test_duration_longer_than_a_year_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("rfc3339");
	tcase_add_test(tc, test_rfc3339_times_parse_to_epoch_seconds);
	tcase_add_test(tc, test_rfc3339_malformed_times_are_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_add_test(tc, test_size_bare_number_is_bytes);
	tcase_add_test(tc, test_size_suffixes_are_binary_multiples);
	tcase_add_test(tc, test_size_optional_b_after_suffix);
	tcase_add_test(tc, test_size_unknown_suffix_is_refused);
	tcase_add_test(tc, test_size_without_digits_is_refused);
	tcase_add_test(tc, test_size_out_of_range_is_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("long");
	tcase_add_test(tc, test_long_accepts_numbers_in_range);
	tcase_add_test(tc, test_long_below_minimum_is_refused);
	tcase_add_test(tc, test_long_above_maximum_is_refused);
	tcase_add_test(tc, test_long_rejects_non_numbers_and_trailing_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("bool");
	tcase_add_test(tc, test_bool_accepts_all_spellings);
	tcase_add_test(tc, test_bool_rejects_other_words);
	suite_add_tcase(s, tc);

	tc = tcase_create("signal");
	tcase_add_test(tc, test_signal_names_with_and_without_sig_prefix);
	tcase_add_test(tc, test_signal_numbers_from_1_to_64);
	tcase_add_test(tc, test_signal_unknown_name_is_refused);
	tcase_add_test(tc, test_signal_name_round_trips);
	suite_add_tcase(s, tc);

	tc = tcase_create("list");
	tcase_add_test(tc, test_list_splits_on_commas_and_trims_blanks);
	tcase_add_test(tc, test_list_single_item);
	tcase_add_test(tc, test_list_empty_items_are_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("words");
	tcase_add_test(tc, test_words_split_on_any_blank);
	tcase_add_test(tc, test_words_single_quotes_are_literal);
	tcase_add_test(tc, test_words_double_quotes_allow_few_escapes);
	tcase_add_test(tc, test_words_backslash_escapes_next_character);
	tcase_add_test(tc, test_words_adjacent_quoted_parts_join);
	tcase_add_test(tc, test_words_empty_quotes_make_an_empty_word);
	tcase_add_test(tc, test_words_no_expansion);
	tcase_add_test(tc, test_words_unterminated_quote_is_refused);
	tcase_add_test(tc, test_words_trailing_backslash_is_refused);
	tcase_add_test(tc, test_words_empty_command_is_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(parse_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
