/*
 * The status document's "cluster" object (see status_cluster.h). What it
 * shows of the other nodes and of the depths is what this node's last
 * heartbeat read from Redis (every cluster_lease / 3): while Redis is
 * away it stays as last seen, and the nodes' "age" keeps growing.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/timeutil.h"
#include "common/xmalloc.h"
#include "store/queue.h"
#include "supervisor/pool.h"
#include "supervisor/status_cluster.h"
#include "supervisor/supervisor.h"

/* The most nodes one document lists. */
#define STATUS_CLUSTER_MAX_NODES	1024
/* A heartbeat past this (9999-12-31) is not one: time_t and ISO-8601 end. */
#define STATUS_CLUSTER_LAST_TIME	253402300799.0

int
status_cluster_node_read(const struct queue_node_info *ni,
    struct status_cluster_node *n)
{
	struct jsontext_span	 obj, v;
	const char		*end = ni->info + strlen(ni->info);
	size_t			 len, colon;

	memset(n, 0, sizeof *n);
	n->consumer = ni->consumer;
	n->self = ni->self;
	n->pools.type = n->capacity.type = JSONTEXT_INVALID;
	if (jsontext_scan(ni->info, end, &obj) == NULL ||
	    obj.type != JSONTEXT_OBJECT)
		return -1;
	if (jsontext_object_get(&obj, "node", &v) &&
	    v.type == JSONTEXT_STRING)
		n->node = jsontext_string_decode(&v, &len);
	if (n->node == NULL) {
		/* The consumer is NODE:BOOT. */
		colon = strcspn(ni->consumer, ":");
		n->node = xstrndup(ni->consumer, colon);
	}
	if (jsontext_object_get(&obj, "heartbeat", &v) &&
	    v.type == JSONTEXT_NUMBER && jsontext_number(&v,
	    &n->heartbeat) == 0 && n->heartbeat >= 0 &&
	    n->heartbeat <= STATUS_CLUSTER_LAST_TIME)
		n->has_heartbeat = 1;
	if (jsontext_object_get(&obj, "pools", &v) &&
	    v.type == JSONTEXT_OBJECT)
		n->pools = v;
	if (jsontext_object_get(&obj, "capacity", &v) &&
	    v.type == JSONTEXT_OBJECT)
		n->capacity = v;
	return 0;
}

void
status_cluster_node_free(struct status_cluster_node *n)
{
	free(n->node);
	n->node = NULL;
}

double
status_cluster_node_age(const struct status_cluster_node *n, double now)
{
	if (!n->has_heartbeat)
		return -1;
	return now > n->heartbeat ? now - n->heartbeat : 0;
}

/*
 * A node's "pools" (their names) and "capacity" (name: integer): keys
 * are written as the entry holds them (valid JSON strings), values that
 * are not integers left out.
 */
static void
status_cluster_node_pools(const struct status_cluster_node *n,
    struct buf *b)
{
	struct jsontext_span	 k, v;
	size_t			 st = 0;
	int64_t			 cap;
	int			 first = 1;

	buf_append_str(b, ",\"pools\":[");
	while (n->pools.type == JSONTEXT_OBJECT &&
	    jsontext_object_next(&n->pools, &st, &k, &v)) {
		buf_append_str(b, first ? "" : ",");
		buf_append(b, k.p, k.len);
		first = 0;
	}
	buf_append_str(b, "],\"capacity\":{");
	st = 0;
	first = 1;
	while (n->capacity.type == JSONTEXT_OBJECT &&
	    jsontext_object_next(&n->capacity, &st, &k, &v)) {
		if (v.type != JSONTEXT_NUMBER ||
		    jsontext_integer(&v, 0, INT64_MAX, &cap) == -1)
			continue;
		buf_append_str(b, first ? "" : ",");
		buf_append(b, k.p, k.len);
		buf_appendf(b, ":%lld", (long long)cap);
		first = 0;
	}
	buf_append_str(b, "}}");
}

