/*
 * Request decoding (see request_decode.h). Members are found with
 * ipc/jsontext without building a tree; job descriptions stay spans of
 * the validated text they arrived as. Each op's decode function checks
 * its members in the order the client has always been told about them:
 * the first wrong one is the one reported.
 */
#include "config.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "config/parse.h"
#include "ipc/pickle.h"
#include "supervisor/joblist.h"
#include "supervisor/logring.h"
#include "supervisor/remote/request_decode.h"

typedef int	(*request_decode_fn)(struct request *,
		    const struct jsontext_span *);

static int	decode_submit(struct request *, const struct jsontext_span *);
static int	decode_submit_many(struct request *,
		    const struct jsontext_span *);
static int	decode_result(struct request *, const struct jsontext_span *);
static int	decode_cancel(struct request *, const struct jsontext_span *);
static int	decode_status(struct request *, const struct jsontext_span *);
static int	decode_pool(struct request *, const struct jsontext_span *);
static int	decode_scale(struct request *, const struct jsontext_span *);
static int	decode_nothing(struct request *,
		    const struct jsontext_span *);
static int	decode_jobs(struct request *, const struct jsontext_span *);
static int	decode_logs(struct request *, const struct jsontext_span *);
static int	decode_signal(struct request *, const struct jsontext_span *);

static int	decode_dead(struct request *, const struct jsontext_span *);
static int	decode_retry(struct request *, const struct jsontext_span *);

#define REQUEST_OP_ROW(tag, name, role, flags, decode, exec)		\
	{ REQUEST_OP_##tag, name, role, flags },
static const struct request_op	request_ops[] = {
	REQUEST_OP_TABLE(REQUEST_OP_ROW)
};
#undef REQUEST_OP_ROW

#define REQUEST_DECODE_ROW(tag, name, role, flags, decode, exec)	\
	[REQUEST_OP_##tag] = decode,
static const request_decode_fn	request_decoders[REQUEST_NOPS] = {
	REQUEST_OP_TABLE(REQUEST_DECODE_ROW)
};
#undef REQUEST_DECODE_ROW

static const char *const	request_error_names[REQUEST_NERRORS] = {
	[REQUEST_OK] = NULL,
	[REQUEST_BAD_REQUEST] = "bad_request",
	[REQUEST_UNKNOWN_OP] = "unknown_op",
	[REQUEST_TOO_LARGE] = "too_large",
};

static int	decode_error(struct request *, enum request_error,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

/* Refuse the request: set its error and message; returns -1. */
static int
decode_error(struct request *req, enum request_error error,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	xvasprintf(&req->message, fmt, ap);
	va_end(ap);
	req->error = error;
	return -1;
}

/*
 * The members of the request object being decoded, found once by
 * decode_text(); NULL outside it.
 */
static const struct jsontext_members	*decode_members;

/* Member key of obj: from the index when obj is the request object. */
static int
decode_get(const struct jsontext_span *obj, const char *key,
    struct jsontext_span *val)
{
	if (decode_members != NULL && decode_members->obj.p == obj->p &&
	    decode_members->obj.len == obj->len)
		return jsontext_members_get(decode_members, key, val);
	return jsontext_object_get(obj, key, val);
}

/* "pool", a string the op cannot do without. */
static int
decode_pool_name(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;

	if (!decode_get(obj, "pool", &v) || v.type != JSONTEXT_STRING)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"pool\" (a string) is missing");
	req->has_pool = 1;
	req->pool = jsontext_string_decode(&v, NULL);
	return 0;
}

/* "timeout": seconds, absent or null for none. */
static int
decode_timeout(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;
	double			t;

	if (!decode_get(obj, "timeout", &v) || v.type == JSONTEXT_NULL)
		return 0;
	if (v.type != JSONTEXT_NUMBER || jsontext_number(&v, &t) == -1 ||
	    t < 0 || !isfinite(t))
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"timeout\" must be a number of seconds");
	req->timeout = t;
	return 0;
}

/* "wait": only true waits. */
static void
decode_wait(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;

	req->wait = decode_get(obj, "wait", &v) &&
	    v.type == JSONTEXT_TRUE;
}

/* submit: the request is the job's description. */
static int
decode_submit(struct request *req, const struct jsontext_span *obj)
{
	const char	*why;

	if (decode_pool_name(req, obj) == -1 || decode_timeout(req, obj) == -1)
		return -1;
	if ((why = request_job_add(req, obj)) != NULL) {
		/* Refused whole: no job is left for the executor. */
		req->njobs--;
		free(req->jobs[req->njobs].key);
		free(req->jobs[req->njobs].group);
		req->jobs[req->njobs].key = req->jobs[req->njobs].group = NULL;
		return decode_error(req, REQUEST_BAD_REQUEST, "%s", why);
	}
	decode_wait(req, obj);
	return 0;
}

/*
 * submit_many: every job of "jobs" in order. A wrong job stops the
 * decoding; those before it are kept for the executor to check first.
 */
static int
decode_submit_many(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	 jobs, e;
	const char		*why, *p, *close;

	if (decode_pool_name(req, obj) == -1 || decode_timeout(req, obj) == -1)
		return -1;
	if (!decode_get(obj, "jobs", &jobs) ||
	    jobs.type != JSONTEXT_ARRAY)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"jobs\" (a list) is missing");
	/*
	 * Each job's end is found by the walk over its members, not by
	 * skipping it first: one pass over each job instead of two.
	 */
	close = jobs.p + jobs.len - 1;
	for (p = jobs.p + 1;; p = e.p + req->jobs[req->njobs - 1].desc.len) {
		p = jsonscan_ws(p, close);
		if (p < close && *p == ',')
			p = jsonscan_ws(p + 1, close);
		if (p >= close)
			break;
		req->error_after_jobs = 1;
		if (*p != '{')
			return decode_error(req, REQUEST_BAD_REQUEST,
			    "jobs[%zu]: not an object", req->njobs);
		e.p = p;
		e.len = (size_t)(close - p);
		e.type = JSONTEXT_OBJECT;
		/* The job past the limit is checked like the others first. */
		if ((why = request_job_add(req, &e)) != NULL) {
			req->njobs--;
			free(req->jobs[req->njobs].key);
			free(req->jobs[req->njobs].group);
			return decode_error(req, REQUEST_BAD_REQUEST,
			    "jobs[%zu]: %s", req->njobs, why);
		}
		if (req->njobs > REQUEST_MAX_BATCH)
			return decode_error(req, REQUEST_TOO_LARGE, "at most %d "
			    "jobs per submit_many", REQUEST_MAX_BATCH);
	}
	req->error_after_jobs = 0;
	decode_wait(req, obj);
	return 0;
}

