/*
 * The cluster queue (SPEC section 12; the model is in queue_redis.h):
 * the jobs this node holds, on top of the memory queue. Jobs claimed
 * from Redis wait in the memory queue's FIFOs and run as any job does;
 * their new attempts and their ends go back to Redis with the next
 * commit. Jobs accepted here stay known here (shadows) until a message
 * says they ended, wherever they ran.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "store/queue.h"
#include "store/queue_redis.h"

struct qr_pool *
qr_pool_of(struct queue_redis *qr, const struct queue_pool *qp)
{
	struct qr_pool	*rp;
	size_t		 i;

	for (i = 0; i < qr->npools; i++)
		if (qr->pools[i]->qp == qp)
			return qr->pools[i];
	rp = xcalloc(1, sizeof *rp);
	rp->qp = (struct queue_pool *)qp;
	rp->qr = qr;
	rp->name = xstrdup(qp->jobs.name);
	xasprintf(&rp->pre, "mpsup:{%s}:", rp->name);
	xasprintf(&rp->kq, "%sq", rp->pre);
	xasprintf(&rp->kd, "%sd", rp->pre);
	redis_args_init(&rp->upd);
	qr->pools = xreallocarray(qr->pools, qr->npools + 1,
	    sizeof *qr->pools);
	qr->pools[qr->npools++] = rp;
	return rp;
}

/* The attached pool of that name (NULL: not served here). */
struct qr_pool *
qr_pool_named(struct queue_redis *qr, const char *name)
{
	struct queue_pool	*qp = queue_pool_find(qr->q, name);

	return qp != NULL ? qr_pool_of(qr, qp) : NULL;
}

/* Jobs claimed here that have not ended. */
static unsigned
qr_held(const struct queue_pool *qp)
{
	/* Not jobs.state[JOB_RUNNING]: shadows run on other nodes. */
	return (unsigned)(qp->queue_len + qp->flow.holding);
}

static int
qr_push(struct queue *q, struct queue_pool *qp, struct job *job,
    const char **err)
{
	struct queue_redis	*qr = QR(q);

	if (!qr_ready(qr)) {
		qp->rejected++;
		qr->unavailable++;
		*err = "unavailable";
		job_free(job);
		return -1;
	}
	TAILQ_INSERT_TAIL(&qr->pending, job, entry);
	if (qr->nmarks == qr->marks_cap) {
		qr->marks_cap = qr->marks_cap ? qr->marks_cap * 2 : 256;
		qr->marks = xreallocarray(qr->marks, qr->marks_cap,
		    sizeof *qr->marks);
	}
	qr->marks[qr->nmarks++] = q->pushes;
	qr->npending++;
	qp->pending_len++;
	return 1;
}

static int
qr_job_pending(const struct queue *q, const struct job *job)
{
	return job_seg(job) == 0 || (job_seg(job) & QR_SENT);
}

static int
qr_job_remote(const struct queue *q, const struct job *job)
{
	return (job_seg(job) & QR_SHADOW) != 0;
}

static struct job *
qr_lookup(struct queue *q, const char *id, size_t len)
{
	struct job	*job = queue_memory_lookup(q, id, len);

	return job != NULL ? job : qr_alias(QR(q), id, len);
}

static size_t
qr_claim(struct queue *q, struct queue_pool *qp, struct job **out,
    size_t max)
{
	struct queue_redis	*qr = QR(q);
	struct qr_pool		*rp;
	size_t			 n;
	unsigned		 held;

	if (!qr_lease_held(qr))
		return 0;
	n = queue_memory_claim(q, qp, out, max);
	if (qp->removed || !qr_ready(qr))
		return n;
	/*
	 * Take more while these run: at most what the workers hold, once
	 * half of it is free (or the local queue ran dry).
	 */
	rp = qr_pool_of(qr, qp);
	held = qr_held(qp);
	if (!rp->claiming && held < qp->capacity &&
	    (n < max || held <= qp->capacity / 2))
		qr_net_claim(qr, rp, qp->capacity - held);
	return n;
}

/*
 * A change of a local job for Redis, with the next commit: op, its
 * entry, id, value, origin, key name, done (see the update script).
 */
static void
qr_update(struct queue_redis *qr, struct qr_pool *rp, const char *op,
    struct job *job)
{
	struct redis_args	*a = &rp->upd;
	unsigned		 ei = QR_ENTRY(job_seg(job));
	struct qr_entry		*e = qr_entry_get(qr, ei);
	const char		*key = job_key(job), *client;
	struct buf		*b;
	int			 done = 0;

