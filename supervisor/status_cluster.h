/*
 * The cluster's part of the status document (SPEC section 12): this
 * node's link to Redis, the nodes of the registry as last seen, and the
 * cluster-wide depth of each pool. /metrics reads the nodes through the
 * same parser, so that both say the same.
 */
#ifndef MPSUP_STATUS_CLUSTER_H
#define MPSUP_STATUS_CLUSTER_H

#include "common/buf.h"
#include "ipc/jsontext.h"

struct supervisor;
struct queue_node_info;

/* Append ,"cluster":{...} when the queue is a cluster's; nothing if not. */
void	status_cluster_append(struct supervisor *, struct buf *);

/*
 * A node's registry entry, read. The entry comes from Redis, which any
 * client of it may write: it is validated, and a member of the wrong
 * type is taken as missing. pools and capacity are spans into the
 * entry (valid while it is), of type JSONTEXT_INVALID when missing.
 */
struct status_cluster_node {
	char			*node;		/* allocated */
	const char		*consumer;
	int			 self;
	int			 has_heartbeat;
	double			 heartbeat;	/* wall clock seconds */
	struct jsontext_span	 pools;		/* {name: max_attempts} */
	struct jsontext_span	 capacity;	/* {name: workers*prefetch} */
};
/* 0 with *n filled (free it with the function below), -1 if malformed. */
int	status_cluster_node_read(const struct queue_node_info *,
	    struct status_cluster_node *);
void	status_cluster_node_free(struct status_cluster_node *);
/* Seconds since the node's heartbeat, never below 0; -1 without one. */
double	status_cluster_node_age(const struct status_cluster_node *,
	    double now);

#endif