/* "id", a string. */
static int
decode_id(struct request *req, const struct jsontext_span *obj)
{
	if (!decode_get(obj, "id", &req->id) ||
	    req->id.type != JSONTEXT_STRING)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"id\" (a string) is missing");
	return 0;
}

/* result: the timeout is looked at before the id. */
static int
decode_result(struct request *req, const struct jsontext_span *obj)
{
	if (decode_timeout(req, obj) == -1 || decode_id(req, obj) == -1)
		return -1;
	decode_wait(req, obj);
	return 0;
}

static int
decode_cancel(struct request *req, const struct jsontext_span *obj)
{
	return decode_id(req, obj);
}

/* status: "pool" filters when it is a string, and is ignored otherwise. */
static int
decode_status(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;

	if (decode_get(obj, "pool", &v) && v.type == JSONTEXT_STRING) {
		req->has_pool = 1;
		req->pool = jsontext_string_decode(&v, NULL);
	}
	return 0;
}

static int
decode_pool(struct request *req, const struct jsontext_span *obj)
{
	return decode_pool_name(req, obj);
}

/* scale: "workers", a whole number up to 2^20. */
static int
decode_scale(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;
	int64_t			n;

	if (decode_pool_name(req, obj) == -1)
		return -1;
	if (!decode_get(obj, "workers", &v) ||
	    v.type != JSONTEXT_NUMBER ||
	    jsontext_integer(&v, 0, 1 << 20, &n) == -1)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"workers\" (a whole number) is missing");
	req->workers = (int)n;
	return 0;
}

static int
decode_nothing(struct request *req, const struct jsontext_span *obj)
{
	return 0;
}

/* "pool", absent or null for every pool, else a string. */
static int
decode_pool_filter(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;

	if (!decode_get(obj, "pool", &v) || v.type == JSONTEXT_NULL)
		return 0;
	if (v.type != JSONTEXT_STRING)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"pool\" must be a string");
	req->has_pool = 1;
	req->pool = jsontext_string_decode(&v, NULL);
	return 0;
}

/* "limit": a whole number from min to max, def when absent or null. */
static int
decode_limit(struct request *req, const struct jsontext_span *obj,
    int64_t min, int64_t max, size_t def)
{
	struct jsontext_span	v;
	int64_t			n;

	req->limit = def;
	if (!decode_get(obj, "limit", &v) || v.type == JSONTEXT_NULL)
		return 0;
	if (v.type != JSONTEXT_NUMBER ||
	    jsontext_integer(&v, min, max, &n) == -1)
		return decode_error(req, REQUEST_BAD_REQUEST, "\"limit\" must "
		    "be a whole number from %lld to %lld", (long long)min,
		    (long long)max);
	req->limit = (size_t)n;
	return 0;
}