/* One element of "nodes". */
static void
status_cluster_node(const struct status_cluster_node *n, double now,
    struct buf *b)
{
	char	ts[TIME_ISO_BUF];

	buf_append_str(b, "{\"node\":");
	jsontext_string_append(b, n->node, strlen(n->node));
	buf_append_str(b, ",\"consumer\":");
	jsontext_string_append(b, n->consumer, strlen(n->consumer));
	buf_appendf(b, ",\"self\":%s", n->self ? "true" : "false");
	if (n->has_heartbeat) {
		time_iso8601(n->heartbeat, ts);
		buf_appendf(b, ",\"heartbeat\":\"%s\",\"age\":%.3f", ts,
		    status_cluster_node_age(n, now));
	} else
		buf_append_str(b, ",\"heartbeat\":null,\"age\":null");
	status_cluster_node_pools(n, b);
}

/* "nodes": the registry as last seen, entries that do not parse left out. */
static void
status_cluster_nodes(struct supervisor *sv, struct buf *b)
{
	struct queue_node_info		*ni;
	struct status_cluster_node	 n;
	double				 now = time_wall();
	size_t				 i, nn;
	int				 first = 1;

	ni = xcalloc(STATUS_CLUSTER_MAX_NODES, sizeof *ni);
	nn = queue_cluster_nodes(sv->queue, ni, STATUS_CLUSTER_MAX_NODES);
	buf_append_str(b, ",\"nodes\":[");
	for (i = 0; i < nn; i++) {
		if (status_cluster_node_read(&ni[i], &n) == -1)
			continue;
		buf_append_str(b, first ? "" : ",");
		status_cluster_node(&n, now, b);
		status_cluster_node_free(&n);
		first = 0;
	}
	buf_append_str(b, "]");
	free(ni);
}

/* "pools": each pool's cluster-wide depth, as last seen. */
static void
status_cluster_pools(struct supervisor *sv, struct buf *b)
{
	long long	queued, running, delayed;
	size_t		i;
	int		first = 1;

	buf_append_str(b, ",\"pools\":{");
	for (i = 0; i < sv->npools; i++) {
		if (sv->pools[i]->removed ||
		    queue_cluster_depth(sv->queue, &sv->pools[i]->q, &queued,
		    &running, &delayed) == -1)
			continue;
		buf_append_str(b, first ? "" : ",");
		jsontext_string_append(b, sv->pools[i]->name,
		    strlen(sv->pools[i]->name));
		buf_appendf(b, ":{\"queued\":%lld,\"running\":%lld,"
		    "\"delayed\":%lld}", queued, running, delayed);
		first = 0;
	}
	buf_append_str(b, "}");
}

void
status_cluster_append(struct supervisor *sv, struct buf *b)
{
	struct queue_cluster_info	ci;

	if (sv->queue == NULL || queue_cluster(sv->queue, &ci) == -1)
		return;
	buf_append_str(b, ",\"cluster\":{\"url\":");
	jsontext_string_append(b, ci.url, strlen(ci.url));
	buf_append_str(b, ",\"node\":");
	jsontext_string_append(b, ci.node, strlen(ci.node));
	buf_append_str(b, ",\"consumer\":");
	jsontext_string_append(b, ci.consumer, strlen(ci.consumer));
	buf_appendf(b, ",\"connected\":%s,\"error\":",
	    ci.connected ? "true" : "false");
	if (ci.connected)
		buf_append_str(b, "null");
	else if (ci.why != NULL && ci.why[0] != '\0')
		jsontext_string_append(b, ci.why, strlen(ci.why));
	else
		buf_append_str(b, "\"connecting\"");
	buf_appendf(b, ",\"lease\":%.3f", ci.lease);
	status_cluster_nodes(sv, b);
	status_cluster_pools(sv, b);
	buf_appendf(b, ",\"unavailable\":%llu,\"fenced\":%llu,"
	    "\"requeued\":%llu}", ci.unavailable, ci.fenced, ci.requeued);
}
