/*
 * Unit tests for supervisor/remote/request_decode.c: every op of the op
 * table decodes from JSON text and from a pickle into the typed request
 * the executor reads, and every error code the decoder has is produced,
 * with its message, by the malformed input that should produce it.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "supervisor/joblist.h"
#include "supervisor/remote/request_decode.h"

#define MAX_MESSAGE	(1 << 20)

/* The op names, straight from the table. */
#define OP_NAME(tag, name, role, flags, decode, exec)	name,
static const char *const	op_names[] = { REQUEST_OP_TABLE(OP_NAME) };
#undef OP_NAME
#define NOPS	(sizeof op_names / sizeof op_names[0])

static int
decode(const char *json, struct request *req)
{
	return request_decode(json, strlen(json), MAX_MESSAGE, req);
}

/* The pickle of the JSON value json, as pickle_from_json() writes it. */
static void
pickled(const char *json, struct buf *out)
{
	char	err[256];

	ck_assert_msg(pickle_from_json(json, strlen(json), out, err,
	    sizeof err) == 0, "bad test input %s: %s", json, err);
}

/* The text of a span, for comparing. */
static char *
span_text(const struct jsontext_span *v)
{
	return strndup(v->p, v->len);
}

/* Decode json, expecting an error with this code and message. */
static void
expect_error(const char *json, enum request_error error, const char *msg)
{
	struct request	req;

	ck_assert_msg(decode(json, &req) == -1, "%s accepted", json);
	ck_assert_msg(req.error == error, "%s: error %d, not %d (%s)", json,
	    req.error, error, req.message);
	ck_assert_str_eq(req.message, msg);
	request_free(&req);
}

/* The same for a pickle of the same value: same code, same message. */
static void
expect_error_both(const char *json, enum request_error error,
    const char *msg)
{
	struct request	req;
	struct buf	pk = BUF_INIT;

	expect_error(json, error, msg);
	pickled(json, &pk);
	ck_assert(request_decode(buf_head(&pk), buf_used(&pk), MAX_MESSAGE,
	    &req) == -1);
	ck_assert(req.pickled && req.error == error);
	ck_assert_str_eq(req.message, msg);
	request_free(&req);
	buf_free(&pk);
}

/* Decode json, which must be accepted as op. */
static void
expect_op(const char *json, const char *op, struct request *req)
{
	ck_assert_msg(decode(json, req) == 0, "%s refused: %s", json,
	    req->message);
	ck_assert(req->op != NULL && req->error == REQUEST_OK);
	ck_assert_str_eq(req->op->name, op);
	ck_assert(req->message == NULL && !req->pickled);
}

/* One valid request per op; test_every_op_has_an_example checks that. */
static const struct {
	const char	*op;
	const char	*json;
} examples[] = {
	{ "submit", "{\"op\":\"submit\",\"pool\":\"p\",\"data\":[1,2],"
	    "\"key\":\"k\",\"wait\":true,\"timeout\":2.5}" },
	{ "submit_many", "{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":"
	    "[{\"data\":1},{\"args\":[\"ls\"],\"key\":\"b\"}],\"timeout\":0}" },
	{ "result", "{\"op\":\"result\",\"id\":\"0123456789abcdef\","
	    "\"wait\":true}" },
	{ "cancel", "{\"op\":\"cancel\",\"id\":\"0123456789abcdef\"}" },
	{ "status", "{\"op\":\"status\",\"pool\":\"p\"}" },
	{ "stop", "{\"op\":\"stop\"}" },
	{ "pause", "{\"op\":\"pause\",\"pool\":\"p\"}" },
	{ "resume", "{\"op\":\"resume\",\"pool\":\"p\"}" },
	{ "reload", "{\"op\":\"reload\"}" },
	{ "scale", "{\"op\":\"scale\",\"pool\":\"p\",\"workers\":3}" },
	{ "jobs", "{\"op\":\"jobs\",\"pool\":\"p\",\"state\":\"failed,"
	    "timed_out\",\"since\":600,\"limit\":20}" },
	{ "logs", "{\"op\":\"logs\",\"pool\":\"p\",\"job\":"
	    "\"0123456789abcdef\",\"limit\":0,\"follow\":true}" },
	{ "restart", "{\"op\":\"restart\",\"pool\":\"p\"}" },
	{ "signal", "{\"op\":\"signal\",\"pool\":\"p\",\"signal\":\"HUP\"}" },
	{ "down", "{\"op\":\"down\",\"pool\":\"p\"}" },
	{ "up", "{\"op\":\"up\",\"pool\":\"p\"}" },
	{ "dead", "{\"op\":\"dead\",\"pool\":\"p\"}" },
	{ "retry", "{\"op\":\"retry\",\"ids\":[\"0123456789abcdef\"]}" },
};
#define NEXAMPLES	(sizeof examples / sizeof examples[0])

START_TEST(test_every_op_has_an_example)
{
	size_t	i, j;

	ck_assert_int_eq(NOPS, REQUEST_NOPS);
	for (i = 0; i < NOPS; i++) {
		for (j = 0; j < NEXAMPLES; j++)
			if (strcmp(examples[j].op, op_names[i]) == 0)
				break;
		ck_assert_msg(j < NEXAMPLES, "op %s has no example",
		    op_names[i]);
	}
}
END_TEST

