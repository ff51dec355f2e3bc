/*
 * Job records (SPEC section 6), as JSON. A record is written for every
 * job that is waited for, which makes this one of the hottest paths of
 * the supervisor: the fixed part (id, pool, client, state, times,
 * duration, worker) is written straight into room reserved once, the
 * pool's and the client's names already quoted; the parts of any length
 * (result, error, key, group) are appended.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/jsonscan.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "ipc/jsontext.h"
#include "store/job.h"

/*
 * How deep a job's data may nest: as deep as a submit takes it
 * ({"data":...} within JSONSCAN_MAX_DEPTH), and a job line carries it.
 */
#define JOB_DATA_MAX_DEPTH	(JSONSCAN_MAX_DEPTH - 1)

/*
 * The fixed part without the names: keys 150 bytes, id 16, state 9,
 * attempts 5, times 3 x 26, duration 24, worker 6; room to spare for
 * what time_iso8601() may write past its text.
 */
#define JOB_RECORD_FIXED	(320 + TIME_ISO_BUF)

static const struct {
	const char	*text;
	size_t		 len;
} job_state_json[JOB_NSTATES + 1] = {	/* and what state:3 could hold */
#define S(x)	{ "\"" x "\"", sizeof(x) + 1 }
	S("queued"), S("running"), S("done"), S("failed"), S("timed_out"),
	S("cancelled"), S("delayed"), S("?")
#undef S
};

static inline char *
job_put(char *p, const char *s, size_t n)
{
	memcpy(p, s, n);
	return p + n;
}

/* A string literal, its length known when compiled. */
#define JOB_PUT(p, lit)	job_put(p, lit, sizeof(lit) - 1)

static char *
job_put_uint(char *p, unsigned long long v)
{
	char	tmp[24];
	size_t	n = sizeof tmp;

	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return job_put(p, tmp + n, sizeof tmp - n);
}

/* A time as a quoted ISO 8601 string, or null. */
static char *
job_put_time(char *p, double t)
{
	if (t <= 0)
		return JOB_PUT(p, "null");
	*p++ = '"';
	time_iso8601(t, p);
	p += TIME_ISO_LEN - 1;
	*p++ = '"';
	return p;
}

/* The pool's name, quoted: made once per pool (and name). */
static const char *
job_owner_json(struct job_owner *o, size_t *len)
{
	struct buf	q = BUF_INIT;

	if (o->name_of != o->name) {
		jsontext_string_append(&q, o->name, strlen(o->name));
		if (buf_used(&q) > sizeof o->name_json) {
			/* Too long to keep: quoted for each record. */
			o->name_of = NULL;
			buf_free(&q);
			return NULL;
		}
		memcpy(o->name_json, buf_head(&q), buf_used(&q));
		o->name_json_len = (uint8_t)buf_used(&q);
		o->name_of = o->name;
		buf_free(&q);
	}
	*len = o->name_json_len;
	return o->name_json;
}

static void
job_key_append(struct buf *b, const char *key)
{
	buf_append(b, ",\"", 2);
	buf_append_str(b, key);
	buf_append(b, "\":", 2);
}

/* The flow fields a job was given (none is written at its default). */
static void
job_flow_append(const struct job *job, struct buf *b)
{
	char	t[TIME_ISO_BUF + 2];

	if (job->flow.priority != 0) {
		job_key_append(b, "priority");
		if (job->flow.priority < 0)
			buf_append(b, "-", 1);
		buf_append_uint(b, (unsigned)abs(job->flow.priority));
	}
	if (job_group(job) != NULL) {
		job_key_append(b, "group");
		jsontext_string_append(b, job_group(job),
		    strlen(job_group(job)));
	}
	if (job_not_before(job) > 0) {
		job_key_append(b, "not_before");
		buf_append(b, t, (size_t)(job_put_time(t, job_not_before(job)) -
		    t));
	}
}

