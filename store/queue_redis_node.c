/*
 * The cluster queue's node: its two links (commands, and its channels),
 * its heartbeat (lease, registry entry, reaping lost nodes, promoting
 * delayed jobs, looking at the registry and the depths), the messages
 * other nodes send it, and the fetches and cancels of jobs it does not
 * hold.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "common/timeutil.h"
#include "config/config.h"
#include "store/queue.h"
#include "store/queue_redis.h"

/* How often delayed jobs are promoted, at most this late (seconds). */
#define QR_PROMOTE_EVERY	0.25

struct queue_fetch {
	struct queue_redis	*qr;
	int			 abandoned;
	int			 watch;
	unsigned long long	 ends_unknown;	/* qr's, when sent */
	char			 id[JOB_ID_LEN + 1];
	void			(*fetched)(void *, struct job *, const char *);
	void			(*cancelled)(void *, const char *, const char *);
	void			*arg;
};

/* Know every attached pool (they are met lazily otherwise). */
static void
qr_pools_sync(struct queue_redis *qr)
{
	struct queue_pool	*qp;

	for (qp = qr->q->pools; qp != NULL; qp = qp->next)
		(void)qr_pool_of(qr, qp);
}

/* The registry entry: what lost-node reaping needs to know of us. */
static char *
qr_node_info(struct queue_redis *qr)
{
	struct buf	 b = BUF_INIT;
	struct qr_pool	*rp;
	const char	*sep;
	size_t		 i;
	char		*s;

	buf_appendf(&b, "{\"node\":\"%s\",\"consumer\":\"%s\",\"heartbeat\":"
	    "%.3f,\"lease\":%.3f,\"ttl\":%.0f,\"rmax\":%ld,\"pools\":{",
	    qr->node, qr->consumer, time_wall(), qr->lease,
	    (*qr->q->cfgp)->result_ttl, (*qr->q->cfgp)->result_max);
	for (i = 0, sep = ""; i < qr->npools; i++) {
		rp = qr->pools[i];
		if (rp->qp->removed)
			continue;
		buf_appendf(&b, "%s\"%s\":%u", sep, rp->name,
		    rp->qp->max_attempts > 0 ? rp->qp->max_attempts : 1);
		sep = ",";
	}
	buf_append_str(&b, "},\"capacity\":{");
	for (i = 0, sep = ""; i < qr->npools; i++) {
		rp = qr->pools[i];
		if (rp->qp->removed)
			continue;
		buf_appendf(&b, "%s\"%s\":%u", sep, rp->name, rp->qp->capacity);
		sep = ",";
	}
	/* What a gateway needs to take submits for the pools run here. */
	buf_append_str(&b, "},\"serves\":{");
	for (i = 0, sep = ""; i < qr->npools; i++) {
		rp = qr->pools[i];
		if (rp->qp->removed || rp->qp->capacity == 0)
			continue;
		buf_appendf(&b, "%s\"%s\":{\"type\":\"%s\",\"max_queue\":%ld}",
		    sep, rp->name, rp->qp->jobs.exec ? "exec" : "stream",
		    rp->qp->max_queue);
		sep = ",";
	}
	buf_append_str(&b, "}}");
	s = xstrndup(buf_head(&b), buf_used(&b));
	buf_free(&b);
	return s;
}

static void
qr_ignore_cb(void *arg, redisReply *r)
{
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("cluster: %s: %s", (const char *)arg, r->str);
}

static void
qr_reap_cb(void *arg, redisReply *r)
{
	struct queue_redis	*qr = arg;
	size_t			 i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			log_warnx("cluster: reap: %s", r->str);
		return;
	}
	for (i = 2; i < r->elements; i++)
		log_warnx("cluster: node %.*s was lost (no heartbeat for "
		    "%.0fs, or it restarted): its jobs were taken back",
		    (int)r->element[i]->len, r->element[i]->str, qr->lease);
	if (r->element[0]->integer > 0 || r->element[1]->integer > 0) {
		qr->requeued += (unsigned long long)r->element[0]->integer;
		log_info("cluster: %lld job%s of lost nodes back in their "
		    "queues, %lld failed (out of attempts)",
		    r->element[0]->integer, r->element[0]->integer == 1 ? "" :
		    "s", r->element[1]->integer);
	}
}

