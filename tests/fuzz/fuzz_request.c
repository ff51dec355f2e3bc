/*
 * libFuzzer harness for the way a client's request is taken apart before
 * it reaches a pool. The handlers in supervisor/request.c need a running
 * supervisor, so this does what request_handle() and its ops do to the
 * bytes (keep the two in step): a pickle becomes JSON text first; the
 * text must be one JSON object; "op", "pool", "id", "timeout", "wait",
 * "workers" and "jobs" are looked up, compared, decoded and converted with
 * ipc/jsontext; each job description goes through jobspec_build(), the
 * real one, for both kinds of pool. Every request does all of it,
 * whatever its op, to reach the most code.
 *
 * Beyond not crashing: job data must come out as one line of valid JSON,
 * as it is put on a worker's pipe, and an exec job's line must be one the
 * exec worker can answer; replies quoting the client's strings must be
 * valid JSON that request_pickle_reply() can pickle for a pickle client.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "ipc/jobspec.h"
#include "supervisor/remote/request_decode.h"
#include "worker/exec/exec_job.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

#define FUZZ_MAX_MESSAGE	(1 << 20)
#define FUZZ_JOB_ID		"0123456789abcdef"

static const char *const ops[] = { "submit", "submit_many", "result",
    "cancel", "status", "stop", "pause", "resume", "reload", "scale" };
static const char *const pools[] = { "shell", "double", "" };

static void	check_reply(const char *, ...)
		    __attribute__((format(printf, 1, 2)));

/* An error reply as reply_error() writes it must be valid and picklable. */
static void
check_reply(const char *fmt, ...)
{
	struct buf	 b = BUF_INIT;
	va_list		 ap;
	char		*msg;
	int		 n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	CHECK(n >= 0);
	buf_append_str(&b, "{\"ok\":false,\"error\":\"bad_request\","
	    "\"message\":");
	jsontext_string_append(&b, msg, strlen(msg));
	buf_append(&b, "}", 1);
	CHECK(jsontext_valid(buf_head(&b), buf_used(&b)));
	request_pickle_reply(&b);
	CHECK(buf_used(&b) > 2 && (unsigned char)buf_head(&b)[0] == 0x80);
	buf_free(&b);
	free(msg);
}

/* A client's string decoded for a message, as request.c does. */
static char *
quoted(const struct jsontext_span *v)
{
	char	*s;

	if ((s = jsontext_string_decode(v, NULL)) == NULL)
		s = strdup("?");
	CHECK(s != NULL);
	return s;
}

/* A job's data as a worker gets it: one line of valid JSON. */
static void
check_job_data(enum pool_type type, const char *p, size_t len)
{
	struct buf		 line = BUF_INIT;
	struct jsontext_span	 obj, data;
	struct exec_line	 el;

	CHECK(len > 0 && jsontext_valid(p, len));
	CHECK(memchr(p, '\n', len) == NULL && memchr(p, '\r', len) == NULL);

	/* dispatch_send()'s line, which must give the data back. */
	buf_append_str(&line, "{\"id\":\"" FUZZ_JOB_ID "\",\"data\":");
	buf_append(&line, p, len);
	buf_append(&line, "}", 1);
	CHECK(jsontext_scan(buf_head(&line), buf_head(&line) +
	    buf_used(&line), &obj) != NULL && obj.type == JSONTEXT_OBJECT);
	CHECK(jsontext_object_get(&obj, "data", &data) == 1);
	CHECK(data.len == len && memcmp(data.p, p, len) == 0);

	/* The exec worker may refuse a job, but must be able to say so. */
	if (type == POOL_TYPE_EXEC) {
		exec_line_parse(buf_head(&line), buf_used(&line), &el);
		CHECK(el.type == EXEC_LINE_JOB || (el.type == EXEC_LINE_ERROR &&
		    el.id != NULL && strcmp(el.id, FUZZ_JOB_ID) == 0));
		exec_line_clear(&el);
	}
	buf_free(&line);
}

