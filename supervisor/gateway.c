/*
 * Gateway pools (SPEC section 12, README "Cluster"). A cluster node takes
 * submits for a pool its file has no section for while a live node runs
 * it. After each look at the nodes' registry (every cluster_lease / 3),
 * each pool that another node's entry says it runs ("serves": its type
 * and max_queue; only pools with workers there) and that this node does
 * not define becomes a pool here with no workers, as a section with
 * workers = 0 would make it: a gateway pool, of the serving nodes' type,
 * with the smallest max_queue they name, and the defaults otherwise.
 *
 * Registry entries are written by whatever can write to Redis: an entry
 * longer than GATEWAY_MAX_ENTRY, a name that is not a pool name, a type
 * or max_queue that is not one is left out, and at most
 * GATEWAY_MAX_POOLS names ever become pools here.
 *
 * A gateway pool that no live node serves any more is retired (a removed
 * pool): its submits answer unknown_pool again. The jobs it accepted are
 * the cluster's: they wait in the pool's shared queue for a node that
 * serves it, and those it still follows (waits) end here when they end
 * there. A retired pool is kept, and takes submits again, counters and
 * records carrying on, when a node serves its name again.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "config/config.h"
#include "ipc/jsontext.h"
#include "store/queue.h"
#include "supervisor/pool.h"
#include "supervisor/supervisor.h"

/* Pools a node takes from the registry, at most (names, per process). */
#define GATEWAY_MAX_POOLS	256
/* Registry entries read, at most, and the longest one read. */
#define GATEWAY_MAX_NODES	1024
#define GATEWAY_MAX_ENTRY	(256 * 1024)
/* Distinct pool names the registry may name in one look. */
#define GATEWAY_MAX_WANTS	1024

/* A pool that some live node serves, as the registry says. */
struct gateway_want {
	char		 name[65];
	enum pool_type	 type;
	long		 max_queue;
	const char	*consumer;	/* the entry its type is taken from */
};

struct gateway_wants {
	struct gateway_want	*w;
	size_t			 n;
};

/*
 * One member of an entry's "serves": NAME: {"type": "exec"|"stream",
 * "max_queue": N}. The smallest max_queue holds; nodes that disagree on
 * the type: the entry whose consumer sorts first says it.
 */
static void
gateway_read_pool(struct gateway_wants *ws, const char *consumer,
    const struct jsontext_span *k, const struct jsontext_span *v)
{
	struct jsontext_span	 t, m;
	struct gateway_want	*w;
	enum pool_type		 type;
	int64_t			 mq;
	char			*name;
	size_t			 len, i;

	if (v->type != JSONTEXT_OBJECT ||
	    !jsontext_object_get(v, "type", &t) ||
	    t.type != JSONTEXT_STRING ||
	    !jsontext_object_get(v, "max_queue", &m) ||
	    m.type != JSONTEXT_NUMBER ||
	    jsontext_integer(&m, 1, CONFIG_MAX_QUEUE, &mq) == -1)
		return;
	if (jsontext_string_eq(&t, "exec"))
		type = POOL_TYPE_EXEC;
	else if (jsontext_string_eq(&t, "stream"))
		type = POOL_TYPE_STREAM;
	else
		return;
	/* A name is at most 64 plain characters: 66 with its quotes. */
	if (k->len > 66 || (name = jsontext_string_decode(k, &len)) == NULL)
		return;
	if (len != strlen(name) || !config_valid_name(name)) {
		free(name);
		return;
	}
	for (i = 0; i < ws->n && strcmp(ws->w[i].name, name) != 0; i++)
		;
	w = &ws->w[i];
	if (i == ws->n && ws->n < GATEWAY_MAX_WANTS) {
		ws->n++;
		memcpy(w->name, name, len + 1);
		w->type = type;
		w->max_queue = (long)mq;
		w->consumer = consumer;
	} else if (i < ws->n) {
		if ((long)mq < w->max_queue)
			w->max_queue = (long)mq;
		if (strcmp(consumer, w->consumer) < 0) {
			w->type = type;
			w->consumer = consumer;
		}
	}
	free(name);
}

/* The pools the other live nodes serve (ni: the registry, kept by caller). */
static void
gateway_read(struct queue_node_info *ni, size_t nn, struct gateway_wants *ws)
{
	struct jsontext_span	 obj, serves, k, v;
	size_t			 i, st, len;

	for (i = 0; i < nn; i++) {
		if (ni[i].self || !ni[i].live)
			continue;
		len = strnlen(ni[i].info, GATEWAY_MAX_ENTRY + 1);
		if (len > GATEWAY_MAX_ENTRY ||
		    jsontext_scan(ni[i].info, ni[i].info + len, &obj) == NULL ||
		    obj.type != JSONTEXT_OBJECT ||
		    !jsontext_object_get(&obj, "serves", &serves) ||
		    serves.type != JSONTEXT_OBJECT)
			continue;
		st = 0;
		while (jsontext_object_next(&serves, &st, &k, &v))
			gateway_read_pool(ws, ni[i].consumer, &k, &v);
	}
}