/* The registry and the depths, for status. */
static void
qr_look_cb(void *arg, redisReply *r)
{
	struct queue_redis	*qr = arg;
	size_t			 i, n;

	qr->looking = 0;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i < qr->nnodes; i++) {
		free(qr->nodes[i].consumer);
		free(qr->nodes[i].info);
	}
	n = r->elements / 2;
	qr->nodes = xreallocarray(qr->nodes, n ? n : 1, sizeof *qr->nodes);
	qr->nnodes = 0;
	for (i = 0; i + 1 < r->elements; i += 2) {
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    r->element[i + 1]->type != REDIS_REPLY_STRING)
			continue;
		qr->nodes[qr->nnodes].consumer = xstrndup(r->element[i]->str,
		    r->element[i]->len);
		qr->nodes[qr->nnodes].info = xstrndup(r->element[i + 1]->str,
		    r->element[i + 1]->len);
		qr->nodes[qr->nnodes++].live = 1;
	}
	if (qr->registry_cb != NULL)
		qr->registry_cb(qr->registry_arg);
}

void
queue_cluster_on_registry(struct queue *q, void (*cb)(void *), void *arg)
{
	if (q->ops != &queue_redis_ops)
		return;
	QR(q)->registry_cb = cb;
	QR(q)->registry_arg = arg;
}

static void
qr_depth_cb(void *arg, redisReply *r)
{
	struct qr_pool	*rp = arg;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
		return;
	rp->depth = r->element[0]->integer;
	rp->running = r->element[1]->integer;
	rp->delayed = r->element[2]->integer;
}

/* Depth of a pool: {queued, running, delayed}, one script. */
static const char qr_lua_depth[] =
	"local pre = ARGV[1]\n"
	"return {tonumber(redis.call('GET', pre .. 'n') or '0'), "
	"tonumber(redis.call('GET', pre .. 'u') or '0'), "
	"redis.call('ZCARD', KEYS[2])}\n";

static void	qr_keepnum(struct queue_redis *);

static void
qr_beat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct queue_redis	*qr = t->data;
	struct redis_args	 a;
	char			*info;
	size_t			 i;

	if (!redis_link_up(qr->link))
		return;
	qr_pools_sync(qr);
	qr_lease_renew(qr);
	qr_keepnum(qr);
	redis_args_init(&a);
	info = qr_node_info(qr);
	redis_args_str(&a, "HSET");
	redis_args_str(&a, "mpsup:nodes");
	redis_args_str(&a, qr->consumer);
	redis_args_str(&a, info);
	redis_link_cmd(qr->link, qr_ignore_cb, "registry", &a);
	free(info);
	redis_args_reset(&a);
	redis_args_str(&a, qr->consumer);
	redis_args_str(&a, qr->node);
	redis_args_fmt(&a, "%.6f", time_wall());
	redis_link_eval(qr->link, qr->script[QR_SCRIPT_REAP], 0, qr_reap_cb,
	    qr, &a);
	redis_args_reset(&a);
	redis_args_str(&a, "HGETALL");
	redis_args_str(&a, "mpsup:nodes");
	if (!qr->looking && redis_link_cmd(qr->link, qr_look_cb, qr, &a) == 0)
		qr->looking = 1;
	for (i = 0; i < qr->npools; i++) {
		redis_args_reset(&a);
		redis_args_str(&a, qr->pools[i]->kq);
		redis_args_str(&a, qr->pools[i]->kd);
		redis_args_str(&a, qr->pools[i]->pre);
		redis_link_eval(qr->link, qr->script[QR_SCRIPT_DEPTH], 2,
		    qr_depth_cb, qr->pools[i], &a);
		/* A claim lost to a message missed while away. */
		if (!qr->pools[i]->qp->removed)
			qr->q->ev->runnable(qr->pools[i]->qp, qr->q->arg);
	}
	redis_args_free(&a);
}