/* Every op decodes as itself, from JSON text and from a pickle. */
START_TEST(test_every_op_decodes_from_json_and_pickle)
{
	const struct request_op	*op;
	struct request		 req, twin;
	struct buf		 pk = BUF_INIT;

	op = request_op_find(examples[_i].op);
	ck_assert(op != NULL && (size_t)op->id < REQUEST_NOPS);
	ck_assert_str_eq(op->name, examples[_i].op);
	expect_op(examples[_i].json, examples[_i].op, &req);
	ck_assert(req.op == op);

	pickled(examples[_i].json, &pk);
	ck_assert(request_decode(buf_head(&pk), buf_used(&pk), MAX_MESSAGE,
	    &twin) == 0);
	ck_assert(twin.pickled && twin.op == op);
	ck_assert(twin.has_pool == req.has_pool && twin.wait == req.wait &&
	    twin.timeout == req.timeout && twin.workers == req.workers &&
	    twin.njobs == req.njobs);
	ck_assert((twin.pool == NULL) == (req.pool == NULL));
	if (req.pool != NULL)
		ck_assert_str_eq(twin.pool, req.pool);
	request_free(&twin);
	request_free(&req);
	buf_free(&pk);
}
END_TEST

/* A pickle as Python 3's pickle.dumps({"op": "status"}) writes it. */
START_TEST(test_python_pickle_decodes)
{
	static const unsigned char	 pk[] = "\x80\x04\x95\x12\x00\x00\x00"
	    "\x00\x00\x00\x00}\x94\x8c\x02op\x94\x8c\x06status\x94s.";
	struct request			 req;

	ck_assert(request_decode(pk, sizeof pk - 1, MAX_MESSAGE, &req) == 0);
	ck_assert(req.pickled && req.op == request_op_find("status"));
	ck_assert(!req.has_pool && req.pool == NULL);
	request_free(&req);
}
END_TEST

START_TEST(test_op_table_rows)
{
	const struct request_op	*op;
	size_t			 i;

	for (i = 0; i < NOPS; i++) {
		op = request_op_find(op_names[i]);
		ck_assert(op != NULL && op->id == (enum request_op_id)i);
	}
	ck_assert(request_op_find("fly") == NULL);
	ck_assert(request_op_find("") == NULL);
	/* Roles and pool flags, as the executor enforces them. */
	ck_assert_int_eq(request_op_find("submit")->role, ROLE_SUBMIT);
	ck_assert_int_eq(request_op_find("status")->role, ROLE_MONITOR);
	ck_assert_int_eq(request_op_find("result")->role, ROLE_MONITOR);
	ck_assert_int_eq(request_op_find("cancel")->role, ROLE_SUBMIT);
	ck_assert_int_eq(request_op_find("submit_many")->role, ROLE_SUBMIT);
	ck_assert(request_op_find("submit")->flags & REQUEST_SUBMITS);
	ck_assert(request_op_find("submit_many")->flags & REQUEST_SUBMITS);
	ck_assert(!(request_op_find("scale")->flags & REQUEST_SUBMITS));
	ck_assert_int_eq(request_op_find("stop")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("pause")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("resume")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("reload")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("scale")->role, ROLE_ADMIN);
	ck_assert(request_op_find("submit")->flags & REQUEST_POOL);
	ck_assert(request_op_find("scale")->flags & REQUEST_POOL);
	ck_assert(!(request_op_find("status")->flags & REQUEST_POOL));
	ck_assert(!(request_op_find("reload")->flags & REQUEST_POOL));
	/* The operator ops: reading needs the lowest role, acting admin. */
	ck_assert_int_eq(request_op_find("jobs")->role, ROLE_MONITOR);
	ck_assert_int_eq(request_op_find("logs")->role, ROLE_MONITOR);
	ck_assert_int_eq(request_op_find("restart")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("signal")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("down")->role, ROLE_ADMIN);
	ck_assert_int_eq(request_op_find("up")->role, ROLE_ADMIN);
}
END_TEST

START_TEST(test_jobs_and_logs_fields)
{
	struct request	req;

	expect_op(examples[10].json, "jobs", &req);
	ck_assert(req.has_pool);
	ck_assert_str_eq(req.pool, "p");
	ck_assert_uint_eq(req.states, JOBLIST_STATE(JOB_FAILED) |
	    JOBLIST_STATE(JOB_TIMED_OUT));
	ck_assert(req.since == 600);
	ck_assert_uint_eq(req.limit, 20);
	request_free(&req);
	/* Every pool, state and time; the default limit. */
	expect_op("{\"op\":\"jobs\",\"pool\":null}", "jobs", &req);
	ck_assert(!req.has_pool && req.states == 0 && req.since < 0);
	ck_assert_uint_eq(req.limit, REQUEST_JOBS_LIMIT);
	request_free(&req);

	expect_op(examples[11].json, "logs", &req);
	ck_assert_str_eq(req.job, "0123456789abcdef");
	ck_assert(req.follow && req.limit == 0);
	request_free(&req);
	expect_op("{\"op\":\"logs\"}", "logs", &req);
	ck_assert(!req.follow && !req.has_pool && req.job == NULL);
	ck_assert_uint_eq(req.limit, REQUEST_LOGS_LIMIT);
	request_free(&req);

	expect_op(examples[13].json, "signal", &req);
	ck_assert_int_eq(req.signum, SIGHUP);
	request_free(&req);
	expect_op("{\"op\":\"signal\",\"pool\":\"p\",\"signal\":\"sigusr1\"}",
	    "signal", &req);
	ck_assert_int_eq(req.signum, SIGUSR1);
	request_free(&req);
	expect_op("{\"op\":\"signal\",\"pool\":\"p\",\"signal\":\"9\"}",
	    "signal", &req);
	ck_assert_int_eq(req.signum, 9);
	request_free(&req);
}
END_TEST

