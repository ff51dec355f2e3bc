/*
 * Unit tests for the status document and the Prometheus exposition, on a
 * supervisor assembled by hand through the core's seams (core_fixture.h:
 * pools whose workers are never started), so every job count is known.
 */
#include "config.h"

#include <check.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "store/queue.h"
#include "supervisor/dispatch.h"
#include "supervisor/monitor/metrics.h"
#include "supervisor/pool.h"
#include "supervisor/status.h"
#include "supervisor/supervisor.h"
#include "tests/unit/core_fixture.h"

/* Pools "a" (stream, 2 workers) and "b" (exec), not started. */
static void
setup(void)
{
	fixture_start("[pool:a]\ntype = stream\ncommand = cat\nworkers = 2\n"
	    "max_queue = 5\n[pool:b]\ntype = exec\nworkers = 1\n");
}

static void
teardown(void)
{
	fixture_stop();
}

/* The status document, parsed. */
static json_t *
status_doc(const char *filter)
{
	struct buf	 b = BUF_INIT;
	json_error_t	 e;
	json_t		*doc;

	status_append(&fx, &b, filter);
	doc = json_loadb(buf_head(&b), buf_used(&b), 0, &e);
	if (doc == NULL)
		ck_abort_msg("status is not JSON: %s: %.*s", e.text,
		    (int)buf_used(&b), buf_head(&b));
	buf_free(&b);
	return doc;
}

static long long
jobs_field(json_t *pool, const char *name)
{
	json_t	*v = json_object_get(json_object_get(pool, "jobs"), name);

	ck_assert_msg(json_is_integer(v), "jobs.%s missing", name);
	return json_integer_value(v);
}

/* submitted = queued + running + done + failed + timed_out + cancelled */
static void
assert_invariant(json_t *pool)
{
	ck_assert_int_eq(jobs_field(pool, "submitted"),
	    jobs_field(pool, "delayed") +
	    jobs_field(pool, "queued") + jobs_field(pool, "running") +
	    jobs_field(pool, "done") + jobs_field(pool, "failed") +
	    jobs_field(pool, "timed_out") + jobs_field(pool, "cancelled"));
}

START_TEST(test_status_lists_every_pool_with_its_workers)
{
	json_t	*doc = status_doc(NULL), *pools, *a, *w;

	pools = json_object_get(doc, "pools");
	ck_assert_int_eq(json_array_size(pools), 2);
	a = json_array_get(pools, 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "a");
	ck_assert_str_eq(json_string_value(json_object_get(a, "type")),
	    "stream");
	ck_assert_int_eq(json_integer_value(json_object_get(a,
	    "workers_target")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(a, "queue_max")),
	    5);
	ck_assert_int_eq(json_array_size(json_object_get(a, "workers")), 2);
	w = json_array_get(json_object_get(a, "workers"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "index")), 1);
	ck_assert(json_is_null(json_object_get(w, "pid")));
	ck_assert_str_eq(json_string_value(json_object_get(w, "state")),
	    "dead");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc,
	    "mpsup"), "store")), "memory");
	ck_assert_int_eq(json_integer_value(json_object_get(doc,
	    "connections")), 0);
	assert_invariant(a);
	json_decref(doc);
}
END_TEST

START_TEST(test_status_filter_keeps_one_pool)
{
	json_t	*doc = status_doc("b"), *pools;

	pools = json_object_get(doc, "pools");
	ck_assert_int_eq(json_array_size(pools), 1);
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_array_get(pools, 0), "name")), "b");
	json_decref(doc);
}
END_TEST

START_TEST(test_status_counts_hold_the_invariant)
{
	struct pool	*a = fx.pools[0];
	struct job	*jobs[6];
	const char	*err = NULL;
	json_t		*doc, *pa;
	int		 i;

	for (i = 0; i < 5; i++) {
		jobs[i] = dispatch_submit(a, "1", 1, NULL, NULL, NULL, &err);
		ck_assert_ptr_nonnull(jobs[i]);
	}
	/* max_queue = 5: the sixth is refused and counted as rejected. */
	jobs[5] = dispatch_submit(a, "1", 1, NULL, NULL, NULL, &err);
	ck_assert_ptr_null(jobs[5]);
	ck_assert_str_eq(err, "queue_full");
	ck_assert_int_eq(dispatch_cancel(jobs[2], &err), 0);
	ck_assert_int_eq(dispatch_cancel(jobs[2], &err), -1);

	doc = status_doc(NULL);
	pa = json_array_get(json_object_get(doc, "pools"), 0);
	ck_assert_int_eq(jobs_field(pa, "submitted"), 5);
	ck_assert_int_eq(jobs_field(pa, "queued"), 4);
	ck_assert_int_eq(jobs_field(pa, "cancelled"), 1);
	ck_assert_int_eq(jobs_field(pa, "rejected"), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(pa,
	    "queue_depth")), 4);
	assert_invariant(pa);
	json_decref(doc);
}
END_TEST

