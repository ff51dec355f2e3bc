/*
 * Unit tests for cli/cmd_submit_reply.c, the one-pass reading of a batch
 * reply of `mpsup submit --stdin`: the usual replies are split into their
 * records with each one's state, and every text it accepts is one that
 * the general way (jsontext_valid, then the lookups and the iteration of
 * ipc/jsontext.c) reads the same; anything else is left to that way.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_submit_reply.h"
#include "common/jsonscan.h"
#include "ipc/jsontext.h"

/*
 * What the general way makes of text: 1 with the same elements and
 * states in *items when it is a valid object with "ok" true and list an
 * array, else 0.
 */
static int
general(struct submit_items *items, const char *text, const char *list,
    int records)
{
	struct jsontext_span	obj, ok, arr, v, state;
	size_t			it = 0, len = strlen(text);

	items->n = 0;
	if (!jsontext_valid(text, len) ||
	    jsontext_scan(text, text + len, &obj) == NULL ||
	    obj.type != JSONTEXT_OBJECT ||
	    !jsontext_object_get(&obj, "ok", &ok) || ok.type != JSONTEXT_TRUE ||
	    !jsontext_object_get(&obj, list, &arr) ||
	    arr.type != JSONTEXT_ARRAY)
		return 0;
	while (jsontext_array_next(&arr, &it, &v))
		submit_items_add(items, v.p, v.len, records &&
		    v.type == JSONTEXT_OBJECT &&
		    jsontext_object_get(&v, "state", &state) &&
		    jsontext_string_eq(&state, "done"));
	return 1;
}

/*
 * Scan text; whenever the scan accepts it, the general way must read it
 * the same. Returns what the scan said.
 */
static int
scan_checked(const char *text, const char *list, int records)
{
	struct submit_items	fast = { NULL, 0, 0 }, slow = { NULL, 0, 0 };
	size_t			i;
	int			r;

	r = submit_reply_scan(&fast, text, strlen(text), list, records);
	if (r == 1) {
		ck_assert_msg(general(&slow, text, list, records) == 1,
		    "scan accepts what the general way refuses: %s", text);
		ck_assert_uint_eq(fast.n, slow.n);
		for (i = 0; i < fast.n; i++) {
			ck_assert_ptr_eq(fast.v[i].p, slow.v[i].p);
			ck_assert_uint_eq(fast.v[i].len, slow.v[i].len);
			ck_assert_int_eq(fast.v[i].done, slow.v[i].done);
		}
	}
	submit_items_free(&fast);
	submit_items_free(&slow);
	return r;
}

START_TEST(test_records)
{
	const char		*text = "{\"ok\":true,\"jobs\":["
	    "{\"id\":\"a\",\"state\":\"done\",\"result\":{\"x\":[1,\"}\"]}},"
	    " {\"id\":\"b\",\"state\":\"failed\",\"error\":\"boom\"} ,"
	    "{\"state\":\"done\",\"state\":\"cancelled\"},"
	    "{\"state\":\"failed\",\"state\":\"done\"},{},7]}";
	struct submit_items	 items = { NULL, 0, 0 };

	ck_assert_int_eq(scan_checked(text, "jobs", 1), 1);
	ck_assert_int_eq(submit_reply_scan(&items, text, strlen(text), "jobs",
	    1), 1);
	ck_assert_uint_eq(items.n, 6);
	ck_assert_int_eq(items.v[0].done, 1);
	ck_assert_int_eq(strncmp(items.v[0].p, "{\"id\":\"a\"", 9), 0);
	ck_assert_int_eq(items.v[0].p[items.v[0].len - 1], '}');
	ck_assert_int_eq(items.v[1].done, 0);	/* failed */
	ck_assert_int_eq(items.v[2].done, 0);	/* the last state wins */
	ck_assert_int_eq(items.v[3].done, 1);
	ck_assert_int_eq(items.v[4].done, 0);	/* no state */
	ck_assert_uint_eq(items.v[5].len, 1);	/* not a record */
	ck_assert_int_eq(items.v[5].done, 0);
	submit_items_free(&items);
}
END_TEST

/*
 * Records as the supervisor writes them (store/job_record.c), whose keys
 * are taken at a glance in that order: split and read as the general way
 * reads them, and with any key out of order, a key that only starts like
 * the expected one, or a bad value, still read (or refused) alike.
 */
START_TEST(test_records_in_the_supervisors_order)
{
	static const char *const texts[] = {
		"{\"ok\":true,\"ids\":[\"0001\"],\"jobs\":[{\"id\":\"0001\","
		"\"pool\":\"echo\",\"client\":\"default\",\"state\":\"done\","
		"\"attempts\":1,\"submitted_at\":\"2026-12-06T14:35:29.672Z\","
		"\"started_at\":\"2026-12-06T14:35:29.672Z\",\"finished_at\":"
		"\"2026-12-06T14:35:29.676Z\",\"duration_ms\":4.122,\"worker\":0,"
		"\"result\":[1,{\"a\":\"]\"}],\"error\":null},"
		"{\"id\":\"0002\",\"pool\":\"echo\",\"client\":null,\"state\":"
		"\"failed\",\"attempts\":2,\"priority\":-1,\"result\":null,"
		"\"error\":\"boom \\\"x\\\"\",\"key\":\"k\",\"state\":\"done\"}]}",
		"{\"ok\":true,\"jobs\":[{\"pool\":\"p\",\"id\":\"1\",\"state\":"
		"\"done\"},{\"id2\":1,\"idx\":2,\"state\":\"done\"}]}",
		"{\"ok\":true,\"jobs\":[{\"id\":\"1\",\"pool\":\"a\\qb\"}]}",
		"{\"ok\":true,\"jobs\":[{\"id\":\"1\",\"pool\":\"a\x01\"}]}",
		"{\"ok\":true,\"jobs\":[{\"id\":\"1\",\"pool\"}]}",
		"{\"ok\":true,\"jobs\":[{\"id\":\"1\",\"pool",
		"{\"ok\":true,\"jobs\":[{\"id\":\"1\",\"state\":\"d\\u006fne\"}]}",
	};
	static const int	 want[] = { 1, 1, 0, 0, 0, 0, 0 };
	struct submit_items	 items = { NULL, 0, 0 };
	size_t			 i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		ck_assert_msg(scan_checked(texts[i], "jobs", 1) == want[i],
		    "text %zu", i);
	ck_assert_int_eq(submit_reply_scan(&items, texts[0],
	    strlen(texts[0]), "jobs", 1), 1);
	ck_assert_uint_eq(items.n, 2);
	ck_assert_int_eq(items.v[0].done, 1);
	ck_assert_int_eq(items.v[1].done, 1);	/* the last state wins */
	ck_assert_int_eq(items.v[0].p[items.v[0].len - 1], '}');
	submit_items_free(&items);
}
END_TEST