START_TEST(test_bad_jobs_logs_signal)
{
	expect_error_both("{\"op\":\"jobs\",\"state\":\"broken\"}",
	    REQUEST_BAD_REQUEST, "\"state\" 'broken': unknown state (queued, "
	    "running, done, failed, timed_out, cancelled)");
	expect_error_both("{\"op\":\"jobs\",\"state\":3}",
	    REQUEST_BAD_REQUEST, "\"state\" must be a string");
	expect_error_both("{\"op\":\"jobs\",\"pool\":3}",
	    REQUEST_BAD_REQUEST, "\"pool\" must be a string");
	expect_error_both("{\"op\":\"jobs\",\"since\":-1}",
	    REQUEST_BAD_REQUEST, "\"since\" must be a number of seconds");
	expect_error_both("{\"op\":\"jobs\",\"limit\":0}",
	    REQUEST_BAD_REQUEST, "\"limit\" must be a whole number from 1 "
	    "to 10000");
	expect_error_both("{\"op\":\"jobs\",\"limit\":1.5}",
	    REQUEST_BAD_REQUEST, "\"limit\" must be a whole number from 1 "
	    "to 10000");
	expect_error_both("{\"op\":\"logs\",\"limit\":4097}",
	    REQUEST_BAD_REQUEST, "\"limit\" must be a whole number from 0 "
	    "to 4096");
	expect_error_both("{\"op\":\"logs\",\"job\":\"\"}",
	    REQUEST_BAD_REQUEST, "\"job\" must be a job id");
	expect_error_both("{\"op\":\"logs\",\"job\":7}",
	    REQUEST_BAD_REQUEST, "\"job\" must be a job id");
	static const char	bad_signal[] = "\"signal\" must be a signal's "
	    "name (HUP INT QUIT KILL USR1 USR2 TERM CONT STOP ABRT ALRM WINCH) "
	    "or number (1 to 64)";

	expect_error_both("{\"op\":\"signal\",\"pool\":\"p\"}",
	    REQUEST_BAD_REQUEST, bad_signal);
	expect_error_both("{\"op\":\"signal\",\"pool\":\"p\",\"signal\":"
	    "\"SEGV\"}", REQUEST_BAD_REQUEST, bad_signal);
	expect_error_both("{\"op\":\"signal\",\"pool\":\"p\",\"signal\":"
	    "\"65\"}", REQUEST_BAD_REQUEST, bad_signal);
	expect_error_both("{\"op\":\"signal\",\"pool\":\"p\",\"signal\":"
	    "9}", REQUEST_BAD_REQUEST, bad_signal);
}
END_TEST

START_TEST(test_submit_fields)
{
	struct request	 req;
	char		*t, key[REQUEST_KEY_MAX + 1], json[512];

	expect_op(examples[0].json, "submit", &req);
	ck_assert(req.has_pool);
	ck_assert_str_eq(req.pool, "p");
	ck_assert(req.wait && req.timeout == 2.5);
	ck_assert_uint_eq(req.njobs, 1);
	/* The job's description is the request itself. */
	t = span_text(&req.jobs[0].desc);
	ck_assert_str_eq(t, examples[0].json);
	free(t);
	ck_assert_str_eq(req.jobs[0].key, "k");
	request_free(&req);

	/* No key, no wait unless true, null timeout: none. */
	expect_op("{\"op\":\"submit\",\"pool\":\"p\",\"key\":null,"
	    "\"wait\":1,\"timeout\":null}", "submit", &req);
	ck_assert(req.jobs[0].key == NULL && !req.wait && req.timeout == -1);
	request_free(&req);

	/* A key of 256 bytes is the longest. */
	memset(key, 'k', REQUEST_KEY_MAX);
	key[REQUEST_KEY_MAX] = '\0';
	snprintf(json, sizeof json, "{\"op\":\"submit\",\"pool\":\"p\","
	    "\"key\":\"%s\"}", key);
	expect_op(json, "submit", &req);
	ck_assert_str_eq(req.jobs[0].key, key);
	request_free(&req);
}
END_TEST