/* One job description, for both kinds of pool. */
static void
check_jobspec(const struct jsontext_span *desc)
{
	static const enum pool_type	 types[] = { POOL_TYPE_EXEC,
	    POOL_TYPE_STREAM };
	struct buf			 out = BUF_INIT;
	const char			*err;
	size_t				 i;

	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		buf_reset(&out);
		/* Something before it, as in a batch: left alone on errors. */
		buf_append(&out, "[1]", 3);
		if ((err = jobspec_build(types[i], desc, &out)) != NULL) {
			CHECK(buf_used(&out) == 3);
			check_reply("jobs[0]: %s", err);
			continue;
		}
		check_job_data(types[i], buf_head(&out) + 3,
		    buf_used(&out) - 3);
	}
	buf_free(&out);
}

/* submit_many: every job checked, the data collected in one buffer. */
static void
check_batch(const struct jsontext_span *jobs)
{
	struct jsontext_span	 e;
	struct buf		 data = BUF_INIT;
	const char		*err;
	size_t			 st = 0, n = 0, i, from, ends[64];

	while (jsontext_array_next(jobs, &st, &e)) {
		check_jobspec(&e);
		if (e.type != JSONTEXT_OBJECT || n == 64)
			continue;
		if ((err = jobspec_build(POOL_TYPE_STREAM, &e, &data)) != NULL)
			continue;
		ends[n++] = buf_used(&data);
	}
	for (i = 0; i < n; i++) {
		from = i ? ends[i - 1] : 0;
		check_job_data(POOL_TYPE_STREAM, buf_head(&data) + from,
		    ends[i] - from);
	}
	buf_free(&data);
}

/* What request_dispatch() and the ops look at. */
static void
check_request(const char *p, size_t len)
{
	struct jsontext_span	 req, v;
	char			*s;
	double			 t;
	int64_t			 n;
	size_t			 i;

	if (jsontext_scan(p, p + len, &req) == NULL || !jsontext_valid(p, len) ||
	    req.type != JSONTEXT_OBJECT)
		return;
	if (jsontext_object_get(&req, "op", &v) && v.type == JSONTEXT_STRING) {
		for (i = 0; i < sizeof ops / sizeof ops[0]; i++)
			if (jsontext_string_eq(&v, ops[i]))
				break;
		if (i == sizeof ops / sizeof ops[0]) {
			s = quoted(&v);
			check_reply("unknown op '%s'", s);
			free(s);
		}
	}
	if (jsontext_object_get(&req, "pool", &v) && v.type == JSONTEXT_STRING) {
		for (i = 0; i < sizeof pools / sizeof pools[0]; i++)
			if (jsontext_string_eq(&v, pools[i]))
				break;
		s = quoted(&v);
		check_reply("no pool named '%s'", s);
		free(s);
	}
	if (jsontext_object_get(&req, "timeout", &v) &&
	    v.type == JSONTEXT_NUMBER && jsontext_number(&v, &t) == 0)
		CHECK(!isnan(t));
	(void)jsontext_object_get(&req, "wait", &v);
	if (jsontext_object_get(&req, "workers", &v) &&
	    v.type == JSONTEXT_NUMBER && jsontext_integer(&v, 0, 1 << 20,
	    &n) == 0)
		CHECK(n >= 0 && n <= 1 << 20);
	if (jsontext_object_get(&req, "id", &v) && v.type == JSONTEXT_STRING) {
		/* job_table_find() gets the raw text between the quotes. */
		CHECK(v.len >= 2 && v.p >= p && v.p + v.len <= p + len);
		s = quoted(&v);
		check_reply("no job '%s' (unknown, or its record expired)", s);
		free(s);
	}
	check_jobspec(&req);
	if (jsontext_object_get(&req, "jobs", &v) && v.type == JSONTEXT_ARRAY)
		check_batch(&v);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf	 decoded = BUF_INIT;
	char		 err[256];

	if (size > 0 && data[0] == 0x80) {
		if (pickle_to_json(data, size, FUZZ_MAX_MESSAGE, &decoded, err,
		    sizeof err) == -1) {
			check_reply("pickle refused: %s", err);
			return 0;
		}
		check_request(buf_head(&decoded), buf_used(&decoded));
		buf_free(&decoded);
		return 0;
	}
	check_request((const char *)data, size);
	return 0;
}