static void
qr_promote_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct queue_redis	*qr = t->data;
	struct redis_args	 a;
	size_t			 i;

	if (!redis_link_up(qr->link))
		return;
	redis_args_init(&a);
	for (i = 0; i < qr->npools; i++) {
		redis_args_reset(&a);
		redis_args_str(&a, qr->pools[i]->kq);
		redis_args_str(&a, qr->pools[i]->kd);
		redis_args_str(&a, qr->pools[i]->pre);
		redis_args_fmt(&a, "%.6f", time_wall());
		redis_args_str(&a, qr->pools[i]->name);
		redis_link_eval(qr->link, qr->script[QR_SCRIPT_PROMOTE], 2,
		    qr_ignore_cb, "promote", &a);
	}
	redis_args_free(&a);
}

static void
qr_recover_cb(void *arg, redisReply *r)
{
	struct qr_pool	*rp = arg;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		log_info("cluster: pool %s: %lld job%s taken before the "
		    "connection dropped, never heard of, went back to the "
		    "queue", rp->name, r->integer, r->integer == 1 ? "" : "s");
	else if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_warnx("cluster: pool %s: recover: %s", rp->name, r->str);
}

/*
 * Before any claim on a new connection: what a claim lost with the old
 * one took goes back (commands run in order, so no claim can race it).
 */
static void
qr_recover(struct queue_redis *qr)
{
	struct redis_args	 a;
	struct qr_pool		*rp;
	size_t			 i, k;

	redis_args_init(&a);
	for (i = 0; i < qr->npools; i++) {
		redis_args_reset(&a);
		redis_args_str(&a, qr->pools[i]->kq);
		redis_args_str(&a, qr->pools[i]->pre);
		redis_args_str(&a, qr->pools[i]->name);
		redis_args_str(&a, qr->consumer);
		for (k = 1; k < qr->nents; k++)
			if (qr->ents[k].used && qr->ents[k].rp == qr->pools[i])
				redis_args_str(&a, qr->ents[k].x);
		/* And those whose ends are still to be sent (again). */
		rp = qr->pools[i];
		for (k = 0; k < rp->nupd; k++)
			redis_args_add(&a, buf_head(&rp->upd.data) +
			    rp->upd.off[k * QR_UPDATE_FIELDS + 1],
			    rp->upd.off[k * QR_UPDATE_FIELDS + 2] -
			    rp->upd.off[k * QR_UPDATE_FIELDS + 1]);
		redis_link_eval(qr->link, qr->script[QR_SCRIPT_RECOVER], 1,
		    qr_recover_cb, qr->pools[i], &a);
	}
	redis_args_free(&a);
}

/* How long a node's number stays its own without renewal. */
#define QR_NUMBER_LEASE(qr)	((qr)->lease * 3 * 1000)

static void
qr_number_cb(void *arg, redisReply *r)
{
	struct queue_redis	*qr = arg;

	qr->numbering = 0;
	if (r == NULL || r->type != REDIS_REPLY_INTEGER)
		return;
	if (r->integer < 0) {
		log_warnx("cluster: every node number (256) is held by a "
		    "live node; trying again with the next heartbeat");
		return;
	}
	qr_pools_sync(qr);
	qr_recover(qr);
	qr->number = (int)r->integer;
	job_id_cluster((unsigned)qr->number);
	qr->numbered = 1;
	/* Said once submits can be taken (ids need the number). */
	log_info("cluster: connected to %s", qr->label);
	qr_beat_cb(qr->q->loop, &qr->beat, 0);
}

/* A number no live node holds: new at every connect. */
static void
qr_number(struct queue_redis *qr)
{
	struct redis_args	 a;

	if (qr->numbering)
		return;
	redis_args_init(&a);
	redis_args_str(&a, qr->consumer);
	redis_args_fmt(&a, "%.0f", QR_NUMBER_LEASE(qr));
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_NUMBER], 0,
	    qr_number_cb, qr, &a) == 0)
		qr->numbering = 1;
	redis_args_free(&a);
}

