/*
 * The cluster queue (SPEC section 12; the model is in queue_redis.h):
 * the jobs this node holds, on top of the memory queue. Jobs claimed
 * from Redis wait in the memory queue's FIFOs and run as any job does;
 * their new attempts and their ends go back to Redis with the next
 * commit. Jobs accepted here stay known here (shadows) until a message
 * says they ended, wherever they ran.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
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
	return (unsigned)(qp->queue_len + qp->jobs.state[JOB_RUNNING]);
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

	n = queue_memory_claim(q, qp, out, max);
	if (qp->removed || !qr_ready(qr))
		return n;
	/*
	 * Take more while these run: at most what the workers hold, once
	 * half of it is free (or the local queue ran dry).
	 */
	rp = qr_pool_of(qr, qp);
	held = qr_held(qp) + (unsigned)n;
	if (!rp->claiming && held < qp->capacity &&
	    (n < max || held <= qp->capacity / 2))
		qr_net_claim(qr, rp, qp->capacity - held);
	return n;
}

/* Record an attempt's start in Redis (with the next commit). */
static void
qr_update(struct qr_pool *rp, const char *op, struct job *job)
{
	struct redis_args	*a = &rp->upd;
	const char		*s;

	redis_args_str(a, op);
	redis_args_add(a, job->id, JOB_ID_LEN);
	redis_args_fmt(a, "%u", job->attempts);
	redis_args_str(a, job_state_name(job->state));
	s = job_result(job);
	redis_args_str(a, s != NULL ? s : "");
	s = job_error(job);
	redis_args_str(a, s != NULL ? s : "");
	redis_args_fmt(a, "%d", job->worker);
	redis_args_fmt(a, "%.6f", job_started_at(job));
	redis_args_fmt(a, "%.6f", job_finished_at(job));
	redis_args_str(a, job->truncated ? "1" : "0");
	rp->nupd++;
}

static void
qr_started(struct queue *q, struct job *job)
{
	uint64_t	seg = job_seg(job);

	if ((seg & QR_LOCAL) == 0 || QR_ATTEMPTS(seg) == job->attempts)
		return;
	job_set_seg(job, QR_LOCAL | job->attempts);
	qr_update(qr_pool_of(QR(q), job_queue_pool(job)), "a", job);
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

	if ((job_seg(job) & QR_LOCAL) && !qp->removed)
		qr_update(qr_pool_of(QR(q), qp), "f", job);
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
		qr_update(qr_pool_of(qr, qp), "r", job);
}

static void
qr_commit(struct queue *q, int all)
{
	struct queue_redis	*qr = QR(q);
	size_t			 i;

	if (all)
		job_table_foreach(qr_release_one, qr);
	qr_net_commit(qr);
	if (!all)
		return;
	/* At exit: wait (a little) for Redis to take what was sent. */
	for (i = 0; i < 200 && redis_link_up(qr->link) &&
	    redis_link_outstanding(qr->link) > 0; i++)
		ev_run(q->loop, EVRUN_ONCE);
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
	for (i = 0; i < qr->npools; i++) {
		redis_args_free(&qr->pools[i]->upd);
		free(qr->pools[i]->name);
		free(qr->pools[i]->pre);
		free(qr->pools[i]->kq);
		free(qr->pools[i]->kd);
		free(qr->pools[i]);
	}
	free(qr->pools);
	free(qr->marks);
	free(qr->label);
	free(qr->node);
	free(qr->consumer);
	free(qr);
	queue_memory_close(q);
}

/* One field of a claim's answer, as a string. */
static const char *
qr_str(const redisReply *r, size_t i, size_t *len)
{
	static const char	empty[] = "";

	if (i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING) {
		if (len != NULL)
			*len = 0;
		return empty;
	}
	if (len != NULL)
		*len = r->element[i]->len;
	return r->element[i]->str;
}

/* A job of ours came back to run here: it leaves the shadows. */
static int
qr_took_shadow(struct qr_pool *rp, const char *id, unsigned attempts)
{
	struct job	*job = job_table_find(id, JOB_ID_LEN);

	if (job == NULL || (job_seg(job) & QR_SHADOW) == 0 ||
	    job_queue_pool(job) != rp->qp || job->state != JOB_QUEUED)
		return 0;
	/* The claim counted the attempt its start makes (see qr_started). */
	job->attempts = (uint16_t)(attempts - 1);
	job_set_seg(job, QR_LOCAL | attempts);
	queue_flow_add(rp->qp, job, 0);
	return 1;
}