START_TEST(test_submit_many_fields)
{
	struct request	 req;
	char		*t;

	expect_op(examples[1].json, "submit_many", &req);
	ck_assert_str_eq(req.pool, "p");
	ck_assert(!req.wait && req.timeout == 0);
	ck_assert_uint_eq(req.njobs, 2);
	t = span_text(&req.jobs[0].desc);
	ck_assert_str_eq(t, "{\"data\":1}");
	free(t);
	t = span_text(&req.jobs[1].desc);
	ck_assert_str_eq(t, "{\"args\":[\"ls\"],\"key\":\"b\"}");
	free(t);
	ck_assert(req.jobs[0].key == NULL);
	ck_assert_str_eq(req.jobs[1].key, "b");
	request_free(&req);

	expect_op("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":[],"
	    "\"wait\":true}", "submit_many", &req);
	ck_assert(req.njobs == 0 && req.wait);
	request_free(&req);

	/*
	 * Each job's span is the object alone, found by the walk over its
	 * members: white space around, braces inside strings and nested
	 * objects, an empty object, the last one right before the "]".
	 */
	expect_op("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":[ \n"
	    "{\"data\":{\"a\":\"}],{\",\"b\":[{}]} , \"key\":\"k\" }\t,{} ,"
	    "{\"data\":\"x\\\"}\"}]}", "submit_many", &req);
	ck_assert_uint_eq(req.njobs, 3);
	t = span_text(&req.jobs[0].desc);
	ck_assert_str_eq(t, "{\"data\":{\"a\":\"}],{\",\"b\":[{}]} , "
	    "\"key\":\"k\" }");
	free(t);
	t = span_text(&req.jobs[0].data);
	ck_assert_str_eq(t, "{\"a\":\"}],{\",\"b\":[{}]}");
	free(t);
	ck_assert_str_eq(req.jobs[0].key, "k");
	t = span_text(&req.jobs[1].desc);
	ck_assert_str_eq(t, "{}");
	free(t);
	ck_assert_ptr_null(req.jobs[1].data.p);
	t = span_text(&req.jobs[2].desc);
	ck_assert_str_eq(t, "{\"data\":\"x\\\"}\"}");
	free(t);
	request_free(&req);

	/*
	 * {"data":VALUE} alone is taken without the walk; a second member,
	 * or white space, goes the walk: the same spans either way.
	 */
	expect_op("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":["
	    "{\"data\":[1,{\"a\":\"}\"}]},{\"data\":1,\"data\":2},"
	    "{\"data\": 3},{\"data\":4 },{\"data\":\"5\"}]}", "submit_many",
	    &req);
	ck_assert_uint_eq(req.njobs, 5);
	t = span_text(&req.jobs[0].data);
	ck_assert_str_eq(t, "[1,{\"a\":\"}\"}]");
	free(t);
	ck_assert_int_eq(req.jobs[0].data.type, JSONTEXT_ARRAY);
	t = span_text(&req.jobs[1].data);
	ck_assert_str_eq(t, "2");
	free(t);
	t = span_text(&req.jobs[1].desc);
	ck_assert_str_eq(t, "{\"data\":1,\"data\":2}");
	free(t);
	t = span_text(&req.jobs[2].data);
	ck_assert_str_eq(t, "3");
	free(t);
	t = span_text(&req.jobs[3].desc);
	ck_assert_str_eq(t, "{\"data\":4 }");
	free(t);
	t = span_text(&req.jobs[4].data);
	ck_assert_str_eq(t, "\"5\"");
	free(t);
	ck_assert_int_eq(req.jobs[4].data.type, JSONTEXT_STRING);
	request_free(&req);
}
END_TEST

/*
 * The flow fields of a job, and of each job of a batch: read in the same
 * pass as "key" (member names spelled with escapes too, the last of a
 * name winning); absent or null means the default.
 */
START_TEST(test_submit_flow_fields)
{
	struct request	 req;

	expect_op("{\"op\":\"submit\",\"pool\":\"p\",\"data\":1,"
	    "\"priority\":-10,\"delay\":\"1.5m\",\"group\":\"t\\u00e9\","
	    "\"key\":\"k\"}", "submit", &req);
	ck_assert_int_eq(req.jobs[0].priority, -10);
	ck_assert(req.jobs[0].delay == 90 && req.jobs[0].not_before == 0);
	ck_assert_str_eq(req.jobs[0].group, "t\xc3\xa9");
	ck_assert_str_eq(req.jobs[0].key, "k");
	request_free(&req);

	expect_op("{\"op\":\"submit\",\"pool\":\"p\",\"\\u0070riority\":3,"
	    "\"priority\":4,\"not_before\":\"2026-12-06T09:30:00Z\","
	    "\"delay\":null,\"group\":null}", "submit", &req);
	ck_assert_int_eq(req.jobs[0].priority, 4);
	ck_assert(req.jobs[0].delay == -1);
	ck_assert(req.jobs[0].not_before == 1796549400.0);
	ck_assert_ptr_null(req.jobs[0].group);
	request_free(&req);

	expect_op("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":["
	    "{\"data\":1,\"delay\":2.5},{\"data\":2,\"priority\":10}]}",
	    "submit_many", &req);
	ck_assert(req.jobs[0].delay == 2.5 && req.jobs[0].priority == 0);
	ck_assert(req.jobs[1].delay == -1 && req.jobs[1].priority == 10);
	request_free(&req);

	expect_error_both("{\"op\":\"submit\",\"pool\":\"p\",\"priority\":"
	    "1e1}", REQUEST_BAD_REQUEST,
	    "\"priority\" must be an integer from -10 to 10");
	expect_error_both("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":["
	    "{\"data\":1},{\"group\":[]}]}", REQUEST_BAD_REQUEST,
	    "jobs[1]: \"group\" must be a string of 1 to 128 bytes");
	expect_error("{\"op\":\"submit\",\"pool\":\"p\",\"key\":5,"
	    "\"priority\":99}", REQUEST_BAD_REQUEST,
	    "\"key\" must be a string of 1 to 256 bytes");
}
END_TEST

/* The largest batch is accepted, one more job is too_large. */
START_TEST(test_submit_many_batch_limit)
{
	struct request	 req;
	struct buf	 b = BUF_INIT;
	size_t		 i;

	buf_append_str(&b, "{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":[");
	for (i = 0; i < REQUEST_MAX_BATCH; i++)
		buf_append_str(&b, i ? ",{}" : "{}");
	buf_append(&b, "]}", 3);
	expect_op(buf_head(&b), "submit_many", &req);
	ck_assert_uint_eq(req.njobs, REQUEST_MAX_BATCH);
	request_free(&req);

	/* The job past the limit is checked before the limit. */
	b.len -= 3;
	buf_append(&b, ",[]]}", 6);
	expect_error(buf_head(&b), REQUEST_BAD_REQUEST,
	    "jobs[100000]: not an object");

	b.len -= 6;
	buf_append(&b, ",{}]}", 6);
	ck_assert(decode(buf_head(&b), &req) == -1);
	ck_assert(req.error == REQUEST_TOO_LARGE);
	ck_assert_str_eq(req.message, "at most 100000 jobs per submit_many");
	ck_assert_str_eq(request_error_name(req.error), "too_large");
	/* All of them, for the executor to check against the pool first. */
	ck_assert(req.error_after_jobs);
	ck_assert_uint_eq(req.njobs, REQUEST_MAX_BATCH + 1);
	ck_assert(req.op == request_op_find("submit_many"));
	request_free(&req);
	buf_free(&b);
}
END_TEST

/*
 * The decoded jobs array is reused from one request to the next: a batch
 * decoded after a bigger one with keys and groups has its own jobs only,
 * none of the fields of the one before, and a request held while another
 * is decoded keeps its jobs.
 */
START_TEST(test_jobs_array_reused_carries_nothing_over)
{
	struct request	 req, held;
	struct buf	 b = BUF_INIT;
	size_t		 i;

	buf_append_str(&b, "{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":[");
	for (i = 0; i < 3000; i++)
		buf_appendf(&b, "%s{\"data\":%zu,\"key\":\"k%zu\",\"group\":\"g\","
		    "\"priority\":3}", i ? "," : "", i, i);
	buf_append(&b, "]}", 3);
	expect_op(buf_head(&b), "submit_many", &req);
	ck_assert_uint_eq(req.njobs, 3000);
	ck_assert_str_eq(req.jobs[2999].key, "k2999");
	request_free(&req);

	expect_op("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":["
	    "{\"data\":1},{\"data\":2,\"key\":\"x\"}]}", "submit_many", &held);
	expect_op("{\"op\":\"submit\",\"pool\":\"q\",\"data\":3}", "submit",
	    &req);
	ck_assert_uint_eq(held.njobs, 2);
	ck_assert(held.jobs[0].key == NULL && held.jobs[0].group == NULL);
	ck_assert(held.jobs[0].priority == 0 && held.jobs[0].delay == -1);
	ck_assert_str_eq(held.jobs[1].key, "x");
	ck_assert(held.jobs[1].group == NULL && held.jobs[1].priority == 0);
	ck_assert_uint_eq(req.njobs, 1);
	ck_assert(req.jobs[0].key == NULL && req.jobs[0].group == NULL);
	ck_assert(req.jobs != held.jobs);
	request_free(&held);
	request_free(&req);
	buf_free(&b);
}
END_TEST

START_TEST(test_result_cancel_status_scale_fields)
{
	struct request	 req;
	char		*t;

	expect_op(examples[2].json, "result", &req);
	/* The id as written, quotes included: looked up without decoding. */
	t = span_text(&req.id);
	ck_assert_str_eq(t, "\"0123456789abcdef\"");
	free(t);
	ck_assert(req.wait && req.timeout == -1 && req.njobs == 0);
	request_free(&req);

	expect_op("{\"op\":\"cancel\",\"id\":\"\\u0030\"}", "cancel", &req);
	t = span_text(&req.id);
	ck_assert_str_eq(t, "\"\\u0030\"");
	free(t);
	request_free(&req);

	expect_op(examples[4].json, "status", &req);
	ck_assert(req.has_pool);
	ck_assert_str_eq(req.pool, "p");
	request_free(&req);
	/* status ignores a "pool" that is not a string. */
	expect_op("{\"op\":\"status\",\"pool\":5}", "status", &req);
	ck_assert(!req.has_pool && req.pool == NULL);
	request_free(&req);
	/* A name with a NUL in it: given, but no name can match it. */
	expect_op("{\"op\":\"status\",\"pool\":\"a\\u0000b\"}", "status", &req);
	ck_assert(req.has_pool && req.pool == NULL);
	request_free(&req);

	expect_op(examples[9].json, "scale", &req);
	ck_assert_int_eq(req.workers, 3);
	request_free(&req);
	expect_op("{\"op\":\"scale\",\"pool\":\"p\",\"workers\":1048576}",
	    "scale", &req);
	ck_assert_int_eq(req.workers, 1 << 20);
	request_free(&req);
	/* The op name is compared decoded. */
	expect_op("{\"op\":\"st\\u0061tus\"}", "status", &req);
	request_free(&req);
}
END_TEST

/* dead: "pool" optional; retry: "ids", or "pool" and "all": true. */
START_TEST(test_dead_and_retry)
{
	struct request	req;

	expect_op("{\"op\":\"dead\"}", "dead", &req);
	ck_assert(!req.has_pool);
	request_free(&req);
	expect_op("{\"op\":\"retry\",\"pool\":\"p\",\"all\":true}", "retry",
	    &req);
	ck_assert(req.all && req.has_pool);
	ck_assert_str_eq(req.pool, "p");
	request_free(&req);
	expect_op("{\"op\":\"retry\",\"ids\":[\"a\",\"b\"]}", "retry", &req);
	ck_assert(!req.all && req.ids.type == JSONTEXT_ARRAY);
	request_free(&req);
	expect_error_both("{\"op\":\"dead\",\"pool\":1}", REQUEST_BAD_REQUEST,
	    "\"pool\" (a string) is missing");
	expect_error_both("{\"op\":\"retry\"}", REQUEST_BAD_REQUEST,
	    "\"ids\" (a list of job ids) is missing; or give \"pool\" and "
	    "\"all\": true");
	expect_error_both("{\"op\":\"retry\",\"ids\":[]}", REQUEST_BAD_REQUEST,
	    "\"ids\" is empty");
	expect_error_both("{\"op\":\"retry\",\"ids\":[\"a\",2]}",
	    REQUEST_BAD_REQUEST, "\"ids\" must hold job ids (strings)");
	expect_error_both("{\"op\":\"retry\",\"all\":true}",
	    REQUEST_BAD_REQUEST, "\"pool\" (a string) is missing");
	expect_error_both("{\"op\":\"retry\",\"pool\":\"p\",\"all\":1}",
	    REQUEST_BAD_REQUEST, "give \"ids\", or \"pool\" and \"all\": true");
	expect_error_both("{\"op\":\"retry\",\"pool\":\"p\",\"all\":true,"
	    "\"ids\":[\"a\"]}", REQUEST_BAD_REQUEST,
	    "give \"ids\", or \"pool\" and \"all\": true");
}
END_TEST

START_TEST(test_not_a_request)
{
	static const char	 msg[] = "a request is a dict (pickle) or a "
	    "JSON object, such as {\"op\": \"status\"}";
	struct request		 req;

	expect_error("", REQUEST_BAD_REQUEST, msg);
	expect_error("x", REQUEST_BAD_REQUEST, msg);
	expect_error("{", REQUEST_BAD_REQUEST, msg);
	expect_error("{\"op\":\"status\"} x", REQUEST_BAD_REQUEST, msg);
	expect_error_both("[{\"op\":\"status\"}]", REQUEST_BAD_REQUEST, msg);
	expect_error_both("\"status\"", REQUEST_BAD_REQUEST, msg);
	ck_assert(decode("7", &req) == -1 && req.op == NULL);
	request_free(&req);
}
END_TEST

START_TEST(test_bad_pickle)
{
	static const unsigned char	 bad[] = "\x80\x04garbage";
	struct request			 req;
	struct buf			 pk = BUF_INIT;

	ck_assert(request_decode(bad, sizeof bad - 1, MAX_MESSAGE, &req) ==
	    -1);
	ck_assert(req.pickled && req.error == REQUEST_BAD_REQUEST &&
	    req.op == NULL);
	ck_assert_msg(strncmp(req.message, "pickle refused: ", 16) == 0,
	    "%s", req.message);
	request_free(&req);

	/* Its JSON text must fit max_message. */
	pickled("{\"op\":\"status\",\"pool\":\"a long pool name\"}", &pk);
	ck_assert(request_decode(buf_head(&pk), buf_used(&pk), 16, &req) ==
	    -1);
	ck_assert(req.error == REQUEST_BAD_REQUEST);
	ck_assert_msg(strncmp(req.message, "pickle refused: ", 16) == 0,
	    "%s", req.message);
	request_free(&req);
	buf_free(&pk);
}
END_TEST

START_TEST(test_op_missing_or_unknown)
{
	struct request	req;

	expect_error_both("{}", REQUEST_BAD_REQUEST,
	    "\"op\" (a string) is missing");
	expect_error_both("{\"op\":1}", REQUEST_BAD_REQUEST,
	    "\"op\" (a string) is missing");
	expect_error_both("{\"op\":null,\"pool\":\"p\"}", REQUEST_BAD_REQUEST,
	    "\"op\" (a string) is missing");
	expect_error_both("{\"op\":\"fly\"}", REQUEST_UNKNOWN_OP,
	    "unknown op 'fly'");
	expect_error_both("{\"op\":\"Status\"}", REQUEST_UNKNOWN_OP,
	    "unknown op 'Status'");
	expect_error("{\"op\":\"fly\\u0000\"}", REQUEST_UNKNOWN_OP,
	    "unknown op '?'");
	ck_assert(decode("{\"op\":\"fly\"}", &req) == -1 && req.op == NULL);
	ck_assert_str_eq(request_error_name(req.error), "unknown_op");
	request_free(&req);
}
END_TEST

START_TEST(test_pool_missing)
{
	static const char *const	 ops[] = { "submit", "submit_many",
	    "pause", "resume", "scale", "restart", "signal", "down", "up" };
	char				 json[128];
	struct request			 req;
	size_t				 i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		snprintf(json, sizeof json, "{\"op\":\"%s\"}", ops[i]);
		expect_error_both(json, REQUEST_BAD_REQUEST,
		    "\"pool\" (a string) is missing");
		snprintf(json, sizeof json, "{\"op\":\"%s\",\"pool\":[\"p\"],"
		    "\"timeout\":\"x\",\"workers\":\"x\"}", ops[i]);
		expect_error_both(json, REQUEST_BAD_REQUEST,
		    "\"pool\" (a string) is missing");
		/* The op is known, for the executor's role check. */
		ck_assert(decode(json, &req) == -1);
		ck_assert(req.op == request_op_find(ops[i]) && !req.has_pool);
		request_free(&req);
	}
}
END_TEST

START_TEST(test_bad_timeout)
{
	static const char *const	 bad[] = { "\"1\"", "-1", "-0.5",
	    "true", "[1]", "{}", "1e999", "-1e999" };
	static const char		 msg[] = "\"timeout\" must be a number "
	    "of seconds";
	char				 json[128];
	size_t				 i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"op\":\"submit\",\"pool\":\"p\","
		    "\"data\":1,\"timeout\":%s}", bad[i]);
		expect_error(json, REQUEST_BAD_REQUEST, msg);
		snprintf(json, sizeof json, "{\"op\":\"submit_many\",\"pool\":"
		    "\"p\",\"jobs\":[],\"timeout\":%s}", bad[i]);
		expect_error(json, REQUEST_BAD_REQUEST, msg);
		/* result looks at the timeout before the id. */
		snprintf(json, sizeof json, "{\"op\":\"result\",\"timeout\":%s}",
		    bad[i]);
		expect_error(json, REQUEST_BAD_REQUEST, msg);
	}
	/* Past the pool: the executor reports an unknown pool first. */
	expect_error_both("{\"op\":\"submit\",\"pool\":\"nope\",\"timeout\":"
	    "\"x\"}", REQUEST_BAD_REQUEST, msg);
}
END_TEST

START_TEST(test_bad_key)
{
	char				 long_key[REQUEST_KEY_MAX + 4];
	const char			*bad[] = { "\"\"", "5", "true", "[]",
	    "\"a\\u0000b\"", long_key };
	char				 json[512];
	char				 msg[128];
	size_t				 i;

	/* One byte too long, quoted. */
	memset(long_key, 'k', sizeof long_key);
	long_key[0] = long_key[REQUEST_KEY_MAX + 2] = '"';
	long_key[REQUEST_KEY_MAX + 3] = '\0';

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"op\":\"submit\",\"pool\":\"p\","
		    "\"data\":1,\"key\":%s}", bad[i]);
		expect_error(json, REQUEST_BAD_REQUEST,
		    "\"key\" must be a string of 1 to 256 bytes");
		snprintf(json, sizeof json, "{\"op\":\"submit_many\",\"pool\":"
		    "\"p\",\"jobs\":[{\"data\":1},{\"key\":\"ok\"},{\"key\":%s},"
		    "7]}", bad[i]);
		snprintf(msg, sizeof msg, "jobs[2]: \"key\" must be a string of "
		    "1 to 256 bytes");
		expect_error(json, REQUEST_BAD_REQUEST, msg);
	}
}
END_TEST

START_TEST(test_bad_jobs)
{
	struct request	req;

	expect_error_both("{\"op\":\"submit_many\",\"pool\":\"p\"}",
	    REQUEST_BAD_REQUEST, "\"jobs\" (a list) is missing");
	expect_error_both("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":"
	    "{\"data\":1}}", REQUEST_BAD_REQUEST,
	    "\"jobs\" (a list) is missing");
	expect_error_both("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":"
	    "[1]}", REQUEST_BAD_REQUEST, "jobs[0]: not an object");
	expect_error_both("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":"
	    "[{},{},null]}", REQUEST_BAD_REQUEST, "jobs[2]: not an object");

	/* The jobs before the wrong one are kept, for the executor. */
	ck_assert(decode("{\"op\":\"submit_many\",\"pool\":\"p\",\"jobs\":"
	    "[{\"key\":\"a\"},{\"data\":2},\"x\",{}]}", &req) == -1);
	ck_assert(req.error_after_jobs && req.njobs == 2);
	ck_assert_str_eq(req.jobs[0].key, "a");
	ck_assert(req.has_pool);
	request_free(&req);
	/* A malformed member before the jobs is not about a job. */
	ck_assert(decode("{\"op\":\"submit_many\",\"pool\":\"p\",\"timeout\":"
	    "\"x\",\"jobs\":[{}]}", &req) == -1);
	ck_assert(!req.error_after_jobs && req.njobs == 0);
	request_free(&req);
}
END_TEST

START_TEST(test_bad_id)
{
	static const char *const	 ops[] = { "result", "cancel" };
	char				 json[128];
	size_t				 i;

	for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		snprintf(json, sizeof json, "{\"op\":\"%s\"}", ops[i]);
		expect_error_both(json, REQUEST_BAD_REQUEST,
		    "\"id\" (a string) is missing");
		snprintf(json, sizeof json, "{\"op\":\"%s\",\"id\":5}", ops[i]);
		expect_error_both(json, REQUEST_BAD_REQUEST,
		    "\"id\" (a string) is missing");
	}
	/* cancel has no timeout to look at. */
	expect_error("{\"op\":\"cancel\",\"timeout\":\"x\"}",
	    REQUEST_BAD_REQUEST, "\"id\" (a string) is missing");
}
END_TEST

START_TEST(test_bad_workers)
{
	static const char *const	 bad[] = { "\"2\"", "1.5", "2.0", "1e1",
	    "-1", "1048577", "null", "99999999999999999999" };
	char				 json[128];
	size_t				 i;

	expect_error_both("{\"op\":\"scale\",\"pool\":\"p\"}",
	    REQUEST_BAD_REQUEST, "\"workers\" (a whole number) is missing");
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(json, sizeof json, "{\"op\":\"scale\",\"pool\":\"p\","
		    "\"workers\":%s}", bad[i]);
		expect_error(json, REQUEST_BAD_REQUEST,
		    "\"workers\" (a whole number) is missing");
	}
}
END_TEST

/*
 * An input that produces error e. The switch has no default: a new error
 * code that has no input here fails the build (-Wswitch).
 */
static void
input_for(enum request_error e, struct buf *b)
{
	size_t	i;

	switch (e) {
	case REQUEST_OK:
		buf_append_str(b, "{\"op\":\"status\"}");
		break;
	case REQUEST_BAD_REQUEST:
		buf_append_str(b, "{\"op\":\"submit\"}");
		break;
	case REQUEST_UNKNOWN_OP:
		buf_append_str(b, "{\"op\":\"fly\"}");
		break;
	case REQUEST_TOO_LARGE:
		buf_append_str(b, "{\"op\":\"submit_many\",\"pool\":\"p\","
		    "\"jobs\":[{}");
		for (i = 0; i < REQUEST_MAX_BATCH; i++)
			buf_append(b, ",{}", 3);
		buf_append_str(b, "]}");
		break;
	case REQUEST_NERRORS:
		break;
	}
}

START_TEST(test_every_error_is_produced)
{
	struct request	 req;
	struct buf	 b = BUF_INIT;
	int		 e, rv;

	ck_assert(request_error_name(REQUEST_OK) == NULL);
	for (e = REQUEST_OK; e < REQUEST_NERRORS; e++) {
		buf_reset(&b);
		input_for(e, &b);
		rv = request_decode(buf_head(&b), buf_used(&b), MAX_MESSAGE,
		    &req);
		ck_assert_msg(req.error == (enum request_error)e,
		    "error %d: got %d", e, req.error);
		ck_assert_int_eq(rv, e == REQUEST_OK ? 0 : -1);
		if (e != REQUEST_OK)
			ck_assert(request_error_name(e) != NULL &&
			    req.message != NULL);
		request_free(&req);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_error_reply_and_pickled_reply)
{
	struct buf	 b = BUF_INIT, back = BUF_INIT;
	char		 err[256];
	char		*text;

	buf_append_str(&b, "left over");
	request_error_reply(&b, "unknown_pool", "no pool named '\"\n'");
	buf_append(&b, "", 1);
	ck_assert_str_eq(buf_head(&b), "{\"ok\":false,\"error\":"
	    "\"unknown_pool\",\"message\":\"no pool named '\\\"\\n'\"}");
	b.len--;
	text = strndup(buf_head(&b), buf_used(&b));
	request_pickle_reply(&b);
	ck_assert((unsigned char)buf_head(&b)[0] == 0x80);
	ck_assert(pickle_to_json(buf_head(&b), buf_used(&b), 0, &back, err,
	    sizeof err) == 0);
	buf_append(&back, "", 1);
	ck_assert_str_eq(buf_head(&back), text);
	free(text);
	buf_free(&b);
	buf_free(&back);
}
END_TEST

static Suite *
request_suite(void)
{
	Suite	*s = suite_create("request");
	TCase	*tc = tcase_create("decode");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_op_has_an_example);
	tcase_add_test(tc, test_dead_and_retry);
	tcase_add_loop_test(tc, test_every_op_decodes_from_json_and_pickle, 0,
	    NEXAMPLES);
	tcase_add_test(tc, test_python_pickle_decodes);
	tcase_add_test(tc, test_op_table_rows);
	tcase_add_test(tc, test_submit_fields);
	tcase_add_test(tc, test_submit_many_fields);
	tcase_add_test(tc, test_submit_flow_fields);
	tcase_add_test(tc, test_submit_many_batch_limit);
	tcase_add_test(tc, test_jobs_array_reused_carries_nothing_over);
	tcase_add_test(tc, test_result_cancel_status_scale_fields);
	tcase_add_test(tc, test_not_a_request);
	tcase_add_test(tc, test_bad_pickle);
	tcase_add_test(tc, test_op_missing_or_unknown);
	tcase_add_test(tc, test_pool_missing);
	tcase_add_test(tc, test_bad_timeout);
	tcase_add_test(tc, test_bad_key);
	tcase_add_test(tc, test_bad_jobs);
	tcase_add_test(tc, test_bad_id);
	tcase_add_test(tc, test_bad_workers);
	tcase_add_test(tc, test_jobs_and_logs_fields);
	tcase_add_test(tc, test_bad_jobs_logs_signal);
	tcase_add_test(tc, test_every_error_is_produced);
	tcase_add_test(tc, test_error_reply_and_pickled_reply);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(request_suite());
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