	if (e == NULL)
		return;
	redis_args_str(a, op);
	redis_args_str(a, e->x);
	redis_args_add(a, job->id, JOB_ID_LEN);
	b = redis_args_open(a);
	if (op[0] == 'f')
		qr_rec(b, job);
	else if (op[0] == 'r')
		qr_blob(b, job);
	else
		buf_append_uint(b, job->attempts);
	redis_args_close(a);
	redis_args_str(a, e->origin != NULL ? e->origin : qr->consumer);
	b = redis_args_open(a);
	if (key != NULL) {
		client = job->client != NULL ? job->client : "default";
		buf_append_uint(b, strlen(client));
		buf_append(b, ":", 1);
		buf_append_str(b, client);
		buf_append_str(b, key);
	}
	redis_args_close(a);
	if (op[0] != 'a' && e->left > 0 && --e->left == 0)
		done = 1;
	redis_args_str(a, done ? e->slots : "");
	if (done)
		qr_entry_free(qr, ei);
	rp->nupd++;
}

static void
qr_started(struct queue *q, struct job *job)
{
	uint64_t	seg = job_seg(job);

	if ((seg & QR_LOCAL) == 0 || QR_ATTEMPTS(seg) == job->attempts)
		return;
	job_set_seg(job, QR_SEG(QR_ENTRY(seg), job->attempts));
	qr_update(QR(q), qr_pool_of(QR(q), job_queue_pool(job)), "a", job);
}

static int
qr_cancel(struct queue *q, struct job *job)
{
	if (job_seg(job) & QR_SHADOW)
		return -1;
	return queue_memory_cancel(q, job);
}

static void
qr_finished(struct queue *q, struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	/* A removed pool's too: its entries must end in Redis. */
	if (job_seg(job) & QR_LOCAL)
		qr_update(QR(q), qr_pool_of(QR(q), qp), "f", job);
	queue_memory_finished(q, job);
}

static void
qr_forget(struct queue *q, struct job *job)
{
}

/* At exit: jobs taken but never started go back for the other nodes. */
static void
qr_release_one(struct job *job, void *arg)
{
	struct queue_redis	*qr = arg;
	struct queue_pool	*qp = job_queue_pool(job);

	if ((job_seg(job) & QR_LOCAL) && job->state == JOB_QUEUED &&
	    !qp->removed)
		qr_update(qr, qr_pool_of(qr, qp), "r", job);
}

/* At exit, how long Redis may take to answer what was sent (seconds). */
#define QR_EXIT_WAIT	3.0

static void
qr_exit_limit_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
}

static void
qr_commit(struct queue *q, int all)
{
	struct queue_redis	*qr = QR(q);
	unsigned long long	 mark;
	ev_timer		 limit;

	if (all)
		job_table_foreach(qr_release_one, qr);
	qr_net_commit(qr);
	if (!all)
		return;
	/*
	 * At exit: wait for Redis to answer what was sent until now (not
	 * what the timers send meanwhile), a few seconds at most.
	 */
	mark = redis_link_sent(qr->link);
	ev_timer_init(&limit, qr_exit_limit_cb, QR_EXIT_WAIT, 0);
	ev_timer_start(q->loop, &limit);
	while (redis_link_up(qr->link) &&
	    !redis_link_answered(qr->link, mark) && ev_is_active(&limit))
		ev_run(q->loop, EVRUN_ONCE);
	ev_timer_stop(q->loop, &limit);
}

static void
qr_commit_if_late(struct queue *q)
{
	if (QR(q)->npending > 0)
		qr_net_commit(QR(q));
}

static int
qr_recover(struct queue *q, unsigned (*max_attempts)(struct queue_pool *),
    char **cause)
{
	/* Nothing here: what an earlier boot held is reaped in Redis. */
	return 0;
}

static void
qr_stats(const struct queue *q, struct queue_stats *st)
{
	const struct queue_redis	*qr = QR(q);

	st->durable = 1;
	st->failing = !redis_link_up(qr->link);
	st->commits = qr->batches;
}

static void
qr_pool_free(struct qr_pool *rp)
{
	redis_args_free(&rp->upd);
	free(rp->name);
	free(rp->pre);
	free(rp->kq);
	free(rp->kd);
	free(rp);
}