static void
qr_keepnum_cb(void *arg, redisReply *r)
{
	struct queue_redis	*qr = arg;

	if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer != 0 ||
	    !qr->numbered)
		return;
	log_warnx("cluster: node number %d was taken by another node while "
	    "this one could not renew it: taking a new one", qr->number);
	qr->numbered = 0;
	qr_number(qr);
}

/* Renew this node's number with the heartbeat (or get one). */
static void
qr_keepnum(struct queue_redis *qr)
{
	struct redis_args	 a;

	if (!qr->numbered) {
		qr_number(qr);
		return;
	}
	redis_args_init(&a);
	redis_args_fmt(&a, "%d", qr->number);
	redis_args_str(&a, qr->consumer);
	redis_args_fmt(&a, "%.0f", QR_NUMBER_LEASE(qr));
	redis_link_eval(qr->link, qr->script[QR_SCRIPT_KEEPNUM], 0,
	    qr_keepnum_cb, qr, &a);
	redis_args_free(&a);
}

static void
qr_up(void *arg)
{
	qr_number(arg);
}

static void
qr_down(void *arg, const char *why)
{
	struct queue_redis	*qr = arg;
	size_t			 i;

	qr->numbered = 0;
	for (i = 0; i < qr->npools; i++)
		qr->pools[i]->claiming = 0;
}

/* A message on one of this node's channels. */
static void
qr_message(void *arg, const char *channel, const char *msg, size_t len)
{
	struct queue_redis	*qr = arg;
	struct qr_pool		*rp;
	char			*name;

	if (strncmp(channel, "mpsup:done:", 11) == 0)
		qr_ended(qr, msg, len);
	else if (strncmp(channel, "mpsup:cancel:", 13) == 0)
		qr_cancel_asked(qr, msg, len);
	else if (strcmp(channel, "mpsup:work") == 0) {
		name = xstrndup(msg, len);
		if ((rp = qr_pool_named(qr, name)) != NULL)
			qr->q->ev->runnable(rp->qp, qr->q->arg);
		free(name);
	}
}

static const struct redis_link_cbs qr_link_cbs = {
	.up = qr_up,
	.down = qr_down,
};

static void
qr_resync_one(struct job *job, void *arg)
{
	if ((job_seg(job) & QR_SHADOW) && !job_state_terminal(job->state))
		qr_watch(arg, job);
}

/*
 * The channels are back: an end said while they were away was missed,
 * so every job still waited for here is read again.
 */
static void
qr_sub_up(void *arg)
{
	job_table_foreach(qr_resync_one, arg);
}

static const struct redis_link_cbs qr_sub_cbs = {
	.up = qr_sub_up,
	.message = qr_message,
};

static void
qr_fetch_cb(void *arg, redisReply *r)
{
	struct queue_fetch	*fe = arg;
	struct queue_redis	*qr = fe->qr;
	struct qr_pool		*rp = NULL;
	struct job		*job = NULL;
	char			*pool;

	if (!fe->abandoned && r != NULL && r->type == REDIS_REPLY_ARRAY &&
	    r->elements >= 3 && r->element[0]->type == REDIS_REPLY_STRING) {
		pool = xstrndup(r->element[0]->str, r->element[0]->len);
		rp = qr_pool_named(qr, pool);
		free(pool);
	}
	if (fe->abandoned)
		;
	else if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fe->fetched(fe->arg, NULL, "unavailable");
	else if (rp == NULL)
		fe->fetched(fe->arg, NULL, NULL);
	else if ((job = job_table_find(fe->id, JOB_ID_LEN)) != NULL)
		/* It came here meanwhile (taken to run, or accepted). */
		fe->fetched(fe->arg, job, NULL);
	else if ((job = qr_record(rp, fe->id, r)) == NULL) {
		log_warnx("cluster: pool %s: job %.*s: a malformed record in "
		    "Redis skipped", rp->name, JOB_ID_LEN, fe->id);
		fe->fetched(fe->arg, NULL, NULL);
	}
	else {
		if (fe->watch && !job_state_terminal(job->state) &&
		    job_table_find(job->id, JOB_ID_LEN) == NULL) {
			/* Known here from now on, until it ends. */
			rp->qp->submitted++;
			rp->qp->jobs.state[job->state]++;
			job_set_seg(job, QR_SHADOW);
			job_table_add(job);
			/* Its end may have come first, on the channel. */
			if (qr->ends_unknown != fe->ends_unknown)
				qr_watch(qr, job);
			fe->fetched(fe->arg, job, NULL);
		} else {
			fe->fetched(fe->arg, job, NULL);
			job_free(job);
		}
	}
	free(fe);
}