START_TEST(test_ids)
{
	struct submit_items	 items = { NULL, 0, 0 };
	const char		*text = "{ \"ids\" : [\"01\", \"0\\u0032\"] ,"
	    "\"ok\":true }\n";

	ck_assert_int_eq(scan_checked(text, "ids", 0), 1);
	ck_assert_int_eq(submit_reply_scan(&items, text, strlen(text), "ids",
	    0), 1);
	ck_assert_uint_eq(items.n, 2);
	ck_assert_uint_eq(items.v[1].len, strlen("\"0\\u0032\""));
	submit_items_free(&items);
	ck_assert_int_eq(scan_checked("{\"ok\":true,\"ids\":[]}", "ids", 0), 1);
	/* The last list of the name wins. */
	ck_assert_int_eq(scan_checked("{\"ok\":true,\"ids\":[\"1\",\"2\"],"
	    "\"ids\":[\"3\"]}", "ids", 0), 1);
	ck_assert_int_eq(scan_checked("{\"ok\":true,\"ids\":[\"1\"],"
	    "\"ids\":3}", "ids", 0), 0);
}
END_TEST

/* Texts left to the general way: refused or unusual. */
START_TEST(test_left_to_general)
{
	static const char	*texts[] = {
		"{\"ok\":false,\"error\":\"queue_full\",\"jobs\":[]}",
		"{\"ok\":1,\"jobs\":[]}",
		"{\"jobs\":[]}",
		"{\"ok\":true}",
		"{\"ok\":true,\"jobs\":{}}",
		"{\"ok\":true,\"jobs\":[],}",
		"{\"ok\":true,\"jobs\":[1,]}",
		"{\"ok\":true,\"jobs\":[{\"state\":\"done\",}]}",
		"{\"ok\":true,\"jobs\":[{\"state\" \"done\"}]}",
		"{\"ok\":true,\"jobs\":[]} x",
		"{\"ok\":true,\"jobs\":[]",
		"{\"ok\":true,\"jobs\":[{\"a\":tru}]}",
		"{\"ok\":true,\"jobs\":[\"\xff\"]}",
		"{\"ok\":true,\"jobs\":[{\"st\\u0061te\":\"done\"}]}",
		"{\"ok\":true,\"jobs\":[{\"state\":\"d\\u006fne\"}]}",
		"{\"o\\u006b\":true,\"jobs\":[]}",
		"[\"ok\",true]",
		"",
		"{}",
	};
	size_t	i;

	for (i = 0; i < sizeof texts / sizeof texts[0]; i++)
		ck_assert_msg(scan_checked(texts[i], "jobs", 1) == 0,
		    "scan accepted %s", texts[i]);
}
END_TEST

/* Nesting: the reply as a whole may be JSONSCAN_MAX_DEPTH deep, no more. */
START_TEST(test_depth)
{
	char	text[1024];
	int	inner, n, i;

	for (inner = JSONSCAN_MAX_DEPTH - 4; inner <= JSONSCAN_MAX_DEPTH - 2;
	    inner++) {
		/* {"ok":true,"jobs":[{"state":"done","r":[[...]]}]} */
		n = snprintf(text, sizeof text, "{\"ok\":true,\"jobs\":[{"
		    "\"state\":\"done\",\"r\":");
		for (i = 0; i < inner; i++)
			text[n++] = '[';
		for (i = 0; i < inner; i++)
			text[n++] = ']';
		n += snprintf(text + n, sizeof text - n, "}]}");
		ck_assert_int_eq(scan_checked(text, "jobs", 1),
		    3 + inner <= JSONSCAN_MAX_DEPTH);
		ck_assert_int_eq(jsontext_valid(text, (size_t)n),
		    3 + inner <= JSONSCAN_MAX_DEPTH);
		/* The same depth as an element of an id list. */
		n = snprintf(text, sizeof text, "{\"ok\":true,\"ids\":[");
		for (i = 0; i < inner + 1; i++)
			text[n++] = '[';
		for (i = 0; i < inner + 1; i++)
			text[n++] = ']';
		n += snprintf(text + n, sizeof text - n, "]}");
		ck_assert_int_eq(scan_checked(text, "ids", 0),
		    3 + inner <= JSONSCAN_MAX_DEPTH);
	}
}
END_TEST

static Suite *
submit_reply_suite(void)
{
	Suite	*s = suite_create("submit_reply");
	TCase	*tc = tcase_create("scan");

	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_records_in_the_supervisors_order);
	tcase_add_test(tc, test_ids);
	tcase_add_test(tc, test_left_to_general);
	tcase_add_test(tc, test_depth);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(submit_reply_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