/* jobs: "pool", "state" ("failed" or "failed,timed_out"), "since", "limit". */
static int
decode_jobs(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	 v;
	const char		*err;
	char			*s;
	size_t			 len;
	int			 rv;

	req->since = -1;
	if (decode_pool_filter(req, obj) == -1)
		return -1;
	if (decode_get(obj, "state", &v) && v.type != JSONTEXT_NULL) {
		if (v.type != JSONTEXT_STRING ||
		    (s = jsontext_string_decode(&v, &len)) == NULL)
			return decode_error(req, REQUEST_BAD_REQUEST,
			    "\"state\" must be a string");
		rv = joblist_parse_states(s, len, &req->states, &err);
		if (rv == -1)
			rv = decode_error(req, REQUEST_BAD_REQUEST, "\"state\" "
			    "'%s': %s", s, err);
		free(s);
		if (rv == -1)
			return -1;
	}
	if (decode_get(obj, "since", &v) && v.type != JSONTEXT_NULL &&
	    (v.type != JSONTEXT_NUMBER || jsontext_number(&v, &req->since) ==
	    -1 || req->since < 0 || !isfinite(req->since)))
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"since\" must be a number of seconds");
	return decode_limit(req, obj, 1, JOBLIST_MAX, REQUEST_JOBS_LIMIT);
}

/* logs: "pool", "job", "limit" (0: none of the past), "follow". */
static int
decode_logs(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;
	size_t			len;

	if (decode_pool_filter(req, obj) == -1)
		return -1;
	if (decode_get(obj, "job", &v) && v.type != JSONTEXT_NULL &&
	    (v.type != JSONTEXT_STRING ||
	    (req->job = jsontext_string_decode(&v, &len)) == NULL ||
	    len == 0 || len > 64 || strlen(req->job) != len))
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"job\" must be a job id");
	req->follow = decode_get(obj, "follow", &v) &&
	    v.type == JSONTEXT_TRUE;
	return decode_limit(req, obj, 0, LOGRING_MAX_RECORDS,
	    REQUEST_LOGS_LIMIT);
}

/*
 * signal: "pool" and "signal", a name such as "HUP" or "SIGUSR1", or a
 * number, as config/parse.h's parse_signal() takes them.
 */
static int
decode_signal(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	 v;
	const char		*err;
	char			*name = NULL;
	size_t			 len;

	if (decode_pool_name(req, obj) == -1)
		return -1;
	if (decode_get(obj, "signal", &v) &&
	    v.type == JSONTEXT_STRING &&
	    (name = jsontext_string_decode(&v, &len)) != NULL &&
	    strlen(name) == len && len < 16 &&
	    parse_signal(name, &req->signum, &err) == 0) {
		free(name);
		return 0;
	}
	free(name);
	return decode_error(req, REQUEST_BAD_REQUEST, "\"signal\" must be a "
	    "signal's name (%s) or number (1 to 64)", REQUEST_SIGNAL_NAMES);
}

/* dead: every pool's dead letters, or "pool"'s. */
static int
decode_dead(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v;

	if (!decode_get(obj, "pool", &v))
		return 0;
	return decode_pool_name(req, obj);
}

/* retry: "ids" (job ids, 1 to REQUEST_MAX_BATCH), or "pool" and "all". */
static int
decode_retry(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	v, e;
	size_t			st = 0, n = 0;

	if (decode_get(obj, "all", &v)) {
		if (v.type != JSONTEXT_TRUE ||
		    decode_get(obj, "ids", &e))
			return decode_error(req, REQUEST_BAD_REQUEST,
			    "give \"ids\", or \"pool\" and \"all\": true");
		req->all = 1;
		return decode_pool_name(req, obj);
	}
	if (!decode_get(obj, "ids", &req->ids) ||
	    req->ids.type != JSONTEXT_ARRAY)
		return decode_error(req, REQUEST_BAD_REQUEST, "\"ids\" (a list "
		    "of job ids) is missing; or give \"pool\" and \"all\": "
		    "true");
	while (jsontext_array_next(&req->ids, &st, &e)) {
		if (e.type != JSONTEXT_STRING)
			return decode_error(req, REQUEST_BAD_REQUEST,
			    "\"ids\" must hold job ids (strings)");
		if (++n > REQUEST_MAX_BATCH)
			return decode_error(req, REQUEST_TOO_LARGE,
			    "more than %d ids", REQUEST_MAX_BATCH);
	}
	if (n == 0)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"ids\" is empty");
	return 0;
}

