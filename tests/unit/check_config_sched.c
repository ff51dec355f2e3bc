/*
 * Unit tests for config/config_sched.c and the keys it serves: the
 * [schedule:NAME] sections (pool, cron, every, data, args, missed,
 * timezone) and the pool keys ready, ready_timeout, depends_on and
 * dead_ttl. Every bad value is reported as "FILE:LINE: message".
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"

static char			 path[64];
static struct config		*cfg;
static struct config_errors	 errs;

/* Write text to a temporary file and load it. */
static void
load(const char *text)
{
	FILE	*fp;
	int	 fd;

	snprintf(path, sizeof path, "/tmp/mpsup-check-sched-XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
	fputs(text, fp);
	fclose(fp);
	cfg = config_load(path, &errs);
	unlink(path);
}

static void
unload(void)
{
	config_free(cfg);
	cfg = NULL;
	config_errors_free(&errs);
}

/* The only error is at line, containing phrase. */
static void
only_error(int line, const char *phrase)
{
	char	prefix[128];

	snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(errs.n == 1, "%zu errors, the first '%s'", errs.n,
	    errs.n > 0 ? errs.msgs[0] : "");
	ck_assert_msg(strncmp(errs.msgs[0], prefix, strlen(prefix)) == 0 &&
	    strstr(errs.msgs[0], phrase) != NULL, "'%s' is not %s...%s",
	    errs.msgs[0], prefix, phrase);
}

#define STREAM	"[pool:s]\ntype = stream\ncommand = /bin/cat\n"
#define EXEC	"[pool:e]\nworkers = 1\n"

START_TEST(test_schedules_load_with_their_defaults)
{
	load(STREAM EXEC "[schedule:tick]\npool = s\nevery = 30s\n"
	    "[schedule:night]\npool = e\ncron = @daily\n"
	    "args = /bin/echo 'a \"b\"' c\nmissed = once\n"
	    "timezone = -05:30\n");
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(cfg->nschedules, 2);
	ck_assert_str_eq(cfg->schedules[0]->name, "tick");
	ck_assert_str_eq(cfg->schedules[0]->pool, "s");
	ck_assert(cfg->schedules[0]->every == 30.0);
	ck_assert_str_eq(cfg->schedules[0]->data, "null");
	ck_assert_int_eq(cfg->schedules[0]->missed, SCHEDULE_MISSED_SKIP);
	ck_assert_int_eq(cfg->schedules[0]->tz_offset, 0);
	ck_assert_str_eq(cfg->schedules[1]->cron_expr, "@daily");
	ck_assert_str_eq(cfg->schedules[1]->data,
	    "{\"args\":[\"/bin/echo\",\"a \\\"b\\\"\",\"c\"]}");
	ck_assert_int_eq(cfg->schedules[1]->missed, SCHEDULE_MISSED_ONCE);
	ck_assert_int_eq(cfg->schedules[1]->tz_offset, -(5 * 3600 + 1800));
}
END_TEST

START_TEST(test_schedule_data_is_kept_as_json)
{
	load(STREAM "[schedule:t]\npool = s\nevery = 1s\n"
	    "data = {\"report\": [1, 2]}\n");
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->schedules[0]->data, "{\"report\": [1, 2]}");
}
END_TEST

START_TEST(test_readiness_and_order_keys_load)
{
	load(STREAM "ready = line\nready_timeout = 5s\ndead_ttl = 0\n"
	    "[pool:t]\ntype = stream\ncommand = /bin/cat\n"
	    "depends_on = s\n");
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(cfg->pools[0]->ready_line, 1);
	ck_assert(cfg->pools[0]->dead_ttl == 0);
	ck_assert(cfg->pools[0]->ready_timeout == 5.0);
	ck_assert_int_eq(cfg->pools[1]->ready_line, 0);
	ck_assert(cfg->pools[1]->ready_timeout == 30.0);
	ck_assert_uint_eq(cfg->pools[1]->ndepends_on, 1);
	ck_assert_str_eq(cfg->pools[1]->depends_on[0], "s");
	ck_assert(cfg->pools[1]->dead_ttl == 7 * 86400.0);
}
END_TEST

