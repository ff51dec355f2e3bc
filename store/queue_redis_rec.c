/*
 * How the cluster queue writes a job into Redis and reads it back: the
 * blob of a queued job (a field of its stream entry) and the record of
 * an ended one (a field of a bucket of records), and a job from a
 * fetch's answer. The formats are in queue_redis_lua.c, whose scripts
 * read them too. What is read is hostile (docs/SECURITY.md): lengths
 * and numbers are checked before use. Also the table of the stream
 * entries whose jobs this node holds.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/xmalloc.h"
#include "store/queue_redis.h"

/* Seconds with six decimals, without printf (it shows in profiles). */
void
qr_put_time(struct buf *b, double t)
{
	unsigned long long	us, frac;
	char			d[7];
	int			i;

	if (!(t > 0)) {
		buf_append(b, "0", 1);
		return;
	}
	us = (unsigned long long)(t * 1e6 + 0.5);
	buf_append_uint(b, us / 1000000);
	/* The fraction: 1000000 + it, whose first digit is dropped. */
	frac = 1000000 + us % 1000000;
	for (i = 6; i >= 1; i--) {
		d[i] = (char)('0' + frac % 10);
		frac /= 10;
	}
	d[0] = '.';
	buf_append(b, d, 7);
}

static void
qr_put_line(struct buf *b, unsigned long long v)
{
	buf_append_uint(b, v);
	buf_append(b, "\n", 1);
}

void
qr_blob(struct buf *b, const struct job *job)
{
	const char	*client = job->client != NULL ? job->client : "default";
	const char	*key = job_key(job), *g = job_group(job);
	size_t		 cl = strlen(client), kl = key ? strlen(key) : 0;
	size_t		 gl = g ? strlen(g) : 0;

	qr_put_line(b, job->attempts);
	qr_put_time(b, job->submitted_at);
	buf_append(b, "\n", 1);
	if (job->flow.priority < 0) {
		buf_append(b, "-", 1);
		qr_put_line(b, (unsigned long long)-job->flow.priority);
	} else
		qr_put_line(b, (unsigned long long)job->flow.priority);
	qr_put_time(b, job_not_before(job));
	buf_append(b, "\n", 1);
	qr_put_line(b, cl);
	qr_put_line(b, kl);
	qr_put_line(b, gl);
	buf_append(b, client, cl);
	buf_append(b, key, kl);
	buf_append(b, g, gl);
	buf_append(b, job_data(job), job->data_len);
}

void
qr_rec(struct buf *b, const struct job *job)
{
	const char	*client = job->client != NULL ? job->client : "default";
	const char	*r = job_result(job), *e = job_error(job);
	size_t		 cl = strlen(client), rl = r ? strlen(r) : 0;
	size_t		 el = e ? strlen(e) : 0;

	buf_append_str(b, job_state_name(job->state));
	buf_append(b, "\n", 1);
	qr_put_line(b, job->attempts);
	if (job->worker < 0)
		buf_append(b, "-1\n", 3);
	else
		qr_put_line(b, (unsigned long long)job->worker);
	qr_put_time(b, job_started_at(job));
	buf_append(b, "\n", 1);
	qr_put_time(b, job_finished_at(job));
	buf_append(b, job->truncated ? "\n1\n" : "\n0\n", 3);
	qr_put_time(b, job->submitted_at);
	buf_append(b, "\n", 1);
	qr_put_line(b, cl);
	qr_put_line(b, rl);
	qr_put_line(b, el);
	buf_append(b, client, cl);
	buf_append(b, r, rl);
	buf_append(b, e, el);
	/* A dead letter keeps its data (it may be retried). */
	if (job->state == JOB_FAILED || job->state == JOB_TIMED_OUT)
		buf_append(b, job_data(job), job->data_len);
}

/* The next line of [*p, end): its text, NULL if there is no newline. */
static const char *
qr_line(const char **p, const char *end, size_t *len)
{
	const char	*s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (nl == NULL)
		return NULL;
	*len = (size_t)(nl - s);
	*p = nl + 1;
	return s;
}

/*
 * n lines into f[], and then nlens lengths that must fit, together, in
 * what follows the last of them.
 */
static int
qr_lines(const char **p, const char *end, const char **f, size_t *fl,
    size_t n, size_t *lens, size_t nlens)
{
	size_t	i, total = 0, len;

	for (i = 0; i < n; i++)
		if ((f[i] = qr_line(p, end, &fl[i])) == NULL)
			return -1;
	for (i = 0; i < nlens; i++) {
		const char *s = qr_line(p, end, &len);

		/* Each at most 12 digits: the sum cannot wrap. */
		if (s == NULL || (lens[i] = qr_len(s, len)) == SIZE_MAX)
			return -1;
		total += lens[i];
	}
	return total <= (size_t)(end - *p) ? 0 : -1;
}