/* The row of the op named by the string span v, or NULL. */
static const struct request_op *
decode_op_find(const struct jsontext_span *v)
{
	size_t	i;

	for (i = 0; i < sizeof request_ops / sizeof request_ops[0]; i++)
		if (jsontext_string_eq(v, request_ops[i].name))
			return &request_ops[i];
	return NULL;
}

/* Decode the request object obj: its op, then the op's members. */
static int
decode_object(struct request *req, const struct jsontext_span *obj)
{
	struct jsontext_span	 v;
	char			*name;
	int			 rv;

	if (!decode_get(obj, "op", &v) || v.type != JSONTEXT_STRING)
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "\"op\" (a string) is missing");
	if ((req->op = decode_op_find(&v)) == NULL) {
		name = jsontext_string_decode(&v, NULL);
		rv = decode_error(req, REQUEST_UNKNOWN_OP, "unknown op '%s'",
		    name != NULL ? name : "?");
		free(name);
		return rv;
	}
	return request_decoders[req->op->id](req, obj);
}

/*
 * Decode the JSON text p[0..len), which must be an object with an op:
 * one validating pass, one to find its members, and the decoders look
 * them up in that index.
 */
static int
decode_text(struct request *req, const char *p, size_t len)
{
	struct jsontext_members	 members;
	const char		*end;
	int			 rv;

	/* Validated and its members found in one pass. */
	if ((end = jsontext_members_scan(&members, p, p + len)) == NULL ||
	    jsonscan_ws(end, p + len) != p + len)
		return decode_error(req, REQUEST_BAD_REQUEST, "a request is "
		    "a dict (pickle) or a JSON object, such as {\"op\": "
		    "\"status\"}");
	decode_members = &members;
	rv = decode_object(req, &members.obj);
	decode_members = NULL;
	return rv;
}

int
request_decode(const void *msg, size_t len, size_t max_message,
    struct request *req)
{
	char	err[256];

	memset(req, 0, sizeof *req);
	req->timeout = -1;
	req->id.type = JSONTEXT_INVALID;
	if (len == 0 || ((const unsigned char *)msg)[0] != 0x80)
		return decode_text(req, msg, len);
	/* send(dict): plain data only, decoded to JSON text. */
	req->pickled = 1;
	switch (pickle_to_json(msg, len, max_message, &req->text, err,
	    sizeof err)) {
	case 0:
		break;
	case -2:	/* more memory than a request of its size may cost */
		return decode_error(req, REQUEST_TOO_LARGE, "pickle %s", err);
	default:
		return decode_error(req, REQUEST_BAD_REQUEST,
		    "pickle refused: %s", err);
	}
	return decode_text(req, buf_head(&req->text), buf_used(&req->text));
}

void
request_free(struct request *req)
{
	size_t	i;

	for (i = 0; i < req->njobs; i++) {
		free(req->jobs[i].key);
		free(req->jobs[i].group);
	}
	request_jobs_free(req);
	free(req->pool);
	free(req->job);
	free(req->message);
	buf_free(&req->text);
	memset(req, 0, sizeof *req);
}

const struct request_op *
request_op_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof request_ops / sizeof request_ops[0]; i++)
		if (strcmp(request_ops[i].name, name) == 0)
			return &request_ops[i];
	return NULL;
}

const char *
request_error_name(enum request_error error)
{
	return request_error_names[error];
}

void
request_error_reply(struct buf *b, const char *code, const char *msg)
{
	buf_reset(b);
	buf_appendf(b, "{\"ok\":false,\"error\":\"%s\",\"message\":", code);
	jsontext_string_append(b, msg, strlen(msg));
	buf_append(b, "}", 1);
}

/* Re-encode a JSON reply as a pickle for a client that pickled its request. */
void
request_pickle_reply(struct buf *body)
{
	struct buf	 out = BUF_INIT;
	char		 err[256];

	/* The room the body kept in front for a header, kept. */
	if (body->off > 0)
		buf_reset_headroom(&out, body->off, buf_used(body));
	if (pickle_from_json(buf_head(body), buf_used(body), &out, err,
	    sizeof err) == -1) {
		/* Our own replies are valid JSON: this is a bug. */
		log_warnx("BUG: cannot pickle a reply: %s", err);
		buf_free(&out);
		return;
	}
	buf_free(body);
	*body = out;
}
