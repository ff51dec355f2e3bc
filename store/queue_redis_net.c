/*
 * The cluster queue's side that talks to Redis: submit batches, claims,
 * updates, fetches and cancels, and the node's heartbeat, with which it
 * reaps lost nodes, promotes delayed jobs and looks at the registry.
 * Everything is sent without waiting; replies come back on the loop.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "store/queue.h"
#include "store/queue_redis.h"

/* Jobs per submit or update batch (a script runs alone in Redis). */
#define QR_BATCH_MAX	2000

/* One commit's submits: its acks are answered when every batch is. */
struct qr_round {
	struct queue_redis	*qr;
	struct queue_ack_list	 acks;
	size_t			 left;		/* batches unanswered */
	/* Per job of the round, in push order: its mark and its fate. */
	unsigned long long	*marks;
	const char		**fate;		/* NULL: accepted */
	size_t			 n;
	/* Jobs that took the id of their key's job: what they were. */
	char			(*was)[JOB_ID_LEN + 1];
	struct job		**now;
	size_t			 nalias;
};

/* One pool's part of a round. */
struct qr_batch {
	struct qr_round		*round;
	struct qr_pool		*rp;
	struct job		**jobs;
	size_t			*at;		/* index in the round */
	size_t			 n;
};

static void	qr_round_done(struct qr_round *);

/* Answer each ack with the first refusal among its jobs, or success. */
static void
qr_round_done(struct qr_round *rd)
{
	struct queue_ack	*a;
	size_t			 i = 0;
	const char		*cause;

	rd->qr->answering = rd;
	while ((a = TAILQ_FIRST(&rd->acks)) != NULL) {
		TAILQ_REMOVE(&rd->acks, a, entry);
		for (cause = NULL; i < rd->n && rd->marks[i] <= a->mark; i++)
			if (cause == NULL)
				cause = rd->fate[i];
		a->cb(a->arg, cause);
		free(a);
	}
	rd->qr->answering = NULL;
	free(rd->was);
	free(rd->now);
	free(rd->marks);
	free(rd->fate);
	free(rd);
}

struct job *
qr_alias(const struct queue_redis *qr, const char *id, size_t len)
{
	const struct qr_round	*rd = qr->answering;
	size_t			 i;

	for (i = 0; rd != NULL && len == JOB_ID_LEN && i < rd->nalias; i++)
		if (memcmp(rd->was[i], id, JOB_ID_LEN) == 0)
			return rd->now[i];
	return NULL;
}

/*
 * A job goes out in a submit: known (and counted) here from now on, as a
 * shadow, so that its end is understood even if it comes (on the other
 * link) before the submit's answer.
 */
static void
qr_sent(struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	qp->submitted++;
	qp->jobs.state[job->state]++;
	job_set_seg(job, QR_SHADOW | QR_SENT);
	job_table_add(job);
}

/* Its submit was answered yes. */
static void
qr_accept(struct job *job)
{
	if (job_seg(job) & QR_SENT)
		job_set_seg(job, QR_SHADOW);
}

/*
 * Answered no: forgotten, uncounted. A job that moved on meanwhile (it
 * ran, here or elsewhere: Redis did take it before the link dropped)
 * stays; its client was told "unavailable", which promises nothing, and
 * so is whoever waits for it here (it was listed, with its id, by
 * `jobs`): nothing here will hear of it again.
 */
static void
qr_refuse(struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	qp->rejected++;
	if ((job_seg(job) & QR_SENT) == 0 || job_state_terminal(job->state))
		return;
	job_waiters_gone(job, "unavailable: was not acknowledged: the "
	    "cluster's Redis did not answer its submit, which may or may not "
	    "have reached it");
	qp->submitted--;
	qp->jobs.state[job->state]--;
	job_table_remove(job);
	job_free(job);
}