struct queue_fetch *
qr_fetch(struct queue *q, const char *id, size_t len, int watch,
    void (*cb)(void *, struct job *, const char *), void *arg)
{
	struct queue_redis	*qr = QR(q);
	struct queue_fetch	*fe = xcalloc(1, sizeof *fe);
	struct redis_args	 a;
	size_t			 i;

	fe->qr = qr;
	fe->watch = watch;
	fe->ends_unknown = qr->ends_unknown;
	fe->fetched = cb;
	fe->arg = arg;
	/* No job has another form of id: not asked of Redis. */
	if (!job_id_ok(id, len)) {
		free(fe);
		return NULL;
	}
	memcpy(fe->id, id, JOB_ID_LEN);
	redis_args_init(&a);
	redis_args_add(&a, id, len);
	redis_args_str(&a, watch ? qr->consumer : "");
	for (i = 0; i < qr->npools; i++)
		if (!qr->pools[i]->qp->removed)
			redis_args_str(&a, qr->pools[i]->name);
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_FETCH], 0,
	    qr_fetch_cb, fe, &a) == -1) {
		redis_args_free(&a);
		free(fe);
		return NULL;
	}
	redis_args_free(&a);
	return fe;
}

/*
 * A shadow whose job Redis has no trace of ended elsewhere, and its
 * record left (result_max, result_ttl) before this node heard of the
 * end: its waits are answered not_found, and it is forgotten, as a job
 * let go is (`result` then answers not_found too).
 */
static void
qr_shadow_gone(struct job *job)
{
	struct queue_pool	*qp = job_queue_pool(job);

	if ((job_seg(job) & QR_SHADOW) == 0 || (job_seg(job) & QR_SENT) ||
	    job_state_terminal(job->state))
		return;
	log_info("cluster: job %s ended elsewhere and its record left Redis "
	    "before this node heard of its end: forgotten", job->id);
	job_waiters_gone(job, "not_found: ended elsewhere and its record "
	    "expired before its end was heard here");
	qp->submitted--;
	qp->jobs.state[job->state]--;
	job_table_remove(job);
	job_free(job);
}

static void
qr_watch_cb(void *arg, redisReply *r)
{
	struct queue_fetch	*fe = arg;
	struct qr_pool		*rp;
	struct job		*job, *rec;
	char			*pool;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 0 &&
	    (job = job_table_find(fe->id, JOB_ID_LEN)) != NULL)
		qr_shadow_gone(job);
	else if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    (job = job_table_find(fe->id, JOB_ID_LEN)) != NULL) {
		pool = xstrndup(r->element[0]->str, r->element[0]->len);
		rp = qr_pool_named(fe->qr, pool);
		free(pool);
		if (rp != NULL && (rec = qr_record(rp, fe->id, r)) != NULL) {
			qr_shadow_close(fe->qr, job, rec);
			job_free(rec);
		}
	}
	free(fe);
}