struct qr_release {
	struct queue_redis	*qr;
	struct queue_pool	*qp;
	struct job		**jobs;
	size_t			 n, cap;
};

static void
qr_release_find(struct job *job, void *arg)
{
	struct qr_release	*r = arg;

	if ((job_seg(job) & QR_LOCAL) == 0 || job_queue_pool(job) != r->qp ||
	    job->state != JOB_QUEUED ||
	    qr_entry_get(r->qr, QR_ENTRY(job_seg(job))) == NULL)
		return;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->jobs = xreallocarray(r->jobs, r->cap, sizeof *r->jobs);
	}
	r->jobs[r->n++] = job;
}

/* A pool removed here: what it held and never started is the others'. */
static void
qr_pool_release(struct queue *q, struct queue_pool *qp)
{
	struct qr_release	r = { QR(q), qp, NULL, 0, 0 };
	size_t			i, n = 0;

	/* Found first: letting go changes the table. */
	job_table_foreach(qr_release_find, &r);
	for (i = 0; i < r.n; i++) {
		if (queue_memory_cancel(q, r.jobs[i]) != 0)
			continue;
		qr_update(r.qr, qr_pool_of(r.qr, qp), "r", r.jobs[i]);
		qr_let_go(r.qr, r.jobs[i], 1);
		n++;
	}
	free(r.jobs);
	r.n = n;
	if (r.n > 0)
		log_info("cluster: pool %s removed here: %zu job%s it held "
		    "went back to the cluster", qp->jobs.name, r.n,
		    r.n == 1 ? "" : "s");
}

/*
 * A pool leaves: forget its part (its entries stay pending in Redis
 * until this node's lease ends, then others take them back).
 */
static void
qr_pool_detach(struct queue *q, struct queue_pool *qp)
{
	struct queue_redis	*qr = QR(q);
	size_t			 i, k;

	for (i = 0; i < qr->npools; i++) {
		if (qr->pools[i]->qp != qp)
			continue;
		for (k = 1; k < qr->nents; k++)
			if (qr->ents[k].used && qr->ents[k].rp == qr->pools[i])
				qr_entry_free(qr, (unsigned)k);
		qr_pool_free(qr->pools[i]);
		qr->pools[i] = qr->pools[--qr->npools];
		return;
	}
}

static void
qr_close(struct queue *q)
{
	struct queue_redis	*qr = QR(q);
	struct job		*job;
	size_t			 i;

	qr_net_close(qr);
	while ((job = TAILQ_FIRST(&qr->pending)) != NULL) {
		TAILQ_REMOVE(&qr->pending, job, entry);
		job_free(job);
	}
	for (i = 0; i < qr->npools; i++)
		qr_pool_free(qr->pools[i]);
	free(qr->pools);
	free(qr->marks);
	qr_entries_free(qr);
	free(qr->label);
	free(qr->node);
	free(qr->consumer);
	free(qr);
	queue_memory_close(q);
}

/* One string of a claim's answer. */
static const char *
qr_str(const redisReply *r, size_t i, size_t *len)
{
	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING) {
		*len = 0;
		return NULL;
	}
	*len = r->element[i]->len;
	return r->element[i]->str;
}

/*
 * A job known here as a shadow came to run here: it leaves the shadows.
 * A shadow may say "running" (a wait here read it running elsewhere):
 * its node was lost and the job given back, to be run again.
 */
static int
qr_took_shadow(struct qr_pool *rp, const char *id, unsigned ei,
    unsigned attempts)
{
	struct job	*job = job_table_find(id, JOB_ID_LEN);

	if (job == NULL || (job_seg(job) & QR_SHADOW) == 0 ||
	    job_queue_pool(job) != rp->qp || job_state_terminal(job->state))
		return 0;
	if (job->state != JOB_QUEUED)
		job_set_state(job, JOB_QUEUED, time_wall());
	/* The claim counted the attempt its start makes (see qr_started). */
	job->attempts = (uint16_t)(attempts - 1);
	job_set_seg(job, QR_SEG(ei, attempts));
	queue_flow_add(rp->qp, job, 0);
	return 1;
}

/*
 * One job of an entry taken: 1 if it is held here now. A job that
 * already ended here comes back when Redis never had its end (lost
 * with a connection, its entry taken back meanwhile): *again is set,
 * and its end is sent again for the new entry.
 */