/* The key's job, another node's: this one takes its id. */
static int
qr_rename(struct qr_round *rd, struct job *job, const char *id)
{
	struct queue_pool	*qp = job_queue_pool(job);
	struct job		*known = job_table_find(id, JOB_ID_LEN);

	if ((job_seg(job) & QR_SENT) == 0)
		return -1;
	rd->was = xreallocarray(rd->was, rd->nalias + 1, sizeof *rd->was);
	rd->now = xreallocarray(rd->now, rd->nalias + 1, sizeof *rd->now);
	memcpy(rd->was[rd->nalias], job->id, JOB_ID_LEN + 1);
	rd->now[rd->nalias++] = known != NULL ? known : job;
	job_table_remove(job);
	if (known != NULL) {
		/* Known here already (it came to run here): that one. */
		qp->submitted--;
		qp->jobs.state[job->state]--;
		job_free(job);
		return 0;
	}
	memcpy(job->id, id, JOB_ID_LEN);
	job_table_add(job);
	job_set_seg(job, QR_SHADOW);
	qr_watch(rd->qr, job);
	return 0;
}

static void
qr_submit_cb(void *arg, redisReply *r)
{
	struct qr_batch		*b = arg;
	struct qr_round		*rd = b->round;
	struct job		*job;
	const redisReply	*e;
	size_t			 i;

	for (i = 0; i < b->n; i++) {
		job = b->jobs[i];
		if (r != NULL && r->type == REDIS_REPLY_INTEGER &&
		    r->integer == (long long)b->n) {
			qr_accept(job);
			continue;
		}
		e = r != NULL && r->type == REDIS_REPLY_ARRAY &&
		    i < r->elements ? r->element[i] : NULL;
		if (e == NULL || e->type != REDIS_REPLY_STRING) {
			rd->fate[b->at[i]] = r == NULL ? "unavailable: the "
			    "link to the cluster's Redis was lost before it "
			    "answered: the submit may or may not have been "
			    "taken" : "unavailable: Redis refused the submit; "
			    "nothing was accepted";
			qr_refuse(job);
		} else if (e->len == 0)
			qr_accept(job);
		else if (e->str[0] == '=' && job_id_ok(e->str + 1, e->len - 1) &&
		    qr_rename(rd, job, e->str + 1) == 0)
			;
		else {
			rd->fate[b->at[i]] = strcmp(e->str, "!queue_full") == 0 ?
			    "queue_full: the pool's queue is full across the "
			    "cluster (max_queue); nothing was accepted" :
			    e->str[0] == '=' ? "unavailable: the key's job is "
			    "known here under another id; nothing was "
			    "accepted" : "unavailable: Redis gave an answer "
			    "this node does not know: the submit may or may "
			    "not have been taken";
			qr_refuse(job);
		}
	}
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("cluster: submit to %s: %s", b->rp->name, r->str);
	free(b->jobs);
	free(b->at);
	free(b);
	if (--rd->left == 0)
		qr_round_done(rd);
}

/* A job that needs the script's attention: alone in its entry. */
static int
qr_special(const struct job *job)
{
	return job_key(job) != NULL || job_not_before(job) > 0;
}

/*
 * One entry's arguments: IDS, BLOBS (each "LEN\n" and the blob), SLOTS
 * and "" or, for a job with a key or a due time, "NOT_BEFORE\nKEYNAME".
 */
static void
qr_entry_args(struct redis_args *a, struct job **jobs, size_t n,
    struct buf *scratch)
{
	struct buf	*b;
	const char	*key, *client;
	size_t		 i;