void
qr_watch(struct queue_redis *qr, struct job *job)
{
	struct queue_fetch	*fe = xcalloc(1, sizeof *fe);
	struct redis_args	 a;

	fe->qr = qr;
	memcpy(fe->id, job->id, JOB_ID_LEN + 1);
	redis_args_init(&a);
	redis_args_add(&a, job->id, JOB_ID_LEN);
	redis_args_str(&a, qr->consumer);
	redis_args_str(&a, job->owner->name);
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_FETCH], 0,
	    qr_watch_cb, fe, &a) == -1)
		free(fe);
	redis_args_free(&a);
}

void
queue_fetch_cancel(struct queue_fetch *fe)
{
	if (fe != NULL)
		fe->abandoned = 1;
}

static void
qr_cancel_cb(void *arg, redisReply *r)
{
	struct queue_fetch	*fe = arg;
	char			*state;

	if (fe->abandoned)
		;
	else if (r == NULL || r->type != REDIS_REPLY_STRING)
		fe->cancelled(fe->arg, NULL, "unavailable");
	else if (r->len == 0)
		fe->cancelled(fe->arg, NULL, NULL);
	else {
		state = xstrndup(r->str, r->len);
		fe->cancelled(fe->arg, state, NULL);
		free(state);
	}
	free(fe);
}

struct queue_fetch *
qr_cancel_remote(struct queue *q, const char *pool, const char *id,
    void (*cb)(void *, const char *, const char *), void *arg)
{
	struct queue_redis	*qr = QR(q);
	struct queue_fetch	*fe;
	struct qr_pool		*rp = qr_pool_named(qr, pool);
	struct redis_args	 a;

	if (rp == NULL)
		return NULL;
	fe = xcalloc(1, sizeof *fe);
	fe->qr = qr;
	fe->cancelled = cb;
	fe->arg = arg;
	redis_args_init(&a);
	redis_args_str(&a, rp->kq);
	redis_args_str(&a, rp->kd);
	redis_args_str(&a, rp->pre);
	redis_args_str(&a, rp->name);
	redis_args_str(&a, id);
	redis_args_fmt(&a, "%.6f", time_wall());
	redis_args_fmt(&a, "%.0f", (*q->cfgp)->result_ttl > 1 ?
	    (*q->cfgp)->result_ttl : 1);
	redis_args_fmt(&a, "%ld", (*q->cfgp)->result_max);
	if (redis_link_eval(qr->link, qr->script[QR_SCRIPT_CANCEL], 2,
	    qr_cancel_cb, fe, &a) == -1) {
		redis_args_free(&a);
		free(fe);
		return NULL;
	}
	redis_args_free(&a);
	return fe;
}