static int
qr_took_one(struct queue_redis *qr, struct qr_pool *rp, unsigned ei,
    const char *id, size_t idlen, const char *s, size_t len,
    struct job **again)
{
	struct qr_blob	 b;
	struct job	*job;

	*again = NULL;
	if (!job_id_ok(id, idlen) || s == NULL ||
	    qr_blob_parse(s, len, &b) == -1) {
		log_warnx("cluster: pool %s: a malformed job in Redis skipped",
		    rp->name);
		return 0;
	}
	if (qr_took_shadow(rp, id, ei, b.attempts + 1))
		return 1;
	if ((job = job_table_find(id, JOB_ID_LEN)) != NULL) {
		if ((job_seg(job) & QR_LOCAL) && job_state_terminal(job->state) &&
		    job_queue_pool(job) == rp->qp) {
			job_set_seg(job, QR_SEG(ei, job->attempts));
			*again = job;
			return 1;
		}
		log_warnx("cluster: job %.*s taken twice; the second ignored",
		    (int)idlen, id);
		return 0;
	}
	if ((job = qr_blob_job(rp, id, s, len, &b)) == NULL) {
		log_warnx("cluster: pool %s: a malformed job in Redis skipped",
		    rp->name);
		return 0;
	}
	job_set_seg(job, QR_SEG(ei, b.attempts + 1));
	queue_memory_enqueue(qr->q, rp->qp, job);
	return 1;
}

/* Field name of an entry's fields array, or NULL. */
static const char *
qr_field(const redisReply *f, const char *name, size_t *len)
{
	size_t	i;

	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0)
			return qr_str(f, i + 1, len);
	*len = 0;
	return NULL;
}

/*
 * {entry, {o ORIGIN, i IDS, b BLOBS}}: an entry taken from the stream;
 * its jobs run here.
 */
void
qr_took(struct queue_redis *qr, struct qr_pool *rp, redisReply *r)
{
	const redisReply	*f = r->element[1];
	const char		*x, *o, *ids, *p, *end, *nl, *ks;
	size_t			 xl, ol, il, bl, i, len, kl, nagain = 0;
	unsigned		 ei, n = 0;
	struct job		**again;

	x = qr_str(r, 0, &xl);
	o = qr_field(f, "o", &ol);
	ids = qr_field(f, "i", &il);
	p = qr_field(f, "b", &bl);
	ks = qr_field(f, "k", &kl);
	if (x == NULL || o == NULL || ids == NULL || p == NULL || ks == NULL) {
		log_warnx("cluster: pool %s: a malformed entry in Redis "
		    "skipped", rp->name);
		return;
	}
	end = p + bl;
	ei = qr_entry_new(qr, rp, x, xl, o, ol, ks, kl);
	again = xcalloc(il / JOB_ID_LEN + 1, sizeof *again);
	for (i = 0; i + JOB_ID_LEN <= il; i += JOB_ID_LEN) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (len = qr_len(p, (size_t)(nl - p))) == SIZE_MAX)
			break;
		p = nl + 1;
		if (len > (size_t)(end - p))
			break;
		n += (unsigned)qr_took_one(qr, rp, ei, ids + i, JOB_ID_LEN,
		    p, len, &again[nagain]);
		nagain += again[nagain] != NULL;
		p += len;
	}
	/* Skipped jobs stay in Redis with the entry, for the reaper. */
	if (n == 0)
		qr_entry_free(qr, ei);
	else
		qr_entry_get(qr, ei)->left = n;
	for (i = 0; i < nagain; i++) {
		log_warnx("cluster: job %s ended here but Redis did not have "
		    "it: its end is sent again", again[i]->id);
		qr_update(qr, rp, "f", again[i]);
	}
	free(again);
}

/* Walk a shadow to its end by legal steps (it may have run elsewhere). */
static void
qr_shadow_end(struct job *job, enum job_state state, double started,
    double finished)
{
	if (job->state == JOB_DELAYED)
		job_set_state(job, JOB_QUEUED, finished);
	if (state != JOB_CANCELLED || started > 0)
		job_set_state(job, JOB_RUNNING, started > 0 ? started :
		    finished);
	job_set_state(job, state, finished);
}

/*
 * A shadow of ours ended as rec says (a job it was told of). Its pool
 * is the shadow's, found by the id: the pool may have been retired here
 * meanwhile (a gateway pool no live node served for a while).
 */