/*
 * {id, attempts, data, client, key, submitted_at, priority, group, o}: a
 * job taken from the stream; it runs here.
 */
void
qr_took(struct queue_redis *qr, struct qr_pool *rp, redisReply *r)
{
	struct job_flow_spec	 spec;
	struct job		*job;
	const char		*id, *s;
	size_t			 len;
	unsigned		 attempts;

	id = qr_str(r, 0, &len);
	attempts = r->elements > 1 && r->element[1]->type ==
	    REDIS_REPLY_INTEGER ? (unsigned)r->element[1]->integer : 1;
	if (len != JOB_ID_LEN || attempts == 0) {
		log_warnx("cluster: pool %s: a malformed job in Redis skipped",
		    rp->name);
		return;
	}
	if (qr_took_shadow(rp, id, attempts))
		return;
	if (job_table_find(id, JOB_ID_LEN) != NULL) {
		log_warnx("cluster: job %s taken twice; the second ignored", id);
		return;
	}
	s = qr_str(r, 2, &len);
	job = job_new(&rp->qp->jobs, s, len, strtod(qr_str(r, 5, NULL), NULL));
	memcpy(job->id, id, JOB_ID_LEN);
	s = qr_str(r, 3, &len);
	job->client = job_client_intern(len > 0 ? s : "default");
	s = qr_str(r, 4, &len);
	if (len > 0 && job_key_find(job->client, s) == NULL)
		job_key_set(job, s);
	memset(&spec, 0, sizeof spec);
	spec.priority = atoi(qr_str(r, 6, NULL));
	s = qr_str(r, 7, &len);
	spec.group = len > 0 ? s : NULL;
	if (spec.priority != 0 || spec.group != NULL)
		job_flow_set(job, &spec);
	job->attempts = (uint16_t)(attempts - 1);
	job_set_seg(job, QR_LOCAL | attempts);
	queue_memory_enqueue(qr->q, rp->qp, job);
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

static enum job_state
qr_state_named(const char *s, size_t len)
{
	int	i;

	for (i = 0; i < JOB_NSTATES; i++)
		if (strlen(job_state_name(i)) == len &&
		    memcmp(job_state_name(i), s, len) == 0)
			return (enum job_state)i;
	return JOB_NSTATES;
}

/* Split msg at the next newline: the field, and where the rest starts. */
static const char *
qr_field(const char **p, const char *end, size_t *len)
{
	const char	*s = *p, *nl = memchr(s, '\n', (size_t)(end - s));

	if (nl == NULL)
		return NULL;
	*len = (size_t)(nl - s);
	*p = nl + 1;
	return s;
}

/*
 * "pool\nid\nstate\nattempts\nworker\nstarted\nfinished\ntruncated\n
 * RLEN\n" then the result and the error: a job we know ended.
 */
void
qr_ended(struct queue_redis *qr, const char *msg, size_t len)
{
	const char	*p = msg, *end = msg + len, *f[9];
	size_t		 fl[9], i, rlen;
	struct job	*job;
	enum job_state	 state;

	for (i = 0; i < 9; i++)
		if ((f[i] = qr_field(&p, end, &fl[i])) == NULL)
			return;
	rlen = strtoul(f[8], NULL, 10);
	if (fl[1] != JOB_ID_LEN || rlen > (size_t)(end - p) ||
	    (job = job_table_find(f[1], JOB_ID_LEN)) == NULL ||
	    (job_seg(job) & QR_SHADOW) == 0 ||
	    job_state_terminal(job->state) ||
	    !job_state_terminal(state = qr_state_named(f[2], fl[2])))
		return;
	job->attempts = (uint16_t)strtoul(f[3], NULL, 10);
	job->worker = (int16_t)atoi(f[4]);
	job->truncated = f[7][0] == '1';
	job_set_result(job, rlen > 0 ? xstrndup(p, rlen) : NULL);
	job_set_error(job, end - p > (ptrdiff_t)rlen ?
	    xstrndup(p + rlen, (size_t)(end - p) - rlen) : NULL);
	qr_shadow_end(job, state, strtod(f[5], NULL), strtod(f[6], NULL));
	job->dead = 0;
	queue_memory_keep(qr->q, job);
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
	job_set_result(job, r != NULL ? xstrdup(r) : NULL);
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