/*
 * Flow control in the status document and the metrics: delayed jobs,
 * the queue by priority (the levels with jobs), the groups with work.
 */
START_TEST(test_status_and_metrics_show_flow_control)
{
	struct pool	*a = fx.pools[0];
	struct buf	 b = BUF_INIT;
	const char	*err = NULL;
	json_t		*doc, *pa, *byprio;

	ck_assert_ptr_nonnull(dispatch_submit(a, "1", 1, NULL, NULL,
	    &(struct job_flow_spec){ 3, 0, "t1" }, &err));
	ck_assert_ptr_nonnull(dispatch_submit(a, "1", 1, NULL, NULL,
	    &(struct job_flow_spec){ -2, 0, "t2" }, &err));
	ck_assert_ptr_nonnull(dispatch_submit(a, "1", 1, NULL, NULL,
	    &(struct job_flow_spec){ 0, ev_now(fx.loop) + 60, NULL }, &err));
	doc = status_doc("a");
	pa = json_array_get(json_object_get(doc, "pools"), 0);
	ck_assert_int_eq(jobs_field(pa, "delayed"), 1);
	ck_assert_int_eq(jobs_field(pa, "queued"), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(pa,
	    "groups_with_work")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(pa,
	    "throttled")), 0);
	byprio = json_object_get(pa, "queue_by_priority");
	ck_assert_int_eq(json_object_size(byprio), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(byprio, "3")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(byprio, "-2")), 1);
	assert_invariant(pa);
	json_decref(doc);

	metrics_append(&fx, &b, 0);
	buf_append(&b, "", 1);
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_jobs_delayed{pool=\"a\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_groups_with_work{pool=\"a\"} 2\n"));
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_queue_depth_by_priority{pool=\"a\",priority=\"-2\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_jobs_throttled{pool=\"a\"} 0\n"));
	buf_free(&b);
}
END_TEST

/* Every sample's family is declared (HELP, TYPE) once, before it. */
START_TEST(test_metrics_follow_the_exposition_format)
{
	struct buf	 b = BUF_INIT;
	regex_t		 help, type, sample;
	char		*text, *line, *save = NULL, *seen, family[128], key[132];
	const char	*err = NULL;
	size_t		 nsamples = 0;

	ck_assert_ptr_nonnull(dispatch_submit(fx.pools[1], "{\"args\":[]}", 11,
	    NULL, NULL, NULL, &err));
	metrics_append(&fx, &b, 3);
	buf_append(&b, "", 1);
	text = strdup(buf_head(&b));
	seen = calloc(1, buf_used(&b) + 2);
	seen[0] = '\n';
	ck_assert_int_eq(regcomp(&help, "^# HELP (mpsup_[a-z_]+) [^ ].*$",
	    REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&type, "^# TYPE (mpsup_[a-z_]+) "
	    "(counter|gauge|histogram)$", REG_EXTENDED), 0);
	ck_assert_int_eq(regcomp(&sample, "^(mpsup_[a-z_]+)(\\{[a-z_]+=\""
	    "[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? -?[0-9.e+]+$", REG_EXTENDED), 0);
	family[0] = '\0';
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		regmatch_t m[2];

		if (regexec(&help, line, 2, m, 0) == 0) {
			snprintf(family, sizeof family, "%.*s",
			    (int)(m[1].rm_eo - m[1].rm_so), line + m[1].rm_so);
			/* Declared once: not already in the list of families. */
			snprintf(key, sizeof key, "\n%s\n", family);
			ck_assert_msg(strstr(seen, key) == NULL,
			    "family %s declared twice", family);
			strcat(seen, key + 1);
			continue;
		}
		if (regexec(&type, line, 2, m, 0) == 0) {
			ck_assert_int_eq(strncmp(line + m[1].rm_so, family,
			    strlen(family)), 0);
			continue;
		}
		ck_assert_msg(regexec(&sample, line, 2, m, 0) == 0,
		    "not a sample line: %s", line);
		ck_assert_msg(family[0] != '\0' && strncmp(line, family,
		    strlen(family)) == 0, "%s outside its family %s", line,
		    family);
		nsamples++;
	}
	ck_assert_uint_gt(nsamples, 20);
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_queue_depth{pool=\"b\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_http_connections 3\n"));
	ck_assert_ptr_nonnull(strstr(buf_head(&b),
	    "mpsup_workers{pool=\"a\",state=\"dead\"} 2\n"));
	regfree(&help);
	regfree(&type);
	regfree(&sample);
	free(seen);
	free(text);
	buf_free(&b);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("status");
	TCase	*tc = tcase_create("status");
	SRunner	*sr;
	int	 failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_status_lists_every_pool_with_its_workers);
	tcase_add_test(tc, test_status_filter_keeps_one_pool);
	tcase_add_test(tc, test_status_counts_hold_the_invariant);
	tcase_add_test(tc, test_metrics_follow_the_exposition_format);
	tcase_add_test(tc, test_status_and_metrics_show_flow_control);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