/* The pool of that name that serves (not removed), or NULL. */
static struct pool *
gateway_pool_named(struct supervisor *sv, const char *name)
{
	size_t	i;

	for (i = 0; i < sv->npools; i++)
		if (!sv->pools[i]->removed &&
		    strcmp(sv->pools[i]->name, name) == 0)
			return sv->pools[i];
	return NULL;
}

/* Gateway pools this process made (serving or retired). */
static size_t
gateway_count(const struct supervisor *sv)
{
	size_t	i, n = 0;

	for (i = 0; i < sv->npools; i++)
		n += pool_from_cluster(sv->pools[i]);
	for (i = 0; i < sv->nparked; i++)
		n += pool_from_cluster(sv->parked[i]);
	return n;
}

/* A pool named by a new gateway pool config pc (taken), or revived. */
static void
gateway_add(struct supervisor *sv, struct pool_config *pc, size_t *made)
{
	struct pool	*pool;

	if ((pool = supervisor_pool_revive(sv, pc)) != NULL) {
		pool_set_gateway_config(pool, pc);
		log_info("pool %s: a live node of the cluster serves it again: "
		    "taking its submits (gateway pool)", pc->name);
		return;
	}
	if (*made >= GATEWAY_MAX_POOLS) {
		log_warnx("pool %s: served in the cluster, but this node has "
		    "taken %d pools from the registry already: not taken",
		    pc->name, GATEWAY_MAX_POOLS);
		config_pool_free(pc);
		return;
	}
	(*made)++;
	pool = supervisor_pool_new(sv, pc);
	pool_set_gateway_config(pool, pc);
	sv->pools = xreallocarray(sv->pools, sv->npools + 1,
	    sizeof *sv->pools);
	sv->pools[sv->npools++] = pool;
	log_info("pool %s: served by other nodes of the cluster: taking its "
	    "submits here (gateway pool: %s, max_queue %ld, no workers)",
	    pc->name, pc->type == POOL_TYPE_EXEC ? "exec" : "stream",
	    pc->max_queue);
	supervisor_pool_begin(sv, pool);
}

/* Take submits for w's pool, or follow what its nodes say of it now. */
static void
gateway_serve(struct supervisor *sv, const struct gateway_want *w,
    size_t *made)
{
	struct pool	*pool = gateway_pool_named(sv, w->name);

	if (pool != NULL && !pool_from_cluster(pool))
		return;		/* the file's */
	if (pool == NULL) {
		gateway_add(sv, config_pool_gateway(w->name, w->type,
		    w->max_queue), made);
		return;
	}
	if (pool->pc->type == w->type && pool->pc->max_queue == w->max_queue)
		return;
	log_info("pool %s: gateway pool now %s, max_queue %ld (as its nodes "
	    "say)", w->name, w->type == POOL_TYPE_EXEC ? "exec" : "stream",
	    w->max_queue);
	pool_set_gateway_config(pool, config_pool_gateway(w->name, w->type,
	    w->max_queue));
}

/* Retire the gateway pools no live node serves. */
static void
gateway_retire(struct supervisor *sv, const struct gateway_wants *ws)
{
	struct pool	*pool;
	size_t		 i, j;
	int		 retired = 0;

	for (i = 0; i < sv->npools; i++) {
		pool = sv->pools[i];
		if (pool->removed || !pool_from_cluster(pool))
			continue;
		for (j = 0; j < ws->n && strcmp(ws->w[j].name, pool->name) != 0;
		    j++)
			;
		if (j < ws->n)
			continue;
		log_info("pool %s: no live node of the cluster serves it now: "
		    "no more submits here (gateway pool retired); the jobs "
		    "it accepted wait in its shared queue", pool->name);
		pool_remove(pool);
		retired = 1;
	}
	if (retired)
		supervisor_sweep_soon(sv);
}

void
gateway_sync(struct supervisor *sv)
{
	struct queue_node_info	*ni;
	struct gateway_wants	 ws;
	size_t			 i, nn, made;

	if (sv->stopping || sv->queue == NULL)
		return;
	sv->registry_read = 1;
	ni = xcalloc(GATEWAY_MAX_NODES, sizeof *ni);
	nn = queue_cluster_nodes(sv->queue, ni, GATEWAY_MAX_NODES);
	ws.w = xcalloc(GATEWAY_MAX_WANTS, sizeof *ws.w);
	ws.n = 0;
	gateway_read(ni, nn, &ws);
	made = gateway_count(sv);
	for (i = 0; i < ws.n; i++)
		gateway_serve(sv, &ws.w[i], &made);
	gateway_retire(sv, &ws);
	free(ws.w);
	free(ni);
}

static void
gateway_registry_cb(void *arg)
{
	gateway_sync(arg);
}

void
gateway_start(struct supervisor *sv)
{
	queue_cluster_on_registry(sv->queue, gateway_registry_cb, sv);
}
