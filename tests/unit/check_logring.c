/*
 * Unit tests for the log's recent records (supervisor/logring.c): numbering,
 * the bounds on records and bytes (the oldest go first), what a record
 * carries (copied), and the notify callback.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/logring.h"

/* Keep a record of text s[0..len) with pool and job (or NULL). */
static void
add(const char *pool, const char *job, const char *s, size_t len)
{
	struct logring_record	r = { 99, 1.5, pool, job, pool ? "out" :
	    "info", 3, 1234, 0, s, len };

	logring_add(&r);
}

static void
teardown(void)
{
	logring_set_notify(NULL, NULL);
	logring_clear();
}

START_TEST(test_records_are_numbered_and_carry_pool_job_and_text)
{
	struct logring_record	r;
	uint64_t		first = logring_next();
	char			pool[] = "p", line[] = "{\"line\":\"b\"}xx";

	add(NULL, NULL, "{\"msg\":\"a\"}", 11);
	add(pool, "0123456789abcdef", line, 12);
	pool[0] = line[0] = 'X';	/* the ring keeps copies */
	ck_assert_uint_eq(logring_next(), first + 2);
	ck_assert_uint_eq(logring_first(), first);
	ck_assert_int_eq(logring_get(first, &r), 0);
	ck_assert(r.seq == first && r.pool == NULL && r.job == NULL);
	ck_assert_str_eq(r.text, "{\"msg\":\"a\"}");
	ck_assert_str_eq(r.stream, "info");
	ck_assert_int_eq(logring_get(first + 1, &r), 0);
	ck_assert_str_eq(r.pool, "p");
	ck_assert_str_eq(r.job, "0123456789abcdef");
	ck_assert_str_eq(r.stream, "out");
	ck_assert(r.ts == 1.5 && r.worker == 3 && r.pid == 1234);
	ck_assert_uint_eq(r.len, 12);
	ck_assert_str_eq(r.text, "{\"line\":\"b\"}");
	ck_assert_int_eq(logring_get(first + 2, &r), -1);
	ck_assert_int_eq(logring_get(first - 1, &r), -1);
}
END_TEST

START_TEST(test_the_oldest_go_past_the_record_bound)
{
	struct logring_record	r;
	char			json[32];
	uint64_t		first = logring_next();
	int			i, n = LOGRING_MAX_RECORDS + 10;

	for (i = 0; i < n; i++) {
		snprintf(json, sizeof json, "{\"n\":%d}", i);
		add("p", NULL, json, strlen(json));
	}
	ck_assert_uint_eq(logring_next() - logring_first(),
	    LOGRING_MAX_RECORDS);
	ck_assert_uint_eq(logring_first(), first + 10);
	ck_assert_int_eq(logring_get(first + 9, &r), -1);
	ck_assert_int_eq(logring_get(first + 10, &r), 0);
	ck_assert_str_eq(r.text, "{\"n\":10}");
	ck_assert_int_eq(logring_get(logring_next() - 1, &r), 0);
	snprintf(json, sizeof json, "{\"n\":%d}", n - 1);
	ck_assert_str_eq(r.text, json);
}
END_TEST

START_TEST(test_the_oldest_go_past_the_byte_bound)
{
	size_t		 len = 256 * 1024, kept;
	char		*big = malloc(len);
	uint64_t	 first;

	memset(big, 'x', len);
	logring_clear();
	first = logring_next();
	for (int i = 0; i < 40; i++)
		add(NULL, NULL, big, len);
	kept = (size_t)(logring_next() - logring_first());
	ck_assert_uint_le(kept * (len + 4 + 4), LOGRING_MAX_BYTES);
	ck_assert_uint_ge(kept, LOGRING_MAX_BYTES / (len + 4 + 4) - 1);
	ck_assert_uint_eq(logring_next(), first + 40);
	/* A record larger than the whole ring is not kept at all. */
	free(big);
	big = malloc(LOGRING_MAX_BYTES + 1);
	memset(big, 'y', LOGRING_MAX_BYTES + 1);
	first = logring_next();
	add(NULL, NULL, big, LOGRING_MAX_BYTES + 1);
	ck_assert_uint_eq(logring_next(), first);
	free(big);
}
END_TEST

/* Whether every record kept still holds its own bytes. */
static int
all_intact(void)
{
	struct logring_record	r;
	uint64_t		seq;

	for (seq = logring_first(); seq < logring_next(); seq++) {
		if (logring_get(seq, &r) == -1 || strlen(r.text) != r.len)
			return 0;
		for (size_t i = 0; i < r.len; i++)
			if (r.text[i] != 'a' + (char)(seq % 26))
				return 0;
	}
	return 1;
}

START_TEST(test_records_of_any_size_never_overwrite_one_kept)
{
	size_t		 max = 300 * 1024, len;
	char		*text = malloc(max);
	uint32_t	 x = 12345;
	uint64_t	 seq;

	logring_clear();
	for (int i = 0; i < 3000; i++) {
		x = x * 1103515245u + 12345u;
		/* Mostly short lines, now and then a long one. */
		len = (x >> 8) % 16 == 0 ? (x >> 4) % max : (x >> 4) % 200;
		seq = logring_next();
		memset(text, 'a' + (char)(seq % 26), len);
		add("p", NULL, text, len);
		ck_assert_uint_eq(logring_next(), seq + 1);
		ck_assert_uint_le(logring_next() - logring_first(),
		    LOGRING_MAX_RECORDS);
		ck_assert_msg(all_intact(), "record overwritten at add %d", i);
	}
	free(text);
}
END_TEST

static void
count_cb(void *arg)
{
	(*(int *)arg)++;
}

START_TEST(test_notify_is_called_after_each_record)
{
	int	n = 0;

	logring_set_notify(count_cb, &n);
	add(NULL, NULL, "{}", 2);
	add("p", NULL, "{}", 2);
	ck_assert_int_eq(n, 2);
	logring_set_notify(NULL, NULL);
	add(NULL, NULL, "{}", 2);
	ck_assert_int_eq(n, 2);
}
END_TEST

static Suite *
logring_suite(void)
{
	Suite	*s = suite_create("logring");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_records_are_numbered_and_carry_pool_job_and_text);
	tcase_add_test(tc, test_the_oldest_go_past_the_record_bound);
	tcase_add_test(tc, test_the_oldest_go_past_the_byte_bound);
	tcase_add_test(tc, test_notify_is_called_after_each_record);
	tcase_add_test(tc, test_records_of_any_size_never_overwrite_one_kept);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(logring_suite());
	int	 failed;

	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