/* The fixed part, from "{" to the worker, into room reserved for it. */
static char *
job_put_fixed(char *p, const struct job *job, const char *pool,
    size_t pool_len, const char *client, size_t client_len)
{
	const struct job_ext	*x = job_x(job);
	unsigned long long	 us;

	p = JOB_PUT(p, "{\"id\":\"");
	p = job_put(p, job->id, JOB_ID_LEN);
	p = JOB_PUT(p, "\",\"pool\":");
	p = job_put(p, pool, pool_len);
	p = JOB_PUT(p, ",\"client\":");
	p = client != NULL ? job_put(p, client, client_len) :
	    JOB_PUT(p, "null");
	p = JOB_PUT(p, ",\"state\":");
	p = job_put(p, job_state_json[job->state].text,
	    job_state_json[job->state].len);
	p = JOB_PUT(p, ",\"attempts\":");
	p = job_put_uint(p, job->attempts);
	p = JOB_PUT(p, ",\"submitted_at\":");
	p = job_put_time(p, job->submitted_at);
	p = JOB_PUT(p, ",\"started_at\":");
	p = job_put_time(p, x->started_at);
	p = JOB_PUT(p, ",\"finished_at\":");
	p = job_put_time(p, x->finished_at);
	p = JOB_PUT(p, ",\"duration_ms\":");
	if (x->started_at > 0 && x->finished_at >= x->started_at) {
		/* Milliseconds with three decimals, from whole microseconds. */
		us = (unsigned long long)((x->finished_at -
		    x->started_at) * 1e6 + 0.5);
		p = job_put_uint(p, us / 1000);
		*p++ = '.';
		*p++ = (char)('0' + us / 100 % 10);
		*p++ = (char)('0' + us / 10 % 10);
		*p++ = (char)('0' + us % 10);
	} else
		p = JOB_PUT(p, "null");
	p = JOB_PUT(p, ",\"worker\":");
	if (job->worker >= 0)
		p = job_put_uint(p, (unsigned)job->worker);
	else
		p = JOB_PUT(p, "null");
	return p;
}

/* What follows the fixed part: flow fields, result, error, key, ... */
static void
job_tail_append(const struct job *job, struct buf *b)
{
	const struct job_ext	*x = job_x(job);

	job_flow_append(job, b);
	/* Its own kind: a reload may have changed its pool's since. */
	if (job->exec) {
		if (x->result != NULL) {
			buf_append(b, ",", 1);
			buf_append_str(b, x->result);
		} else
			buf_append_str(b, ",\"exit_code\":null,\"signal\":null,"
			    "\"stdout\":null,\"stderr\":null,\"truncated\":false");
	} else {
		buf_append_str(b, ",\"result\":");
		buf_append_str(b, x->result != NULL ? x->result : "null");
	}
	buf_append_str(b, ",\"error\":");
	if (x->error != NULL)
		jsontext_string_append(b, x->error, strlen(x->error));
	else
		buf_append_str(b, "null");
	if (x->key != NULL) {
		buf_append_str(b, ",\"key\":");
		jsontext_string_append(b, x->key, strlen(x->key));
	}
	if (job->dead)
		buf_append_str(b, ",\"dead\":true");
	if (x->retry_of != NULL)
		buf_appendf(b, ",\"retry_of\":\"%s\"", x->retry_of);
	buf_append(b, "}", 1);
}

void
job_record_append(const struct job *job, struct buf *b)
{
	struct buf	 q = BUF_INIT;
	const char	*pool, *client = NULL;
	size_t		 pool_len, client_len = 0;

	if ((pool = job_owner_json(job->owner, &pool_len)) == NULL) {
		jsontext_string_append(&q, job->owner->name,
		    strlen(job->owner->name));
		pool = buf_head(&q);
		pool_len = buf_used(&q);
	}
	if (job->client != NULL)
		client = job_client_json(job->client, &client_len);
	buf_reserve(b, JOB_RECORD_FIXED + pool_len + client_len);
	b->len = (size_t)(job_put_fixed(b->data + b->len, job, pool, pool_len,
	    client, client_len) - b->data);
	buf_free(&q);
	job_tail_append(job, b);
}

/* Whether [s, s + len) is one JSON value nested at most depth deep. */
static int
job_json_ok(const char *s, size_t len, unsigned depth)
{
	struct jsonscan	js = { depth, NULL, 0, JSONSCAN_OK };

	return len > 0 && jsonscan_value(&js, s, s + len) == s + len;
}

int
job_data_ok(const char *s, size_t len)
{
	return job_json_ok(s, len, JOB_DATA_MAX_DEPTH);
}

/*
 * An exec job's result is the members its record carries (exit code,
 * signal, output): they must make one JSON object, with at least one
 * member, since the record puts them between two commas.
 */
int
job_result_ok(const char *s, size_t len, int exec)
{
	char	*t;
	int	 ok;

	if (!exec)
		return job_json_ok(s, len, JSONSCAN_RESULT_MAX_DEPTH);
	if (jsonscan_ws(s, s + len) == s + len)
		return 0;
	t = xmalloc(len + 2);
	t[0] = '{';
	memcpy(t + 1, s, len);
	t[len + 1] = '}';
	ok = job_json_ok(t, len + 2, JSONSCAN_RESULT_MAX_DEPTH);
	free(t);
	return ok;
}
