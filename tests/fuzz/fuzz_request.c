/*
 * libFuzzer harness for the request decoder, the real one the listener
 * calls (supervisor/remote/request_decode.c): a message, JSON text or a
 * pickle, becomes a typed struct request or an error.
 *
 * Beyond not crashing or leaking:
 *  - the verdict is consistent: 0 with REQUEST_OK and an op, or -1 with a
 *    known error code and a message; the op is the table's own row;
 *  - what the decoder accepted is what the executor relies on: a pool op
 *    names its pool, the timeout is none or finite and not negative, the
 *    worker count is in range, an id is a string span of the message,
 *    every job a JSON object of the message with a key of 1 to 256 bytes;
 *  - every job, for both kinds of pool, goes through jobspec_build() as
 *    the executor does, and its data must come out as one line of valid
 *    JSON as put on a worker's pipe, which the exec worker can answer;
 *  - replies quoting the client's strings (the decoder's messages, a pool
 *    name, an id) are valid JSON that request_pickle_reply() can pickle;
 *  - the two wire forms agree: JSON text that decodes, sent again as the
 *    pickle of the same value, gets the same op and the same verdict.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "config/config.h"
#include "ipc/jobspec.h"
#include "ipc/jsontext.h"
#include "ipc/pickle.h"
#include "supervisor/remote/request_decode.h"
#include "worker/exec/exec_job.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

#define FUZZ_MAX_MESSAGE	(1 << 20)
#define FUZZ_JOB_ID		"0123456789abcdef"

/* An error reply quoting msg must be valid JSON, and picklable. */
static void
check_reply(const char *code, const char *msg)
{
	struct buf	 b = BUF_INIT;

	request_error_reply(&b, code, msg);
	CHECK(jsontext_valid(buf_head(&b), buf_used(&b)));
	request_pickle_reply(&b);
	CHECK(buf_used(&b) > 2 && (unsigned char)buf_head(&b)[0] == 0x80);
	buf_free(&b);
}

/* A span lies inside the text the request was decoded from. */
static int
span_within(const struct jsontext_span *v, const char *p, size_t len)
{
	return v->p >= p && v->len <= len && v->p + v->len <= p + len;
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

/* One job as the executor builds it, for both kinds of pool. */
static void
check_job(const struct request_job *job, const char *p, size_t len)
{
	static const enum pool_type	 types[] = { POOL_TYPE_EXEC,
	    POOL_TYPE_STREAM };
	struct buf			 out = BUF_INIT;
	const char			*err;
	size_t				 i, klen;

	CHECK(job->desc.type == JSONTEXT_OBJECT && span_within(&job->desc, p,
	    len));
	if (job->key != NULL) {
		klen = strlen(job->key);
		CHECK(klen >= 1 && klen <= REQUEST_KEY_MAX);
	}
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		buf_reset(&out);
		/* Something before it, as in a batch: left alone on errors. */
		buf_append(&out, "[1]", 3);
		if ((err = jobspec_build(types[i], &job->desc, &out)) != NULL) {
			CHECK(buf_used(&out) == 3);
			check_reply("bad_request", err);
			continue;
		}
		check_job_data(types[i], buf_head(&out) + 3,
		    buf_used(&out) - 3);
	}
	buf_free(&out);
}

/* What the decoder promises the executor about an accepted request. */
static void
check_fields(const struct request *req, const char *p, size_t len)
{
	char	*id;

	/* Only the listing ops (and retry by ids) may name no pool. */
	if ((req->op->flags & REQUEST_POOL) &&
	    req->op->id != REQUEST_OP_JOBS && req->op->id != REQUEST_OP_LOGS &&
	    req->op->id != REQUEST_OP_DEAD && req->op->id != REQUEST_OP_RETRY)
		CHECK(req->has_pool);
	if (req->has_pool && req->pool != NULL)
		check_reply("unknown_pool", req->pool);
	CHECK(req->timeout == -1 || (req->timeout >= 0 &&
	    isfinite(req->timeout)));
	CHECK(req->workers >= 0 && req->workers <= 1 << 20);
	switch (req->op->id) {
	case REQUEST_OP_RESULT:
	case REQUEST_OP_CANCEL:
		/* job_table_find() gets the raw text between the quotes. */
		CHECK(req->id.type == JSONTEXT_STRING && req->id.len >= 2 &&
		    span_within(&req->id, p, len));
		if ((id = jsontext_string_decode(&req->id, NULL)) != NULL)
			check_reply("not_found", id);
		free(id);
		break;
	case REQUEST_OP_SUBMIT:
		CHECK(req->njobs == 1);
		break;
	case REQUEST_OP_SUBMIT_MANY:
		CHECK(req->njobs <= REQUEST_MAX_BATCH);
		break;
	default:
		CHECK(req->njobs == 0);
		break;
	}
}

/* Decode, and check everything the verdict and the request promise. */
static void
check_decode(const uint8_t *data, size_t size, struct request *req)
{
	const char	*p;
	size_t		 len, i;
	int		 rv;

	rv = request_decode(data, size, FUZZ_MAX_MESSAGE, req);
	CHECK(req->pickled == (size > 0 && data[0] == 0x80));
	/* The text the spans point into (none if the pickle was refused). */
	p = (const char *)data;
	len = size;
	if (req->pickled) {
		p = req->text.data != NULL ? buf_head(&req->text) : "";
		len = buf_used(&req->text);
	}
	if (req->op != NULL)
		CHECK(request_op_find(req->op->name) == req->op);
	if (rv == -1) {
		CHECK(req->error != REQUEST_OK && req->message != NULL);
		CHECK(req->error != REQUEST_UNKNOWN_OP || req->op == NULL);
		CHECK(req->njobs <= REQUEST_MAX_BATCH + 1);
		CHECK(req->error_after_jobs || req->njobs == 0);
		check_reply(request_error_name(req->error), req->message);
	} else {
		CHECK(rv == 0 && req->error == REQUEST_OK && req->op != NULL);
		CHECK(req->message == NULL && !req->error_after_jobs);
		check_fields(req, p, len);
	}
	for (i = 0; i < req->njobs; i++)
		check_job(&req->jobs[i], p, len);
}

/* JSON text and the pickle of the same value get the same verdict. */
static void
check_pickled_twin(const uint8_t *data, size_t size,
    const struct request *req)
{
	struct request	 twin;
	struct buf	 pk = BUF_INIT;
	char		 err[256];

	if (req->pickled || req->op == NULL || pickle_from_json((const char *)
	    data, size, &pk, err, sizeof err) == -1) {
		buf_free(&pk);
		return;
	}
	(void)request_decode(buf_head(&pk), buf_used(&pk), FUZZ_MAX_MESSAGE,
	    &twin);
	/* The pickle's JSON text may exceed the cap: nothing to compare. */
	if (twin.op != NULL) {
		CHECK(twin.op == req->op && twin.error == req->error);
		CHECK(twin.njobs == req->njobs);
	}
	request_free(&twin);
	buf_free(&pk);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct request	req;

	check_decode(data, size, &req);
	check_pickled_twin(data, size, &req);
	request_free(&req);
	return 0;
}