	b = redis_args_open(a);
	for (i = 0; i < n; i++)
		buf_append(b, jobs[i]->id, JOB_ID_LEN);
	redis_args_close(a);
	b = redis_args_open(a);
	for (i = 0; i < n; i++) {
		buf_reset(scratch);
		qr_blob(scratch, jobs[i]);
		buf_append_uint(b, buf_used(scratch));
		buf_append(b, "\n", 1);
		buf_append(b, buf_head(scratch), buf_used(scratch));
	}
	redis_args_close(a);
	/* The first 11 hex digits of the ids, each once (ids ascend). */
	b = redis_args_open(a);
	for (i = 0; i < n; i++)
		if (i == 0 || memcmp(jobs[i]->id, jobs[i - 1]->id, 11) != 0)
			buf_append(b, jobs[i]->id, 11);
	redis_args_close(a);
	b = redis_args_open(a);
	if (n == 1 && qr_special(jobs[0])) {
		qr_put_time(b, job_not_before(jobs[0]));
		buf_append(b, "\n", 1);
		if ((key = job_key(jobs[0])) != NULL) {
			client = jobs[0]->client != NULL ? jobs[0]->client :
			    "default";
			buf_append_uint(b, strlen(client));
			buf_append(b, ":", 1);
			buf_append_str(b, client);
			buf_append_str(b, key);
		}
	}
	redis_args_close(a);
}

/*
 * Each job's request, numbered in push order: the acks' marks bound them
 * (jobs pushed after the last ack, with none of their own, share one).
 */
static size_t *
qr_requests(const struct qr_round *rd)
{
	const struct queue_ack	*a = TAILQ_FIRST(&rd->acks);
	size_t			*req, i, r = 0;

	req = xcalloc(rd->n ? rd->n : 1, sizeof *req);
	for (i = 0; i < rd->n; i++) {
		while (a != NULL && rd->marks[i] > a->mark) {
			a = TAILQ_NEXT(a, entry);
			r++;
		}
		req[i] = r;
	}
	return req;
}

/*
 * Send the jobs of rp among the round's, in one script call. A request's
 * jobs go in one call, even past QR_BATCH_MAX, so that the script takes
 * all of them or none (SPEC: a submit_many is all or nothing).
 */
static void
qr_send_pool(struct queue_redis *qr, struct qr_round *rd, struct qr_pool *rp,
    struct job **jobs, size_t n, const size_t *req)
{
	struct qr_batch		*b = xcalloc(1, sizeof *b);
	struct redis_args	 a;
	struct buf		 scratch = BUF_INIT;
	size_t			 i, at;

	b->round = rd;
	b->rp = rp;
	b->jobs = xcalloc(n, sizeof *b->jobs);
	b->at = xcalloc(n, sizeof *b->at);
	redis_args_init(&a);
	redis_args_str(&a, rp->kq);
	redis_args_str(&a, rp->kd);
	redis_args_str(&a, rp->pre);
	redis_args_str(&a, rp->name);
	redis_args_fmt(&a, "%ld", rp->qp->max_queue);
	qr_put_time(redis_args_open(&a), ev_now(qr->q->loop));
	redis_args_close(&a);
	redis_args_str(&a, qr->consumer);
	for (i = 0; i < n; i++) {
		if (jobs[i] == NULL || job_queue_pool(jobs[i]) != rp->qp)
			continue;
		if (b->n >= QR_BATCH_MAX && req[i] != req[b->at[b->n - 1]])
			break;
		b->jobs[b->n] = jobs[i];
		b->at[b->n++] = i;
		jobs[i] = NULL;
		qr_sent(b->jobs[b->n - 1]);
	}
	/*
	 * Runs of plain jobs in entries of QR_ENTRY_MAX, the others alone;
	 * an entry that begins a request begins a unit of the script's.
	 */
	for (i = 0; i < b->n; i = at) {
		at = i + 1;
		if (!qr_special(b->jobs[i]))
			while (at < b->n && at - i < QR_ENTRY_MAX &&
			    !qr_special(b->jobs[at]))
				at++;
		qr_entry_args(&a, b->jobs + i, at - i, &scratch);
		redis_args_str(&a, i == 0 || req[b->at[i]] != req[b->at[i - 1]] ?
		    "1" : "");
	}
	buf_free(&scratch);
	rd->left++;
	qr->batches++;
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_SUBMIT], 2,
	    qr_submit_cb, b, &a) == -1)
		qr_submit_cb(b, NULL);
	redis_args_free(&a);
}