int
qr_net_open(struct queue_redis *qr, const struct queue_cluster_opts *o,
    char **cause)
{
	struct redis_link_target t;
	const char		*channels[4];
	char			*done, *cancel;

	qr->label = xstrdup(o->label);
	qr->node = xstrdup(o->node);
	qr->lease = o->lease;
	xasprintf(&qr->consumer, "%s:%llx", o->node,
	    (unsigned long long)(time_wall() * 1000));
	memset(&t, 0, sizeof t);
	t.host = o->host;
	t.port = o->port;
	t.path = o->path;
	t.db = o->db;
	t.password = o->password;
	t.password_len = o->password_len;
	t.label = o->label;
	qr->link = redis_link_new(qr->q->loop, &t, NULL, &qr_link_cbs, qr);
	qr->script[QR_SCRIPT_SUBMIT] = redis_link_script(qr->link,
	    queue_redis_lua_submit);
	qr->script[QR_SCRIPT_CLAIM] = redis_link_script(qr->link,
	    queue_redis_lua_claim);
	qr->script[QR_SCRIPT_UPDATE] = redis_link_script(qr->link,
	    queue_redis_lua_update);
	qr->script[QR_SCRIPT_CANCEL] = redis_link_script(qr->link,
	    queue_redis_lua_cancel);
	qr->script[QR_SCRIPT_PROMOTE] = redis_link_script(qr->link,
	    queue_redis_lua_promote);
	qr->script[QR_SCRIPT_FETCH] = redis_link_script(qr->link,
	    queue_redis_lua_fetch);
	qr->script[QR_SCRIPT_REAP] = redis_link_script(qr->link,
	    queue_redis_lua_reap);
	qr->script[QR_SCRIPT_DEPTH] = redis_link_script(qr->link,
	    qr_lua_depth);
	qr->script[QR_SCRIPT_RECOVER] = redis_link_script(qr->link,
	    queue_redis_lua_recover);
	qr->script[QR_SCRIPT_NUMBER] = redis_link_script(qr->link,
	    queue_redis_lua_number);
	qr->script[QR_SCRIPT_KEEPNUM] = redis_link_script(qr->link,
	    queue_redis_lua_keepnum);
	xasprintf(&done, "mpsup:done:%s", qr->consumer);
	xasprintf(&cancel, "mpsup:cancel:%s", qr->consumer);
	channels[0] = done;
	channels[1] = cancel;
	channels[2] = "mpsup:work";
	channels[3] = NULL;
	t.label = o->label;
	t.quiet = 1;	/* the command link speaks for both */
	qr->sub = redis_link_new(qr->q->loop, &t, channels, &qr_sub_cbs, qr);
	free(done);
	free(cancel);
	ev_timer_init(&qr->beat, qr_beat_cb, 0, qr->lease / 3);
	qr->beat.data = qr;
	ev_timer_again(qr->q->loop, &qr->beat);
	ev_timer_init(&qr->promote, qr_promote_cb, 0, QR_PROMOTE_EVERY);
	qr->promote.data = qr;
	ev_timer_again(qr->q->loop, &qr->promote);
	(void)cause;
	return 0;
}

void
qr_net_close(struct queue_redis *qr)
{
	size_t	i;

	ev_timer_stop(qr->q->loop, &qr->beat);
	ev_timer_stop(qr->q->loop, &qr->promote);
	redis_link_free(qr->link);
	redis_link_free(qr->sub);
	qr->link = qr->sub = NULL;
	for (i = 0; i < qr->nnodes; i++) {
		free(qr->nodes[i].consumer);
		free(qr->nodes[i].info);
	}
	free(qr->nodes);
}

int
qr_ready(const struct queue_redis *qr)
{
	return qr->numbered && redis_link_up(qr->link);
}

int
queue_cluster(const struct queue *q, struct queue_cluster_info *ci)
{
	const struct queue_redis	*qr;

	if (q->ops != &queue_redis_ops)
		return -1;
	qr = QR(q);
	memset(ci, 0, sizeof *ci);
	ci->url = qr->label;
	ci->node = qr->node;
	ci->consumer = qr->consumer;
	ci->connected = qr_ready(qr);
	ci->why = redis_link_why(qr->link);
	ci->lease = qr->lease;
	ci->unavailable = qr->unavailable;
	ci->fenced = qr->fenced;
	ci->requeued = qr->requeued;
	return 0;
}

size_t
queue_cluster_nodes(const struct queue *q, struct queue_node_info *out,
    size_t max)
{
	const struct queue_redis	*qr;
	size_t				 i;

	if (q->ops != &queue_redis_ops)
		return 0;
	qr = QR(q);
	for (i = 0; i < qr->nnodes && i < max; i++) {
		out[i].consumer = qr->nodes[i].consumer;
		out[i].info = qr->nodes[i].info;
		out[i].live = qr->nodes[i].live;
		out[i].self = strcmp(qr->nodes[i].consumer, qr->consumer) == 0;
	}
	return i;
}

int
queue_cluster_depth(const struct queue *q, const struct queue_pool *qp,
    long long *queued, long long *running, long long *delayed)
{
	struct queue_redis	*qr;
	struct qr_pool		*rp;

	if (q->ops != &queue_redis_ops)
		return -1;
	qr = QR(q);
	rp = qr_pool_of(qr, qp);
	*queued = rp->depth;
	*running = rp->running;
	*delayed = rp->delayed;
	return 0;
}
