/*
 * The node's lease, on its own side. Other nodes take back what this
 * one holds once its lease has run out in Redis (the reap script), so a
 * node that could not renew it for a while (frozen, cut off, Redis
 * away) must not start more of what it holds: its entries may have been
 * given to others already. It holds off until a renewal is answered,
 * then asks Redis which of its entries are still its own, and lets go
 * of the jobs of the others that have not started (those that run are
 * fenced when they end).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "store/queue.h"
#include "store/queue_redis.h"

/* Renewals come every lease / 3; held off after two missed. */
#define QR_LEASE_SLACK	0.8

int
qr_lease_held(struct queue_redis *qr)
{
	if (qr->lease_stale)
		return 0;
	if (ev_now(qr->q->loop) - qr->lease_at < qr->lease * QR_LEASE_SLACK)
		return 1;
	if (qr->lease_at > 0)
		log_warnx("cluster: lease not renewed for %.1fs: starting no "
		    "more jobs until Redis answers",
		    ev_now(qr->q->loop) - qr->lease_at);
	qr->lease_stale = 1;
	return 0;
}

struct qr_lost {
	struct queue_redis	*qr;
	unsigned		 ei;
	unsigned		 dropped, running;
	struct job		**jobs;		/* of entry ei */
	size_t			 n, cap;
};

static void
qr_lost_find(struct job *job, void *arg)
{
	struct qr_lost		*l = arg;
	uint64_t		 seg = job_seg(job);

	if ((seg & QR_LOCAL) == 0 || QR_ENTRY(seg) != l->ei)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->jobs = xreallocarray(l->jobs, l->cap, sizeof *l->jobs);
	}
	l->jobs[l->n++] = job;
}

/* A job of a lost entry: let it go, or leave it to be fenced. */
static void
qr_lost_one(struct qr_lost *l, struct job *job)
{
	struct queue_redis	*qr = l->qr;
	struct qr_entry		*e = qr_entry_get(qr, l->ei);
	uint64_t		 seg = job_seg(job);

	if (job->state != JOB_QUEUED || queue_memory_cancel(qr->q, job) != 0) {
		job_set_seg(job, QR_SEG(0, QR_ATTEMPTS(seg)));
		l->running++;
		return;
	}
	l->dropped++;
	qr_let_go(qr, job, e->origin != NULL);
}

/*
 * A job held here, queued (out of the flow already), leaves: a shadow
 * again while someone here waits for it or it was accepted here (its
 * end will be told), else forgotten.
 */
void
qr_let_go(struct queue_redis *qr, struct job *job, int elsewhere)
{
	struct queue_pool	*qp = job_queue_pool(job);

	if (!elsewhere || job_x(job)->waiters.lh_first != NULL) {
		/* Still waited for here: its end will be told. */
		job_set_seg(job, QR_SHADOW);
		if (elsewhere)
			qr_watch(qr, job);
		return;
	}
	qp->submitted--;
	qp->jobs.state[job->state]--;
	job_table_remove(job);
	job_free(job);
}

/* The entries of rp that Redis still has as ours: {entry, ...}. */
static void
qr_own_cb(void *arg, redisReply *r)
{
	struct qr_pool		*rp = arg;
	struct queue_redis	*qr = rp->qr;
	struct qr_lost		 l;
	size_t			 i, k;
	int			 mine;

	if (r == NULL) {
		qr->lease_checks = 0;
		return;
	}
	memset(&l, 0, sizeof l);
	l.qr = qr;
	for (k = 1; k < qr->nents; k++) {
		if (!qr->ents[k].used || qr->ents[k].rp != rp)
			continue;
		for (i = 0, mine = 0; r->type == REDIS_REPLY_ARRAY &&
		    i < r->elements && !mine; i++)
			mine = r->element[i]->type == REDIS_REPLY_ARRAY &&
			    r->element[i]->elements > 0 &&
			    strcmp(r->element[i]->element[0]->str,
			    qr->ents[k].x) == 0;
		if (mine)
			continue;
		l.ei = (unsigned)k;
		/* Found first: letting go changes the table. */
		l.n = 0;
		job_table_foreach(qr_lost_find, &l);
		for (i = 0; i < l.n; i++)
			qr_lost_one(&l, l.jobs[i]);
		qr_entry_free(qr, (unsigned)k);
	}
	free(l.jobs);
	if (l.dropped + l.running > 0) {
		qr->fenced += l.running;
		log_warnx("cluster: pool %s: taken over while this node's lease "
		    "had run out: %u held job%s let go, %u running will not "
		    "count", rp->name, l.dropped, l.dropped == 1 ? "" : "s",
		    l.running);
	}
	if (qr->lease_checks > 0 && --qr->lease_checks == 0) {
		qr->lease_stale = 0;
		for (i = 0; i < qr->npools; i++)
			if (!qr->pools[i]->qp->removed)
				qr->q->ev->runnable(qr->pools[i]->qp,
				    qr->q->arg);
	}
}

/* After a stale lease: which entries are still ours, pool by pool. */
static void
qr_lease_check(struct queue_redis *qr)
{
	struct redis_args	 a;
	size_t			 i;

	redis_args_init(&a);
	qr->lease_checks = 1;	/* until every request is sent */
	for (i = 0; i < qr->npools; i++) {
		redis_args_reset(&a);
		redis_args_str(&a, "XPENDING");
		redis_args_str(&a, qr->pools[i]->kq);
		redis_args_str(&a, "mpsup");
		redis_args_str(&a, "-");
		redis_args_str(&a, "+");
		redis_args_str(&a, "1000000");
		redis_args_str(&a, qr->consumer);
		qr->pools[i]->qr = qr;
		if (redis_link_cmd(qr->link, qr_own_cb, qr->pools[i], &a) == 0)
			qr->lease_checks++;
	}
	redis_args_free(&a);
	if (--qr->lease_checks == 0)
		qr->lease_stale = 0;
}

static void
qr_lease_cb(void *arg, redisReply *r)
{
	struct queue_redis	*qr = arg;

	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		if (r != NULL)
			log_warnx("cluster: lease: %s", r->str);
		return;
	}
	qr->lease_at = ev_now(qr->q->loop);
	if (qr->lease_stale && qr->lease_checks == 0)
		qr_lease_check(qr);
}

void
qr_lease_renew(struct queue_redis *qr)
{
	struct redis_args	 a;

	redis_args_init(&a);
	redis_args_str(&a, "SET");
	redis_args_fmt(&a, "mpsup:lease:%s", qr->consumer);
	redis_args_str(&a, "1");
	redis_args_str(&a, "PX");
	redis_args_fmt(&a, "%.0f", qr->lease * 1000);
	redis_link_cmd(qr->link, qr_lease_cb, qr, &a);
	redis_args_free(&a);
}