/*
 * A number as the scripts and qr_put_time write them: [-]digits[.digits];
 * anything else goes through strtod. Without strtod on the common path:
 * it was 9 % of the node's instructions per job.
 */
static double
qr_num(const char *s, size_t len)
{
	char		 tmp[40];
	double		 v = 0, scale = 1;
	size_t		 i = 0;
	int		 neg = 0, frac = 0;

	if (len > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < len && len < 18; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			v = v * 10 + (s[i] - '0');
			if (frac)
				scale *= 10;
		} else if (s[i] == '.' && !frac)
			frac = 1;
		else
			break;
	}
	if (i == len && len > 0 && len < 18)
		return (neg ? -v : v) / scale;
	if (len >= sizeof tmp)
		return 0;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return strtod(tmp, NULL);
}

/* A length written by buf_append_uint; SIZE_MAX if it is not one. */
size_t
qr_len(const char *s, size_t len)
{
	size_t	i, v = 0;

	if (len == 0 || len > 12)
		return SIZE_MAX;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SIZE_MAX;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	return v;
}

/*
 * A number of a blob or record, read as hostile (docs/SECURITY.md): -1
 * if it is not within [lo, hi] (NaN is not), so that what is out of the
 * range a node writes makes the whole blob or record malformed, rather
 * than an index out of bounds (a priority), a cast out of range or a
 * time no calendar formats.
 */
static int
qr_num_in(const char *s, size_t len, double lo, double hi, double *v)
{
	*v = qr_num(s, len);
	return *v >= lo && *v <= hi ? 0 : -1;
}

int
qr_blob_parse(const char *s, size_t len, struct qr_blob *o)
{
	const char	*p = s, *end = s + len, *f[4];
	size_t		 fl[4], l[3];
	double		 a, pr;

	if (qr_lines(&p, end, f, fl, 4, l, 3) == -1 ||
	    qr_num_in(f[0], fl[0], 0, QR_ATTEMPTS_MAX, &a) == -1 ||
	    qr_num_in(f[1], fl[1], 0, QR_TIME_MAX, &o->submitted) == -1 ||
	    qr_num_in(f[2], fl[2], JOB_PRIORITY_MIN, JOB_PRIORITY_MAX,
	    &pr) == -1 ||
	    qr_num_in(f[3], fl[3], 0, QR_TIME_MAX, &o->not_before) == -1)
		return -1;
	o->attempts = (unsigned)a;
	o->priority = (int)pr;
	o->client = p;
	o->client_len = l[0];
	o->key = p + l[0];
	o->key_len = l[1];
	o->group = o->key + l[1];
	o->group_len = l[2];
	o->data = o->group + l[2];
	o->data_len = (size_t)(end - o->data);
	return 0;
}

/* A job of rp, from a blob; NULL if the blob is malformed. */
struct job *
qr_blob_job(struct qr_pool *rp, const char *id, const char *s, size_t len,
    struct qr_blob *b)
{
	struct job_flow_spec	 spec;
	struct job		*job;
	char			*t;

	if (qr_blob_parse(s, len, b) == -1 || b->client_len == 0 ||
	    b->group_len >= JOB_GROUP_MAX ||
	    !job_data_ok(b->data, b->data_len))
		return NULL;
	job = job_new(&rp->qp->jobs, b->data, b->data_len, b->submitted);
	memcpy(job->id, id, JOB_ID_LEN);
	t = xstrndup(b->client, b->client_len);
	job->client = job_client_hold(t);
	free(t);
	memset(&spec, 0, sizeof spec);
	spec.priority = b->priority;
	spec.not_before = b->not_before;
	t = b->group_len > 0 ? xstrndup(b->group, b->group_len) : NULL;
	spec.group = t;
	if (spec.priority != 0 || spec.group != NULL || spec.not_before > 0)
		job_flow_set(job, &spec);
	free(t);
	if (b->key_len > 0) {
		t = xstrndup(b->key, b->key_len);
		if (job_key_find(job->client, t) == NULL)
			job_key_set(job, t);
		free(t);
	}
	job->attempts = (uint16_t)b->attempts;
	return job;
}