/* The pending submits: one batch per pool (and per QR_BATCH_MAX). */
static void
qr_submit(struct queue_redis *qr)
{
	struct qr_round	*rd = xcalloc(1, sizeof *rd);
	struct job	**jobs, *job;
	size_t		  i, n = qr->npending, *req;

	rd->qr = qr;
	TAILQ_INIT(&rd->acks);
	queue_acks_move(qr->q, &rd->acks);
	rd->n = n;
	rd->marks = qr->marks;
	rd->fate = xcalloc(n ? n : 1, sizeof *rd->fate);
	qr->marks = NULL;
	qr->nmarks = qr->marks_cap = 0;
	jobs = xcalloc(n, sizeof *jobs);
	for (i = 0; (job = TAILQ_FIRST(&qr->pending)) != NULL; i++) {
		TAILQ_REMOVE(&qr->pending, job, entry);
		job_queue_pool(job)->pending_len--;
		jobs[i] = job;
	}
	qr->npending = 0;
	req = qr_requests(rd);
	rd->left = 1;	/* until every batch is sent */
	for (i = 0; i < n; i++)
		if (jobs[i] != NULL)
			qr_send_pool(qr, rd, qr_pool_of(qr,
			    job_queue_pool(jobs[i])), jobs, n, req);
	free(req);
	free(jobs);
	if (--rd->left == 0)
		qr_round_done(rd);
}

/* Updates sent: kept until answered, sent again if the link drops. */
struct qr_sent {
	struct qr_pool		*rp;
	struct redis_args	 a;		/* the job fields only */
	size_t			 n;
};

static void
qr_update_cb(void *arg, redisReply *r)
{
	struct qr_sent	*sent = arg;
	struct qr_pool	*rp = sent->rp;
	size_t		 i, k;

	if (r == NULL) {
		/* Redis may not have them: again with the next commit. */
		for (k = 0; k < sent->a.n; k++)
			redis_args_add(&rp->upd, buf_head(&sent->a.data) +
			    sent->a.off[k], sent->a.off[k + 1] - sent->a.off[k]);
		rp->nupd += sent->n;
		rp->again = 1;
	} else if (r->type == REDIS_REPLY_ERROR)
		log_warnx("cluster: pool %s: update: %s", rp->name, r->str);
	for (i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY &&
	    i < r->elements; i++)
		log_warnx("cluster: job %.*s: this node's attempt was "
		    "taken over (its lease ran out); its end here is ignored",
		    (int)r->element[i]->len, r->element[i]->str);
	redis_args_free(&sent->a);
	free(sent);
}

/* Field k of rp->upd. */
static const char *
qr_upd_field(const struct qr_pool *rp, size_t k, size_t *len)
{
	*len = rp->upd.off[k + 1] - rp->upd.off[k];
	return buf_head(&rp->upd.data) + rp->upd.off[k];
}

static int
qr_upd_same(const struct qr_pool *rp, size_t j1, size_t j2, size_t f)
{
	size_t		 l1, l2;
	const char	*a = qr_upd_field(rp, j1 * QR_UPDATE_FIELDS + f, &l1);
	const char	*b = qr_upd_field(rp, j2 * QR_UPDATE_FIELDS + f, &l2);

	return l1 == l2 && memcmp(a, b, l1) == 0;
}

/*
 * Add n jobs' updates of rp, from job `from` of rp->upd, to a in the
 * script's form: runs of jobs of one entry, origin, op and bucket (a
 * keyed job alone), each run after its entry, origin, done, op, key
 * name, bucket and count.
 */