/* One bad input and the error it must give. */
static const struct bad_case {
	const char	*text;
	int		 line;
	const char	*phrase;
} bad_cases[] = {
	{ STREAM "[schedule:t]\npool = s\ncron = 61 * * * *\n", 6,
	    "cron: '61 * * * *': minute: value out of range" },
	{ STREAM "[schedule:t]\npool = s\ncron = * * *\n", 6,
	    "five fields" },
	{ STREAM "[schedule:t]\npool = s\ncron = @reboot\n", 6,
	    "unknown macro" },
	{ STREAM "[schedule:t]\npool = s\nevery = 0.5s\n", 6,
	    "every: must be at least 1s" },
	{ STREAM "[schedule:t]\npool = s\nevery = soon\n", 6, "every:" },
	{ STREAM "[schedule:t]\npool = s\nevery = 0\n", 6,
	    "every: must be at least 1s" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1m\ncron = @hourly\n", 6,
	    "every: give either cron or every" },
	{ STREAM "[schedule:t]\npool = s\n", 4, "missing 'cron' or 'every'" },
	{ STREAM "[schedule:t]\nevery = 1s\n", 4, "missing 'pool'" },
	{ STREAM "[schedule:t]\npool = nope\nevery = 1s\n", 5,
	    "pool: no pool 'nope'" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\ndata = {oops\n", 7,
	    "data: not one JSON value" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\ndata = 1 2\n", 7,
	    "data: not one JSON value" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\nargs = ls\n", 7,
	    "args: pool 's' is a stream pool" },
	{ EXEC "[schedule:t]\npool = e\nevery = 1s\n", 3, "missing 'args'" },
	{ EXEC "[schedule:t]\npool = e\nevery = 1s\ndata = {}\n", 6,
	    "data: pool 'e' is an exec pool" },
	{ EXEC "[schedule:t]\npool = e\nevery = 1s\nargs = 'ls\n", 6,
	    "args:" },
	{ EXEC "[schedule:t]\npool = e\nevery = 1s\nargs = ls\ndata = 1\n",
	    6, "args: give either data or args" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\nmissed = later\n", 7,
	    "missed: 'later' is not one of skip, once" },
	{ STREAM "[schedule:t]\npool = s\ncron = @daily\n"
	    "timezone = Europe/Paris\n", 7, "named zones are not supported" },
	{ STREAM "[schedule:t]\npool = s\ncron = @daily\n"
	    "timezone = +25:00\n", 7, "timezone: '+25:00'" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\ntimezone = +01:00\n",
	    7, "timezone: applies to cron only" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\nworkers = 2\n", 7,
	    "unknown key 'workers' in [schedule:t]" },
	{ STREAM "[schedule:t t]\n", 4, "bad schedule name" },
	{ STREAM "[schedule:t]\npool = s\nevery = 1s\n[schedule:t]\n", 7,
	    "duplicate schedule 't' (first at line 4)" },
	{ STREAM "dead_ttl = forever\n", 4, "dead_ttl: expected a duration" },
	{ STREAM "dead_ttl = -1h\n", 4, "dead_ttl:" },
	{ STREAM "ready = yes\n", 4, "ready: 'yes' is not one of none, line" },
	{ STREAM "ready_timeout = 0\n", 4,
	    "ready_timeout: must be longer than 0" },
	{ STREAM "ready_timeout = -1s\n", 4, "ready_timeout:" },
	{ EXEC "ready = line\n", 3, "ready: applies to stream pools only" },
	{ STREAM "depends_on = nope\n", 4, "depends_on: no pool 'nope'" },
	{ STREAM "depends_on = s\n", 4, "depends_on: cycle s -> s" },
	{ STREAM "depends_on = a b\n", 4, "is not a pool name" },
	{ STREAM "depends_on = e, e\n" EXEC, 4, "'e' is named twice" },
	{ STREAM "depends_on = e,\n" EXEC, 4, "depends_on:" },
	{ STREAM "depends_on = b\n[pool:b]\nworkers = 1\ndepends_on = c\n"
	    "[pool:c]\nworkers = 1\ndepends_on = s\n", 10,
	    "depends_on: cycle s -> b -> c -> s" },
};

START_TEST(test_bad_input_is_reported_at_its_line)
{
	load(bad_cases[_i].text);
	only_error(bad_cases[_i].line, bad_cases[_i].phrase);
}
END_TEST

static Suite *
config_sched_suite(void)
{
	Suite	*s = suite_create("config_sched");
	TCase	*tc = tcase_create("config_sched");

	tcase_add_checked_fixture(tc, NULL, unload);
	tcase_add_test(tc, test_schedules_load_with_their_defaults);
	tcase_add_test(tc, test_schedule_data_is_kept_as_json);
	tcase_add_test(tc, test_readiness_and_order_keys_load);
	tcase_add_loop_test(tc, test_bad_input_is_reported_at_its_line, 0,
	    (int)(sizeof bad_cases / sizeof bad_cases[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_sched_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