/* An ended job of rp, from its record; NULL if it is malformed. */
struct job *
qr_rec_job(struct qr_pool *rp, const char *id, const char *s, size_t len)
{
	const char	*p = s, *end = s + len, *f[7];
	size_t		 fl[7], l[3], i;
	struct job	*job;
	char		*t;
	double		 a, w, started, finished, sub;
	int		 st = -1;

	if (qr_lines(&p, end, f, fl, 7, l, 3) == -1 ||
	    qr_num_in(f[1], fl[1], 0, QR_ATTEMPTS_MAX, &a) == -1 ||
	    qr_num_in(f[2], fl[2], -1, INT16_MAX, &w) == -1 ||
	    qr_num_in(f[3], fl[3], 0, QR_TIME_MAX, &started) == -1 ||
	    qr_num_in(f[4], fl[4], 0, QR_TIME_MAX, &finished) == -1 ||
	    qr_num_in(f[6], fl[6], 0, QR_TIME_MAX, &sub) == -1)
		return NULL;
	for (i = 0; i < JOB_NSTATES; i++)
		if (strlen(job_state_name(i)) == fl[0] &&
		    memcmp(job_state_name(i), f[0], fl[0]) == 0)
			st = (int)i;
	if (st < 0 || l[0] == 0)
		return NULL;
	if (l[1] > 0 && !job_result_ok(p + l[0], l[1], rp->qp->jobs.exec))
		return NULL;
	p += l[0] + l[1] + l[2];
	/* Only a failed or timed-out job keeps its data (qr_rec). */
	if (p < end && !job_data_ok(p, (size_t)(end - p)))
		return NULL;
	job = job_new(&rp->qp->jobs, p, (size_t)(end - p), sub);
	memcpy(job->id, id, JOB_ID_LEN);
	job->state = st;
	job->attempts = (uint16_t)a;
	job->worker = (int16_t)w;
	job->truncated = fl[5] > 0 && f[5][0] == '1';
	job_set_times(job, started, finished);
	p -= l[0] + l[1] + l[2];
	t = xstrndup(p, l[0]);
	job->client = job_client_hold(t);
	free(t);
	if (l[1] > 0)
		job_set_result_text(job, p + l[0], l[1]);
	if (l[2] > 0)
		job_set_error(job, xstrndup(p + l[0] + l[1], l[2]));
	return job;
}

/*
 * A job from a fetch's answer: {pool, "r", REC} or {pool, STATE, BLOB,
 * the consumer holding it, attempts}. NULL if malformed.
 */
struct job *
qr_record(struct qr_pool *rp, const char *id, redisReply *r)
{
	const redisReply	*st = r->element[1], *v = r->element[2];
	struct qr_blob		 b;
	struct job		*job;
	int			 i;

	if (st->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
		return NULL;
	if (st->len == 1 && st->str[0] == 'r')
		return qr_rec_job(rp, id, v->str, v->len);
	if (r->elements < 5 || (job = qr_blob_job(rp, id, v->str, v->len,
	    &b)) == NULL)
		return NULL;
	for (i = 0; i < JOB_NSTATES; i++)
		if (strlen(job_state_name(i)) == st->len &&
		    memcmp(job_state_name(i), st->str, st->len) == 0)
			job->state = i;
	if (r->element[4]->type == REDIS_REPLY_INTEGER) {
		if (r->element[4]->integer < 0 ||
		    r->element[4]->integer > QR_ATTEMPTS_MAX) {
			job_free(job);
			return NULL;
		}
		job->attempts = (uint16_t)r->element[4]->integer;
	}
	return job;
}

/* A new entry, held here; its index. */
unsigned
qr_entry_new(struct queue_redis *qr, struct qr_pool *rp, const char *x,
    size_t xlen, const char *origin, size_t olen, const char *slots,
    size_t slen)
{
	struct qr_entry	*e;
	unsigned	 i;

	if (qr->ent_free != 0) {
		i = qr->ent_free;
		qr->ent_free = qr->ents[i].next_free;
	} else {
		if (qr->nents == qr->ents_cap) {
			qr->ents_cap = qr->ents_cap ? qr->ents_cap * 2 : 64;
			qr->ents = xreallocarray(qr->ents, qr->ents_cap,
			    sizeof *qr->ents);
		}
		if (qr->nents == 0)
			qr->nents = 1;	/* 0 stands for none */
		i = (unsigned)qr->nents++;
	}
	e = &qr->ents[i];
	memset(e, 0, sizeof *e);
	if (xlen >= sizeof e->x)
		xlen = sizeof e->x - 1;
	memcpy(e->x, x, xlen);
	e->rp = rp;
	e->used = 1;
	if (olen == strlen(qr->consumer) && memcmp(origin, qr->consumer,
	    olen) == 0)
		e->origin = NULL;
	else
		e->origin = xstrndup(origin, olen);
	e->slots = xstrndup(slots, slen);
	return i;
}

struct qr_entry *
qr_entry_get(struct queue_redis *qr, unsigned i)
{
	if (i == 0 || i >= qr->nents || !qr->ents[i].used)
		return NULL;
	return &qr->ents[i];
}

void
qr_entry_free(struct queue_redis *qr, unsigned i)
{
	struct qr_entry	*e = qr_entry_get(qr, i);

	if (e == NULL)
		return;
	free(e->origin);
	free(e->slots);
	e->origin = e->slots = NULL;
	e->used = 0;
	e->next_free = qr->ent_free;
	qr->ent_free = i;
}

void
qr_entries_free(struct queue_redis *qr)
{
	size_t	i;

	for (i = 1; i < qr->nents; i++)
		if (qr->ents[i].used) {
			free(qr->ents[i].origin);
			free(qr->ents[i].slots);
		}
	free(qr->ents);
}