static void
qr_upd_groups(struct qr_pool *rp, struct redis_args *a, size_t from,
    size_t n)
{
	size_t		 j, e, k, len, klen, done;
	const char	*p;
	static const int head[] = { 1, 4, -1, 0, 5 };

	for (j = from; j < from + n; j = e) {
		done = SIZE_MAX;
		for (e = j; e < from + n; e++) {
			qr_upd_field(rp, e * QR_UPDATE_FIELDS + 5, &klen);
			if (e > j && (klen > 0 || !qr_upd_same(rp, j, e, 1) ||
			    !qr_upd_same(rp, j, e, 4) ||
			    !qr_upd_same(rp, j, e, 0) ||
			    memcmp(qr_upd_field(rp, j * QR_UPDATE_FIELDS + 2,
			    &len), qr_upd_field(rp, e * QR_UPDATE_FIELDS + 2,
			    &len), 9) != 0))
				break;
			qr_upd_field(rp, e * QR_UPDATE_FIELDS + 6, &len);
			if (len > 0)
				done = e;
			if (klen > 0) {
				/* A keyed job: alone. */
				e++;
				break;
			}
		}
		for (k = 0; k < 5; k++) {
			if (head[k] < 0) {
				p = qr_upd_field(rp, (done != SIZE_MAX ? done : j) *
				    QR_UPDATE_FIELDS + 6, &len);
				redis_args_add(a, p, done != SIZE_MAX ? len : 0);
				continue;
			}
			p = qr_upd_field(rp, j * QR_UPDATE_FIELDS +
			    (size_t)head[k], &len);
			redis_args_add(a, p, len);
		}
		redis_args_add(a, qr_upd_field(rp, j * QR_UPDATE_FIELDS + 2,
		    &len), 9);
		buf_append_uint(redis_args_open(a), e - j);
		redis_args_close(a);
		for (; j < e; j++)
			for (k = 2; k <= 3; k++) {
				p = qr_upd_field(rp, j * QR_UPDATE_FIELDS + k,
				    &len);
				redis_args_add(a, p, len);
			}
	}
}

/* Send n jobs' updates of rp, from job `from` of rp->upd. */
static int
qr_send_chunk(struct queue_redis *qr, struct qr_pool *rp, size_t from,
    size_t n)
{
	struct redis_args	 a;
	struct qr_sent		*sent = xcalloc(1, sizeof *sent);
	size_t			 k, len;
	const char		*p;
	int			 rc;

	redis_args_init(&a);
	redis_args_str(&a, rp->kq);
	redis_args_str(&a, rp->pre);
	redis_args_str(&a, rp->name);
	redis_args_str(&a, qr->consumer);
	redis_args_fmt(&a, "%.0f", (*qr->q->cfgp)->result_ttl > 1 ?
	    (*qr->q->cfgp)->result_ttl : 1);
	redis_args_str(&a, rp->again ? "1" : "0");
	redis_args_fmt(&a, "%ld", (*qr->q->cfgp)->result_max);
	sent->rp = rp;
	sent->n = n;
	for (k = from * QR_UPDATE_FIELDS; k < (from + n) * QR_UPDATE_FIELDS;
	    k++) {
		p = qr_upd_field(rp, k, &len);
		redis_args_add(&sent->a, p, len);
	}
	qr_upd_groups(rp, &a, from, n);
	rc = redis_link_eval(qr->link, qr->script[QR_SCRIPT_UPDATE], 1,
	    qr_update_cb, sent, &a);
	if (rc == -1) {
		redis_args_free(&sent->a);
		free(sent);
	} else
		qr->batches++;
	redis_args_free(&a);
	return rc;
}

/* The updates of each pool (kept while Redis is away), in batches. */
static void
qr_send_updates(struct queue_redis *qr)
{
	struct qr_pool		*rp;
	struct redis_args	 rest;
	size_t			 i, at, n, k;

	for (i = 0; i < qr->npools; i++) {
		rp = qr->pools[i];
		for (at = 0; at < rp->nupd && qr_ready(qr); at += n) {
			n = rp->nupd - at < QR_BATCH_MAX ? rp->nupd - at :
			    QR_BATCH_MAX;
			if (qr_send_chunk(qr, rp, at, n) == -1)
				break;
		}
		if (at == 0)
			continue;
		/* Keep what was not sent. */
		redis_args_init(&rest);
		for (k = at * QR_UPDATE_FIELDS; k < rp->upd.n; k++)
			redis_args_add(&rest, buf_head(&rp->upd.data) +
			    rp->upd.off[k], rp->upd.off[k + 1] - rp->upd.off[k]);
		redis_args_free(&rp->upd);
		rp->upd = rest;
		rp->nupd -= at;
		if (rp->nupd == 0)
			rp->again = 0;
	}
}