static void
qr_ended_one(struct queue_redis *qr, const char *id, const char *s,
    size_t len)
{
	struct job	*job = job_table_find(id, JOB_ID_LEN), *rec;

	if (job == NULL)
		qr->ends_unknown++;
	if (job == NULL || (job_seg(job) & QR_SHADOW) == 0 ||
	    job_state_terminal(job->state) ||
	    (rec = qr_rec_job(qr_pool_of(qr, job_queue_pool(job)), id, s,
	    len)) == NULL)
		return;
	qr_shadow_close(qr, job, rec);
	job_free(rec);
}

/* "POOL\n" then "ID\nLEN\nREC" per job: jobs we know ended. */
void
qr_ended(struct queue_redis *qr, const char *msg, size_t len)
{
	const char	*p = msg, *end = msg + len, *nl, *id;
	size_t		 rl;

	if ((nl = memchr(p, '\n', len)) == NULL)
		return;
	for (p = nl + 1; p < end; p += rl) {
		id = p;
		if (end - p < JOB_ID_LEN + 2 || p[JOB_ID_LEN] != '\n')
			return;
		p += JOB_ID_LEN + 1;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    (rl = qr_len(p, (size_t)(nl - p))) == SIZE_MAX)
			return;
		p = nl + 1;
		if (rl > (size_t)(end - p))
			return;
		qr_ended_one(qr, id, p, rl);
	}
}

void
qr_shadow_close(struct queue_redis *qr, struct job *job,
    const struct job *rec)
{
	const char	*r = job_result(rec), *e = job_error(rec);

	if ((job_seg(job) & QR_SHADOW) == 0 || job_state_terminal(job->state) ||
	    !job_state_terminal(rec->state))
		return;
	job->attempts = rec->attempts;
	job->worker = rec->worker;
	job->truncated = rec->truncated;
	if (r != NULL)
		job_set_result_text(job, r, strlen(r));
	else
		job_set_result(job, NULL);
	job_set_error(job, e != NULL ? xstrdup(e) : NULL);
	qr_shadow_end(job, rec->state, job_started_at(rec),
	    job_finished_at(rec));
	job->dead = 0;
	queue_memory_keep(qr->q, job);
}

/* "pool\nid": cancel a job of ours if it runs (or waits) here. */
void
qr_cancel_asked(struct queue_redis *qr, const char *msg, size_t len)
{
	const char	*nl = memchr(msg, '\n', len);
	struct job	*job;

	if (nl == NULL || (size_t)(msg + len - (nl + 1)) != JOB_ID_LEN ||
	    (job = job_table_find(nl + 1, JOB_ID_LEN)) == NULL ||
	    (job_seg(job) & QR_LOCAL) == 0 || job_state_terminal(job->state))
		return;
	log_info("cluster: job %s cancelled from another node", job->id);
	qr->q->ev->cancel(job, qr->q->arg);
}

const struct queue_ops queue_redis_ops = {
	.name = "redis",
	.push = qr_push,
	.job_pending = qr_job_pending,
	.claim = qr_claim,
	.started = qr_started,
	.requeue = queue_memory_requeue,
	.cancel = qr_cancel,
	.finished = qr_finished,
	.dead_release = queue_memory_dead_release,
	.forget = qr_forget,
	.lookup = qr_lookup,
	.lookup_key = queue_memory_lookup_key,
	.commit = qr_commit,
	.commit_if_late = qr_commit_if_late,
	.recover = qr_recover,
	.stats = qr_stats,
	.close = qr_close,
	.job_remote = qr_job_remote,
	.fetch = qr_fetch,
	.cancel_remote = qr_cancel_remote,
	.pool_release = qr_pool_release,
	.pool_detach = qr_pool_detach,
};

struct queue *
queue_open_cluster(const struct queue_cluster_opts *o, struct ev_loop *loop,
    struct config *const *cfgp, const struct queue_events *ev, void *arg,
    char **cause)
{
	struct queue		*q = queue_new(loop, cfgp, ev, arg);
	struct queue_redis	*qr = xcalloc(1, sizeof *qr);

	qr->q = q;
	q->impl = qr;
	q->ops = &queue_redis_ops;
	TAILQ_INIT(&qr->pending);
	if (qr_net_open(qr, o, cause) == -1) {
		qr_close(q);
		return NULL;
	}
	return q;
}
