/*
 * libFuzzer harness for store/queue_redis_rec.c, the reader of what a
 * cluster node takes from Redis: the blob of a queued job (a field of a
 * stream entry) and the record of an ended one (a field of a bucket of
 * records). Anyone who can write to Redis writes these (docs/SECURITY.md),
 * so they are read as hostile. The input is tried as both. A blob or
 * record the reader accepts gives a job whose numbers are in the ranges a
 * node works with: a priority that indexes the flow's levels, attempts
 * that fit a claim's count, worker -1 or an index, times finite, not
 * negative and before QR_TIME_MAX; its strings lie within the input; its
 * data (empty for an ended job that keeps none) and its result are JSON
 * (an exec pool's result: members of its record). Each input is read for
 * a stream pool and for an exec pool.
 * The job's record is then built (every time formatted) and must be one
 * JSON object; the job is freed.
 */
#include "config.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/jsonscan.h"
#include "store/job.h"
#include "store/queue.h"
#include "store/queue_redis.h"

/* Stop the fuzzer with a crash it will report. */
#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const char	id[] = "0123456789abcdef";

static void
check_time(double t)
{
	CHECK(isfinite(t) && t >= 0 && t <= QR_TIME_MAX);
}

/* Whether [p, p + n) is one JSON value. */
static int
is_json(const char *p, size_t n)
{
	struct jsonscan	js = { JSONSCAN_MAX_DEPTH, NULL, 0, JSONSCAN_OK };

	return jsonscan_value(&js, p, p + n) == p + n;
}

/* A job the reader made: its numbers in range; its record built. */
static void
check_job(struct job *job)
{
	struct buf	 b = BUF_INIT;
	const char	*r = job_result(job);

	CHECK(memcmp(job->id, id, JOB_ID_LEN) == 0);
	CHECK(job->flow.priority >= JOB_PRIORITY_MIN &&
	    job->flow.priority <= JOB_PRIORITY_MAX);
	CHECK(job->attempts <= QR_ATTEMPTS_MAX);
	CHECK(job->worker >= -1);
	CHECK(job->state >= 0 && job->state < JOB_NSTATES);
	check_time(job->submitted_at);
	check_time(job_started_at(job));
	check_time(job_finished_at(job));
	check_time(job_not_before(job));
	CHECK(job->data_len == 0 || is_json(job_data(job), job->data_len));
	/* An exec job's result is members of its record: checked with it. */
	CHECK(r == NULL || job->exec || is_json(r, strlen(r)));
	job_record_append(job, &b);
	CHECK(b.len > 0 && b.data[0] == '{' && is_json(b.data, b.len));
	buf_free(&b);
	job_free(job);
}

/* The strings of a parsed blob lie in p[0..n), in order, to its end. */
static void
check_blob(const struct qr_blob *o, const char *p, size_t n)
{
	CHECK(o->client >= p && o->key == o->client + o->client_len &&
	    o->group == o->key + o->key_len &&
	    o->data == o->group + o->group_len &&
	    o->data + o->data_len == p + n);
	CHECK(o->attempts <= QR_ATTEMPTS_MAX);
	CHECK(o->priority >= JOB_PRIORITY_MIN &&
	    o->priority <= JOB_PRIORITY_MAX);
	check_time(o->submitted);
	check_time(o->not_before);
}

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_pool	 qp;
	struct qr_pool		 rp;
	struct qr_blob		 o;
	struct job		*job;
	char			*p;
	int			 exec;

	/* Exactly the bytes, so that ASan sees a read past them. */
	if ((p = malloc(size + 1)) == NULL)
		return 0;
	memcpy(p, data, size);
	if (qr_blob_parse(p, size, &o) == 0)
		check_blob(&o, p, size);
	/* Once for a stream pool, once for an exec pool. */
	for (exec = 0; exec <= 1; exec++) {
		memset(&qp, 0, sizeof qp);
		qp.jobs.name = "p";
		qp.jobs.exec = exec;
		memset(&rp, 0, sizeof rp);
		rp.qp = &qp;
		rp.name = (char *)"p";
		if ((job = qr_blob_job(&rp, id, p, size, &o)) != NULL)
			check_job(job);
		if ((job = qr_rec_job(&rp, id, p, size)) != NULL)
			check_job(job);
		CHECK(qp.jobs.njobs == 0);
	}
	free(p);
	return 0;
}