void
qr_net_commit(struct queue_redis *qr)
{
	if (qr->npending > 0)
		qr_submit(qr);
	qr_send_updates(qr);
}

struct qr_claim {
	struct queue_redis	*qr;
	struct qr_pool		*rp;
	unsigned		 want;
};

/* How many jobs an entry's fields hold (the length of its ids). */
static size_t
qr_entry_jobs(const redisReply *f)
{
	size_t	i;

	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, "i") == 0)
			return f->element[i + 1]->len / JOB_ID_LEN;
	return 0;
}

/*
 * A claim Redis refused. Claims are tried at every heartbeat and every
 * word of new work, so an error that stays (Redis out of memory, a
 * stream without its consumer group) is logged when it starts, then at
 * most every QR_CLAIM_LOG_EVERY with how many failed since, and once when
 * claims succeed again.
 */
#define QR_CLAIM_LOG_EVERY	60.0

static void
qr_claim_failed(struct queue_redis *qr, struct qr_pool *rp, const char *err)
{
	double	now = ev_now(qr->q->loop);

	rp->claim_errors++;
	if (rp->claim_failing && now - rp->claim_logged_at < QR_CLAIM_LOG_EVERY)
		return;
	if (!rp->claim_failing)
		log_warnx("cluster: pool %s: claims fail: %s%s", rp->name, err,
		    strncmp(err, "NOGROUP", 7) == 0 ? " (the stream is in Redis "
		    "without mpsup's consumer group: see README, Cluster)" : "");
	else
		log_warnx("cluster: pool %s: claims still fail (%lu since the "
		    "last line): %s", rp->name, rp->claim_errors, err);
	rp->claim_failing = 1;
	rp->claim_logged_at = now;
	rp->claim_errors = 0;
}

static void
qr_claim_cb(void *arg, redisReply *r)
{
	struct qr_claim		*c = arg;
	struct qr_pool		*rp = c->rp;
	size_t			 i, jobs = 0;

	rp->claiming = 0;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		qr_claim_failed(c->qr, rp, r->str);
	else if (r != NULL && rp->claim_failing) {
		log_info("cluster: pool %s: claims succeed again", rp->name);
		rp->claim_failing = 0;
	}
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && !rp->qp->removed) {
		for (i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_ARRAY &&
			    r->element[i]->elements == 2 &&
			    r->element[i]->element[1]->type ==
			    REDIS_REPLY_ARRAY) {
				qr_took(c->qr, rp, r->element[i]);
				jobs += qr_entry_jobs(r->element[i]->element[1]);
			}
		rp->more = jobs >= c->want;
		if (r->elements > 0)
			c->qr->q->ev->runnable(rp->qp, c->qr->q->arg);
	}
	free(c);
}

void
qr_net_claim(struct queue_redis *qr, struct qr_pool *rp, unsigned n)
{
	struct qr_claim		*c = xcalloc(1, sizeof *c);
	struct redis_args	 a;

	c->qr = qr;
	c->rp = rp;
	c->want = n;
	redis_args_init(&a);
	redis_args_str(&a, rp->kq);
	redis_args_str(&a, rp->pre);
	redis_args_str(&a, qr->consumer);
	redis_args_fmt(&a, "%u", n);
	rp->claiming = 1;
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_CLAIM], 1,
	    qr_claim_cb, c, &a) == -1) {
		rp->claiming = 0;
		free(c);
	}
	redis_args_free(&a);
}
